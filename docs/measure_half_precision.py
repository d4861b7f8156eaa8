"""Per-element cost of every function on float16 and bfloat16, one thread, by CPU time.

    python docs/measure_half_precision.py [--n 1048576] [--repeat 200]

Each function runs back to back on n elements with out=; the figure is the best of 5 blocks of
`repeat` calls, in nanoseconds of this thread's CPU time per element (time.thread_time), so
other load on the machine moves it little. RELU_RS_SIMD=avx2|scalar measures another path.
"""

import argparse
import time

import ml_dtypes
import numpy as np

import relu_rs


def per_element(fn, n, repeat):
    best = float("inf")
    for _ in range(5):
        t = time.thread_time()
        for _ in range(repeat):
            fn()
        best = min(best, (time.thread_time() - t) / repeat / n * 1e9)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1 << 20)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    relu_rs.set_num_threads(1)
    n = args.n
    rng = np.random.default_rng(0)
    base = rng.standard_normal(n) * 3
    channels = 64
    print(f"simd={relu_rs.info()['simd']} n={n}: ns per element, one thread")
    print(f"{'function':<26}{'float16':>9}{'bfloat16':>10}{'ratio':>7}")
    rows = {
        "relu": lambda x, g, o, a: relu_rs.relu(x, out=o),
        "relu_grad": lambda x, g, o, a: relu_rs.relu_grad(g, x, out=o),
        "leaky_relu": lambda x, g, o, a: relu_rs.leaky_relu(x, 0.01, out=o),
        "leaky_relu_grad": lambda x, g, o, a: relu_rs.leaky_relu_grad(g, x, 0.01, out=o),
        "prelu (N, 64)": lambda x, g, o, a: relu_rs.prelu(x, a, out=o),
        "prelu_grad (N, 64)": lambda x, g, o, a: relu_rs.prelu_grad(g, x, a, out=o),
        "softplus": lambda x, g, o, a: relu_rs.softplus(x, out=o),
        "softplus_grad": lambda x, g, o, a: relu_rs.softplus_grad(g, x, out=o),
    }
    for name, call in rows.items():
        cost = []
        for dtype in (np.float16, ml_dtypes.bfloat16):
            x = base.astype(dtype).reshape(-1, channels)
            g = rng.standard_normal(n).astype(dtype).reshape(-1, channels)
            o = np.empty_like(x)
            a = np.linspace(-0.5, 0.5, channels).astype(dtype)
            if name.startswith("prelu_grad"):
                o = None  # prelu_grad returns (dx, dalpha)
            cost.append(per_element(lambda: call(x, g, o, a), n, args.repeat))
        print(f"{name:<26}{cost[0]:>9.3f}{cost[1]:>10.3f}{cost[1] / cost[0]:>7.2f}")


if __name__ == "__main__":
    main()
