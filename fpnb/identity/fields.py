"""Fingerprint fields: orientation and coherence, ridge period, foreground mask, singular points.

Conventions shared with ``fpnb.data.masters``: images are float [0, 1] with dark ridges on white;
points are (row, col); an orientation is the ridge direction in [0, pi), measured
counter-clockwise on screen from the +col axis: the unit vector (d_col, d_row) = (cos, -sin).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

if TYPE_CHECKING:
    from fpnb.data.masters import Master


@dataclass(frozen=True)
class SingularPoints:
    """Cores (Poincare index +1/2) and deltas (-1/2) as (k, 2) float arrays of (row, col)."""

    cores: np.ndarray
    deltas: np.ndarray

    def all(self) -> np.ndarray:
        """Cores and deltas stacked, (k, 2) (row, col)."""
        return np.concatenate([self.cores, self.deltas]).reshape(-1, 2)


def normalise(image: np.ndarray, percentile: float = 1.0) -> np.ndarray:
    """Grey, contrast-stretched to [0, 1] between two percentiles (0: min-max); soft inputs too."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3:
        image = image[..., :3].mean(axis=-1)
    lo, hi = np.percentile(image, [percentile, 100 - percentile])
    if hi - lo < 1e-6:
        return np.ones_like(image)
    return np.clip((image - lo) / (hi - lo), 0.0, 1.0)


def orientation_field(
    image: np.ndarray, gradient_sigma: float = 1.0, block_sigma: float = 7.0
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge orientation in [0, pi) and coherence in [0, 1] from the smoothed structure tensor."""
    from skimage.feature import structure_tensor

    smoothed = ndimage.gaussian_filter(normalise(image).astype(np.float64), gradient_sigma)
    a_rr, a_rc, a_cc = structure_tensor(smoothed, sigma=block_sigma, order="rc")
    # Dominant gradient angle (counter-clockwise on screen, rows point down); ridges run across it.
    gradient_angle = 0.5 * np.arctan2(-2 * a_rc, a_cc - a_rr)
    orientation = np.mod(gradient_angle + np.pi / 2, np.pi)
    trace = a_rr + a_cc
    coherence = np.sqrt((a_cc - a_rr) ** 2 + 4 * a_rc**2) / np.maximum(trace, 1e-12)
    return orientation.astype(np.float32), np.clip(coherence, 0, 1).astype(np.float32)


def ridge_period(
    image: np.ndarray,
    block: int = 48,
    stride: int = 16,
    min_period: float = 4.0,
    max_period: float = 20.0,
    fft_size: int = 128,
) -> np.ndarray:
    """Ridge period in pixels per pixel, from the radial power-spectrum peak of windowed blocks."""
    img = normalise(image).astype(np.float64)
    height, width = img.shape
    pad = block // 2
    padded = np.pad(img - img.mean(), pad, mode="reflect")
    rows = np.arange(0, height, stride)
    cols = np.arange(0, width, stride)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (block, block))[rows][:, cols]
    window = np.outer(np.hanning(block), np.hanning(block))
    patches = (windows - windows.mean(axis=(-1, -2), keepdims=True)) * window
    power = np.abs(np.fft.rfft2(patches, s=(fft_size, fft_size))) ** 2
    fy = np.fft.fftfreq(fft_size)[:, None]
    fx = np.fft.rfftfreq(fft_size)[None, :]
    radius = np.rint(np.hypot(fy, fx) * fft_size).astype(int).ravel()
    n_radii = fft_size // 2 + 1
    onehot = np.zeros((radius.size, n_radii))
    keep = radius < n_radii
    onehot[np.flatnonzero(keep), radius[keep]] = 1.0
    profile = power.reshape(len(rows), len(cols), -1) @ onehot
    lo = int(np.floor(fft_size / max_period))
    hi = int(np.ceil(fft_size / min_period))
    band = profile[..., lo : hi + 1]
    peak = np.clip(band.argmax(axis=-1), 1, band.shape[-1] - 2)
    # Parabolic interpolation of the peak between neighbouring radii.
    left, mid, right = (np.take_along_axis(band, (peak + d)[..., None], -1)[..., 0] for d in (-1, 0, 1))
    denom = left - 2 * mid + right
    offset = np.where(np.abs(denom) > 1e-12, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0)
    frequency = (lo + peak + np.clip(offset, -0.5, 0.5)) / fft_size
    period = np.clip(1.0 / frequency, min_period, max_period)
    period = ndimage.median_filter(period, size=3, mode="nearest")
    zoom = (height / period.shape[0], width / period.shape[1])
    full = ndimage.zoom(period, zoom, order=1, mode="nearest")[:height, :width]
    return full.astype(np.float32)


def dominant_period(image: np.ndarray, min_period: float = 4.0, max_period: float = 25.0, pad: int = 4) -> float:
    """One ridge period (px) for a patch or a whole print: peak of its radially summed power spectrum.

    Hann-windowed, zero-padded to ``pad`` times its side (finer frequency bins); one FFT, so much
    cheaper than the per-block ``ridge_period`` map. NaN when no power lies in the period band.
    """
    patch = np.asarray(image, dtype=np.float64)
    height, width = patch.shape
    patch = (patch - patch.mean()) * np.outer(np.hanning(height), np.hanning(width))
    size = pad * max(height, width)
    power = np.abs(np.fft.rfft2(patch, s=(size, size))) ** 2
    radius = np.hypot(np.fft.fftfreq(size)[:, None], np.fft.rfftfreq(size)[None, :])  # cycles per px
    band = (radius >= 1 / max_period) & (radius <= 1 / min_period)
    profile = np.bincount(np.rint(radius[band] * size).astype(int), weights=power[band])
    return float(size / np.argmax(profile)) if profile.any() else float("nan")


def foreground_mask(image: np.ndarray, window: int = 15, closing: int = 9) -> np.ndarray:
    """Foreground (ridge area) by Otsu threshold on local standard deviation, filled and cleaned."""
    from skimage.filters import threshold_otsu

    img = normalise(image).astype(np.float64)
    mean = ndimage.uniform_filter(img, window)
    local_std = np.sqrt(np.maximum(ndimage.uniform_filter(img**2, window) - mean**2, 0))
    mask = local_std > threshold_otsu(local_std)
    mask = ndimage.binary_closing(mask, np.ones((closing, closing)), border_value=0)
    mask = ndimage.binary_opening(mask, np.ones((closing, closing)))
    mask = ndimage.binary_fill_holes(mask)
    labels, n_labels = ndimage.label(mask)
    if n_labels > 1:
        sizes = ndimage.sum(mask, labels, range(1, n_labels + 1))
        mask = labels == (1 + int(np.argmax(sizes)))
    return mask


def poincare_index(orientation: np.ndarray, radius: int = 1) -> np.ndarray:
    """Poincare index of every pixel along a square of side 2*radius+1: +0.5 core, -0.5 delta, 0 none."""
    if radius < 1:
        raise ValueError(f"radius: must be >= 1, got {radius}")
    doubled = np.pad(2.0 * orientation.astype(np.float64), radius, mode="edge")
    height, width = orientation.shape
    r = radius
    # Closed counter-clockwise walk on screen around the square (row offsets, col offsets).
    steps = ([(dr, r) for dr in range(r, -r - 1, -1)] + [(-r, dc) for dc in range(r - 1, -r - 1, -1)]
             + [(dr, -r) for dr in range(-r + 1, r + 1)] + [(r, dc) for dc in range(-r + 1, r + 1)])
    angles = np.stack([doubled[r + dr:r + dr + height, r + dc:r + dc + width] for dr, dc in steps])
    delta = np.diff(angles, axis=0, append=angles[:1])
    delta = (delta + np.pi) % (2 * np.pi) - np.pi
    return delta.sum(axis=0) / (4 * np.pi)


def singular_points(
    orientation: np.ndarray,
    mask: np.ndarray | None = None,
    step: int = 8,
    smooth_sigma: float = 1.5,
    margin: int = 16,
) -> SingularPoints:
    """Cores and deltas by the Poincare index of the block-averaged, smoothed orientation field."""
    orientation = np.asarray(orientation, dtype=np.float64)
    cos2 = ndimage.uniform_filter(np.cos(2 * orientation), step)[step // 2 :: step, step // 2 :: step]
    sin2 = ndimage.uniform_filter(np.sin(2 * orientation), step)[step // 2 :: step, step // 2 :: step]
    cos2 = ndimage.gaussian_filter(cos2, smooth_sigma, mode="nearest")
    sin2 = ndimage.gaussian_filter(sin2, smooth_sigma, mode="nearest")
    coarse = np.mod(0.5 * np.arctan2(sin2, cos2), np.pi)
    index = poincare_index(coarse)
    valid = np.ones(coarse.shape, dtype=bool)
    valid[[0, -1], :] = False
    valid[:, [0, -1]] = False
    if mask is not None:
        inner = ndimage.binary_erosion(mask, iterations=margin, border_value=0)
        valid &= inner[step // 2 :: step, step // 2 :: step][: coarse.shape[0], : coarse.shape[1]]
    points = []
    for sign in (0.5, -0.5):
        hits = valid & (np.abs(index - sign) < 0.25)
        labels, n_labels = ndimage.label(hits, np.ones((3, 3)))
        centres = ndimage.center_of_mass(hits, labels, range(1, n_labels + 1))
        points.append(np.array([(r * step + step / 2 - 0.5, c * step + step / 2 - 0.5) for r, c in centres]))
    return SingularPoints(*(p.reshape(-1, 2).astype(np.float32) for p in points))


def angle_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Absolute difference of two orientation fields modulo pi, in [0, pi/2]."""
    diff = np.mod(np.asarray(a, dtype=np.float64) - b, np.pi)
    return np.minimum(diff, np.pi - diff)


def field_errors(masters: Sequence[Master]) -> Any:
    """Each clean master's estimated fields against those the generator drew it from, one DataFrame row per
    master: median orientation error (degrees) and relative ridge-period error inside its mask, mask IoU,
    and the true and found cores and deltas."""
    import pandas as pd

    rows = []
    for m in masters:
        orientation, _ = orientation_field(m.image)
        mask = foreground_mask(m.image)
        found = singular_points(orientation, mask)
        inside = m.mask
        rows.append({
            "pattern": m.pattern,
            "orientation_error_deg": float(np.degrees(np.median(angle_error(orientation, m.orientation)[inside]))),
            "period_error_rel": float(np.median(np.abs(ridge_period(m.image) - m.period)[inside] / m.period[inside])),
            "mask_iou": float((mask & m.mask).sum() / (mask | m.mask).sum()),
            "cores_true": len(m.cores), "cores_found": len(found.cores),
            "deltas_true": len(m.deltas), "deltas_found": len(found.deltas),
        })
    return pd.DataFrame(rows)
