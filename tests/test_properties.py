"""Hypothesis: random shapes, strides, dtypes and values against the references (float64; exact
tables for the quantized functions): every op of the registry on its dtypes, then float-only
properties (any alpha, other betas, any PReLU axis)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import relu_rs
from conftest import (
    OPS,
    Op,
    assert_identical,
    exact_sum,
    ref_leaky,
    ref_leaky_grad,
    ref_softplus,
    ulp_distance,
)

DTYPES = st.sampled_from([np.float16, np.float32, np.float64])


@st.composite
def strided_arrays(draw: st.DrawFn, dtypes: st.SearchStrategy[Any] = DTYPES) -> np.ndarray:
    """An array of one of ``dtypes``, of random shape (0-d to 4-d) and values, viewed through
    random steps, reversals and an axis permutation, so that C, F and non-contiguous layouts all
    occur."""
    dt = draw(dtypes)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=7))
    base = draw(hnp.arrays(dt, shape, elements=hnp.from_dtype(np.dtype(dt), allow_subnormal=True)))
    if base.ndim == 0:
        return base
    steps = draw(st.lists(st.sampled_from([1, 1, 2, -1, -2]), min_size=base.ndim,
                          max_size=base.ndim))  # fmt: skip
    view = base[tuple(slice(None, None, s) for s in steps)]
    perm = draw(st.permutations(range(view.ndim)))
    return view.transpose(perm)


@pytest.mark.parametrize("op", OPS, ids=repr)
@settings(max_examples=150, deadline=None)
@given(st.data(), st.sampled_from(["none", "C", "F", "inplace"]))
def test_every_op_matches_reference(op: Op, data: st.DataObject, out_kind: str) -> None:
    """x of one of the op's dtypes (those Hypothesis can fill: not bfloat16, whose references are
    in test_bfloat16). A gradient gets ``np.flip(x)`` as grad: the same shape and dtype, other
    values at each position; in place, out is x."""
    drawable = [dt for dt in op.dtypes if np.dtype(dt).kind in "biuf"]
    x = data.draw(strided_arrays(st.sampled_from(drawable)))
    arrays = op.inputs(x, np.flip(x))
    if out_kind == "none":
        got = op(*arrays)
    elif out_kind == "inplace":
        got = x.copy()
        assert op(*op.inputs(got, np.flip(x)), out=got) is got
    else:
        out = np.empty(x.shape, x.dtype, order=out_kind)
        got = op(*arrays, out=out)
        assert got is out
    op.check(got, *arrays)


@settings(max_examples=150, deadline=None)
@given(st.data(), st.floats(-3, 3, width=32))
def test_leaky_with_any_alpha_matches_reference(data: st.DataObject, alpha: float) -> None:
    x = data.draw(strided_arrays())
    g = np.flip(x)  # same shape and dtype, different values at each position
    assert_identical(relu_rs.leaky_relu(x, alpha), ref_leaky(x, alpha))
    assert_identical(relu_rs.leaky_relu_grad(g, x, alpha), ref_leaky_grad(g, x, alpha))


@settings(max_examples=150, deadline=None)
@given(strided_arrays(), st.sampled_from([0.5, 1.0, 2.0]))
def test_softplus_matches_reference(x: np.ndarray, beta: float) -> None:
    got = relu_rs.softplus(x, beta)
    want = ref_softplus(x, beta)
    assert got.shape == x.shape and got.dtype == x.dtype
    assert ulp_distance(got, want).max(initial=0) <= 1


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_prelu_any_axis(data: st.DataObject) -> None:
    x = data.draw(strided_arrays())
    if x.ndim == 0 or x.size == 0:
        return
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    c = x.shape[axis]
    alpha = np.linspace(-1, 1, c).astype(x.dtype)
    shape = [1] * x.ndim
    shape[axis] = c
    want = ref_leaky(x, alpha.reshape(shape))
    assert_identical(relu_rs.prelu(x, alpha, axis=axis), want)
    g = np.ones_like(x)
    gx, ga = relu_rs.prelu_grad(g, x, alpha, axis=axis)
    assert_identical(gx, ref_leaky_grad(g, x, alpha.reshape(shape)))
    with np.errstate(over="ignore", invalid="ignore"):
        xd = np.moveaxis(x.astype(np.float64), axis, 0).reshape(c, -1)
        terms = np.where(xd >= 0, 0.0, xd)
        # exact (fsum) where every term is finite, else IEEE propagation of inf/NaN
        sums = [exact_sum(t) for t in terms]
        want_ga = np.array(sums).astype(x.dtype)
    np.testing.assert_array_equal(np.isnan(ga), np.isnan(want_ga))
    finite = np.isfinite(want_ga) & np.isfinite(ga)
    assert ulp_distance(ga[finite], want_ga[finite]).max(initial=0) <= 2
