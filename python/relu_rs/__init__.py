"""relu_rs: the ReLU family of activations and their gradients for NumPy arrays.

Rust kernels, zero-copy on C/F-contiguous arrays, parallel on large ones, exact where the math
allows and within stated ULP bounds where it does not (softplus). Every function is the compiled
one itself: it converts array-likes, keeps the dtype, honours ``out=`` and checks its arguments
before writing anything.

>>> import numpy as np, relu_rs
>>> relu_rs.relu(np.array([-1.0, 0.5]))
array([0. , 0.5])
"""

from typing import Any

from . import _relu_rs
from ._relu_rs import *  # noqa: F403 - the compiled functions: the whole API but info()
from ._relu_rs import __version__, _float_dtypes, _simd_path, get_num_threads

__all__ = ["info"]
__all__ += _relu_rs.__all__


def info() -> dict[str, Any]:
    """Build and runtime facts: ``version``, ``simd`` (the kernel code path in use),
    ``num_threads``, and the supported float dtypes."""
    return {
        "version": __version__,
        "simd": _simd_path(),
        "num_threads": get_num_threads(),
        "dtypes": list(_float_dtypes),
    }
