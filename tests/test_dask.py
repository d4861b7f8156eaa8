"""Arrays larger than memory: relu_rs works blockwise on dask arrays (skipped without dask)."""

from __future__ import annotations

import numpy as np
import pytest

import relu_rs

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")


@pytest.fixture
def nchw() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 6, 10, 12)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    alpha = np.linspace(0.05, 0.5, 6).astype(np.float32)
    return x, g, alpha


def test_relu_map_blocks(nchw: tuple[np.ndarray, ...]) -> None:
    x = nchw[0]
    dx = da.from_array(x, chunks=(3, 2, 5, 7))
    np.testing.assert_array_equal(da.map_blocks(relu_rs.relu, dx).compute(), relu_rs.relu(x))
    np.testing.assert_array_equal(
        da.map_blocks(relu_rs.softplus, dx).compute(), relu_rs.softplus(x)
    )


def test_prelu_per_channel_blockwise(nchw: tuple[np.ndarray, ...]) -> None:
    x, _, alpha = nchw
    want = relu_rs.prelu(x, alpha, axis=1)
    # Chunks that keep every channel whole: alpha goes to every block as is.
    dx = da.from_array(x, chunks=(3, 6, 5, 12))
    got = da.map_blocks(relu_rs.prelu, dx, alpha, axis=1, dtype=x.dtype).compute()
    np.testing.assert_array_equal(got, want)

    # Chunks that split the channel axis: each block takes its slice of alpha.
    def prelu_block(xb: np.ndarray, block_info: dict | None = None) -> np.ndarray:
        assert block_info is not None
        lo, hi = block_info[0]["array-location"][1]
        return relu_rs.prelu(xb, alpha[lo:hi], axis=1)

    dx = da.from_array(x, chunks=(3, 4, 5, 7))
    np.testing.assert_array_equal(da.map_blocks(prelu_block, dx, dtype=x.dtype).compute(), want)


def _alpha_grad_over_blocks(g: da.Array, x: da.Array, alpha: np.ndarray) -> np.ndarray:
    """Sum the per-block α-gradients (in float64, in block order) for chunks that keep the
    channel axis whole."""

    def partial(gb: np.ndarray, xb: np.ndarray) -> np.ndarray:
        return relu_rs.prelu_grad(gb, xb, alpha, axis=1)[1].astype(np.float64)

    blocks = zip(g.to_delayed().ravel(), x.to_delayed().ravel(), strict=True)
    parts = [dask.delayed(partial)(gb, xb) for gb, xb in blocks]
    total = dask.delayed(lambda ps: np.sum(ps, axis=0))(parts).compute()
    return np.asarray(total).astype(x.dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_alpha_gradient_summed_over_blocks(nchw: tuple[np.ndarray, ...], dtype: type) -> None:
    x, g, alpha = (a.astype(dtype) for a in nchw)
    grad_x, grad_alpha = relu_rs.prelu_grad(g, x, alpha, axis=1)
    dx = da.from_array(x, chunks=(3, 6, 4, 12))
    dg = da.from_array(g, chunks=(3, 6, 4, 12))
    blockwise = _alpha_grad_over_blocks(dg, dx, alpha)
    tolerance = 4 * np.finfo(dtype).eps
    np.testing.assert_allclose(blockwise, grad_alpha, rtol=tolerance)
    got_gx = da.map_blocks(
        lambda gb, xb: relu_rs.prelu_grad(gb, xb, alpha)[0], dg, dx, dtype=x.dtype
    ).compute()
    np.testing.assert_array_equal(got_gx, grad_x)
