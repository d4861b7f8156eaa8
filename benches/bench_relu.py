"""relu / relu_grad / leaky_relu: relu_rs next to NumPy (and PyTorch when installed).

Run: python -m pytest benches --benchmark-only --benchmark-group-by=group
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import relu_rs
from conftest import SIZES, data, torch_or_skip

PEERS = ["relu_rs", "numpy", "torch"]
CASES = [(s, np.float32) for s in SIZES] + [("4M", np.float64), ("4M", np.float16)]


def _n(size: str) -> int:
    return SIZES.get(size, 4_000_000)


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("size,dtype", CASES, ids=[f"{s}-{np.dtype(d)}" for s, d in CASES])
def test_relu_out(benchmark: Any, peer: str, size: str, dtype: Any) -> None:
    benchmark.group = f"relu out= {np.dtype(dtype)} {size}"
    x = data(_n(size), dtype)
    o = np.empty_like(x)
    if peer == "relu_rs":
        benchmark(relu_rs.relu, x, out=o)
    elif peer == "numpy":
        benchmark(np.maximum, x, 0, out=o)
    else:
        torch = torch_or_skip()
        tx, to = torch.from_numpy(x), torch.from_numpy(o)
        benchmark(torch.clamp_min, tx, 0, out=to)


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_in_place(benchmark: Any, peer: str, dtype: Any) -> None:
    """``relu(x, out=x)`` on fresh pre-activations: ``x`` is refreshed from a copy in setup,
    outside the timing (a rectified input would make the loop store nothing new)."""
    benchmark.group = f"relu in place {np.dtype(dtype)} 64K"
    x0 = data(SIZES["64K"], dtype)
    x = x0.copy()

    def refresh() -> tuple[tuple[()], dict[str, Any]]:
        np.copyto(x, x0)
        return (), {}

    if peer == "relu_rs":
        fn = lambda: relu_rs.relu(x, out=x)  # noqa: E731
    elif peer == "numpy":
        fn = lambda: np.maximum(x, 0, out=x)  # noqa: E731
    else:
        torch = torch_or_skip()
        tx = torch.from_numpy(x)
        fn = lambda: torch.relu_(tx)  # noqa: E731
    benchmark.pedantic(fn, setup=refresh, rounds=200)


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("size", ["64K", "1M"])
def test_relu_grad_in_place(benchmark: Any, peer: str, size: str) -> None:
    """``relu_grad(g, x, out=g)``, the form a training loop uses to reuse its buffer. The
    incoming gradient is refreshed from a copy outside the timing, in setup."""
    benchmark.group = f"relu_grad in place float32 {size}"
    x, g0 = data(SIZES[size]), data(SIZES[size], seed=1)
    g = g0.copy()

    def refresh() -> tuple[tuple[()], dict[str, Any]]:
        np.copyto(g, g0)
        return (), {}

    if peer == "relu_rs":
        fn = lambda: relu_rs.relu_grad(g, x, out=g)  # noqa: E731
    elif peer == "numpy":
        fn = lambda: np.multiply(g, x > 0, out=g)  # noqa: E731
    else:
        torch = torch_or_skip()
        tg, tx = torch.from_numpy(g), torch.from_numpy(x)
        fn = lambda: torch.ops.aten.threshold_backward.grad_input(tg, tx, 0, grad_input=tg)  # noqa: E731
    benchmark.pedantic(fn, setup=refresh, rounds=200)


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("size", ["1M"])
def test_relu_grad_out(benchmark: Any, peer: str, size: str) -> None:
    benchmark.group = f"relu_grad out= float32 {size}"
    x, g = data(SIZES[size]), data(SIZES[size], seed=1)
    o = np.empty_like(x)
    if peer == "relu_rs":
        benchmark(relu_rs.relu_grad, g, x, out=o)
    elif peer == "numpy":
        benchmark(lambda: np.multiply(g, x > 0, out=o))
    else:
        torch = torch_or_skip()
        tg, tx, to = torch.from_numpy(g), torch.from_numpy(x), torch.from_numpy(o)
        benchmark(torch.ops.aten.threshold_backward.grad_input, tg, tx, 0, grad_input=to)


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("size,dtype", [("1M", np.float32), ("4M", np.float64)])
def test_leaky_relu(benchmark: Any, peer: str, size: str, dtype: Any) -> None:
    benchmark.group = f"leaky_relu {np.dtype(dtype)} {size}"
    x = data(_n(size), dtype)
    o = np.empty_like(x)
    if peer == "relu_rs":
        benchmark(relu_rs.leaky_relu, x, 0.01, out=o)
    elif peer == "numpy":
        benchmark(lambda: np.where(x > 0, x, x * dtype(0.01)))
    else:
        torch = torch_or_skip()
        tx, to = torch.from_numpy(x), torch.from_numpy(o)
        benchmark(torch._C._nn.leaky_relu, tx, 0.01, out=to)
