"""``python -m relu_rs bench``: relu_rs next to NumPy (and PyTorch, when installed), as a table.

How a case is timed. Every library runs in its own block: warm-up calls (at least two, and for
at least one loop's length), a calibration that sizes a loop of back-to-back calls to at least
20 ms (5 ms with ``--quick``), then 7 such loops (5 with ``--quick``). Libraries take turns
block by block (relu_rs's whole block, then NumPy's, then PyTorch's), never call by call, and
nothing sleeps between loops: a library's threads behave as they do in a loop of its own calls.
Each library keeps its default threading settings: the bench sets no thread count and no
``OMP_WAIT_POLICY``; relu_rs and PyTorch both default to the CPUs available, and the header
printed above the table states the counts (and warns when they differ). A cell is the
library's best loop, in seconds per call; the median loop is kept in the JSON (``median``) and
the spread (median / best) is summarised under the table. "vs X" is X's time over relu_rs's:
above 1, relu_rs is faster.

All peers run on the same input in one process. Where the library allows it, every library
writes into a preallocated ``out=`` array, so that allocation is not timed (NumPy's leaky_relu
and prelu are ``maximum(x, α·x)`` into ``out=``, valid for the 0 ≤ α ≤ 1 used here). Sizes are
in elements, K = 1024. ``relu out=`` rows carry a copy of the same bytes as a floor: PyTorch's
``copy_`` (its default threads) when PyTorch is installed, else ``np.copyto``; the 1K call-cost
rows always carry ``np.copyto``, the cheapest call that touches every element. The int8
``quantized leaky_relu out=`` rows carry a copy of the same bytes on two threads (``np.copyto``
of each half, the halves on two threads of a pool made once) and, with PyTorch,
``torch.ao.nn.quantized.functional.leaky_relu`` on a ``qint8`` tensor (it has no ``out=``, so its
result is allocated in the timed call).

The ``MLP`` rows put the activation in context: one float32 training step of a NumPy layer pair
(forward and backward, no optimizer update), with relu_rs's relu / relu_grad against the NumPy
expressions; the line under the table gives the activation's share of each step. A measurement,
not a test.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import math
import os
import platform
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

import relu_rs as F
from relu_rs import quantized as Q

Array = npt.NDArray[Any]
Fn = Callable[[], object]

K = 1024
M = K * K
_WARMUP_CALLS = 2  # at least; warm-up lasts at least one loop's length
# Threading variables that change how a library runs; the header lists any that are set.
_THREAD_ENV = (
    "RELU_RS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)
# Column order of the peers; any other peer follows, sorted.
_PEER_ORDER = ("numpy", "torch", "numpy copyto", "torch copy_")


@dataclass
class Case:
    op: str
    dtype: str
    size: str
    bytes_moved: int  # 0: not a streaming op (no GB/s)
    relu_rs: Fn
    peers: dict[str, Fn]


@dataclass
class Result:
    op: str
    dtype: str
    size: str
    seconds: dict[str, float] = field(default_factory=dict)  # best loop, per call
    median: dict[str, float] = field(default_factory=dict)  # median loop, per call
    calls_per_loop: dict[str, int] = field(default_factory=dict)
    repeats: int = 0
    loop_s: float = 0.0
    gb_per_s: float = 0.0


def _torch() -> Any:
    """PyTorch at its default settings (no thread count set), or None when not installed."""
    if importlib.util.find_spec("torch") is None:
        return None
    import torch  # type: ignore[import-not-found, unused-ignore]

    return torch


def _blas_threads() -> int | None:
    """The thread count of NumPy's OpenBLAS (its matmul), read from the loaded library; None
    where that cannot be read (not Linux, another BLAS)."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({ln.split()[-1] for ln in f if "openblas" in ln.lower() and "/" in ln})
    except OSError:
        return None
    names = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
             "openblas_get_num_threads64_", "openblas_get_num_threads")  # fmt: skip
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            getter = getattr(lib, name, None)
            if getter is not None:
                return int(getter())
    return None


def _tensors(torch: Any, *arrays: Array) -> tuple[Any, ...]:
    """Tensors sharing the arrays' memory (no copy), or Nones without PyTorch. torch.from_numpy
    has no bfloat16: those arrays go as the same bytes viewed as int16, then as bfloat16."""

    def tensor(a: Array) -> Any:
        if a.dtype.name == "bfloat16":
            return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
        return torch.from_numpy(a)

    return tuple(tensor(a) if torch else None for a in arrays)


def _data(n: int, dtype: Any, seed: int = 0) -> Array:
    return (np.random.default_rng(seed).standard_normal(n) * 4).astype(dtype)


def _float32_cases(size: str, n: int, torch: Any) -> list[Case]:
    """relu / relu_grad / leaky_relu / relu6 at every size, softplus and its gradient from 1M up."""
    x, g = _data(n, np.float32), _data(n, np.float32, 1)
    o = np.empty_like(x)
    tx, tg, to = _tensors(torch, x, g, o)
    alpha = np.float32(0.01)

    def case(op: str, nbytes: int, ours: Fn, numpy: Fn, theirs: Fn) -> Case:
        peers = {"numpy": numpy, **({"torch": theirs} if torch else {})}
        return Case(op, "float32", size, nbytes, ours, peers)

    def softplus_grad_numpy() -> object:  # g · σ(x), σ(x) = 1 / (1 + exp(−x)), all into o
        np.negative(x, out=o)
        np.exp(o, out=o)
        np.add(o, 1, out=o)
        return np.divide(g, o, out=o)

    relu = case("relu out=", 8 * n, lambda: F.relu(x, out=o), lambda: np.maximum(x, 0, out=o),
                lambda: torch.clamp_min(tx, 0, out=to))  # fmt: skip
    if torch:
        relu.peers["torch copy_"] = lambda: to.copy_(tx)
    else:
        relu.peers["numpy copyto"] = lambda: np.copyto(o, x)
    cases = [
        relu,
        case("relu_grad out=", 12 * n, lambda: F.relu_grad(g, x, out=o),
             lambda: np.multiply(g, x > 0, out=o),
             lambda: torch.ops.aten.threshold_backward.grad_input(tg, tx, 0, grad_input=to)),
        case("leaky_relu out=", 8 * n, lambda: F.leaky_relu(x, 0.01, out=o),
             lambda: np.maximum(x, np.multiply(x, alpha, out=o), out=o),
             lambda: torch._C._nn.leaky_relu(tx, 0.01, out=to)),
        case("relu6 out=", 8 * n, lambda: F.relu(x, max_value=6.0, out=o),
             lambda: np.clip(x, 0, 6, out=o),
             lambda: torch.clamp(tx, 0, 6, out=to)),
    ]  # fmt: skip
    if n >= M:
        cases += [
            case("softplus", 8 * n, lambda: F.softplus(x, out=o),
                 lambda: np.logaddexp(0, x, out=o),
                 lambda: torch._C._nn.softplus(tx, 1, 20, out=to)),
            case("softplus_grad", 12 * n, lambda: F.softplus_grad(g, x, out=o),
                 softplus_grad_numpy,
                 lambda: torch.ops.aten.softplus_backward.grad_input(tg, tx, 1.0, 20.0,
                                                                     grad_input=to)),
        ]  # fmt: skip
    return cases


def _dtype_cases(dtype: Any, size: str, n: int, torch: Any) -> list[Case]:
    x = _data(n, dtype)
    o = np.empty_like(x)
    tx, to = _tensors(torch, x, o)
    name = np.dtype(dtype).name
    alpha = dtype(0.01)
    relu_peers: dict[str, Fn] = {"numpy": lambda: np.maximum(x, 0, out=o)}
    leaky_peers: dict[str, Fn] = {
        "numpy": lambda: np.maximum(x, np.multiply(x, alpha, out=o), out=o)
    }
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
        *_leaky_grad_cases(x, size, torch),
        Case("softplus", name, size, 2 * x.nbytes, lambda: F.softplus(x, out=o), softplus_peers),
    ]


def _leaky_grad_cases(x: Array, size: str, torch: Any) -> list[Case]:
    """leaky_relu_grad into out= for a half type, against PyTorch's leaky_relu_backward into a
    preallocated grad_input (NumPy has no half-precision path worth timing)."""
    g = _data(x.size, x.dtype, seed=1)
    o = np.empty_like(x)
    peers: dict[str, Fn] = {}
    if torch:
        tg, tx, to = _tensors(torch, g, x, o)
        backward = torch.ops.aten.leaky_relu_backward.grad_input
        peers["torch"] = lambda: backward(tg, tx, 0.01, False, grad_input=to)
    run = lambda: F.leaky_relu_grad(g, x, 0.01, out=o)  # noqa: E731
    return [Case("leaky_relu_grad out=", x.dtype.name, size, 3 * x.nbytes, run, peers)]


def _bfloat16_dtype() -> Any:
    """ml_dtypes.bfloat16, or None without ml_dtypes."""
    try:
        import ml_dtypes
    except ImportError:
        return None
    return ml_dtypes.bfloat16


def _bfloat16_cases(size: str, n: int, torch: Any) -> list[Case]:
    """relu, leaky_relu (and its gradient) and softplus on ``ml_dtypes.bfloat16`` arrays, against
    PyTorch's bfloat16 on the same memory; none without ml_dtypes."""
    bfloat16 = _bfloat16_dtype()
    if bfloat16 is None:
        return []
    x = _data(n, bfloat16)
    o = np.empty_like(x)
    relu_peers: dict[str, Fn] = {}
    leaky_peers: dict[str, Fn] = {}
    softplus_peers: dict[str, Fn] = {}
    if torch:
        tx, to = _tensors(torch, x, o)
        relu_peers["torch"] = lambda: torch.clamp_min(tx, 0, out=to)
        leaky_peers["torch"] = lambda: torch._C._nn.leaky_relu(tx, 0.01, out=to)
        softplus_peers["torch"] = lambda: torch._C._nn.softplus(tx, 1, 20, out=to)
    nbytes = 2 * x.nbytes
    return [
        Case("relu out=", "bfloat16", size, nbytes, lambda: F.relu(x, out=o), relu_peers),
        Case(
            "leaky_relu out=",
            "bfloat16",
            size,
            nbytes,
            lambda: F.leaky_relu(x, 0.01, out=o),
            leaky_peers,
        ),
        *_leaky_grad_cases(x, size, torch),
        Case("softplus", "bfloat16", size, nbytes, lambda: F.softplus(x, out=o), softplus_peers),
    ]


def _prelu_cases(
    label: str,
    shape: tuple[int, ...],
    torch: Any,
    dtype: Any = np.float32,
    forward: bool = True,
    backward: bool = True,
) -> list[Case]:
    """prelu and prelu_grad on one shape (channels on axis 1). PyTorch's prelu has no ``out=``:
    it allocates, relu_rs and NumPy do not."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32).astype(dtype)
    g = rng.standard_normal(shape, dtype=np.float32).astype(dtype)
    alpha = np.full(shape[1], 0.25, dtype=dtype)
    o = np.empty_like(x)
    a_b = alpha.reshape([shape[1] if i == 1 else 1 for i in range(len(shape))])
    axes = tuple(i for i in range(len(shape)) if i != 1)

    def numpy_backward() -> object:
        return np.where(x > 0, g, a_b * g), np.sum(g * np.minimum(x, 0), axis=axes, dtype=float)

    fwd_peers: dict[str, Fn] = {"numpy": lambda: np.maximum(x, np.multiply(x, a_b, out=o), out=o)}
    bwd_peers: dict[str, Fn] = {"numpy": numpy_backward}
    if torch:
        tx, ta = _tensors(torch, x, alpha)
        fwd_peers["torch"] = lambda: torch.nn.functional.prelu(tx, ta)
        if backward:
            txg, tag = tx.clone().requires_grad_(True), ta.clone().requires_grad_(True)
            y = torch.nn.functional.prelu(txg, tag)
            (tgr,) = _tensors(torch, g)
            bwd_peers["torch"] = lambda: torch.autograd.grad(y, (txg, tag), tgr, retain_graph=True)
    name = np.dtype(dtype).name
    cases = []
    if forward:
        cases.append(Case("prelu", name, label, 2 * x.nbytes, lambda: F.prelu(x, alpha, out=o),
                          fwd_peers))  # fmt: skip
    if backward:
        cases.append(Case("prelu_grad", name, label, 3 * x.nbytes,
                          lambda: F.prelu_grad(g, x, alpha, out=o), bwd_peers))  # fmt: skip
    return cases


def _quantized_cases(size: str, n: int, torch: Any, copier: Any) -> list[Case]:
    """int8 quantized leaky_relu into out=, next to a two-thread copy of the same bytes and
    PyTorch's quantized leaky_relu."""
    q = np.random.default_rng(2).integers(-128, 128, size=n, dtype=np.int8)
    o = np.empty_like(q)
    scale, zp, out_scale, out_zp = 0.05, 3, 0.04, -2
    half = n // 2

    def copy_two_threads() -> object:
        done = copier.submit(np.copyto, o[:half], q[:half])
        np.copyto(o[half:], q[half:])
        return done.result()

    peers: dict[str, Fn] = {"copyto 2 threads": copy_two_threads}
    if torch:
        import warnings

        with warnings.catch_warnings():  # quantized tensor creation is deprecated in PyTorch
            warnings.simplefilter("ignore")
            tq = torch._make_per_tensor_quantized_tensor(torch.from_numpy(q), scale, zp)
        qf = torch.ao.nn.quantized.functional
        peers["torch"] = lambda: qf.leaky_relu(tq, 0.01, scale=out_scale, zero_point=out_zp)

    def ours() -> object:
        return Q.leaky_relu(q, 0.01, scale, zp, out_scale=out_scale, out_zero_point=out_zp, out=o)

    return [Case("quantized leaky_relu out=", "int8", size, 2 * n, ours, peers)]


def _call_cost_cases(torch: Any) -> list[Case]:
    """The cost of a call on small float32 arrays (1K elements, PReLU (64, 16)), next to
    ``np.copyto`` of the same array (the cheapest call that touches every element)."""
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal(K, dtype=np.float32), rng.standard_normal(K, dtype=np.float32)
    o = np.empty_like(x)
    xs, gs = x.reshape(64, 16), g.reshape(64, 16)
    alpha = np.full(16, 0.25, dtype=np.float32)

    def case(op: str, size: str, ours: Fn, numpy: Fn, theirs: Fn | None) -> Case:
        peers = {"numpy copyto": lambda: np.copyto(o, x), "numpy": numpy}
        if torch and theirs is not None:
            peers["torch"] = theirs
        return Case(op, "float32", size, 8 * x.size, ours, peers)

    tx, tg, to = _tensors(torch, x, g, o)
    a_b = alpha.reshape(1, 16)
    cases = [
        case("relu out=", "1K", lambda: F.relu(x, out=o), lambda: np.maximum(x, 0, out=o),
             torch and (lambda: torch.clamp_min(tx, 0, out=to))),
        case("leaky_relu out=", "1K", lambda: F.leaky_relu(x, 0.1, out=o),
             lambda: np.maximum(x, np.multiply(x, np.float32(0.1), out=o), out=o),
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
    if torch:
        cases[0].peers["torch copy_"] = lambda: to.copy_(tx)
    return cases


MLP_SHAPE = (256, 512, 1024, 512)  # batch, inputs, hidden units, outputs
MLP_STEP = "MLP step (relu)"
MLP_ACT = "MLP relu+grad only"


def _mlp_cases() -> list[Case]:
    """One training step of a NumPy layer pair, float32: forward ``h = x @ W1 + b1``,
    ``a = relu(h)``, ``y = a @ W2``; backward from a given ``gy``: ``ga = gy @ W2.T``,
    ``gh = relu_grad(ga, h)``, ``gW1 = x.T @ gh``, ``gW2 = a.T @ gy`` (no optimizer update).
    Both versions share every matmul and buffer (``out=``, so neither allocates them) and differ
    only in the two activation calls: relu_rs's ``relu(h, out=a)`` / ``relu_grad(ga, h,
    out=ga)`` against NumPy's ``np.maximum(h, 0, out=a)`` / ``np.multiply(ga, h > 0, out=ga)``
    (the in-place form of ``ga * (h > 0)``; its boolean mask is still a temporary).

    The activation's share of a step: the two activation calls are also timed alone, as their
    own case (``MLP relu+grad only``), on the buffers a step leaves behind (real ``h`` and
    ``ga``), in the same process and thread settings; the share is that time over the step's.
    Timing them alone rather than as "step minus step without activation" keeps the share out
    of the noise of two ~10 ms numbers; what it leaves out (the activation waking its threads
    right after a matmul whose BLAS threads may still spin) is in the step times themselves."""
    b, d, hid, out = MLP_SHAPE
    rng = np.random.default_rng(0)

    def randn(*shape: int, scale: float = 1.0) -> Array:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    x, gy = randn(b, d), randn(b, out)
    w1, b1, w2 = (
        randn(d, hid, scale=d**-0.5),
        randn(hid, scale=0.1),
        randn(hid, out, scale=hid**-0.5),
    )
    h, a, ga = (np.empty((b, hid), np.float32) for _ in range(3))
    y, gw1, gw2 = np.empty((b, out), np.float32), np.empty_like(w1), np.empty_like(w2)

    def relu_rs_act() -> None:
        F.relu(h, out=a)

    def relu_rs_grad() -> None:
        F.relu_grad(ga, h, out=ga)

    def numpy_act() -> None:
        np.maximum(h, 0, out=a)

    def numpy_grad() -> None:
        np.multiply(ga, h > 0, out=ga)

    def step(act: Fn, grad: Fn) -> Fn:
        def run() -> None:
            np.matmul(x, w1, out=h)
            np.add(h, b1, out=h)
            act()
            np.matmul(a, w2, out=y)
            np.matmul(gy, w2.T, out=ga)
            grad()
            np.matmul(x.T, ga, out=gw1)
            np.matmul(a.T, gy, out=gw2)

        return run

    def both(act: Fn, grad: Fn) -> Fn:
        def run() -> None:
            act()
            grad()

        return run

    step(numpy_act, numpy_grad)()  # real h and ga for the activation-only case
    n = b * hid
    label = "x".join(map(str, MLP_SHAPE))
    return [
        Case(MLP_STEP, "float32", label, 0, step(relu_rs_act, relu_rs_grad),
             {"numpy": step(numpy_act, numpy_grad)}),
        # relu reads h, writes a; relu_grad reads ga and h, writes ga
        Case(MLP_ACT, "float32", f"{b}x{hid}", 20 * n, both(relu_rs_act, relu_rs_grad),
             {"numpy": both(numpy_act, numpy_grad)}),
    ]  # fmt: skip


def build_cases(quick: bool) -> list[Case]:
    """The comparison: small-call cost, float32 elementwise ops by size, float64, float16 and
    bfloat16 rows, PReLU shapes, the MLP step."""
    torch = _torch()
    cases = _call_cost_cases(torch)
    sizes = {"256K": 256 * K, "1M": M}
    if not quick:
        sizes["16M"] = 16 * M
    cases += [c for size, n in sizes.items() for c in _float32_cases(size, n, torch)]
    copier = ThreadPoolExecutor(1)  # the second thread of the two-thread copy
    q_sizes = {"64K": 64 * K, "1M": M, **({} if quick else {"16M": 16 * M})}
    cases += [c for size, n in q_sizes.items() for c in _quantized_cases(size, n, torch, copier)]
    n, label = (M, "1M") if quick else (4 * M, "4M")
    cases += [c for dt in (np.float64, np.float16) for c in _dtype_cases(dt, label, n, torch)]
    cases += _bfloat16_cases(label, n, torch)
    # prelu forward on (N, 64) at the elementwise sizes
    for size, n in sizes.items():
        cases += _prelu_cases(f"{size} NC {n // 64}x64", (n // 64, 64), torch, backward=False)
    shapes: dict[str, tuple[int, ...]] = {"NC 4096x1024": (4096, 1024)}
    if not quick:
        shapes["NCHW 32x64x56x56"] = (32, 64, 56, 56)
        shapes["NC 64x1024"] = (64, 1024)  # a small batch: a training step of an MLP
    cases += [c for label, shape in shapes.items() for c in _prelu_cases(label, shape, torch)]
    if not quick:
        nchw = shapes["NCHW 32x64x56x56"]
        cases += _prelu_cases("NCHW 32x64x56x56", nchw, torch, np.float16, forward=False)
        bfloat16 = _bfloat16_dtype()
        if bfloat16 is not None:
            cases += _prelu_cases("NCHW 32x64x56x56", nchw, torch, bfloat16)
    cases += _mlp_cases()
    return cases


def time_block(fn: Fn, loop_s: float, repeats: int) -> tuple[list[float], int]:
    """One library's block: warm-up calls (at least ``_WARMUP_CALLS`` of them, for at least
    ``loop_s``), a calibration that sizes a loop of back-to-back calls to at least ``loop_s``
    seconds, then ``repeats`` such loops. Returns the seconds per call of each loop and the calls
    per loop. (``timeit`` switches the garbage collector off while it times.)"""
    timer = timeit.Timer(fn)
    warm, start = 0, time.perf_counter()
    while warm < _WARMUP_CALLS or time.perf_counter() - start < loop_s:
        fn()  # also outlasts other libraries' threads still spinning from their block
        warm += 1
    number, elapsed = 1, timer.timeit(1)
    while elapsed < loop_s / 10:
        number *= 10
        elapsed = timer.timeit(number)
    number = max(1, math.ceil(number * loop_s / max(elapsed, 1e-9)))
    return [max(timer.timeit(number) / number, 1e-12) for _ in range(repeats)], number


def run(quick: bool = False, progress: bool = True, only: str | None = None) -> list[Result]:
    """Time every case (``only``: those whose op contains that text)."""
    cases = [c for c in build_cases(quick) if only is None or only in c.op]
    loop_s, repeats = (0.005, 5) if quick else (0.02, 7)
    results = []
    for k, case in enumerate(cases, 1):
        if progress:
            print(f"[{k}/{len(cases)}] {case.op} {case.dtype} {case.size}", file=sys.stderr)
        r = Result(case.op, case.dtype, case.size, repeats=repeats, loop_s=loop_s)
        # block by block: relu_rs's whole block, then each peer's
        for name, fn in {"relu_rs": case.relu_rs, **case.peers}.items():
            times, number = time_block(fn, loop_s, repeats)
            r.seconds[name], r.median[name] = min(times), statistics.median(times)
            r.calls_per_loop[name] = number
        if case.bytes_moved:
            r.gb_per_s = case.bytes_moved / r.seconds["relu_rs"] / 1e9
        results.append(r)
    return results


def settings(results: list[Result]) -> dict[str, Any]:
    """The conditions of a run: thread counts, SIMD path, versions, the timing rule."""
    facts = F.info()
    peers = {p.split()[0] for r in results for p in r.seconds}
    torch = sys.modules.get("torch") if "torch" in peers else None
    r0 = results[0] if results else Result("", "", "")
    return {
        "relu_rs": {"version": facts["version"], "threads": facts["num_threads"],
                    "simd": facts["simd"]},
        "numpy": {"version": np.__version__, "ufunc_threads": 1, "blas_threads": _blas_threads()},
        "torch": {"version": torch.__version__, "threads": torch.get_num_threads()}
        if torch is not None else None,
        "cpu": platform.processor() or platform.machine(),
        "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "thread_env": {k: os.environ[k] for k in _THREAD_ENV if k in os.environ},
        "timing": {"warmup_calls": _WARMUP_CALLS, "warmup_s": r0.loop_s, "loop_s": r0.loop_s,
                   "repeats": r0.repeats,
                   "cell": "best loop (seconds per call)", "json_median": "median loop",
                   "order": "each library in its own block, libraries in turn"},
    }  # fmt: skip


def format_header(results: list[Result]) -> str:
    s = settings(results)
    ours, np_, torch = s["relu_rs"], s["numpy"], s["torch"]
    t = s["timing"]
    blas = np_["blas_threads"] if np_["blas_threads"] is not None else "default"
    threads = f"threads: relu_rs {ours['threads']}"
    if torch is not None:
        threads += f", torch {torch['threads']}"
    threads += (
        f", numpy 1 (ufuncs; its BLAS {blas} for the MLP rows' matmuls); "
        f"{s['cpus_available']} CPUs available; relu_rs {ours['version']} simd {ours['simd']}, "
        f"numpy {np_['version']}" + (f", torch {torch['version']}" if torch is not None else "")
    )
    env = s["thread_env"]
    lines = [
        threads,
        "environment: " + (", ".join(f"{k}={v}" for k, v in env.items()) if env else
                           f"none of {', '.join(_THREAD_ENV)} set"),
        f"method: each library is timed in its own block of back-to-back calls at its default "
        f"threading settings: a warm-up (≥ {t['warmup_calls']} calls, ≥ one loop), then "
        f"{t['repeats']} loops of ≥ {t['loop_s'] * 1e3:g} ms; libraries take turns block by "
        f"block ({'relu_rs, numpy, torch' if torch else 'relu_rs, numpy'}), no sleeps.",
        f"cells: best of the {t['repeats']} loops, per call (medians in --json); "
        "vs X = X's time / relu_rs's (> 1: relu_rs faster); K = 1024 elements.",
    ]  # fmt: skip
    if torch is not None and torch["threads"] != ours["threads"]:
        lines.append(
            f"warning: relu_rs runs {ours['threads']} threads, torch {torch['threads']}: "
            "the torch ratios compare unequal thread counts"
        )
    return "\n".join(lines)


def _fmt_time(s: float) -> str:
    if s < 1e-5:
        return f"{s * 1e6:.2f} µs"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    return f"{s * 1e3:.2f} ms"


def _peers(results: list[Result]) -> list[str]:
    found = {p for r in results for p in r.seconds if p != "relu_rs"}
    return [p for p in _PEER_ORDER if p in found] + sorted(found - set(_PEER_ORDER))


def spread(results: list[Result]) -> dict[str, Any]:
    """median / best − 1 over every cell: how far a typical loop was from the best one."""
    cells = [(r.median[p] / r.seconds[p] - 1, f"{p}, {r.op} {r.dtype} {r.size}")
             for r in results for p in r.seconds if p in r.median]  # fmt: skip
    if not cells:
        return {}
    worst = max(cells)
    return {"median": statistics.median(c[0] for c in cells), "max": worst[0], "max_at": worst[1]}


def mlp_shares(results: list[Result]) -> dict[str, Any]:
    """The activation's (relu + relu_grad) share of the MLP step, per library."""
    step = next((r for r in results if r.op == MLP_STEP), None)
    act = next((r for r in results if r.op == MLP_ACT), None)
    if step is None or act is None:
        return {}
    out: dict[str, Any] = {"shape": step.size}
    for lib in step.seconds:
        if lib in act.seconds:
            out[lib] = {"step_s": step.seconds[lib], "activation_s": act.seconds[lib],
                        "share": act.seconds[lib] / step.seconds[lib]}  # fmt: skip
    return out


def format_table(results: list[Result]) -> str:
    """The header (threads, method), the table, then the spread and the MLP shares."""
    peers = _peers(results)
    head = ["op", "dtype", "size", "relu_rs", *peers, *(f"vs {p}" for p in peers), "GB/s"]
    lines = [format_header(results), ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        ours = r.seconds["relu_rs"]
        times = [_fmt_time(r.seconds[p]) if p in r.seconds else "—" for p in peers]
        ratios = [f"{r.seconds[p] / ours:.2f}×" if p in r.seconds else "—" for p in peers]
        gbs = f"{r.gb_per_s:.1f}" if r.gb_per_s else "—"
        cells = [r.op, r.dtype, r.size, _fmt_time(ours), *times, *ratios, gbs]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    sp = spread(results)
    if sp:
        lines.append(f"spread (median loop / best loop − 1) over all cells: median "
                     f"{sp['median']:.1%}, largest {sp['max']:.1%} ({sp['max_at']})")  # fmt: skip
    shares = mlp_shares(results)
    if "relu_rs" in shares and "numpy" in shares:
        ours, theirs = shares["relu_rs"], shares["numpy"]
        lines.append(
            f"MLP step {shares['shape']} float32 (batch x in x hidden x out): relu + relu_grad "
            f"are {ours['share']:.2%} of relu_rs's step ({_fmt_time(ours['activation_s'])} of "
            f"{_fmt_time(ours['step_s'])}), NumPy's expressions {theirs['share']:.2%} of "
            f"NumPy's ({_fmt_time(theirs['activation_s'])} of {_fmt_time(theirs['step_s'])}); "
            f"the activation timed alone on the step's buffers."
        )
    return "\n".join(lines)


def write_json(results: list[Result], path: str) -> None:
    data = {
        "info": F.info(),
        "settings": settings(results),
        "spread": spread(results),
        "mlp": mlp_shares(results),
        "results": [asdict(r) for r in results],
    }
    with open(path, "w") as f:
        json.dump(data, f, indent=2)


def plot(results: list[Result], path: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("--plot needs matplotlib, which is not installed: pip install matplotlib",
              file=sys.stderr)  # fmt: skip
        return False
    peers = _peers(results)
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
