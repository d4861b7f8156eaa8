"""NaN conventions: a NaN x comes back as it was (bits, payload and sign); a NaN a kernel computes
(∞·0, a NaN α or grad in a product, a NaN α-gradient sum) is the canonical quiet NaN: positive,
no payload. So every SIMD path, in place or not, gives the same bits (tests/test_simd.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import relu_rs
from conftest import BFLOAT16

CANONICAL: dict[Any, int] = {np.float16: 0x7E00, np.float32: 0x7FC00000,
                             np.float64: 0x7FF8000000000000}  # fmt: skip
UINT: dict[Any, Any] = {np.float16: np.uint16, np.float32: np.uint32, np.float64: np.uint64}
PAYLOAD_NAN: dict[Any, int] = {np.float16: 0xFE55, np.float32: 0xFFC12345,
                               np.float64: 0xFFF8000000012345}  # fmt: skip
for _bf16 in BFLOAT16:
    CANONICAL[_bf16], UINT[_bf16], PAYLOAD_NAN[_bf16] = 0x7FC0, np.uint16, 0xFFD5
DTYPES = [np.float16, np.float32, np.float64, *BFLOAT16]


def _bits(a: np.ndarray) -> list[int]:
    return [int(v) for v in np.ascontiguousarray(a).reshape(-1).view(UINT[a.dtype.type])]


def _nan_with_payload(dtype: type, n: int) -> np.ndarray:
    return np.full(n, PAYLOAD_NAN[dtype], dtype=UINT[dtype]).view(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("in_place", [False, True])
def test_infinite_grad_at_minus_infinity_is_the_canonical_nan(dtype: type, in_place: bool) -> None:
    # σ(−∞) = 0 exactly, so ±∞·σ(−∞) is ∞·0; one array as grad, x and out is the case where the
    # compiler used to fold the product to a NaN of another sign than the hardware's
    for beta in (1.0, 2.0):
        x = np.full(9, -np.inf, dtype=dtype)
        g = x.copy() if in_place else np.full(9, np.inf, dtype=dtype)
        got = relu_rs.softplus_grad(g, g if in_place else x, beta, out=g if in_place else None)
        assert _bits(got) == [CANONICAL[dtype]] * 9


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_x_comes_back_as_it_was(dtype: type) -> None:
    x = _nan_with_payload(dtype, 9)
    g = np.ones(9, dtype=dtype)
    for got in (relu_rs.relu(x), relu_rs.leaky_relu(x, 0.3), relu_rs.prelu(x, 0.3),
                relu_rs.softplus(x), relu_rs.softplus(x, 3.0), relu_rs.relu_grad(g, x),
                relu_rs.leaky_relu_grad(g, x, 0.3), relu_rs.softplus_grad(g, x),
                relu_rs.softplus_grad(g, x, 3.0), relu_rs.prelu_grad(g, x, 0.3)[0]):  # fmt: skip
        assert _bits(got) == _bits(x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_computed_nans_are_canonical(dtype: type) -> None:
    nan = _nan_with_payload(dtype, 9)
    x = np.full(9, -2.0, dtype=dtype)
    # a NaN grad in softplus_grad's product, and where it returns grad (x above the threshold)
    assert _bits(relu_rs.softplus_grad(nan, x)) == [CANONICAL[dtype]] * 9
    assert _bits(relu_rs.softplus_grad(nan, -x, 1.0, 1.0)) == [CANONICAL[dtype]] * 9
    # a NaN α in α·x and α·grad, and the α-gradient sum of a channel with a NaN x
    alpha = np.array([PAYLOAD_NAN[dtype]], dtype=UINT[dtype]).view(dtype)
    assert _bits(relu_rs.prelu(x, alpha)) == [CANONICAL[dtype]] * 9
    grad_x, grad_alpha = relu_rs.prelu_grad(np.ones(9, dtype), x, alpha)
    assert _bits(grad_x) == [CANONICAL[dtype]] * 9
    _, grad_alpha = relu_rs.prelu_grad(np.ones(9, dtype), np.concatenate([x[:8], nan[:1]]), 0.5)
    assert _bits(grad_alpha) == [CANONICAL[dtype]]


@pytest.mark.parametrize("dtype", DTYPES)
def test_infinite_grad_where_sigma_underflows_is_infinite(dtype: type) -> None:
    # σ(β·x) > 0 for every finite x, so grad = ±∞ gives ±∞ even where σ underflows float64
    x = np.array([-746.0, -1e4, -6e4], dtype=dtype)
    g = np.array([np.inf, -np.inf, np.inf], dtype=dtype)
    for beta in (1.0, 2.0, 0.5):
        np.testing.assert_array_equal(relu_rs.softplus_grad(g, x, beta), g)
