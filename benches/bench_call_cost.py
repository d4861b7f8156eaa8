"""The cost of one call on small float32 arrays, next to ``np.copyto`` of the same array.

Run: python -m pytest benches/bench_call_cost.py --benchmark-only --benchmark-group-by=group
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import relu_rs

PEERS = ["relu_rs", "copyto"]

_rng = np.random.default_rng(0)
X = _rng.standard_normal(1024).astype(np.float32)
G = _rng.standard_normal(1024).astype(np.float32)
OUT = np.empty_like(X)
ALPHA = np.full(16, 0.25, dtype=np.float32)

CALLS = {
    "relu out= 1K": lambda: relu_rs.relu(X, out=OUT),
    "leaky_relu out= 1K": lambda: relu_rs.leaky_relu(X, 0.1, out=OUT),
    "relu_grad out= 1K": lambda: relu_rs.relu_grad(G, X, out=OUT),
    "prelu (64, 16)": lambda: relu_rs.prelu(X.reshape(64, 16), ALPHA),
    "prelu_grad (64, 16)": lambda: relu_rs.prelu_grad(G.reshape(64, 16), X.reshape(64, 16), ALPHA),
}


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("call", list(CALLS))
def test_call_cost(benchmark: Any, peer: str, call: str) -> None:
    benchmark.group = f"call cost: {call}"
    if peer == "relu_rs":
        benchmark(CALLS[call])
    else:
        benchmark(np.copyto, OUT, X)
