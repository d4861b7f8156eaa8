"""Every op × dtype × layout × error path, small, for valgrind memcheck (.ci/valgrind)."""

import numpy as np

import relu_rs
from relu_rs import quantized as Q

try:
    import ml_dtypes

    HALF = (np.float16, ml_dtypes.bfloat16)
except ImportError:  # bfloat16 only where ml_dtypes is installed
    HALF = (np.float16,)

rng = np.random.default_rng(0)
OPS = [  # name, arity, extra args
    ("relu", 1, ()), ("relu_grad", 2, ()), ("leaky_relu", 1, (0.1,)),
    ("leaky_relu_grad", 2, (-0.3,)), ("prelu", 1, (0.25,)), ("prelu_grad", 2, (0.25,)),
    ("softplus", 1, ()), ("softplus", 1, (2.5, 20.0)), ("softplus_grad", 2, ()),
    ("softplus_grad", 2, (0.7,)),
]  # fmt: skip


def layouts(x: np.ndarray) -> list[np.ndarray]:
    c = x[: 4 * 5 * 6].reshape(4, 5, 6)
    return [c, np.asfortranarray(c), c[::-1, :, ::2], c.transpose(2, 0, 1), c[0, 0, 0],
            c[:0], np.broadcast_to(c[0, 0], (3, 6))]  # fmt: skip


for dtype in (*HALF, np.float32, np.float64):
    base = np.concatenate([rng.standard_normal(300) * 4,
                           [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-310]]).astype(dtype)  # fmt: skip
    for name, arity, args in OPS:
        fn = getattr(relu_rs, name)
        for x in layouts(base):
            g = np.ones_like(x)
            arrays = (x,) if arity == 1 else (g, x)
            fn(*arrays, *args)
            out = np.empty(np.shape(x), dtype=dtype, order="F")
            if np.ndim(x):
                fn(*arrays, *args, out=out)
                y = np.array(x)
                fn(*((y,) if arity == 1 else (g, y)), *args, out=y)  # in place
        b = base.copy()
        fn(*((b[:250],) if arity == 1 else (b[:250], b[:250])), *args, out=b[3:253])  # overlap
        # a wrong out shape, a str input
        for bad_arrays, kw in ((arrays, {"out": np.empty(3)}), ((np.array(["a"]),) * arity, {})):
            try:
                fn(*bad_arrays, *args, **kw)
            except (TypeError, ValueError):
                pass
    x = rng.standard_normal((8, 6, 5)).astype(dtype)
    alpha = np.linspace(-0.5, 0.5, 6).astype(dtype)
    for axis in (1, -2):
        relu_rs.prelu(x, alpha, axis=axis)
        relu_rs.prelu_grad(np.ones_like(x), x, alpha, axis=axis, alpha_grad_out=np.empty(6, dtype))
    # channel-innermost (the last axis), rows shorter and longer than a SIMD step
    for shape in ((40, 5), (9, 37)):
        xi = rng.standard_normal(shape).astype(dtype)
        ai = np.linspace(-0.5, 0.5, shape[1]).astype(dtype)
        relu_rs.prelu(xi, ai, axis=-1)
        relu_rs.prelu_grad(np.ones_like(xi), xi, ai, axis=-1)
    relu_rs.prelu(np.asfortranarray(x), alpha)
    relu_rs.prelu_grad(x, x, alpha, out=x)
    big = rng.standard_normal(300_000).astype(dtype)  # the pool and the large-array paths
    relu_rs.softplus(big, out=big)
    relu_rs.prelu_grad(big.reshape(-1, 100), big.reshape(-1, 100), np.full(100, 0.2, dtype))
# 8-bit quantized: every layout, out=, in place, overlap, per-channel, errors, the pool
for qdtype in (np.int8, np.uint8):
    q = rng.integers(0, 256, 400, dtype=np.uint8).view(qdtype)
    zp = 3 if qdtype == np.int8 else 130
    calls = [
        lambda v, zp=zp, **kw: Q.relu(v, 0.1, zp, **kw),
        lambda v, zp=zp, **kw: Q.leaky_relu(v, -0.3, 0.05, zp, out_scale=0.02, **kw),
        lambda v, zp=zp, **kw: Q.softplus(v, 0.2, zp, beta=1.5, **kw),
    ]
    for call in calls:
        for v in layouts(q):
            call(v)
            if np.ndim(v):
                call(v, out=np.empty(np.shape(v), dtype=qdtype, order="F"))
                w = np.array(v)
                call(w, out=w)
        b = q.copy()
        call(b[:250], out=b[3:253])
        for bad in ({"out": np.empty(3, qdtype)}, {"v": q.astype(np.int16)}):
            try:
                call(bad.pop("v", q), **bad)
            except (TypeError, ValueError):
                pass
    pq = q[:360].reshape(6, 6, 10)
    for axis in (1, -1):
        alpha = np.linspace(-0.5, 0.5, pq.shape[axis])
        Q.prelu(pq, alpha, 0.1, zp, axis=axis)
    Q.leaky_relu(rng.integers(0, 256, 300_000, dtype=np.uint8).view(qdtype), 0.1, 0.05, zp)
for n in (1, 2, None):
    relu_rs.set_num_threads(n)
    relu_rs.relu(rng.standard_normal(200_000))
print("done")
