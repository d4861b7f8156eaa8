"""``python -m relu_rs demo``: the same MLP trained with five activations on two spirals.

Everything is NumPy plus relu_rs; the data is made in code from a seed (no download). The main
table shows what the ReLU family is for: ReLU trains faster than the sigmoid baseline in a deep
network, and leaky ReLU / PReLU keep every unit alive where plain ReLU lets some die. Two seeded
sweeps on smaller networks then measure how final accuracy depends on the initial weight scale
and on depth.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from . import nn, quantized
from ._relu_rs import softplus

Array = npt.NDArray[Any]
ACTIVATIONS = ["sigmoid", "relu", "leaky_relu", "prelu", "softplus"]


def two_spirals(n_per_class: int, seed: int, noise: float = 0.3) -> tuple[Array, Array]:
    """Two interleaved spirals in the plane, labels 0/1, standardized."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0.0, 1.0, n_per_class)) * 3.0 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
    x = np.concatenate([arm, -arm]) + rng.normal(0.0, noise, (2 * n_per_class, 2))
    y = np.concatenate([np.zeros(n_per_class), np.ones(n_per_class)])
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x.astype(np.float32), y.astype(np.float32)


class Sigmoid(nn.Module):
    """The pre-ReLU baseline, in plain NumPy: σ(x) = 1/(1+exp(−x)), σ' = σ(1−σ)."""

    def forward(self, x: npt.ArrayLike) -> Array:
        xa = np.asarray(x)
        e = np.exp(-np.abs(xa))
        y: Array = np.where(xa >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(xa.dtype)
        self._saved = y
        return y

    def backward(self, grad: npt.ArrayLike) -> Array:
        y = self._saved_or_raise()
        out: Array = np.asarray(grad) * y * (1 - y)
        return out


def make_activation(name: str, width: int) -> nn.Module:
    if name == "sigmoid":
        return Sigmoid()
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "leaky_relu":
        return nn.LeakyReLU(0.01, inplace=True)
    if name == "prelu":
        return nn.PReLU(width, init=0.25, axis=1)
    if name == "softplus":
        return nn.Softplus()
    raise ValueError(f"unknown activation {name!r}")


def init_std(activation: str, n_in: int, n_out: int) -> float:
    """He initialisation (sqrt(2/n_in)) for the ReLU family, Xavier (sqrt(2/(n_in+n_out))) for
    the sigmoid: the standard deviation that keeps each layer's signal at a steady scale."""
    if activation == "sigmoid":
        return float(np.sqrt(2.0 / (n_in + n_out)))
    return float(np.sqrt(2.0 / n_in))


class Linear:
    """y = x W + b, with a cache for backward and momentum buffers."""

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator, std: float) -> None:
        self.w = (rng.standard_normal((n_in, n_out)) * std).astype(np.float32)
        self.b = np.zeros(n_out, dtype=np.float32)
        self.dw = np.zeros_like(self.w)
        self.db = np.zeros_like(self.b)
        self._x: Array | None = None

    def forward(self, x: Array) -> Array:
        self._x = x
        y: Array = x @ self.w + self.b
        return y

    def backward(self, grad: Array) -> Array:
        assert self._x is not None
        self.dw = self._x.T @ grad
        self.db = grad.sum(axis=0)
        dx: Array = grad @ self.w.T
        return dx


@dataclass
class Run:
    name: str
    losses: list[float] = field(default_factory=list)
    accuracy: float = 0.0
    epochs_to_target: int | None = None
    inactive_fraction: float = 0.0
    dead_fraction: float = 0.0
    alpha_range: tuple[float, float] | None = None
    diverged: bool = False
    seconds: float = 0.0
    model: MLP | None = None


class MLP:
    def __init__(
        self, activation: str, hidden: int, layers: int, seed: int, init_scale: float = 1.0
    ) -> None:
        rng = np.random.default_rng(seed)
        sizes = [2] + [hidden] * layers
        self.linears = [
            Linear(a, b, rng, init_scale * init_std(activation, a, b))
            for a, b in itertools.pairwise(sizes)
        ]
        self.acts = [make_activation(activation, hidden) for _ in range(layers)]
        # the output layer keeps 1/sqrt(n) whatever init_scale: the sweep is about hidden layers
        self.head = Linear(hidden, 1, rng, 1.0 / np.sqrt(hidden))
        self.pre_activations: list[Array] = []

    def forward(self, x: Array) -> Array:
        self.pre_activations = []
        h = x
        for lin, act in zip(self.linears, self.acts, strict=True):
            z = lin.forward(h)
            self.pre_activations.append(z.copy())
            h = act(z)
        return self.head.forward(h)[:, 0]

    def backward(self, dlogits: Array) -> None:
        g = self.head.backward(dlogits[:, None])
        for lin, act in zip(reversed(self.linears), reversed(self.acts), strict=True):
            g = lin.backward(act.backward(g))

    def params_and_grads(self) -> list[tuple[Array, Array]]:
        pairs = [(lin.w, lin.dw) for lin in (*self.linears, self.head)]
        pairs += [(lin.b, lin.db) for lin in (*self.linears, self.head)]
        for act in self.acts:
            pairs += list(zip(act.parameters(), act.grads(), strict=True))
        return pairs

    def zero_grad(self) -> None:
        for act in self.acts:
            act.zero_grad()


def unit_census(model: MLP, x: Array) -> tuple[float, float]:
    """Fractions of hidden units that are inactive (pre-activation <= 0 on every example) and
    dead (no error signal reaches them: the activation's backward gives exactly 0 on every
    example). For ReLU the two coincide; leaky ReLU and PReLU pass alpha·grad through inactive
    units, so their units are never dead."""
    model.forward(x)
    inactive, dead = [], []
    for z, act in zip(model.pre_activations, model.acts, strict=True):
        inactive.append(np.all(z <= 0, axis=0))
        act.forward(z.copy())
        signal = act.backward(np.ones_like(z))
        dead.append(np.all(signal == 0, axis=0))
    return float(np.mean(np.concatenate(inactive))), float(np.mean(np.concatenate(dead)))


def bce_with_logits(logits: Array, y: Array) -> tuple[float, Array]:
    """Mean binary cross-entropy from logits, stably: softplus(z) − y·z; and d/dz."""
    loss = float(np.mean(softplus(logits) - y * logits))
    e = np.exp(-np.abs(logits))
    p = np.where(logits >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return loss, ((p - y) / y.size).astype(np.float32)


def train(
    name: str,
    x: Array,
    y: Array,
    *,
    hidden: int,
    layers: int,
    epochs: int,
    seed: int,
    lr: float,
    batch: int,
    target: float,
    progress: Callable[[str, int, float], None],
    init_scale: float = 1.0,
) -> Run:
    run = Run(name)
    model = MLP(name, hidden, layers, seed, init_scale)
    velocity: dict[int, Array] = {}
    rng = np.random.default_rng(seed + 1)  # the same batches for every activation
    start = time.perf_counter()
    # A too-large init or lr can overflow to inf/nan: that is reported as "diverged", not warned.
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(x))
            for i in range(0, len(x), batch):
                idx = order[i : i + batch]
                model.zero_grad()
                _, dlogits = bce_with_logits(model.forward(x[idx]), y[idx])
                model.backward(dlogits)
                for p, g in model.params_and_grads():
                    v = velocity.setdefault(id(p), np.zeros_like(p))
                    v *= 0.9
                    v -= lr * g
                    p += v
            logits = model.forward(x)
            loss, _ = bce_with_logits(logits, y)
            run.losses.append(loss)
            # nan logits count as wrong answers, so a diverged run scores as a constant guess
            run.accuracy = float(np.mean((logits > 0) == (y > 0.5)))
            if run.epochs_to_target is None and run.accuracy >= target:
                run.epochs_to_target = epoch
            progress(name, epoch, loss)
            if not np.isfinite(loss):
                run.diverged = True
                break
    run.seconds = time.perf_counter() - start
    with np.errstate(over="ignore", invalid="ignore"):
        run.inactive_fraction, run.dead_fraction = unit_census(model, x)
    if name == "prelu":
        alphas = np.concatenate([a.parameters()[0] for a in model.acts])
        run.alpha_range = (float(alphas.min()), float(alphas.max()))
    run.model = model
    return run


@dataclass(frozen=True)
class SweepSettings:
    """Sizes for the two sweeps: smaller than the main table's network, so they fit in seconds."""

    epochs: int
    hidden: int
    layers: int  # hidden layers of the init-scale sweep's network
    seeds: int  # init-scale sweep: seeds per cell
    depth_seeds: int
    scales: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
    depths: tuple[int, ...] = (2, 4, 8, 12)


# FULL keeps the default demo near 20 s on 2 cores; QUICK (about 1 s in all) is for tests and CI.
FULL = SweepSettings(epochs=15, hidden=32, layers=3, seeds=3, depth_seeds=2)
QUICK = SweepSettings(epochs=4, hidden=16, layers=3, seeds=2, depth_seeds=1, depths=(2, 8))


@dataclass
class Sweep:
    """Final accuracies of one sweep: per activation, per setting, one run per seed."""

    caption: str
    setting: str  # the swept quantity, e.g. "init scale"
    labels: list[str]  # one column label per setting
    accuracy: dict[str, list[list[float]]] = field(default_factory=dict)
    diverged: dict[str, list[int]] = field(default_factory=dict)

    def mean(self, name: str) -> list[float]:
        return [float(np.mean(a)) for a in self.accuracy[name]]

    def spread(self, name: str) -> list[float]:
        """Standard deviation over seeds (0 with one seed)."""
        return [float(np.std(a)) for a in self.accuracy[name]]


def _silent(name: str, epoch: int, loss: float) -> None:
    """A progress callback that prints nothing: sweeps report per activation instead."""


def run_sweep(
    sweep: Sweep,
    cells: list[tuple[int, float]],
    names: list[str],
    x: Array,
    y: Array,
    settings: SweepSettings,
    *,
    seeds: list[int],
    lr: float,
    batch: int,
    report: Callable[[str], None],
) -> Sweep:
    """Fill ``sweep`` with one training run per activation, (layers, init scale) cell and seed."""
    for name in names:
        start = time.perf_counter()
        sweep.accuracy[name], sweep.diverged[name] = [], []
        for layers, scale in cells:
            runs = [
                train(
                    name,
                    x,
                    y,
                    hidden=settings.hidden,
                    layers=layers,
                    epochs=settings.epochs,
                    seed=seed,
                    lr=lr,
                    batch=batch,
                    target=1.0,
                    progress=_silent,
                    init_scale=scale,
                )
                for seed in seeds
            ]
            sweep.accuracy[name].append([r.accuracy for r in runs])
            sweep.diverged[name].append(sum(r.diverged for r in runs))
        report(f"{sweep.setting} sweep: {name} done in {time.perf_counter() - start:.1f} s")
    return sweep


def init_sweep(
    x: Array,
    y: Array,
    names: list[str],
    settings: SweepSettings,
    *,
    seed: int,
    lr: float,
    batch: int,
    report: Callable[[str], None],
) -> Sweep:
    """Final accuracy when the initial weights are scaled by each of ``settings.scales``."""
    s = settings
    sweep = Sweep(
        f"Init scale: final accuracy (mean ± std over {s.seeds} seeds) of a {s.layers}×{s.hidden} "
        f"MLP after {s.epochs} epochs, initial hidden weights × scale (He for the ReLU family, "
        "Xavier for sigmoid)",
        "init scale",
        [f"×{v:g}" for v in s.scales],
    )
    cells = [(s.layers, v) for v in s.scales]
    seeds = [seed + k for k in range(s.seeds)]
    return run_sweep(sweep, cells, names, x, y, s, seeds=seeds, lr=lr, batch=batch, report=report)


def depth_sweep(
    x: Array,
    y: Array,
    names: list[str],
    settings: SweepSettings,
    *,
    seed: int,
    lr: float,
    batch: int,
    report: Callable[[str], None],
) -> Sweep:
    """Final accuracy of networks with each of ``settings.depths`` hidden layers."""
    s = settings
    over = f"mean ± std over {s.depth_seeds} seeds" if s.depth_seeds > 1 else f"seed {seed}"
    sweep = Sweep(
        f"Depth: final accuracy ({over}) after {s.epochs} epochs of MLPs with {s.hidden} units "
        "per hidden layer, by number of hidden layers",
        "hidden layers",
        [f"{d} layers" for d in s.depths],
    )
    cells = [(d, 1.0) for d in s.depths]
    seeds = [seed + k for k in range(s.depth_seeds)]
    return run_sweep(sweep, cells, names, x, y, s, seeds=seeds, lr=lr, batch=batch, report=report)


def format_sweep(sweep: Sweep) -> str:
    """The caption, then a table: a row per activation, a column per setting."""
    lines = [
        f"{sweep.caption}:",
        "",
        "| activation | " + " | ".join(sweep.labels) + " |",
        "|---|" + "---:|" * len(sweep.labels),
    ]
    for name in sweep.accuracy:
        cells = []
        for mean, spread, runs, diverged in zip(
            sweep.mean(name),
            sweep.spread(name),
            sweep.accuracy[name],
            sweep.diverged[name],
            strict=True,
        ):
            cell = f"{mean:.1%} ± {spread:.1%}" if len(runs) > 1 else f"{mean:.1%}"
            if diverged:
                cell += f" ({diverged}/{len(runs)} diverged)" if len(runs) > 1 else " (diverged)"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_table(runs: list[Run], target: float) -> str:
    header = (
        f"| activation | final loss | accuracy | epochs to {target:.0%} | inactive units "
        "| dead units | PReLU α range | time |"
    )
    lines = [header, "|---|---:|---:|---:|---:|---:|---|---:|"]
    for r in runs:
        reached = str(r.epochs_to_target) if r.epochs_to_target is not None else "never"
        if r.diverged and r.epochs_to_target is None:
            reached = f"diverged at {len(r.losses)}"
        alpha = f"{r.alpha_range[0]:.3f} … {r.alpha_range[1]:.3f}" if r.alpha_range else ""
        lines.append(
            f"| {r.name} | {r.losses[-1]:.4f} | {r.accuracy:.1%} | {reached} "
            f"| {r.inactive_fraction:.1%} | {r.dead_fraction:.1%} | {alpha} | {r.seconds:.1f} s |"
        )
    return "\n".join(lines)


@dataclass
class Int8Result:
    name: str
    float_accuracy: float
    int8_accuracy: float


def int8_activations(run: Run, x: Array, y: Array) -> Int8Result:
    """The trained network with its hidden activations in int8, post-training and per tensor:
    each layer's pre-activation z is quantized symmetrically (zero point 0, scale = max |z| on
    the data / 127, calibrated once), the activation runs on the int8 codes in
    ``relu_rs.quantized`` (exact), and the next layer reads the dequantized values. Weights and
    the output layer stay float32."""
    assert run.model is not None
    model = run.model
    model.forward(x)
    scales = [float(np.abs(z).max()) / 127 for z in model.pre_activations]
    h = x
    for lin, act, scale in zip(model.linears, model.acts, scales, strict=True):
        z = lin.forward(h)
        q = np.clip(np.rint(z / scale), -128, 127).astype(np.int8)
        if run.name == "relu":
            a = quantized.relu(q, scale, 0)
        elif run.name == "leaky_relu":
            a = quantized.leaky_relu(q, 0.01, scale, 0)
        else:  # prelu: its learned alpha per unit (axis 1 of the batch)
            a = quantized.prelu(q, act.parameters()[0], scale, 0, axis=1)
        h = a.astype(np.float32) * np.float32(scale)
    logits = model.head.forward(h)[:, 0]
    return Int8Result(run.name, run.accuracy, float(np.mean((logits > 0) == (y > 0.5))))


def format_int8(results: list[Int8Result]) -> str:
    lines = [
        "Post-training int8 activations (per-tensor, zero point 0, computed by "
        "relu_rs.quantized): accuracy of the trained network",
        "",
        "| activation | float32 | int8 activations |",
        "|---|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r.name} | {r.float_accuracy:.1%} | {r.int8_accuracy:.1%} |")
    return "\n".join(lines)


@dataclass
class Demo:
    """Everything the demo measured: the main table's runs, the int8 check and the sweeps."""

    runs: list[Run]
    int8: list[Int8Result] = field(default_factory=list)
    init: Sweep | None = None
    depth: Sweep | None = None


def _plot_sweep(ax: Any, sweep: Sweep, x: list[float]) -> None:
    """Final accuracy against the swept setting, one line per activation, bars = spread."""
    for name in sweep.accuracy:
        ax.errorbar(x, sweep.mean(name), yerr=sweep.spread(name), marker="o", capsize=3, label=name)
    ax.set(title=f"final accuracy by {sweep.setting}", xlabel=sweep.setting, ylabel="accuracy")
    ax.set_xticks(x, sweep.labels)
    ax.legend(fontsize="small")


def plot(demo: Demo, x: Array, y: Array, path: str, settings: SweepSettings) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "--plot needs matplotlib, which is not installed: pip install matplotlib",
            file=sys.stderr,
        )
        return
    runs = demo.runs
    # top row: loss curves and the two sweeps; bottom row: each activation's decision regions
    cols = max(3, len(runs))
    fig, axes = plt.subplots(2, cols, figsize=(4 * cols, 8), squeeze=False)
    for ax in axes[0, 1:]:
        ax.set_axis_off()
    for r in runs:
        axes[0, 0].plot(np.arange(1, len(r.losses) + 1), r.losses, label=r.name)
    axes[0, 0].set(title="training loss", xlabel="epoch", yscale="log")
    axes[0, 0].legend()
    # init scales are powers of two: evenly spaced on a log2 axis
    for ax, sweep, ticks in (
        (axes[0, 1], demo.init, [float(np.log2(v)) for v in settings.scales]),
        (axes[0, 2], demo.depth, [float(d) for d in settings.depths]),
    ):
        if sweep is not None:
            ax.set_axis_on()
            _plot_sweep(ax, sweep, ticks)
    g = np.linspace(-2.2, 2.2, 200, dtype=np.float32)
    gx, gy = np.meshgrid(g, g)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    for ax in axes[1, len(runs) :]:
        ax.set_axis_off()
    for ax, r in zip(axes[1], runs, strict=False):
        assert r.model is not None
        z = r.model.forward(grid).reshape(gx.shape)
        ax.contourf(gx, gy, z > 0, levels=1, cmap="coolwarm", alpha=0.35)
        ax.scatter(x[:, 0], x[:, 1], c=y, s=4, cmap="coolwarm")
        ax.set(title=f"{r.name}: {r.accuracy:.1%}", xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


def run_demo(
    *,
    epochs: int | None = None,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 6,
    lr: float = 0.05,
    batch: int = 32,
    target: float = 0.95,
    plot_path: str | None = None,
    activations: list[str] | None = None,
    quiet: bool = False,
    sweeps: bool = True,
    quick: bool = False,
) -> Demo:
    """Train the main table's networks, then (``sweeps``) the init-scale and depth sweeps.

    ``quick`` shortens everything (8 epochs for the main table unless ``epochs`` is given, and
    the QUICK sweep sizes) for tests and CI."""
    epochs = epochs if epochs is not None else (8 if quick else 60)
    settings = QUICK if quick else FULL
    x, y = two_spirals(500, seed)
    names = activations or ACTIVATIONS
    stream = sys.stderr

    def progress(name: str, epoch: int, loss: float) -> None:
        if quiet:
            return
        last = epoch == epochs or not np.isfinite(loss)
        if not stream.isatty() and epoch % max(1, epochs // 5) and not last:
            return
        done = int(20 * epoch / epochs)
        stream.write(f"\r{name:<10} [{'#' * done}{'.' * (20 - done)}] epoch {epoch}/{epochs} "
                     f"loss {loss:.4f}")  # fmt: skip
        if last or not stream.isatty():
            stream.write("\n")
        stream.flush()

    def report(line: str) -> None:
        if not quiet:
            print(line, file=stream, flush=True)

    report(
        f"Two spirals ({len(x)} points), MLP 2 → {layers}×{hidden} → 1, SGD+momentum "
        f"lr={lr}, batch {batch}, {epochs} epochs, seed {seed}"
    )
    runs = [
        train(
            name, x, y, hidden=hidden, layers=layers, epochs=epochs, seed=seed, lr=lr,
            batch=batch, target=target, progress=progress,
        )
        for name in names
    ]  # fmt: skip
    demo = Demo(runs)
    demo.int8 = [
        int8_activations(r, x, y) for r in runs if r.name in ("relu", "leaky_relu", "prelu")
    ]
    if sweeps:
        demo.init = init_sweep(x, y, names, settings, seed=seed, lr=lr, batch=batch, report=report)
        demo.depth = depth_sweep(
            x, y, names, settings, seed=seed, lr=lr, batch=batch, report=report
        )
    if plot_path:
        plot(demo, x, y, plot_path, settings)
    return demo
