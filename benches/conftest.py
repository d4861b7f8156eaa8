"""Shared benchmark inputs. Benchmarks are measurements, never assertions on time."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

HAS_TORCH = importlib.util.find_spec("torch") is not None
SIZES = {"1K": 1_000, "64K": 65_536, "1M": 1_000_000, "16M": 16_000_000}


def data(n: int, dtype: Any = np.float32, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * 4).astype(dtype)


def torch_or_skip() -> Any:
    if not HAS_TORCH:
        pytest.skip("torch is not installed")
    import torch

    from relu_rs import get_num_threads

    torch.set_num_threads(get_num_threads())
    return torch
