"""Ground-truth datasets: images with the factors that generated them, offline and uint8.

`make_dsprites` renders dSprites from its specification (pixel-exact against the
official frames) and caches it; `load_dsprites` and `load_shapes3d` read the official
files when a user has them; `make_correlated_ellipses` draws the CHyVAE paper's
CorrelatedEllipses. Every one returns a `GroundTruthDataset`. Nothing is downloaded.
"""

from ._base import GroundTruthDataset, get_data_home
from ._lazy import LazyImages
from .dsprites import load_dsprites, make_dsprites, render_dsprites
from .ellipses import make_correlated_ellipses
from .shapes3d import load_shapes3d

__all__ = [
    "GroundTruthDataset",
    "LazyImages",
    "get_data_home",
    "load_dsprites",
    "load_shapes3d",
    "make_correlated_ellipses",
    "make_dsprites",
    "render_dsprites",
]
