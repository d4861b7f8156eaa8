"""Fuzz the Python boundary: every call either returns the reference answer (an independent
float64 NumPy evaluation of the same inputs; the exact one for relu_rs.quantized) or raises
TypeError/ValueError with a message, and `out` is untouched whenever it raises. Anything else
(another exception type, a Rust PanicException — a BaseException — or a crash) fails.

RELU_RS_FUZZ_EXAMPLES sets the number of examples (default 3000; try 20000 or more by hand)."""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_prelu import ref_prelu, ref_prelu_grad

import relu_rs
from conftest import (
    OPS,
    Op,
    assert_identical,
    ref_leaky,
    ref_leaky_grad,
    ref_quantized_leaky,
    ref_quantized_softplus,
    ref_relu_grad_max,
    ref_relu_max,
    ulp_distance,
)

EXAMPLES = int(os.environ.get("RELU_RS_FUZZ_EXAMPLES", "3000"))

DTYPES = [
    "f2", "f4", "f8", ">f4", ">f8", "i1", "u1", "i4", "u8", ">i2", "?", "c8", "c16", "O", "U3",
    "M8[s]", "m8[ms]", "g",
]  # fmt: skip
SCALARS = st.sampled_from(
    [0.0, 0.01, -1.0, 2.5, 1e6, -1e300, np.nan, np.inf, -np.inf, 0, 3, True, "0.1", None, 1j,
     np.float32(0.2), np.array(0.3), np.array([0.1, 0.2]), [0.1], object()]
)  # fmt: skip
# relu's max_value: good ones (inexact in float16, subnormal, beyond 2^53 and 2^64, NumPy scalars)
# and bad ones; a call that succeeds must match conftest.clip_bound's reading of the specification
MAX_VALUES = st.sampled_from(
    [None, 6, 6.0, 0, 0.0, -0.0, 0.1, 1e-310, 6.5, 1000, 2**53 + 1, 2**64 + 5, 1e300, np.inf,
     np.float16(3), np.int64(7), np.uint64(2**63 + 1), np.float32(2.5), -1, -np.inf, np.nan, "6",
     True, 1j, [6]]
)  # fmt: skip


@st.composite
def arrays(draw: st.DrawFn, own: tuple[Any, ...] = ()) -> Any:
    """Anything, half the time of one of the ``own`` dtypes (an op's, which it computes in)."""
    kind = draw(st.sampled_from(["array", "array", "array", "list", "scalar"]))
    if kind == "scalar":
        return draw(st.sampled_from([1.5, -2, 0, np.float16(-1), "a", None, 1 + 2j]))
    use_own = bool(own) and draw(st.booleans())
    dtype = np.dtype(draw(st.sampled_from(own if use_own else DTYPES)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=6, min_side=0, max_side=3))
    if dtype.kind in "fc":
        base = np.asarray(draw(st.lists(st.floats(allow_nan=True, width=32), min_size=1,
                                        max_size=8)))  # fmt: skip
        with np.errstate(over="ignore", invalid="ignore"):
            a = np.resize(base, shape).astype(dtype)
    elif dtype.kind in "iub":  # wrapped to the dtype: every 8-bit value can occur
        base = np.array(draw(st.lists(st.integers(-300, 300), min_size=1, max_size=8)))
        a = np.resize(base, shape).astype(dtype)
    elif dtype.kind in "Mm":
        a = np.resize(np.arange(5), shape).astype(dtype)
    else:
        a = np.resize(np.array(["1", "x"], dtype=object), shape).astype(dtype)
    if kind == "list":
        return a.tolist()
    if a.ndim:
        view = draw(st.sampled_from(["none", "reverse", "transpose", "step", "broadcast"]))
        if view == "reverse":
            a = a[::-1]
        elif view == "transpose":
            a = a.T
        elif view == "step" and a.shape[0] > 1:
            a = np.repeat(a, 2, axis=0)[::2]
        elif view == "broadcast" and a.shape[0] == 1:
            a = np.broadcast_to(a, (3, *a.shape[1:]))
    return a


# relu_rs.quantized's parameters: ones good for int8 and uint8 alike (subnormal, huge, NumPy
# scalars, exact ties), and others (zero points at either end of one of the two ranges, bad
# values). A call that succeeds must match the exact reference with them.
GOOD_SCALES = [0.05, 1.0, 3, 0.1, 2.0**-7, 1e-300, 5e-324, 1e300, np.float32(0.2), np.float64(7.5)]
OTHER_SCALES = st.sampled_from([0.0, -1.0, -5e-324, np.nan, np.inf, "1", None, True, 1j, [1.0]])
GOOD_ZERO_POINTS = [0, 3, 100, 127, np.int64(5), np.uint8(64)]
OTHER_ZERO_POINTS = st.sampled_from(
    [-128, 255, 128, -1, np.uint8(200), 1.0, True, "0", None, 2**70]
)
GOOD_ALPHAS = [0.0, 0.01, -1.0, 2.5, 1e6, -1e300, 3, np.float32(0.2), np.array(0.3), [0.1]]
GOOD_BETAS = [1.0, 0.5, 3, 1e-300, 1e300, np.float32(2.5)]
OTHER_BETAS = st.sampled_from([0.0, -1.0, np.nan, np.inf, "2", None])


@st.composite
def outs(draw: st.DrawFn, like: Any) -> Any:
    kind = draw(st.sampled_from(["none", "good", "good", "shape", "dtype", "readonly", "list",
                                 "self", "overlap", "fortran"]))  # fmt: skip
    ref = np.asarray(like) if isinstance(like, np.ndarray) else None
    if kind == "none" or ref is None:
        return None
    dtype = ref.dtype if ref.dtype.kind in "fiub" else np.dtype("f8")
    if kind == "good":
        return np.full(ref.shape, 7, dtype=dtype)
    if kind == "fortran":
        return np.asfortranarray(np.full(ref.shape, 7, dtype=dtype))
    if kind == "shape":
        return np.full((*ref.shape, 2), 7, dtype=dtype)
    if kind == "dtype":
        return np.full(ref.shape, 7, dtype="f4" if dtype != np.dtype("f4") else "f8")
    if kind == "readonly":
        o = np.full(ref.shape, 7, dtype=dtype)
        o.flags.writeable = False
        return o
    if kind == "list":
        return [7.0] * max(ref.size, 1)
    if kind == "self":
        return like
    big = np.full(ref.size + 3, 7, dtype=dtype)  # overlap: a view sharing memory with another out
    return big[1 : 1 + ref.size].reshape(ref.shape)


def _fuzzed_params(data: st.DataObject, op: Op) -> tuple[list[Any], dict[str, Any]] | None:
    """Parameters (good and bad) for the ops whose parameters this suite fuzzes, or None: the
    registry's own parameters, checked against the registry's reference. The entry's keyword
    parameters are kept unless fuzzed (from_output stays as the entry has it)."""
    name = op.function
    kwargs = dict(op.kwargs)
    if name in ("relu", "relu_grad"):
        kwargs["max_value"] = data.draw(MAX_VALUES)
        return [], kwargs
    if name.startswith("leaky"):
        return [data.draw(SCALARS)], kwargs
    if name.startswith("prelu"):
        params = [data.draw(st.one_of(SCALARS, arrays()))]
        kwargs["axis"] = data.draw(st.sampled_from([1, 0, -1, 5, -7, 1.0, "1", None]))
        if name == "prelu_grad" and data.draw(st.booleans()):
            kwargs["alpha_grad_out"] = data.draw(st.sampled_from(
                [np.zeros(3), np.zeros(()), [0.0], np.zeros(3, "f4")]))  # fmt: skip
        return params, kwargs
    if name.startswith("softplus"):
        beta = data.draw(st.sampled_from([1.0, 0.5, 0.0, -1.0, np.nan, np.inf, "2", 3]))
        threshold = data.draw(st.sampled_from([None, 20.0, np.nan, -np.inf, np.inf, "x"]))
        return [beta, threshold], kwargs
    if name.startswith("quantized."):
        return _fuzzed_quantized_params(data, name.removeprefix("quantized."), kwargs)
    return None


def _fuzzed_quantized_params(
    data: st.DataObject, name: str, kwargs: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """(alpha,) scale, zero_point; out_scale, out_zero_point (None: the input's); prelu's axis,
    softplus's beta. Half the time all good ones (so the results are checked: an x of a
    quantized dtype is drawn half the time), else any."""
    good = data.draw(st.booleans())

    def pick(good_values: list[Any], others: st.SearchStrategy[Any]) -> Any:
        pool = st.sampled_from(good_values)
        return data.draw(pool if good else st.one_of(pool, others))

    params = [pick(GOOD_SCALES, OTHER_SCALES), pick(GOOD_ZERO_POINTS, OTHER_ZERO_POINTS)]
    if name in ("leaky_relu", "prelu"):
        params.insert(0, pick(GOOD_ALPHAS, SCALARS if name == "leaky_relu" else arrays()))
    if name == "prelu":
        kwargs["axis"] = pick([1, -1], st.sampled_from([0, 5, -7, 1.0, "1", None]))
    if name == "softplus":
        kwargs["beta"] = pick(GOOD_BETAS, OTHER_BETAS)
    kwargs["out_scale"] = pick([None, *GOOD_SCALES], OTHER_SCALES)
    kwargs["out_zero_point"] = pick([None, *GOOD_ZERO_POINTS], OTHER_ZERO_POINTS)
    return params, kwargs


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_fuzz_the_boundary(data: st.DataObject) -> None:
    op = data.draw(st.sampled_from(OPS))
    own = tuple(np.dtype(dt).str for dt in op.dtypes if np.dtype(dt).kind in "biuf")
    x = data.draw(arrays(own))
    grad = data.draw(st.one_of(st.just(x), arrays(own))) if op.arity == 2 else None
    out = data.draw(outs(x))
    before = out.copy() if isinstance(out, np.ndarray) else None
    # a known op's own parameters three times in four; else (and for a new op) the registry's
    fuzzed = _fuzzed_params(data, op) if data.draw(st.integers(0, 3)) else None
    params, kwargs = fuzzed if fuzzed is not None else (list(op.params), dict(op.kwargs))
    if out is not None:
        kwargs["out"] = out
    args: list[Any] = [*op.inputs(x, grad), *params]  # a None grad is bad input
    snapshot = [_copy(a) for a in args]  # `out` may be an input: the reference needs them as given
    threads = data.draw(st.sampled_from([None, 1, 2, 3]))
    relu_rs.set_num_threads(threads)
    try:
        result = op.fn(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        assert str(exc), "errors carry a message"
        if before is not None and isinstance(out, np.ndarray) and out.flags.writeable:
            np.testing.assert_array_equal(out, before, err_msg="out was written before an error")
        return
    first = result[0] if isinstance(result, tuple) else result
    assert isinstance(first, np.ndarray)
    assert first.shape == np.shape(x)
    if out is not None:
        assert first is out
    with np.errstate(all="ignore"):  # casts of the inputs may overflow, as the call's did
        inputs = [np.asarray(a).astype(first.dtype) for a in snapshot[: op.arity]]
    if fuzzed is None:
        op.check(first, *inputs)
    else:
        _check_against_reference(op.function, inputs, snapshot[op.arity :], kwargs, result)


def _copy(a: Any) -> Any:
    return np.array(a, copy=True) if isinstance(a, np.ndarray) else a


def _softplus64(x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    """x + log1p(exp(-z))/beta (z > 0) or log1p(exp(z))/beta, z = beta*x; x where z > threshold."""
    with np.errstate(over="ignore", invalid="ignore"):
        z = beta * x
        tail = np.log1p(np.exp(-np.abs(z))) / beta
        y = np.where(z > 0, x + tail, tail)
        return np.where(np.isnan(x), x, np.where(z > threshold, x, y))


def _softplus_grad64(g: np.ndarray, x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    """grad·σ(beta·x); grad where beta·x > threshold. σ > 0 for every finite x, though it
    underflows float64 below beta·x ≈ -745: an infinite grad stays infinite there (not ∞·0)."""
    with np.errstate(over="ignore", invalid="ignore"):
        z = beta * x
        e = np.exp(-np.abs(z))
        sigmoid = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        product = np.where(np.isinf(g) & np.isfinite(x), g, g * sigmoid)
        return np.where(np.isnan(x), x, np.where(z > threshold, g, product))


def _softplus_grad_from_output64(
    g: np.ndarray, y: np.ndarray, beta: float, threshold: float
) -> np.ndarray:
    """grad·(1 − e^(−beta·y)) (y = softplus's output; any y here); grad where beta·y > threshold;
    an infinite grad times the factor 0 (y = ±0) stays infinite. Where y < 0 (no softplus output)
    and e^(−beta·y) overflows float64, beta != 1 gives NaN where the formula (and beta = 1) gives
    ±inf: outside the documented domain (y from softplus), reported, and followed here."""
    with np.errstate(over="ignore", invalid="ignore"):
        factor = -np.expm1(-beta * y)
        r = g * factor
        r = np.where(np.isnan(r) & np.isinf(g) & np.isfinite(y), g, r)
        r = np.where(np.isinf(factor) & (y < 0) & (beta != 1), np.nan, r)
        return np.where(np.isnan(y), y, np.where(beta * y > threshold, g, r))


def _close(got: np.ndarray, want64: np.ndarray) -> None:
    """Within 2 ULP for float16/float32 (relu_rs is within 1, the float64 reference far closer);
    float64: relative 1e-12, since the reference rounds beta*x and that error grows with |z|."""
    if got.dtype == np.float64:
        np.testing.assert_allclose(got, want64, rtol=1e-12, atol=1e-300, equal_nan=True)
    else:
        with np.errstate(over="ignore"):
            want = want64.astype(got.dtype)
        assert ulp_distance(got, want).max(initial=0) <= 2, (got, want)


def _check_against_reference(
    name: str, arrays: list[np.ndarray], params: list[Any], kwargs: dict[str, Any], result: Any
) -> None:
    """``result`` of ``name`` with fuzzed ``params`` on ``arrays`` (cast to the result dtype)."""
    first = result[0] if name == "prelu_grad" else result
    dt = first.dtype
    x = arrays[-1]
    if name.startswith("quantized."):
        _check_quantized(name.removeprefix("quantized."), x, params, kwargs, first)
    elif name == "relu":
        assert_identical(first, ref_relu_max(x, kwargs.get("max_value")))
    elif name == "relu_grad":
        assert_identical(first, ref_relu_grad_max(arrays[0], x, kwargs.get("max_value")))
    elif name == "leaky_relu":
        assert_identical(first, ref_leaky(x, params[0]))
    elif name == "leaky_relu_grad":
        assert_identical(first, ref_leaky_grad(arrays[0], x, params[0]))
    elif name == "prelu":
        with np.errstate(all="ignore"):
            alpha = np.asarray(params[0]).astype(dt)
        assert_identical(first, ref_prelu(x, alpha, kwargs.get("axis", 1)))
    elif name == "prelu_grad":
        with np.errstate(all="ignore"):
            alpha = np.asarray(params[0]).astype(dt)
        if not x.size:  # nothing to sum: zeros of alpha's shape
            np.testing.assert_array_equal(result[1], np.zeros(alpha.shape, dt))
            return
        gx, ga = ref_prelu_grad(arrays[0], x, alpha, kwargs.get("axis", 1))
        assert_identical(first, gx)
        tiny = float(np.finfo(dt).smallest_subnormal)
        np.testing.assert_allclose(result[1], ga, rtol=4 * float(np.finfo(dt).eps), atol=tiny,
                                   equal_nan=True)  # fmt: skip
    else:
        beta = float(params[0])
        threshold = np.inf if params[1] is None else float(params[1])
        x64 = x.astype(np.float64)
        g64 = arrays[0].astype(np.float64)
        if name == "softplus":
            _close(first, _softplus64(x64, beta, threshold))
        elif kwargs.get("from_output"):
            _close(first, _softplus_grad_from_output64(g64, x64, beta, threshold))
        else:
            _close(first, _softplus_grad64(g64, x64, beta, threshold))


def _check_quantized(
    name: str, q: np.ndarray, params: list[Any], kwargs: dict[str, Any], got: np.ndarray
) -> None:
    """``got``, quantized ``name`` of ``q`` with these (accepted) parameters, against the exact
    reference, element by element (prelu: each with its channel's alpha)."""
    *alpha, scale, zp = params
    scale, zp = float(scale), int(zp)
    out_scale = scale if kwargs["out_scale"] is None else float(kwargs["out_scale"])
    out_zp = zp if kwargs["out_zero_point"] is None else int(kwargs["out_zero_point"])
    dtype = q.dtype.type
    if name == "softplus":
        beta = float(kwargs.get("beta", 1.0))

        @functools.cache
        def ref(v: int, _: float) -> int:
            return ref_quantized_softplus(v, scale, zp, beta, out_scale, out_zp, dtype)
    else:

        @functools.cache
        def ref(v: int, a: float) -> int:
            return ref_quantized_leaky(v, a, scale, zp, out_scale, out_zp, dtype)

    slopes = np.zeros(q.shape)  # relu: 0; softplus: unused
    if alpha:
        a = np.asarray(alpha[0]).astype(np.float64)
        if a.size == 1:
            slopes[...] = a.reshape(())
        else:  # per channel along axis
            shape = [1] * q.ndim
            shape[kwargs.get("axis", 1)] = a.size
            slopes[...] = a.reshape(shape)
    want = np.array([ref(int(v), float(a)) for v, a in zip(q.flat, slopes.flat, strict=True)])
    assert_identical(got, want.reshape(q.shape).astype(dtype))
