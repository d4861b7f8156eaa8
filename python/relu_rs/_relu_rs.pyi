# Stub for the compiled module. Private: use the functions re-exported by `relu_rs`, which
# validate their arguments. Each kernel takes ndarrays of one native dtype and one shape and
# returns True when it ran zero-copy; it returns False, having written nothing, when the arrays
# are not all contiguous in one memory order or an input partially overlaps `out` (the caller
# then copies and calls again).

import numpy as np

__all__ = [
    "__version__",
    "get_num_threads",
    "leaky_relu",
    "leaky_relu_grad",
    "prelu",
    "prelu_grad",
    "relu",
    "relu_grad",
    "set_num_threads",
    "simd_path",
    "softplus",
    "softplus_grad",
]

__version__: str

def relu(x: np.ndarray, out: np.ndarray) -> bool: ...
def relu_grad(grad: np.ndarray, x: np.ndarray, out: np.ndarray) -> bool: ...
def leaky_relu(x: np.ndarray, alpha: float, out: np.ndarray) -> bool: ...
def leaky_relu_grad(grad: np.ndarray, x: np.ndarray, alpha: float, out: np.ndarray) -> bool: ...
def prelu(
    x: np.ndarray, alpha: np.ndarray, inner_c: int, inner_f: int, out: np.ndarray
) -> bool: ...
def prelu_grad(
    grad: np.ndarray,
    x: np.ndarray,
    alpha: np.ndarray,
    inner_c: int,
    inner_f: int,
    out: np.ndarray,
    alpha_grad: np.ndarray,
) -> bool: ...
def softplus(x: np.ndarray, beta: float, threshold: float, out: np.ndarray) -> bool: ...
def softplus_grad(
    grad: np.ndarray, x: np.ndarray, beta: float, threshold: float, out: np.ndarray
) -> bool: ...
def set_num_threads(n: int | None = None) -> None: ...
def get_num_threads() -> int: ...
def simd_path() -> str: ...
