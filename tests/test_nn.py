"""relu_rs.nn layers: against the functional API, finite differences, accumulation, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import relu_rs
from conftest import OPS, Op, assert_identical, ulp_distance
from relu_rs import nn


def _finite_difference(layer: nn.Module, x: np.ndarray, g: np.ndarray, eps: float = 1e-6) -> Any:
    """d/dx of sum(g * layer(x)), by central differences, elementwise."""
    plus = layer(x + eps).astype(np.float64)
    minus = layer(x - eps).astype(np.float64)
    return g * (plus - minus) / (2 * eps)


@pytest.fixture
def xg() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep finite differences away from the kink
    return x, rng.standard_normal(x.shape)


# The layer of every op of the registry, then other parameters and per-channel PReLU
LAYERS = [
    *(op.layer for op in OPS if op.layer is not None),
    lambda: nn.LeakyReLU(-0.5),
    lambda: nn.PReLU(4, init=0.3, dtype=np.float64),
    lambda: nn.Softplus(beta=2.0, threshold=20.0),
    lambda: nn.ReLU(max_value=1.5),  # clips some of the fixture's values
    lambda: nn.Softplus(beta=2.0, inplace=True),
]


@pytest.mark.parametrize("make", LAYERS)
def test_backward_matches_finite_differences(make: Any, xg: Any) -> None:
    x, g = xg
    layer = make()
    layer(x.copy())  # an in-place layer overwrites its input
    analytic = layer.backward(g)
    numeric = _finite_difference(make(), x, g)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("op", [op for op in OPS if op.layer is not None], ids=repr)
def test_layer_computes_its_op(op: Op, dtype: type, xg: Any) -> None:
    """The op's layer: its forward (or backward, for a gradient) is the op with the op's params,
    bit for bit, and so matches the reference."""
    x, g = (a.astype(dtype) for a in xg)
    assert op.layer is not None
    layer = op.layer()
    y = layer(x)
    got = y if op.arity == 1 else layer.backward(g)
    arrays = op.inputs(x, g)
    assert_identical(got, op(*arrays))
    op.check(got, *arrays)


def test_layers_match_functional(xg: Any) -> None:
    x, g = xg
    assert np.array_equal(nn.ReLU()(x), relu_rs.relu(x))
    lk = nn.LeakyReLU(0.2)
    assert np.array_equal(lk(x), relu_rs.leaky_relu(x, 0.2))
    assert np.array_equal(lk.backward(g), relu_rs.leaky_relu_grad(g, x, 0.2))
    sp = nn.Softplus(beta=1.5)
    assert np.array_equal(sp(x), relu_rs.softplus(x, 1.5))
    assert np.array_equal(sp.backward(g), relu_rs.softplus_grad(g, x, 1.5))
    pr = nn.PReLU(4, init=0.25, dtype=np.float64)
    assert np.array_equal(pr(x), relu_rs.prelu(x, np.full(4, 0.25)))
    gx, ga = relu_rs.prelu_grad(g, x, np.full(4, 0.25))
    assert np.array_equal(pr.backward(g), gx)
    assert np.array_equal(pr.alpha_grad, ga)


def test_prelu_alpha_gradient_by_finite_differences(xg: Any) -> None:
    x, g = xg
    layer = nn.PReLU(4, init=0.3, dtype=np.float64)
    layer(x)
    layer.backward(g)
    eps = 1e-6
    for c in range(4):
        a_plus, a_minus = layer.alpha.copy(), layer.alpha.copy()
        a_plus[c] += eps
        a_minus[c] -= eps
        diff = relu_rs.prelu(x, a_plus) - relu_rs.prelu(x, a_minus)
        numeric = np.sum(g * diff) / (2 * eps)
        assert layer.alpha_grad[c] == pytest.approx(numeric, rel=1e-6)


def test_prelu_accumulates_until_zero_grad(xg: Any) -> None:
    x, g = xg
    layer = nn.PReLU(4, dtype=np.float64)
    assert layer.alpha.shape == (4,) and np.all(layer.alpha_grad == 0)
    layer(x)
    layer.backward(g)
    once = layer.alpha_grad.copy()
    layer(x)
    layer.backward(g)
    np.testing.assert_array_equal(layer.alpha_grad, 2 * once)
    grads = layer.grads()
    layer.zero_grad()
    assert np.all(layer.alpha_grad == 0) and grads[0] is layer.alpha_grad
    assert layer.parameters()[0] is layer.alpha


def test_prelu_sgd_step_updates_alpha(xg: Any) -> None:
    x, g = xg
    layer = nn.PReLU(4, dtype=np.float64)
    layer(x)
    layer.backward(g)
    before = layer.alpha.copy()
    for p, dp in zip(layer.parameters(), layer.grads(), strict=True):
        p -= 0.1 * dp
    np.testing.assert_allclose(layer.alpha, before - 0.1 * layer.alpha_grad)


IN_PLACE = [
    (lambda: nn.ReLU(inplace=True), nn.ReLU),
    (lambda: nn.LeakyReLU(0.1, inplace=True), lambda: nn.LeakyReLU(0.1)),
]


@pytest.mark.parametrize("make,make_reference", IN_PLACE)
def test_in_place_layers_return_x_and_backward_is_exact(
    make: Any, make_reference: Any, xg: Any
) -> None:
    x, g = xg
    reference = make_reference()
    want_y = reference(x)
    want_g = reference.backward(g)
    layer = make()
    xc = x.copy()
    y = layer(xc)
    assert y is xc
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(layer.backward(g), want_g)


def test_other_layers_have_no_parameters() -> None:
    for layer in (nn.ReLU(), nn.LeakyReLU(), nn.Softplus()):
        assert layer.parameters() == [] and layer.grads() == []


@pytest.mark.parametrize("op", [op for op in OPS if op.layer is not None], ids=repr)
def test_backward_before_forward_raises(op: Op) -> None:
    assert op.layer is not None
    with pytest.raises(RuntimeError, match="before forward"):
        op.layer().backward(np.ones(3))


def test_errors() -> None:
    with pytest.raises(ValueError, match="needs alpha > 0"):
        nn.LeakyReLU(-0.1, inplace=True)
    with pytest.raises(ValueError, match="needs alpha > 0"):
        nn.LeakyReLU(0.0, inplace=True)
    with pytest.raises(ValueError, match=r"num_parameters=3 but x.shape\[1\] is 4"):
        nn.PReLU(3)(np.ones((2, 4)))
    with pytest.raises(ValueError, match="num_parameters must be >= 1"):
        nn.PReLU(0)
    with pytest.raises(TypeError, match="ndarray"):
        nn.ReLU(inplace=True)([1.0, -1.0])
    with pytest.raises(ValueError, match="beta"):
        nn.Softplus(beta=0)
    nn.PReLU(1)(np.ones((2, 4)))  # a shared alpha fits any shape
    nn.PReLU(4, axis=-1)(np.ones((2, 3, 4)))  # NHWC


# ----- ReLU(max_value=...) and Softplus(inplace=True) --------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32])
def test_relu6_layer_is_the_functions(dtype: type, xg: Any) -> None:
    x, g = ((a * 5).astype(dtype) for a in xg)  # both ends of (0, 6) are hit
    layer = nn.ReLU(max_value=6)
    y = layer(x)
    assert_identical(y, relu_rs.relu(x, max_value=6))
    assert (y == 6).any() and (y == 0).any()
    if dtype is not np.int32:
        assert_identical(layer.backward(g), relu_rs.relu_grad(g, x, max_value=6))
    assert repr(layer) == "ReLU(max_value=6, inplace=False)"


@pytest.mark.parametrize("max_value", [6, 0.1, 2.5])
def test_relu_max_value_in_place_layer(max_value: float, xg: Any) -> None:
    x, g = xg[0] * 5, xg[1]
    reference = nn.ReLU(max_value=max_value)
    want_y = reference(x)
    want_g = reference.backward(g)
    layer = nn.ReLU(max_value=max_value, inplace=True)
    xc = x.copy()
    y = layer(xc)
    assert y is xc
    assert_identical(y, want_y)
    assert_identical(layer.backward(g), want_g)
    assert repr(layer) == f"ReLU(max_value={max_value}, inplace=True)"


def test_relu_layer_bad_max_value_raises_at_construction() -> None:
    with pytest.raises(ValueError, match="max_value"):
        nn.ReLU(max_value=-1)
    with pytest.raises(ValueError, match="max_value"):
        nn.ReLU(max_value=float("nan"))
    with pytest.raises(TypeError, match="max_value"):
        nn.ReLU(max_value="a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="max_value"):
        nn.ReLU(max_value=True)
    assert repr(nn.ReLU()) == "ReLU(max_value=None, inplace=False)"


@pytest.mark.parametrize("beta,threshold", [(1.0, None), (0.37, None), (3.0, 20.0)])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_softplus_in_place_layer(dtype: type, beta: float, threshold: float | None) -> None:
    """Softplus(inplace=True) returns x itself holding the output; its backward (from the
    output) is within 3 ULP of the ordinary layer's (from the input) where the output is normal,
    and exactly the functional from_output gradient."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((40, 25)) * 6 / beta).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    reference = nn.Softplus(beta, threshold)
    want_y = reference(x)
    want_g = reference.backward(g)
    layer = nn.Softplus(beta, threshold, inplace=True)
    xc = x.copy()
    y = layer(xc)
    assert y is xc
    assert_identical(y, want_y)
    got = layer.backward(g)
    assert_identical(got, relu_rs.softplus_grad(g, want_y, beta, threshold, from_output=True))
    normal = want_y >= np.finfo(dtype).tiny
    assert normal.mean() > 0.9
    # from the input within 2 ULP of exact, from the output within 3: at most 5 apart
    assert ulp_distance(got[normal], want_g[normal]).max() <= 5
    assert repr(layer) == f"Softplus(beta={beta}, threshold={threshold}, inplace=True)"


def test_softplus_in_place_layer_against_mpmath() -> None:
    import mpmath

    x = np.linspace(-30, 30, 601)
    g = np.random.default_rng(3).standard_normal(x.size)
    layer = nn.Softplus(inplace=True)
    layer(x.copy())
    got = layer.backward(g)
    with mpmath.workprec(113):
        exact = [float(mpmath.mpf(gv) / (1 + mpmath.exp(-mpmath.mpf(xv))))
                 for gv, xv in zip(g.tolist(), x.tolist(), strict=True)]  # fmt: skip
    assert ulp_distance(got, np.array(exact)).max() <= 3


def test_softplus_in_place_layer_refuses_a_list() -> None:
    with pytest.raises(TypeError, match="ndarray"):
        nn.Softplus(inplace=True)([1.0, -1.0])
