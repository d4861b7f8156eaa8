"""relu and relu_grad: every dtype and layout, special values, out= and in place."""

from __future__ import annotations

import numpy as np
import pytest

import relu_rs
from conftest import (
    BOUNDARY_SIZES,
    FLOAT_DTYPES,
    INT_DTYPES,
    assert_identical,
    layouts,
    ref_relu,
    ref_relu_grad,
    run_all_outs,
    special_values,
)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_relu_float_every_layout(dtype: type) -> None:
    for _, x in layouts(special_values(dtype)):
        want = ref_relu(x)
        assert_identical(relu_rs.relu(x), want)
        run_all_outs(relu_rs.relu, (x,), want)


@pytest.mark.parametrize("dtype", [*INT_DTYPES, np.bool_])
def test_relu_integers_keep_dtype(dtype: type) -> None:
    info = np.iinfo(dtype) if dtype is not np.bool_ else None
    if info is None:
        values = np.array([True, False, True])
    else:
        values = np.array([info.min, info.max, 0, 1, info.min + 1, 5], dtype=dtype)
    for _, x in layouts(values):
        want = ref_relu(x) if dtype is not np.bool_ else x.copy()
        got = relu_rs.relu(x)
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, want)


def test_relu_special_value_rules() -> None:
    x = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, -1.0])
    y = relu_rs.relu(x)
    assert np.isnan(y[:2]).all()
    np.testing.assert_array_equal(y[2:], [np.inf, 0, 0, 0, 5e-324, 0, 0])
    assert not np.signbit(y[2:]).any(), "relu never returns -0"


@pytest.mark.parametrize("n", BOUNDARY_SIZES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_relu_sizes_and_in_place(n: int, dtype: type) -> None:
    x = (np.random.default_rng(n).standard_normal(n) * 4).astype(dtype)
    want = ref_relu(x)
    assert_identical(relu_rs.relu(x), want)
    y = x.copy()
    assert relu_rs.relu(y, out=y) is y
    assert_identical(y, want)


def test_relu_array_likes() -> None:
    assert_identical(relu_rs.relu([-1.5, 2.0]), np.array([0.0, 2.0]))
    assert_identical(relu_rs.relu(-3), np.array(0))
    assert_identical(relu_rs.relu(2.5), np.array(2.5))
    assert relu_rs.relu(np.float32(-1)).dtype == np.float32


def test_relu_non_native_byte_order() -> None:
    x = np.array([-1.0, 2.0, -0.5, 4.0], dtype=">f4")
    y = relu_rs.relu(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 2, 0, 4])
    out = np.zeros(4, dtype=">f4")
    relu_rs.relu(x, out=out)
    np.testing.assert_array_equal(out, [0, 2, 0, 4])
    relu_rs.relu(x, out=x)  # in place on a big-endian array
    np.testing.assert_array_equal(x, [0, 2, 0, 4])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_relu_grad_every_layout(dtype: type) -> None:
    for _, x in layouts(special_values(dtype)):
        g = (np.arange(x.size, dtype=np.float64).reshape(x.shape) - 3.5).astype(dtype)
        if x.ndim and x.size:
            g = np.ascontiguousarray(g[..., ::-1]) if x.ndim > 1 else g
        want = ref_relu_grad(g, x)
        run_all_outs(relu_rs.relu_grad, (g, x), want)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_relu_grad_output_equals_input_form(dtype: type) -> None:
    x = special_values(dtype)
    g = np.random.default_rng(0).standard_normal(x.size).astype(dtype)
    assert_identical(relu_rs.relu_grad(g, relu_rs.relu(x)), relu_rs.relu_grad(g, x))


@pytest.mark.parametrize("n", [10, 600_033])
def test_relu_grad_in_place_variants(n: int) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    want = ref_relu_grad(g, x)
    g2 = g.copy()
    assert relu_rs.relu_grad(g2, x, out=g2) is g2
    assert_identical(g2, want)
    x2 = x.copy()
    assert relu_rs.relu_grad(g, x2, out=x2) is x2
    assert_identical(x2, want)
    both = x.copy()
    assert_identical(relu_rs.relu_grad(both, both, out=both), ref_relu_grad(x, x))


def test_relu_grad_nan_never_becomes_zero() -> None:
    x = np.array([np.nan, -1.0, 1.0, 0.0])
    g = np.array([0.0, np.nan, 2.0, np.inf])
    y = relu_rs.relu_grad(g, x)
    assert np.isnan(y[0])
    np.testing.assert_array_equal(y[1:], [0.0, 2.0, 0.0])


def test_relu_grad_int_inputs_compute_in_float64() -> None:
    y = relu_rs.relu_grad([1, 2, 3], [-1, 0, 4])
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [0, 0, 3])


def test_forward_backward_in_place_step() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 33)).astype(np.float32)
    g = rng.standard_normal((64, 33)).astype(np.float32)
    want_y, want_g = ref_relu(x), ref_relu_grad(g, x)
    relu_rs.relu(x, out=x)
    relu_rs.relu_grad(g, x, out=g)
    assert_identical(x, want_y)
    assert_identical(g, want_g)


def test_partially_overlapping_out_is_correct() -> None:
    base = np.arange(-10.0, 10.0)
    x = base[:-2]
    out = base[2:]  # overlaps x, shifted by two elements
    want = ref_relu(x.copy())
    relu_rs.relu(x, out=out)
    assert_identical(out, want)
    base = np.arange(-10.0, 10.0)
    g = base[1:]
    xx = np.linspace(-1, 1, 19)
    want = ref_relu_grad(g.copy(), xx)
    relu_rs.relu_grad(g, xx, out=base[:-1])
    assert_identical(base[:-1], want)
