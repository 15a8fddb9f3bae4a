"""Fixtures of the dataset tests: seeded factor classes and the real dSprites frames."""

import numpy as np
import pytest
from official_formats import DSPRITES_SIZES, REFERENCE_FRAMES


@pytest.fixture(scope="session")
def dsprites_sample_classes():
    """300 official dSprites class rows drawn with a fixed seed."""
    rng = np.random.default_rng(3)
    return np.stack([rng.integers(0, size, 300) for size in DSPRITES_SIZES], axis=1)


@pytest.fixture(scope="session")
def reference_frames():
    """The 320 real dSprites frames with their labels (skipped when absent)."""
    if not REFERENCE_FRAMES.is_file():
        pytest.skip(
            f"the dSprites reference frames are not at {REFERENCE_FRAMES} (the `shared` "
            "folder beside the checkout); renderer fidelity cannot be checked"
        )
    with np.load(REFERENCE_FRAMES) as archive:
        return {key: archive[key] for key in archive.files}
