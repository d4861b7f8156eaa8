"""Stress, bounded in time: fork while other threads are inside relu_rs calls and one changes the
thread count; racing calls on one array; thread-count limits; a pool that cannot start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest

import relu_rs

_CHILD_DEADLINE_S = 30


def _child_result(x: np.ndarray, g: np.ndarray) -> bytes:
    """What a forked child computes: large calls (the pool) of every kind, as bytes."""
    gx, ga = relu_rs.prelu_grad(g, x, np.full(x.shape[1], 0.25, x.dtype))
    return b"".join(r.tobytes() for r in (relu_rs.relu(x), relu_rs.softplus(x), gx, ga))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_fork_while_other_threads_compute_and_change_the_thread_count() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 1024)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    relu_rs.set_num_threads(2)
    want = _child_result(x, g)
    stop = threading.Event()

    def compute() -> None:
        while not stop.is_set():
            relu_rs.prelu_grad(g, x, np.full(1024, 0.3, np.float32))
            relu_rs.softplus(x)

    def change_threads() -> None:
        n = 0
        while not stop.is_set():
            relu_rs.set_num_threads(1 + n % 3)
            relu_rs.relu(x)  # builds the pool for that count
            n += 1

    workers = [threading.Thread(target=compute) for _ in range(3)]
    workers.append(threading.Thread(target=change_threads))
    for w in workers:
        w.start()
    children: list[tuple[int, int]] = []  # (pid, read end of its pipe)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
            for _ in range(12):
                time.sleep(0.02)
                read, write = os.pipe()
                pid = os.fork()
                if pid == 0:  # the child: compute, report, exit without cleanup
                    try:
                        os.close(read)
                        relu_rs.set_num_threads(2)
                        os.write(write, b"ok" if _child_result(x, g) == want else b"wrong")
                    finally:
                        os._exit(0)
                os.close(write)
                children.append((pid, read))
    finally:
        stop.set()
        for w in workers:
            w.join()
    deadline = time.monotonic() + _CHILD_DEADLINE_S
    outcomes = []
    for pid, read in children:
        while True:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if not done:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            outcomes.append("hung")
        else:
            outcomes.append(os.read(read, 16).decode() or "no answer")
        os.close(read)
    assert outcomes == ["ok"] * len(children)


def test_racing_calls_on_one_array_compute() -> None:
    """One thread rewrites x in place (large: the GIL is released) while others read it: a data
    race on the caller's own array, which NumPy would compute through too. Every call returns an
    array; none raises."""
    x = np.random.default_rng(1).standard_normal(1 << 22).astype(np.float32)
    y = np.empty_like(x)
    stop = threading.Event()
    errors: list[BaseException] = []

    def rewrite() -> None:
        try:
            while not stop.is_set():
                relu_rs.softplus(x, out=x)
                x[:] = -x
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def read() -> None:
        try:
            for _ in range(60):
                relu_rs.relu(x, out=y)
                relu_rs.relu_grad(x, x)
                relu_rs.prelu_grad(x[: 1 << 20].reshape(-1, 64), x[: 1 << 20].reshape(-1, 64),
                                   np.full(64, 0.2, np.float32))  # fmt: skip
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    writer = threading.Thread(target=rewrite)
    readers = [threading.Thread(target=read) for _ in range(2)]
    writer.start()
    for r in readers:
        r.start()
    for r in readers:
        r.join()
    stop.set()
    writer.join()
    assert errors == []
    np.testing.assert_array_equal(relu_rs.relu(x), np.maximum(x, 0))


def test_thread_count_is_capped() -> None:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert cpus is not None
    limit = 8 * cpus
    relu_rs.set_num_threads(limit)
    assert relu_rs.get_num_threads() == limit
    for n in (limit + 1, 5000, 10**30):
        with pytest.raises(ValueError, match=f"n must be at most {limit}"):
            relu_rs.set_num_threads(n)
    assert relu_rs.get_num_threads() == limit  # unchanged by the refused calls


_NO_THREADS_SCRIPT = r"""
import resource, time, warnings, numpy as np, relu_rs
x = np.random.default_rng(2).standard_normal(1 << 22).astype(np.float32)
want = np.maximum(x, 0)
outs = [np.empty_like(x) for _ in range(5)]
relu_rs.set_num_threads(16)
# no room for a thread's stack: the pool cannot start
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
with open("/proc/self/statm") as f:
    size = int(f.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + (4 << 20), hard))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    got = [relu_rs.relu(x, out=o) for o in outs]
    start = time.perf_counter()
    for _ in range(20):
        relu_rs.relu(x, out=outs[0])
    per_call = (time.perf_counter() - start) / 20
resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
assert all(np.array_equal(g, want) for g in got), "wrong result"
messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
assert len(messages) == 1 and "could not start" in messages[0], messages
print(per_call)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/statm")
def test_a_pool_that_cannot_start_runs_serially_and_says_so_once() -> None:
    done = subprocess.run([sys.executable, "-c", _NO_THREADS_SCRIPT], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    # not retried on every call: a retry spawned threads for seconds under the old code
    assert float(done.stdout) < 0.5


_MANY_CHANNELS_SCRIPT = r"""
import resource, numpy as np, relu_rs
n = 1 << 22                                       # channels, one row, channel-innermost
x = np.random.default_rng(3).standard_normal((1, n)).astype(np.float16)
g = np.ones_like(x)
alpha = np.full(n, 0.25, np.float16)
out, alpha_out = np.empty_like(x), np.empty_like(alpha)
relu_rs.prelu_grad(g[:, :64], x[:, :64], alpha[:64])     # load everything
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
relu_rs.prelu_grad(g, x, alpha, out=out, alpha_grad_out=alpha_out)
relu_rs.prelu(x, alpha, out=out)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
want = np.where(x < 0, g.astype(np.float64) * x, 0).astype(np.float16)[0]
assert np.array_equal(alpha_out, want)
print((after - before) / 1024)                    # MiB above the arrays the caller made
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB")
def test_many_channels_need_temporaries_bounded_per_thread() -> None:
    """4M channels of float16 (8 MiB per array): the α-gradient's temporaries stay a batch of
    tiles' partial sums, not ~40 bytes per channel (152.7 MiB with the build before)."""
    done = subprocess.run([sys.executable, "-c", _MANY_CHANNELS_SCRIPT], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    # the one array of the α-gradient's size is the fresh result copied into alpha_grad_out
    assert float(done.stdout) < 12, f"{done.stdout.strip()} MiB of temporaries"


_MEMORY_ERROR_SCRIPT = r"""
import resource, numpy as np, relu_rs
x = np.ones(1 << 24, np.float32)                  # 64 MiB
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
with open("/proc/self/statm") as f:
    size = int(f.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + (16 << 20), hard))
for call in (lambda: relu_rs.relu(x), lambda: relu_rs.softplus_grad(x, x),
             lambda: relu_rs.relu(x[::2])):
    try:
        call()
    except MemoryError:
        pass
    else:
        raise AssertionError("no MemoryError")
print("ok")
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/statm")
def test_an_output_that_cannot_be_allocated_is_a_memory_error() -> None:
    done = subprocess.run([sys.executable, "-c", _MEMORY_ERROR_SCRIPT], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
