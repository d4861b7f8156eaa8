"""Shared helpers: independent references (float64, exact fractions for the 8-bit quantized
functions), layouts, special values, ULP distance, and the op registry that the cross-cutting
suites iterate over."""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
import pytest

import relu_rs
from relu_rs import nn, quantized

FLOAT_DTYPES = [np.float16, np.float32, np.float64]
# ml_dtypes.bfloat16 where ml_dtypes is installed (an optional extra): the cross-cutting suites
# whose checks compare relu_rs with itself (paths, threads, overlap, NaN bits, FP environment) add
# it to their dtypes; tests/test_bfloat16.py has its references.
try:
    import ml_dtypes

    BFLOAT16: list[Any] = [ml_dtypes.bfloat16]
except ImportError:  # pragma: no cover - the optional extra
    BFLOAT16 = []
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
QUANTIZED_DTYPES = [np.int8, np.uint8]  # relu_rs.quantized's

# Sizes around the kernels' internal boundaries, each with odd tails: short vector tails, the
# 256-element in-place staging blocks (src/kernels/elementwise.rs), and from src/parallel.rs the
# 4096-element minimum chunks, relu's 32K-element chunks (32K work at cost 1) and the 128K-work
# parallel threshold, work being elements × the op's cost: relu (1) is parallel from 128K elements,
# softplus (20, src/kernels/softplus.rs) from about 6.5K. PReLU backward's tiles (64K columns, at
# least 128 elements per channel: src/kernels/prelu/tiles.rs) need 2-D shapes: see test_prelu.
BOUNDARY_SIZES = [1, 2, 7, 31, 63, 65, 255, 257, 513, 2_700, 4097, 8193, 2**15 + 1, 65_537,
                  2**17 + 1, 2**18 + 1, 2**19 + 33]  # fmt: skip


def finfo(dtype: Any) -> Any:
    """``np.finfo``, which knows no bfloat16 (``ml_dtypes.finfo`` does)."""
    return ml_dtypes.finfo(dtype) if dtype in BFLOAT16 else np.finfo(dtype)


def is_float(dtype: Any) -> bool:
    """A floating-point dtype (bfloat16 included, whose NumPy kind is "V")."""
    return np.dtype(dtype).kind == "f" or dtype in BFLOAT16


def random_values(dtype: Any, shape: int | tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Random values of ``dtype``: floats normal × 4; integers and bool uniform over every value
    (so an 8-bit array holds each of its 256 values once it has a few thousand elements)."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, size=shape).astype(dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt)
    return (rng.standard_normal(shape) * 4).astype(dt)


def special_values(dtype: Any) -> np.ndarray:
    """NaN, ±inf, ±0, ±max, ±tiny, ±smallest subnormal, a few ordinary values, then noise."""
    fi = finfo(dtype)
    vals = [
        np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 3.0, -2.5,
        float(fi.max), -float(fi.max), float(fi.tiny), -float(fi.tiny),
        float(fi.smallest_subnormal), -float(fi.smallest_subnormal),
        20.5, -20.5, 40.0, -40.0, 100.0, -100.0,
    ]  # fmt: skip
    noise = np.random.default_rng(1234).standard_normal(400) * 8
    with np.errstate(over="ignore"):
        return np.concatenate([np.array(vals), noise]).astype(dtype)


def layouts(values: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """The same values in every memory layout the API must handle."""
    dtype = values.dtype
    n = 4 * 5 * 6
    c = np.resize(values, n).reshape(4, 5, 6).copy()
    yield "C", c
    yield "F", np.asfortranarray(c)
    big = np.resize(values[::-1], 8 * 10 * 12).reshape(8, 10, 12)
    yield "strided", big[::2, 1::2, ::3]
    yield "negative", c[::-1, :, ::-2]
    yield "transposed", c.transpose(2, 0, 1)
    yield "0-d", np.array(values[min(5, values.size - 1)], dtype=dtype)
    yield "0-d-nan", np.array(values[0], dtype=dtype)
    yield "empty", np.empty((0, 3), dtype=dtype)
    yield "1-D", np.resize(values, 1001)
    yield "broadcast", np.broadcast_to(np.resize(values, 7), (3, 7))


def assert_identical(got: np.ndarray, want: np.ndarray) -> None:
    """Equal shape, dtype and values, NaN where NaN, and the same sign of zero."""
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got[got == 0]), np.signbit(want[want == 0]))


# ----- independent references, in float64 then rounded once to the result dtype ------------


def ref_relu(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind != "f":
        # a zero of x's dtype: NumPy 1.x promotes a 0-d uint64 and a Python 0 to float64
        return np.where(x > 0, x, x.dtype.type(0)).astype(x.dtype)
    xd = x.astype(np.float64)
    return np.where(np.isnan(xd), xd, np.where(xd > 0, xd, 0.0)).astype(x.dtype)


def ref_relu_grad(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    gd, xd = g.astype(np.float64), x.astype(np.float64)
    return np.where(np.isnan(xd), np.nan, np.where(xd > 0, gd, 0.0)).astype(x.dtype)


def clip_bound(dtype: Any, max_value: Any) -> int | float | None:
    """The clip that relu's ``max_value`` stands for on x of ``dtype`` (the specification, written
    out independently): None (or +inf, or a value beyond the dtype's range) for no clip; for
    floats ``max_value`` rounded to the dtype, -0.0 as +0.0; for integers and bool the exact
    integer, saturated to the dtype's range. Raises as the API must: TypeError for a non-number
    (bool included), ValueError for NaN, a negative value or a non-integer for integer x."""
    if max_value is None:
        return None
    if isinstance(max_value, (bool, np.bool_)) or not isinstance(max_value, numbers.Real):
        raise TypeError(f"max_value must be a real number, got {max_value!r}")
    if isinstance(max_value, numbers.Integral):
        exact = Fraction(int(max_value))
    else:
        v = float(max_value)
        if math.isnan(v) or v < 0:
            raise ValueError(f"max_value must be a number >= 0, got {v}")
        if math.isinf(v):
            return None
        exact = Fraction(v)
    if exact < 0:
        raise ValueError(f"max_value must be a number >= 0, got {max_value}")
    dt = np.dtype(dtype)
    if dt.kind == "f":
        rounded = _round_to(exact, dt)
        # a finite max_value that rounds to +inf still clips: relu_grad is 0 at x = +inf
        return rounded + 0.0  # -0.0 -> +0.0
    if exact.denominator != 1:
        raise ValueError(f"max_value must be an integer for x of dtype {dt}, got {max_value}")
    top = 1 if dt.kind == "b" else int(np.iinfo(dt).max)
    return None if exact.numerator >= top else exact.numerator


def _round_to(exact: Fraction, dtype: np.dtype) -> float:
    """``exact`` (>= 0) correctly rounded (to nearest, ties to even) to ``dtype``, as a float:
    straight from the fraction, never through float64 first (which would round twice)."""
    fi = np.finfo(dtype)
    p, emin = fi.nmant + 1, fi.minexp
    if exact == 0:
        return 0.0
    e = exact.numerator.bit_length() - exact.denominator.bit_length()
    e = e if Fraction(2) ** e <= exact else e - 1  # 2^e <= exact < 2^(e+1)
    step = Fraction(2) ** (max(e, emin) - p + 1)
    q = exact / step
    n = math.floor(q)
    if q - n > Fraction(1, 2) or (q - n == Fraction(1, 2) and n % 2 == 1):
        n += 1
    value = n * step
    if value > Fraction(float(fi.max)):
        return math.inf
    return float(value)


def ref_relu_max(x: np.ndarray, max_value: Any) -> np.ndarray:
    """min(max(0, x), max_value): integers in their own (exact) arithmetic, floats in float64
    against the bound rounded to x's dtype; NaN propagates, ±0 -> +0."""
    bound = clip_bound(x.dtype, max_value)
    if x.dtype.kind == "b":
        return x.copy() if bound is None else np.zeros_like(x)  # bound 0: all False
    if x.dtype.kind in "iu":
        lo = np.where(x > 0, x, x.dtype.type(0)).astype(x.dtype)  # as in ref_relu
        if bound is None:
            return lo
        # np.array: x's byte order, and an array (not a scalar) for 0-d x
        return np.array(np.minimum(lo, np.asarray(bound, dtype=x.dtype)), dtype=x.dtype)
    xd = x.astype(np.float64)
    r = np.where(xd > 0, xd, 0.0)
    if bound is not None:
        r = np.where(r > bound, bound, r)
    return np.where(np.isnan(xd), xd, r).astype(x.dtype)


def ref_relu_grad_max(g: np.ndarray, x: np.ndarray, max_value: Any) -> np.ndarray:
    """grad where 0 < x < max_value (rounded to the result dtype), else +0; NaN where x is NaN."""
    dt = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)  # integers: in float64
    bound = clip_bound(dt, max_value)
    gd, xd = g.astype(np.float64), x.astype(np.float64)
    inside = (xd > 0) if bound is None else (xd > 0) & (xd < bound)  # no clip: +inf too
    return np.where(np.isnan(xd), np.nan, np.where(inside, gd, 0.0)).astype(dt)


def _alpha_at(x: np.ndarray, alpha: Any, per_channel: bool) -> np.ndarray:
    """alpha as the kernels use it, in float64 (exactly): a scalar alpha at compute precision
    (float32 for float16 data, where the product is then rounded once), a prelu alpha array cast
    to x's dtype."""
    dt = np.float32 if x.dtype == np.float16 and not per_channel else x.dtype
    return np.asarray(alpha).astype(dt).astype(np.float64)


def ref_leaky(x: np.ndarray, alpha: Any, per_channel: bool = False) -> np.ndarray:
    xd = x.astype(np.float64)
    a = _alpha_at(x, alpha, per_channel)
    with np.errstate(invalid="ignore", over="ignore"):
        neg = np.where((xd == 0) | (a == 0), 0.0, a * xd)  # exact in float64 below float32
        return np.where(np.isnan(xd) | (xd > 0), xd, neg).astype(x.dtype)


def ref_leaky_grad(
    g: np.ndarray, x: np.ndarray, alpha: Any, per_channel: bool = False
) -> np.ndarray:
    gd, xd = g.astype(np.float64), x.astype(np.float64)
    a = _alpha_at(x, alpha, per_channel)
    with np.errstate(invalid="ignore", over="ignore"):
        neg = np.where(a == 0, 0.0, a * gd)
        return np.where(np.isnan(xd), np.nan, np.where(xd > 0, gd, neg)).astype(x.dtype)


def ref_softplus(x: np.ndarray, beta: float = 1.0, threshold: float | None = None) -> np.ndarray:
    """float64 reference (logaddexp is accurate to ~1 ULP in float64)."""
    xd = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        y = np.logaddexp(0.0, beta * xd) / beta
        # beta*x overflowed for a finite x: softplus is x (logaddexp would say inf)
        y = np.where(np.isposinf(beta * xd) & np.isfinite(xd), xd, y)
        if threshold is not None:
            y = np.where(beta * xd > threshold, xd, y)
    return y.astype(x.dtype)


def ref_sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def ref_softplus_grad(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """grad·σ(x) (β = 1). Below x = -708, float64's exp(x) is subnormal or 0, short of bits (and
    inf·0 would make an infinite grad NaN, σ being > 0): there grad·σ(x) comes from mpmath."""
    gd, xd = g.astype(np.float64), x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        y = np.array(gd * ref_sigmoid(xd))
    tail = (xd < -708) & np.isfinite(xd)
    with mpmath.workprec(113):
        pairs = zip(gd[tail].tolist(), xd[tail].tolist(), strict=True)
        y[tail] = [float(mpmath.mpf(gv) / (1 + mpmath.exp(-mpmath.mpf(xv)))) for gv, xv in pairs]
    return y.astype(x.dtype)


def ref_softplus_grad_from_output(
    g: np.ndarray, y: np.ndarray, beta: float = 1.0, threshold: float | None = None
) -> np.ndarray:
    """The formula softplus_grad(from_output=True) evaluates, for any y (a softplus output or
    not): grad·(1 − e^(−β·y)) = grad·(−expm1(−β·y)); grad where β·y > threshold; y where y is NaN.
    An infinite grad where the factor is 0 (y = ±0, which a finite x can give by underflow, where
    σ > 0) stays ±inf, as softplus_grad's own rule for a finite x.

    float16/float32: in float64 and rounded once: the factor's and product's float64 errors are
    ~2^-52 relative, far below half a float32 ULP, so this is within 0.5 ULP + 2^-29 of exact.
    float64: the product from mpmath (113 bits), rounded once (0.5 ULP), except where the factor
    itself overflows float64, where the result is that ±inf times grad, as any float64
    evaluation of the formula gives."""
    gd, yd = g.astype(np.float64), y.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        s = -np.expm1(-beta * yd)
        r = np.array(gd * s)  # an array even for 0-d inputs
        if y.dtype == np.float64:
            fine = np.isfinite(s) & np.isfinite(gd) & np.isfinite(yd)
            with mpmath.workprec(113):
                b = mpmath.mpf(beta)
                r[fine] = [
                    float(mpmath.mpf(gv) * -mpmath.expm1(-b * mpmath.mpf(yv)))
                    for gv, yv in zip(gd[fine].tolist(), yd[fine].tolist(), strict=True)
                ]
        r = np.where(np.isnan(r) & np.isinf(gd) & np.isfinite(yd), gd, r)
        if threshold is not None:
            r = np.where(beta * yd > threshold, gd, r)
        return np.where(np.isnan(yd), yd, r).astype(y.dtype)


def exact_sum(terms: np.ndarray) -> float:
    """The correctly rounded float64 sum (math.fsum); IEEE inf/NaN propagation where a term is not
    finite or the exact sum overflows float64 (where fsum raises)."""
    if np.isfinite(terms).all():
        try:
            return math.fsum(terms)
        except OverflowError:
            pass
    with np.errstate(over="ignore", invalid="ignore"):
        return float(terms.sum())


def ulp_distance(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Distance in units of the result dtype's spacing at ``want`` (NaN pairs count 0)."""
    dtype = got.dtype
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        spacing = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
        d = np.abs(g - w) / spacing
    both_nan = np.isnan(g) & np.isnan(w)
    same = g == w
    return np.where(both_nan | same, 0.0, d)


# ----- exact references for relu_rs.quantized: fractions, and mpmath for softplus's tail ---------


def int_range(dtype: Any) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def requantize(real: Fraction, out_scale: float, out_zero_point: int, dtype: Any) -> int:
    """round_half_to_even(real / out_scale) + out_zero_point, saturated: exactly."""
    lo, hi = int_range(dtype)
    y = round(real / Fraction(out_scale))  # Fraction rounds half to even
    return min(max(y + out_zero_point, lo), hi)


def ref_quantized_leaky(
    q: int, alpha: float, scale: float, zp: int, out_scale: float, out_zp: int, dtype: Any
) -> int:
    """Quantized leaky_relu of the value ``q`` (relu: alpha = 0; prelu: its channel's alpha)."""
    x = (q - zp) * Fraction(scale)
    y = x if x > 0 else Fraction(alpha) * x
    return requantize(y, out_scale, out_zp, dtype)


def quantized_leaky_table(
    alpha: float, scale: float, zp: int, out_scale: float, out_zp: int, dtype: Any
) -> np.ndarray:
    """ref_quantized_leaky for every value of the dtype, indexed by value − min."""
    lo, hi = int_range(dtype)
    return np.array(
        [ref_quantized_leaky(q, alpha, scale, zp, out_scale, out_zp, dtype)
         for q in range(lo, hi + 1)],
        dtype=np.int64,
    )  # fmt: skip


def ref_quantized_softplus(
    q: int, scale: float, zp: int, beta: float, out_scale: float, out_zp: int, dtype: Any
) -> int:
    """round(softplus(x; beta) / out_scale) + out_zp, saturated. softplus(x)/out_scale is split
    into max(x, 0)/out_scale (an exact Fraction) and the tail log1p(exp(-|beta x|))/(beta
    out_scale) (mpmath at 800 bits, relatively accurate however small), and the result is
    checked to be far (2^-600 relative) from every rounding boundary, so it is certain."""
    lo, hi = int_range(dtype)
    x = (q - zp) * Fraction(scale)
    linear = max(x, Fraction(0)) / Fraction(out_scale) + Fraction(1, 2)  # + 1/2: floor rounds
    m = math.floor(linear)
    if m + out_zp > hi:
        return hi
    with mpmath.workprec(800):
        g = 1 - (mpmath.mpf(linear.numerator - m * linear.denominator) / linear.denominator)
        b = mpmath.mpf(beta)
        tail = mpmath.log1p(mpmath.exp(-abs(b * mpmath.mpf(x.numerator) / x.denominator)))
        tail = tail / b / mpmath.mpf(out_scale)
        if tail > 4096:
            return hi
        w = tail - g  # the result is m + 1 + floor(w); 0 < tail < g: floor(w) = -1
        j = -1 if tail < g * (1 - mpmath.mpf(2) ** -100) else int(mpmath.floor(w))
        assert j == -1 or min(w - j, j + 1 - w) > (tail + g) * mpmath.mpf(2) ** -600, (q, w)
    return min(max(m + 1 + j + out_zp, lo), hi)


def quantized_softplus_table(
    scale: float, zp: int, beta: float, out_scale: float, out_zp: int, dtype: Any
) -> np.ndarray:
    """ref_quantized_softplus for every value of the dtype, indexed by value − min."""
    lo, hi = int_range(dtype)
    return np.array(
        [ref_quantized_softplus(q, scale, zp, beta, out_scale, out_zp, dtype)
         for q in range(lo, hi + 1)],
        dtype=np.int64,
    )  # fmt: skip


def apply_table(table: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``table`` (indexed by value − min) applied to every element of ``q``: an array of q's
    shape and dtype, 0-d included."""
    lo, _ = int_range(q.dtype)
    return np.asarray(table[q.astype(np.int64) - lo]).astype(q.dtype)


def ref_quantized(table: Callable[[Any], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """A registry reference from ``table(dtype)``, the exact table of every value of the 8-bit
    ``dtype``, built once per dtype."""
    once = functools.cache(table)
    return lambda q: apply_table(once(q.dtype), q)


@pytest.fixture(autouse=True)
def _restore_threads() -> Iterator[None]:
    yield
    relu_rs.set_num_threads(None)


def run_all_outs(
    fn: Callable[..., np.ndarray], args: tuple[Any, ...], want: np.ndarray, **kw: Any
) -> None:
    """``fn(*args)`` equals ``want`` with out=None, a C out, an F out and a strided out."""
    assert_identical(fn(*args, **kw), want)
    for order in "CF":
        out = np.full(want.shape, 7, dtype=want.dtype, order=order)
        res = fn(*args, out=out, **kw)
        assert res is out
        assert_identical(out, want)
    if want.ndim >= 1 and want.size:
        big = np.full((2 * want.shape[0], *want.shape[1:]), 7, dtype=want.dtype)
        view = big[::-2]
        res = fn(*args, out=view, **kw)
        assert res is view
        assert_identical(view, want)
        np.testing.assert_array_equal(big[0::2], 7)  # untouched between the strided slots


# ----- the op registry: cross-cutting suites iterate over it, so a new op is tested everywhere ----
#
# To add an op, add one `Op(...)` entry to OPS below: its public function (in relu_rs or one of
# OP_MODULES), arity (1: x; 2: grad, x), the parameters the suites call it with, an independent
# reference (written above: float64, or ref_quantized's exact tables), the dtypes it computes in,
# its accuracy, and the relu_rs.nn layer that computes it, if any. test_errors, test_threads,
# test_simd, test_memory, test_fuzz, test_properties, test_fpenv, test_overlap, test_nn and
# test_bfloat16 then run it without edits, each on the dtypes the op lists (`Op.dtypes`; ops_for,
# ALL_DTYPES and OP_DTYPES pair ops with dtypes): so test_bfloat16 takes the ops that compute in
# bfloat16, and test_nn the ops with a layer. test_errors fails while a public op is missing from
# OPS. Only tests of the op's own parameters and rules go in a file of its own.

FLOATS = (*FLOAT_DTYPES, *BFLOAT16)
FLOATS_AND_INTS = (*FLOATS, *INT_DTYPES, np.bool_)
QUANTIZED = tuple(QUANTIZED_DTYPES)
# The public modules whose functions are ops, by their dotted path under relu_rs ("": relu_rs)
OP_MODULES: dict[str, Any] = {"": relu_rs, "quantized": quantized}


@dataclass(frozen=True)
class Op:
    """One public function, called as ``fn(*arrays, *params, out=...)``.

    ``arity`` is the number of array arguments (1: x; 2: grad, x); ``params`` follow them;
    ``ref`` is an independent reference for the first result; ``dtypes``: the dtypes it computes
    in (an input of one gives a result of that dtype), which the suites draw their inputs from;
    ``exact``: the result is correctly rounded (else within ``ulps``); ``layer`` makes the
    relu_rs.nn layer whose forward (arity 1) or backward (arity 2) is this op with these params;
    ``kwargs``, as ``(name, value)`` pairs, are keyword parameters passed on every call (``name``
    then tells the entries of one function apart: ``function`` is the public function's dotted
    name). A function returning a tuple (prelu_grad) has its first result written to ``out``."""

    name: str
    fn: Callable[..., Any]
    arity: int
    params: tuple[Any, ...]
    ref: Callable[..., np.ndarray]
    dtypes: tuple[Any, ...] = FLOATS
    exact: bool = True
    ulps: float = 0.5
    layer: Callable[[], nn.Module] | None = None
    kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def function(self) -> str:
        """The public function's name, dotted under relu_rs for one of OP_MODULES (``relu``,
        ``quantized.relu``); ``name`` may add the keyword parameters."""
        for path, module in OP_MODULES.items():
            for name in module.__all__:
                if getattr(module, name) is self.fn:
                    return f"{path}.{name}" if path else name
        raise LookupError(f"{self.name}: its function is not public")

    @property
    def arg_names(self) -> tuple[str, ...]:
        """The array arguments' names, which errors name: ``("x",)``, ``("grad", "x")``,
        ``("q",)`` for the quantized functions."""
        return tuple(inspect.signature(self.fn).parameters)[: self.arity]

    @property
    def converts(self) -> bool:
        """Whether an integer or bool input of a dtype the op does not compute in is converted
        (to float64: the float functions) rather than refused (the quantized functions, which
        compute in integer dtypes alone)."""
        return any(is_float(dt) for dt in self.dtypes)

    def __call__(self, *arrays: Any, **kw: Any) -> np.ndarray:
        """The first result (grad_x for prelu_grad)."""
        return self.results(*arrays, **kw)[0]

    def results(self, *arrays: Any, **kw: Any) -> tuple[np.ndarray, ...]:
        """Every result, as a tuple (prelu_grad: grad_x, then grad_alpha)."""
        res = self.fn(*arrays, *self.params, **dict(self.kwargs), **kw)
        return res if isinstance(res, tuple) else (res,)

    def inputs(self, x: Any, grad: Any) -> tuple[Any, ...]:
        """The array arguments: ``(x,)``, or ``(grad, x)`` for a gradient."""
        return (x,) if self.arity == 1 else (grad, x)

    def check(self, got: np.ndarray, *arrays: np.ndarray) -> None:
        """``got``, the first result on ``arrays``, against ``ref``: identical where ``exact``;
        else the same shape, dtype and NaNs, and within ``ulps``."""
        want = self.ref(*arrays)
        if self.exact:
            assert_identical(got, want)
            return
        assert got.shape == want.shape, (got.shape, want.shape)
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        worst = ulp_distance(got, want).max(initial=0)  # NaN where only one is NaN
        assert worst <= self.ulps, f"{self.name}: {worst} ULP from the reference"

    def __repr__(self) -> str:
        return self.name


def _leaky_table(alpha: float, scale: float, zp: int, out_scale: float, out_zp: int) -> Any:
    """ref_quantized of the leaky table with these parameters (relu: alpha = 0)."""
    return ref_quantized(lambda dt: quantized_leaky_table(alpha, scale, zp, out_scale, out_zp, dt))


OPS: list[Op] = [
    Op("relu", relu_rs.relu, 1, (), ref_relu, dtypes=FLOATS_AND_INTS, layer=nn.ReLU),
    Op("relu_grad", relu_rs.relu_grad, 2, (), ref_relu_grad, layer=nn.ReLU),
    Op("leaky_relu", relu_rs.leaky_relu, 1, (0.1,), lambda x: ref_leaky(x, 0.1),
       layer=lambda: nn.LeakyReLU(0.1)),
    Op("leaky_relu_grad", relu_rs.leaky_relu_grad, 2, (-0.3,),
       lambda g, x: ref_leaky_grad(g, x, -0.3), layer=lambda: nn.LeakyReLU(-0.3)),
    Op("prelu", relu_rs.prelu, 1, (0.25,), lambda x: ref_leaky(x, 0.25, per_channel=True),
       layer=lambda: nn.PReLU(1, init=0.25, dtype=np.float64)),
    Op("prelu_grad", relu_rs.prelu_grad, 2, (0.25,),
       lambda g, x: ref_leaky_grad(g, x, 0.25, per_channel=True),
       layer=lambda: nn.PReLU(1, init=0.25, dtype=np.float64)),
    Op("softplus", relu_rs.softplus, 1, (), ref_softplus, exact=False, ulps=1.0,
       layer=nn.Softplus),
    Op("softplus_grad", relu_rs.softplus_grad, 2, (), ref_softplus_grad, exact=False, ulps=2.0,
       layer=nn.Softplus),
    # ReLU6: integers keep their dtype (6 is an integer, as they require)
    Op("relu(max_value=6)", relu_rs.relu, 1, (), lambda x: ref_relu_max(x, 6),
       dtypes=FLOATS_AND_INTS, layer=lambda: nn.ReLU(max_value=6), kwargs=(("max_value", 6),)),
    Op("relu_grad(max_value=6)", relu_rs.relu_grad, 2, (), lambda g, x: ref_relu_grad_max(g, x, 6),
       layer=lambda: nn.ReLU(max_value=6), kwargs=(("max_value", 6),)),
    # The suites feed any x, most of them no softplus output (negative, say): the reference is the
    # formula itself for any y (see ref_softplus_grad_from_output: float16/float32 within 0.5 ULP
    # + 2^-29 of it and 0.5 + 2^-29 from the reference, so 1 ULP; float64 libm's expm1 (1 ULP of
    # the factor, up to 2 of the product) + the product's rounding + the reference's 0.5: 3 ULP,
    # the documented bound). The layer: Softplus(inplace=True) overwrites x with y = softplus(x),
    # so after forward the suites' x is y and its backward is this op on (grad, y).
    Op("softplus_grad(from_output)", relu_rs.softplus_grad, 2, (),
       ref_softplus_grad_from_output, exact=False, ulps=3.0,
       layer=lambda: nn.Softplus(inplace=True), kwargs=(("from_output", True),)),
    # relu_rs.quantized on int8 and uint8 (so zero points from 0 to 127), against exact tables.
    # Params: (alpha,) scale, zero_point. The input's out quantization (relu is then max(q, zp))
    # and others; prelu's alpha a 1-element array, shared, which fits every shape (per-channel
    # alphas: test_quantized, and the per-channel calls in test_threads, test_simd, test_fpenv).
    Op("quantized.relu", quantized.relu, 1, (0.05, 100), _leaky_table(0.0, 0.05, 100, 0.05, 100),
       dtypes=QUANTIZED),
    Op("quantized.relu(out_scale=0.03, out_zero_point=9)", quantized.relu, 1, (0.05, 100),
       _leaky_table(0.0, 0.05, 100, 0.03, 9), dtypes=QUANTIZED,
       kwargs=(("out_scale", 0.03), ("out_zero_point", 9))),
    Op("quantized.leaky_relu(out_scale=0.03, out_zero_point=9)", quantized.leaky_relu, 1,
       (0.1, 0.05, 100), _leaky_table(0.1, 0.05, 100, 0.03, 9), dtypes=QUANTIZED,
       kwargs=(("out_scale", 0.03), ("out_zero_point", 9))),
    Op("quantized.prelu", quantized.prelu, 1, ([-0.25], 0.05, 100),
       _leaky_table(-0.25, 0.05, 100, 0.05, 100), dtypes=QUANTIZED),
    Op("quantized.softplus(beta=1.5, out_scale=0.02, out_zero_point=5)", quantized.softplus, 1,
       (0.05, 100), ref_quantized(lambda dt: quantized_softplus_table(0.05, 100, 1.5, 0.02, 5, dt)),
       dtypes=QUANTIZED,
       kwargs=(("beta", 1.5), ("out_scale", 0.02), ("out_zero_point", 5))),
]  # fmt: skip
OP_NAMES = [op.name for op in OPS]
# The public functions the registry covers (several entries may share one), by dotted name
OP_FUNCTIONS = sorted({op.function for op in OPS})
# Every dtype some op computes in, in the registry's order
ALL_DTYPES: list[Any] = list(dict.fromkeys(dt for op in OPS for dt in op.dtypes))
# Every op with every dtype it computes in, for pytest.mark.parametrize(("op", "dtype"), ...)
OP_DTYPES = [pytest.param(op, dt, id=f"{op.name}-{np.dtype(dt).name}")
             for op in OPS for dt in op.dtypes]  # fmt: skip


def ops_for(dtype: Any) -> list[Op]:
    """The ops that compute in ``dtype``."""
    return [op for op in OPS if dtype in op.dtypes]


def op_inputs(op: Op, x: np.ndarray, seed: int = 7) -> tuple[np.ndarray, ...]:
    """The array arguments of ``op`` for input ``x``: ``(x,)`` or ``(grad, x)``."""
    if op.arity == 1:
        return (x,)
    g = (np.random.default_rng(seed).standard_normal(x.shape) * 3).astype(x.dtype)
    return (g, x)


def op_table() -> str:
    """OPS as Python source, ``[(function, arity, params, kwargs, dtypes), ...]``, for scripts
    run in a subprocess: they call ``operator.attrgetter(function)(relu_rs)(*arrays, *params,
    **kwargs)`` (after ``import relu_rs.quantized``) on arrays of each dtype, named as
    ``np.dtype`` knows it (bfloat16 once ml_dtypes is imported)."""
    return repr([(op.function, op.arity, op.params, dict(op.kwargs),
                  [np.dtype(dt).name for dt in op.dtypes]) for op in OPS])  # fmt: skip
