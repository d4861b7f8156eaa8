"""relu_rs: the ReLU family of activations and their gradients for NumPy arrays.

Rust kernels, zero-copy on C/F-contiguous arrays, parallel on large ones, exact where the math
allows and within stated ULP bounds where it does not (softplus).

>>> import numpy as np, relu_rs
>>> relu_rs.relu(np.array([-1.0, 0.5]))
array([0. , 0.5])
"""

from ._functional import (
    get_num_threads,
    info,
    leaky_relu,
    leaky_relu_grad,
    prelu,
    prelu_grad,
    relu,
    relu_grad,
    set_num_threads,
    softplus,
    softplus_grad,
)
from ._relu_rs import __version__

__all__ = [
    "__version__",
    "get_num_threads",
    "info",
    "leaky_relu",
    "leaky_relu_grad",
    "prelu",
    "prelu_grad",
    "relu",
    "relu_grad",
    "set_num_threads",
    "softplus",
    "softplus_grad",
]
