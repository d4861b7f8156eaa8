"""Inputs and outputs that share memory in every way NumPy allows: the result is what the op gives
on separate copies, whatever the views' base objects say (overlap is decided from the memory each
array spans, not from NumPy's base chain)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import relu_rs
from conftest import BFLOAT16, OP_DTYPES, OPS, Op, op_inputs, random_values

DTYPES = [np.float16, np.float32, np.float64, *BFLOAT16]
SIZES = [1000, 1 << 20]  # serial, and parallel (chunks race if overlap is missed)


def _values(n: int, dtype: Any, seed: int = 1) -> np.ndarray:
    return random_values(dtype, n, seed)


def _expected(op: Op, arrays: tuple[np.ndarray, ...]) -> np.ndarray:
    return op(*(a.copy() for a in arrays))


def _check(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_array_equal(
        np.ascontiguousarray(got).view(np.uint8), np.ascontiguousarray(want).view(np.uint8)
    )


@pytest.mark.parametrize(("op", "dtype"), OP_DTYPES)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("shift", [8, -8, 1, -3])
def test_x_and_out_from_one_buffer(op: Op, dtype: Any, n: int, shift: int) -> None:
    """``np.frombuffer`` twice over one bytearray: two unrelated arrays, one memory."""
    size = np.dtype(dtype).itemsize
    buf = bytearray((n + abs(shift)) * size)
    whole = np.frombuffer(buf, dtype=dtype)
    whole[:] = _values(whole.size, dtype)
    x_at, out_at = (0, shift) if shift > 0 else (-shift, 0)
    x = np.frombuffer(buf, dtype=dtype, count=n, offset=x_at * size)
    out = np.frombuffer(buf, dtype=dtype, count=n, offset=out_at * size)
    arrays = op_inputs(op, x)
    want = _expected(op, arrays)
    assert op(*arrays, out=out) is out
    _check(out, want)


@pytest.mark.parametrize("op", [op for op in OPS if op.arity == 2], ids=repr)
@pytest.mark.parametrize("n", SIZES)
def test_grad_and_out_built_with_as_strided(op: Op, n: int) -> None:
    """``as_strided`` views of one base: grad overlaps out (shifted), x is separate; on each
    dtype of the op."""
    for dtype in op.dtypes:
        size = np.dtype(dtype).itemsize
        base = _values(n + 8, dtype)
        grad = as_strided(base, shape=(n,), strides=(size,))
        out = as_strided(base[8:], shape=(n,), strides=(size,))
        x = _values(n, dtype, seed=2)
        want = _expected(op, (grad, x))
        op(grad, x, out=out)
        _check(out, want)


@pytest.mark.parametrize(("op", "dtype"), OP_DTYPES)
def test_out_reversed_over_x(op: Op, dtype: Any) -> None:
    """out is x read backwards: every element but the middle one is another element's input."""
    x = _values(4097, dtype)
    arrays = op_inputs(op, x)
    want = _expected(op, arrays)
    out = x[::-1]
    op(*arrays, out=out)
    _check(out, want)


@pytest.mark.parametrize(("op", "dtype"), OP_DTYPES)
def test_array_interface_objects(op: Op, dtype: Any) -> None:
    """Objects exposing ``__array_interface__`` over one buffer, converted by NumPy (which reads
    bfloat16 there as void: viewed back)."""
    base = _values(2000, dtype)

    class View:
        def __init__(self, offset: int, n: int) -> None:
            iface = dict(base.__array_interface__)
            iface["data"] = (iface["data"][0] + base.itemsize * offset, False)
            iface["shape"] = (n,)
            self.__array_interface__ = iface

    x = np.asarray(View(0, 1990)).view(dtype)
    out = np.asarray(View(5, 1990)).view(dtype)
    arrays = op_inputs(op, x)
    want = _expected(op, arrays)
    op(*arrays, out=out)
    _check(out, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_prelu_alpha_aliasing_a_row_of_out(dtype: type) -> None:
    x = _values(64 * 16, dtype).reshape(64, 16)
    g = _values(x.size, dtype, seed=3).reshape(x.shape)
    for out_is_x in (False, True):
        out = x.copy() if out_is_x else np.zeros_like(x)
        alpha = out[3]  # a row of out: written while alpha is still being read
        alpha[:] = np.linspace(-0.5, 0.5, 16).astype(dtype)
        inp = out if out_is_x else x
        want = relu_rs.prelu(inp.copy(), alpha.copy())
        relu_rs.prelu(inp, alpha, out=out)
        _check(out, want)

        out = x.copy() if out_is_x else np.zeros_like(x)
        alpha = out[3]
        alpha[:] = np.linspace(-0.5, 0.5, 16).astype(dtype)
        inp = out if out_is_x else x
        want_gx, want_ga = relu_rs.prelu_grad(g, inp.copy(), alpha.copy())
        got_gx, got_ga = relu_rs.prelu_grad(g, inp, alpha, out=out)
        _check(got_gx, want_gx)
        _check(got_ga, want_ga)


def test_alpha_grad_out_may_alias_inputs() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((32, 8))
    g = rng.standard_normal((32, 8))
    alpha = np.linspace(0.1, 0.8, 8)
    want_gx, want_ga = relu_rs.prelu_grad(g, x, alpha)
    for target in (alpha, x[5], g[0]):
        xs, gs, al = x.copy(), g.copy(), alpha.copy()
        alias = {id(alpha): al, id(x[5]): None, id(g[0]): None}.get(id(target))
        ag = al if alias is not None else (xs[5] if target.base is x else gs[0])
        gx, ga = relu_rs.prelu_grad(gs, xs, al, alpha_grad_out=ag)
        assert ga is ag
        _check(gx, want_gx)
        _check(ga, want_ga)
