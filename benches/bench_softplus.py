"""softplus / softplus_grad: relu_rs next to NumPy's logaddexp (and PyTorch when installed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import relu_rs
from conftest import SIZES, data, torch_or_skip

PEERS = ["relu_rs", "numpy", "torch"]
CASES = [("1M", np.float32), ("16M", np.float32), ("4M", np.float64)]


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("size,dtype", CASES, ids=[f"{s}-{np.dtype(d)}" for s, d in CASES])
def test_softplus(benchmark: Any, peer: str, size: str, dtype: Any) -> None:
    benchmark.group = f"softplus {np.dtype(dtype)} {size}"
    x = data(SIZES.get(size, 4_000_000), dtype)
    o = np.empty_like(x)
    if peer == "relu_rs":
        benchmark(relu_rs.softplus, x, out=o)
    elif peer == "numpy":
        benchmark(np.logaddexp, 0, x, out=o)
    else:
        torch = torch_or_skip()
        tx, to = torch.from_numpy(x), torch.from_numpy(o)
        benchmark(torch._C._nn.softplus, tx, 1, 20, out=to)


@pytest.mark.parametrize("peer", PEERS)
def test_softplus_grad(benchmark: Any, peer: str) -> None:
    benchmark.group = "softplus_grad float32 1M"
    x, g = data(SIZES["1M"]), data(SIZES["1M"], seed=1)
    o = np.empty_like(x)
    if peer == "relu_rs":
        benchmark(relu_rs.softplus_grad, g, x, out=o)
    elif peer == "numpy":
        benchmark(lambda: np.multiply(g, 0.5 * (1 + np.tanh(0.5 * x)), out=o))
    else:
        torch = torch_or_skip()
        tg, tx, to = torch.from_numpy(g), torch.from_numpy(x), torch.from_numpy(o)
        benchmark(torch.ops.aten.softplus_backward.grad_input, tg, tx, 1.0, 20.0, grad_input=to)
