"""SIMD dispatch: info() names the path, RELU_RS_SIMD forces a lower one, and every path gives
bit-identical results to the scalar one (the same IEEE operations, FMA included; the same byte
lookups), for every op of the registry on each of its dtypes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import relu_rs
from conftest import op_table

PATHS = ["scalar", "avx2", "avx512", "neon"]

# Every op of the registry with its params on each of its dtypes, then other parameters; each out
# of place and in place (on x, on grad, and on one array that is both). Floats: random values and
# every pair of special values (NaN payloads of both signs, signalling NaNs, ±inf, ±0,
# subnormals), so that NaN signs and payloads are compared too, then softplus_grad from the output
# at beta != 1, relu's max_value inexact in the dtype and subnormal, and per-channel PReLU.
# Integers and bool: random values and the extremes, then for the 8-bit ones per-channel quantized
# PReLU and other quantizations (the byte lookups have VBMI, AVX2 and NEON paths).
_SCRIPT = r"""
import sys, numpy as np, relu_rs, relu_rs.quantized
from functools import partial
from operator import attrgetter
OPS = OP_TABLE
rng = np.random.default_rng(0)
NAN_BITS = {"float16": (np.uint16, [0x7E01, 0xFE55, 0x7C01, 0xFC02]),
            "float32": (np.uint32, [0x7FC00001, 0xFFC12345, 0x7F800001, 0xFF800002]),
            "float64": (np.uint64, [0x7FF8000000000001, 0xFFF8000000012345,
                                    0x7FF0000000000001, 0xFFF0000000000002]),
            "bfloat16": (np.uint16, [0x7FC1, 0xFFD5, 0x7F81, 0xFF82])}
try:
    import ml_dtypes  # bfloat16 is a dtype name np.dtype knows once this is imported
except ImportError:
    pass
out = []
for name in dict.fromkeys(dt for *_, dtypes in OPS for dt in dtypes):
    dt = np.dtype(name)
    if name in NAN_BITS:
        utype, nan_bits = NAN_BITS[name]
        nans = np.array(nan_bits, dtype=utype).view(dt)
        with np.errstate(over="ignore"):
            special = np.concatenate([nans, np.array(
                [np.inf, -np.inf, 0.0, -0.0, 1e-310, -1e-310, 30.0, -700.0, 745.0, -746.0, 1.0],
                ).astype(dt)])
            x = np.concatenate([rng.standard_normal(70_001) * 30, np.repeat(special, special.size),
                                np.tile(special, 3)]).astype(dt)
            g = np.concatenate([rng.standard_normal(70_001) * 30, np.tile(special, special.size),
                                np.repeat(special, 3)]).astype(dt)
    else:
        lo, hi = (0, 1) if dt.kind == "b" else (np.iinfo(dt).min, np.iinfo(dt).max)
        special = np.array([lo, hi, 0, 1, lo + 1, hi - 1, hi // 2, lo // 2], dtype=dt)
        x = np.concatenate([rng.integers(lo, hi, size=70_001, endpoint=True, dtype=dt),
                            np.repeat(special, special.size), np.tile(special, 3)])
        g = np.concatenate([rng.integers(lo, hi, size=70_001, endpoint=True, dtype=dt),
                            np.tile(special, special.size), np.repeat(special, 3)])
    for function, arity, params, kw, dtypes in OPS:
        if name not in dtypes:
            continue
        fn = partial(attrgetter(function)(relu_rs), **kw)
        res = fn(*((x,) if arity == 1 else (g, x)), *params)
        out += res if isinstance(res, tuple) else [res]
        y = x.copy()  # in place on x
        res = fn(*((y,) if arity == 1 else (g, y)), *params, out=y)
        out += res if isinstance(res, tuple) else [res]
        if arity == 2:
            h = g.copy()  # in place on grad
            res = fn(h, x, *params, out=h)
            out += res if isinstance(res, tuple) else [res]
            y = x.copy()  # one array as grad, x and out
            res = fn(y, y, *params, out=y)
            out += res if isinstance(res, tuple) else [res]
    if name in NAN_BITS:
        a = np.linspace(-0.5, 0.5, 7).astype(dt)
        a_special = np.concatenate([a, special]).astype(dt)
        x2 = x[: 7 * (x.size // 7)].reshape(-1, 7)
        g2 = g[: x2.size].reshape(x2.shape)
        xs = x[: a_special.size * (x.size // a_special.size)].reshape(-1, a_special.size)
        gs = g[: xs.size].reshape(xs.shape)
        out += [relu_rs.softplus(x, 2.5), relu_rs.softplus_grad(g, x, 0.7, 20.0),
                relu_rs.softplus_grad(g, x, 0.7, 20.0, from_output=True),
                relu_rs.relu(x, max_value=0.1), relu_rs.relu_grad(g, x, max_value=1e-310),
                relu_rs.prelu(x2, a, axis=1), *relu_rs.prelu_grad(g2, x2, a, axis=1),
                relu_rs.prelu(xs, a_special, axis=1),
                *relu_rs.prelu_grad(gs, xs, a_special, axis=1),
                relu_rs.prelu(xs.T, a_special, axis=0),
                *relu_rs.prelu_grad(gs.T, xs.T, a_special, axis=0)]
    elif name in ("int8", "uint8"):
        q = relu_rs.quantized
        a = np.linspace(-2.0, 2.0, 7)
        x2 = x[: 7 * (x.size // 7)].reshape(-1, 7)
        out += [q.prelu(x2, a, 0.5, 3, out_scale=0.25, out_zero_point=1),
                q.prelu(x2.T, a, 0.5, 3, axis=0), q.prelu(x2[::-3], a, 1e-3, 127, axis=-1),
                q.leaky_relu(x, -1.0, 1e30, 0, out_scale=1e-30), q.relu(x[::2], 7.0, 5),
                q.softplus(x, 0.125, 64, beta=0.5, out_scale=0.0625, out_zero_point=0)]
sys.stdout.write(relu_rs.info()["simd"] + "\n")
sys.stdout.flush()
sys.stdout.buffer.write(b"".join(np.ascontiguousarray(r).tobytes() for r in out))
""".replace("OP_TABLE", op_table())


def _run(path: str) -> tuple[str, bytes]:
    env = dict(os.environ, RELU_RS_SIMD=path)
    done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                          timeout=300, check=True)  # fmt: skip
    name, _, payload = done.stdout.partition(b"\n")
    return name.decode(), payload


def test_info_names_a_known_path() -> None:
    assert relu_rs.info()["simd"] in PATHS


def test_every_available_path_matches_scalar() -> None:
    name, scalar = _run("scalar")
    assert name == "scalar"
    seen = {"scalar"}
    for path in PATHS[1:]:
        got_name, payload = _run(path)
        # an unavailable path falls back to the best available one
        assert got_name in PATHS
        if got_name in seen:
            continue
        seen.add(got_name)
        if payload != scalar:
            got, want = np.frombuffer(payload, np.uint8), np.frombuffer(scalar, np.uint8)
            at = np.flatnonzero(got != want)
            raise AssertionError(
                f"{got_name} differs from scalar in {at.size} bytes, from {at[:8]}"
            )
    assert relu_rs.info()["simd"] in seen


def test_unknown_path_name_falls_back_to_the_best() -> None:
    best, _ = _run("")
    name, _ = _run("sse9000")
    assert name == best != "sse9000"
