"""Bad input: a clear TypeError/ValueError naming the argument, never a panic, out untouched."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import relu_rs
from relu_rs import _relu_rs

X = np.linspace(-2, 2, 12).reshape(3, 4)
G = np.ones((3, 4))
ALPHA4 = np.full(4, 0.2)

# (call(out) -> result, exception, message fragment); `out` is a float64 (3, 4) sentinel array
# that every failing call is given when it takes out=.
Case = tuple[str, Callable[[np.ndarray], Any], type[Exception], str]
CASES: list[Case] = [
    ("str x", lambda o: relu_rs.relu(np.array(["a", "b"])), TypeError, "x has unsupported dtype"),
    ("complex x", lambda o: relu_rs.relu(X + 1j, out=o), TypeError, "x has unsupported dtype"),
    ("object x", lambda o: relu_rs.relu(np.array([object()]), out=o), TypeError, "x"),
    ("datetime x", lambda o: relu_rs.relu(np.array(["2020-01-01"], "M8[D]")), TypeError, "x"),
    ("ragged x", lambda o: relu_rs.relu([[1.0, 2.0], [3.0]]), ValueError, "x could not be"),
    ("out list", lambda o: relu_rs.relu(X, out=[0.0] * 12), TypeError, "out must be a numpy"),
    ("out shape", lambda o: relu_rs.relu(X[:2], out=o), ValueError, "out has shape"),
    ("out dtype", lambda o: relu_rs.relu(X.astype(np.float32), out=o), TypeError, "out has dtype"),
    ("out int", lambda o: relu_rs.relu(X.astype(np.int64), out=o), TypeError, "out has dtype"),
    ("grad shape", lambda o: relu_rs.relu_grad(G[:2], X, out=o), ValueError, "grad has shape"),
    ("grad dtype", lambda o: relu_rs.relu_grad(G.astype(np.float32), X, out=o), TypeError,
     "grad has dtype"),
    ("leaky alpha nan", lambda o: relu_rs.leaky_relu(X, np.nan, out=o), ValueError,
     "alpha must be finite"),
    ("leaky alpha inf", lambda o: relu_rs.leaky_relu(X, -np.inf, out=o), ValueError, "alpha"),
    ("leaky alpha f16 overflow", lambda o: relu_rs.leaky_relu(X.astype(np.float16), 1e6),
     ValueError, "overflows float16"),
    ("leaky alpha str", lambda o: relu_rs.leaky_relu(X, "0.1", out=o), TypeError, "alpha"),
    ("leaky alpha complex", lambda o: relu_rs.leaky_relu(X, 1j, out=o), TypeError, "alpha"),
    ("leaky alpha array", lambda o: relu_rs.leaky_relu(X, ALPHA4, out=o), TypeError, "alpha"),
    ("leaky grad alpha nan", lambda o: relu_rs.leaky_relu_grad(G, X, np.nan, out=o), ValueError,
     "alpha"),
    ("prelu alpha length", lambda o: relu_rs.prelu(X, np.ones(3), out=o), ValueError,
     "alpha has 3 values but x.shape[1] is 4"),
    ("prelu alpha 2-D", lambda o: relu_rs.prelu(X, np.ones((2, 2)), out=o), ValueError,
     "alpha must be a scalar or a 1-D array"),
    ("prelu axis range", lambda o: relu_rs.prelu(X, ALPHA4, axis=2, out=o), ValueError,
     "axis 2 is out of bounds"),
    ("prelu axis negative range", lambda o: relu_rs.prelu(X, ALPHA4, axis=-3, out=o), ValueError,
     "axis -3"),
    ("prelu axis float", lambda o: relu_rs.prelu(X, ALPHA4, axis=1.0, out=o), TypeError,  # type: ignore[arg-type]
     "axis must be an integer"),
    ("prelu alpha str", lambda o: relu_rs.prelu(X, np.array(["a"] * 4), out=o), TypeError,
     "alpha has unsupported dtype"),
    ("prelu 0-d x per-channel", lambda o: relu_rs.prelu(1.0, ALPHA4), ValueError, "axis 1"),
    ("prelu_grad alpha length", lambda o: relu_rs.prelu_grad(G, X, np.ones(5), out=o), ValueError,
     "alpha has 5 values"),
    ("prelu_grad agout shape", lambda o: relu_rs.prelu_grad(G, X, ALPHA4, out=o,
     alpha_grad_out=np.zeros(3)), ValueError, "alpha_grad_out has shape"),
    ("prelu_grad agout dtype", lambda o: relu_rs.prelu_grad(G, X, ALPHA4, out=o,
     alpha_grad_out=np.zeros(4, np.float32)), TypeError, "alpha_grad_out has dtype"),
    ("prelu_grad agout list", lambda o: relu_rs.prelu_grad(G, X, ALPHA4, out=o,
     alpha_grad_out=[0.0] * 4), TypeError, "alpha_grad_out must be a numpy"),  # type: ignore[arg-type]
    ("prelu_grad agout overlaps out", lambda o: relu_rs.prelu_grad(G, X, ALPHA4, out=o,
     alpha_grad_out=o[0]), ValueError, "alpha_grad_out overlaps out"),
    ("softplus beta 0", lambda o: relu_rs.softplus(X, 0.0, out=o), ValueError, "beta"),
    ("softplus beta neg", lambda o: relu_rs.softplus(X, -1.0, out=o), ValueError, "beta"),
    ("softplus beta nan", lambda o: relu_rs.softplus(X, np.nan, out=o), ValueError, "beta"),
    ("softplus beta inf", lambda o: relu_rs.softplus(X, np.inf, out=o), ValueError, "beta"),
    ("softplus beta str", lambda o: relu_rs.softplus(X, "1", out=o), TypeError, "beta"),  # type: ignore[arg-type]
    ("softplus threshold nan", lambda o: relu_rs.softplus(X, 1.0, np.nan, out=o), ValueError,
     "threshold"),
    ("softplus_grad beta", lambda o: relu_rs.softplus_grad(G, X, 0.0, out=o), ValueError, "beta"),
    ("softplus_grad shape", lambda o: relu_rs.softplus_grad(G.T, X, out=o), ValueError,
     "grad has shape"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_and_leaves_out_untouched(case: Case) -> None:
    _, call, exc, fragment = case
    out = np.full((3, 4), 123.0)
    with pytest.raises(exc, match=None) as info:
        call(out)
    assert fragment in str(info.value), str(info.value)
    np.testing.assert_array_equal(out, 123.0)


def test_read_only_out() -> None:
    out = np.zeros((3, 4))
    out.flags.writeable = False
    for call in (
        lambda: relu_rs.relu(X, out=out),
        lambda: relu_rs.relu_grad(G, X, out=out),
        lambda: relu_rs.softplus(X, out=out),
        lambda: relu_rs.prelu_grad(G, X, ALPHA4, out=out),
    ):
        with pytest.raises(ValueError, match="out is read-only"):
            call()
    ro = np.zeros(4)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="alpha_grad_out is read-only"):
        relu_rs.prelu_grad(G, X, ALPHA4, alpha_grad_out=ro)


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="long double is float64 here")
def test_long_double_refused() -> None:
    with pytest.raises(TypeError, match="long double"):
        relu_rs.relu(np.ones(3, dtype=np.longdouble))


@pytest.mark.parametrize("n", [0, -1])
def test_set_num_threads_bad_count(n: int) -> None:
    with pytest.raises(ValueError, match="n must be >= 1"):
        relu_rs.set_num_threads(n)


@pytest.mark.parametrize("n", [1.5, "2", True])
def test_set_num_threads_bad_type(n: object) -> None:
    with pytest.raises(TypeError, match="n must be an integer"):
        relu_rs.set_num_threads(n)  # type: ignore[arg-type]


def test_public_functions_are_the_compiled_ones() -> None:
    """Rust owns the whole call: the package re-exports the compiled functions, with no Python
    layer between the user and the checks."""
    for name in ("relu", "relu_grad", "leaky_relu", "leaky_relu_grad", "prelu", "prelu_grad",
                 "softplus", "softplus_grad", "set_num_threads", "get_num_threads"):  # fmt: skip
        assert getattr(relu_rs, name) is getattr(_relu_rs, name), name
        assert getattr(relu_rs, name).__doc__, name


def test_layouts_once_declined_are_computed() -> None:
    """Strided inputs, F-ordered outputs and partial overlap (which the old private binding
    declined) are computed by the one call, as NumPy would."""
    base = np.arange(-5.0, 5.0)
    np.testing.assert_array_equal(relu_rs.relu(base[::2]), np.maximum(base[::2], 0))
    out = np.full((3, 2), 9.0, order="F")
    x = np.arange(-3.0, 3.0).reshape(3, 2)
    relu_rs.relu(x, out=out)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    b = base.copy()
    relu_rs.relu(b[:5], out=b[2:7])
    np.testing.assert_array_equal(b[2:7], np.maximum(base[:5], 0))
    b = base.copy()
    relu_rs.relu_grad(b[:5], b[:5], out=b[1:6])
    np.testing.assert_array_equal(b[1:6], np.where(base[:5] > 0, base[:5], 0))
