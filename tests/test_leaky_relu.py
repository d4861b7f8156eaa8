"""leaky_relu and leaky_relu_grad: every dtype, layout and alpha, special values, in place."""

from __future__ import annotations

import numpy as np
import pytest

import relu_rs
from conftest import (
    BOUNDARY_SIZES,
    FLOAT_DTYPES,
    assert_identical,
    layouts,
    ref_leaky,
    ref_leaky_grad,
    ref_relu,
    ref_relu_grad,
    run_all_outs,
    special_values,
)

ALPHAS = [0.01, 0.2, 1.0, -1.0, 0.0, 3.7, -0.3, 1e-30]


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_leaky_every_layout(dtype: type, alpha: float) -> None:
    for _, x in layouts(special_values(dtype)):
        run_all_outs(relu_rs.leaky_relu, (x, alpha), ref_leaky(x, alpha))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_leaky_special_cases(dtype: type) -> None:
    x = special_values(dtype)
    assert_identical(relu_rs.leaky_relu(x, 0.0), ref_relu(x))  # alpha=0 is relu, even at -inf
    with np.errstate(invalid="ignore"):
        assert_identical(relu_rs.leaky_relu(x, -1.0), np.abs(x))  # alpha=-1 is |x|
    assert_identical(relu_rs.leaky_relu(x, 1.0), np.where(x == 0, np.zeros_like(x), x))
    y = relu_rs.leaky_relu(np.array([-0.0, 0.0], dtype=dtype), 0.5)
    assert not np.signbit(y).any()


def test_leaky_default_alpha_and_rounding() -> None:
    x = np.array([-3.0, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(relu_rs.leaky_relu(x), [np.float32(0.01) * np.float32(-3), 2])
    # float16: alpha is kept in float32 (compute precision, as PyTorch's opmath) and the product
    # is rounded once to float16, from its exact value (float64 holds it: 24 + 11 bits)
    h = np.array([-0.333], dtype=np.float16)
    want = (np.float64(np.float32(0.1)) * np.float64(h[0])).astype(np.float16)
    assert relu_rs.leaky_relu(h, 0.1)[0] == want
    # the example that showed the old float16-rounded alpha 1 ULP off (PyTorch agrees with this)
    x = np.array([-0.99365234375], dtype=np.float16)
    assert relu_rs.leaky_relu(x, 0.01)[0] == np.float16(-0.0099334716796875)
    assert relu_rs.leaky_relu_grad(x, x, 0.01)[0] == np.float16(-0.0099334716796875)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_alpha_is_rounded_once_like_numpy(dtype: type) -> None:
    # just above a midpoint of the dtype: rounding through a wider float first lands on the
    # midpoint and then goes to even; one rounding (NumPy's cast) goes up
    nmant = np.finfo(dtype).nmant
    alpha = 1.0 + 2.0 ** -(nmant + 1) + 2.0**-45
    assert float(np.asarray(alpha).astype(dtype)) == 1.0 + 2.0**-nmant
    x = np.array([-1.0, -0.5, 2.0], dtype=dtype)
    assert_identical(relu_rs.leaky_relu(x, alpha), ref_leaky(x, alpha))
    assert_identical(relu_rs.leaky_relu_grad(-x, x, alpha), ref_leaky_grad(-x, x, alpha))


@pytest.mark.parametrize("n", BOUNDARY_SIZES)
def test_leaky_sizes_in_place(n: int) -> None:
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    want = ref_leaky(x, 0.1)
    relu_rs.leaky_relu(x, 0.1, out=x)
    assert_identical(x, want)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_leaky_grad_every_layout(dtype: type, alpha: float) -> None:
    for _, x in layouts(special_values(dtype)):
        g = np.resize(special_values(dtype)[::-1], x.shape).astype(dtype)
        run_all_outs(relu_rs.leaky_relu_grad, (g, x, alpha), ref_leaky_grad(g, x, alpha))


def test_leaky_grad_rules() -> None:
    x = np.array([1.0, 0.0, -0.0, -2.0, np.nan, -1.0])
    g = np.array([2.0, 2.0, 2.0, 2.0, 2.0, np.inf])
    y = relu_rs.leaky_relu_grad(g, x, 0.25)
    np.testing.assert_array_equal(y[:4], [2.0, 0.5, 0.5, 0.5])  # gradient at 0 is alpha
    assert np.isnan(y[4])
    assert y[5] == np.inf
    # alpha = 0 is relu's gradient exactly (no 0*inf = NaN)
    assert_identical(relu_rs.leaky_relu_grad(g, x, 0.0), ref_relu_grad(g, x))


@pytest.mark.parametrize("alpha", [0.01, 0.5, 2.0])
def test_leaky_grad_from_output_when_alpha_positive(alpha: float) -> None:
    x = special_values(np.float64)
    g = np.random.default_rng(1).standard_normal(x.size)
    y = relu_rs.leaky_relu(x, alpha)
    assert_identical(relu_rs.leaky_relu_grad(g, y, alpha), relu_rs.leaky_relu_grad(g, x, alpha))


def test_leaky_grad_in_place_on_grad_and_x() -> None:
    rng = np.random.default_rng(9)
    x = rng.standard_normal(100_000).astype(np.float32)
    g = rng.standard_normal(100_000).astype(np.float32)
    want = ref_leaky_grad(g, x, 0.1)
    g2, x2 = g.copy(), x.copy()
    relu_rs.leaky_relu_grad(g2, x, 0.1, out=g2)
    relu_rs.leaky_relu_grad(g, x2, 0.1, out=x2)
    assert_identical(g2, want)
    assert_identical(x2, want)


def test_leaky_alpha_forms() -> None:
    x = np.array([-2.0, 1.0])
    for alpha in (0.5, np.float32(0.5), np.float64(0.5), np.array(0.5), 1, np.int64(1)):
        y = relu_rs.leaky_relu(x, alpha)
        assert y[1] == 1.0


def test_float16_nan_bits_come_back_unchanged() -> None:
    # The float16 kernels compute in float32 (F16C where present); a NaN x must still come out
    # bit for bit: signalling, negative and with a payload.
    bits = np.array([0x7C01, 0xFE01, 0x7E55, 0x7D00, 0x3C00, 0xBC00], dtype=np.uint16)
    x = np.resize(bits, 1027).view(np.float16)  # past a block and a SIMD width
    g = np.full(x.shape, 2.0, dtype=np.float16)
    nan = np.isnan(x)
    for got in (relu_rs.leaky_relu(x, 0.5), relu_rs.leaky_relu_grad(g, x, 0.5),
                relu_rs.relu_grad(g, x), relu_rs.relu(x)):  # fmt: skip
        np.testing.assert_array_equal(got.view(np.uint16)[nan], x.view(np.uint16)[nan])
    y = x.copy()
    relu_rs.leaky_relu(y, 0.5, out=y)  # in place too
    np.testing.assert_array_equal(y.view(np.uint16)[nan], x.view(np.uint16)[nan])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("alpha", [np.inf, -np.inf, 1e6])  # 1e6 is +inf in float16
def test_alpha_beyond_the_dtype(dtype: type, alpha: float) -> None:
    # leaky_relu rejects such alpha, but a PReLU alpha array may hold it (cast to x's dtype): the
    # rules still hold there (±0 gives +0, not inf·0 = NaN), on the float16 fast kernel's
    # fallback too.
    x = special_values(dtype)
    out = np.empty_like(x)
    relu_rs.prelu(x, np.array([alpha]), out=out)
    with np.errstate(over="ignore"):  # 1e6 to float16
        want = ref_leaky(x, alpha, per_channel=True)
    assert_identical(out, want)
