"""SIMD dispatch: info() names the path, RELU_RS_SIMD forces a lower one, and every path gives
bit-identical results to the scalar one (the same IEEE operations, FMA included)."""

from __future__ import annotations

import os
import subprocess
import sys

import relu_rs
from conftest import op_table

PATHS = ["scalar", "avx2", "avx512", "neon"]

# Every op of the registry with its params, then other parameters and per-channel PReLU.
_SCRIPT = r"""
import sys, numpy as np, relu_rs
OPS = OP_TABLE
rng = np.random.default_rng(0)
special = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-310, -1e-310, 30.0, -700.0, 745.0]
out = []
for dt in (np.float16, np.float32, np.float64):
    with np.errstate(over="ignore"):
        x = np.concatenate([rng.standard_normal(70_001) * 30, special]).astype(dt)
    g = rng.standard_normal(x.size).astype(dt)
    a = np.linspace(-0.5, 0.5, 7).astype(dt)
    x2 = x[: 7 * (x.size // 7)].reshape(-1, 7)
    g2 = g[: x2.size].reshape(x2.shape)
    for name, arity, params in OPS:
        res = getattr(relu_rs, name)(*((x,) if arity == 1 else (g, x)), *params)
        out += res if isinstance(res, tuple) else [res]
    out += [relu_rs.softplus(x, 2.5), relu_rs.softplus_grad(g, x, 0.7, 20.0),
            relu_rs.prelu(x2, a, axis=1), *relu_rs.prelu_grad(g2, x2, a, axis=1)]
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
        assert payload == scalar, f"{got_name} differs from scalar"
    assert relu_rs.info()["simd"] in seen


def test_unknown_path_name_falls_back_to_the_best() -> None:
    best, _ = _run("")
    name, _ = _run("sse9000")
    assert name == best != "sse9000"
