"""ChaLearn-style degradations of a clean print: each one ``f(image, rng, strength)`` on RGB float32 in [0, 1].

Every function here is photometric or occludes: none moves a ridge, so the degraded input stays
pixel-aligned with its clean target. The geometric changes of the ChaLearn set (rotation, elastic
warp, translation) belong to the print itself and are made by ``fpnb.data.masters.make_impression``, whose
output is the target.
"""
from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable, Collection

import cv2
import numpy as np
import skimage.data

from fpnb.data.masters import coordinate_grid

TEXTURES = ("noise", "fabric", "paper", "concrete", "stone", "wood", "page", "brick", "gravel")
_WORDS = ("EVIDENCE", "CONFIDENTIAL", "SAMPLE", "COPY", "POLICE", "LAB 2018", "DO NOT DUPLICATE", "ID", "FILE NO.")


def _check_strength(strength: float) -> None:
    """Strength 0 leaves an image as it is, 1 is ChaLearn-like, 2 is harsh."""
    if not 0.0 <= strength <= 2.0:
        raise ValueError(f"strength: must be in [0, 2], got {strength}")


def _fractal_noise(rng: np.random.Generator, shape: tuple[int, int], octaves: int = 5) -> np.ndarray:
    """Value noise summed over octaves, normalised to [0, 1]."""
    height, width = shape
    total = np.zeros(shape, np.float32)
    for octave in range(octaves):
        cells = 2 ** (octave + 2)
        grid = rng.random((cells, max(2, cells * width // height))).astype(np.float32)
        total += cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC) / 2**octave
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


def _grain(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Blurred white noise of unit std: grain, speckle and fibre texture at the scale ``sigma``."""
    noise = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
    return noise / (noise.std() + 1e-6)


def _read_sample(name: str) -> np.ndarray:
    """The uint8 pixels of scikit-image's ``data/<name>.png``: read with OpenCV where the file ships with
    the package (the same pixels, without importing skimage.io, which costs a fraction of a second)."""
    try:
        path = importlib.resources.files("skimage.data") / f"{name}.png"
        pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.is_file() else None
    except (ModuleNotFoundError, OSError):
        pixels = None
    if pixels is None or pixels.ndim != 2 or pixels.dtype != np.uint8:
        pixels = getattr(skimage.data, name)()
    return pixels


@functools.lru_cache(maxsize=4)
def _sample_texture(name: str) -> np.ndarray:
    """A grey texture photo that ships with scikit-image, float32 in [0, 1]."""
    return _read_sample(name).astype(np.float32) / 255.0


def _photo(name: str, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A random crop of a scikit-image texture photo, resized to ``shape``."""
    height, width = shape
    photo = _sample_texture(name)
    scale = rng.uniform(0.6, 1.2)
    crop_h, crop_w = min(photo.shape[0], int(height * scale)), min(photo.shape[1], int(width * scale))
    top = rng.integers(0, photo.shape[0] - crop_h + 1)
    left = rng.integers(0, photo.shape[1] - crop_w + 1)
    return cv2.resize(photo[top:top + crop_h, left:left + crop_w], (width, height), interpolation=cv2.INTER_LINEAR)


def _fabric(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Plain weave: warp and weft threads passing over and under each other, slightly skewed."""
    rows, cols = coordinate_grid(*shape)
    angle = rng.uniform(-0.3, 0.3)
    u = cols * np.cos(angle) + rows * np.sin(angle)
    v = rows * np.cos(angle) - cols * np.sin(angle)
    period = rng.uniform(3.0, 7.0)
    warp, weft = np.sin(np.pi * u / period) ** 2, np.sin(np.pi * v / period) ** 2
    over = (np.floor(u / period) + np.floor(v / period)) % 2 == 0
    return np.clip(np.where(over, warp, weft) * 0.7 + 0.15 + 0.08 * _grain(rng, shape, 0.7), 0.0, 1.0)


def _paper(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Paper: a faint cloudy formation, short dark and light fibres, fine grain."""
    height, width = shape
    fibres = np.zeros(shape, np.float32)
    count = int(height * width / rng.uniform(150, 400))
    starts = rng.uniform(0, 1, size=(count, 2)) * (width, height)
    angles, lengths = rng.uniform(0, np.pi, count), rng.uniform(3, 15, count)
    ends = starts + lengths[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    values = rng.choice([-1.0, 1.0], count) * rng.uniform(0.3, 1.0, count)
    for a, b, value in zip(starts.astype(int), ends.astype(int), values):
        cv2.line(fibres, tuple(map(int, a)), tuple(map(int, b)), float(value), 1, cv2.LINE_AA)
    return np.clip(0.7 + 0.15 * _fractal_noise(rng, shape, 4) + 0.08 * fibres + 0.03 * _grain(rng, shape, 0.6), 0.0, 1.0)


def _concrete(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Concrete: cloudy grey, sand grain and dark pits."""
    pits = np.clip(_grain(rng, shape, 1.2) - 2.2, 0.0, None)
    return np.clip(0.3 + 0.4 * _fractal_noise(rng, shape) + 0.07 * _grain(rng, shape, 0.6) - 0.3 * pits, 0.0, 1.0)


def _stone(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Speckled stone (granite, terrazzo): grains of a few grey levels at two scales."""
    coarse, fine = _grain(rng, shape, rng.uniform(1.5, 3.0)), _grain(rng, shape, 0.8)
    levels = np.digitize(coarse, [-1.0, 0.0, 1.2]) / 3.0
    return np.clip(0.25 + 0.5 * levels + 0.08 * fine, 0.0, 1.0)


def _wood(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Wood grain: warped growth rings plus fibre noise."""
    rows, cols = coordinate_grid(*shape)
    warp = 25.0 * _fractal_noise(rng, shape, octaves=3)
    rings = rng.uniform(0.05, 0.15) * (cols * np.cos(rng.uniform(-0.3, 0.3)) + rows * 0.1 + warp)
    return 0.5 + 0.3 * np.sin(rings) + 0.15 * _fractal_noise(rng, shape) - 0.05


def _page(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A printed page: lines of small grey text on white paper."""
    height, width = shape
    page = np.full(shape, 255, np.uint8)  # cv2.putText draws on 8-bit images only
    spacing, scale = int(rng.integers(10, 20)), rng.uniform(0.3, 0.45)
    for row in range(int(rng.integers(8, 14)), height, spacing):
        words = " ".join(rng.choice(_WORDS, 8).tolist()).lower()
        cv2.putText(page, words, (int(rng.integers(-40, 5)), row), cv2.FONT_HERSHEY_SIMPLEX, scale, 0, 1, cv2.LINE_AA)
    return 0.55 + 0.4 * page.astype(np.float32) / 255.0


def texture(name: str, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A photographed-looking surface, RGB float32 in [0, 1]: light, barely tinted, with the kind's relief."""
    makers = {"noise": lambda: _fractal_noise(rng, shape), "fabric": lambda: _fabric(rng, shape),
              "paper": lambda: _paper(rng, shape), "concrete": lambda: _concrete(rng, shape),
              "stone": lambda: _stone(rng, shape), "wood": lambda: _wood(rng, shape),
              "page": lambda: _page(rng, shape), "brick": lambda: _photo("brick", rng, shape),
              "gravel": lambda: _photo("gravel", rng, shape)}
    if name not in makers:
        raise ValueError(f"name: expected one of {TEXTURES}, got {name!r}")
    grey = makers[name]().astype(np.float32)
    relief = rng.uniform(0.3, 0.6)
    shade = rng.uniform(0.76, 0.92) * (1.0 - relief * (grey.mean() - grey))
    return np.clip(shade[..., None] * _tint(rng, rng.uniform(0.03, 0.12)), 0.0, 1.0).astype(np.float32)


def _tint(rng: np.random.Generator, saturation: float) -> np.ndarray:
    """An RGB multiplier of random hue whose HSV saturation is ``saturation`` (brightest channel 1)."""
    weights = rng.random(3)
    weights = (weights - weights.min()) / max(float(np.ptp(weights)), 1e-6)
    return (1.0 - saturation * weights).astype(np.float32)


def _mix(image: np.ndarray, changed: np.ndarray, strength: float) -> np.ndarray:
    """Blend towards the fully changed image as strength goes from 0 to 1."""
    amount = min(strength, 1.0)
    return np.clip((1 - amount) * image + amount * changed, 0.0, 1.0).astype(np.float32)


def background(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Print the ridges in near-black ink onto a photographed surface (fabric, paper, stone, wood, a page...)."""
    name = TEXTURES[rng.integers(len(TEXTURES))]
    surface = texture(name, rng, image.shape[:2])
    ink = rng.uniform(0.75, 0.95)
    ink_colour = rng.uniform(0.02, 0.15) * _tint(rng, rng.uniform(0.0, 0.3))
    darkness = (1.0 - image) * ink
    return _mix(image, surface * (1 - darkness) + ink_colour * darkness, strength)


def crumple(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Shading of crumpled paper: light falling on facets between random straight folds."""
    height, width = image.shape[:2]
    rows, cols = coordinate_grid(height, width)
    relief = np.zeros((height, width), np.float32)
    for _ in range(int(rng.integers(4, 10))):
        angle = rng.uniform(0, np.pi)
        through = rng.uniform(0, 1, size=2) * (height, width)
        distance = (cols - through[1]) * np.cos(angle) + (rows - through[0]) * np.sin(angle)
        relief += rng.uniform(0.5, 1.5) * np.abs(distance) / max(height, width)
    slope = cv2.Sobel(cv2.GaussianBlur(relief, (0, 0), 1.5), cv2.CV_32F, 1, 0) * max(height, width) / 8
    shade = 1.0 + np.clip(slope, -1.0, 1.0) * rng.uniform(0.06, 0.15)
    return _mix(image, image * shade[..., None], strength)


def brightness_contrast(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Scale contrast about the mean and shift brightness (a photo's exposure), staying light as ChaLearn's inputs."""
    contrast = 1.0 + rng.uniform(-0.4, 0.15) * strength
    shift = rng.uniform(-0.06, 0.08) * strength
    mean = image.mean(axis=(0, 1), keepdims=True)
    return np.clip((image - mean) * contrast + mean + shift, 0.0, 1.0).astype(np.float32)


def blur(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Gaussian (defocus) or linear motion blur."""
    if strength == 0:
        return image.copy()
    if rng.random() < 0.5:
        return cv2.GaussianBlur(image, (0, 0), rng.uniform(0.6, 2.0) * strength)
    length = 2 * max(1, int(round(rng.uniform(1.0, 4.0) * strength))) + 1  # odd: centred on the pixel
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2] = 1.0
    rotation = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), rng.uniform(0, 180), 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def _blob_mask(rng: np.random.Generator, shape: tuple[int, int], radius: float) -> np.ndarray:
    """A soft, irregular blob: an ellipse with a noisy outline, values in [0, 1]."""
    height, width = shape
    rows, cols = coordinate_grid(height, width)
    centre = rng.uniform(0, 1, size=2) * (height, width)
    axes = radius * rng.uniform(0.5, 1.5, size=2)
    angle = rng.uniform(0, np.pi)
    outline = 1.0 + 0.6 * (_fractal_noise(rng, shape, octaves=3) - 0.5)
    # outline <= 1.3, so the blob is 0 wherever hypot(u, v) >= 1.5, i.e. beyond 1.5 * max(axes) px
    # from the centre: compute it (elementwise, the same values) in the box around the centre only.
    reach = 1.5 * float(np.max(axes)) + 2.0
    top, bottom = max(0, int(np.floor(centre[0] - reach))), min(height, int(np.ceil(centre[0] + reach)) + 1)
    left, right = max(0, int(np.floor(centre[1] - reach))), min(width, int(np.ceil(centre[1] + reach)) + 1)
    box = np.s_[top:max(top, bottom), left:max(left, right)]
    dr, dc = rows[box] - centre[0], cols[box] - centre[1]
    u = (dc * np.cos(angle) + dr * np.sin(angle)) / axes[0]
    v = (-dc * np.sin(angle) + dr * np.cos(angle)) / axes[1]
    blob = np.zeros(shape, np.result_type(outline, u))
    blob[box] = np.clip((outline[box] - np.hypot(u, v)) * 4.0, 0.0, 1.0)
    return blob


def occlusion(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Translucent smudges and stains, grey or faintly tinted."""
    out = image.copy()
    if strength == 0:
        return out
    shape = image.shape[:2]
    for _ in range(rng.integers(1, 4)):
        mask = _blob_mask(rng, shape, min(shape) * rng.uniform(0.08, 0.22) * strength)
        alpha = rng.uniform(0.3, 0.8) * mask[..., None]
        colour = rng.uniform(0.45, 0.95) * _tint(rng, rng.uniform(0.0, 0.15))
        out = out * (1 - alpha) + colour * alpha
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def scratches(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Thin curved light or dark grey lines drawn with anti-aliasing."""
    height, width = image.shape[:2]
    count = int(rng.integers(2, 8) * min(strength, 2.0))
    colour_layer = np.zeros_like(image)
    alpha = np.zeros((height, width), np.float32)
    t = np.linspace(0, 1, 32)[:, None]
    for _ in range(count):
        p0, p1, p2 = rng.uniform(0, 1, size=(3, 2)) * (width, height)
        curve = [np.round(((1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2) * 16).astype(np.int32)]
        thickness = int(rng.integers(1, 4))
        colour = tuple(float(c) for c in rng.choice([0.15, 0.9]) * _tint(rng, rng.uniform(0.0, 0.1)))
        cv2.polylines(colour_layer, curve, False, colour, thickness, cv2.LINE_AA, shift=4)
        cv2.polylines(alpha, curve, False, 1.0, thickness, cv2.LINE_AA, shift=4)
    colour_layer /= np.maximum(alpha, 1e-6)[..., None]
    alpha = np.clip(alpha, 0.0, 1.0)[..., None]
    return np.clip(image * (1 - alpha) + colour_layer * alpha, 0.0, 1.0).astype(np.float32)


def banner(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A watermark or text banner over the print: translucent band with text, or large faint slanted text."""
    height, width = image.shape[:2]
    text = str(rng.choice(_WORDS))
    letters = np.zeros((height, width), np.uint8)  # cv2.putText draws on 8-bit images only
    alpha = np.zeros((height, width), np.float32)
    if rng.random() < 0.5:
        top, band = int(rng.uniform(0.05, 0.85) * height), int(rng.uniform(0.08, 0.15) * height)
        cv2.putText(letters, text, (int(rng.uniform(0.02, 0.2) * width), top + int(0.75 * band)),
                    cv2.FONT_HERSHEY_SIMPLEX, band / 35, 255, max(1, band // 12), cv2.LINE_AA)
        alpha[top:top + band] = rng.uniform(0.5, 0.85)
        band_colour = rng.uniform(0.8, 0.98) * _tint(rng, rng.uniform(0.0, 0.1))
        text_colour = rng.uniform(0.05, 0.3)
    else:
        row = int(rng.uniform(0.3, 0.8) * height)
        cv2.putText(letters, text, (int(rng.uniform(0.0, 0.2) * width), row), cv2.FONT_HERSHEY_SIMPLEX,
                    width / 220, 255, max(2, width // 60), cv2.LINE_AA)
        rotation = cv2.getRotationMatrix2D((width / 2, row), rng.uniform(-40, 40), 1.0)
        letters = cv2.warpAffine(letters, rotation, (width, height))
        band_colour = np.ones(3, np.float32)
        text_colour = rng.choice([0.2, 0.95])
    ink = (letters.astype(np.float32) / 255.0)[..., None]
    alpha = np.maximum(alpha, rng.uniform(0.3, 0.6) * ink[..., 0])[..., None]
    layer = band_colour * (1 - ink) + text_colour * ink
    return _mix(image, image * (1 - alpha) + layer * alpha, strength)


def local_blur(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Defocus in a few patches only (a curved surface, a smear), sharp elsewhere."""
    if strength == 0:
        return image.copy()
    shape = image.shape[:2]
    blurred = cv2.GaussianBlur(image, (0, 0), rng.uniform(1.5, 3.0) * strength)
    patches = sum(_blob_mask(rng, shape, min(shape) * rng.uniform(0.15, 0.3)) for _ in range(rng.integers(1, 4)))
    alpha = np.clip(patches, 0.0, 1.0)[..., None]
    return np.clip(image * (1 - alpha) + blurred * alpha, 0.0, 1.0).astype(np.float32)


def dashes(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Thin, dashed ridges as in ChaLearn's inputs: ink lifted at ridge edges and in short gaps along the ridges."""
    shape = image.shape[:2]
    paper = cv2.dilate(image, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    thinner = cv2.dilate(image, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    gaps = np.clip((_grain(rng, shape, rng.uniform(1.0, 1.8)) - rng.uniform(0.3, 0.8)) * 2.0, 0.0, 1.0)
    changed = thinner + gaps[..., None] * (paper - thinner)
    return _mix(image, changed, strength)


def resample(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Lower the resolution: downsample by up to 3x, then upsample back to the original size."""
    height, width = image.shape[:2]
    factor = 1.0 + rng.uniform(0.5, 2.0) * strength
    small = (max(8, int(width / factor)), max(8, int(height / factor)))
    down = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
    return np.clip(cv2.resize(down, (width, height), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


def noise(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Additive Gaussian sensor noise, independent per channel."""
    sigma = rng.uniform(0.01, 0.06) * strength
    return np.clip(image + rng.normal(0.0, sigma, size=image.shape), 0.0, 1.0).astype(np.float32)


def jpeg(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """JPEG compression artefacts at a quality between 90 (mild) and 10 (harsh)."""
    quality = int(np.clip(95 - rng.uniform(30, 80) * strength, 5, 95))
    if strength == 0:
        return image.copy()
    data = cv2.cvtColor((image * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
    _, encoded = cv2.imencode(".jpg", data, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return decoded.astype(np.float32) / 255.0


# In the order ``degrade`` applies them, each with its probability (1: always).
PROBABILITIES = {
    "background": 1.0, "dashes": 0.5, "crumple": 0.35, "brightness_contrast": 0.5, "banner": 0.25,
    "occlusion": 0.3, "scratches": 0.4, "local_blur": 0.35, "blur": 0.4, "resample": 0.4, "noise": 0.6, "jpeg": 1.0,
}
DEGRADATIONS: dict[str, Callable[[np.ndarray, np.random.Generator, float], np.ndarray]] = {
    "background": background, "dashes": dashes, "crumple": crumple, "brightness_contrast": brightness_contrast,
    "banner": banner, "occlusion": occlusion, "scratches": scratches, "local_blur": local_blur, "blur": blur,
    "resample": resample, "noise": noise, "jpeg": jpeg,
}


def as_rgb(clean: np.ndarray) -> np.ndarray:
    """A grey print in [0, 1] as a three-channel float32 image (the degradations' input)."""
    clean = np.asarray(clean)
    if clean.ndim != 2:
        raise ValueError(f"clean: expected a 2-D grey image, got shape {clean.shape}")
    if clean.dtype == np.uint8:
        clean = clean.astype(np.float32) / 255.0
    if clean.size and (clean.min() < 0.0 or clean.max() > 1.0):
        raise ValueError("clean: values must lie in [0, 1]")
    return np.repeat(clean.astype(np.float32)[..., None], 3, axis=2)


# Steps that take information away from the print rather than add removable clutter: covering
# banners and smudges, defocus and lost resolution (the restoration ceiling leaves them out).
LOSSY = ("banner", "occlusion", "local_blur", "blur", "resample")
LOCAL_LOSSY = ("banner", "occlusion", "local_blur")


def degrade(clean: np.ndarray, seed: int, strength: float = 1.0, skip: Collection[str] = ()) -> np.ndarray:
    """ChaLearn-like input for a clean grey target: RGB uint8, same height and width, pixel-aligned.

    Steps named in ``skip`` are drawn but not applied, so every other step makes the same draws as
    without ``skip`` (the same input, less those steps).
    """
    _check_strength(strength)
    unknown = set(skip) - set(DEGRADATIONS)
    if unknown:
        raise ValueError(f"skip: unknown degradations {sorted(unknown)}, expected some of {tuple(DEGRADATIONS)}")
    image = as_rgb(clean)
    rng = np.random.default_rng(seed)
    for name, function in DEGRADATIONS.items():
        if rng.random() < PROBABILITIES[name]:
            changed = function(image, rng, strength)
            image = image if name in skip else changed
    return (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def apply_one(clean: np.ndarray, name: str, seed: int, strength: float = 1.0) -> np.ndarray:
    """One named degradation alone on a clean grey print, as RGB uint8 (for figures and tests)."""
    _check_strength(strength)
    if name not in DEGRADATIONS:
        raise ValueError(f"name: expected one of {tuple(DEGRADATIONS)}, got {name!r}")
    image = DEGRADATIONS[name](as_rgb(clean), np.random.default_rng(seed), strength)
    return (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
