"""StyleGAN2 training: non-saturating loss, lazy R1, path-length regularisation, style mixing,
DiffAugment, an EMA generator, sample grids and crash-safe resumable checkpoints.

One code path for CPU and CUDA (``device``). Randomness comes from torch's global generator,
seeded once and stored in every checkpoint, so a resumed run continues the same stream; with a
tensor of images as data (e.g. ``TorchPrints(...).images``) the batches are a function of
(seed, step) and a resumed run is bit-identical to an uninterrupted one; a Dataset or DataLoader
restarts its shuffling on resume.
"""
from __future__ import annotations

import copy
import functools
import inspect
import math
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from fpnb.synthesis.sampling import sample, save_grid
from fpnb.precision import torch_autocast
from fpnb.synthesis.sefa import conv_layers
from fpnb.synthesis.runs import CHECKPOINT_NAME, load_checkpoint, restore, save_checkpoint, step_rng
from fpnb.synthesis.stylegan import Discriminator, Generator

W_AVG_BETA = 0.995  # as StyleGAN2's tracked mean of w, the centre of truncation
PL_DECAY = 0.01


def diff_augment(x: torch.Tensor) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020) for grey images: brightness, contrast, translation 1/8, cutout 1/2."""
    b, _, h, w = x.shape
    dev = x.device
    x = x + (torch.rand(b, 1, 1, 1, device=dev) - 0.5)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=dev) + 0.5) + mean
    # translation: shift each image by up to 1/8 of its size, filling with zeros (mid-grey)
    sy, sx = int(h * 0.125 + 0.5), int(w * 0.125 + 0.5)
    ty = torch.randint(-sy, sy + 1, (b, 1, 1), device=dev)
    tx = torch.randint(-sx, sx + 1, (b, 1, 1), device=dev)
    gy = (torch.arange(h, device=dev)[None, :, None] + ty + 1).clamp(0, h + 1)
    gx = (torch.arange(w, device=dev)[None, None, :] + tx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    x = padded[torch.arange(b, device=dev)[:, None, None], :, gy, gx].permute(0, 3, 1, 2)  # B x C x H x W
    # cutout: zero one square of half the size per image
    ch, cw = int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=dev) - ch // 2
    ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=dev) - cw // 2
    ys = torch.arange(h, device=dev)[None, :, None]
    xs = torch.arange(w, device=dev)[None, None, :]
    inside = (ys >= oy) & (ys < oy + ch) & (xs >= ox) & (xs < ox + cw)
    return x * (~inside)[:, None].to(x.dtype)


def _batches(data: torch.Tensor | Dataset | Iterable, batch: int, seed: int, step: int) -> Iterator[torch.Tensor]:
    """Endless real batches from a N x 1 x R x R tensor, a Dataset of images, or an iterable of batches."""
    if isinstance(data, torch.Tensor):
        while True:
            yield data[torch.randint(len(data), (batch,), generator=step_rng(seed, step))]
            step += 1
    if isinstance(data, Dataset):
        data = DataLoader(data, batch_size=batch, shuffle=True, drop_last=True,
                          generator=torch.Generator().manual_seed(seed + step))
    while True:
        n = 0
        for item in data:
            yield item[0] if isinstance(item, (tuple, list)) else item
            n += 1
        if n == 0:
            raise ValueError("data: yielded no batches (fewer images than one batch?)")


def _styles(generator: Generator, n: int, mixing: float, device: torch.device) -> tuple[list, int | None]:
    """One z batch, or two with a random crossover layer with probability ``mixing``."""
    if mixing > 0 and torch.rand(()).item() < mixing:
        zs = torch.randn(2, n, generator.style_dim, device=device)
        return [zs[0], zs[1]], int(torch.randint(1, generator.n_latent, ()).item())
    return [torch.randn(n, generator.style_dim, device=device)], None


def _same_args(saved: dict, model: torch.nn.Module) -> bool:
    """Whether arguments saved with a checkpoint build ``model`` (arguments added since take their defaults)."""
    defaults = {name: p.default for name, p in inspect.signature(type(model)).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **saved} == model.args


def load_training_run(path: str | Path, device: str | torch.device = "cpu") -> dict:
    """Rebuilt models of a run: generator, discriminator, g_ema (eval), step and the log."""
    ckpt = load_checkpoint(path, device)
    if ckpt is None:
        raise FileNotFoundError(f"{path}: no {CHECKPOINT_NAME} (run train_stylegan first)")
    generator = Generator(**ckpt["args"]["generator"]).to(device)
    discriminator = Discriminator(**ckpt["args"]["discriminator"]).to(device)
    g_ema = Generator(**ckpt["args"]["generator"]).to(device)
    generator.load_state_dict(ckpt["generator"])
    discriminator.load_state_dict(ckpt["discriminator"])
    g_ema.load_state_dict(ckpt["g_ema"])
    return {"generator": generator, "discriminator": discriminator, "g_ema": g_ema.eval().requires_grad_(False),
            "step": ckpt["step"], "log": pd.DataFrame(ckpt["log"])}


def train_stylegan(generator: Generator, discriminator: Discriminator, data: torch.Tensor | Dataset | Iterable,
                   run_dir: str | Path, steps: int, batch: int, seed: int, lr: float = 0.002,
                   r1_gamma: float = 10.0, r1_every: int = 16, pl_every: int | None = 4, pl_weight: float = 2.0,
                   mixing: float = 0.9, augment: str | None = "diffaugment", ema_beta: float | None = None,
                   sample_every: int = 500, checkpoint_every: int = 500, device: str | torch.device = "cpu",
                   resume: bool = True, g_ema: Generator | None = None, progress: bool = True,
                   precision: str = "fp32", noise_fade: tuple[int, int, int] | None = None) -> pd.DataFrame:
    """Train G and D in place for ``steps`` total steps (continuing a checkpoint in ``run_dir``); return the log.

    ``g_ema`` (a copy of ``generator`` when None) receives the moving average of G's weights,
    half-life 10k images unless ``ema_beta`` is given, warmed up over the first steps.
    R1 is taken on the augmented reals, so no gradient flows back through the augmentation.
    ``precision="bf16"`` runs every forward pass under bfloat16 autocast (weights, optimiser state,
    losses and penalties stay float32).
    ``noise_fade=(side, start, end)`` weans the generator off its coarse noise: the noise of every layer
    drawing below ``side`` px is scaled by a factor that falls linearly from 1 at step ``start`` to 0 at
    ``end`` and stays 0 (in G and its EMA; ``study.continue_run`` then drops those inputs).
    """
    if augment not in ("diffaugment", None):
        raise ValueError(f"augment: expected 'diffaugment' or None, got {augment!r}")
    device = torch.device(device)
    run_dir = Path(run_dir)
    (run_dir / "samples").mkdir(parents=True, exist_ok=True)
    generator.to(device).train()
    discriminator.to(device).train()
    g_ema = copy.deepcopy(generator) if g_ema is None else g_ema
    g_ema.to(device).eval().requires_grad_(False)
    aug = diff_augment if augment else (lambda x: x)
    autocast = functools.partial(torch_autocast, precision, device)
    ema_beta = 0.5 ** (batch / 10_000) if ema_beta is None else ema_beta
    train_args = dict(steps=steps, batch=batch, seed=seed, lr=lr, r1_gamma=r1_gamma, r1_every=r1_every,
                      pl_every=pl_every, pl_weight=pl_weight, mixing=mixing, augment=augment, ema_beta=ema_beta,
                      precision=precision, noise_fade=noise_fade)
    faded = [] if noise_fade is None else [conv.noise for model in (generator, g_ema)
                                           for _, side, conv in conv_layers(model)
                                           if conv.noise is not None and side < noise_fade[0]]

    # lazy regularisation: rescale lr and betas so the regularised steps keep Adam's statistics
    g_ratio = pl_every / (pl_every + 1) if pl_every else 1.0
    d_ratio = r1_every / (r1_every + 1) if r1_every else 1.0
    g_optim = torch.optim.Adam(generator.parameters(), lr=lr * g_ratio, betas=(0.0, 0.99 ** g_ratio))
    d_optim = torch.optim.Adam(discriminator.parameters(), lr=lr * d_ratio, betas=(0.0, 0.99 ** d_ratio))

    step, pl_mean, log = 0, 0.0, []
    stateful = {"generator": generator, "discriminator": discriminator, "g_ema": g_ema,
                "g_optim": g_optim, "d_optim": d_optim}
    torch.manual_seed(seed)
    ckpt = load_checkpoint(run_dir, device) if resume else None
    if ckpt is not None:
        args = ckpt["args"]
        if not (_same_args(args["generator"], generator) and _same_args(args["discriminator"], discriminator)):
            raise ValueError(f"{run_dir / CHECKPOINT_NAME}: checkpoint built for other model arguments")
        restore(ckpt, stateful, optional=("g_optim", "d_optim"))  # absent where seeded from shipped weights
        step, pl_mean, log = ckpt["step"], ckpt["pl_mean"], list(ckpt["log"])

    def checkpoint() -> None:
        save_checkpoint(run_dir, stateful, log, step=step, pl_mean=pl_mean,
                        args={"generator": generator.args, "discriminator": discriminator.args, "train": train_args})

    batches = _batches(data, batch, seed, step)
    bar = tqdm(total=steps, initial=step, disable=not progress, desc="stylegan")
    while step < steps:
        started = time.perf_counter()
        row = {"step": step + 1}
        if faded:
            _, start, end = noise_fade
            for module in faded:
                module.fade = min(1.0, max(0.0, (end - step - 1) / max(end - start, 1)))
        real = next(batches).to(device, torch.float32)
        n = real.shape[0]

        # discriminator: softplus(D(fake)) + softplus(-D(real)), lazy R1 every r1_every steps
        generator.requires_grad_(False)
        discriminator.requires_grad_(True)
        with torch.no_grad(), autocast():
            styles, inject = _styles(generator, n, mixing, device)
            fake = generator(styles, inject_index=inject)
        with autocast():
            real_pred = discriminator(aug(real)).float()
            fake_pred = discriminator(aug(fake)).float()
        d_loss = F.softplus(fake_pred).mean() + F.softplus(-real_pred).mean()
        discriminator.zero_grad(set_to_none=True)
        d_loss.backward()
        d_optim.step()
        row.update(d_loss=d_loss.item(), real_score=real_pred.mean().item(), fake_score=fake_pred.mean().item(),
                   r1=math.nan, pl=math.nan)
        if r1_every and (step + 1) % r1_every == 0:
            real_aug = aug(real).detach().requires_grad_(True)
            with autocast():
                real_score = discriminator(real_aug).float().sum()
            (grad,) = torch.autograd.grad(real_score, real_aug, create_graph=True)
            r1 = grad.float().pow(2).flatten(1).sum(1).mean()
            discriminator.zero_grad(set_to_none=True)
            (r1_gamma / 2 * r1 * r1_every).backward()
            d_optim.step()
            row["r1"] = r1.item()

        # generator: softplus(-D(G(z))), lazy path-length regularisation every pl_every steps
        generator.requires_grad_(True)
        discriminator.requires_grad_(False)
        styles, inject = _styles(generator, batch, mixing, device)
        with autocast():
            fake, latents = generator(styles, inject_index=inject, return_latents=True)
            fake_pred = discriminator(aug(fake)).float()
        g_loss = F.softplus(-fake_pred).mean()
        generator.zero_grad(set_to_none=True)
        g_loss.backward()
        g_optim.step()
        row["g_loss"] = g_loss.item()
        with torch.no_grad():
            generator.w_avg.lerp_(latents.detach().float().mean(dim=(0, 1)), 1 - W_AVG_BETA)
        if pl_every and (step + 1) % pl_every == 0:
            styles, inject = _styles(generator, max(1, batch // 2), mixing, device)
            with autocast():
                fake, latents = generator(styles, inject_index=inject, return_latents=True)
            noise = torch.randn(fake.shape, device=device) / math.sqrt(fake.shape[2] * fake.shape[3])
            (grad,) = torch.autograd.grad((fake.float() * noise).sum(), latents, create_graph=True)
            path_lengths = grad.float().pow(2).sum(2).mean(1).sqrt()
            pl_mean += PL_DECAY * (path_lengths.mean().item() - pl_mean)
            pl_penalty = (path_lengths - pl_mean).pow(2).mean()
            generator.zero_grad(set_to_none=True)
            (pl_weight * pl_every * pl_penalty).backward()
            g_optim.step()
            row["pl"] = pl_penalty.item()

        # EMA generator (warm-up: early on the average follows G closely)
        beta = min(ema_beta, (1 + step) / (10 + step))
        with torch.no_grad():
            for p_ema, p in zip(g_ema.parameters(), generator.parameters()):
                p_ema.lerp_(p, 1 - beta)
            for b_ema, b in zip(g_ema.buffers(), generator.buffers()):
                b_ema.copy_(b)

        step += 1
        row.update(pl_mean=pl_mean, seconds=time.perf_counter() - started)
        log.append(row)
        bar.update(1)
        bar.set_postfix(d=f"{row['d_loss']:.3f}", g=f"{row['g_loss']:.3f}")
        if step % sample_every == 0 or step == steps:
            save_grid(sample(g_ema, range(16), batch=16), run_dir / "samples" / f"step-{step:06d}.png", n_cols=8)
        if step % checkpoint_every == 0 or step == steps:
            checkpoint()
    bar.close()
    return pd.DataFrame(log)
