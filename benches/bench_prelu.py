"""prelu forward and the fused backward (grad_x and per-channel grad_alpha in one pass)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import relu_rs
from conftest import torch_or_skip

PEERS = ["relu_rs", "numpy", "torch"]
SHAPES = {
    "NCHW 32x64x56x56": ((32, 64, 56, 56), 1),
    "NC 4096x1024": ((4096, 1024), 1),
    "NC 64x1024": ((64, 1024), 1),  # a small batch: a training step of an MLP
}


def _inputs(
    shape: tuple[int, ...], axis: int, dtype: Any = np.float32
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32).astype(dtype)
    g = rng.standard_normal(shape, dtype=np.float32).astype(dtype)
    alpha = np.full(shape[axis], 0.25, dtype=dtype)
    return x, g, alpha


def _bshape(shape: tuple[int, ...], axis: int) -> list[int]:
    b = [1] * len(shape)
    b[axis] = shape[axis]
    return b


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("name", list(SHAPES))
def test_prelu_forward(benchmark: Any, peer: str, name: str) -> None:
    benchmark.group = f"prelu float32 {name}"
    shape, axis = SHAPES[name]
    x, _, alpha = _inputs(shape, axis)
    o = np.empty_like(x)
    if peer == "relu_rs":
        benchmark(relu_rs.prelu, x, alpha, axis=axis, out=o)
    elif peer == "numpy":
        a = alpha.reshape(_bshape(shape, axis))
        benchmark(lambda: np.where(x > 0, x, a * x))
    else:
        torch = torch_or_skip()
        tx, ta = torch.from_numpy(x), torch.from_numpy(alpha)
        benchmark(torch.nn.functional.prelu, tx, ta)


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("name", list(SHAPES))
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_prelu_grad(benchmark: Any, peer: str, name: str, dtype: str) -> None:
    benchmark.group = f"prelu_grad {dtype} {name}"
    shape, axis = SHAPES[name]
    x, g, alpha = _inputs(shape, axis, dtype)
    o = np.empty_like(x)
    if peer == "relu_rs":
        benchmark(relu_rs.prelu_grad, g, x, alpha, axis=axis, out=o)
    elif peer == "numpy":
        a = alpha.reshape(_bshape(shape, axis))
        axes = tuple(i for i in range(len(shape)) if i != axis)

        def numpy_backward() -> None:
            np.where(x > 0, g, a * g)
            np.sum(g * np.minimum(x, 0), axis=axes, dtype=np.float64)

        benchmark(numpy_backward)
    else:
        torch = torch_or_skip()
        tx = torch.from_numpy(x).requires_grad_(True)
        ta = torch.from_numpy(alpha).requires_grad_(True)
        y = torch.nn.functional.prelu(tx, ta)
        tg = torch.from_numpy(g)
        benchmark(lambda: torch.autograd.grad(y, (tx, ta), tg, retain_graph=True))
