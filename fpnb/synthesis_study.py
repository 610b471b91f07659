"""The synthesis study: the profile's StyleGAN2, trained on the master prints or reused from weights/."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import torch

from fpnb.config import Profile, paths
from fpnb.stylegan import Discriminator, Generator

GENERATOR_FILE = "stylegan_generator.safetensors"


def build_gan(profile: Profile) -> tuple[Generator, Discriminator]:
    """Generator and discriminator at the profile's resolution and channel width."""
    generator = Generator(profile.gan_resolution, channels=profile.gan_channels)
    discriminator = Discriminator(profile.gan_resolution, channels=profile.gan_channels)
    return generator, discriminator


def gan_run_dir(profile: Profile) -> Path:
    """Checkpoint, log and sample grids of the profile's GAN training (resumed after a crash)."""
    return paths.runs / profile.name / "stylegan"


def training_images(profile: Profile, seed: int = 0) -> torch.Tensor:
    """The training split's master prints as N x 1 x R x R in [-1, 1] (dark ridges at -1)."""
    from fpnb.datasets import build_restoration_dataset, master_prints

    build_restoration_dataset(profile, seed=seed)
    images = master_prints(profile, seed=seed, resolution=profile.gan_resolution)
    return torch.from_numpy(images * 2.0 - 1.0).unsqueeze(1)


def shipped_generator(profile: Profile) -> Path | None:
    """The shipped generator file when its model card says it was trained with this profile."""
    path = paths.weights / GENERATOR_FILE
    card = path.with_suffix(".json")
    if path.exists() and card.exists() and json.loads(card.read_text()).get("profile") == profile.name:
        return path
    return None


def train_or_load_generator(profile: Profile, seed: int = 0, retrain: bool = False,
                            device: str = "cpu", progress: bool = False) -> tuple[Generator, pd.DataFrame, str]:
    """The EMA generator of the profile: shipped weights when they match, else trained (resumably)."""
    from fpnb.gan_sampling import load_generator
    from fpnb.gan_training import train_stylegan

    shipped = shipped_generator(profile)
    if shipped is not None and not retrain:
        log = pd.read_csv(shipped.with_suffix(".log.csv"))
        return load_generator(shipped, device), log, f"shipped {shipped.name}"
    torch.manual_seed(seed)
    generator, discriminator = build_gan(profile)
    g_ema = copy.deepcopy(generator)
    every = max(1, profile.gan_steps // 10)
    log = train_stylegan(generator, discriminator, training_images(profile, seed), gan_run_dir(profile),
                         profile.gan_steps, profile.gan_batch, seed, device=device, resume=not retrain,
                         g_ema=g_ema, sample_every=every, checkpoint_every=every, progress=progress)
    return g_ema.eval().requires_grad_(False), log, f"trained here ({profile.name})"


def ship_generator(g_ema: Generator, profile: Profile, log: pd.DataFrame, metrics: dict,
                   data_hash: str) -> Path | None:
    """Write the EMA generator, its training log and model card under weights/ (never for smoke)."""
    from fpnb.gan_sampling import save_generator

    if profile.name == "smoke":
        return None
    path = paths.weights / GENERATOR_FILE
    log.to_csv(path.with_suffix(".log.csv"), index=False)
    card = {"name": "stylegan_generator", "profile": profile.name, "data_manifest_hash": data_hash,
            "training_steps": int(log["step"].max()), "metrics": metrics}
    return save_generator(g_ema, path, card)
