"""Ground-truth datasets: images with the factors that generated them, uint8 throughout.

Rendered offline: `make_dsprites` (pixel-exact against the official frames, cached),
the study's variants `make_color_dsprites`, `make_noisy_dsprites` and
`make_scream_dsprites`, and the CHyVAE paper's `make_correlated_ellipses`. Read from
the official files: `load_dsprites`, `load_shapes3d`, `load_smallnorb`, `load_cars3d`
and `load_mpi3d`, which never download anything. Downloaded into the data home
(`get_data_home`), checked and resumable: `fetch_dsprites`, `fetch_shapes3d`,
`fetch_smallnorb`, `fetch_cars3d` and `fetch_mpi3d`. Every one returns a
`GroundTruthDataset`.
"""

from ._base import GroundTruthDataset, get_data_home
from ._lazy import LazyImages
from .cars3d import fetch_cars3d, load_cars3d
from .dsprites import fetch_dsprites, load_dsprites, make_dsprites, render_dsprites
from .dsprites_variants import make_color_dsprites, make_noisy_dsprites, make_scream_dsprites
from .ellipses import make_correlated_ellipses
from .mpi3d import fetch_mpi3d, load_mpi3d
from .shapes3d import fetch_shapes3d, load_shapes3d
from .smallnorb import fetch_smallnorb, load_smallnorb

__all__ = [
    "GroundTruthDataset",
    "LazyImages",
    "fetch_cars3d",
    "fetch_dsprites",
    "fetch_mpi3d",
    "fetch_shapes3d",
    "fetch_smallnorb",
    "get_data_home",
    "load_cars3d",
    "load_dsprites",
    "load_mpi3d",
    "load_shapes3d",
    "load_smallnorb",
    "make_color_dsprites",
    "make_correlated_ellipses",
    "make_dsprites",
    "make_noisy_dsprites",
    "make_scream_dsprites",
    "render_dsprites",
]
