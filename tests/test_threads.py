"""Threads: bit-identical results for every thread count (every op of the registry on each of its
dtypes, and per-channel PReLU), own pool, fork safety, GIL release."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
import warnings
from typing import Any

import numpy as np
import pytest

import relu_rs
from conftest import ALL_DTYPES, QUANTIZED_DTYPES, is_float, ops_for, random_values
from relu_rs import quantized

THREAD_COUNTS = [1, 2, 3, 4, 7]


# Per-channel PReLU of the family that computes x's dtype: relu_rs.prelu for floats (with its
# gradient), relu_rs.quantized.prelu for 8-bit integers; alpha has x.shape[1] values.
_Q = (0.05, 100)  # quantized.prelu's scale and zero point
_Q_KW: dict[str, Any] = {"out_scale": 0.03, "out_zero_point": 9}


def _per_channel(x: np.ndarray, g: np.ndarray, alpha: np.ndarray) -> list[np.ndarray]:
    """Along axis 1 and channel-last, fresh results."""
    last = x.reshape(-1, x.shape[-1])
    alpha_last = np.linspace(-0.3, 0.3, x.shape[-1]).astype(alpha.dtype)
    if is_float(x.dtype):
        gx, ga = relu_rs.prelu_grad(g, x, alpha, axis=1)
        gx_n, ga_n = relu_rs.prelu_grad(g.reshape(last.shape), last, alpha_last, axis=-1)
        return [relu_rs.prelu(x, alpha), gx, ga, gx_n, ga_n]
    if x.dtype in QUANTIZED_DTYPES:
        return [quantized.prelu(x, alpha, *_Q, **_Q_KW),
                quantized.prelu(last, alpha_last, *_Q, axis=-1, **_Q_KW)]  # fmt: skip
    return []


def _per_channel_into(
    x: np.ndarray, g: np.ndarray, alpha: np.ndarray, out: np.ndarray, alpha_out: np.ndarray
) -> list[bytes]:
    """_per_channel along axis 1, each writing into the caller's own `out` (and `alpha_out`)."""
    if is_float(x.dtype):
        relu_rs.prelu(x, alpha, out=out)
        digest = [out.tobytes()]
        _, ga = relu_rs.prelu_grad(g, x, alpha, out=out, alpha_grad_out=alpha_out)
        assert ga is alpha_out
        return [*digest, out.tobytes(), alpha_out.tobytes()]
    if x.dtype in QUANTIZED_DTYPES:
        assert quantized.prelu(x, alpha, *_Q, **_Q_KW, out=out) is out
        return [out.tobytes()]
    return []


def _all_results(x: np.ndarray, g: np.ndarray, alpha: np.ndarray) -> list[np.ndarray]:
    """Every result of every op that computes x's dtype (fresh outputs), on x of shape (N, C,
    ...), then per-channel PReLU with alpha of length C, and channel-last."""
    results = [r for op in ops_for(x.dtype) for r in op.results(*op.inputs(x, g))]
    return [*results, *_per_channel(x, g, alpha)]


def _all_results_into(
    x: np.ndarray, g: np.ndarray, alpha: np.ndarray, out: np.ndarray, alpha_out: np.ndarray
) -> list[bytes]:
    """Every op again, each writing into the caller's own `out` (and `alpha_out`)."""
    digest = []
    for op in ops_for(x.dtype):
        results = op.results(*op.inputs(x, g), out=out)
        assert results[0] is out
        digest += [r.tobytes() for r in results]
    return [*digest, *_per_channel_into(x, g, alpha, out, alpha_out)]


def _inputs(dtype: Any, shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, ...]:
    """x and grad of ``dtype`` and ``shape``, and a per-channel alpha for axis 1 (x's dtype for
    floats, float64 for the quantized functions)."""
    x = random_values(dtype, shape, seed)
    g = random_values(dtype, shape, seed + 1)
    alpha_dtype = dtype if is_float(dtype) else np.float64
    alpha = np.linspace(-0.5, 0.5, shape[1]).astype(alpha_dtype)
    return x, g, alpha


def _digest(inputs: list[tuple[np.ndarray, ...]]) -> list[bytes]:
    """Every result, fresh and into outputs, on each (x, g, alpha) of ``inputs``."""
    digest = []
    for x, g, alpha in inputs:
        out, alpha_out = np.empty_like(x), np.empty_like(alpha)
        digest += [r.tobytes() for r in _all_results(x, g, alpha)]
        digest += _all_results_into(x, g, alpha, out, alpha_out)
    return digest


def _shared_inputs() -> list[tuple[np.ndarray, ...]]:
    """Read-only float32 and int8 inputs large enough (336K) that every function takes the
    pool: the float functions and the quantized ones."""
    inputs = [_inputs(dt, (8, 16, 64, 41), 3) for dt in (np.float32, np.int8)]
    for arrays in inputs:
        for a in arrays:
            a.flags.writeable = False
    return inputs


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=lambda dt: np.dtype(dt).name)
def test_results_identical_for_every_thread_count(dtype: Any) -> None:
    x, g, alpha = _inputs(dtype, (8, 16, 64, 41), 0)  # 336K: every op takes the pool
    relu_rs.set_num_threads(1)
    reference = _all_results(x, g, alpha)
    assert reference
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


def _digest_in_child(n_threads: int | None) -> list[bytes]:
    if n_threads is not None:
        relu_rs.set_num_threads(n_threads)  # the child's first call replaces the inherited pool
    return _digest(_shared_inputs())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs the fork start method")
def test_every_function_works_in_a_forked_child_and_in_the_parent_after() -> None:
    relu_rs.set_num_threads(2)
    want = _digest(_shared_inputs())  # the pool has run in the parent
    ctx = multiprocessing.get_context("fork")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork of a threaded process
        for n_threads in (None, 2, 1):  # one fresh child each: the first call differs
            with ctx.Pool(1) as child:
                # a child that hangs on the parent's (absent) pool threads fails here
                got = child.apply_async(_digest_in_child, (n_threads,)).get(timeout=120)
            assert got == want, f"child with set_num_threads({n_threads}) first"
    assert _digest(_shared_inputs()) == want  # and the parent still works


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
    """12 threads call every function at once on shared read-only inputs, each with its own
    outputs, while one of them keeps changing the thread count."""
    inputs = _shared_inputs()
    relu_rs.set_num_threads(2)
    want = _digest(inputs)
    errors: list[str] = []
    barrier = threading.Barrier(12)

    def worker(k: int) -> None:
        barrier.wait()
        for i in range(4):
            if k == 0:
                relu_rs.set_num_threads(1 + i % 3)  # change the pool under running calls
            try:
                same = _digest(inputs) == want
            except Exception as exc:  # an exception in a thread would not fail the test
                errors.append(f"thread {k} iteration {i}: {exc!r}")
                return
            if not same:
                errors.append(f"thread {k} iteration {i}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    relu_rs.set_num_threads(None)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert not errors, errors
