# Stub for relu_rs.quantized (the compiled submodule's functions, re-exported; their docstrings
# are the compiled ones). Checked by `python -m mypy.stubtest relu_rs.quantized`.

from typing import Any

import numpy.typing as npt

__all__ = ["leaky_relu", "prelu", "relu", "softplus"]

_Array = npt.NDArray[Any]

def relu(
    q: npt.ArrayLike,
    scale: float,
    zero_point: int,
    *,
    out_scale: float | None = None,
    out_zero_point: int | None = None,
    out: _Array | None = None,
) -> _Array: ...
def leaky_relu(
    q: npt.ArrayLike,
    alpha: float,
    scale: float,
    zero_point: int,
    *,
    out_scale: float | None = None,
    out_zero_point: int | None = None,
    out: _Array | None = None,
) -> _Array: ...
def prelu(
    q: npt.ArrayLike,
    alpha: npt.ArrayLike,
    scale: float,
    zero_point: int,
    *,
    axis: int = 1,
    out_scale: float | None = None,
    out_zero_point: int | None = None,
    out: _Array | None = None,
) -> _Array: ...
def softplus(
    q: npt.ArrayLike,
    scale: float,
    zero_point: int,
    *,
    beta: float = 1.0,
    out_scale: float | None = None,
    out_zero_point: int | None = None,
    out: _Array | None = None,
) -> _Array: ...
