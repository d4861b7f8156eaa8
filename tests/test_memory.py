"""Zero-copy: in-place calls on a 256 MiB array do not allocate anything of that size; arrays
with more than 2**31 elements work."""

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
