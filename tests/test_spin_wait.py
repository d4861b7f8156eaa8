"""Threads that stay ready between calls: bounded in time, off when asked, and the setting's
checks. The idle-CPU tests read the CPU time of relu_rs's own threads across a sleep (from
/proc, Linux): the whole process's also counts NumPy's OpenBLAS threads, which spin on their own
for a while after start-up."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import numpy as np
import pytest

import relu_rs

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/task"), reason="reads per-thread CPU time from /proc"
)


def _cpu_seconds() -> float:
    """CPU time of this process's relu_rs threads (schedstat: nanoseconds on a CPU)."""
    total = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if not f.read().startswith("relu_rs"):
                    continue
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:  # a thread that just exited
            continue
    return total / 1e9


def _cpu_while_sleeping(seconds: float) -> float:
    start = _cpu_seconds()
    time.sleep(seconds)
    return _cpu_seconds() - start


def _parallel_calls() -> None:
    x = np.ones(1 << 21, dtype=np.float32)  # far above the parallel threshold
    for _ in range(20):
        relu_rs.relu(x, out=x)


@pytest.fixture
def two_threads() -> Iterator[None]:
    relu_rs.set_num_threads(2)
    yield
    relu_rs.set_num_threads(None)
    relu_rs.set_spin_wait(None)


def test_default_is_500_us_and_none_restores_it() -> None:
    assert relu_rs.get_spin_wait() == 500
    relu_rs.set_spin_wait(0)
    assert relu_rs.get_spin_wait() == 0
    relu_rs.set_spin_wait(None)
    assert relu_rs.get_spin_wait() == 500


@pytest.mark.usefixtures("two_threads")
def test_idle_process_stops_using_cpu_within_a_millisecond() -> None:
    _parallel_calls()
    time.sleep(0.005)  # the default wait (0.5 ms) is long over
    assert _cpu_while_sleeping(0.3) < 0.02


@pytest.mark.usefixtures("two_threads")
def test_the_cpu_check_sees_a_waiting_thread() -> None:
    # the control for the test above: a 0.1 s wait keeps one thread spinning through a
    # 0.1 s sleep, and the same measurement sees it (10% of it even on a busy machine)
    relu_rs.set_spin_wait(100_000)
    _parallel_calls()
    assert _cpu_while_sleeping(0.1) > 0.01


@pytest.mark.usefixtures("two_threads")
def test_zero_turns_waiting_off() -> None:
    relu_rs.set_spin_wait(0)
    _parallel_calls()
    time.sleep(0.002)  # rayon's own brief idle spin
    assert _cpu_while_sleeping(0.2) < 0.01


@pytest.mark.usefixtures("two_threads")
@pytest.mark.parametrize("us", [0, 1, 100_000])
def test_results_do_not_depend_on_the_wait(us: int) -> None:
    relu_rs.set_spin_wait(us)
    x = np.random.default_rng(0).standard_normal(1 << 20).astype(np.float32)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    for _ in range(3):
        np.testing.assert_array_equal(relu_rs.relu(x), np.maximum(x, 0))
        np.testing.assert_array_equal(relu_rs.relu_grad(g, x), np.where(x > 0, g, 0))


@pytest.mark.parametrize(
    ("us", "error", "match"),
    [
        (-1, ValueError, "us must be between 0 and 100000, got -1"),
        (100_001, ValueError, "us must be between 0 and 100000, got 100001"),
        (2**70, ValueError, "us must be between 0 and 100000"),
        (1.5, TypeError, "us must be an integer or None"),
        (True, TypeError, "us must be an integer or None"),
        ("5", TypeError, "us must be an integer or None"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(
    us: object, error: type[Exception], match: str
) -> None:
    before = relu_rs.get_spin_wait()
    with pytest.raises(error, match=match):
        relu_rs.set_spin_wait(us)  # type: ignore[arg-type]
    assert relu_rs.get_spin_wait() == before
