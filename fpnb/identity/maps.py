"""Minutiae maps for reconstruction (3 channels) and minutiae drawn over a print for figures."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from fpnb.identity.minutiae import BIFURCATION, ENDING

if TYPE_CHECKING:
    from fpnb.data.masters import Master
    from fpnb.identity.minutiae import Minutiae

CHANNELS = ("endings", "bifurcations", "singular_points")


def _dots(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian dots of peak 1 at each (row, col); overlapping dots add, clipped at 1."""
    impulses = np.zeros(shape, dtype=np.float64)
    r = np.rint(rows).astype(int)
    c = np.rint(cols).astype(int)
    inside = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
    np.add.at(impulses, (r[inside], c[inside]), 1.0)
    if sigma <= 0:
        return np.minimum(impulses, 1.0)
    size = 2 * int(4 * sigma) + 1
    impulse = np.zeros((size, size))
    impulse[size // 2, size // 2] = 1.0
    peak = ndimage.gaussian_filter(impulse, sigma).max()
    return np.minimum(ndimage.gaussian_filter(impulses, sigma, mode="constant") / peak, 1.0)


def _lines(minutiae: Minutiae, shape: tuple[int, int], length: float) -> np.ndarray:
    """Anti-aliased 1 px segments of ``length`` from each minutia along its direction."""
    import cv2

    canvas = np.zeros(shape, dtype=np.float32)
    shift = 4  # sub-pixel precision bits for cv2.line
    scale = 1 << shift
    for x, y, angle in zip(minutiae.x, minutiae.y, minutiae.angle, strict=True):
        start = (int(round(x * scale)), int(round(y * scale)))
        end_x, end_y = x + length * np.cos(angle), y - length * np.sin(angle)
        end = (int(round(end_x * scale)), int(round(end_y * scale)))
        cv2.line(canvas, start, end, 1.0, thickness=1, lineType=cv2.LINE_AA, shift=shift)
    return canvas


def minutiae_map(
    minutiae: Minutiae,
    singular_points: np.ndarray | None,
    shape: tuple[int, int],
    sigma: float = 3.0,
    line_length: int = 15,
) -> np.ndarray:
    """float32 (3, H, W) in [0, 1]: endings, bifurcations, singular points (row, col array).

    Each minutia is a Gaussian dot of peak 1 plus a short line along its direction;
    singular points are dots only.
    """
    shape = (int(shape[0]), int(shape[1]))
    out = np.zeros((3, *shape), dtype=np.float32)
    for channel, kind in enumerate((ENDING, BIFURCATION)):
        subset = minutiae.select(minutiae.kind == kind)
        dots = _dots(subset.y, subset.x, shape, sigma)
        out[channel] = np.maximum(dots, _lines(subset, shape, line_length))
    if singular_points is not None and len(singular_points):
        points = np.asarray(singular_points, dtype=np.float64).reshape(-1, 2)
        out[2] = _dots(points[:, 0], points[:, 1], shape, sigma)
    return out


def draw_minutiae(
    ax: Any,
    image: np.ndarray,
    minutiae: Minutiae,
    singular_points: np.ndarray | None = None,
    length: float = 12.0,
    title: str | None = None,
) -> Any:
    """Show a grey print with endings (red circles), bifurcations (blue squares) and directions."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    if ax is None:
        _, ax = plt.subplots(figsize=(3, 4.4))
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    styles = {ENDING: ("o", "tab:red", "ending"), BIFURCATION: ("s", "tab:blue", "bifurcation")}
    for kind, (marker, colour, label) in styles.items():
        subset = minutiae.select(minutiae.kind == kind)
        ax.scatter(subset.x, subset.y, s=22, marker=marker, facecolors="none", edgecolors=colour,
                   linewidths=1.0, label=f"{label} ({len(subset)})")
        ends = np.stack([subset.x + length * np.cos(subset.angle),
                         subset.y - length * np.sin(subset.angle)], 1)
        segments = np.stack([np.stack([subset.x, subset.y], 1), ends], 1)
        ax.add_collection(LineCollection(segments, colors=colour, linewidths=1.0))
    if singular_points is not None and len(singular_points):
        points = np.asarray(singular_points).reshape(-1, 2)
        ax.scatter(points[:, 1], points[:, 0], s=60, marker="^", c="tab:green", label="singular point")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def minutiae_overlays(master: Master, impressions: Sequence[np.ndarray], degraded: np.ndarray,
                      strength: float) -> Any:
    """A master, its impressions and a degraded copy (of ``strength``) with their MINDTCT minutiae
    (``draw_minutiae``; the master's singular points too), and the ``minutiae_map`` of the master."""
    import matplotlib.pyplot as plt

    from fpnb.identity.fields import normalise
    from fpnb.identity.matchers import extract_minutiae

    singular = np.concatenate([master.cores, master.deltas])
    shown = [master.image, *impressions, degraded]
    titles = ["master"] + [f"impression {k}" for k in range(len(impressions))] + [f"degraded ({strength})"]
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(2.6 * (len(shown) + 1), 4))
    for ax, image, title in zip(axes, shown, titles):
        found = extract_minutiae(image)
        draw_minutiae(ax, normalise(image), found, singular_points=singular if title == "master" else None,
                      title=f"{title}: {len(found)} minutiae")
    axes[-1].imshow(np.moveaxis(minutiae_map(extract_minutiae(master.image), singular, master.image.shape), 0, -1))
    axes[-1].set_title("minutiae map (R end, G bif, B sing.)", fontsize=9)
    axes[-1].set_axis_off()
    fig.tight_layout()
    return fig
