"""Threads: bit-identical results for every thread count, own pool, fork safety, GIL release."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import relu_rs

THREAD_COUNTS = [1, 2, 3, 4, 7]


def _all_results(x: np.ndarray, g: np.ndarray, alpha: np.ndarray) -> list[np.ndarray]:
    gx, ga = relu_rs.prelu_grad(g, x, alpha, axis=1)
    gx_n, ga_n = relu_rs.prelu_grad(g.reshape(-1, x.shape[-1]), x.reshape(-1, x.shape[-1]),
                                    np.full(x.shape[-1], 0.3, x.dtype), axis=-1)  # fmt: skip
    _, ga_s = relu_rs.prelu_grad(g, x, 0.25)
    return [
        relu_rs.relu(x),
        relu_rs.relu_grad(g, x),
        relu_rs.leaky_relu(x, 0.1),
        relu_rs.leaky_relu_grad(g, x, 0.1),
        relu_rs.prelu(x, alpha),
        relu_rs.softplus(x),
        relu_rs.softplus_grad(g, x),
        gx, ga, gx_n, ga_n, ga_s,
    ]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_results_identical_for_every_thread_count(dtype: type) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 16, 64, 41)).astype(dtype)  # 336K: every op takes the pool
    g = rng.standard_normal(x.shape).astype(dtype)
    alpha = np.linspace(0.01, 0.5, 16).astype(dtype)
    relu_rs.set_num_threads(1)
    reference = _all_results(x, g, alpha)
    for n in THREAD_COUNTS[1:]:
        relu_rs.set_num_threads(n)
        assert relu_rs.get_num_threads() == n
        for got, want in zip(_all_results(x, g, alpha), reference, strict=True):
            assert got.tobytes() == want.tobytes()


def test_set_num_threads_none_restores_default() -> None:
    relu_rs.set_num_threads(3)
    assert relu_rs.get_num_threads() == 3
    assert relu_rs.info()["num_threads"] == 3
    relu_rs.set_num_threads(None)
    expected = int(os.environ.get("RELU_RS_NUM_THREADS", 0)) or len(os.sched_getaffinity(0))
    assert relu_rs.get_num_threads() == expected


def test_env_var_sets_default() -> None:
    code = "import relu_rs; print(relu_rs.get_num_threads())"
    env = dict(os.environ, RELU_RS_NUM_THREADS="5")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60, check=True)  # fmt: skip
    assert out.stdout.strip() == "5"


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError("forked child hung")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_pool_survives_fork() -> None:
    relu_rs.set_num_threads(2)
    x = np.random.default_rng(1).standard_normal(1 << 18)
    want = relu_rs.softplus(x)  # the pool has run in the parent
    _, want_ga = relu_rs.prelu_grad(x, x, 0.5)
    pid = os.fork()
    if pid == 0:  # child: must not hang on the parent's (now missing) pool threads
        ok = False
        try:
            ok = bool(np.array_equal(relu_rs.softplus(x), want))
            ok = ok and bool(np.array_equal(relu_rs.prelu_grad(x, x, 0.5)[1], want_ga))
        finally:
            os._exit(0 if ok else 1)
    assert _wait(pid, 60) == 0
    assert np.array_equal(relu_rs.softplus(x), want)  # the parent still works too
    pid = os.fork()
    if pid == 0:  # a child whose first call replaces the inherited pool
        ok = False
        try:
            relu_rs.set_num_threads(2)
            ok = bool(np.array_equal(relu_rs.softplus(x), want))
        finally:
            os._exit(0 if ok else 1)
    assert _wait(pid, 60) == 0


def test_gil_is_released_during_large_kernels() -> None:
    relu_rs.set_num_threads(1)
    x = np.random.default_rng(2).standard_normal(1 << 22)  # softplus on 4M float64: ~100 ms
    counter = [0]
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.05)
        before = counter[0]
        relu_rs.softplus(x)
        relu_rs.softplus_grad(x, x)
        during = counter[0] - before
    finally:
        stop.set()
        t.join()
    assert during > 1000, f"the other thread ran only {during} iterations"


def test_concurrent_callers_get_correct_results() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal(300_000).astype(np.float32)
    want = [relu_rs.relu(x), relu_rs.softplus(x), relu_rs.prelu_grad(x, x, 0.2)[1]]
    errors: list[str] = []

    def worker(k: int) -> None:
        for i in range(5):
            if k == 0 and i % 2:
                relu_rs.set_num_threads(1 + i % 3)  # change the pool under running calls
            got = [relu_rs.relu(x), relu_rs.softplus(x), relu_rs.prelu_grad(x, x, 0.2)[1]]
            if not all(np.array_equal(a, b) for a, b in zip(got, want, strict=True)):
                errors.append(f"thread {k} iteration {i}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert not errors, errors
