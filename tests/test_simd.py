"""SIMD dispatch: info() names the path, RELU_RS_SIMD forces a lower one, and every path gives
bit-identical results to the scalar one (the same IEEE operations, FMA included)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import relu_rs
from conftest import op_table

PATHS = ["scalar", "avx2", "avx512", "neon"]

# Every op of the registry with its params, then other parameters (softplus_grad from the output
# at beta != 1, relu's max_value inexact in the dtype and subnormal) and per-channel PReLU; each
# out of place and in place (on x, on grad, and on one array that is both), over random values
# and every pair of special values (NaN payloads of both signs, signalling NaNs, ±inf, ±0,
# subnormals), so that NaN signs and payloads are compared too.
_SCRIPT = r"""
import sys, numpy as np, relu_rs
from functools import partial
OPS = OP_TABLE
rng = np.random.default_rng(0)
NAN_BITS = {np.float16: (np.uint16, [0x7E01, 0xFE55, 0x7C01, 0xFC02]),
            np.float32: (np.uint32, [0x7FC00001, 0xFFC12345, 0x7F800001, 0xFF800002]),
            np.float64: (np.uint64, [0x7FF8000000000001, 0xFFF8000000012345,
                                     0x7FF0000000000001, 0xFFF0000000000002])}
DTYPES = [np.float16, np.float32, np.float64]
try:
    import ml_dtypes
    NAN_BITS[ml_dtypes.bfloat16] = (np.uint16, [0x7FC1, 0xFFD5, 0x7F81, 0xFF82])
    DTYPES.append(ml_dtypes.bfloat16)
except ImportError:
    pass
out = []
for dt in DTYPES:
    utype, nan_bits = NAN_BITS[dt]
    nans = np.array(nan_bits, dtype=utype).view(dt)
    with np.errstate(over="ignore"):
        special = np.concatenate([nans, np.array(
            [np.inf, -np.inf, 0.0, -0.0, 1e-310, -1e-310, 30.0, -700.0, 745.0, -746.0, 1.0],
            ).astype(dt)])
        x = np.concatenate([rng.standard_normal(70_001) * 30, np.repeat(special, special.size),
                            np.tile(special, 3)]).astype(dt)
        g = np.concatenate([rng.standard_normal(70_001) * 30, np.tile(special, special.size),
                            np.repeat(special, 3)]).astype(dt)
    a = np.linspace(-0.5, 0.5, 7).astype(dt)
    a_special = np.concatenate([a, special]).astype(dt)
    x2 = x[: 7 * (x.size // 7)].reshape(-1, 7)
    g2 = g[: x2.size].reshape(x2.shape)
    xs = x[: a_special.size * (x.size // a_special.size)].reshape(-1, a_special.size)
    gs = g[: xs.size].reshape(xs.shape)
    for name, arity, params, kw in OPS:
        fn = partial(getattr(relu_rs, name), **kw)
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
    out += [relu_rs.softplus(x, 2.5), relu_rs.softplus_grad(g, x, 0.7, 20.0),
            relu_rs.softplus_grad(g, x, 0.7, 20.0, from_output=True),
            relu_rs.relu(x, max_value=0.1), relu_rs.relu_grad(g, x, max_value=1e-310),
            relu_rs.prelu(x2, a, axis=1), *relu_rs.prelu_grad(g2, x2, a, axis=1),
            relu_rs.prelu(xs, a_special, axis=1), *relu_rs.prelu_grad(gs, xs, a_special, axis=1),
            relu_rs.prelu(xs.T, a_special, axis=0), *relu_rs.prelu_grad(gs.T, xs.T, a_special,
                                                                         axis=0)]
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
