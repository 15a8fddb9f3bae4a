"""Fixtures of the dataset tests: seeded classes, real dSprites frames, a local file server."""

import numpy as np
import pytest
from file_server import FileServer
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


@pytest.fixture
def file_server():
    """A local HTTP server on 127.0.0.1 serving files from memory (see file_server.py)."""
    server = FileServer()
    yield server
    server.stop()


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """An empty data folder; the environment variables that would redirect it are unset."""
    monkeypatch.delenv("SKLEARN_DVAE_DATA", raising=False)
    monkeypatch.delenv("SKLEARN_DVAE_BASE_URL", raising=False)
    return tmp_path / "data_home"
