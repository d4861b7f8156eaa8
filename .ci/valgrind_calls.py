"""Every op × dtype × layout × error path, small, for valgrind memcheck (.ci/valgrind)."""

import numpy as np

import relu_rs

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


for dtype in (np.float16, np.float32, np.float64):
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
        for bad in (lambda: fn(*arrays, *args, out=np.empty(3)),
                    lambda: fn(*((np.array(["a"]),) * arity), *args)):  # fmt: skip
            try:
                bad()
            except (TypeError, ValueError):
                pass
    x = rng.standard_normal((8, 6, 5)).astype(dtype)
    alpha = np.linspace(-0.5, 0.5, 6).astype(dtype)
    for axis in (1, -2):
        relu_rs.prelu(x, alpha, axis=axis)
        relu_rs.prelu_grad(np.ones_like(x), x, alpha, axis=axis, alpha_grad_out=np.empty(6, dtype))
    relu_rs.prelu(np.asfortranarray(x), alpha)
    relu_rs.prelu_grad(x, x, alpha, out=x)
    big = rng.standard_normal(300_000).astype(dtype)  # the pool and the large-array paths
    relu_rs.softplus(big, out=big)
    relu_rs.prelu_grad(big.reshape(-1, 100), big.reshape(-1, 100), np.full(100, 0.2, dtype))
for n in (1, 2, None):
    relu_rs.set_num_threads(n)
    relu_rs.relu(rng.standard_normal(200_000))
print("done")
