"""``python -m relu_rs bench``: relu_rs next to NumPy (and PyTorch, when installed), as a table.

Each case is timed as the best of several repeats of a loop long enough to be measurable. All
peers run the same input in the same process, and their repeats are interleaved (relu_rs, numpy,
torch, relu_rs, ...) so that a slow moment of the machine hits them alike. Between loops the
process sleeps briefly: PyTorch's OpenMP threads spin for a while after each parallel call, and
would otherwise take a core from whatever runs next. Where relu_rs writes into ``out=``, so does
PyTorch. A measurement, not a test.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import timeit
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

import relu_rs as F

Array = npt.NDArray[Any]
Fn = Callable[[], object]


@dataclass
class Case:
    op: str
    dtype: str
    size: str
    bytes_moved: int
    relu_rs: Fn
    peers: dict[str, Fn]


@dataclass
class Result:
    op: str
    dtype: str
    size: str
    seconds: dict[str, float] = field(default_factory=dict)
    gb_per_s: float = 0.0


def _torch() -> Any:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch  # type: ignore[import-not-found, unused-ignore]

    torch.set_num_threads(F.get_num_threads())
    return torch


def _data(n: int, dtype: Any, seed: int = 0) -> Array:
    return (np.random.default_rng(seed).standard_normal(n) * 4).astype(dtype)


def _float32_cases(size: str, n: int, torch: Any) -> list[Case]:
    x, g = _data(n, np.float32), _data(n, np.float32, 1)
    o = np.empty_like(x)
    tx, tg, to = (torch.from_numpy(a) for a in (x, g, o)) if torch else (None, None, None)

    def case(op: str, nbytes: int, ours: Fn, numpy: Fn, theirs: Fn) -> Case:
        peers = {"numpy": numpy, **({"torch": theirs} if torch else {})}
        return Case(op, "float32", size, nbytes, ours, peers)

    cases = [
        case("relu out=", 8 * n, lambda: F.relu(x, out=o), lambda: np.maximum(x, 0, out=o),
             lambda: torch.clamp_min(tx, 0, out=to)),
        case("softplus", 8 * n, lambda: F.softplus(x, out=o),
             lambda: np.logaddexp(0, x, out=o), lambda: torch._C._nn.softplus(tx, 1, 20, out=to)),
    ]  # fmt: skip
    if n >= 1_000_000:
        cases += [
            case("relu_grad out=", 12 * n, lambda: F.relu_grad(g, x, out=o),
                 lambda: np.multiply(g, x > 0, out=o),
                 lambda: torch.ops.aten.threshold_backward.grad_input(tg, tx, 0, grad_input=to)),
            case("leaky_relu", 8 * n, lambda: F.leaky_relu(x, 0.01),
                 lambda: np.where(x > 0, x, x * np.float32(0.01)),
                 lambda: torch.nn.functional.leaky_relu(tx, 0.01)),
            case("softplus_grad", 12 * n, lambda: F.softplus_grad(g, x, out=o),
                 lambda: g / (1 + np.exp(-x)),
                 lambda: torch.ops.aten.softplus_backward.grad_input(tg, tx, 1.0, 20.0,
                                                                     grad_input=to)),
        ]  # fmt: skip
    return cases


def _dtype_cases(dtype: Any, size: str, n: int, torch: Any) -> list[Case]:
    x = _data(n, dtype)
    o = np.empty_like(x)
    tx, to = (torch.from_numpy(a) for a in (x, o)) if torch else (None, None)
    name = np.dtype(dtype).name
    alpha = dtype(0.01)
    relu_peers: dict[str, Fn] = {"numpy": lambda: np.maximum(x, 0, out=o)}
    leaky_peers: dict[str, Fn] = {"numpy": lambda: np.where(x > 0, x, x * alpha)}
    softplus_peers: dict[str, Fn] = {"numpy": lambda: np.logaddexp(0, x, out=o)}
    if torch:
        relu_peers["torch"] = lambda: torch.clamp_min(tx, 0, out=to)
        leaky_peers["torch"] = lambda: torch._C._nn.leaky_relu(tx, 0.01, out=to)
        softplus_peers["torch"] = lambda: torch._C._nn.softplus(tx, 1, 20, out=to)
    return [
        Case("relu out=", name, size, 2 * x.nbytes, lambda: F.relu(x, out=o), relu_peers),
        Case(
            "leaky_relu out=",
            name,
            size,
            2 * x.nbytes,
            lambda: F.leaky_relu(x, 0.01, out=o),
            leaky_peers,
        ),
        Case("softplus", name, size, 2 * x.nbytes, lambda: F.softplus(x, out=o), softplus_peers),
    ]


def _prelu_cases(
    label: str, shape: tuple[int, ...], torch: Any, dtype: Any = np.float32
) -> list[Case]:
    """prelu and prelu_grad on one shape (channels on axis 1); float16 gives the backward only."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32).astype(dtype)
    g = rng.standard_normal(shape, dtype=np.float32).astype(dtype)
    alpha = np.full(shape[1], 0.25, dtype=dtype)
    o = np.empty_like(x)
    a_b = alpha.reshape([shape[1] if i == 1 else 1 for i in range(len(shape))])
    axes = tuple(i for i in range(len(shape)) if i != 1)

    def numpy_backward() -> object:
        return np.where(x > 0, g, a_b * g), np.sum(g * np.minimum(x, 0), axis=axes, dtype=float)

    fwd_peers: dict[str, Fn] = {"numpy": lambda: np.where(x > 0, x, a_b * x)}
    bwd_peers: dict[str, Fn] = {"numpy": numpy_backward}
    if torch:
        tx, ta = torch.from_numpy(x), torch.from_numpy(alpha)
        fwd_peers["torch"] = lambda: torch.nn.functional.prelu(tx, ta)
        txg, tag = tx.clone().requires_grad_(True), ta.clone().requires_grad_(True)
        y = torch.nn.functional.prelu(txg, tag)
        tgr = torch.from_numpy(g)
        bwd_peers["torch"] = lambda: torch.autograd.grad(y, (txg, tag), tgr, retain_graph=True)
    name = np.dtype(dtype).name
    backward = Case("prelu_grad", name, label, 3 * x.nbytes,
                    lambda: F.prelu_grad(g, x, alpha, out=o), bwd_peers)  # fmt: skip
    if name == "float16":
        return [backward]
    return [Case("prelu", name, label, 2 * x.nbytes, lambda: F.prelu(x, alpha, out=o), fwd_peers),
            backward]  # fmt: skip


def _call_cost_cases(torch: Any) -> list[Case]:
    """The cost of a call on small float32 arrays (1K elements, PReLU (64, 16)), next to
    ``np.copyto`` of the same array (the cheapest call that touches every element)."""
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal(1024, dtype=np.float32), rng.standard_normal(1024, dtype=np.float32)
    o = np.empty_like(x)
    xs, gs = x.reshape(64, 16), g.reshape(64, 16)
    alpha = np.full(16, 0.25, dtype=np.float32)

    def case(op: str, size: str, ours: Fn, numpy: Fn, theirs: Fn | None) -> Case:
        peers = {"copy": lambda: np.copyto(o, x), "numpy": numpy}
        if torch and theirs is not None:
            peers["torch"] = theirs
        return Case(op, "float32", size, 8 * x.size, ours, peers)

    tx, tg, to = (torch.from_numpy(a) for a in (x, g, o)) if torch else (None, None, None)
    a_b = alpha.reshape(1, 16)
    return [
        case("relu out=", "1K", lambda: F.relu(x, out=o), lambda: np.maximum(x, 0, out=o),
             torch and (lambda: torch.clamp_min(tx, 0, out=to))),
        case("leaky_relu out=", "1K", lambda: F.leaky_relu(x, 0.1, out=o),
             lambda: np.where(x > 0, x, x * np.float32(0.1)),
             torch and (lambda: torch._C._nn.leaky_relu(tx, 0.1, out=to))),
        case("relu_grad out=", "1K", lambda: F.relu_grad(g, x, out=o),
             lambda: np.multiply(g, x > 0, out=o),
             torch and (lambda: torch.ops.aten.threshold_backward.grad_input(tg, tx, 0,
                                                                             grad_input=to))),
        case("prelu", "NC 64x16", lambda: F.prelu(xs, alpha),
             lambda: np.where(xs > 0, xs, a_b * xs), None),
        case("prelu_grad", "NC 64x16", lambda: F.prelu_grad(gs, xs, alpha),
             lambda: (np.where(xs > 0, gs, a_b * gs), np.sum(gs * np.minimum(xs, 0), axis=0)),
             None),
    ]  # fmt: skip


def build_cases(quick: bool) -> list[Case]:
    """The comparison: small-call cost, float32 elementwise ops by size, float64/float16 rows,
    PReLU shapes."""
    torch = _torch()
    cases = _call_cost_cases(torch)
    sizes = {"1K": 1_000, "1M": 1_000_000}
    if not quick:
        sizes = {"1K": 1_000, "64K": 65_536, "1M": 1_000_000, "16M": 16_000_000}
    cases += [c for size, n in sizes.items() for c in _float32_cases(size, n, torch)]
    n, label = (1_000_000, "1M") if quick else (4_000_000, "4M")
    cases += [c for dt in (np.float64, np.float16) for c in _dtype_cases(dt, label, n, torch)]
    shapes: dict[str, tuple[int, ...]] = {"NC 4096x1024": (4096, 1024)}
    if not quick:
        shapes["NCHW 32x64x56x56"] = (32, 64, 56, 56)
        shapes["NC 64x1024"] = (64, 1024)  # a small batch: a training step of an MLP
    cases += [c for label, shape in shapes.items() for c in _prelu_cases(label, shape, torch)]
    if not quick:
        nchw = shapes["NCHW 32x64x56x56"]
        cases += _prelu_cases("NCHW 32x64x56x56", nchw, torch, np.float16)
    return cases


_SETTLE_S = 0.01  # pause before each timing loop: OpenMP threads stop spinning


def best_times(fns: dict[str, Fn], quick: bool) -> dict[str, float]:
    """Seconds per call for each function: the best of several loops of at least ~20 ms (5 ms
    quick), the functions' loops interleaved."""
    target = 0.005 if quick else 0.02
    timers, numbers = {}, {}
    for name, fn in fns.items():
        fn()
        timers[name] = timeit.Timer(fn)
        number, _ = timers[name].autorange()
        per_call = max(timers[name].timeit(number) / number, 1e-9)
        numbers[name] = max(1, int(target / per_call))
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(3 if quick else 7):
        for name, timer in timers.items():
            time.sleep(_SETTLE_S)
            best[name] = min(best[name], timer.timeit(numbers[name]) / numbers[name])
    return best


def run(quick: bool = False, progress: bool = True) -> list[Result]:
    cases = build_cases(quick)
    results = []
    for k, case in enumerate(cases, 1):
        if progress:
            print(f"[{k}/{len(cases)}] {case.op} {case.dtype} {case.size}", file=sys.stderr)
        r = Result(case.op, case.dtype, case.size)
        r.seconds = best_times({"relu_rs": case.relu_rs, **case.peers}, quick)
        r.gb_per_s = case.bytes_moved / r.seconds["relu_rs"] / 1e9
        results.append(r)
    return results


def _fmt_time(s: float) -> str:
    if s < 1e-5:
        return f"{s * 1e6:.2f} µs"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    return f"{s * 1e3:.2f} ms"


def format_table(results: list[Result]) -> str:
    peers = sorted({p for r in results for p in r.seconds if p != "relu_rs"})
    head = ["op", "dtype", "size", "relu_rs", *peers, *(f"vs {p}" for p in peers), "GB/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        ours = r.seconds["relu_rs"]
        times = [_fmt_time(r.seconds[p]) if p in r.seconds else "—" for p in peers]
        ratios = [f"{r.seconds[p] / ours:.2f}×" if p in r.seconds else "—" for p in peers]
        cells = [r.op, r.dtype, r.size, _fmt_time(ours), *times, *ratios, f"{r.gb_per_s:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_json(results: list[Result], path: str) -> None:
    with open(path, "w") as f:
        json.dump({"info": F.info(), "results": [asdict(r) for r in results]}, f, indent=2)


def plot(results: list[Result], path: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("--plot needs matplotlib, which is not installed: pip install matplotlib",
              file=sys.stderr)  # fmt: skip
        return False
    peers = sorted({p for r in results for p in r.seconds if p != "relu_rs"})
    labels = [f"{r.op} {r.dtype} {r.size}" for r in results]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(results) + 1.5))
    ypos = np.arange(len(results))
    for k, p in enumerate(peers):
        speedups = [r.seconds.get(p, np.nan) / r.seconds["relu_rs"] for r in results]
        ax.barh(ypos + 0.8 * k / len(peers), speedups, height=0.8 / len(peers), label=f"vs {p}")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set(yticks=ypos, yticklabels=labels, xscale="log", xlabel="speedup of relu_rs (×)")
    ax.invert_yaxis()
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True
