"""ChaLearn-style degradations of a clean print: each one ``f(image, rng, strength)`` on RGB float32 in [0, 1].

Every function here is photometric or occludes: none moves a ridge, so the degraded input stays
pixel-aligned with its clean target. The geometric changes of the ChaLearn set (rotation, elastic
warp, translation) belong to the print itself and are made by ``fpnb.data.masters.make_impression``, whose
output is the target.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

import cv2
import numpy as np
import skimage.data

TEXTURES = ("noise", "wood", "brick", "grass", "gravel")
OPTIONAL_PROBABILITY = 0.7


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


@functools.lru_cache(maxsize=4)
def _sample_texture(name: str) -> np.ndarray:
    """A grey texture photo that ships with scikit-image, float32 in [0, 1]."""
    return getattr(skimage.data, name)().astype(np.float32) / 255.0


def texture(name: str, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A coloured background texture, RGB float32 in [0, 1]."""
    height, width = shape
    if name == "noise":
        grey = _fractal_noise(rng, shape)
    elif name == "wood":
        rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
        warp = 25.0 * _fractal_noise(rng, shape, octaves=3)
        rings = rng.uniform(0.05, 0.15) * (cols * np.cos(rng.uniform(-0.3, 0.3)) + rows * 0.1 + warp)
        grey = 0.5 + 0.35 * np.sin(rings) + 0.15 * _fractal_noise(rng, shape)
    elif name in ("brick", "grass", "gravel"):
        photo = _sample_texture(name)
        scale = rng.uniform(0.6, 1.2)
        crop_h, crop_w = min(photo.shape[0], int(height * scale)), min(photo.shape[1], int(width * scale))
        top = rng.integers(0, photo.shape[0] - crop_h + 1)
        left = rng.integers(0, photo.shape[1] - crop_w + 1)
        grey = cv2.resize(photo[top:top + crop_h, left:left + crop_w], (width, height),
                          interpolation=cv2.INTER_LINEAR)
    else:
        raise ValueError(f"name: expected one of {TEXTURES}, got {name!r}")
    colour = rng.uniform(0.35, 1.0, size=3).astype(np.float32)
    return np.clip(colour * (0.4 + 0.8 * grey[..., None]), 0.0, 1.0).astype(np.float32)


def _mix(image: np.ndarray, changed: np.ndarray, strength: float) -> np.ndarray:
    """Blend towards the fully changed image as strength goes from 0 to 1."""
    amount = min(strength, 1.0)
    return np.clip((1 - amount) * image + amount * changed, 0.0, 1.0).astype(np.float32)


def background(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Print the ridges onto a textured, coloured surface (procedural or a scikit-image photo)."""
    name = TEXTURES[rng.integers(len(TEXTURES))]
    surface = texture(name, rng, image.shape[:2])
    ink = rng.uniform(0.45, 0.85)
    ink_colour = rng.uniform(0.0, 0.35, size=3).astype(np.float32)
    darkness = (1.0 - image) * ink
    return _mix(image, surface * (1 - darkness) + ink_colour * darkness, strength)


def brightness_contrast(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Scale contrast about the mean and shift brightness."""
    contrast = 1.0 + rng.uniform(-0.55, 0.3) * strength
    shift = rng.uniform(-0.25, 0.25) * strength
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
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    centre = rng.uniform(0, 1, size=2) * (height, width)
    axes = radius * rng.uniform(0.5, 1.5, size=2)
    angle = rng.uniform(0, np.pi)
    dr, dc = rows - centre[0], cols - centre[1]
    u = (dc * np.cos(angle) + dr * np.sin(angle)) / axes[0]
    v = (-dc * np.sin(angle) + dr * np.cos(angle)) / axes[1]
    outline = 1.0 + 0.6 * (_fractal_noise(rng, shape, octaves=3) - 0.5)
    return np.clip((outline - np.hypot(u, v)) * 4.0, 0.0, 1.0)


def occlusion(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Opaque or translucent blobs (stains, smudges) of random colour."""
    out = image.copy()
    if strength == 0:
        return out
    shape = image.shape[:2]
    for _ in range(rng.integers(1, 4)):
        mask = _blob_mask(rng, shape, min(shape) * rng.uniform(0.08, 0.22) * strength)
        alpha = rng.uniform(0.5, 1.0) * mask[..., None]
        colour = rng.uniform(0.0, 1.0, size=3).astype(np.float32)
        out = out * (1 - alpha) + colour * alpha
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def scratches(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Thin curved light or dark lines drawn with anti-aliasing."""
    height, width = image.shape[:2]
    count = int(rng.integers(2, 8) * min(strength, 2.0))
    colour_layer = np.zeros_like(image)
    alpha = np.zeros((height, width), np.float32)
    t = np.linspace(0, 1, 32)[:, None]
    for _ in range(count):
        p0, p1, p2 = rng.uniform(0, 1, size=(3, 2)) * (width, height)
        curve = [np.round(((1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2) * 16).astype(np.int32)]
        thickness = int(rng.integers(1, 4))
        colour = tuple(float(c) for c in rng.uniform(0, 1, size=3))
        cv2.polylines(colour_layer, curve, False, colour, thickness, cv2.LINE_AA, shift=4)
        cv2.polylines(alpha, curve, False, 1.0, thickness, cv2.LINE_AA, shift=4)
    colour_layer /= np.maximum(alpha, 1e-6)[..., None]
    alpha = np.clip(alpha, 0.0, 1.0)[..., None]
    return np.clip(image * (1 - alpha) + colour_layer * alpha, 0.0, 1.0).astype(np.float32)


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


# In the order ``degrade`` applies them; background and jpeg always, the others with OPTIONAL_PROBABILITY.
DEGRADATIONS: dict[str, Callable[[np.ndarray, np.random.Generator, float], np.ndarray]] = {
    "background": background,
    "brightness_contrast": brightness_contrast,
    "occlusion": occlusion,
    "scratches": scratches,
    "blur": blur,
    "resample": resample,
    "noise": noise,
    "jpeg": jpeg,
}
ALWAYS = ("background", "jpeg")


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


def degrade(clean: np.ndarray, seed: int, strength: float = 1.0) -> np.ndarray:
    """ChaLearn-like input for a clean grey target: RGB uint8, same height and width, pixel-aligned."""
    _check_strength(strength)
    image = as_rgb(clean)
    rng = np.random.default_rng(seed)
    for name, function in DEGRADATIONS.items():
        apply = rng.random() < OPTIONAL_PROBABILITY
        if name in ALWAYS or apply:
            image = function(image, rng, strength)
    return (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def apply_one(clean: np.ndarray, name: str, seed: int, strength: float = 1.0) -> np.ndarray:
    """One named degradation alone on a clean grey print, as RGB uint8 (for figures and tests)."""
    _check_strength(strength)
    if name not in DEGRADATIONS:
        raise ValueError(f"name: expected one of {tuple(DEGRADATIONS)}, got {name!r}")
    image = DEGRADATIONS[name](as_rgb(clean), np.random.default_rng(seed), strength)
    return (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
