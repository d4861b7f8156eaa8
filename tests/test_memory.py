"""Memory: RSS stays flat over 100K+ calls (results and errors); in-place calls on a 256 MiB array
allocate nothing of that size; arrays with more than 2**31 elements work."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import relu_rs

_PEAK_SCRIPT = r"""
import resource, numpy as np, relu_rs
x = np.random.default_rng(0).standard_normal(1 << 25).astype(np.float64)   # 256 MiB
g = np.ones_like(x)
f = np.asfortranarray(x.reshape(1 << 12, 1 << 13))
relu_rs.relu(x[:10])                                                        # load everything
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
relu_rs.relu(x, out=x)
relu_rs.leaky_relu(x, 0.1, out=x)
relu_rs.softplus(x, out=x)
relu_rs.relu_grad(g, x, out=g)
relu_rs.softplus_grad(g, x, out=g)
relu_rs.prelu(f, np.full(1 << 13, 0.2), axis=1, out=f)
relu_rs.prelu_grad(g, x, 0.3, out=g)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) // 1024)                                              # MiB
"""


_FLAT_SCRIPT = r"""
import os, statistics, sys, numpy as np, relu_rs

def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

rng = np.random.default_rng(0)
x = rng.standard_normal((4, 8, 5)).astype(np.float32)
g = rng.standard_normal(x.shape).astype(np.float32)
alpha = np.full(8, 0.2, np.float32)
out = np.empty_like(x)
ro = np.empty_like(x)
ro.flags.writeable = False
leak = []
ok = [  # every function; fresh and out= results; zero-copy and copying paths
    lambda: relu_rs.relu(x, out=out), lambda: relu_rs.relu(x), lambda: relu_rs.relu([1.0, -2.0]),
    lambda: relu_rs.relu_grad(g, x, out=out), lambda: relu_rs.leaky_relu(x.T, 0.1),
    lambda: relu_rs.leaky_relu_grad(g, x, 0.1, out=out), lambda: relu_rs.prelu(x, alpha),
    lambda: relu_rs.prelu_grad(g, x, alpha), lambda: relu_rs.softplus(x[:, ::2], beta=2.0),
    lambda: relu_rs.softplus_grad(g, x, out=out), lambda: relu_rs.relu(x, out=x[::-1]),
    lambda: relu_rs.prelu(np.float64(3.0), 0.5),
]
bad = [  # errors raised in Python and in Rust
    lambda: relu_rs.relu(x, out=ro), lambda: relu_rs.relu(x, out=out.astype(np.float64)),
    lambda: relu_rs.relu_grad(g[:2], x), lambda: relu_rs.leaky_relu(x, "a"),
    lambda: relu_rs.prelu(x, alpha[:3]), lambda: relu_rs.prelu_grad(g, x, alpha, axis=7),
    lambda: relu_rs.softplus(x, beta=-1.0), lambda: relu_rs.relu(np.array(["s"])),
    lambda: relu_rs.softplus_grad(g, x, out=[1, 2]),
    lambda: relu_rs.prelu_grad(g, x, alpha, alpha_grad_out=np.empty(3, np.float32)),
]

def run(rounds):
    for _ in range(rounds):
        for f in ok:
            f()
        for f in bad:
            try:
                f()
            except (TypeError, ValueError):
                pass
            else:
                raise AssertionError("no error")
        if sys.argv[1] == "leak":
            leak.append((np.empty(1), np.empty(1)))  # a deliberate ~9-byte-per-call leak

run(1000)  # warm up
deltas = []
for _ in range(6):  # 6 x 1000 rounds x 22 calls = 132K calls
    before = rss_kib()
    run(1000)
    deltas.append(rss_kib() - before)
print(statistics.median(deltas), sum(deltas))
"""


def _rss_growth_kib(mode: str) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-c", _FLAT_SCRIPT, mode], capture_output=True,
                         text=True, timeout=300, check=True)  # fmt: skip
    median, total = out.stdout.split()
    return float(median), int(total)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/statm")
def test_rss_stays_flat_over_many_calls_and_errors() -> None:
    # The per-segment median ignores a one-off step (an allocator arena: ~0.5 MiB once, seen
    # here); a leak grows every segment.
    median, total = _rss_growth_kib("no-leak")
    assert median <= 64 and total <= 2048, f"RSS grew {median} KiB per 22K calls ({total} in all)"


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/statm")
def test_rss_check_detects_a_small_leak() -> None:
    median, _ = _rss_growth_kib("leak")
    assert median > 64, "the RSS check cannot see a ~9-byte-per-call leak"


def _mem_available_gib() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units and /proc are Linux's")
def test_in_place_calls_do_not_raise_peak_memory() -> None:
    out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT], capture_output=True, text=True,
                         timeout=300, check=True)  # fmt: skip
    grown_mib = int(out.stdout.strip())
    assert grown_mib < 16, f"peak RSS grew by {grown_mib} MiB during in-place calls"


@pytest.mark.skipif(_mem_available_gib() < 6, reason="needs ~2.2 GiB free for the array")
def test_more_than_2_to_the_31_elements() -> None:
    n = 2**31 + 9
    x = np.empty(n, dtype=np.int8)
    x[:16] = -5
    x[-16:] = np.arange(-8, 8, dtype=np.int8)
    relu_rs.relu(x[:16], out=x[:16])
    relu_rs.relu(x, out=x)
    assert (x[:16] == 0).all()
    np.testing.assert_array_equal(x[-16:], np.maximum(np.arange(-8, 8), 0))
    y = relu_rs.leaky_relu(x[-4:].astype(np.float32), 0.5)
    assert y.dtype == np.float32
