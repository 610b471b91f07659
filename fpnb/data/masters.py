"""SFinGe-style synthetic fingerprints: master prints of an identity and its impressions.

Coordinates are (row, col). Orientations are ridge directions in radians in [0, pi),
measured counter-clockwise on screen from the column axis, i.e. the unit vector
(d_col, d_row) = (cos theta, -sin theta).
"""
from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
import scipy.fft


PATTERNS = ("arch", "tented_arch", "left_loop", "right_loop", "whorl")
# Class frequencies of real fingerprints (NIST / SFinGe priors).
PATTERN_PRIORS = (0.037, 0.029, 0.338, 0.317, 0.279)
MIN_PERIOD_PX, MAX_PERIOD_PX = 8.0, 12.0

_N_ORIENTATIONS = 16
# Ridges grow at half resolution: periods 4-6 px there are 8-12 px in the image.
_PERIOD_BINS = (4.0, 4.5, 5.0, 5.5, 6.0)
_RADIAL_BANDWIDTH = 0.15  # relative to the ridge frequency
_ANGULAR_SIGMA = 0.35  # radians
_ITERATIONS = 6
_GAIN = 4.0


@dataclass
class Master:
    """A master print: the clean ridge image of one identity and how it was made."""

    image: np.ndarray
    mask: np.ndarray
    pattern: str
    cores: np.ndarray
    deltas: np.ndarray
    orientation: np.ndarray
    period: np.ndarray
    seed: int


def _check_size(height: int, width: int) -> None:
    """Reject sizes too small to hold a print."""
    if int(height) < 64:
        raise ValueError(f"height: must be at least 64 px, got {height}")
    if int(width) < 64:
        raise ValueError(f"width: must be at least 64 px, got {width}")


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Smooth random field in about [-1, 1]: a coarse random grid upsampled bicubically."""
    grid = rng.uniform(-1.0, 1.0, size=cells).astype(np.float32)
    return cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def finger_mask(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Finger silhouette as a union of four quarter ellipses (SFinGe's shape model)."""
    left = rng.uniform(0.82, 0.95) * width / 2
    right = rng.uniform(0.82, 0.95) * width / 2
    centre_col = width / 2 + (right - left) / 2
    top = rng.uniform(0.04, 0.10) * height
    centre_row = top + rng.uniform(0.40, 0.55) * height
    up = centre_row - top
    down = rng.uniform(1.3, 1.8) * (height - centre_row)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    dr, dc = rows - centre_row, cols - centre_col
    semi_row = np.where(dr < 0, up, down)
    semi_col = np.where(dc < 0, left, right)
    return (dr / semi_row) ** 2 + (dc / semi_col) ** 2 <= 1.0


def _singular_points(rng: np.random.Generator, pattern: str, height: int, width: int):
    """Class-appropriate, per-identity positions of cores and deltas as (row, col) arrays."""
    core = np.array([rng.uniform(0.38, 0.50) * height, rng.uniform(0.42, 0.58) * width])
    below = rng.uniform(0.16, 0.24) * height
    side = rng.uniform(0.20, 0.30) * width
    if pattern == "arch":
        cores, deltas = np.empty((0, 2)), np.empty((0, 2))
    elif pattern == "tented_arch":
        cores = core[None]
        deltas = (core + [rng.uniform(0.10, 0.16) * height, rng.uniform(-0.03, 0.03) * width])[None]
    elif pattern in ("left_loop", "right_loop"):
        sign = 1.0 if pattern == "left_loop" else -1.0
        cores = core[None]
        deltas = (core + [below, sign * side])[None]
    else:
        half = np.array([rng.uniform(0.04, 0.07) * height, rng.uniform(-0.06, 0.06) * width])
        cores = np.stack([core - half, core + half])
        deltas = np.stack([core + [below, -side * 1.2], core + [below, side * 1.2]])
    return cores.astype(np.float64), deltas.astype(np.float64)


def zero_pole_orientation(cores: np.ndarray, deltas: np.ndarray, height: int, width: int) -> np.ndarray:
    """Sherlock-Monro zero-pole ridge orientation: half the sum of core minus delta angles."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    theta = np.zeros((height, width))
    for sign, points in ((1.0, cores), (-1.0, deltas)):
        for row, col in points:
            theta += sign * np.arctan2(-(rows - row), cols - col)
    return np.mod(theta / 2, np.pi)


def _orientation(rng: np.random.Generator, pattern: str, cores: np.ndarray, deltas: np.ndarray,
                 height: int, width: int) -> np.ndarray:
    """Zero-pole field plus an arch bend (fingertip curvature) and a smooth random correction."""
    theta = zero_pole_orientation(cores, deltas, height, width)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    centre_col = width * rng.uniform(0.45, 0.55)
    spread = width * rng.uniform(0.22, 0.32)
    if pattern == "arch":
        peak_row = height * rng.uniform(0.40, 0.55)
        amplitude = rng.uniform(1.2, 2.0)
        weight = np.exp(-(((rows - peak_row) / (0.35 * height)) ** 2))
    else:
        apex = cores[:, 0].min() if len(cores) else 0.45 * height
        amplitude = rng.uniform(0.6, 1.0)
        weight = np.clip((apex - rows) / apex, 0.0, 1.0) ** 0.7
    x = (cols - centre_col) / spread
    theta += np.arctan(-amplitude * weight * x * np.exp(-0.5 * x**2))
    correction = rng.uniform(0.10, 0.22) * _smooth_field(rng, (height, width), (4, 3))
    return np.mod(theta + correction, np.pi).astype(np.float32)


def _period_map(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Slowly varying ridge period in [8, 12] px."""
    base = rng.uniform(8.8, 11.0)
    field = base + rng.uniform(0.5, 1.0) * _smooth_field(rng, (height, width), (3, 3))
    return np.clip(field, MIN_PERIOD_PX, MAX_PERIOD_PX).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _gabor_bank(shape: tuple[int, int]) -> np.ndarray:
    """Frequency responses (orientation, period, rows, cols//2+1) of polar-separable Gabor-like filters.

    A narrow radial band around 1/period keeps the grown period within a few percent of the
    requested one; the angular Gaussian tunes the filter to the ridge normal.
    """
    freq_row = scipy.fft.fftfreq(shape[0])[:, None]
    freq_col = scipy.fft.rfftfreq(shape[1])[None, :]
    radius = np.hypot(freq_row, freq_col)
    direction = np.arctan2(freq_row, freq_col)
    bank = np.empty((_N_ORIENTATIONS, len(_PERIOD_BINS), *radius.shape), np.float32)
    for i in range(_N_ORIENTATIONS):
        theta = i * np.pi / _N_ORIENTATIONS
        # The ridge normal as a wave vector (d_col, d_row) = (sin theta, cos theta); both signs count.
        offset = np.mod(direction - np.arctan2(np.cos(theta), np.sin(theta)) + np.pi / 2, np.pi) - np.pi / 2
        angular = np.exp(-0.5 * (offset / _ANGULAR_SIGMA) ** 2)
        for j, period in enumerate(_PERIOD_BINS):
            bank[i, j] = angular * np.exp(-0.5 * ((radius * period - 1) / _RADIAL_BANDWIDTH) ** 2)
    return bank


def _gabor_iterate(ridges: np.ndarray, orientation: np.ndarray, period: np.ndarray, n_iter: int) -> np.ndarray:
    """Grow ridges: filter with the locally tuned Gabor filter, rescale and clip; returns the last response."""
    height, width = ridges.shape
    periods = _PERIOD_BINS
    pad = int(np.ceil(2 * max(periods)))
    shape = (scipy.fft.next_fast_len(height + pad, real=True), scipy.fft.next_fast_len(width + pad, real=True))
    t = orientation * (_N_ORIENTATIONS / np.pi)
    i0 = np.floor(t).astype(np.intp) % _N_ORIENTATIONS
    i1 = (i0 + 1) % _N_ORIENTATIONS
    wt = (t - np.floor(t)).astype(np.float32)
    p = np.interp(period, periods, np.arange(len(periods)))
    j0 = np.minimum(np.floor(p).astype(np.intp), len(periods) - 2)
    wp = (p - j0).astype(np.float32)
    first, last = int(j0.min()), int(j0.max()) + 2
    bank = _gabor_bank(shape)[:, first:last]
    j0 -= first
    rows, cols = np.indices((height, width))
    corners = [(i0, j0, (1 - wt) * (1 - wp)), (i0, j0 + 1, (1 - wt) * wp),
               (i1, j0, wt * (1 - wp)), (i1, j0 + 1, wt * wp)]
    filtered = ridges
    for _ in range(n_iter):
        spectrum = scipy.fft.rfft2(ridges, s=shape, workers=1)
        responses = scipy.fft.irfft2(spectrum[None, None] * bank, s=shape, axes=(-2, -1), workers=1)
        filtered = sum(responses[i, j, rows, cols] * weight for i, j, weight in corners)
        filtered /= filtered.std() + 1e-8
        ridges = np.clip(_GAIN * filtered, -1.0, 1.0)
    return filtered


def _doubled_angle_resize(orientation: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an orientation field by averaging doubled-angle vectors."""
    cos2 = cv2.resize(np.cos(2 * orientation), size, interpolation=cv2.INTER_AREA)
    sin2 = cv2.resize(np.sin(2 * orientation), size, interpolation=cv2.INTER_AREA)
    return np.mod(np.arctan2(sin2, cos2) / 2, np.pi).astype(np.float32)


def grow_ridges(orientation: np.ndarray, period: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ridge pattern in [-1, 1] (ridges > 0): Gabor growth from noise at half resolution, band-limited upsampling."""
    height, width = orientation.shape
    small = (width // 2, height // 2)
    noise = rng.standard_normal((small[1], small[0])).astype(np.float32)
    response = _gabor_iterate(noise, _doubled_angle_resize(orientation, small),
                              cv2.resize(period, small, interpolation=cv2.INTER_AREA) / 2, _ITERATIONS)
    response = cv2.resize(response, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(_GAIN * response, -1.0, 1.0).astype(np.float32)


def render(ridges: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Grey image in [0, 1], dark ridges on white, faded out at the silhouette's edge."""
    grey = cv2.GaussianBlur((1.0 - ridges) / 2, (0, 0), 0.7)
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 2.0)
    return np.clip(1.0 - (1.0 - grey) * soft, 0.0, 1.0).astype(np.float32)


def make_master(seed: int, height: int = 400, width: int = 275, pattern: str | None = None) -> Master:
    """Master print of the identity ``seed``; the pattern class is drawn from real-world priors if None."""
    _check_size(height, width)
    if pattern is not None and pattern not in PATTERNS:
        raise ValueError(f"pattern: expected one of {PATTERNS}, got {pattern!r}")
    rng = np.random.default_rng(seed)
    drawn = PATTERNS[rng.choice(len(PATTERNS), p=PATTERN_PRIORS)]
    pattern = pattern or drawn
    mask = finger_mask(rng, height, width)
    cores, deltas = _singular_points(rng, pattern, height, width)
    orientation = _orientation(rng, pattern, cores, deltas, height, width)
    period = _period_map(rng, height, width)
    ridges = grow_ridges(orientation, period, rng)
    return Master(render(ridges, mask), mask, pattern, cores, deltas, orientation, period, int(seed))


def _init_worker() -> None:
    """Keep one thread per worker process."""
    cv2.setNumThreads(1)


def make_masters(seeds: Iterable[int], height: int = 400, width: int = 275,
                 workers: int | None = None) -> list[Master]:
    """Master prints for many seeds, in a process pool when that pays; same output for any ``workers``."""
    seeds = [int(s) for s in seeds]
    _check_size(height, width)
    if workers is not None and workers < 1:
        raise ValueError(f"workers: must be >= 1, got {workers}")
    workers = min(workers or os.cpu_count() or 1, len(seeds))
    jobs = [(s, height, width) for s in seeds]
    if workers < 2 or len(seeds) < 8:
        return [make_master(*job) for job in jobs]
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
        return pool.starmap(make_master, jobs, chunksize=max(1, len(jobs) // (4 * workers)))


def make_impression(master: Master, seed: int, strength: float = 1.0) -> np.ndarray:
    """One impression of a master: pressure, partial contact, rotation, translation, elastic warp, noise."""
    if not 0.0 <= strength <= 2.0:
        raise ValueError(f"strength: must be in [0, 2], got {strength}")
    rng = np.random.default_rng(seed)
    height, width = master.image.shape
    image = master.image
    # Pressure: grey erosion thickens dark ridges (wet / hard press), dilation thins them (dry / light).
    pressure = rng.uniform(-1.0, 1.0) * strength
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    pressed = cv2.erode(image, kernel) if pressure > 0 else cv2.dilate(image, kernel)
    image = (1 - min(abs(pressure), 1.0)) * image + min(abs(pressure), 1.0) * pressed
    # Partial contact: a smooth random field cuts away part of the silhouette.
    contact = _smooth_field(rng, (height, width), (3, 3)) + rng.uniform(0.7, 1.5) / max(strength, 1e-3)
    contact = np.clip(contact * 4.0, 0.0, 1.0)
    # Skin noise: small dry/wet blobs within the ridges.
    blobs = cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32), (0, 0), 1.5)
    spots = np.clip((blobs - 0.45) * 4.0, 0.0, 1.0) * (0.6 * min(strength, 1.0))
    image = 1.0 - (1.0 - image) * contact * (1.0 - spots)
    # Geometry: rotation about the centre, translation and a smooth elastic displacement, one remap.
    angle = rng.uniform(-15.0, 15.0) * min(strength, 1.0)
    shift = rng.uniform(-1.0, 1.0, size=2) * (0.03 * height, 0.06 * width) * min(strength, 1.0)
    affine = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    affine[:, 2] += shift[::-1]
    inverse = cv2.invertAffineTransform(affine)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    amplitude = 4.0 * strength
    cols_elastic = cols + amplitude * _smooth_field(rng, (height, width), (5, 4))
    rows_elastic = rows + amplitude * _smooth_field(rng, (height, width), (5, 4))
    map_col = inverse[0, 0] * cols_elastic + inverse[0, 1] * rows_elastic + inverse[0, 2]
    map_row = inverse[1, 0] * cols_elastic + inverse[1, 1] * rows_elastic + inverse[1, 2]
    image = cv2.remap(image.astype(np.float32), map_col.astype(np.float32), map_row.astype(np.float32),
                      cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=1.0)
    image = image + rng.normal(0.0, 0.02 * strength, size=image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


__all__ = ("Master", "PATTERNS", "PATTERN_PRIORS", "make_master", "make_masters",
           "make_impression",
           "finger_mask", "zero_pole_orientation", "grow_ridges", "render")
