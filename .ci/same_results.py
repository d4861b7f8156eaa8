"""Every function on one fixed set of inputs, saved so that two machines or SIMD paths can be
compared bit for bit (.ci/test-aarch64 compares x86-64 with aarch64's NEON and scalar paths).

    python same_results.py inputs INPUTS.npz            the inputs (made once, on one machine)
    python same_results.py compute INPUTS.npz OUT.npz   every result, and the SIMD path that ran
    python same_results.py compare A.npz B.npz ...      byte-for-byte, each file against A

The inputs are made once and carried over, so both sides compute on the same bits whatever their
NumPy's random generators do. Runs on NumPy >= 1.23 (Debian bookworm's 1.24 included).
"""

from __future__ import annotations

import sys

import numpy as np

DTYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64}
ALPHAS = [0.01, 0.1, -0.3, 0.0, 1.5, 1e-30]
BETAS = [(1.0, None), (0.5, None), (2.0, None), (10.0, None), (1.0, 20.0), (3.0, 5.0)]
QDTYPES = {"i8": np.int8, "u8": np.uint8}
# (scale, zero point, out_scale, out_zero_point) for relu_rs.quantized: ties, saturation, tiny
QPARAMS = [(0.1, 3, None, None), (0.05, -7, 0.2, 5), (1.5, 0, 0.01, 0), (1e-3, 20, 3e-3, -4)]


def make_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240917)
    arrays: dict[str, np.ndarray] = {}
    for tag, dtype in DTYPES.items():
        fi = np.finfo(dtype)
        special = [
            np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 3.0, -2.5,
            float(fi.max), -float(fi.max), float(fi.tiny), -float(fi.tiny),
            float(fi.smallest_subnormal), -float(fi.smallest_subnormal),
            20.0, 20.5, -20.5, 40.0, -40.0, 88.7, -88.7, 100.0, -100.0, 709.0, -745.0,
        ]  # fmt: skip
        with np.errstate(over="ignore"):
            special_arr = np.array(special).astype(dtype)
        nbits = np.dtype(dtype).itemsize * 8
        utype = {16: np.uint16, 32: np.uint32, 64: np.uint64}[nbits]
        if nbits == 16:
            bits = np.arange(2**16, dtype=np.uint16)  # every float16, NaNs and subnormals too
        else:
            bits = rng.integers(0, 2**nbits - 1, 40_000, dtype=utype, endpoint=True)
        every = bits.view(dtype)
        normal = (rng.standard_normal(40_000) * 8).astype(dtype)
        # past the parallel threshold (src/parallel.rs: 128K elements for relu), with odd tails
        big = (rng.standard_normal(2**17 + 4097) * 30).astype(dtype)
        x = np.concatenate([special_arr, every, normal, big])
        arrays[f"x_{tag}"] = x
        with np.errstate(over="ignore"):
            g = (rng.standard_normal(x.size) * 3).astype(dtype)
        g[: special_arr.size] = special_arr[::-1]  # special gradients too
        arrays[f"g_{tag}"] = g
        # PReLU: (N, C, L) with one alpha per channel on axis 1 and per last-axis entry on axis -1
        arrays[f"px_{tag}"] = (rng.standard_normal((6, 5, 4099)) * 4).astype(dtype)
        arrays[f"pg_{tag}"] = (rng.standard_normal((6, 5, 4099)) * 2).astype(dtype)
        arrays[f"pa1_{tag}"] = np.array([0.25, -0.5, 0.0, 0.01, 2.0], dtype=dtype)
        arrays[f"pa2_{tag}"] = (rng.standard_normal(4099) * 0.3).astype(dtype)
    # 8-bit quantized: every byte, then enough random ones to run on every thread
    for tag, dtype in QDTYPES.items():
        every = np.arange(256, dtype=np.uint8).view(dtype)
        random = rng.integers(0, 256, 2**18 + 4097, dtype=np.uint8).view(dtype)
        arrays[f"q_{tag}"] = np.concatenate([every, random])
        arrays[f"pq_{tag}"] = rng.integers(0, 256, (6, 5, 4099), dtype=np.uint8).view(dtype)
    return arrays


def compute(inp: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import relu_rs

    out: dict[str, np.ndarray] = {}
    for tag in DTYPES:
        x, g = inp[f"x_{tag}"], inp[f"g_{tag}"]
        out[f"relu/{tag}"] = relu_rs.relu(x)
        out[f"relu_grad/{tag}"] = relu_rs.relu_grad(g, x)
        for a in ALPHAS:
            out[f"leaky_relu/{tag}/{a}"] = relu_rs.leaky_relu(x, a)
            out[f"leaky_relu_grad/{tag}/{a}"] = relu_rs.leaky_relu_grad(g, x, a)
        for beta, thr in BETAS:
            out[f"softplus/{tag}/{beta}/{thr}"] = relu_rs.softplus(x, beta, thr)
            out[f"softplus_grad/{tag}/{beta}/{thr}"] = relu_rs.softplus_grad(g, x, beta, thr)
        px, pg = inp[f"px_{tag}"], inp[f"pg_{tag}"]
        for axis, akey in [(1, "pa1"), (-1, "pa2")]:
            alpha = inp[f"{akey}_{tag}"]
            out[f"prelu/{tag}/axis{axis}"] = relu_rs.prelu(px, alpha, axis=axis)
            gx, ga = relu_rs.prelu_grad(pg, px, alpha, axis=axis)
            out[f"prelu_grad/{tag}/axis{axis}/x"] = gx
            out[f"prelu_grad/{tag}/axis{axis}/alpha"] = ga
            # a strided (non-contiguous) view takes the other code path
            gx, ga = relu_rs.prelu_grad(pg[:, :, ::3], px[:, :, ::3], alpha[::3] if axis == -1
                                        else alpha, axis=axis)  # fmt: skip
            out[f"prelu_grad/{tag}/axis{axis}/strided/x"] = gx
            out[f"prelu_grad/{tag}/axis{axis}/strided/alpha"] = ga
        # scalar prelu on the flat input, as the op registry calls it
        out[f"prelu/{tag}/scalar"] = relu_rs.prelu(x, 0.25)
    from relu_rs import quantized as Q

    for tag in QDTYPES:
        q, pq = inp[f"q_{tag}"], inp[f"pq_{tag}"]
        shift = 128 if q.dtype == np.uint8 else 0  # the zero points move with the dtype's range
        for i, (scale, zp, out_scale, out_zp) in enumerate(QPARAMS):
            zp, out_zp = zp + shift, None if out_zp is None else out_zp + shift
            kw = {"out_scale": out_scale, "out_zero_point": out_zp}
            out[f"quantized.relu/{tag}/{i}"] = Q.relu(q, scale, zp, **kw)
            for a in ALPHAS:
                out[f"quantized.leaky_relu/{tag}/{i}/{a}"] = Q.leaky_relu(q, a, scale, zp, **kw)
            out[f"quantized.prelu/{tag}/{i}"] = Q.prelu(pq, inp["pa1_f64"], scale, zp, **kw)
            for beta, _ in BETAS:
                out[f"quantized.softplus/{tag}/{i}/{beta}"] = Q.softplus(q, scale, zp, beta=beta,
                                                                        **kw)  # fmt: skip
    out["__info__"] = np.array(
        [f"{k}={v}" for k, v in relu_rs.info().items()] + [f"numpy={np.__version__}"]
    )
    return out


def compare(files: list[str]) -> int:
    loaded = [np.load(f) for f in files]
    for f, d in zip(files, loaded, strict=True):
        print(f"{f}: {' '.join(d['__info__'])}")
    ref = loaded[0]
    keys = sorted(k for k in ref.files if k != "__info__")
    status = 0
    for f, d in zip(files[1:], loaded[1:], strict=True):
        missing = set(keys) ^ {k for k in d.files if k != "__info__"}
        if missing:
            print(f"FAIL {f}: different result sets: {sorted(missing)}")
            status = 1
            continue
        differ = []
        for k in keys:
            a, b = ref[k], d[k]
            if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
                differ.append(k)
        values = sum(ref[k].size for k in keys)
        if differ:
            status = 1
            print(f"FAIL {f}: {len(differ)} of {len(keys)} results differ from {files[0]}:")
            for k in differ[:20]:
                a, b = ref[k], d[k]
                if a.shape == b.shape and a.dtype == b.dtype:
                    ua = a.reshape(-1).view(f"u{a.itemsize}")
                    ub = b.reshape(-1).view(f"u{b.itemsize}")
                    bad = np.flatnonzero(ua != ub)
                    nan_only = bool(np.isnan(a.reshape(-1)[bad]).all()
                                    and np.isnan(b.reshape(-1)[bad]).all())  # fmt: skip
                    print(f"  {k}: {bad.size} values differ"
                          f"{' (NaN payloads only)' if nan_only else ''}, first at {bad[0]}: "
                          f"{a.reshape(-1)[bad[0]]!r} vs {b.reshape(-1)[bad[0]]!r}")  # fmt: skip
                else:
                    print(f"  {k}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}")
        else:
            print(f"same bits: {f} = {files[0]} ({len(keys)} results, {values} values)")
    return status


def main() -> int:
    cmd, *args = sys.argv[1:]
    if cmd == "inputs":
        np.savez(args[0], **make_inputs())
        return 0
    if cmd == "compute":
        with np.load(args[0]) as f:
            inp = {k: f[k] for k in f.files}
        res = compute(inp)
        np.savez(args[1], **res)
        print(f"{args[1]}: {len(res) - 1} results, {' '.join(res['__info__'])}")
        return 0
    if cmd == "compare":
        return compare(args)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
