"""The quantized kernels' byte table lookup on each SIMD path, one thread, by CPU time.

    python docs/measure_byte_lookup.py [--sizes 1048576 16777216] [--paths avx512 avx2 scalar]

`relu_rs.quantized.leaky_relu(q, 0.1, 0.05, 0, out=o)` on int8 (one 256-entry table, then
`o[i] = table[q[i]]`) back to back, and a 1-thread `np.copyto(o, q)` of the same bytes for
scale; each figure is the best of 5 blocks of calls (each block at least ~0.3 s), in ns of this
thread's CPU time (time.thread_time) per byte, and GB/s of bytes looked up (the memory traffic
is twice that: each byte is read and written). Each path runs in its own process
(RELU_RS_SIMD is read once); a path the CPU lacks is reported and skipped.
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np


def per_byte(fn, n):
    fn()
    t = time.thread_time()
    fn()
    once = max(time.thread_time() - t, 1e-6)
    repeat = max(3, int(0.3 / once))
    best = float("inf")
    for _ in range(5):
        t = time.thread_time()
        for _ in range(repeat):
            fn()
        best = min(best, (time.thread_time() - t) / repeat / n)
    return best * 1e9


def child(sizes):
    import relu_rs
    from relu_rs import quantized

    relu_rs.set_num_threads(1)
    path = relu_rs.info()["simd"]
    if path != os.environ.get("RELU_RS_SIMD", path):
        print(f"| {os.environ['RELU_RS_SIMD']} | not on this CPU (runs {path}) |")
        return
    rng = np.random.default_rng(0)
    for n in sizes:
        q = rng.integers(-128, 128, size=n, dtype=np.int8)
        o = np.empty_like(q)
        rows = {
            f"leaky_relu int8 ({path})": lambda q=q, o=o: quantized.leaky_relu(
                q, 0.1, 0.05, 0, out=o
            ),
            "np.copyto (1 thread)": lambda q=q, o=o: np.copyto(o, q),
        }
        for name, fn in rows.items():
            ns = per_byte(fn, n)
            print(f"| {name} | {n >> 20}M | {ns:.3f} | {1 / ns:.1f} |", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1 << 20, 1 << 24])
    parser.add_argument("--paths", nargs="+", default=["avx512", "avx2", "scalar"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.sizes)
        return
    print("| what | bytes | ns/byte | GB/s |")
    print("|---|---:|---:|---:|")
    for path in args.paths:
        env = dict(os.environ, RELU_RS_SIMD=path)
        sizes = [str(n) for n in args.sizes]
        cmd = [sys.executable, __file__, "--child", "--sizes", *sizes]
        subprocess.run(cmd, env=env, check=True)


if __name__ == "__main__":
    main()
