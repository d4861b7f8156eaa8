"""Activations on 8-bit affine-quantized arrays (``real = (q - zero_point) * scale``), as in
PyTorch, ONNX and TFLite: int8 or uint8 in, the same dtype out, every result exactly the
correctly rounded (half to even) and saturated requantization of the real function's value.

>>> import numpy as np
>>> from relu_rs import quantized
>>> quantized.leaky_relu(np.array([-4, 0, 3], dtype=np.int8), 0.25, 0.5, 0)
array([-1,  0,  3], dtype=int8)
"""

from ._relu_rs import quantized as _compiled

__all__ = ["leaky_relu", "prelu", "relu", "softplus"]

leaky_relu = _compiled.leaky_relu
prelu = _compiled.prelu
relu = _compiled.relu
softplus = _compiled.softplus
