"""Shared fixtures: small seeded data sets, and skipping GPU tests without a GPU."""

import numpy as np
import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; none is available on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def tabular_unit_data():
    """300 rows of 8 features in [0, 1] driven by 2 latent factors."""
    rng = np.random.default_rng(0)
    factors = rng.random((300, 2))
    mixing = rng.normal(size=(2, 8))
    return (1.0 / (1.0 + np.exp(-3.0 * (factors - 0.5) @ mixing))).astype(np.float32)


@pytest.fixture
def small_images():
    """200 binary 16x16 images of a bar at one of 8 positions and 2 lengths, uint8."""
    rng = np.random.default_rng(0)
    images = np.zeros((200, 16, 16), dtype=np.uint8)
    positions = rng.integers(0, 8, size=200)
    lengths = rng.integers(0, 2, size=200)
    for i, (p, length) in enumerate(zip(positions, lengths, strict=True)):
        images[i, 2 * p : 2 * p + 2, 2 : 8 + 6 * length] = 255
    return images
