"""relu and relu_grad with ``max_value`` (ReLU6 and other clips): every dtype and layout, special
values at and around the clip, out= and in place, integers beyond 2^53, the rounding of max_value
to the dtype, and bad max_values (out untouched). The reference is conftest.ref_relu_max /
ref_relu_grad_max: NumPy float64 (or the integers' own exact arithmetic) against the bound that
conftest.clip_bound derives from the specification with exact fractions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import relu_rs
from conftest import (
    FLOAT_DTYPES,
    INT_DTYPES,
    assert_identical,
    clip_bound,
    layouts,
    ref_relu_grad_max,
    ref_relu_max,
    run_all_outs,
    special_values,
)

# float max_values: ReLU6, inexact in every float dtype (0.1), zero of both signs, subnormal in
# float64 only (it rounds to 0 in float16/float32), beyond float16's range (no clip there), +inf
FLOAT_MAX_VALUES = [6, 6.0, 0.1, 2.5, 0, -0.0, 1e-310, 1e5, math.inf]


def _around(dtype: type, max_value: Any) -> np.ndarray:
    """The special values plus the clip itself (as rounded to ``dtype``) and its neighbours."""
    base = special_values(dtype)
    bound = clip_bound(dtype, max_value)
    if bound is None:
        return base
    b = np.asarray(bound, dtype=dtype)
    with np.errstate(over="ignore"):  # next to a bound that is float16's max: inf
        near = [b, np.nextafter(b, dtype(np.inf)), np.nextafter(b, dtype(-np.inf)), -b]
        near += [np.nextafter(n, dtype(np.inf)) for n in near[1:3]]
    return np.concatenate([np.array(near, dtype=dtype), base])


def _grad_like(x: np.ndarray) -> np.ndarray:
    """A grad of x's shape and dtype: distinct nonzero values, both signs."""
    g = (np.arange(x.size, dtype=np.float64).reshape(x.shape) - 3.5) * 0.75
    return np.where(g == 0, 1.0, g).astype(x.dtype)


# ----- relu(x, max_value=...) --------------------------------------------------------------------


@pytest.mark.parametrize("max_value", FLOAT_MAX_VALUES, ids=repr)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_relu_max_value_float_every_layout(dtype: type, max_value: Any) -> None:
    for _, x in layouts(_around(dtype, max_value)):
        want = ref_relu_max(x, max_value)
        run_all_outs(relu_rs.relu, (x,), want, max_value=max_value)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_relu6_values_at_and_around_the_clip(dtype: type) -> None:
    six = dtype(6)
    below, above = np.nextafter(six, dtype(0)), np.nextafter(six, dtype(np.inf))
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, tiny, -tiny, below, six, above, 1e4, -6.0],
                 dtype=dtype)  # fmt: skip
    with np.errstate(over="ignore"):
        want = np.array([np.nan, 6, 0, 0, 0, tiny, 0, below, 6, 6, 6, 0], dtype=dtype)
    got = relu_rs.relu(x, max_value=6)
    assert_identical(got, want)
    assert not np.signbit(got).any(), "±0 and negatives give +0"


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_none_and_inf_max_value_are_plain_relu(dtype: type) -> None:
    x = special_values(dtype)
    want = relu_rs.relu(x)
    assert_identical(relu_rs.relu(x, max_value=None), want)
    assert_identical(relu_rs.relu(x, max_value=math.inf), want)
    assert_identical(relu_rs.relu(x, max_value=np.float64(np.inf)), want)
    assert np.isinf(want).any(), "the values must include +inf, which no finite clip keeps"


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_zero_max_value_of_either_sign_gives_plus_zero(dtype: type) -> None:
    x = special_values(dtype)
    for mv in (0, 0.0, -0.0, 1e-320 if dtype is not np.float64 else 0.0):
        got = relu_rs.relu(x, max_value=mv)
        assert np.isnan(got[np.isnan(x)]).all()
        rest = got[~np.isnan(x)]
        np.testing.assert_array_equal(rest, 0)
        assert not np.signbit(rest).any(), f"max_value={mv!r} gave -0"


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_nan_x_comes_back_as_it_was_with_a_clip(dtype: type) -> None:
    uint = {np.float16: np.uint16, np.float32: np.uint32, np.float64: np.uint64}[dtype]
    payload = {np.float16: 0xFE55, np.float32: 0xFFC12345, np.float64: 0xFFF8000000012345}[dtype]
    x = np.full(9, payload, dtype=uint).view(dtype)
    for mv in (6, 0, 0.1):
        got = relu_rs.relu(x, max_value=mv)
        np.testing.assert_array_equal(got.view(uint), x.view(uint))
        g = np.ones(9, dtype=dtype)
        assert np.isnan(relu_rs.relu_grad(g, x, max_value=mv)).all()


def test_max_value_is_rounded_to_the_dtype() -> None:
    """float16: 0.1 is 0.0999755859375; the clip is that value, and x between it and 0.1 (none
    in float16) or above it clips to it; float32 likewise at float32(0.1)."""
    h = np.float16(0.1)
    assert float(h) < 0.1
    x = np.array([h, np.nextafter(h, np.float16(1)), np.nextafter(h, np.float16(0)), 1],
                 dtype=np.float16)  # fmt: skip
    got = relu_rs.relu(x, max_value=0.1)
    np.testing.assert_array_equal(got, [h, h, x[2], h])
    assert got[0] == got[1] == h and got[2] < h
    f = np.float32(0.1)
    assert float(f) > 0.1
    xf = np.array([f, np.nextafter(f, np.float32(0)), 0.5], dtype=np.float32)
    np.testing.assert_array_equal(relu_rs.relu(xf, max_value=0.1), [f, xf[1], f])
    # float16: 65519 rounds to 65504 (a clip); 65520 rounds (ties to even) to inf: no clip
    big = np.array([np.inf, 65504], dtype=np.float16)
    np.testing.assert_array_equal(relu_rs.relu(big, max_value=65519), [65504, 65504])
    np.testing.assert_array_equal(relu_rs.relu(big, max_value=65520), [np.inf, 65504])
    # a subnormal clip in float64; it rounds to 0 in float32
    d = np.array([1.0, 1e-310, 5e-324])
    np.testing.assert_array_equal(relu_rs.relu(d, max_value=1e-310), [1e-310, 1e-310, 5e-324])
    np.testing.assert_array_equal(relu_rs.relu(d.astype(np.float32), max_value=1e-310), 0)


def test_integer_max_value_is_rounded_once_for_float32() -> None:
    """An int max_value beyond 2^53 must be rounded to float32 directly: 2^60 + 2^36 + 1 lies
    above the midpoint 2^60 + 2^36 of float32's neighbours 2^60 and 2^60 + 2^37, so it rounds
    to 2^60 + 2^37. Through float64 first it becomes the midpoint 2^60 + 2^36, then (ties to
    even) 2^60: a double rounding."""
    mv = 2**60 + 2**36 + 1
    x = np.array([2.0**61, 2.0**60], dtype=np.float32)
    want = np.array([2.0**60 + 2.0**37, 2.0**60], dtype=np.float32)
    assert clip_bound(np.float32, mv) == 2.0**60 + 2.0**37
    assert_identical(relu_rs.relu(x, max_value=mv), want)


@pytest.mark.parametrize("max_value", [2**1024, 10**400], ids=["2**1024", "10**400"])
def test_max_value_beyond_float64_is_no_clip_or_saturates(max_value: int) -> None:
    """An int too large for float64 is still a real number >= 0: for float x it rounds to +inf
    (no clip), for integer x it saturates (no clip). It must not raise OverflowError."""
    for dtype in [*FLOAT_DTYPES, np.int8, np.int64, np.uint64, np.bool_]:
        x = np.array([0, 1, 5], dtype=dtype)
        assert_identical(relu_rs.relu(x, max_value=max_value), relu_rs.relu(x))
    g = np.ones(3)
    xg = np.array([0.0, 1.0, np.inf])
    assert_identical(relu_rs.relu_grad(g, xg, max_value=max_value), relu_rs.relu_grad(g, xg))


INT_MAX_VALUES = [0, 1, 6, 6.0, 100, 127, 1000, 2**31, 2**53 + 1, 2**63 + 3, 2**64 + 5,
                  np.int64(7), np.uint64(2**64 - 2), 1e300]  # fmt: skip


def _int_values(dtype: type, max_value: Any) -> np.ndarray:
    info = np.iinfo(dtype)
    vals = {int(info.min), int(info.max), 0, 1, int(info.min) + 1, int(info.max) - 1, 5, 6, 7}
    bound = clip_bound(dtype, max_value)
    if bound is not None:
        vals |= {v for v in (bound - 1, bound, bound + 1) if info.min <= v <= info.max}
    return np.array(sorted(vals), dtype=dtype)


@pytest.mark.parametrize("max_value", INT_MAX_VALUES, ids=repr)
@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_relu_max_value_integers(dtype: type, max_value: Any) -> None:
    for _, x in layouts(_int_values(dtype, max_value)):
        want = ref_relu_max(x, max_value)
        assert want.dtype == np.dtype(dtype)
        run_all_outs(relu_rs.relu, (x,), want, max_value=max_value)


@pytest.mark.parametrize("max_value", [0, 0.0, -0.0, 1, 6, 2**70, np.uint8(0)], ids=repr)
def test_relu_max_value_bool(max_value: Any) -> None:
    x = np.array([True, False, True, True])
    want = np.zeros_like(x) if max_value == 0 else x.copy()
    assert_identical(relu_rs.relu(x, max_value=max_value), want)
    for _, xl in layouts(x):
        want_l = ref_relu_max(xl, max_value)
        assert_identical(relu_rs.relu(xl, max_value=max_value), want_l)
        for sentinel in (False, True):  # (run_all_outs' sentinel 7 is True in bool)
            out = np.full(xl.shape, sentinel, order="F")
            assert relu_rs.relu(xl, max_value=max_value, out=out) is out
            assert_identical(out, want_l)
            if xl.ndim:
                big = np.full((2 * xl.shape[0], *xl.shape[1:]), sentinel)
                relu_rs.relu(xl, max_value=max_value, out=big[::-2])
                assert_identical(big[::-2], want_l)
                assert (big[0::2] == sentinel).all()


def test_int64_and_uint64_clips_keep_every_digit() -> None:
    """Beyond 2^53 a float64 detour would merge neighbours: the clip must be the exact integer."""
    m = 2**53 + 1
    x = np.array([2**53 - 1, 2**53, 2**53 + 1, 2**53 + 2, 2**62 + 1, 2**63 - 1, -(2**63)],
                 dtype=np.int64)  # fmt: skip
    want = [2**53 - 1, 2**53, m, m, m, m, 0]
    assert relu_rs.relu(x, max_value=m).tolist() == want
    assert relu_rs.relu(x, max_value=np.int64(m)).tolist() == want
    assert relu_rs.relu(x, max_value=2**63 - 2).tolist() == [*x[:5].tolist(), 2**63 - 2, 0]
    u = np.array([2**64 - 1, 2**63 + 1, 2**63 + 2, 2**63 + 5, 0], dtype=np.uint64)
    m = 2**63 + 3
    assert relu_rs.relu(u, max_value=m).tolist() == [m, 2**63 + 1, 2**63 + 2, m, 0]
    assert relu_rs.relu(u, max_value=np.uint64(m)).tolist() == [m, 2**63 + 1, 2**63 + 2, m, 0]
    assert relu_rs.relu(u, max_value=2**64 - 2).tolist() == [2**64 - 2, *u[1:].tolist()]
    assert relu_rs.relu(u, max_value=2**64 + 5).tolist() == u.tolist()  # saturated: no clip
    # an integral float is taken exactly too (2^60 is exact in float64)
    assert relu_rs.relu(x, max_value=2.0**60).tolist() == [*x[:4].tolist(), 2**60, 2**60, 0]


def test_integer_clip_saturates_to_the_dtype() -> None:
    i8 = np.array([-128, -1, 0, 100, 127], dtype=np.int8)
    assert_identical(relu_rs.relu(i8, max_value=1000), relu_rs.relu(i8))
    assert_identical(relu_rs.relu(i8, max_value=127), relu_rs.relu(i8))
    assert relu_rs.relu(i8, max_value=126).tolist() == [0, 0, 0, 100, 126]
    u8 = np.array([0, 1, 200, 255], dtype=np.uint8)
    assert relu_rs.relu(u8, max_value=256).tolist() == [0, 1, 200, 255]
    assert relu_rs.relu(u8, max_value=-0.0).tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("n", [1, 7, 257, 4097, 2**15 + 1, 2**17 + 1, 2**19 + 33])
@pytest.mark.parametrize("dtype", [*FLOAT_DTYPES, np.int16, np.uint32, np.int64])
def test_relu6_sizes_and_in_place(n: int, dtype: type) -> None:
    """Sizes across the vector tails, staging blocks, chunks and the parallel threshold."""
    x = (np.random.default_rng(n).standard_normal(n) * 8).astype(dtype)
    want = ref_relu_max(x, 6)
    assert_identical(relu_rs.relu(x, max_value=6), want)
    y = x.copy()
    assert relu_rs.relu(y, max_value=6, out=y) is y
    assert_identical(y, want)


def test_relu_max_value_array_likes_and_byte_order() -> None:
    assert_identical(relu_rs.relu([-1.5, 2.0, 9.0], max_value=6), np.array([0.0, 2.0, 6.0]))
    assert_identical(relu_rs.relu(9, max_value=6), np.array(6))
    assert_identical(relu_rs.relu(np.float32(7), max_value=6), np.array(6, dtype=np.float32))
    x = np.array([-1.0, 2.0, 8.0], dtype=">f4")
    assert_identical(relu_rs.relu(x, max_value=6), np.array([0, 2, 6], dtype=np.float32))
    relu_rs.relu(x, max_value=6, out=x)
    np.testing.assert_array_equal(x, [0, 2, 6])


# ----- relu_grad(grad, x, max_value=...) ---------------------------------------------------------


@pytest.mark.parametrize("max_value", FLOAT_MAX_VALUES, ids=repr)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_relu_grad_max_value_every_layout(dtype: type, max_value: Any) -> None:
    for _, x in layouts(_around(dtype, max_value)):
        g = _grad_like(x)
        want = ref_relu_grad_max(g, x, max_value)
        run_all_outs(relu_rs.relu_grad, (g, x), want, max_value=max_value)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_relu6_grad_is_zero_at_both_ends(dtype: type) -> None:
    six = dtype(6)
    below, above = np.nextafter(six, dtype(0)), np.nextafter(six, dtype(7))
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.array([-1, -0.0, 0, tiny, 3, below, six, above, np.inf, -np.inf, np.nan], dtype=dtype)
    g = np.arange(1, x.size + 1).astype(dtype)
    want = np.array([0, 0, 0, 4, 5, 6, 0, 0, 0, 0, np.nan], dtype=dtype)
    got = relu_rs.relu_grad(g, x, max_value=6)
    assert_identical(got, want)
    assert not np.signbit(got[got == 0]).any(), "the zero gradient is +0"


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_relu_grad_nan_and_inf_grad(dtype: type) -> None:
    """A NaN/inf grad where the gradient is 0 gives +0; inside (0, max_value) it comes through."""
    x = np.array([-1, 0, 6, 7, 3, 3, 3], dtype=dtype)
    g = np.array([np.nan, np.inf, np.nan, -np.inf, np.nan, np.inf, -np.inf], dtype=dtype)
    got = relu_rs.relu_grad(g, x, max_value=6)
    assert_identical(got, np.array([0, 0, 0, 0, np.nan, np.inf, -np.inf], dtype=dtype))


@pytest.mark.parametrize("max_value", [6, 0.1, 2.5, 0, 1e-310, 1e5], ids=repr)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_relu_grad_from_the_output_equals_from_the_input(dtype: type, max_value: Any) -> None:
    x = _around(dtype, max_value)
    g = np.random.default_rng(0).standard_normal(x.size).astype(dtype)
    y = relu_rs.relu(x, max_value=max_value)
    assert_identical(relu_rs.relu_grad(g, y, max_value=max_value),
                     relu_rs.relu_grad(g, x, max_value=max_value))  # fmt: skip


def test_relu_grad_float16_rounds_max_value() -> None:
    """The clip is float16(0.1) < 0.1: x = float16(0.1) is at the clip (gradient 0), though
    below 0.1 itself."""
    h = np.float16(0.1)
    x = np.array([h, np.nextafter(h, np.float16(0)), np.nextafter(h, np.float16(1))],
                 dtype=np.float16)  # fmt: skip
    got = relu_rs.relu_grad(np.full(3, 2, np.float16), x, max_value=0.1)
    assert_identical(got, np.array([0, 2, 0], dtype=np.float16))


def test_relu_grad_integer_inputs_compute_in_float64() -> None:
    got = relu_rs.relu_grad([1, 2, 3, 4], [-1, 3, 6, 7], max_value=6)
    assert_identical(got, np.array([0.0, 2.0, 0.0, 0.0]))
    # a non-integer clip is fine: the computation is in float64
    assert_identical(relu_rs.relu_grad([1, 1], [6, 7], max_value=6.5), np.array([1.0, 0.0]))


@pytest.mark.parametrize("n", [10, 4097, 600_033])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_relu_grad_max_value_in_place_variants(n: int, dtype: type) -> None:
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(n) * 5).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    want = ref_relu_grad_max(g, x, 6)
    g2 = g.copy()
    assert relu_rs.relu_grad(g2, x, max_value=6, out=g2) is g2
    assert_identical(g2, want)
    x2 = x.copy()
    assert relu_rs.relu_grad(g, x2, max_value=6, out=x2) is x2
    assert_identical(x2, want)
    both = x.copy()
    assert_identical(relu_rs.relu_grad(both, both, max_value=6, out=both),
                     ref_relu_grad_max(x, x, 6))  # fmt: skip


def test_relu6_forward_backward_in_place_step() -> None:
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((64, 33)) * 5).astype(np.float32)
    g = rng.standard_normal((64, 33)).astype(np.float32)
    want_y, want_g = ref_relu_max(x, 6), ref_relu_grad_max(g, x, 6)
    assert (want_y == 6).sum() > 50, "the step must clip"
    relu_rs.relu(x, max_value=6, out=x)
    relu_rs.relu_grad(g, x, max_value=6, out=g)
    assert_identical(x, want_y)
    assert_identical(g, want_g)


# ----- bad max_value: TypeError/ValueError naming it, out untouched ------------------------------

BAD_MAX_VALUES: list[tuple[Any, type[Exception], str]] = [
    (-1, ValueError, "max_value"),
    (-1e-300, ValueError, "max_value"),
    (-np.inf, ValueError, "max_value"),
    (np.nan, ValueError, "max_value"),
    (np.float32(np.nan), ValueError, "max_value"),
    ("6", TypeError, "max_value"),
    (True, TypeError, "max_value"),
    (np.True_, TypeError, "max_value"),
    (1j, TypeError, "max_value"),
    ([6], TypeError, "max_value"),
    (np.array([6.0]), TypeError, "max_value"),
    (object(), TypeError, "max_value"),
]


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("bad", BAD_MAX_VALUES, ids=lambda b: repr(b[0]))
def test_bad_max_value_raises_and_leaves_out_untouched(
    bad: tuple[Any, type[Exception], str], dtype: type
) -> None:
    max_value, exc, fragment = bad
    x = np.array([[-1, 0, 3], [7, 1, 2]]).astype(dtype)
    out = np.full(x.shape, 1, dtype=dtype)
    with pytest.raises(exc) as info:
        relu_rs.relu(x, max_value=max_value, out=out)
    assert fragment in str(info.value), str(info.value)
    np.testing.assert_array_equal(out, 1)
    if dtype in FLOAT_DTYPES:
        gout = np.full(x.shape, 1, dtype=dtype)
        with pytest.raises(exc) as info:
            relu_rs.relu_grad(np.ones_like(x), x, max_value=max_value, out=gout)
        assert fragment in str(info.value), str(info.value)
        np.testing.assert_array_equal(gout, 1)


@pytest.mark.parametrize("dtype", [*INT_DTYPES, np.bool_])
@pytest.mark.parametrize("max_value", [6.5, 0.5, 1e-300, np.float32(2.5), 2.0**51 + 0.5], ids=repr)
def test_non_integer_max_value_for_integer_x(dtype: type, max_value: Any) -> None:
    x = np.array([0, 1, 5], dtype=dtype)
    out = np.full(3, 1, dtype=dtype)
    with pytest.raises(ValueError) as info:
        relu_rs.relu(x, max_value=max_value, out=out)
    assert f"max_value must be an integer for x of dtype {np.dtype(dtype)}" in str(info.value)
    np.testing.assert_array_equal(out, 1)
    # in place: x itself untouched
    x2 = x.copy()
    with pytest.raises(ValueError):
        relu_rs.relu(x2, max_value=max_value, out=x2)
    np.testing.assert_array_equal(x2, x)


def test_bad_max_value_with_a_bad_x_still_raises_a_clear_error() -> None:
    with pytest.raises((TypeError, ValueError)):
        relu_rs.relu(np.array(["a"]), max_value=-1)
    with pytest.raises(TypeError, match="max_value"):
        relu_rs.relu(np.ones(3), max_value="six")


# ----- hypothesis ----------------------------------------------------------------------------


@st.composite
def _float_arrays(draw: st.DrawFn) -> np.ndarray:
    dt = draw(st.sampled_from(FLOAT_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
    a = draw(hnp.arrays(dt, shape, elements=hnp.from_dtype(np.dtype(dt), allow_subnormal=True)))
    if a.ndim and draw(st.booleans()):
        a = a[::-1]
    return a.T if draw(st.booleans()) else a


@settings(max_examples=200, deadline=None)
@given(
    _float_arrays(),
    st.one_of(st.none(), st.floats(min_value=0, allow_nan=False), st.integers(0, 2**70)),
)
def test_relu_and_grad_with_any_max_value_match_reference(x: np.ndarray, max_value: Any) -> None:
    assert_identical(relu_rs.relu(x, max_value=max_value), ref_relu_max(x, max_value))
    g = np.flip(x)
    assert_identical(relu_rs.relu_grad(g, x, max_value=max_value),
                     ref_relu_grad_max(g, x, max_value))  # fmt: skip
    y = relu_rs.relu(x, max_value=max_value)
    assert_identical(relu_rs.relu_grad(g, y, max_value=max_value),
                     relu_rs.relu_grad(g, x, max_value=max_value))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.data(), st.sampled_from([*INT_DTYPES, np.bool_]))
def test_relu_integers_with_any_max_value_match_reference(data: st.DataObject, dtype: type) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
    x = data.draw(hnp.arrays(dtype, shape))
    max_value = data.draw(st.one_of(st.integers(0, 2**66), st.integers(0, 300)))
    assert_identical(relu_rs.relu(x, max_value=max_value), ref_relu_max(x, max_value))
