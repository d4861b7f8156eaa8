"""bfloat16 (``ml_dtypes.bfloat16``): every function on every bf16 bit pattern against float64
references rounded once by an independent rounding (not ml_dtypes' casts), NaN payloads, ±0,
out= and in place, layouts, PReLU's α-gradient, threads, nn layers and errors. Skipped without
ml_dtypes, except the checks that relu_rs does not need it."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import relu_rs
from conftest import BFLOAT16, layouts, op_inputs, ops_for
from relu_rs import nn

try:
    import ml_dtypes

    BF16: Any = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - the optional extra
    ml_dtypes = None
    BF16 = None

needs_bf16 = pytest.mark.skipif(ml_dtypes is None, reason="ml_dtypes is not installed")


def test_listed_and_not_imported() -> None:
    """``info()["dtypes"]`` says what the build computes in; relu_rs never imports ml_dtypes."""
    assert "bfloat16" in relu_rs.info()["dtypes"]
    code = (
        "import sys, numpy as np, relu_rs; relu_rs.relu(np.ones(3)); relu_rs.info();"
        "assert 'ml_dtypes' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----- independent references ---------------------------------------------------------------


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint16)


def from_bits(b: Any) -> np.ndarray:
    return np.asarray(b, dtype=np.uint16).view(BF16)


def round_bf16(v: np.ndarray) -> np.ndarray:
    """float64 values rounded once, to nearest (ties to even), to bfloat16: 8 significant bits,
    exponents from -126 (below, steps of 2^-133), beyond the largest finite value ±inf."""
    v = np.asarray(v, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        m, e = np.frexp(v)
        normal = np.ldexp(np.rint(m * 256.0), e - 8)
        sub = np.rint(v * 2.0**133) * 2.0**-133
        r = np.where(np.abs(v) < 2.0**-126, sub, normal)
        big = float(ml_dtypes.finfo(BF16).max)
        r = np.where(np.abs(r) > big, np.copysign(np.inf, v), r)
        r = np.where(np.isnan(v), np.nan, r)
    out = r.astype(BF16)  # exact: r has at most 8 significant bits
    assert np.array_equal(f64(out), r, equal_nan=True)
    return out


def ulps(got: np.ndarray, want_exact: np.ndarray) -> np.ndarray:
    """|got − exact| in bfloat16 ULPs at the exact value (NaN pairs and equal values: 0)."""
    g, w = f64(got), np.asarray(want_exact, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        _, e = np.frexp(np.abs(w))
        ulp = np.ldexp(1.0, np.maximum(e - 1, -126) - 7)
        d = np.abs(g - w) / ulp
    return np.where((np.isnan(g) & np.isnan(w)) | (g == w), 0.0, d)


def f64(a: np.ndarray) -> np.ndarray:
    """bfloat16 values as float64 (quiet about signalling NaNs)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(a).astype(np.float64)


def every_bf16() -> np.ndarray:
    return from_bits(np.arange(65536, dtype=np.uint16))


def nan_kept(got: np.ndarray, x: np.ndarray) -> None:
    """Where x is NaN the result is x, bit for bit."""
    nan = np.isnan(x.astype(np.float32))
    np.testing.assert_array_equal(bits(got)[nan], bits(x)[nan])


def assert_bits(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == BF16 and got.shape == want.shape
    np.testing.assert_array_equal(bits(got), bits(want))


def grads_for(x: np.ndarray, seed: int = 3) -> np.ndarray:
    g = np.random.default_rng(seed).standard_normal(x.shape) * 4
    return round_bf16(g)


# ----- every bit pattern ------------------------------------------------------------------------


@needs_bf16
def test_relu_every_value() -> None:
    x = every_bf16()
    xd = f64(x)
    want = round_bf16(np.where(xd > 0, xd, 0.0))
    got = relu_rs.relu(x)
    nan_kept(got, x)
    ok = ~np.isnan(xd)
    assert_bits(got[ok], want[ok])
    g = grads_for(x)
    want = round_bf16(np.where(xd > 0, g.astype(np.float64), 0.0))
    got = relu_rs.relu_grad(g, x)
    nan_kept(got, x)
    assert_bits(got[ok], want[ok])


@needs_bf16
@pytest.mark.parametrize("alpha", [0.1, 0.01, -0.3, 1 / 3, 0.0, 2.5, 0.7, 1e-30, 3e38])
def test_leaky_every_value_is_correctly_rounded(alpha: float) -> None:
    """α is kept in float32 (PyTorch's opmath), α·x is rounded once from the exact product."""
    x = every_bf16()
    xd = f64(x)
    a = float(np.float32(alpha))
    ok = ~np.isnan(xd)
    with np.errstate(invalid="ignore"):
        exact = np.where((xd > 0), xd, np.where((xd == 0) | (a == 0), 0.0, a * xd))
    got = relu_rs.leaky_relu(x, alpha)
    nan_kept(got, x)
    assert_bits(got[ok], round_bf16(exact)[ok])
    # the result is the nearer of its two neighbours, ties to even: a search of its own
    fin = ok & (np.abs(exact) <= float(ml_dtypes.finfo(BF16).max)) & (exact != 0)
    b = bits(got)[fin].astype(np.int64)
    here = f64(got[fin])
    for step in (-1, 1):  # the neighbours in magnitude (same sign)
        mag = (b & 0x7FFF) + step
        keep = mag >= 0
        other = f64(from_bits(((b & 0x8000) | mag)[keep].astype(np.uint16)))
        d_here = np.abs(here[keep] - exact[fin][keep])
        d_other = np.abs(other - exact[fin][keep])
        assert (d_here <= d_other).all()
        assert (b[keep][d_here == d_other] % 2 == 0).all()
    g = grads_for(x)
    gd = g.astype(np.float64)
    with np.errstate(invalid="ignore"):
        exact = np.where(xd > 0, gd, 0.0 if a == 0 else a * gd)
    got = relu_rs.leaky_relu_grad(g, x, alpha)
    nan_kept(got, x)
    assert_bits(got[ok], round_bf16(exact)[ok])


@needs_bf16
def test_prelu_every_value() -> None:
    x = every_bf16().reshape(-1, 4)
    alpha = from_bits([0x3E80, 0xBE9A, 0x0000, 0x4020])  # 0.25, -0.30078125, 0, 2.5
    xd, ad = f64(x), f64(alpha)
    ok = ~np.isnan(xd)
    exact = np.where(xd > 0, xd, np.where((xd == 0) | (ad == 0), 0.0, ad * xd))
    got = relu_rs.prelu(x, alpha, axis=-1)
    nan_kept(got, x)
    assert_bits(got[ok], round_bf16(exact)[ok])
    g = grads_for(x)
    gd = g.astype(np.float64)
    gx, ga = relu_rs.prelu_grad(g, x, alpha, axis=-1)
    exact = np.where(xd > 0, gd, np.where(ad == 0, 0.0, ad * gd))
    nan_kept(gx, x)
    assert_bits(gx[ok], round_bf16(exact)[ok])
    assert ga.dtype == BF16 and np.isnan(ga.astype(np.float32)).all()  # NaN x: NaN α-gradient


@needs_bf16
def test_softplus_every_value() -> None:
    """softplus ≤ 1 ULP and softplus_grad ≤ 2 ULP of float64 references (logaddexp, σ in float64
    are ~1e-16 relative: far below a bfloat16 ULP)."""
    x = every_bf16()
    xd = f64(x)
    ok = ~np.isnan(xd)
    with np.errstate(over="ignore", invalid="ignore"):
        exact = np.logaddexp(0.0, xd)
    got = relu_rs.softplus(x)
    nan_kept(got, x)
    worst = ulps(got[ok], exact[ok]).max()
    assert worst <= 1.0, worst
    g = grads_for(x)
    gd = g.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        sig = np.where(xd >= 0, 1 / (1 + np.exp(-xd)), np.exp(xd) / (1 + np.exp(xd)))
        exact = gd * sig
    got = relu_rs.softplus_grad(g, x)
    nan_kept(got, x)
    worst = ulps(got[ok], exact[ok]).max()
    assert worst <= 2.0, worst


@needs_bf16
@pytest.mark.parametrize("beta", [2.0, 0.5])
def test_softplus_other_beta_every_value(beta: float) -> None:
    """β ≠ 1 runs in float64 and rounds through float32: ≤ 1 ULP."""
    x = every_bf16()
    xd = f64(x)
    ok = ~np.isnan(xd)
    with np.errstate(over="ignore", invalid="ignore"):
        exact = np.logaddexp(0.0, beta * xd) / beta
        exact = np.where(np.isposinf(beta * xd) & np.isfinite(xd), xd, exact)
    got = relu_rs.softplus(x, beta=beta)
    nan_kept(got, x)
    assert ulps(got[ok], exact[ok]).max() <= 1.0


# ----- conventions ------------------------------------------------------------------------------


@needs_bf16
def test_nan_payloads_and_zeros() -> None:
    nans = from_bits([0x7F81, 0xFF81, 0x7FC5, 0xFFFF])  # signalling, negative, payloads
    for fn in (relu_rs.relu, relu_rs.softplus, lambda v: relu_rs.leaky_relu(v, 0.1)):
        assert_bits(fn(nans), nans)
    assert_bits(relu_rs.prelu(nans, 0.25), nans)
    one = from_bits([0x3F80] * 4)
    assert_bits(relu_rs.relu_grad(one, nans), nans)
    assert_bits(relu_rs.softplus_grad(one, nans), nans)
    # a NaN computed from non-NaN x: the canonical quiet NaN 0x7fc0
    got = relu_rs.leaky_relu_grad(nans, from_bits([0xBF80] * 4), 0.1)  # α·NaN grad
    np.testing.assert_array_equal(bits(got), 0x7FC0)
    zeros = from_bits([0x0000, 0x8000])
    for fn in (relu_rs.relu, lambda v: relu_rs.leaky_relu(v, 0.1), lambda v: relu_rs.prelu(v, 2)):
        np.testing.assert_array_equal(bits(fn(zeros)), 0)  # ±0 → +0


@needs_bf16
@pytest.mark.parametrize("op", [op for dt in BFLOAT16 for op in ops_for(dt)], ids=repr)
def test_registry_layouts_out_and_in_place(op: Any) -> None:
    """Every registry op that computes in bfloat16, in every layout, with out= (C, F, strided) and
    in place, equals the same op computed on float32 copies of the data and rounded once (the f32
    results are ≤ 0.78 f32-ULP, so this is the bf16 result except at rare near-ties: compared by
    ULP)."""
    values = round_bf16(np.random.default_rng(5).standard_normal(300) * 6)
    values[:6] = from_bits([0x7FC1, 0x7F80, 0xFF80, 0x8000, 0x0000, 0x0001])
    for name, x in layouts(values):
        arrays = op_inputs(op, x)
        got = op(*arrays)
        assert got.dtype == BF16 and got.shape == x.shape, name
        want = op(*(f64(a) for a in arrays))
        d = ulps(got, want)
        assert d.max(initial=0) <= (0.5 if op.exact else op.ulps + 0.5), (name, d.max())
        if x.size and x.ndim:
            out = np.full(x.shape, 7, dtype=BF16, order="F")
            assert op(*arrays, out=out) is out
            assert_bits(out, got)
            big = np.full((2 * x.shape[0], *x.shape[1:]), 7, dtype=BF16)
            assert op(*arrays, out=big[::-2]) is not None
            assert_bits(big[::-2], got)
            inplace = [a.copy() for a in arrays]
            op(*inplace, out=inplace[-1])
            assert_bits(inplace[-1], got)


@needs_bf16
def test_prelu_alpha_grad_matches_fsum_and_is_deterministic() -> None:
    rng = np.random.default_rng(11)
    x = round_bf16(rng.standard_normal((150_000, 3)) * 3)
    g = round_bf16(rng.standard_normal((150_000, 3)))
    alpha = round_bf16(np.array([0.25, -0.5, 0.1]))
    results = []
    for threads in (1, 2, 4, 7):
        relu_rs.set_num_threads(threads)
        results.append(relu_rs.prelu_grad(g, x, alpha, axis=1))
    for gx, ga in results[1:]:
        assert_bits(gx, results[0][0])
        assert_bits(ga, results[0][1])
    ga = results[0][1]
    terms = g.astype(np.float64) * np.minimum(0.0, f64(x))
    exact = np.array([math.fsum(terms[:, c]) for c in range(3)])
    assert ulps(ga, exact).max() <= 1.0
    # F order and a channel axis in the middle take other kernel paths: same sums
    x3 = x.reshape(500, 3, 300, order="F")
    g3 = g.reshape(500, 3, 300, order="F")
    _, ga3 = relu_rs.prelu_grad(g3, x3, alpha, axis=1)
    t3 = f64(g3) * np.minimum(0.0, f64(x3))
    exact3 = np.array([math.fsum(t3[:, c].ravel()) for c in range(3)])
    assert ulps(ga3, exact3).max() <= 1.0


@needs_bf16
def test_parameters_and_scalars() -> None:
    x = round_bf16(np.array([-3.0, -1.0, 0.5, 8.0]))
    a = ml_dtypes.bfloat16(0.5)
    assert_bits(relu_rs.leaky_relu(x, a), relu_rs.leaky_relu(x, 0.5))
    assert_bits(relu_rs.relu(x, max_value=a), round_bf16(np.array([0.0, 0.0, 0.5, 0.5])))
    # max_value rounds once to bfloat16 (0.1 is not a bf16 value)
    assert_bits(relu_rs.relu(x, max_value=0.1), round_bf16(np.array([0, 0, 0.1, 0.1])))
    # a big int rounds once: 2^70 + 2^62 + 1 is just above the midpoint of two bf16 values
    big = round_bf16(np.array([2.0**71]))
    assert relu_rs.relu(big, max_value=2**70 + 2**62 + 1).astype(float)[0] == 2.0**70 + 2.0**63
    with pytest.raises(ValueError, match="overflows bfloat16"):
        relu_rs.leaky_relu(x, 3.4e38)
    # byte-swapped input: converted, result native
    swapped = x.astype(BF16.newbyteorder(">"))
    assert_bits(relu_rs.relu(swapped), relu_rs.relu(x))


@needs_bf16
def test_errors() -> None:
    x = round_bf16(np.array([-1.0, 2.0]))
    with pytest.raises(TypeError, match="grad has dtype bfloat16 but x has dtype float32"):
        relu_rs.relu_grad(x, x.astype(np.float32))
    with pytest.raises(TypeError, match="grad has dtype float16 but x has dtype bfloat16"):
        relu_rs.softplus_grad(x.astype(np.float16), x)
    with pytest.raises(TypeError, match="out has dtype float32 but the result has dtype bfloat16"):
        relu_rs.relu(x, out=np.empty(2, np.float32))
    with pytest.raises(TypeError, match="out has dtype bfloat16 but the result has dtype float32"):
        relu_rs.relu(x.astype(np.float32), out=np.empty(2, BF16))
    # another ml_dtypes type is no float relu_rs knows
    with pytest.raises(TypeError, match="unsupported dtype float8_e4m3fn"):
        relu_rs.relu(np.zeros(2, ml_dtypes.float8_e4m3fn))


@needs_bf16
def test_nn_layers() -> None:
    x = round_bf16(np.random.default_rng(2).standard_normal((4, 6)) * 3)
    g = round_bf16(np.random.default_rng(3).standard_normal((4, 6)))
    layers = [nn.ReLU(), nn.LeakyReLU(0.1), nn.Softplus(), nn.PReLU(6, init=0.25, dtype=BF16)]
    for layer in layers:
        y = layer(x)
        assert y.dtype == BF16
        gx = layer.backward(g)
        assert gx.dtype == BF16
    prelu = layers[-1]
    assert isinstance(prelu, nn.PReLU)
    assert prelu.alpha_grad.dtype == BF16
    assert_bits(layers[0](x), relu_rs.relu(x))


@needs_bf16
def test_torch_parity() -> None:
    """PyTorch's CPU bfloat16 relu and leaky_relu, on every bf16 value: the same bits except
    (docs/accuracy.md) at x = ±0, where PyTorch returns x (or x·α: −0 for α < 0 at +0) and
    relu_rs +0; at NaN x, whose payload PyTorch does not keep; and where PyTorch rounds α·x to
    float32 first and then to bfloat16 (twice): relu_rs is then the correctly rounded one, 1 ULP
    from PyTorch."""
    torch = pytest.importorskip("torch")
    x = every_bf16()
    xd = f64(x)
    ok = ~np.isnan(xd) & (xd != 0)
    t = torch.from_numpy(bits(x).astype(np.int16)).view(torch.bfloat16)

    def as_np(r: Any) -> np.ndarray:
        return from_bits(r.view(torch.int16).numpy().view(np.uint16))

    assert_bits(relu_rs.relu(x)[ok], as_np(torch.relu(t))[ok])
    for alpha in (0.01, 0.1, 0.125, -0.3, 0.7):
        got = relu_rs.leaky_relu(x, alpha)
        want = as_np(torch.nn.functional.leaky_relu(t, alpha))
        with np.errstate(invalid="ignore"):
            f32_product = f64(x.astype(np.float32) * np.float32(alpha))
        twice = round_bf16(np.where(xd > 0, xd, f32_product))
        assert_bits(want[ok], twice[ok])  # PyTorch's rounding, described exactly
        differ = bits(got)[ok] != bits(want)[ok]
        assert (np.abs(bits(got)[ok][differ].astype(int) - bits(want)[ok][differ]) == 1).all()
