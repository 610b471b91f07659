"""Calibration statistics that compare synthetic prints and degraded inputs with real ones.

Prints are grey images with dark ridges on white, float in [0, 1] or uint8; degraded inputs are
RGB. Every statistic of a print is taken inside its foreground (the print area, not the blank
paper around it), so a print with a wide margin and one that fills its frame compare fairly.
"""
from __future__ import annotations

import cv2
import numpy as np
import scipy.ndimage

RIDGE_THRESHOLD = 0.5
# Closing radius that bridges valleys (real periods are 8-12 px) without bridging the margin.
FOREGROUND_RADIUS = 8
HISTOGRAM_BINS = 10


def as_grey(image: np.ndarray) -> np.ndarray:
    """A print as float32 grey in [0, 1], whatever its dtype or channel count (RGB averaged)."""
    image = np.asarray(image)
    scale = 255.0 if image.dtype == np.uint8 else 1.0
    grey = image.astype(np.float32) / scale
    if grey.ndim == 3:
        grey = grey[..., :3].mean(axis=2)
    if grey.ndim != 2:
        raise ValueError(f"image: expected a 2-D grey or RGB image, got shape {image.shape}")
    return grey


def ridge_mask(image: np.ndarray, threshold: float = RIDGE_THRESHOLD) -> np.ndarray:
    """Pixels darker than the threshold: the ridges of a print with dark ridges on white."""
    return as_grey(image) < threshold


def foreground(image: np.ndarray, threshold: float = RIDGE_THRESHOLD, radius: int = FOREGROUND_RADIUS) -> np.ndarray:
    """The print area: ridges closed across valleys, holes filled, the ragged edge trimmed by ``radius``."""
    ridges = ridge_mask(image, threshold).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    closed = cv2.morphologyEx(ridges, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REPLICATE)
    filled = scipy.ndimage.binary_fill_holes(closed).astype(np.uint8)
    return cv2.erode(filled, kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)


def _inside(image: np.ndarray, mask: np.ndarray | None, threshold: float) -> np.ndarray:
    """The foreground to measure in: the given mask, else the estimated one."""
    mask = foreground(image, threshold) if mask is None else np.asarray(mask, bool)
    if mask.shape != as_grey(image).shape:
        raise ValueError(f"mask: shape {mask.shape} differs from the image's {as_grey(image).shape}")
    if not mask.any():
        raise ValueError("mask: empty foreground, nothing to measure")
    return mask


def dark_fraction(image: np.ndarray, mask: np.ndarray | None = None, threshold: float = RIDGE_THRESHOLD) -> float:
    """Share of the foreground covered by ridges (real inked prints: about 0.43)."""
    return float(ridge_mask(image, threshold)[_inside(image, mask, threshold)].mean())


def ridge_widths(image: np.ndarray, mask: np.ndarray | None = None, threshold: float = RIDGE_THRESHOLD) -> np.ndarray:
    """Ridge width in px on every ridge centre line of the foreground: 2 x distance to the valley - 1.

    Centre lines are the local maxima of the distance transform, so the spurs a skeleton grows on
    ragged ridge edges do not count; odd widths are exact, even ones read 1 px low.
    """
    ridges = ridge_mask(image, threshold)
    inside = _inside(image, mask, threshold)
    distance = cv2.distanceTransform(ridges.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    centre = ridges & inside & (distance >= scipy.ndimage.maximum_filter(distance, 3))
    return (2.0 * distance[centre] - 1.0).astype(np.float32)


def grey_histogram(image: np.ndarray, mask: np.ndarray | None = None, bins: int = HISTOGRAM_BINS,
                   threshold: float = RIDGE_THRESHOLD) -> np.ndarray:
    """Share of foreground pixels in each of ``bins`` equal grey-level bins over [0, 1]; sums to 1."""
    values = as_grey(image)[_inside(image, mask, threshold)]
    counts, _ = np.histogram(values, bins=bins, range=(0.0, 1.0))
    return counts / counts.sum()


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance of two histograms: 0 identical, 1 disjoint."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"histograms: shapes differ, {a.shape} vs {b.shape}")
    return float(0.5 * np.abs(a / a.sum() - b / b.sum()).sum())


def print_stats(image: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
    """The calibration summary of one print: foreground share, dark fraction, ridge width, grey levels."""
    inside = _inside(image, mask, RIDGE_THRESHOLD)
    widths = ridge_widths(image, inside)
    grey = as_grey(image)[inside]
    return {
        "foreground_fraction": float(inside.mean()),
        "dark_fraction": dark_fraction(image, inside),
        "ridge_width_median": float(np.median(widths)) if widths.size else float("nan"),
        "ridge_width_q25": float(np.percentile(widths, 25)) if widths.size else float("nan"),
        "ridge_width_q75": float(np.percentile(widths, 75)) if widths.size else float("nan"),
        "grey_mean": float(grey.mean()),
        "grey_mid_fraction": float(np.mean((grey > 0.2) & (grey < 0.8))),
    }


def colour_stats(rgb: np.ndarray) -> dict[str, float]:
    """Mean of each channel, overall mean and mean HSV saturation of an RGB input (ChaLearn: 0.61-0.88, 0.02-0.15)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb: expected an H x W x 3 image, got shape {rgb.shape}")
    values = rgb.astype(np.float32) / (255.0 if rgb.dtype == np.uint8 else 1.0)
    high, low = values.max(axis=2), values.min(axis=2)
    saturation = np.where(high > 0, (high - low) / np.maximum(high, 1e-6), 0.0)
    means = values.reshape(-1, 3).mean(axis=0)
    return {"mean_r": float(means[0]), "mean_g": float(means[1]), "mean_b": float(means[2]),
            "mean": float(means.mean()), "saturation": float(saturation.mean())}


__all__ = ("as_grey", "ridge_mask", "foreground", "dark_fraction", "ridge_widths", "grey_histogram",
           "histogram_distance", "print_stats", "colour_stats")
