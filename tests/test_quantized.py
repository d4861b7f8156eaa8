"""relu_rs.quantized: every one of the 256 input values on many random parameter sets against an
exact ``fractions.Fraction`` reference (round half to even, saturated), ties included; every
layout, out=, in place, large (parallel) arrays, per-channel PReLU along several axes, and every
error with out untouched. PyTorch parity where torch is installed. The references are in
conftest (the op registry's quantized entries use them too)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
import pytest

from conftest import (
    QUANTIZED_DTYPES,
    apply_table,
    int_range,
    layouts,
    quantized_leaky_table,
    quantized_softplus_table,
    requantize,
)
from relu_rs import quantized

DTYPES = QUANTIZED_DTYPES


def all_values(dtype: Any) -> np.ndarray:
    lo, hi = int_range(dtype)
    return np.arange(lo, hi + 1).astype(dtype)


def random_params(rng: np.random.Generator, dtype: Any) -> tuple[float, float, int, float, int]:
    """(alpha, scale, zero_point, out_scale, out_zero_point): scales log-uniform over 1e-8..1e8
    or exact powers of two (which make ties), alphas of every kind."""
    lo, hi = int_range(dtype)

    def a_scale() -> float:
        if rng.random() < 0.3:
            return float(2.0 ** int(rng.integers(-6, 6)))
        return float(10.0 ** rng.uniform(-8, 8))

    alpha = float(
        rng.choice(
            [
                rng.standard_normal(),
                -rng.standard_normal() * 10,
                0.0,
                1e-300,
                -5e-324,
                1e6,
                -1e12,
                0.5,
                -1.0,
                0.25,
                1.5,
                0.1,
            ]
        )
    )
    scale = a_scale()
    out_scale = scale * float(2.0 ** int(rng.integers(-3, 4))) if rng.random() < 0.4 else a_scale()
    return (
        alpha,
        scale,
        int(rng.integers(lo, hi + 1)),
        out_scale,
        int(rng.integers(lo, hi + 1)),
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_value_on_random_parameters(dtype: Any) -> None:
    rng = np.random.default_rng(15)
    q = all_values(dtype)
    for _ in range(150):
        alpha, scale, zp, out_scale, out_zp = random_params(rng, dtype)
        kw = {"out_scale": out_scale, "out_zero_point": out_zp}
        leaky = quantized_leaky_table(alpha, scale, zp, out_scale, out_zp, dtype)
        relu = quantized_leaky_table(0.0, scale, zp, out_scale, out_zp, dtype)
        params = (alpha, scale, zp, out_scale, out_zp)
        got = quantized.leaky_relu(q, alpha, scale, zp, **kw)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, apply_table(leaky, q), err_msg=str(params))
        np.testing.assert_array_equal(
            quantized.prelu(q, alpha, scale, zp, **kw), apply_table(leaky, q), err_msg=str(params)
        )
        np.testing.assert_array_equal(
            quantized.relu(q, scale, zp, **kw), apply_table(relu, q), err_msg=str(params)
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_ties_round_half_to_even(dtype: Any) -> None:
    q = all_values(dtype)
    zp = 0 if dtype == np.int8 else 128
    # scale 0.5, out_scale 1: every odd q − zp is a tie
    got = quantized.leaky_relu(q, 1.0, 0.5, zp, out_scale=1.0, out_zero_point=zp).astype(int)
    d = q.astype(int) - zp
    want = np.clip(np.round(d / 2).astype(int) + zp, *int_range(dtype))  # np.round: half to even
    np.testing.assert_array_equal(got, want)
    assert np.any(d % 2 != 0)
    # 2.5 → 2, 3.5 → 4, -2.5 → -2 (alpha = 0.5 on negatives: -5 · 0.5 · 1 = -2.5)
    r = quantized.leaky_relu(np.array([5, 7, -5], dtype=np.int8), 0.5, 0.5, 0, out_scale=1.0)
    np.testing.assert_array_equal(r, [2, 4, -1])
    r = quantized.leaky_relu(np.array([5, 7, -5], dtype=np.int8), 1.0, 0.5, 0, out_scale=1.0)
    np.testing.assert_array_equal(r, [2, 4, -2])


def test_near_ties_are_decided_by_the_exact_values() -> None:
    """float64 0.1 is just above 1/10 and 0.3 just below 3/10: 5·0.1 and 5·0.3 are just off the
    ties 0.5 and 1.5, which a float computation rounds to the ties themselves."""
    q = np.array([5], dtype=np.int8)
    assert quantized.relu(q, 0.1, 0, out_scale=1.0)[0] == 1
    assert quantized.relu(q, 0.3, 0, out_scale=1.0)[0] == 1
    assert 5 * 0.1 == 0.5 and 5 * 0.3 == 1.5  # what float64 arithmetic would see


@pytest.mark.parametrize("dtype", DTYPES)
def test_defaults_and_saturation(dtype: Any) -> None:
    q = all_values(dtype)
    lo, hi = int_range(dtype)
    zp = 3
    # default out quantization: relu is max(q, zp)
    np.testing.assert_array_equal(quantized.relu(q, 0.37, zp), np.maximum(q, dtype(zp)))
    # a tiny out_scale saturates everything nonzero
    got = quantized.leaky_relu(q, -2.0, 1.0, zp, out_scale=1e-30, out_zero_point=zp)
    want = np.where(q == zp, zp, hi)
    np.testing.assert_array_equal(got, want.astype(dtype))
    got = quantized.leaky_relu(q, 2.0, 1.0, zp, out_scale=1e-30, out_zero_point=zp)
    want = np.where(q > zp, hi, np.where(q == zp, zp, lo))
    np.testing.assert_array_equal(got, want.astype(dtype))
    # extreme scales
    got = quantized.relu(q, 1e300, zp, out_scale=1e-300, out_zero_point=zp)
    np.testing.assert_array_equal(got, np.where(q > zp, hi, zp).astype(dtype))
    got = quantized.relu(q, 1e-300, zp, out_scale=1e300, out_zero_point=zp)
    np.testing.assert_array_equal(got, np.full_like(q, zp))


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_layout_out_and_in_place(dtype: Any) -> None:
    params = (-0.3, 0.05, 7, 0.031, -3 if dtype == np.int8 else 250)
    alpha, scale, zp, out_scale, out_zp = params
    table = quantized_leaky_table(alpha, scale, zp, out_scale, out_zp, dtype)
    kw = {"out_scale": out_scale, "out_zero_point": out_zp}
    values = np.random.default_rng(3).integers(*int_range(dtype), size=500, endpoint=True)
    for name, q in layouts(values.astype(dtype)):
        want = apply_table(table, q)
        got = quantized.leaky_relu(q, alpha, scale, zp, **kw)
        assert got.shape == q.shape and got.dtype == dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)
        out = np.full(q.shape, 1, dtype=dtype, order="F")
        assert quantized.leaky_relu(q, alpha, scale, zp, **kw, out=out) is out
        np.testing.assert_array_equal(out, want, err_msg=name)
        if q.flags.writeable and name != "broadcast":
            mine = q.copy(order="K") if q.ndim == 0 else q
            orig = mine.copy()
            assert quantized.leaky_relu(mine, alpha, scale, zp, **kw, out=mine) is mine
            np.testing.assert_array_equal(mine, apply_table(table, orig), err_msg=name)


def test_overlapping_out_and_lists() -> None:
    buf = np.arange(-60, 60, dtype=np.int8)
    table = quantized_leaky_table(0.5, 1.0, 0, 1.0, 0, np.int8)
    want = apply_table(table, buf[:-1].copy())
    quantized.leaky_relu(buf[:-1], 0.5, 1.0, 0, out=buf[1:])
    np.testing.assert_array_equal(buf[1:], want)
    # a list converts to int64, which is refused like any non-8-bit q
    with pytest.raises(TypeError, match="q has dtype int64"):
        quantized.relu([1, 2], 1.0, 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 63, 65, 4097, 2**17 + 1, 2**20 + 33])
def test_large_arrays_every_thread_path(dtype: Any, n: int) -> None:
    rng = np.random.default_rng(n)
    q = rng.integers(*int_range(dtype), size=n, endpoint=True).astype(dtype)
    table = quantized_leaky_table(0.1, 0.02, 5, 0.03, 9, dtype)
    got = quantized.leaky_relu(q, 0.1, 0.02, 5, out_scale=0.03, out_zero_point=9)
    np.testing.assert_array_equal(got, apply_table(table, q))
    quantized.leaky_relu(q, 0.1, 0.02, 5, out_scale=0.03, out_zero_point=9, out=q)
    np.testing.assert_array_equal(q, got)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("order", ["C", "F", "strided"])
def test_prelu_per_channel(dtype: Any, axis: int, order: str) -> None:
    rng = np.random.default_rng(axis + 5)
    shape = (3, 4, 70)
    full = rng.integers(*int_range(dtype), size=(6, 4, 140), endpoint=True).astype(dtype)
    q = {
        "C": np.ascontiguousarray(full[:3, :, :70]),
        "F": np.asfortranarray(full[:3, :, :70]),
        "strided": full[::2, ::-1, ::2],
    }[order]
    assert q.shape == shape
    channels = shape[axis]
    alpha = rng.standard_normal(channels) * 2
    alpha[0] = 0.0
    scale, zp, out_scale, out_zp = 0.125, 4, 0.0625, -2 if dtype == np.int8 else 2
    kw = {"axis": axis, "out_scale": out_scale, "out_zero_point": out_zp}
    got = quantized.prelu(q, alpha, scale, zp, **kw)
    want = np.empty(shape, dtype=dtype)
    for c in range(channels):
        a = float(alpha[c])
        t = quantized_leaky_table(a, scale, zp, out_scale, out_zp, dtype)
        idx: list[Any] = [slice(None)] * 3
        idx[axis] = c
        want[tuple(idx)] = apply_table(t, q[tuple(idx)])
    np.testing.assert_array_equal(got, want)
    out = np.zeros_like(q)
    quantized.prelu(q, alpha, scale, zp, **kw, out=out)
    np.testing.assert_array_equal(out, want)
    # a shared alpha: a size-1 array, axis ignored
    shared = quantized.prelu(q, alpha[1:2], scale, zp, **kw)
    np.testing.assert_array_equal(
        shared, quantized.leaky_relu(q, float(alpha[1]), scale, zp, out_scale=out_scale,
                                     out_zero_point=out_zp)
    )  # fmt: skip


def test_prelu_channels_last_many_channels_and_zero_d() -> None:
    rng = np.random.default_rng(9)
    q = rng.integers(-128, 128, size=(50, 300), endpoint=False).astype(np.int8)
    alpha = rng.standard_normal(300)
    got = quantized.prelu(q, alpha, 0.1, -3, axis=-1, out_scale=0.2, out_zero_point=1)
    for c in [0, 1, 150, 299]:
        a = float(alpha[c])
        t = quantized_leaky_table(a, 0.1, -3, 0.2, 1, np.int8)
        np.testing.assert_array_equal(got[:, c], apply_table(t, q[:, c]))
    z = np.array(-7, dtype=np.int8)
    assert quantized.prelu(z, 0.5, 1.0, 0).shape == ()
    assert quantized.prelu(z, [0.5], 1.0, 0)[()] == -4  # -3.5 → -4 (half to even)


# ----- errors: each raised before anything is written --------------------------------------


def _q() -> np.ndarray:
    return np.arange(-6, 6, dtype=np.int8).reshape(3, 4)


def _ok_args(fn: Any) -> tuple[Any, ...]:
    return (0.5,) if fn is not quantized.relu else ()


ERRORS: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("bool q", {"q": np.array([True, False])}, TypeError, "q has dtype bool"),
    ("float q", {"q": np.zeros(3)}, TypeError, "q has dtype float64"),
    ("int16 q", {"q": np.zeros(3, np.int16)}, TypeError, "q has dtype int16"),
    (
        "complex q",
        {"q": np.zeros(3, complex)},
        TypeError,
        "q has unsupported dtype complex128; expected int8 or uint8",
    ),
    ("zero scale", {"scale": 0.0}, ValueError, "scale must be finite and > 0"),
    ("negative scale", {"scale": -1.0}, ValueError, "scale must be finite and > 0"),
    ("nan scale", {"scale": math.nan}, ValueError, "scale must be finite and > 0"),
    ("inf scale", {"scale": math.inf}, ValueError, "scale must be finite and > 0"),
    ("str scale", {"scale": "1"}, TypeError, "scale must be a real number"),
    ("bad out_scale", {"out_scale": -0.0}, ValueError, "out_scale must be finite and > 0"),
    ("zp too big", {"zero_point": 128}, ValueError, "zero_point must be an integer from -128"),
    ("zp huge", {"zero_point": 2**70}, ValueError, "zero_point must be an integer from -128"),
    ("zp float", {"zero_point": 1.0}, TypeError, "zero_point must be an integer, got float"),
    ("zp bool", {"zero_point": True}, TypeError, "zero_point must be an integer, got True"),
    ("out_zp range", {"out_zero_point": -129}, ValueError, "out_zero_point must be an integer"),
    ("out dtype", {"out": np.zeros((3, 4), np.uint8)}, TypeError, "out has dtype uint8"),
    ("out shape", {"out": np.zeros((4, 3), np.int8)}, ValueError, "out has shape"),
]


@pytest.mark.parametrize("fn", [quantized.relu, quantized.leaky_relu, quantized.prelu])
@pytest.mark.parametrize("case", ERRORS, ids=[c[0] for c in ERRORS])
def test_errors_leave_out_untouched(
    fn: Any, case: tuple[str, dict[str, Any], type[Exception], str]
) -> None:
    _, changes, exc, match = case
    args: dict[str, Any] = {"q": _q(), "scale": 0.5, "zero_point": 0}
    args.update(changes)
    out = changes.get("out", np.full((3, 4), 42, dtype=np.int8))
    before = out.copy()
    kw = {k: v for k, v in args.items() if k not in ("q", "scale", "zero_point")}
    kw["out"] = out
    with pytest.raises(exc, match=match):
        fn(args["q"], *_ok_args(fn), args["scale"], args["zero_point"], **kw)
    np.testing.assert_array_equal(out, before)


def test_uint8_zero_point_range_and_read_only_out() -> None:
    q = np.arange(10, dtype=np.uint8)
    with pytest.raises(ValueError, match="from 0 to 255 for q of dtype uint8, got -1"):
        quantized.relu(q, 1.0, -1)
    quantized.relu(q, 1.0, 255, out_zero_point=0)
    ro = np.zeros(10, np.uint8)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        quantized.relu(q, 1.0, 0, out=ro)


@pytest.mark.parametrize(
    ("alpha", "exc", "match"),
    [
        (math.nan, ValueError, "alpha must be finite"),
        (math.inf, ValueError, "alpha must be finite"),
        (10**400, ValueError, "alpha must be finite"),
        ("x", TypeError, "alpha must be a real number"),
    ],
    ids=["nan", "inf", "huge int", "str"],
)
def test_bad_alpha(alpha: Any, exc: type[Exception], match: str) -> None:
    out = np.full((3, 4), 42, dtype=np.int8)
    with pytest.raises(exc, match=match):
        quantized.leaky_relu(_q(), alpha, 0.5, 0, out=out)
    if isinstance(alpha, float):  # (prelu refuses the others by dtype, as relu_rs.prelu does)
        with pytest.raises(exc, match=match):
            quantized.prelu(_q(), alpha, 0.5, 0, out=out)
        with pytest.raises(ValueError, match=r"alpha must be finite, got .* at index 2"):
            quantized.prelu(_q(), [1.0, 0.5, alpha, 2.0], 0.5, 0, out=out)
    assert (out == 42).all()


def test_prelu_bad_alpha_shape_and_axis() -> None:
    out = np.full((3, 4), 42, dtype=np.int8)
    with pytest.raises(ValueError, match=r"alpha has 3 values but q.shape\[1\] is 4"):
        quantized.prelu(_q(), [1.0, 2.0, 3.0], 0.5, 0, out=out)
    with pytest.raises(ValueError, match="alpha must be a scalar or a 1-D array"):
        quantized.prelu(_q(), np.ones((2, 2)), 0.5, 0, out=out)
    with pytest.raises(ValueError, match="axis 2 is out of bounds for q with 2 dimension"):
        quantized.prelu(_q(), [1.0, 2.0, 3.0], 0.5, 0, axis=2, out=out)
    with pytest.raises(TypeError, match="axis must be an integer"):
        quantized.prelu(_q(), [1.0, 2.0, 3.0], 0.5, 0, axis=1.0, out=out)
    assert (out == 42).all()


def test_not_in_the_float_api() -> None:
    import relu_rs

    assert "quantized" not in relu_rs.__all__
    assert quantized.__all__ == ["leaky_relu", "prelu", "relu", "softplus"]


# ----- PyTorch parity -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_leaky_relu_parity(dtype: Any) -> None:
    torch = pytest.importorskip("torch")
    tq = {np.int8: torch.qint8, np.uint8: torch.quint8}[dtype]
    qf = torch.ao.nn.quantized.functional
    rng = np.random.default_rng(21)
    q = all_values(dtype)
    for _ in range(100):
        alpha, scale, zp, out_scale, out_zp = random_params(rng, dtype)
        alpha = float(rng.uniform(-1, 1))
        scale, out_scale = float(10.0 ** rng.uniform(-3, 1)), float(10.0 ** rng.uniform(-3, 1))
        x = torch._make_per_tensor_quantized_tensor(torch.from_numpy(q.copy()), scale, zp)
        assert x.dtype == tq
        want = qf.leaky_relu(x, alpha, scale=out_scale, zero_point=out_zp).int_repr().numpy()
        got = quantized.leaky_relu(q, alpha, scale, zp, out_scale=out_scale, out_zero_point=out_zp)
        exact = quantized_leaky_table(alpha, scale, zp, out_scale, out_zp, dtype)
        np.testing.assert_array_equal(got, apply_table(exact, q))
        np.testing.assert_array_equal(got, want, err_msg=str((alpha, scale, zp, out_scale, out_zp)))


def test_torch_differs_only_next_to_ties() -> None:
    """PyTorch rounds alpha·x in floating point before rounding it to the integer grid, so where
    the exact value lies within that rounding error of a half-integer, it can land on the other
    side (float64 0.1 is just above 1/10: -625·0.1 is just below -62.5, exactly -63 after
    rounding; PyTorch sees the tie and gives -62). relu_rs follows the exact value; every
    difference is such a near-tie."""
    torch = pytest.importorskip("torch")
    qf = torch.ao.nn.quantized.functional
    q = all_values(np.int8)
    for alpha, scale in [(0.1, 5.0), (0.3, 5.0)]:
        x = torch._make_per_tensor_quantized_tensor(torch.from_numpy(q.copy()), scale, 0)
        theirs = qf.leaky_relu(x, alpha, scale=1.0, zero_point=0).int_repr().numpy()
        ours = quantized.leaky_relu(q, alpha, scale, 0, out_scale=1.0)
        differ = np.nonzero(theirs != ours)[0]
        assert differ.size > 0
        for i in differ:
            exact = Fraction(alpha) * int(q[i]) * Fraction(scale)
            assert ours[i] == requantize(exact, 1.0, 0, np.int8)
            assert abs(theirs[i] - ours[i]) == 1
            assert abs(abs(exact - math.floor(exact)) - Fraction(1, 2)) < Fraction(1, 10**12)


# ----- softplus: correctly rounded, against conftest.ref_quantized_softplus (mpmath) ------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_every_value_on_random_parameters(dtype: Any) -> None:
    rng = np.random.default_rng(17)
    q = all_values(dtype)
    lo, hi = int_range(dtype)
    for k in range(40):
        scale = float(10.0 ** rng.uniform(-4, 1)) if k % 4 else float(2.0 ** rng.integers(-4, 3))
        out_scale = float(10.0 ** rng.uniform(-3, 1)) if k % 3 else scale
        beta = float(rng.choice([1.0, 0.5, 2.0, 10.0 ** rng.uniform(-3, 3)]))
        zp, out_zp = int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))
        want = quantized_softplus_table(scale, zp, beta, out_scale, out_zp, dtype)
        got = quantized.softplus(
            q, scale, zp, beta=beta, out_scale=out_scale, out_zero_point=out_zp
        )
        assert got.dtype == dtype
        np.testing.assert_array_equal(
            got, apply_table(want, q), err_msg=str((scale, zp, beta, out_scale, out_zp))
        )


def test_softplus_near_ties_and_extremes() -> None:
    """Out scales chosen so that softplus(x)/out_scale lies within float64 rounding of a
    half-integer (only the double-double evaluation decides those), exact ties of the linear
    part with a tiny tail (large x: the result rounds up), and extreme parameters."""
    q = all_values(np.int8)
    cases = []
    with mpmath.workprec(200):
        for d, scale, beta, k in [(3, 0.7, 1.0, 5), (-2, 0.9, 1.0, 0), (40, 0.25, 1.0, 12),
                                  (0, 1.0, 1.0, 3), (1, 0.01, 3.0, 7)]:  # fmt: skip
            y = mpmath.log1p(mpmath.exp(mpmath.mpf(beta) * d * mpmath.mpf(scale))) / beta
            cases.append((scale, beta, float(y / (k + mpmath.mpf(0.5)))))
    cases += [(0.5, 1.0, 1.0), (4.0, 1.0, 8.0), (2.0, 0.25, 4.0), (1e-300, 1.0, 1e-300),
              (1e300, 1e-300, 1.0), (3.0, 1e300, 1e300), (1e-5, 1e-5, 1e5),
              (5e-324, 2.0, 1e-3)]  # fmt: skip
    for scale, beta, out_scale in cases:
        want = quantized_softplus_table(scale, 0, beta, out_scale, 0, np.int8)
        got = quantized.softplus(q, scale, 0, beta=beta, out_scale=out_scale, out_zero_point=0)
        np.testing.assert_array_equal(got, apply_table(want, q), err_msg=str((scale, beta)))


def test_softplus_layouts_in_place_and_errors() -> None:
    values = np.random.default_rng(4).integers(0, 256, size=300).astype(np.uint8)
    table = quantized_softplus_table(0.05, 100, 1.0, 0.03, 0, np.uint8)
    kw = {"beta": 1.0, "out_scale": 0.03, "out_zero_point": 0}
    for name, q in layouts(values):
        np.testing.assert_array_equal(
            quantized.softplus(q, 0.05, 100, **kw), apply_table(table, q), err_msg=name
        )
    mine = values.copy()
    assert quantized.softplus(mine, 0.05, 100, **kw, out=mine) is mine
    np.testing.assert_array_equal(mine, apply_table(table, values))
    out = np.full(3, 42, np.uint8)
    for beta in [0.0, -1.0, math.nan, math.inf]:
        with pytest.raises(ValueError, match="beta must be finite and > 0"):
            quantized.softplus(values[:3], 0.05, 100, beta=beta, out=out)
    with pytest.raises(TypeError, match="q has dtype bool"):
        quantized.softplus(np.ones(3, bool), 0.05, 0, out=out)
    with pytest.raises(ValueError, match="scale must be finite and > 0"):
        quantized.softplus(values[:3], -0.05, 0, out=out)
    assert (out == 42).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_quantize_per_tensor_parity(dtype: Any) -> None:
    """Tensors made by torch.quantize_per_tensor from float data, as a model would."""
    torch = pytest.importorskip("torch")
    tq = {np.int8: torch.qint8, np.uint8: torch.quint8}[dtype]
    qf = torch.ao.nn.quantized.functional
    lo, hi = int_range(dtype)
    rng = np.random.default_rng(8)
    for _ in range(20):
        scale, zp = float(10.0 ** rng.uniform(-3, 0)), int(rng.integers(lo, hi + 1))
        out_scale, out_zp = float(10.0 ** rng.uniform(-3, 0)), int(rng.integers(lo, hi + 1))
        alpha = float(rng.uniform(-1, 1))
        real = torch.from_numpy((rng.standard_normal(5000) * 200 * scale).astype(np.float32))
        x = torch.quantize_per_tensor(real, scale, zp, tq)
        want = qf.leaky_relu(x, alpha, scale=out_scale, zero_point=out_zp).int_repr().numpy()
        q = x.int_repr().numpy()
        got = quantized.leaky_relu(q, alpha, scale, zp, out_scale=out_scale, out_zero_point=out_zp)
        np.testing.assert_array_equal(got, want)
