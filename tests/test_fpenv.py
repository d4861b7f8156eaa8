"""Results do not depend on the caller's floating-point environment: flush-to-zero,
denormals-are-zero and the rounding mode, as another library in the process may set them. Every op
of the registry on each of its dtypes: the quantized functions compute their tables in floating
point too."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import relu_rs
from conftest import (
    ALL_DTYPES,
    QUANTIZED_DTYPES,
    apply_table,
    assert_identical,
    finfo,
    int_range,
    is_float,
    ops_for,
    quantized_softplus_table,
    random_values,
    special_values,
)
from relu_rs import quantized

_X86_64_LINUX = sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64")
_LIBM = ctypes.util.find_library("m") if _X86_64_LINUX else None

pytestmark = pytest.mark.skipif(_LIBM is None, reason="sets MXCSR through glibc's fenv_t (x86-64)")

_FTZ, _DAZ, _ROUND_TOWARD_ZERO = 0x8000, 0x0040, 0x6000
_MXCSR_OFFSET = 28  # glibc x86-64 fenv_t: the 28-byte x87 environment, then MXCSR


def _set_mxcsr(libm: ctypes.CDLL, env: bytes, mxcsr: int) -> None:
    raw = env[:_MXCSR_OFFSET] + mxcsr.to_bytes(4, "little") + env[_MXCSR_OFFSET + 4 :]
    assert libm.fesetenv((ctypes.c_uint8 * len(raw)).from_buffer_copy(raw)) == 0


@pytest.fixture
def flushing_env() -> Iterator[Callable[[], None]]:
    """A function that puts FTZ + DAZ + round-toward-zero into this thread's MXCSR; the
    original environment comes back after the test whatever happens."""
    libm = ctypes.CDLL(_LIBM)
    buf = (ctypes.c_uint8 * 32)()
    assert libm.fegetenv(buf) == 0
    env = bytes(buf)
    mxcsr = int.from_bytes(env[_MXCSR_OFFSET : _MXCSR_OFFSET + 4], "little")
    try:
        yield lambda: _set_mxcsr(libm, env, mxcsr | _FTZ | _DAZ | _ROUND_TOWARD_ZERO)
    finally:
        _set_mxcsr(libm, env, mxcsr)
        relu_rs.set_num_threads(None)  # a pool built under the flushing env is replaced


def _inputs(dtype: Any, n: int) -> tuple[np.ndarray, ...]:
    """Floats: subnormal-heavy x and grad (plus the special values), a per-channel alpha, and
    x - 60 (softplus of it has subnormal results). Integers and bool: random values. Computed
    before the environment changes."""
    if not is_float(dtype):
        x = random_values(dtype, n, n)
        return x, random_values(dtype, n, n + 1), np.array([0.5, -0.25, 1 / 3, 3.0]), x
    fi = finfo(dtype)
    rng = np.random.default_rng(n)
    tiny = float(fi.tiny)
    scale = rng.choice([tiny / 4, tiny, 1.0, 30.0], size=n)
    x = (rng.standard_normal(n) * scale).astype(dtype)
    x[: min(n, 200)] = np.resize(special_values(dtype), min(n, 200))
    g = (rng.standard_normal(n) * scale[::-1]).astype(dtype)
    alpha = np.array([0.5, -0.25, 1 / 3, 3.0], dtype=dtype)
    with np.errstate(over="ignore"):
        x_low = x - np.asarray(60, dtype=dtype)
    return x, g, alpha, x_low


def _other_parameters(
    x: np.ndarray, g: np.ndarray, alpha: np.ndarray, x_low: np.ndarray
) -> list[tuple[str, np.ndarray]]:
    """Floats: per-channel PReLU and softplus with subnormal results. The quantized functions:
    per-channel PReLU and subnormal, huge and near-tie scales and betas, whose tables are computed
    in float64 where that provably rounds as the exact value (else in integers, or double-double
    for softplus)."""
    x2 = x.reshape(-1, 4)
    if is_float(x.dtype):
        g2 = g.reshape(-1, 4)
        return [
            ("prelu per channel", relu_rs.prelu(x2, alpha, axis=-1)),
            *(("prelu_grad per channel", r) for r in relu_rs.prelu_grad(g2, x2, alpha, axis=-1)),
            ("softplus beta=3", relu_rs.softplus(x, beta=3.0)),
            ("softplus of x - 60", relu_rs.softplus(x_low)),
            ("softplus_grad beta=0.5", relu_rs.softplus_grad(g, x, beta=0.5)),
        ]
    if x.dtype not in QUANTIZED_DTYPES:
        return []
    q = quantized
    return [
        ("quantized.prelu per channel", q.prelu(x2, alpha, 0.1, 3, axis=-1, out_scale=1.0)),
        ("quantized.relu subnormal scales", q.relu(x, 5e-324, 3, out_scale=1e-310)),
        ("quantized.leaky_relu near ties", q.leaky_relu(x, 0.1, 5.0, 0, out_scale=1.0)),
        ("quantized.leaky_relu huge", q.leaky_relu(x, -1e12, 1e300, 7, out_scale=1e-300)),
        ("quantized.softplus subnormal", q.softplus(x, 1e-310, 0, beta=3.0, out_scale=1e-311)),
        ("quantized.softplus beta", q.softplus(x, 0.01, 3, beta=1e-300, out_scale=1e300)),
        ("quantized.softplus", q.softplus(x, 0.7, 0, beta=1.0, out_scale=0.25)),
    ]


def _results(
    x: np.ndarray, g: np.ndarray, alpha: np.ndarray, x_low: np.ndarray
) -> list[tuple[str, np.ndarray]]:
    """Every result of every op of the registry that computes x's dtype, then other parameters;
    each with a label."""
    results = [(op.name, r) for op in ops_for(x.dtype) for r in op.results(*op.inputs(x, g))]
    return [*results, *_other_parameters(x, g, alpha, x_low)]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=lambda dt: np.dtype(dt).name)
@pytest.mark.parametrize("n", [4, 1000, 400_000])  # serial scalar tail, serial SIMD, the pool
def test_results_ignore_flush_to_zero_and_rounding_mode(
    dtype: Any, n: int, flushing_env: Callable[[], None]
) -> None:
    inputs = _inputs(dtype, n)
    want = _results(*inputs)
    tiny = np.float32(np.finfo(np.float32).tiny)
    flushing_env()
    relu_rs.set_num_threads(2)  # the pool is rebuilt, from this thread, under the flushing env
    assert tiny / np.float32(4) == 0, "the test failed to set flush-to-zero"
    got = _results(*inputs)
    assert tiny / np.float32(4) == 0, "relu_rs must leave the caller's environment as it was"
    for (label, a), (_, b) in zip(got, want, strict=True):
        assert a.tobytes() == b.tobytes(), f"{label} changed under FTZ/DAZ"


@pytest.mark.parametrize("flush", [False, True], ids=["default", "flushing"])
@pytest.mark.parametrize("dtype", QUANTIZED_DTYPES, ids=lambda dt: np.dtype(dt).name)
def test_quantized_softplus_with_a_subnormal_out_scale(
    dtype: Any, flush: bool, flushing_env: Callable[[], None]
) -> None:
    """softplus(x)/out_scale for x = (q - zp)·8 and out_scale = 1e-309 (subnormal): e^x/1e-309
    rounds to 0 below x ≈ -712 and saturates above; exact in either environment. (The tables
    were once built in the caller's environment, where denormals-are-zero read the out_scale as
    0 in softplus's tail: int8 q = -92 gave 127 instead of 0.)"""
    zp = 0 if dtype == np.int8 else 128
    lo, hi = int_range(dtype)
    q = np.arange(lo, hi + 1).astype(dtype)
    want = apply_table(quantized_softplus_table(8.0, zp, 1.0, 1e-309, 0, dtype), q)
    if flush:
        flushing_env()
    got = quantized.softplus(q, 8.0, zp, out_scale=1e-309, out_zero_point=0)
    assert_identical(got, want)
