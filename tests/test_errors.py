"""Bad input: a clear TypeError/ValueError naming the argument, never a panic, out untouched."""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

import numpy as np
import pytest

import relu_rs
from conftest import ALL_DTYPES, OP_FUNCTIONS, OP_MODULES, OP_NAMES, OPS, Op, random_values
from relu_rs import _relu_rs

X = np.linspace(-2, 2, 12).reshape(3, 4)
G = np.ones((3, 4))
ALPHA4 = np.full(4, 0.2)

# (call(out) -> result, exception, message fragment); `out` is a float64 (3, 4) sentinel array
# that every failing call is given when it takes out=.
Case = tuple[str, Callable[[np.ndarray], Any], type[Exception], str]
CASES: list[Case] = [
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
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_and_leaves_out_untouched(case: Case) -> None:
    _, call, exc, fragment = case
    out = np.full((3, 4), 123.0)
    with pytest.raises(exc, match=None) as info:
        call(out)
    assert fragment in str(info.value), str(info.value)
    np.testing.assert_array_equal(out, 123.0)


def test_read_only_alpha_grad_out() -> None:
    out = np.zeros((3, 4))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        relu_rs.prelu_grad(G, X, ALPHA4, out=out)  # per-channel alpha
    ro = np.zeros(4)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="alpha_grad_out is read-only"):
        relu_rs.prelu_grad(G, X, ALPHA4, alpha_grad_out=ro)


# ----- every op of the registry: bad x, bad grad, bad out ---------------------------------------


def _sentinel(shape: tuple[int, ...] = (3, 4), dtype: Any = np.float64) -> np.ndarray:
    return np.full(shape, 123, dtype=dtype)


def _read_only(out: np.ndarray) -> np.ndarray:
    out.flags.writeable = False
    return out


def _expect_error(
    op: Op, arrays: tuple[Any, ...], out: Any, exc: type[Exception], fragment: str
) -> None:
    """``op(*arrays, out=out)`` raises ``exc`` with ``fragment`` in its message, and leaves
    ``out`` as it was."""
    before = np.array(out, copy=True)
    with pytest.raises(exc) as info:
        op(*arrays, out=out)
    assert fragment in str(info.value), str(info.value)
    np.testing.assert_array_equal(np.asarray(out), before)


# NumPy < 1.24 makes a ragged list an object array (with a warning) rather than refusing it
RAGGED = (
    (ValueError, "could not be converted")
    if np.lib.NumpyVersion(np.__version__) >= "1.24.0"
    else (TypeError, "has unsupported dtype object")
)

# (name, x, exception, message fragment after the argument's name); a gradient gets a float64
# grad of x's shape
BAD_X: list[tuple[str, Any, type[Exception], str]] = [
    ("str", np.array(["a", "b"]), TypeError, "has unsupported dtype"),
    ("complex", X + 1j, TypeError, "has unsupported dtype"),
    ("object", np.array([object()]), TypeError, "has unsupported dtype"),
    ("datetime", np.array(["2020-01-01"], "M8[D]"), TypeError, "has unsupported dtype"),
    ("ragged", [[1.0, 2.0], [3.0]], *RAGGED),
]


@pytest.mark.parametrize("bad", BAD_X, ids=[b[0] for b in BAD_X])
@pytest.mark.parametrize("op", OPS, ids=repr)
def test_every_op_refuses_a_bad_x(op: Op, bad: tuple[str, Any, type[Exception], str]) -> None:
    _, x, exc, fragment = bad
    grad = np.ones(np.shape(x) if isinstance(x, np.ndarray) else len(x))
    _expect_error(op, op.inputs(x, grad), _sentinel(), exc, f"{op.arg_names[-1]} {fragment}")


@pytest.mark.parametrize("op", OPS, ids=repr)
def test_every_op_converts_or_refuses_other_dtypes(op: Op) -> None:
    """An x of a real dtype the op does not compute in gives a float64 result where the op
    converts (the float functions), else a TypeError naming the argument and its dtype (the
    quantized functions); nothing is written on the error."""
    for dt in ALL_DTYPES:
        if dt in op.dtypes:
            continue
        x = random_values(dt, (3, 4))
        arrays = op.inputs(x, x)
        if op.converts:
            assert op(*arrays).dtype == np.float64, np.dtype(dt).name
        else:
            fragment = f"{op.arg_names[-1]} has dtype {np.dtype(dt).name}"
            _expect_error(op, arrays, _sentinel(dtype=op.dtypes[0]), TypeError, fragment)


# (name, grad for x = X, exception, message fragment)
BAD_GRAD: list[tuple[str, np.ndarray, type[Exception], str]] = [
    ("fewer rows", G[:2], ValueError, "grad has shape"),
    ("transposed", G.T, ValueError, "grad has shape"),
    ("float32", G.astype(np.float32), TypeError, "grad has dtype"),
    ("complex", G + 1j, TypeError, "grad has unsupported dtype"),
]


@pytest.mark.parametrize("bad", BAD_GRAD, ids=[b[0] for b in BAD_GRAD])
@pytest.mark.parametrize("op", [op for op in OPS if op.arity == 2], ids=repr)
def test_every_gradient_refuses_a_bad_grad(
    op: Op, bad: tuple[str, np.ndarray, type[Exception], str]
) -> None:
    _, grad, exc, fragment = bad
    _expect_error(op, op.inputs(X, grad), _sentinel(), exc, fragment)


def _other_dtype(dtype: Any) -> Any:
    """A dtype no result of an x of ``dtype`` has: float32 for float64, else float64."""
    return np.float32 if dtype == np.float64 else np.float64


# (name, make (x, out) from a (3, 4) x of a dtype the op computes in, exception, message fragment);
# a gradient gets a grad like x
BAD_OUT: list[tuple[str, Callable[[np.ndarray], tuple[Any, Any]], type[Exception], str]] = [
    ("shape", lambda x: (x[:2], _sentinel(dtype=x.dtype)), ValueError, "out has shape"),
    ("same size, other shape", lambda x: (x, _sentinel((4, 3), x.dtype)), ValueError,
     "out has shape"),
    ("other dtype", lambda x: (x, _sentinel(dtype=_other_dtype(x.dtype))), TypeError,
     "out has dtype"),
    ("list", lambda x: (x, [123] * 12), TypeError, "out must be a numpy.ndarray"),
    ("read-only", lambda x: (x, _read_only(_sentinel(dtype=x.dtype))), ValueError,
     "out is read-only"),
]  # fmt: skip


@pytest.mark.parametrize("bad", BAD_OUT, ids=[b[0] for b in BAD_OUT])
@pytest.mark.parametrize("op", OPS, ids=repr)
def test_every_op_refuses_a_bad_out(
    op: Op, bad: tuple[str, Callable[[np.ndarray], tuple[Any, Any]], type[Exception], str]
) -> None:
    """On an x of each dtype the op computes in."""
    _, make, exc, fragment = bad
    for dt in op.dtypes:
        x, out = make(random_values(dt, (3, 4)))
        _expect_error(op, op.inputs(x, x), out, exc, fragment)


def test_every_public_op_is_in_the_registry() -> None:
    """A public function (of relu_rs or one of conftest.OP_MODULES) fails here until
    conftest.OPS has an entry for it, so that every cross-cutting suite tests it."""
    not_ops = {
        "__version__",
        "info",
        "get_num_threads",
        "set_num_threads",
        "get_spin_wait",
        "set_spin_wait",
    }
    public = {f"{path}.{name}" if path else name
              for path, module in OP_MODULES.items() for name in module.__all__}  # fmt: skip
    assert sorted(public - not_ops) == OP_FUNCTIONS
    assert "quantized.relu" in OP_FUNCTIONS  # the submodule's functions are ops too
    for op in OPS:
        assert op.fn is attrgetter(op.function)(relu_rs), op.name
        # an entry named after its function alone calls it with no keyword parameters
        assert (op.name == op.function) == (not op.kwargs), op.name
        assert op.arg_names[-1] in ("x", "q"), op.name
    assert len(set(OP_NAMES)) == len(OP_NAMES), "entries need distinct names (test ids)"


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
    for name in [*OP_FUNCTIONS, "set_num_threads", "get_num_threads"]:
        public = attrgetter(name)(relu_rs)
        assert public is attrgetter(name)(_relu_rs), name
        assert public.__doc__, name


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
