# Stub for the compiled module; `relu_rs` re-exports these functions (their docstrings are the
# compiled module's). Every function converts array-likes, keeps the dtype, honours out= and
# raises TypeError/ValueError naming the argument before writing anything.

from typing import Any, Final

import numpy.typing as npt

__all__ = [
    "__version__",
    "get_num_threads",
    "get_spin_wait",
    "leaky_relu",
    "leaky_relu_grad",
    "prelu",
    "prelu_grad",
    "relu",
    "relu_grad",
    "set_num_threads",
    "set_spin_wait",
    "softplus",
    "softplus_grad",
]

_Array = npt.NDArray[Any]

__version__: Final[str]
_float_dtypes: Final[list[str]]

def relu(
    x: npt.ArrayLike, *, max_value: float | None = None, out: _Array | None = None
) -> _Array: ...
def relu_grad(
    grad: npt.ArrayLike,
    x: npt.ArrayLike,
    *,
    max_value: float | None = None,
    out: _Array | None = None,
) -> _Array: ...
def leaky_relu(x: npt.ArrayLike, alpha: float = 0.01, *, out: _Array | None = None) -> _Array: ...
def leaky_relu_grad(
    grad: npt.ArrayLike, x: npt.ArrayLike, alpha: float = 0.01, *, out: _Array | None = None
) -> _Array: ...
def prelu(
    x: npt.ArrayLike, alpha: npt.ArrayLike, *, axis: int = 1, out: _Array | None = None
) -> _Array: ...
def prelu_grad(
    grad: npt.ArrayLike,
    x: npt.ArrayLike,
    alpha: npt.ArrayLike,
    *,
    axis: int = 1,
    out: _Array | None = None,
    alpha_grad_out: _Array | None = None,
) -> tuple[_Array, _Array]: ...
def softplus(
    x: npt.ArrayLike,
    beta: float = 1.0,
    threshold: float | None = None,
    *,
    out: _Array | None = None,
) -> _Array: ...
def softplus_grad(
    grad: npt.ArrayLike,
    x: npt.ArrayLike,
    beta: float = 1.0,
    threshold: float | None = None,
    *,
    out: _Array | None = None,
    from_output: bool = False,
) -> _Array: ...
def set_num_threads(n: int | None) -> None: ...
def get_num_threads() -> int: ...
def set_spin_wait(us: int | None) -> None: ...
def get_spin_wait() -> int: ...
def _simd_path() -> str: ...
