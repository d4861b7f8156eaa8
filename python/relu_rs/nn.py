"""Layers for training networks in NumPy: forward caches what backward needs.

Every layer is callable (``layer(x)`` is ``layer.forward(x)``), has ``backward(grad) -> grad_x``
using what the last forward cached, and ``parameters()`` / ``grads()`` lists (PReLU: its alpha and
alpha_grad; the others have none), so a plain SGD loop can update them::

    for p, g in zip(layer.parameters(), layer.grads()):
        p -= lr * g

``backward`` before ``forward`` raises RuntimeError.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _relu_rs as F

__all__ = ["LeakyReLU", "Module", "PReLU", "ReLU", "Softplus"]

Array = npt.NDArray[Any]

# An empty array: a call on it checks a layer's parameters exactly as the functions do.
_NO_DATA = np.empty(0)


class Module:
    """Base class: callable, with empty parameter and gradient lists."""

    _saved: Array | None = None

    def __call__(self, x: npt.ArrayLike) -> Array:
        return self.forward(x)

    def forward(self, x: npt.ArrayLike) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad: npt.ArrayLike) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def parameters(self) -> list[Array]:
        return []

    def grads(self) -> list[Array]:
        return []

    def zero_grad(self) -> None:
        for g in self.grads():
            g[...] = 0

    def _saved_or_raise(self) -> Array:
        if self._saved is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._saved


def _writeable_array(x: npt.ArrayLike, layer: str) -> Array:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{layer}(inplace=True) needs an ndarray to write into, got {type(x)}")
    return x


class ReLU(Module):
    """relu(x) = max(0, x), or min(max(0, x), max_value) (``max_value=6``: ReLU6).

    Backward uses the output, which lies in (0, max_value) exactly where the input does.
    ``inplace=True`` writes into ``x`` and returns ``x`` itself.
    """

    def __init__(self, max_value: float | None = None, inplace: bool = False) -> None:
        F.relu(_NO_DATA, max_value=max_value)  # max_value checked as the function checks it
        self.max_value = max_value
        self.inplace = inplace

    def forward(self, x: npt.ArrayLike) -> Array:
        if self.inplace:
            xa = _writeable_array(x, "ReLU")
            y = F.relu(xa, max_value=self.max_value, out=xa)
        else:
            y = F.relu(x, max_value=self.max_value)
        self._saved = y
        return y

    def backward(self, grad: npt.ArrayLike) -> Array:
        return F.relu_grad(grad, self._saved_or_raise(), max_value=self.max_value)

    def __repr__(self) -> str:
        return f"ReLU(max_value={self.max_value}, inplace={self.inplace})"


class LeakyReLU(Module):
    """leaky_relu(x) = x if x > 0 else alpha·x.

    ``inplace=True`` is allowed only for ``alpha > 0``: then the output is positive exactly where
    the input is, so backward from the output is exact. For ``alpha <= 0`` the output loses the
    input's sign, so in place would make backward wrong; that raises ValueError.

    For ``alpha > 0`` backward uses the output, which the layer owns. For ``alpha <= 0`` it keeps
    a reference to the input (no copy, as PyTorch does): modifying ``x`` between forward and
    backward changes the gradient.
    """

    def __init__(self, alpha: float = 0.01, inplace: bool = False) -> None:
        F.leaky_relu(_NO_DATA, alpha)  # alpha checked as the function checks it
        a = float(alpha)
        if inplace and not a > 0:
            raise ValueError(
                f"LeakyReLU(inplace=True) needs alpha > 0, got {a}: with alpha <= 0 the output "
                "does not determine the input's sign, so backward would be wrong"
            )
        self.alpha = a
        self.inplace = inplace

    def forward(self, x: npt.ArrayLike) -> Array:
        if self.inplace:
            xa = _writeable_array(x, "LeakyReLU")
            y = F.leaky_relu(xa, self.alpha, out=xa)
        else:
            y = F.leaky_relu(x, self.alpha)
        # alpha > 0: the output (ours) carries the sign; otherwise keep the input.
        self._saved = y if self.alpha > 0 else np.asarray(x)
        return y

    def backward(self, grad: npt.ArrayLike) -> Array:
        return F.leaky_relu_grad(grad, self._saved_or_raise(), self.alpha)

    def __repr__(self) -> str:
        return f"LeakyReLU(alpha={self.alpha}, inplace={self.inplace})"


class PReLU(Module):
    """PReLU with learnable alpha: ``x if x > 0 else alpha[c]·x`` along ``axis``.

    ``alpha`` has shape ``(num_parameters,)``; ``num_parameters=1`` shares one alpha across all
    channels. ``alpha_grad`` starts at zeros and accumulates (+=) over backward calls until
    :meth:`zero_grad`.
    """

    def __init__(
        self,
        num_parameters: int = 1,
        init: float = 0.25,
        axis: int = 1,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        n = operator.index(num_parameters)
        if n < 1:
            raise ValueError(f"num_parameters must be >= 1, got {n}")
        if not math.isfinite(float(init)):
            raise ValueError(f"init must be finite, got {init!r}")
        dt = np.dtype(dtype)
        if dt.name not in F._float_dtypes:
            raise TypeError(f"dtype must be one of {', '.join(F._float_dtypes)}, got {dt}")
        self.num_parameters = n
        self.axis = operator.index(axis)
        self.alpha: Array = np.full(n, init, dtype=dt)
        self.alpha_grad: Array = np.zeros(n, dtype=dt)

    def _check(self, x: Array) -> None:
        if self.num_parameters == 1:
            return
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError(f"axis {self.axis} is out of bounds for x with {x.ndim} dimension(s)")
        c = x.shape[self.axis]
        if c != self.num_parameters:
            raise ValueError(
                f"PReLU has num_parameters={self.num_parameters} but x.shape[{self.axis}] is {c}"
            )

    def forward(self, x: npt.ArrayLike) -> Array:
        xa = np.asarray(x)
        self._check(xa)
        y = F.prelu(xa, self.alpha, axis=self.axis)
        self._saved = xa
        return y

    def backward(self, grad: npt.ArrayLike) -> Array:
        x = self._saved_or_raise()
        grad_x, grad_alpha = F.prelu_grad(grad, x, self.alpha, axis=self.axis)
        self.alpha_grad += grad_alpha.astype(self.alpha_grad.dtype, copy=False)
        return grad_x

    def parameters(self) -> list[Array]:
        return [self.alpha]

    def grads(self) -> list[Array]:
        return [self.alpha_grad]

    def __repr__(self) -> str:
        return f"PReLU(num_parameters={self.num_parameters}, axis={self.axis})"


class Softplus(Module):
    """softplus(x) = log(1 + exp(beta·x)) / beta (x where beta·x > threshold).

    ``inplace=True`` writes into ``x`` (returning ``x`` itself) and backward uses the output:
    sigmoid(beta·x) = 1 − exp(−beta·y) (``softplus_grad(..., from_output=True)``, within 3 ULP).
    Otherwise backward uses a reference to the input (no copy, as PyTorch does; ≤ 2 ULP):
    modifying ``x`` between forward and backward changes the gradient.
    """

    def __init__(
        self, beta: float = 1.0, threshold: float | None = None, inplace: bool = False
    ) -> None:
        F.softplus(_NO_DATA, beta, threshold)  # beta and threshold checked as the function does
        self.beta = float(beta)
        self.threshold = threshold
        self.inplace = inplace

    def forward(self, x: npt.ArrayLike) -> Array:
        if self.inplace:
            xa = _writeable_array(x, "Softplus")
            y = F.softplus(xa, self.beta, self.threshold, out=xa)
            self._saved = y
        else:
            xa = np.asarray(x)
            y = F.softplus(xa, self.beta, self.threshold)
            self._saved = xa
        return y

    def backward(self, grad: npt.ArrayLike) -> Array:
        saved = self._saved_or_raise()
        return F.softplus_grad(grad, saved, self.beta, self.threshold, from_output=self.inplace)

    def __repr__(self) -> str:
        return f"Softplus(beta={self.beta}, threshold={self.threshold}, inplace={self.inplace})"
