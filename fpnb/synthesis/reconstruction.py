"""Minutiae-to-fingerprint reconstruction: a ResNet encoder from minutiae maps to a frozen StyleGAN2's w+.

Scale: the generator draws R px prints of a master squared from its ``min(height, width)`` px side
(500 ppi, ridge period 8-12 px), so at R = 64 a ridge period is about 2.5 px, far below what
MINDTCT can read. Every print is therefore resized by ``native_scale`` (side / R) back to the
masters' 500 ppi before minutiae extraction and matching, and minutiae found there are mapped
back to R px to draw the maps. Matching radii (10 px) are at 500 ppi too.

Noise: a young generator takes its ridge layout largely from the per-layer noise maps, so the
generator's single stored noise would give every print nearly the same ridges (generated
"impostors" then match each other). Pairs are therefore drawn with each seed's own noise maps
(``sampling.seed_noise``), as in notebook 08, and the encoder predicts the noise maps as well
as w+: an identity is a (w, noise) pair, and the encoder has to produce both.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from fpnb.config import Profile, paths
from fpnb.precision import resolve, torch_autocast
from fpnb.data.datasets import native_scale, to_native
from fpnb.synthesis.runs import load_checkpoint, restore, save_checkpoint, step_rng
from fpnb.synthesis.stylegan import Generator
from fpnb.weights_io import (load_module, may_ship, module_digest, save_module, shipped_for,
                             stored_state)

ENCODER_FILE = "minutiae_encoder.safetensors"
WEIGHTS_FORMAT = "fpnb.reconstruction.MinutiaeEncoder/1"  # a file-format name in shipped files, not a module path
# the encoder's stages work on at most this side; a larger map enters through a strided stem (cost: see README)
ENCODER_SIDE = 128
ENCODER_STORAGE = "bfloat16"  # 4.8 M parameters: 9.6 MB stored instead of 19 MB (weights/ stays under 80 MB)
MAP_SIGMA_PX, MAP_LINE_PX = 3.0, 15.0  # minutiae-map dot and line at 500 ppi (seed 001's values)
LOSS_WEIGHTS = {"l2": 1.0, "perceptual": 0.8, "fingernet": 1.0}
ABLATION_VARIANTS = {  # name: (loss weights, whether the encoder predicts noise maps)
    "l2": ({"l2": 1.0}, True),
    "l2+perceptual": ({"l2": 1.0, "perceptual": 0.8}, True),
    "l2+perceptual+fingernet": (LOSS_WEIGHTS, True),
    "l2+perceptual+fingernet, w+ only": (LOSS_WEIGHTS, False),
}


# ----------------------------------------------------------------------------- scale and maps

def profile_scale(profile: Profile) -> float:
    """``native_scale`` of the profile's GAN resolution and master size."""
    return native_scale(profile.gan_resolution, min(profile.image_height, profile.image_width))


def native_features(image: np.ndarray) -> tuple:
    """Minutiae and singular points (row, col) of one print at 500 ppi."""
    from fpnb.identity.fields import foreground_mask, orientation_field, singular_points
    from fpnb.identity.matchers import extract_minutiae

    minutiae = extract_minutiae(image)
    orientation, _ = orientation_field(image)
    points = singular_points(orientation, foreground_mask(image)).all()
    return minutiae, points


def maps_of(images: np.ndarray, scale: float, chunk: int = 256) -> tuple[np.ndarray, list]:
    """3-channel minutiae maps (N x 3 x R x R float32) of R px prints, and their minutiae at R px.

    Extraction runs at 500 ppi (``to_native``, ``chunk`` prints at a time, so that 10,000 prints
    at 256 px need no second copy at that scale); dots and lines are scaled down with the
    coordinates but kept at least 1 px wide and 3 px long so that they survive at R px.
    """
    from fpnb.identity.minutiae import Minutiae
    from fpnb.identity.maps import minutiae_map

    shape = images.shape[1:]
    sigma = max(1.0, MAP_SIGMA_PX / scale)
    line = max(3, int(round(MAP_LINE_PX / scale)))
    maps, found = np.zeros((len(images), 3, *shape), np.float32), []
    for start in range(0, len(images), chunk):
        for k, image in enumerate(to_native(images[start:start + chunk], scale), start):
            minutiae, points = native_features(image)
            small = Minutiae(minutiae.x / scale, minutiae.y / scale, minutiae.angle, minutiae.kind, minutiae.quality)
            maps[k] = minutiae_map(small, points / scale, shape, sigma=sigma, line_length=line)
            found.append(small)
    return maps, found


PAIRS_CHUNK = 256  # prints drawn at once by make_pairs (a multiple of render's batch, so outputs do not change)


def make_pairs(generator: Generator, seeds: Sequence[int], truncation: float = 0.7,
               scale: float | None = None) -> dict:
    """Generated prints (each seed's w and noise maps) and their minutiae maps.

    Keys: images N x R x R in [0, 1], w N x D, maps N x 3 x R x R, minutiae, seeds, scale,
    truncation. The noise maps are not kept (at 256 px they outweigh everything else):
    ``sampling.seed_noise(generator, seeds)`` draws them again.
    """
    from fpnb.synthesis.sampling import render, seed_latents, seed_noise

    seeds = [int(s) for s in seeds]
    scale = native_scale(generator.resolution) if scale is None else scale
    w = seed_latents(generator, seeds, truncation).cpu()
    images = np.zeros((len(seeds), generator.resolution, generator.resolution), np.float32)
    for start in range(0, len(seeds), PAIRS_CHUNK):  # one chunk's noise maps at a time
        chunk = seeds[start:start + PAIRS_CHUNK]
        images[start:start + len(chunk)] = render(generator, w[start:start + len(chunk)],
                                                  noise=seed_noise(generator, chunk))
    maps, minutiae = maps_of(images, scale)
    return {"images": images, "w": w.numpy(), "maps": maps, "minutiae": minutiae, "seeds": seeds, "scale": scale,
            "truncation": truncation}


def cached_pairs(generator: Generator, seeds: Sequence[int], truncation: float, scale: float,
                 cache_dir: Path) -> dict:
    """``make_pairs``, kept in ``cache_dir`` (npz, keyed by generator digest, seeds, truncation and scale)
    so that a resumed or repeated run does not extract minutiae again (about 0.1 s a print)."""
    from fpnb.identity.minutiae import Minutiae

    seeds = [int(s) for s in seeds]
    key = hashlib.sha256(json.dumps([module_digest(generator), seeds, truncation, scale]).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"pairs-{key}.npz"
    fields = ("x", "y", "angle", "kind", "quality")
    if path.exists():
        with np.load(path) as z:
            ends = np.cumsum(z["counts"])[:-1]
            columns = [np.split(z["m_" + f], ends) for f in fields]
            return {"images": z["images"], "w": z["w"], "maps": z["maps"],
                    "minutiae": [Minutiae(*parts) for parts in zip(*columns)],
                    "seeds": seeds, "scale": scale, "truncation": truncation}
    pairs = make_pairs(generator, seeds, truncation, scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    minutiae = pairs["minutiae"]
    arrays = {"m_" + f: np.concatenate([getattr(m, f) for m in minutiae]) if minutiae else np.zeros(0) for f in fields}
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, images=pairs["images"], w=pairs["w"], maps=pairs["maps"],
             counts=np.array([len(m) for m in minutiae], np.int64), **arrays)
    partial.replace(path)
    return pairs


def split_masters(profile: Profile, seed: int = 0, split: str = "test") -> tuple[np.ndarray, list[int]]:
    """One split's master prints squared to the GAN resolution (N x R x R, [0, 1]) and their identities.

    The GAN trains on the training split only, so the test split's masters are prints it never saw.
    """
    from fpnb.data.datasets import build_restoration_dataset, read_image, square

    root = build_restoration_dataset(profile, seed)
    identities = [m["identity"] for m in json.loads((root / "masters.json").read_text()) if m["split"] == split]
    images = np.stack([read_image(root / "masters" / f"{i:05d}.png", grey=True) for i in identities])
    return square(images.astype(np.float32) / 255.0, profile.gan_resolution), identities


def master_pairs(profile: Profile, seed: int = 0, split: str = "test") -> dict:
    """``make_pairs``' dict (without w) for one split's master prints at the GAN resolution."""
    images, identities = split_masters(profile, seed, split)
    scale = profile_scale(profile)
    maps, minutiae = maps_of(images, scale)
    return {"images": images, "maps": maps, "minutiae": minutiae, "identities": identities, "scale": scale}


def n_training_pairs(profile: Profile) -> int:
    """Generated pairs the encoder trains on: ten per GAN sample of the profile."""
    return 10 * profile.n_gan_samples


# ----------------------------------------------------------------------------- encoder

def _norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups (batch statistics are useless at batch 4-8)."""
    return nn.GroupNorm(min(8, channels), channels)


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs) with GroupNorm and a 1x1 projection when the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.norm1 = _norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.norm2 = _norm(out_channels)
        same = stride == 1 and in_channels == out_channels
        self.skip = nn.Identity() if same else nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), _norm(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.norm1(self.conv1(x)))
        return F.relu(self.norm2(self.conv2(out)) + self.skip(x))


def _conv_norm_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False), _norm(out_channels), nn.ReLU())


class MinutiaeEncoder(nn.Module):
    """ResNet-10-like encoder: minutiae map B x 3 x R x R -> (w+ B x n_latent x D, noise maps or None).

    Stem 3x3 conv, four stages of one BasicBlock each (widths c, 2c, 4c, 8c, strides 1, 2, 2, 2)
    with GroupNorm (batches are small), then an adaptive 4 x 4 pool kept spatial (minutiae
    positions matter, a global pool would lose them) -> linear -> D-wide hidden layer -> w+ head
    as ``w_avg + delta``. With ``noise_sizes`` (the generator's noise-map sides) a U-Net-style
    decoder climbs back from the last stage through the others' skips, and a 3x3 conv at each
    side gives that layer's noise map. Heads start at zero, so an untrained encoder answers the
    mean w with blank noise. w+ (one w per style input) rather than seed 001's single w: prints
    the generator never drew (masters) need the extra freedom; the latent loss to the known w
    keeps it near the generator's w space. ``stem_stride`` 2 runs the stem and stages at half the
    map's side (the decoder's top level is then upsampled for the full-side noise maps).
    """

    def __init__(self, n_latent: int, style_dim: int, w_avg: torch.Tensor | None = None, channels: int = 16,
                 w_plus: bool = True, noise_sizes: Sequence[int] | None = None, stem_stride: int = 1):
        super().__init__()
        noise_sizes = [int(n) for n in noise_sizes] if noise_sizes else None
        self.args = dict(n_latent=n_latent, style_dim=style_dim, channels=channels, w_plus=w_plus,
                         noise_sizes=noise_sizes, stem_stride=stem_stride)
        self.n_latent, self.style_dim, self.w_plus, self.noise_sizes = n_latent, style_dim, w_plus, noise_sizes
        widths = [channels, 2 * channels, 4 * channels, 8 * channels]
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, stem_stride, 1, bias=False),
                                  _norm(channels), nn.ReLU())  # c x R/s x R/s, s = stem_stride
        self.stages = nn.ModuleList([BasicBlock(a, b, s) for a, b, s in
                                     zip([channels] + widths[:-1], widths, (1, 2, 2, 2))])  # 8c x R/8s x R/8s
        self.pool = nn.AdaptiveAvgPool2d(4)  # 8c x 4 x 4
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(16 * widths[-1], style_dim), nn.LeakyReLU(0.2))
        self.head = nn.Linear(style_dim, (n_latent if w_plus else 1) * style_dim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        if noise_sizes:
            # decoder level i merges the level below it (upsampled) with stage i's output: widths[i] channels
            self.bottom = _conv_norm_relu(widths[3], widths[3])  # side R/8s
            self.decoder = nn.ModuleList([_conv_norm_relu(widths[i + 1] + widths[i], widths[i]) for i in (2, 1, 0)])
            top = noise_sizes[-1] // stem_stride  # R/s
            level_width = {top // 8: widths[3], top // 4: widths[2], top // 2: widths[1], top: widths[0]}
            # sides above R/s: from the top level, upsampled; below R/8s: from the bottom, pooled
            self.noise_heads = nn.ModuleList([
                nn.Conv2d(widths[0] if size > top else level_width.get(size, widths[3]), 1, 3, 1, 1)
                for size in noise_sizes])
            for conv in self.noise_heads:
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)
        self.register_buffer("w_avg", torch.zeros(style_dim) if w_avg is None else w_avg.detach().clone().cpu())

    def _noise(self, skips: list[torch.Tensor]) -> list[torch.Tensor]:
        """One map per noise side: decoder levels R/8s ... R/s, larger sides upsampled from the top level,
        smaller ones pooled from the bottom."""
        x = self.bottom(skips[3])
        levels = {x.shape[-1]: x}
        for block, skip in zip(self.decoder, skips[2::-1]):
            x = block(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="nearest"), skip], 1))
            levels[x.shape[-1]] = x
        bottom, top = levels[min(levels)], levels[max(levels)]

        def level(size: int) -> torch.Tensor:
            if size in levels:
                return levels[size]
            if size > top.shape[-1]:
                return F.interpolate(top, size=(size, size), mode="bilinear", align_corners=False)
            return F.adaptive_avg_pool2d(bottom, size)

        return [head(level(size)) for head, size in zip(self.noise_heads, self.noise_sizes)]

    def forward(self, maps: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        x, skips = self.stem(maps), []
        for stage in self.stages:
            x = stage(x)
            skips.append(x)
        delta = self.head(self.hidden(self.pool(x)))
        delta = delta.view(len(maps), -1, self.style_dim).expand(-1, self.n_latent, -1)
        return self.w_avg + delta, (self._noise(skips) if self.noise_sizes else None)


def build_encoder(generator: Generator, channels: int = 16, w_plus: bool = True,
                  noise: bool = True, stem_stride: int | None = None) -> MinutiaeEncoder:
    """An untrained encoder for this generator's w space (centred on ``w_avg``), predicting noise maps too.

    Its stages work on at most ``ENCODER_SIDE`` px unless ``stem_stride`` says otherwise: a larger
    generator's maps enter through a strided stem.
    """
    sizes = [m.shape[-1] for m in generator.fixed_noise()] if noise else None
    stride = max(1, generator.resolution // ENCODER_SIDE) if stem_stride is None else stem_stride
    return MinutiaeEncoder(generator.n_latent, generator.style_dim, generator.w_avg, channels, w_plus, sizes, stride)


@torch.no_grad()
def reconstruct(encoder: MinutiaeEncoder, generator: Generator, maps: np.ndarray, batch: int = 16) -> np.ndarray:
    """Prints (N x R x R in [0, 1]) that the frozen generator draws from the encoder's w+ (and noise) of each map."""
    from fpnb.synthesis.sampling import render

    encoder.eval()
    out = []
    for i in range(0, len(maps), batch):
        w_plus, noise = encoder(torch.as_tensor(maps[i:i + batch]))
        out.append(render(generator, w_plus, batch=batch, noise=noise))
    return np.concatenate(out) if out else np.zeros((0, generator.resolution, generator.resolution), np.float32)


# ----------------------------------------------------------------------------- training

def encoder_losses(encoder: MinutiaeEncoder, generator: Generator, printnet: nn.Module | None, maps: torch.Tensor,
                   images: torch.Tensor, w: torch.Tensor | None, weights: dict,
                   true_noise: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, dict]:
    """Weighted total and its parts: pixel L2, printnet perceptual, FingerNet-style, L2 to the known w and noise."""
    w_plus, noise = encoder(maps)
    output = generator(w_plus, input_is_latent=True, noise=noise or "fixed")  # B x 1 x R x R, about [-1, 1]
    target = images[:, None] * 2 - 1
    parts = {"l2": F.mse_loss(output, target)}
    if weights.get("perceptual", 0) or weights.get("fingernet", 0):
        from fpnb.synthesis.printnet import fingernet_loss, perceptual_loss

        if weights.get("perceptual", 0):
            parts["perceptual"] = perceptual_loss(printnet, output, target)
        if weights.get("fingernet", 0):
            parts["fingernet"] = fingernet_loss(printnet, output, target)
    if weights.get("latent", 0) and w is not None:
        parts["latent"] = F.mse_loss(w_plus, w[:, None].expand_as(w_plus))
    if weights.get("noise", 0) and noise and true_noise:
        parts["noise"] = sum(F.mse_loss(a, b) for a, b in zip(noise, true_noise)) / len(noise)
    total = sum(weights.get(name, 0) * value for name, value in parts.items())
    return total, parts


def encoder_run_dir(profile: Profile, tag: str) -> Path:
    """Checkpoint and log of one encoder training (resumed after a crash)."""
    return paths.runs / profile.name / f"encoder-{tag}"


def shipped_encoder(profile: Profile, generator: Generator, tag: str = "main") -> Path | None:
    """The shipped encoder file when its card names this profile, tag and ``generator`` (its weights' digest)."""
    return shipped_for(paths.weights / ENCODER_FILE, profile, tag=tag, generator_digest=module_digest(generator))


def shipped_ablation(profile: Profile, generator: Generator) -> pd.DataFrame | None:
    """The ablation table stored in the shipped encoder's card (measured when it was trained), if any."""
    from fpnb.weights_io import card_path

    path = shipped_encoder(profile, generator)
    rows = json.loads(card_path(path).read_text())["metrics"].get("ablation") if path else None
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("variant") if rows else None


def needs_training_pairs(profile: Profile, generator: Generator, retrain: bool = False) -> bool:
    """Whether 09 trains anything: not when the shipped encoder of this generator and its card's ablation are reused."""
    return retrain or shipped_ablation(profile, generator) is None  # an ablation is found only with its encoder


def load_encoder(path: str | Path) -> MinutiaeEncoder:
    """Rebuild an encoder from its safetensors file (arguments in the metadata), checking the card's sha256."""
    return load_module(MinutiaeEncoder, path, WEIGHTS_FORMAT).eval()


def ship_encoder(encoder: MinutiaeEncoder, generator: Generator, profile: Profile, log: pd.DataFrame, metrics: dict,
                 tag: str = "main", train_args: dict | None = None, source: str = "trained") -> Path | None:
    """Write the encoder (safetensors), its log and JSON model card, naming the generator it inverts, under
    weights/ (only for a profile that ships weights, and only an encoder trained in this run: ``source`` from
    ``train_encoder``; a reused one keeps the card it was measured with)."""
    path = paths.weights / ENCODER_FILE
    if not source.startswith("trained") or not may_ship(path, profile):
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    log.to_csv(path.with_suffix(".log.csv"), index=False)
    card = {"name": "minutiae_encoder", "profile": profile.name, "tag": tag, "train": train_args or {},
            "precision": resolve(profile),
            "generator_digest": module_digest(generator),
            "training_steps": int(log["step"].max()) if len(log) else 0, "metrics": metrics}
    return save_module(encoder, path, WEIGHTS_FORMAT, card, storage=ENCODER_STORAGE)


def train_encoder(generator: Generator, printnet: nn.Module | None, pairs: dict | None, profile: Profile, seed: int = 0,
                  loss_weights: dict | None = None, retrain: bool = False, steps: int | None = None,
                  tag: str = "main", batch_size: int | None = None, lr: float = 1e-3, channels: int = 16,
                  run_dir: Path | None = None, noise_maps: bool = True,
                  precision: str | None = None) -> tuple[MinutiaeEncoder, pd.DataFrame, str]:
    """Train (or resume, or load the shipped) encoder on generated pairs; the generator stays frozen.

    Adam (Ranger is not installed) with cosine decay from ``lr``; batches are a function of
    (seed, step), so a resumed run continues exactly. A checkpoint made with other settings is
    not resumed but replaced. ``loss_weights`` keys: l2, perceptual, fingernet, latent, noise (the
    last two need ``pairs["w"]`` and ``pairs["seeds"]``, whose noise maps are drawn again per batch).
    ``precision`` (default: the profile's, ``fpnb.precision.resolve``): ``bf16`` runs the losses
    under bfloat16 autocast (1.85x faster a step at 128 px here); weights and optimiser state stay
    float32. ``pairs`` may be None when the
    shipped encoder is to be loaded.
    """
    from fpnb.synthesis.sampling import seed_noise

    weights = dict(LOSS_WEIGHTS if loss_weights is None else loss_weights)
    precision = precision or resolve(profile)
    steps = profile.encoder_steps if steps is None else steps
    batch_size = batch_size or profile.batch_size
    shipped = shipped_encoder(profile, generator, tag)
    if shipped is not None and not retrain:
        return load_encoder(shipped), pd.read_csv(shipped.with_suffix(".log.csv")), f"shipped {shipped.name}"
    if pairs is None:
        raise ValueError(f"train_encoder: no shipped {profile.name} encoder for this generator, so training pairs are needed")
    generator.eval().requires_grad_(False)
    if printnet is not None:
        printnet.eval().requires_grad_(False)
    maps = torch.as_tensor(pairs["maps"])
    images = torch.as_tensor(pairs["images"])
    w = torch.as_tensor(pairs["w"])
    seeds = pairs.get("seeds")
    if weights.get("noise", 0) and seeds is None:
        raise ValueError("train_encoder: a noise loss needs pairs['seeds'] (their noise maps are drawn from them)")
    torch.manual_seed(seed)
    encoder = build_encoder(generator, channels, noise=noise_maps)
    optimiser = torch.optim.Adam(encoder.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    settings = {"args": encoder.args, "loss_weights": weights, "steps": steps, "batch_size": batch_size, "lr": lr,
                "seed": seed, "n_pairs": len(maps), "generator": generator.args, "precision": precision}
    run_dir = encoder_run_dir(profile, tag) if run_dir is None else Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    stateful = {"encoder": encoder, "optimiser": optimiser, "schedule": schedule}
    step, log = 0, []
    ckpt = None if retrain else load_checkpoint(run_dir)
    if ckpt is not None and ckpt["settings"] == settings:  # other settings: start afresh over it
        restore(ckpt, stateful)
        step, log = ckpt["step"], list(ckpt["log"])
    every = max(1, steps // 10)
    encoder.train()
    while step < steps:
        started = time.perf_counter()
        index = torch.randint(len(maps), (batch_size,), generator=step_rng(seed, step))
        true_noise = seed_noise(generator, [seeds[i] for i in index.tolist()]) if weights.get("noise", 0) else None
        with torch_autocast(precision):
            total, parts = encoder_losses(encoder, generator, printnet, maps[index], images[index], w[index], weights,
                                          true_noise)
        optimiser.zero_grad(set_to_none=True)
        total.backward()
        optimiser.step()
        schedule.step()
        step += 1
        log.append({"step": step, "loss": total.item(), **{k: v.item() for k, v in parts.items()},
                    "lr": schedule.get_last_lr()[0], "seconds": time.perf_counter() - started})
        if step % every == 0 or step == steps:
            save_checkpoint(run_dir, stateful, log, step=step, settings=settings)
    source = f"trained here ({profile.name}, {step} steps)" if step else "untrained"
    encoder.load_state_dict(stored_state(encoder, ENCODER_STORAGE))  # as shipped: metrics are of those weights
    return encoder.eval(), pd.DataFrame(log), source


# ----------------------------------------------------------------------------- evaluation

def _other(n: int, seed: int) -> np.ndarray:
    """A derangement of range(n) (no index maps to itself), drawn with ``seed``: each print's "other source"."""
    return (np.arange(n) + np.random.default_rng(seed).integers(1, n, size=n)) % n


def evaluate_reconstruction(sources: np.ndarray, reconstructions: np.ndarray, matcher, scale: float,
                            seed: int = 0, printnet: nn.Module | None = None) -> tuple[pd.DataFrame, dict]:
    """Per-print table and summary: genuine score (reconstruction vs its source), impostors, TAR, minutiae F1,
    and whether the print's ridge flow (not only its minutiae) comes back.

    Impostors are every reconstruction against every other source (N (N - 1) pairs), so FARs
    below 1 / (N (N - 1)) are not resolved; ``n_impostor`` says how many there were. TAR CIs
    resample prints with the threshold fixed. Everything runs at 500 ppi (``scale``). Ridge flow:
    ``metrics.flow_error`` against the source and, as the chance level, against another source (drawn with
    ``seed``); with ``printnet``, the share of reconstructions whose predicted pattern class is the
    source's, and the same share against the other source.
    """
    from fpnb.identity.fields import orientation_field
    from fpnb.identity.matchers import extract_minutiae
    from fpnb.identity.metrics import (accepted_at_far, masked_flow_error, mean_ci, minutiae_prf, ridge_flow,
                                       verification_metrics)
    from fpnb.identity.verification import score_pair_list

    if sources.shape != reconstructions.shape or len(sources) < 2:
        raise ValueError(f"sources: need >= 2 prints shaped like reconstructions, got {sources.shape} "
                         f"and {reconstructions.shape}")
    src, rec = to_native(sources, scale), to_native(reconstructions, scale)
    n = len(src)
    rec_index, src_index = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")  # reconstruction i vs source j
    pairs = np.stack([rec_index.ravel(), n + src_index.ravel()], axis=1)
    scores = score_pair_list(matcher, [*rec, *src], pairs).reshape(n, n)
    genuine = np.diag(scores)
    impostor = scores[~np.eye(n, dtype=bool)]
    other = _other(n, seed)
    source_flows, orientations = [ridge_flow(image) for image in src], [orientation_field(image)[0] for image in rec]
    rows = []
    for i in range(n):
        prf = minutiae_prf(extract_minutiae(rec[i]), extract_minutiae(src[i]))
        rows.append({"index": i, "genuine_score": genuine[i], "best_impostor_score": np.delete(scores[i], i).max(),
                     "minutiae_precision": prf["precision"], "minutiae_recall": prf["recall"],
                     "minutiae_f1": prf["f1"], "n_minutiae_source": prf["tp"] + prf["fn"],
                     "n_minutiae_reconstruction": prf["tp"] + prf["fp"],
                     "flow_error_deg": masked_flow_error(source_flows[i], orientations[i]),
                     "flow_error_other_deg": masked_flow_error(source_flows[other[i]], orientations[i])})
    table = pd.DataFrame(rows)
    metrics = verification_metrics(genuine, impostor)
    summary = {"n": n, "n_impostor": int(impostor.size), "eer": metrics["eer"],
               "genuine_mean": float(genuine.mean()), "impostor_mean": float(impostor.mean())}

    def add_mean_ci(column: str, values: np.ndarray) -> None:  # intervals as tuples, as the tables have them
        mean, ci = mean_ci(values, seed=seed)
        summary.update({column: mean, f"{column}_ci": tuple(ci)})

    for column in ("minutiae_f1", "flow_error_deg", "flow_error_other_deg"):
        add_mean_ci(column, table[column].to_numpy())
    if printnet is not None:
        from fpnb.synthesis.printnet import predict_patterns

        want, got = predict_patterns(printnet, sources), predict_patterns(printnet, reconstructions)
        table["pattern_source"], table["pattern_reconstruction"] = want, got
        for column, same in (("pattern_agreement", got == want), ("pattern_agreement_other", got == want[other])):
            add_mean_ci(column, same)
    for label in ("1e-3", "1e-4"):
        found = accepted_at_far(genuine, impostor, float(label))
        if found is None:  # too few impostor pairs for this FAR
            summary |= {f"threshold_at_far_{label}": None, f"tar_at_far_{label}": None, f"tar_at_far_{label}_ci": None}
            continue
        summary[f"threshold_at_far_{label}"] = found[0]
        add_mean_ci(f"tar_at_far_{label}", found[1])
    return table, summary


def summary_table(summaries: dict[str, dict]) -> pd.DataFrame:
    """One row per evaluation set: n, genuine and impostor means, TAR at FAR 0.1 % and 0.01 % with CIs, minutiae F1."""
    columns = ["n", "n_impostor", "genuine_mean", "impostor_mean", "tar_at_far_1e-3", "tar_at_far_1e-3_ci",
               "tar_at_far_1e-4", "tar_at_far_1e-4_ci", "eer", "minutiae_f1", "minutiae_f1_ci",
               "flow_error_deg", "flow_error_other_deg", "pattern_agreement", "pattern_agreement_other"]
    return pd.DataFrame({name: {c: summary.get(c) for c in columns} for name, summary in summaries.items()}).T


def ablation(generator: Generator, printnet: nn.Module | None, pairs: dict, eval_pairs: dict, profile: Profile,
             matcher, seed: int = 0, fixed_weights: dict | None = None, retrain: bool = False,
             variants: dict | None = None) -> pd.DataFrame:
    """Encoders trained with each variant's loss weights (plus ``fixed_weights``, e.g. latent and noise)
    and with or without noise maps, at a third of the profile's steps, evaluated alike."""
    rows = []
    steps = max(1, profile.encoder_steps // 3)
    for name, (weights, noise_maps) in (variants or ABLATION_VARIANTS).items():
        weights = {**weights, **(fixed_weights or {})}
        encoder, log, _ = train_encoder(generator, printnet, pairs, profile, seed, weights, retrain, steps=steps,
                                        tag="ablation-" + name.replace(", ", "-").replace(" ", "-"), noise_maps=noise_maps)
        recon = reconstruct(encoder, generator, eval_pairs["maps"])
        _, summary = evaluate_reconstruction(eval_pairs["images"], recon, matcher, eval_pairs["scale"], seed)
        rows.append({"variant": name, "steps": steps, "final_l2": float(log["l2"].tail(10).mean()),
                     "genuine_mean": summary["genuine_mean"], "tar_at_far_1e-3": summary["tar_at_far_1e-3"],
                     "tar_at_far_1e-3_ci": summary["tar_at_far_1e-3_ci"], "minutiae_f1": summary["minutiae_f1"],
                     "n": summary["n"]})
    return pd.DataFrame(rows).set_index("variant")


def examples_figure(pairs: dict, reconstructions: np.ndarray, n: int = 4):
    """Rows: minutiae map (RGB), source, reconstruction, reconstruction with the source's minutiae over it."""
    import matplotlib.pyplot as plt

    from fpnb.identity.maps import draw_minutiae

    n = min(n, len(reconstructions))
    fig, axes = plt.subplots(4, n, figsize=(2.4 * n, 9.6), squeeze=False)
    titles = ["minutiae map", "source", "reconstruction", "source minutiae on reconstruction"]
    for c in range(n):
        axes[0, c].imshow(np.clip(pairs["maps"][c].transpose(1, 2, 0), 0, 1))
        axes[1, c].imshow(pairs["images"][c], cmap="gray", vmin=0, vmax=1)
        axes[2, c].imshow(reconstructions[c], cmap="gray", vmin=0, vmax=1)
        draw_minutiae(axes[3, c], reconstructions[c], pairs["minutiae"][c], length=3.0)
        for r in range(4):
            axes[r, c].set_axis_off()
            if c == 0:
                axes[r, c].set_title(titles[r], fontsize=8, loc="left")
    fig.tight_layout()
    return fig
