"""relu out= on 1M float32, 2 threads, in loops with different work between the calls, with the
threads' spin wait off (0) and at its default (500 µs): per-call time of relu alone and of the
whole loop iteration. ``python docs/measure_spin_wait.py`` (docs/performance.md quotes it)."""

import time

import numpy as np

import relu_rs

rng = np.random.default_rng(0)
x = rng.standard_normal(1 << 20).astype(np.float32)
out = np.empty_like(x)
a = rng.standard_normal((256, 256)).astype(np.float32)
w = rng.standard_normal((256, 256)).astype(np.float32)
gaps = {
    "none": lambda: None,
    "sleep 200 µs": lambda: time.sleep(0.0002),
    "matmul 256² (NumPy's BLAS threads)": lambda: a @ w,
}
relu_rs.set_num_threads(2)
for _ in range(300):  # warm-up: the pool, the pages, the clocks
    relu_rs.relu(x, out=out)
print("| between calls | spin wait | relu median µs | relu p90 µs | loop µs per iteration |")
print("|---|---:|---:|---:|---:|")
for name, gap in gaps.items():
    for spin in (0, 500, 0, 500):  # each twice, alternating, to show the run-to-run spread
        relu_rs.set_spin_wait(spin)
        times = []
        start = time.perf_counter()
        for _ in range(600):
            gap()
            t = time.perf_counter()
            relu_rs.relu(x, out=out)
            times.append(time.perf_counter() - t)
        loop = (time.perf_counter() - start) / 600
        t_us = np.array(times[50:]) * 1e6
        print(f"| {name} | {spin} | {np.median(t_us):.1f} | {np.percentile(t_us, 90):.1f} "
              f"| {loop * 1e6:.1f} |")  # fmt: skip
