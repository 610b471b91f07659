"""Images from a StyleGAN2 generator: seeds, truncation, style mixing, interpolation, weight files.

Every image is a function of its seed alone: ``torch.Generator().manual_seed(seed)`` on the CPU
(the same numbers on any device) draws z and then the per-layer noise maps.  Per-seed noise
matters here: ridges are texture, which a young generator takes largely from its noise inputs,
so the generator's single stored noise ("fixed") would give every seed a similar ridge layout.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fpnb.synthesis.stylegan import Generator
from fpnb.weights_io import load_module, save_module

WEIGHTS_FORMAT = "fpnb.stylegan.Generator/1"  # a file-format name in shipped files, not a module path


def _device(generator: Generator) -> torch.device:
    return generator.input.device


def seed_z(seeds: Sequence[int], style_dim: int) -> torch.Tensor:
    """z (N x style_dim) on the CPU, one independent stream per seed."""
    return torch.stack([torch.randn(style_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds])


def seed_noise(generator: Generator, seeds: Sequence[int]) -> list[torch.Tensor]:
    """Per-layer noise maps (N x 1 x r x r each) drawn after each seed's z from the same stream."""
    sizes = [m.shape[-1] for m in generator.fixed_noise()]
    per_seed = []
    for seed in seeds:
        rng = torch.Generator().manual_seed(int(seed))
        torch.randn(generator.style_dim, generator=rng)  # z comes first
        per_seed.append([torch.randn(1, 1, r, r, generator=rng) for r in sizes])
    return [torch.cat(layer).to(_device(generator)) for layer in zip(*per_seed)]


def _noise(generator: Generator, seeds: Sequence[int], noise: str) -> list[torch.Tensor] | None:
    """Noise maps for ``noise`` = "seed" (per seed) or "fixed" (None: the generator's stored maps)."""
    if noise not in ("seed", "fixed"):
        raise ValueError(f"noise: expected 'seed' or 'fixed', got {noise!r}")
    return seed_noise(generator, seeds) if noise == "seed" else None


@torch.inference_mode()
def seed_latents(generator: Generator, seeds: Sequence[int], truncation: float = 1.0,
                 truncation_latent: torch.Tensor | None = None) -> torch.Tensor:
    """Truncated w (N x style_dim) for seeds; ψ pulls w toward ``truncation_latent`` (default ``w_avg``)."""
    w = generator.mapping(seed_z(seeds, generator.style_dim).to(_device(generator)))
    center = generator.w_avg if truncation_latent is None else truncation_latent.reshape(-1).to(w.device)
    return center + truncation * (w - center)


@torch.inference_mode()
def render(generator: Generator, w: torch.Tensor, batch: int = 16,
           noise: list[torch.Tensor] | None = None) -> np.ndarray:
    """Images (N x R x R float32 in [0, 1]) from w (N x style_dim) or w+ (N x n_latent x style_dim).

    ``noise``: per-layer maps with N (or 1) rows, e.g. from ``seed_noise``; None: the stored maps.
    """
    out = []
    for start in range(0, len(w), batch):
        chunk = w[start:start + batch].to(_device(generator))
        styles = chunk if chunk.dim() == 3 else [chunk]
        maps = "fixed" if noise is None else [m[start:start + batch] if len(m) > 1 else m for m in noise]
        img = generator(styles, input_is_latent=True, noise=maps)
        out.append(((img.clamp(-1, 1) + 1) / 2)[:, 0].float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, generator.resolution, generator.resolution), np.float32)


def sample(generator: Generator, seeds: Sequence[int], truncation: float = 1.0, batch: int = 16,
           truncation_latent: torch.Tensor | None = None, noise: str = "seed") -> np.ndarray:
    """One image per seed (N x R x R float32 in [0, 1]), deterministic per seed.

    ``noise``: "seed" draws each seed's own maps, "fixed" uses the generator's stored maps (then
    truncation 0 gives the same, mean-w image for every seed).
    """
    seeds = list(seeds)
    chunks = [seeds[i:i + batch] for i in range(0, len(seeds), batch)]
    images = [render(generator, seed_latents(generator, chunk, truncation, truncation_latent), batch,
                     _noise(generator, chunk, noise)) for chunk in chunks]
    return np.concatenate(images) if images else render(generator, torch.zeros(0, generator.style_dim))


def style_mix(generator: Generator, seed_a: int, seed_b: int, crossover: int,
              truncation: float = 1.0, noise: str = "seed") -> np.ndarray:
    """Image (R x R) with seed_a's styles on layers < crossover (coarse) and seed_b's on the rest.

    With per-seed noise the maps are seed_a's, so crossover = n_latent reproduces seed_a.
    """
    if not 0 <= crossover <= generator.n_latent:
        raise ValueError(f"crossover: expected 0..{generator.n_latent}, got {crossover}")
    w = seed_latents(generator, [seed_a, seed_b], truncation)
    layer = torch.arange(generator.n_latent, device=w.device)[:, None]
    w_plus = torch.where(layer < crossover, w[0], w[1])[None]  # 1 x n_latent x style_dim
    return render(generator, w_plus, noise=_noise(generator, [seed_a], noise))[0]


def interpolate(generator: Generator, seed_a: int, seed_b: int, n: int, truncation: float = 1.0,
                noise: str = "seed") -> np.ndarray:
    """n images (n x R x R) along the straight line from seed_a's w to seed_b's w, seed_a's noise throughout."""
    w = seed_latents(generator, [seed_a, seed_b], truncation)
    t = torch.linspace(0, 1, n, device=w.device)[:, None]
    return render(generator, torch.lerp(w[:1], w[1:], t), noise=_noise(generator, [seed_a], noise))


def image_grid(images: np.ndarray, n_cols: int, pad: int = 2) -> np.ndarray:
    """Tile N x H x W images into one array, ``n_cols`` per row, white gaps."""
    n, h, w = images.shape
    n_rows = -(-n // n_cols)
    grid = np.ones((n_rows * (h + pad) - pad, n_cols * (w + pad) - pad), dtype=np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, n_cols)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = img
    return grid


def save_grid(images: np.ndarray, path: str | Path, n_cols: int = 8) -> Path:
    """Write a grid of [0, 1] images as an 8-bit grey PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = image_grid(images, n_cols)
    Image.fromarray(np.round(np.clip(grid, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def save_generator(generator: Generator, path: str | Path, card: dict) -> Path:
    """Write weights as safetensors (args in its metadata) and a JSON model card beside it."""
    return save_module(generator, path, WEIGHTS_FORMAT, card)


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> Generator:
    """Rebuild a frozen generator from its safetensors file, checking the card's sha256."""
    return load_module(Generator, path, WEIGHTS_FORMAT, device).eval().requires_grad_(False)
