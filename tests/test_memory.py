"""Memory: RSS stays flat over 100K+ calls (results and errors); in-place calls on 256 MiB arrays
allocate nothing of that size; arrays with more than 2**31 elements work. Every op of the
registry, on each of its dtypes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import relu_rs
from conftest import op_table

# Every op of the registry in place on 256 MiB of each of its dtypes (a gradient writes into grad;
# the dtypes take turns in the same two buffers, so the peak is theirs), and per-channel PReLU on
# an F-ordered array.
_PEAK_SCRIPT = r"""
import resource, numpy as np, relu_rs, relu_rs.quantized
from operator import attrgetter
try:
    import ml_dtypes  # bfloat16 is a dtype name np.dtype knows once this is imported
except ImportError:
    pass
OPS = OP_TABLE

def fill(a):  # -64..63 repeated, by doubling copies: no temporary of a's size
    k = 128
    a[:k] = np.arange(-64, 64).astype(a.dtype)
    while k < a.size:
        m = min(k, a.size - k)
        a[k : k + m] = a[:m]
        k += m

xb = np.ones(256 << 20, np.uint8)                                           # 256 MiB each
gb = np.ones(256 << 20, np.uint8)
f = np.asfortranarray(np.random.default_rng(0).standard_normal((1 << 12, 1 << 13)))
relu_rs.relu(f[:10, 0])                                                     # load everything
relu_rs.quantized.relu(xb[:10].view(np.int8), 1.0, 0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for name in dict.fromkeys(dt for *_, dtypes in OPS for dt in dtypes):
    x, g = xb.view(name), gb.view(name)
    fill(x)
    fill(g)
    for function, arity, params, kw, dtypes in OPS:
        if name in dtypes:
            fn = attrgetter(function)(relu_rs)
            if arity == 1:
                fn(x, *params, **kw, out=x)
            else:
                fn(g, x, *params, **kw, out=g)
relu_rs.prelu(f, np.full(1 << 13, 0.2), axis=1, out=f)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) // 1024)                                              # MiB
""".replace("OP_TABLE", op_table())


# Every op of the registry on each of its dtypes: fresh and out= results, zero-copy and copying
# paths, and the errors every op raises; then other parameters and per-channel PReLU.
_FLAT_SCRIPT = r"""
import os, statistics, sys, numpy as np, relu_rs, relu_rs.quantized
from functools import partial
from operator import attrgetter
try:
    import ml_dtypes  # bfloat16 is a dtype name np.dtype knows once this is imported
except ImportError:
    pass

OPS = OP_TABLE

def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

rng = np.random.default_rng(0)
ok, bad = [], []
leak = []
for function, arity, params, kw, dtypes in OPS:
    fn = partial(attrgetter(function)(relu_rs), **kw)
    for name in dtypes:
        x = (np.arange(160) - 80).reshape(4, 8, 5).astype(name)
        g = x[::-1].copy()
        out = np.empty_like(x)
        ro = np.empty_like(x)
        ro.flags.writeable = False
        other = np.empty(x.shape, np.float32 if name == "float64" else np.float64)
        xo = x.copy()  # this op's own x, which out= overlaps
        arrays, overlapping = ((x,), (xo,)) if arity == 1 else ((g, x), (g, xo))
        ok += [
            partial(fn, *arrays, *params),                          # fresh result
            partial(fn, *arrays, *params, out=out),                 # out=
            partial(fn, *(a.T for a in arrays), *params),           # F-ordered
            partial(fn, *(a[:, ::2] for a in arrays), *params),     # strided
            partial(fn, *overlapping, *params, out=xo[::-1]),       # out overlaps x
        ]
        bad += [  # errors raised in Python and in Rust
            partial(fn, *arrays, *params, out=ro),
            partial(fn, *arrays, *params, out=other),
            partial(fn, *arrays, *params, out=[1, 2]),
            partial(fn, *[np.array(["s"])] * arity, *params),
        ]
        if arity == 2:
            bad.append(partial(fn, g[:2], x, *params))
    # a list: converted to float64, which the quantized functions refuse
    (ok if "float64" in dtypes else bad).append(partial(fn, *[[1.0, -2.0]] * arity, *params))
x = rng.standard_normal((4, 8, 5)).astype(np.float32)
g = rng.standard_normal(x.shape).astype(np.float32)
alpha = np.full(8, 0.2, np.float32)
q = (np.arange(160) - 80).reshape(4, 8, 5).astype(np.int8)
ok += [
    lambda: relu_rs.prelu(x, alpha), lambda: relu_rs.prelu_grad(g, x, alpha),
    lambda: relu_rs.softplus(x[:, ::2], beta=2.0), lambda: relu_rs.prelu(np.float64(3.0), 0.5),
    lambda: relu_rs.quantized.prelu(q, alpha, 0.5, 3),
    lambda: relu_rs.quantized.softplus(q, 0.1, 0),
]
bad += [
    lambda: relu_rs.leaky_relu(x, "a"), lambda: relu_rs.prelu(x, alpha[:3]),
    lambda: relu_rs.prelu_grad(g, x, alpha, axis=7), lambda: relu_rs.softplus(x, beta=-1.0),
    lambda: relu_rs.prelu_grad(g, x, alpha, alpha_grad_out=np.empty(3, np.float32)),
    lambda: relu_rs.relu(x, max_value=-1.0), lambda: relu_rs.relu_grad(g, x, max_value="6"),
    lambda: relu_rs.relu(x.astype(np.int16), max_value=6.5),
    lambda: relu_rs.softplus_grad(g, x, from_output="yes"),
    lambda: relu_rs.quantized.relu(q, 0.0, 0), lambda: relu_rs.quantized.relu(q, 1.0, 200),
    lambda: relu_rs.quantized.prelu(q, alpha[:3], 0.5, 3),
    lambda: relu_rs.quantized.softplus(q, 0.1, 0, beta=np.nan),
]

CALLS = len(ok) + len(bad)
ROUNDS = 22_000 // CALLS  # ~22K calls per measured segment

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
            leak.append(bytes(9 * CALLS))  # a deliberate 9-byte-per-call leak

run(ROUNDS)  # warm up
deltas = []
for _ in range(6):
    before = rss_kib()
    run(ROUNDS)
    deltas.append(rss_kib() - before)
print(statistics.median(deltas), sum(deltas), ROUNDS * CALLS)
""".replace("OP_TABLE", op_table())


def _rss_growth_kib(mode: str) -> tuple[float, int, int]:
    """The median and total RSS growth (KiB) over 6 segments, and the calls in each segment."""
    out = subprocess.run([sys.executable, "-c", _FLAT_SCRIPT, mode], capture_output=True,
                         text=True, timeout=300, check=True)  # fmt: skip
    median, total, calls = out.stdout.split()
    return float(median), int(total), int(calls)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/statm")
def test_rss_stays_flat_over_many_calls_and_errors() -> None:
    # The per-segment median ignores a one-off step (an allocator arena: ~0.5 MiB once, seen
    # here); a leak grows every segment.
    median, total, calls = _rss_growth_kib("no-leak")
    assert median <= 64 and total <= 2048, (
        f"RSS grew {median} KiB per {calls} calls ({total} in all)"
    )


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/statm")
def test_rss_check_detects_a_small_leak() -> None:
    median, _, _ = _rss_growth_kib("leak")
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
