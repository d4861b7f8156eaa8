"""prelu and prelu_grad: NCHW, NHWC, (N, C), shared alpha, layouts, α-gradient accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest

import relu_rs
from conftest import (
    FLOAT_DTYPES,
    assert_identical,
    exact_sum,
    layouts,
    ref_leaky,
    ref_leaky_grad,
    special_values,
    ulp_distance,
)


def _bcast(alpha: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = -1
    return alpha.reshape(shape)


def ref_prelu(x: np.ndarray, alpha: np.ndarray, axis: int) -> np.ndarray:
    a = np.asarray(alpha)
    return ref_leaky(x, a.reshape(()) if a.size == 1 else _bcast(a, x.ndim, axis), per_channel=True)


def ref_prelu_grad(
    g: np.ndarray, x: np.ndarray, alpha: np.ndarray, axis: int
) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(alpha)
    ab = a.reshape(()) if a.size == 1 else _bcast(a, x.ndim, axis)
    gx = ref_leaky_grad(g, x, ab, per_channel=True)
    with np.errstate(over="ignore", invalid="ignore"):
        xd, gd = x.astype(np.float64), g.astype(np.float64)
        terms = np.where(xd >= 0, 0.0, gd * xd)
        per_channel = np.moveaxis(terms, axis, 0) if a.size > 1 else terms
        rows = per_channel.reshape(a.size, -1)
        # exact (fsum) where every term is finite; otherwise IEEE inf/NaN propagation
        ga = np.array([exact_sum(r) for r in rows])
        return gx, ga.reshape(a.shape).astype(x.dtype)


CASES = [
    ("NCHW", (4, 3, 5, 7), 1),
    ("NHWC", (4, 5, 7, 3), -1),
    ("NC", (16, 9), 1),
    ("NCL", (2, 6, 600), 1),
    ("NCL-long", (2, 2, 66_000), 1),  # channel runs longer than a 64K-column tile block
    ("C-first", (3, 8, 8), 0),
]


@pytest.mark.parametrize("name,shape,axis", CASES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("order", ["C", "F", "strided"])
def test_prelu_layouts(
    name: str, shape: tuple[int, ...], axis: int, dtype: type, order: str
) -> None:
    rng = np.random.default_rng(len(name))
    c = shape[axis]
    alpha = np.linspace(-0.5, 1.5, c)
    alpha[0] = 0.0
    base = rng.standard_normal(shape) * 3
    x = base.astype(dtype, order="F" if order == "F" else "C")
    g = rng.standard_normal(shape).astype(dtype, order="F" if order == "F" else "C")
    if order == "strided":
        x = np.repeat(x, 2, axis=axis if axis >= 0 else x.ndim + axis)
        g = np.repeat(g, 2, axis=axis if axis >= 0 else g.ndim + axis)
        sl = [slice(None)] * x.ndim
        sl[axis] = slice(None, None, 2)
        x, g = x[tuple(sl)][::-1], g[tuple(sl)][::-1]
    assert_identical(relu_rs.prelu(x, alpha, axis=axis), ref_prelu(x, alpha, axis))
    gx, ga = relu_rs.prelu_grad(g, x, alpha, axis=axis)
    want_gx, want_ga = ref_prelu_grad(g, x, alpha, axis)
    assert_identical(gx, want_gx)
    assert ga.shape == alpha.shape and ga.dtype == np.dtype(dtype)
    assert ulp_distance(ga, want_ga).max() <= 1


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_prelu_special_values(dtype: type) -> None:
    vals = special_values(dtype)
    x = np.resize(vals, (6, 4, 9))
    g = np.resize(vals[::-1], x.shape)
    alpha = np.array([0.25, -1.0, 0.0, 2.0])
    assert_identical(relu_rs.prelu(x, alpha, axis=1), ref_prelu(x, alpha, 1))
    gx, ga = relu_rs.prelu_grad(g, x, alpha, axis=1)
    want_gx, want_ga = ref_prelu_grad(g, x, alpha, 1)
    assert_identical(gx, want_gx)
    np.testing.assert_array_equal(np.isnan(ga), np.isnan(want_ga))


@pytest.mark.parametrize("alpha", [0.25, np.float32(0.25), np.array(0.25), np.array([0.25]),
                                   np.array([[0.25]])])  # fmt: skip
def test_prelu_shared_alpha(alpha: object) -> None:
    for _, x in layouts(special_values(np.float32)):
        g = np.ones_like(x)
        assert_identical(relu_rs.prelu(x, alpha), ref_prelu(x, np.asarray(alpha), 0))
        gx, ga = relu_rs.prelu_grad(g, x, alpha)
        want_gx, want_ga = ref_prelu_grad(g, x, np.asarray(alpha), 0)
        assert_identical(gx, want_gx)
        assert ga.shape == np.shape(alpha)
        np.testing.assert_array_equal(np.isnan(ga), np.isnan(want_ga))


def test_prelu_alpha_grad_nan_and_zero_rules() -> None:
    x = np.array([[-1.0, 0.0], [-0.0, np.nan], [2.0, -3.0]])
    g = np.array([[2.0, 5.0], [np.inf, 1.0], [4.0, 1.0]])
    _, ga = relu_rs.prelu_grad(g, x, np.array([0.1, 0.2]), axis=1)
    assert ga[0] == -2.0  # x = 0 and -0 contribute nothing, even with grad = inf
    assert np.isnan(ga[1])  # a NaN x is never silently dropped


def test_prelu_in_place_and_alpha_grad_out() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 5, 300)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    alpha = np.full(5, 0.2, dtype=np.float32)
    want_y = ref_prelu(x, alpha, 1)
    want_gx, want_ga = ref_prelu_grad(g, x, alpha, 1)
    y = x.copy()
    assert relu_rs.prelu(y, alpha, out=y) is y
    assert_identical(y, want_y)
    agout = np.full(5, 99, dtype=np.float32)
    g2 = g.copy()
    gx, ga = relu_rs.prelu_grad(g2, x, alpha, out=g2, alpha_grad_out=agout)
    assert gx is g2 and ga is agout
    assert_identical(gx, want_gx)
    assert ulp_distance(ga, want_ga).max() <= 1
    x2 = x.copy()
    gx, _ = relu_rs.prelu_grad(g, x2, alpha, out=x2)
    assert gx is x2
    assert_identical(gx, want_gx)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape", [(1000, 24), (300, 1000)])
def test_prelu_grad_channel_innermost_in_place(dtype: type, shape: tuple[int, int]) -> None:
    # Several tiles whose rows are one contiguous piece, cut into staging blocks mid-row: in
    # place on grad and on x it must give the out-of-place bits, grad_alpha included.
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    alpha = np.linspace(-0.5, 0.5, shape[1]).astype(dtype)
    gx, ga = relu_rs.prelu_grad(g, x, alpha, axis=-1)
    want_gx, want_ga = ref_prelu_grad(g, x, alpha, 1)
    assert_identical(gx, want_gx)
    assert ulp_distance(ga, want_ga).max() <= 1
    g2, x2 = g.copy(), x.copy()
    gx_g, ga_g = relu_rs.prelu_grad(g2, x, alpha, axis=-1, out=g2)
    gx_x, ga_x = relu_rs.prelu_grad(g, x2, alpha, axis=-1, out=x2)
    for got, got_a in ((gx_g, ga_g), (gx_x, ga_x)):
        assert got.tobytes() == gx.tobytes()
        assert got_a.tobytes() == ga.tobytes()


def test_alpha_grad_out_may_be_an_input() -> None:
    # alpha_grad_out is written once every input has been read: it may be alpha itself (an
    # in-place optimizer step's buffer), or a view into grad or x
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    g = rng.standard_normal((6, 4)).astype(np.float32)
    alpha = np.array([0.1, -0.2, 0.3, 0.0], dtype=np.float32)
    want_gx, want_ga = ref_prelu_grad(g, x, alpha, 1)
    a2 = alpha.copy()
    gx, ga = relu_rs.prelu_grad(g, x, a2, alpha_grad_out=a2)
    assert ga is a2
    assert_identical(gx, want_gx)
    assert ulp_distance(ga, want_ga).max() <= 1
    g2 = g.copy()
    gx, ga = relu_rs.prelu_grad(g2, x, alpha, alpha_grad_out=g2[0])
    assert ga.base is g2
    assert_identical(gx, want_gx)
    assert ulp_distance(ga, want_ga).max() <= 1


def test_prelu_alpha_cast_to_x_dtype() -> None:
    x = np.array([[-1.0, -1.0]], dtype=np.float16)
    y = relu_rs.prelu(x, np.array([0.1, 0.3]), axis=1)
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y[0], -np.array([0.1, 0.3]).astype(np.float16))
    _, ga = relu_rs.prelu_grad(np.ones_like(x), x, [0.1, 0.3])
    assert ga.dtype == np.float16


def test_prelu_1d_and_0d_with_shared_alpha() -> None:
    assert relu_rs.prelu(-2.0, 0.5) == -1.0
    np.testing.assert_array_equal(relu_rs.prelu([-2.0, 4.0], [0.5]), [-1.0, 4.0])
    gx, ga = relu_rs.prelu_grad(3.0, -2.0, 0.5)
    assert gx == 1.5 and ga == -6.0 and ga.shape == ()


def test_prelu_empty() -> None:
    x = np.empty((0, 3), dtype=np.float32)
    assert relu_rs.prelu(x, np.ones(3), axis=1).shape == (0, 3)
    gx, ga = relu_rs.prelu_grad(x, x, np.ones(3, dtype=np.float32), axis=1)
    assert gx.shape == (0, 3)
    np.testing.assert_array_equal(ga, 0)
    x = np.empty((2, 0), dtype=np.float32)
    gx, ga = relu_rs.prelu_grad(x, x, np.ones(0), axis=1)
    assert ga.shape == (0,)


def test_alpha_grad_float32_within_2ulp_of_exact_sum_on_millions() -> None:
    rng = np.random.default_rng(11)
    x = rng.standard_normal((64, 8, 64, 64)).astype(np.float32)  # 2M elements
    g = rng.standard_normal(x.shape).astype(np.float32)
    alpha = np.full(8, 0.1, dtype=np.float32)
    _, ga = relu_rs.prelu_grad(g, x, alpha)
    _, want = ref_prelu_grad(g, x, alpha, 1)
    assert ulp_distance(ga, want).max() <= 2
    # shared alpha over everything, and NHWC
    _, ga1 = relu_rs.prelu_grad(g, x, np.float32(0.1))
    _, want1 = ref_prelu_grad(g, x, np.array(0.1, dtype=np.float32), 0)
    assert ulp_distance(np.asarray(ga1), want1).max() <= 2
    xn, gn = x.reshape(-1, 64), g.reshape(-1, 64)
    _, gan = relu_rs.prelu_grad(gn, xn, np.full(64, 0.1, dtype=np.float32), axis=-1)
    _, wantn = ref_prelu_grad(gn, xn, np.full(64, 0.1, dtype=np.float32), 1)
    assert ulp_distance(gan, wantn).max() <= 2


def test_alpha_grad_is_compensated_where_a_plain_sum_drifts() -> None:
    # Found by hypothesis: 28 equal terms whose running float64 sum rounds at every step; a
    # pairwise sum is 3 ULP off here, the compensated one must be within 1 of the exact sum.
    x = np.full((2, 1, 7, 2), -1.0230984e16)
    _, ga = relu_rs.prelu_grad(np.ones_like(x), x, np.array([0.5]), axis=1)
    exact = np.array(math.fsum(x.ravel()))
    assert ulp_distance(np.asarray(ga).reshape(()), exact).max() <= 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_alpha_strided_or_overlapping_out(dtype: type) -> None:
    # The fast path hands these to the kernel, which must decline them (not raise) so the
    # full path can copy alpha first.
    rng = np.random.default_rng(11)
    x = rng.standard_normal((6, 5)).astype(dtype)
    g = rng.standard_normal((6, 5)).astype(dtype)
    strided = np.linspace(-0.5, 0.5, 10).astype(dtype)[::2]
    assert_identical(relu_rs.prelu(x, strided, axis=1), ref_prelu(x, strided, 1))
    gx, ga = relu_rs.prelu_grad(g, x, strided, axis=1)
    want_gx, want_ga = ref_prelu_grad(g, x, strided, 1)
    assert_identical(gx, want_gx)
    np.testing.assert_allclose(ga, want_ga, rtol=4 * np.finfo(dtype).eps)
    # alpha is a row of out itself: it must be read before out is written
    out = np.empty((6, 5), dtype=dtype)
    out[0] = np.linspace(0.1, 0.9, 5)
    alpha = out[0]
    want = ref_prelu(x, alpha.copy(), 1)
    assert_identical(relu_rs.prelu(x, alpha, axis=1, out=out), want)
    out[0] = np.linspace(0.1, 0.9, 5)
    want_gx, _ = ref_prelu_grad(g, x, out[0].copy(), 1)
    gx, _ = relu_rs.prelu_grad(g, x, out[0], axis=1, out=out)
    assert_identical(gx, want_gx)
