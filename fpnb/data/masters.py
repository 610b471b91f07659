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
_ELASTIC_PX = 4.5  # amplitude of the smooth elastic distortion of an impression
_FFT_CHUNK = 4  # orientations filtered per inverse FFT call in _gabor_iterate


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


@functools.lru_cache(maxsize=16)
def coordinate_grid(height: int, width: int, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Read-only ``np.mgrid[0:height, 0:width]`` row and column coordinates in ``dtype`` (cached per shape)."""
    rows, cols = np.mgrid[0:height, 0:width].astype(dtype)
    rows.setflags(write=False)
    cols.setflags(write=False)
    return rows, cols


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
    """Fingertip silhouette with a blank margin all round: four quarter ellipses (SFinGe) with a wavy outline."""
    left = rng.uniform(0.36, 0.45) * width
    right = rng.uniform(0.36, 0.45) * width
    centre_col = width / 2 + rng.uniform(-0.03, 0.03) * width
    top = rng.uniform(0.03, 0.08) * height
    bottom = rng.uniform(0.90, 0.97) * height
    centre_row = top + rng.uniform(0.40, 0.50) * (bottom - top)
    up, down = centre_row - top, bottom - centre_row
    rows, cols = coordinate_grid(height, width)
    dr, dc = rows - centre_row, cols - centre_col
    semi_row = np.where(dr < 0, up, down)
    semi_col = np.where(dc < 0, left, right)
    power = np.where(dr < 0, 2.0, rng.uniform(2.3, 3.0))  # the fingertip is round, the base squarer
    radius = (np.abs(dr / semi_row) ** power + np.abs(dc / semi_col) ** power) ** (1.0 / power)
    return radius * (1.0 + 0.04 * _smooth_field(rng, (height, width), (7, 5))) <= 1.0


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


def _inner(mask: np.ndarray, margin: int = 20) -> np.ndarray:
    """The finger eroded by ``margin`` px (where singular points may lie)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    return cv2.erode(mask.astype(np.uint8), kernel).astype(bool)


def _pull_inside(points: np.ndarray, mask: np.ndarray, margin: int = 20, inner: np.ndarray | None = None) -> np.ndarray:
    """Move singular points sideways into the finger, far enough from its edge for the print to show them.

    ``inner``: ``_inner(mask, margin)`` when the caller already has it.
    """
    moved = points.copy()
    if not len(moved):
        return moved
    if inner is None:
        inner = _inner(mask, margin)
    for point in moved:
        row = int(np.clip(round(point[0]), 0, mask.shape[0] - 1))
        cols = np.flatnonzero(inner[row])
        if len(cols):
            point[1] = np.clip(point[1], cols.min(), cols.max())
    return moved


def zero_pole_orientation(cores: np.ndarray, deltas: np.ndarray, height: int, width: int) -> np.ndarray:
    """Sherlock-Monro zero-pole ridge orientation: half the sum of core minus delta angles."""
    rows, cols = coordinate_grid(height, width, np.float64)
    theta = np.zeros((height, width))
    for sign, points in ((1.0, cores), (-1.0, deltas)):
        for row, col in points:
            theta += sign * np.arctan2(-(rows - row), cols - col)
    return np.mod(theta / 2, np.pi)


def _orientation(rng: np.random.Generator, pattern: str, cores: np.ndarray, deltas: np.ndarray,
                 height: int, width: int) -> np.ndarray:
    """Zero-pole field plus an arch bend (fingertip curvature) and a smooth random correction."""
    theta = zero_pole_orientation(cores, deltas, height, width)
    rows, cols = coordinate_grid(height, width, np.float64)
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
    # Flat indices into the responses cropped to the image (n_orientations, n_periods, height, width):
    # the same elements as responses[i, j, rows, cols] of the whole ones, gathered with one np.take each.
    n_periods = bank.shape[1]
    corners = [(((i * n_periods + j) * height + rows) * width + cols, weight) for i, j, weight in corners]
    product = responses = None
    filtered = ridges
    for _ in range(n_iter):
        spectrum = scipy.fft.rfft2(ridges, s=shape, workers=1)
        if product is None or product.dtype != np.result_type(spectrum, bank):
            product = np.empty(bank.shape, np.result_type(spectrum, bank))  # spectrum * bank, reused
        # The filtered images, a few orientations at a time (cache-sized pieces: faster). Each 2-D
        # transform is computed on its own, so the values are those of one irfft2 over the whole bank.
        for start in range(0, len(bank), _FFT_CHUNK):
            part = np.s_[start:start + _FFT_CHUNK]
            np.multiply(spectrum[None, None], bank[part], out=product[part])
            response = scipy.fft.irfft2(product[part], s=shape, axes=(-2, -1), workers=1)
            if responses is None or responses.dtype != response.dtype:
                responses = np.empty((len(bank), n_periods, height, width), response.dtype)
            responses[part] = response[..., :height, :width]
        filtered = sum(np.take(responses, index) * weight for index, weight in corners)
        filtered /= filtered.std() + 1e-8
        ridges = np.clip(_GAIN * filtered, -1.0, 1.0)
    return filtered


def _doubled_angle_resize(orientation: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an orientation field by averaging doubled-angle vectors."""
    cos2 = cv2.resize(np.cos(2 * orientation), size, interpolation=cv2.INTER_AREA)
    sin2 = cv2.resize(np.sin(2 * orientation), size, interpolation=cv2.INTER_AREA)
    return np.mod(np.arctan2(sin2, cos2) / 2, np.pi).astype(np.float32)


def ridge_response(orientation: np.ndarray, period: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unclipped ridge signal (ridges > 0, unit std): Gabor growth from noise at half resolution, upsampled."""
    height, width = orientation.shape
    small = (width // 2, height // 2)
    noise = rng.standard_normal((small[1], small[0])).astype(np.float32)
    response = _gabor_iterate(noise, _doubled_angle_resize(orientation, small),
                              cv2.resize(period, small, interpolation=cv2.INTER_AREA) / 2, _ITERATIONS)
    return cv2.resize(response, (width, height), interpolation=cv2.INTER_CUBIC)


def grow_ridges(orientation: np.ndarray, period: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ridge pattern in [-1, 1] (ridges > 0): the clipped ridge response."""
    return np.clip(_GAIN * ridge_response(orientation, period, rng), -1.0, 1.0).astype(np.float32)


def _fine_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian noise blurred to blobs of about ``sigma`` px, rescaled to unit std."""
    blobs = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
    return blobs / (blobs.std() + 1e-6)


def _curves(rng: np.random.Generator, shape: tuple[int, int], count: int, length: tuple[float, float],
            thickness: tuple[int, int], tilt: float) -> np.ndarray:
    """Anti-aliased random quadratic curves in [0, 1], mostly across the finger (creases, scars)."""
    height, width = shape
    layer = np.zeros(shape, np.float32)
    t = np.linspace(0, 1, 24)[:, None]
    for _ in range(count):
        centre = rng.uniform((0.15 * height, 0.2 * width), (0.9 * height, 0.8 * width))
        angle = rng.uniform(-tilt, tilt)
        half = 0.5 * rng.uniform(*length) * width * np.array([np.sin(angle), np.cos(angle)])
        bend = rng.normal(0.0, 0.08 * width, size=2)
        p0, p2 = centre - half, centre + half
        p1 = centre + bend
        curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
        points = np.round(curve[:, ::-1] * 16).astype(np.int32)[None]
        cv2.polylines(layer, points, False, 1.0, int(rng.integers(*thickness)), cv2.LINE_AA, shift=4)
    return cv2.GaussianBlur(layer, (0, 0), 0.6)


def _skin(rng: np.random.Generator, response: np.ndarray, level: np.ndarray) -> np.ndarray:
    """What an identity's skin removes from its ink, in [0, 1]: pores on the ridges, creases, sometimes a scar."""
    shape = response.shape
    centres = (response > level + 0.9) & (rng.random(shape) < rng.uniform(0.015, 0.03))
    pores = cv2.GaussianBlur(centres.astype(np.float32), (0, 0), rng.uniform(0.7, 1.0))
    pores = np.clip(pores * 5.0, 0.0, 1.0)
    creases = _curves(rng, shape, int(rng.integers(2, 9)), (0.15, 0.6), (1, 3), 0.5)
    scars = _curves(rng, shape, int(rng.random() < 0.2), (0.2, 0.5), (4, 8), np.pi / 2)
    ragged = np.clip(0.5 + 0.5 * _fine_noise(rng, shape, 1.5), 0.0, 1.0)
    return np.clip(pores + 0.9 * creases + scars * (0.6 + 0.4 * ragged), 0.0, 1.0)


def render(response: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grey print in [0, 1], dark ridges on white: ink whose width and darkness vary over the finger, with skin marks.

    The ridge/valley threshold ``level`` sets the ridge width (about 0.4 of the period is ink, as on
    real inked prints) and varies slowly, as pressure and skin do; the ink is grey-level, not binary.
    """
    shape = response.shape
    level = rng.uniform(0.05, 0.30) + 0.15 * _smooth_field(rng, shape, (4, 3))
    edges = response + 0.3 * _fine_noise(rng, shape, 1.0)  # ridge edges are ragged, not smooth
    ink = np.clip((edges - level) * rng.uniform(3.0, 5.0), 0.0, 1.0)
    darkness = rng.uniform(0.88, 1.0) + 0.08 * _smooth_field(rng, shape, (5, 4))
    texture = 1.0 - 0.15 * np.abs(_fine_noise(rng, shape, 0.8))
    ink = ink * np.clip(darkness * texture, 0.0, 1.0) * (1.0 - _skin(rng, response, level))
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 2.0)
    ink = cv2.GaussianBlur(ink, (0, 0), 0.5) * soft
    return np.clip(1.0 - ink, 0.0, 1.0).astype(np.float32)


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
    inner = _inner(mask) if len(cores) or len(deltas) else None
    cores, deltas = _pull_inside(cores, mask, inner=inner), _pull_inside(deltas, mask, inner=inner)
    orientation = _orientation(rng, pattern, cores, deltas, height, width)
    period = _period_map(rng, height, width)
    response = ridge_response(orientation, period, rng)
    return Master(render(response, mask, rng), mask, pattern, cores, deltas, orientation, period, int(seed))


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
    workers = min(workers or len(os.sched_getaffinity(0)), len(seeds))
    jobs = [(s, height, width) for s in seeds]
    if workers < 2 or len(seeds) < 8:
        return [make_master(*job) for job in jobs]
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
        return pool.starmap(make_master, jobs, chunksize=max(1, len(jobs) // (4 * workers)))


def _contact(rng: np.random.Generator, mask: np.ndarray, strength: float) -> np.ndarray:
    """Pressure over the finger in [0, 1]: full in a contact ellipse, falling off raggedly towards its edge."""
    height, width = mask.shape
    rows, cols = np.nonzero(mask)
    centre = np.array([rows.mean(), cols.mean()]) + rng.normal(0.0, 0.06 * strength, 2) * (height, width)
    extent = np.array([np.ptp(rows), np.ptp(cols)]) / 2 * (1.0 - rng.uniform(0.0, 0.25) * min(strength, 1.5))
    grid_rows, grid_cols = coordinate_grid(height, width)
    radius = np.hypot((grid_rows - centre[0]) / extent[0], (grid_cols - centre[1]) / extent[1])
    radius = radius * (1.0 + 0.08 * _smooth_field(rng, (height, width), (5, 4)))
    falloff = rng.uniform(0.15, 0.35)
    return np.clip((1.0 - radius) / falloff + 0.5, 0.0, 1.0) * mask


def _pressed(ink: np.ndarray, pressure: np.ndarray) -> np.ndarray:
    """Ink under a pressure field in [-1, 1]: hard / wet presses widen and merge ridges, light / dry ones thin them."""
    small = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    wide = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    thick, merged, thin = cv2.dilate(ink, small), cv2.dilate(ink, wide), cv2.erode(ink, small)
    up, down = np.clip(pressure, 0.0, 1.0), np.clip(-pressure, 0.0, 1.0)
    wet = np.clip(pressure - 1.0, 0.0, 1.0)
    return ink + up * (thick - ink) + wet * (merged - thick) + down * (thin - ink)


def _distortion_maps(rng: np.random.Generator, shape: tuple[int, int], strength: float,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Source coordinates of every output pixel: rotation, translation and an elastic distortion (one remap)."""
    height, width = shape
    scale = min(strength, 1.0)
    angle = rng.uniform(-15.0, 15.0) * scale
    shift = rng.uniform(-1.0, 1.0, size=2) * (0.04 * height, 0.06 * width) * scale
    affine = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0 + rng.uniform(-0.03, 0.03) * scale)
    affine[:, 2] += shift[::-1]
    inverse = cv2.invertAffineTransform(affine)
    rows, cols = coordinate_grid(height, width)
    amplitude = _ELASTIC_PX * strength
    cols_elastic = cols + amplitude * _smooth_field(rng, shape, (5, 4))
    rows_elastic = rows + amplitude * _smooth_field(rng, shape, (5, 4))
    map_col = inverse[0, 0] * cols_elastic + inverse[0, 1] * rows_elastic + inverse[0, 2]
    map_row = inverse[1, 0] * cols_elastic + inverse[1, 1] * rows_elastic + inverse[1, 2]
    return map_col.astype(np.float32), map_row.astype(np.float32)


def make_impression(master: Master, seed: int, strength: float = 1.0) -> np.ndarray:
    """One impression of a master: pressure and skin condition, partial contact, rotation, translation, distortion, noise."""
    if not 0.0 <= strength <= 2.0:
        raise ValueError(f"strength: must be in [0, 2], got {strength}")
    rng = np.random.default_rng(seed)
    shape = master.image.shape
    ink = 1.0 - master.image
    # Pressure and moisture vary over the finger: wet, hard-pressed areas merge ridges, dry ones thin them.
    pressure = (rng.uniform(-0.3, 1.1) + 0.7 * _smooth_field(rng, shape, (4, 3))) * strength
    ink = _pressed(ink, pressure)
    # Dry skin breaks ridges into dashes and dots; more where the skin is drier.
    dryness = np.clip(rng.uniform(-0.1, 0.6) + 0.5 * _smooth_field(rng, shape, (4, 3)), 0.0, 1.0) * min(strength, 1.0)
    gaps = np.clip((_fine_noise(rng, shape, 1.0) - 0.8) * 2.0, 0.0, 1.0)
    ink = ink * (1.0 - dryness * gaps)
    # Partial contact: pressure falls off towards the edge, so ridges fade and fragment there.
    contact = _contact(rng, master.mask, strength)
    ragged = np.clip(contact * 1.6 - 0.6 * np.clip(_fine_noise(rng, shape, 2.0), 0.0, None), 0.0, 1.0)
    ink = ink * (1.0 - min(strength, 1.0) * (1.0 - ragged))
    ink = ink * (1.0 - 0.1 * min(strength, 1.0) * np.abs(_fine_noise(rng, shape, 0.7)))
    map_col, map_row = _distortion_maps(rng, shape, strength)
    ink = cv2.remap(ink.astype(np.float32), map_col, map_row, cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    image = 1.0 - ink + rng.normal(0.0, 0.015 * strength, size=shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


__all__ = ("Master", "PATTERNS", "PATTERN_PRIORS", "make_master", "make_masters",
           "make_impression",
           "finger_mask", "zero_pole_orientation", "ridge_response", "grow_ridges", "render")
