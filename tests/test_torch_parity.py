"""PyTorch parity for ReLU6: relu(x, max_value=6) against torch.nn.functional.relu6 and
relu_grad(grad, x, max_value=6) against relu6's autograd backward, float32 and float64, bit for
bit. Skipped where torch is not installed.

Two differences by design, excluded and checked separately:
* x = -0.0: PyTorch's relu6 (a clamp) returns -0.0; relu_rs returns +0.0 (relu never returns -0).
  The values are equal; only the sign of zero differs.
* NaN x in the backward: PyTorch gives grad (float32) or 0 (float64) where x is NaN; relu_rs
  gives NaN, so a NaN never becomes a number in training.
"""

from __future__ import annotations

import numpy as np
import pytest

import relu_rs

torch = pytest.importorskip("torch")

DTYPES = [np.float32, np.float64]


def _values(dtype: type, nan: bool) -> np.ndarray:
    """Random values across both ends of (0, 6), then the special values around them."""
    fi = np.finfo(dtype)
    six = dtype(6)
    special = [np.inf, -np.inf, 0.0, 6.0, np.nextafter(six, dtype(0)),
               np.nextafter(six, dtype(7)), 5.999, 6.001, fi.max, -fi.max, fi.tiny, -fi.tiny,
               fi.smallest_subnormal, -fi.smallest_subnormal, 1.0, -1.0, 3.0]  # fmt: skip
    rng = np.random.default_rng(6)
    noise = rng.standard_normal(5000) * 5
    vals = np.concatenate([np.array(special, dtype=dtype), noise.astype(dtype)])
    if nan:
        vals = np.concatenate([vals, np.array([np.nan, -np.nan], dtype=dtype)])
    return vals


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint32 if a.dtype == np.float32 else np.uint64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu6_forward_bit_identical(dtype: type) -> None:
    x = _values(dtype, nan=True)
    want = torch.nn.functional.relu6(torch.from_numpy(x.copy())).numpy()
    got = relu_rs.relu(x, max_value=6)
    np.testing.assert_array_equal(_bits(got), _bits(want))
    # several shapes and layouts
    x3 = x[: 4 * 25 * 50].reshape(4, 25, 50)[:, ::-1, ::2]
    want3 = torch.nn.functional.relu6(torch.from_numpy(x3.copy())).numpy()
    np.testing.assert_array_equal(_bits(relu_rs.relu(x3, max_value=6)), _bits(want3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu6_forward_minus_zero_differs_only_in_sign(dtype: type) -> None:
    x = np.array([-0.0, 0.0], dtype=dtype)
    want = torch.nn.functional.relu6(torch.from_numpy(x.copy())).numpy()
    got = relu_rs.relu(x, max_value=6)
    np.testing.assert_array_equal(got, want)
    assert not np.signbit(got).any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu6_backward_bit_identical(dtype: type) -> None:
    """NaN x excluded: see the module docstring."""
    x = np.concatenate([_values(dtype, nan=False), np.array([-0.0], dtype=dtype)])
    g = np.random.default_rng(7).standard_normal(x.size).astype(dtype)
    g[:6] = [np.inf, -np.inf, np.nan, 2.0, -3.0, 0.5]  # x: inf, -inf, 0, 6 (gradient 0), then in
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    torch.nn.functional.relu6(xt).backward(torch.from_numpy(g.copy()))
    assert xt.grad is not None
    want = xt.grad.numpy()
    got = relu_rs.relu_grad(g, x, max_value=6)
    np.testing.assert_array_equal(_bits(got), _bits(want))
    # from the output, as nn.ReLU(max_value=6) computes it
    y = relu_rs.relu(x, max_value=6)
    np.testing.assert_array_equal(_bits(relu_rs.relu_grad(g, y, max_value=6)), _bits(want))


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu6_layer_matches_torch_module(dtype: type) -> None:
    from relu_rs import nn

    x = _values(dtype, nan=False)[:2000].reshape(40, 50)
    g = np.random.default_rng(8).standard_normal(x.shape).astype(dtype)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = torch.nn.ReLU6()(xt)
    yt.backward(torch.from_numpy(g.copy()))
    assert xt.grad is not None
    layer = nn.ReLU(max_value=6)
    np.testing.assert_array_equal(_bits(layer(x)), _bits(yt.detach().numpy()))
    np.testing.assert_array_equal(_bits(layer.backward(g)), _bits(xt.grad.numpy()))
