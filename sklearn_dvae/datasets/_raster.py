"""Scan-line geometry shared by the dSprites and CorrelatedEllipses renderers."""

import numpy as np


def ellipse_row_extent(dy, cos, sin, semi_u, semi_v, scale):
    """Horizontal extent of a rotated, filled ellipse on rows at vertical offsets ``dy``.

    The ellipse has semi-axes ``scale * semi_u`` (along u, horizontal before
    rotation) and ``scale * semi_v``; it is rotated counter-clockwise as displayed by
    the angle whose cosine and sine are ``cos`` and ``sin`` (all broadcast together).
    A point at offset (dx, dy) from the centre has local coordinates
    u = cos dx - sin dy, v = sin dx + cos dy, and is inside iff
    (u / semi_u)^2 + (v / semi_v)^2 <= scale^2: a quadratic A dx^2 + B dx + C <= 0.

    Returns
    -------
    left, right : ndarray
        Offsets from the centre of the row's first and last points inside.
    has_run : ndarray of bool
        Whether the row meets the ellipse at all (``left``/``right`` are meaningless
        where it does not).
    """
    a = cos**2 / semi_u**2 + sin**2 / semi_v**2
    b = 2.0 * cos * sin * dy * (1.0 / semi_v**2 - 1.0 / semi_u**2)
    c = dy**2 * (sin**2 / semi_u**2 + cos**2 / semi_v**2) - scale**2
    discriminant = b * b - 4.0 * a * c
    has_run = discriminant >= 0
    root = np.sqrt(np.where(has_run, discriminant, 0.0))
    return (-b - root) / (2.0 * a), (-b + root) / (2.0 * a), has_run
