"""PrintNet: the study's own small fingerprint network, in place of downloaded Inception, LPIPS and FingerNet.

One multi-task fully convolutional CNN trained on master prints whose ground truth the generator
knows (``fpnb.data.masters``): ridge orientation (cos 2θ, sin 2θ), finger mask, minutiae heatmaps
(endings, bifurcations: MINDTCT minutiae of the master drawn by ``fpnb.identity.maps.minutiae_map``) and
the pattern class. Its last-stage features give the FID-style distance (``embed``); its stage
features give an LPIPS-like ``perceptual_loss``; its orientation and minutiae heads give the
FingerNet-style ``fingernet_loss`` of seed 001 (minutiae areas weighted x11).

Its training masters are fresh: seeds ``fresh_seeds(n, seed, PRINTNET_STREAM)`` are 2**32 and
above, disjoint from every dataset identity (the dataset's master seeds are 32-bit).

PrintNet works at ``PRINTNET_SIDE`` px at most: a larger print (the 256 px generator's) is
area-averaged down to it first, so one PrintNet trained at 128 px serves every generator
resolution, and its features (hence the FID-style distance) mean the same at 128 and 256 px.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from fpnb.config import Profile, paths
from fpnb.data.masters import PATTERNS
from fpnb.files import atomic_path
from fpnb.synthesis.runs import CHECKPOINT_NAME, load_checkpoint, restore, save_checkpoint, step_rng
from fpnb.weights_io import load_module, may_ship, save_module, shipped_for

PRINTNET_STREAM, EVALUATION_STREAM = 0, 1
WEIGHTS_FILE = "printnet.safetensors"
WEIGHTS_FORMAT = "fpnb.printnet.PrintNet/1"  # a file-format name in shipped files, not a module path
PRINTNET_SIDE = 128  # ridges are about 4.6 px apart here: resolved, at a quarter of the 256 px cost
_LEFT, _RIGHT = PATTERNS.index("left_loop"), PATTERNS.index("right_loop")


def fresh_seeds(n: int, seed: int = 0, stream: int = PRINTNET_STREAM) -> list[int]:
    """Master seeds 2**32 * (1 + stream) + seed * 2**20 + i: never a (32-bit) dataset seed, one range per use."""
    if not 0 <= n <= 2**20:
        raise ValueError(f"n: must be in [0, 2**20], got {n}")
    base = 2**32 * (1 + stream) + seed * 2**20
    return [base + i for i in range(n)]


def printnet_side(profile: Profile) -> int:
    """The side PrintNet is trained and run at for a profile: its GAN resolution, at most ``PRINTNET_SIDE``."""
    return min(profile.gan_resolution, PRINTNET_SIDE)


def fit(x: torch.Tensor) -> torch.Tensor:
    """B x C x R x R maps area-averaged to ``PRINTNET_SIDE`` when R is larger, else unchanged."""
    return x if x.shape[-1] <= PRINTNET_SIDE else F.interpolate(x, size=(PRINTNET_SIDE,) * 2, mode="area")


def _block(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """conv3x3(stride) → GN → LeakyReLU → conv3x3 → GN → LeakyReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.GroupNorm(min(8, out_channels // 4), out_channels),
        nn.LeakyReLU(0.2),
        nn.Conv2d(out_channels, out_channels, 3, 1, 1), nn.GroupNorm(min(8, out_channels // 4), out_channels),
        nn.LeakyReLU(0.2),
    )


class PrintNet(nn.Module):
    """Encoder of 4 stride-2 stages, a small U-Net decoder to full resolution, four heads.

    Input B x 1 x R x R in [-1, 1] (dark ridges at -1), R a multiple of 16, first brought to at
    most ``PRINTNET_SIDE`` by ``fit`` (outputs are at that side). GroupNorm, not BatchNorm, so a
    frozen net gives the same features in any batch.
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        if len(widths) != 4:
            raise ValueError(f"widths: expected 4 stage widths, got {widths}")
        self.args = {"widths": [int(w) for w in widths]}
        ins = (1, *widths[:-1])
        self.stages = nn.ModuleList(_block(i, o, 2) for i, o in zip(ins, widths))  # R/2, R/4, R/8, R/16
        # decoder: up x2, concat the skip of the stage above, block; the last skip is the input image
        skips = (*widths[:-1][::-1], 1)  # 64, 32, 16, 1
        outs = (*widths[:-1][::-1], widths[0])  # 64, 32, 16, 16
        ups, current = [], widths[-1]
        for skip, out in zip(skips, outs):
            ups.append(_block(current + skip, out, 1))
            current = out
        self.decoder = nn.ModuleList(ups)
        self.orientation = nn.Conv2d(widths[0], 2, 1)
        self.mask = nn.Conv2d(widths[0], 1, 1)
        self.minutiae = nn.Conv2d(widths[0], 2, 1)
        self.pattern = nn.Linear(widths[-1], len(PATTERNS))

    @staticmethod
    def _input(x: torch.Tensor) -> torch.Tensor:
        """``x`` checked (B x 1 x H x W, H and W multiples of 16) and brought to PrintNet's side by ``fit``."""
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] % 16 or x.shape[3] % 16:
            raise ValueError(f"x: expected B x 1 x H x W with H, W multiples of 16, got {tuple(x.shape)}")
        return fit(x)

    def _stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The 4 stage outputs: B x 16 x R/2 ... B x 128 x R/16 (R after ``fit``)."""
        return self._stages(self._input(x))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """orientation B x 2 x H x W (cos 2θ, sin 2θ), mask and minutiae logits, pattern B x 5 logits."""
        x = self._input(x)
        feats = self._stages(x)
        h = feats[-1]
        for block, skip in zip(self.decoder, [*feats[-2::-1], x]):
            h = block(torch.cat([F.interpolate(h, size=skip.shape[-2:], mode="nearest"), skip], 1))
        return {"orientation": self.orientation(h), "mask": self.mask(h), "minutiae": self.minutiae(h),
                "pattern": self.pattern(feats[-1].mean(dim=(2, 3)))}


def printnet_targets(masters: list, resolution: int) -> dict[str, np.ndarray]:
    """Training targets of masters, square-cropped and resized as ``datasets.square``.

    images N x R x R in [0, 1]; orientation N x 2 x R x R (cos 2θ, sin 2θ, averaged as doubled-angle
    vectors, so shorter near singular points); mask N x R x R in {0, 1}; minutiae N x 2 x R x R in
    [0, 1] (endings, bifurcations: MINDTCT on the full-size master, maps drawn there, then resized);
    pattern N (index into PATTERNS).
    """
    from fpnb.data.datasets import square
    from fpnb.identity.matchers import extract_minutiae
    from fpnb.identity.maps import minutiae_map

    images, orientation, mask, minutiae = [], [], [], []
    for master in masters:
        shape = master.image.shape
        images.append(master.image)
        orientation.append(np.stack([np.cos(2 * master.orientation), np.sin(2 * master.orientation)]))
        mask.append(master.mask.astype(np.float32))
        minutiae.append(minutiae_map(extract_minutiae(master.image), None, shape)[:2])

    def sq(stack: list[np.ndarray]) -> np.ndarray:
        return square(np.asarray(stack, dtype=np.float32), resolution)

    n = len(masters)
    return {
        "images": np.clip(sq(images), 0, 1),
        "orientation": sq([c for pair in orientation for c in pair]).reshape(n, 2, resolution, resolution),
        "mask": (sq(mask) > 0.5).astype(np.float32),
        "minutiae": np.clip(sq([c for pair in minutiae for c in pair]), 0, 1).reshape(n, 2, resolution, resolution),
        "pattern": np.array([PATTERNS.index(m.pattern) for m in masters], dtype=np.int64),
    }


def printnet_losses(net: PrintNet, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Loss parts: masked L2 orientation, mask BCE, minutiae BCE (positives x10), pattern CE, and their sum."""
    out = net(batch["images"][:, None] * 2 - 1)
    weight = batch["mask"][:, None]
    orientation = ((out["orientation"] - batch["orientation"]).pow(2) * weight).sum() / (2 * weight.sum() + 1)
    mask = F.binary_cross_entropy_with_logits(out["mask"][:, 0], batch["mask"])
    minutiae = F.binary_cross_entropy_with_logits(out["minutiae"], batch["minutiae"],
                                                  weight=1 + 9 * batch["minutiae"])
    pattern = F.cross_entropy(out["pattern"], batch["pattern"])
    return {"loss": orientation + mask + minutiae + 0.2 * pattern, "orientation": orientation, "mask": mask,
            "minutiae": minutiae, "pattern": pattern}


def augmented_batch(targets: dict[str, torch.Tensor], batch: int, rng: torch.Generator) -> dict[str, torch.Tensor]:
    """A random batch: left-right flips (θ → π − θ, loops swap), contrast, blur and noise on the image only."""
    index = torch.randint(len(targets["images"]), (batch,), generator=rng)
    out = {k: v[index] for k, v in targets.items()}
    flip = torch.rand(batch, generator=rng) < 0.5
    for key in ("images", "orientation", "mask", "minutiae"):
        out[key] = torch.where(flip.view(-1, *[1] * (out[key].dim() - 1)), out[key].flip(-1), out[key])
    sign = torch.ones(batch, 2, 1, 1)
    sign[:, 1, 0, 0] = torch.where(flip, -1.0, 1.0)  # θ → π − θ: cos 2θ stays, sin 2θ flips
    out["orientation"] = out["orientation"] * sign
    pattern = out["pattern"]
    out["pattern"] = torch.where(flip & (pattern == _LEFT), _RIGHT, torch.where(flip & (pattern == _RIGHT), _LEFT,
                                                                                pattern))
    image = out["images"][:, None]
    blurred = F.avg_pool2d(F.pad(image, [1, 1, 1, 1], mode="replicate"), 3, 1)
    image = torch.lerp(image, blurred, torch.rand(batch, 1, 1, 1, generator=rng))
    contrast = 0.6 + 0.6 * torch.rand(batch, 1, 1, 1, generator=rng)
    image = (image - 0.5) * contrast + 0.5 + 0.2 * (torch.rand(batch, 1, 1, 1, generator=rng) - 0.5)
    image = image + 0.05 * torch.rand(batch, 1, 1, 1, generator=rng) * torch.randn(image.shape, generator=rng)
    out["images"] = image[:, 0].clamp(0, 1)
    return out


def printnet_dir(profile: Profile) -> Path:
    """Checkpoint, log and cached targets of the profile's PrintNet training."""
    return paths.runs / profile.name / "printnet"


def training_targets(profile: Profile, seed: int = 0) -> dict[str, np.ndarray]:
    """Targets of ``profile.n_identities`` fresh masters at ``printnet_side``, cached under the run folder."""
    from fpnb.data.masters import make_masters

    n, side = profile.n_identities, printnet_side(profile)
    cache = printnet_dir(profile) / f"targets_r{side}_n{n}_seed{seed}.npz"
    if cache.exists():
        with np.load(cache) as data:
            return dict(data)
    masters = make_masters(fresh_seeds(n, seed, PRINTNET_STREAM), profile.image_height, profile.image_width)
    targets = printnet_targets(masters, side)
    with atomic_path(cache) as tmp:
        np.savez_compressed(tmp, **targets)
    return targets


def shipped_printnet(profile: Profile) -> Path | None:
    """The shipped PrintNet file when its model card names this profile and its ``printnet_side``."""
    return shipped_for(paths.weights / WEIGHTS_FILE, profile, resolution=printnet_side(profile))


def load_printnet(path: str | Path, device: str | torch.device = "cpu") -> PrintNet:
    """A frozen PrintNet from its safetensors file, checking the card's sha256."""
    return load_module(PrintNet, path, WEIGHTS_FORMAT, device).eval().requires_grad_(False)


def ship_printnet(net: PrintNet, profile: Profile, log: pd.DataFrame, metrics: dict, seed: int = 0,
                  source: str = "trained") -> Path | None:
    """Write the PrintNet weights, training log and model card under weights/ (only for a profile that ships weights,
    and only a network trained in this run: ``source`` from ``train_printnet``; a reused one keeps its card)."""
    path = paths.weights / WEIGHTS_FILE
    if not source.startswith("trained") or not may_ship(path, profile):
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    log.to_csv(path.with_suffix(".log.csv"), index=False)
    card = {"name": "printnet", "profile": profile.name, "resolution": printnet_side(profile),
            "training_steps": int(log["step"].max()),
            "training_masters": f"{profile.n_identities} fresh masters, seeds fpnb.synthesis.printnet.fresh_seeds("
                                f"{profile.n_identities}, {seed}, PRINTNET_STREAM), disjoint from the dataset's",
            "metrics": metrics}
    return save_module(net, path, WEIGHTS_FORMAT, card)


def train_printnet(profile: Profile, seed: int = 0, retrain: bool = False, lr: float = 2e-3,
                   device: str | torch.device = "cpu") -> tuple[PrintNet, pd.DataFrame, str]:
    """The profile's frozen PrintNet: shipped weights when their card matches, else trained (resumably).

    ``profile.printnet_steps`` Adam steps (cosine-decayed lr) of batch ``profile.gan_batch`` on
    ``training_targets``; checkpoints under ``runs/<profile>/printnet`` every tenth of the run.
    """
    shipped = shipped_printnet(profile)
    if shipped is not None and not retrain:
        return load_printnet(shipped, device), pd.read_csv(shipped.with_suffix(".log.csv")), f"shipped {shipped.name}"
    run_dir = printnet_dir(profile)
    torch.manual_seed(seed)
    net = PrintNet().to(device)
    optim = torch.optim.Adam(net.parameters(), lr=lr)
    stateful, train = {"model": net, "optim": optim}, {"resolution": printnet_side(profile), "seed": seed}
    step, log = 0, []
    ckpt = None if retrain else load_checkpoint(run_dir, device)
    if ckpt is not None:
        if ckpt["args"] != net.args or ckpt["train"] != train:
            raise ValueError(f"{run_dir / CHECKPOINT_NAME}: checkpoint made with other arguments; pass retrain=True")
        restore(ckpt, stateful)
        step, log = ckpt["step"], list(ckpt["log"])
    steps = profile.printnet_steps
    if step < steps:
        targets = {k: torch.from_numpy(v) for k, v in training_targets(profile, seed).items()}
    every = max(1, steps // 10)
    net.train()
    while step < steps:
        started = time.perf_counter()
        batch = {k: v.to(device) for k, v in augmented_batch(targets, profile.gan_batch, step_rng(seed, step)).items()}
        for group in optim.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        parts = printnet_losses(net, batch)
        optim.zero_grad(set_to_none=True)
        parts["loss"].backward()
        optim.step()
        step += 1
        log.append({"step": step, **{k: v.item() for k, v in parts.items()},
                    "lr": optim.param_groups[0]["lr"], "seconds": time.perf_counter() - started})
        if step % every == 0 or step == steps:
            save_checkpoint(run_dir, stateful, log, step=step, args=net.args, train=train)
    return net.eval().requires_grad_(False), pd.DataFrame(log), f"trained here ({profile.name}, {step} steps)"


@torch.inference_mode()
def embed(net: PrintNet, images: np.ndarray, batch: int = 64) -> np.ndarray:
    """N x D features (global average of the last stage) of N x R x R images in [0, 1], for the FID-style distance."""
    device = next(net.parameters()).device
    images = np.asarray(images, dtype=np.float32)
    out = [net.features(torch.from_numpy(images[i:i + batch]).to(device)[:, None] * 2 - 1)[-1].mean(dim=(2, 3))
           for i in range(0, len(images), batch)]
    return torch.cat(out).double().cpu().numpy() if out else np.zeros((0, net.args["widths"][-1]))


@torch.inference_mode()
def predict_patterns(net: PrintNet, images: np.ndarray, batch: int = 64) -> np.ndarray:
    """Pattern class index (into ``PATTERNS``) of N x R x R images in [0, 1]."""
    device = next(net.parameters()).device
    images = np.asarray(images, dtype=np.float32)
    out = [net(torch.from_numpy(images[i:i + batch]).to(device)[:, None] * 2 - 1)["pattern"].argmax(1).cpu().numpy()
           for i in range(0, len(images), batch)]
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _unit(f: torch.Tensor) -> torch.Tensor:
    """Unit-normalise each pixel's feature vector (LPIPS' channel normalisation)."""
    return f * torch.rsqrt(f.pow(2).sum(1, keepdim=True) + 1e-10)


def perceptual_loss(net: PrintNet, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """LPIPS-like distance of B x 1 x H x W images in [-1, 1]: squared difference of unit features, mean over stages.

    Differentiable w.r.t. ``a``; ``b`` is a target (no gradient). Freeze the net first (as returned by
    ``train_printnet``) so that backward leaves its weights alone.
    """
    with torch.no_grad():
        target = [_unit(f) for f in net.features(b)]
    parts = [(_unit(f) - t).pow(2).sum(1).mean() for f, t in zip(net.features(a), target)]
    return torch.stack(parts).mean()


def fingernet_loss(net: PrintNet, output: torch.Tensor, target: torch.Tensor,
                   minutiae_weight: float = 11.0) -> torch.Tensor:
    """L1 between PrintNet orientation and minutiae-map predictions of output and target (B x 1 x H x W in [-1, 1]).

    Pixels weigh 1 + (minutiae_weight - 1) x the target's predicted minutiae probability, seed 001's
    FingerNet loss with minutiae areas up-weighted x11. Differentiable w.r.t. ``output`` only.
    """
    with torch.no_grad():
        want = net(target)
        want_minutiae = torch.sigmoid(want["minutiae"])
        weight = 1 + (minutiae_weight - 1) * want_minutiae.amax(1, keepdim=True)
    got = net(output)
    orientation = (weight * (got["orientation"] - want["orientation"]).abs()).mean()
    minutiae = (weight * (torch.sigmoid(got["minutiae"]) - want_minutiae).abs()).mean()
    return orientation + minutiae


@torch.inference_mode()
def evaluate_printnet(net: PrintNet, targets: dict[str, np.ndarray], batch: int = 64) -> dict[str, float]:
    """Held-out scores: mean orientation error (degrees, inside the mask), mask IoU, pattern accuracy and
    minutiae AUC (chance that a minutia pixel, target > 0.5, outranks a mask pixel with target < 0.05).
    Targets larger than ``PRINTNET_SIDE`` are brought to it as the images are (``fit``)."""
    from scipy.stats import rankdata

    device = next(net.parameters()).device
    errors, inter, union, correct, positives, negatives = [], 0.0, 0.0, 0, [], []
    for i in range(0, len(targets["images"]), batch):
        x = torch.from_numpy(targets["images"][i:i + batch]).to(device)[:, None] * 2 - 1
        out = {k: v.cpu().numpy() for k, v in net(x).items()}
        want = {k: fit(torch.from_numpy(targets[k][i:i + batch]).reshape(len(x), -1, *x.shape[-2:])).numpy()
                for k in ("orientation", "mask", "minutiae")}
        mask = want["mask"][:, 0] > 0.5
        orientation = np.arctan2(want["orientation"][:, 1], want["orientation"][:, 0]) / 2
        got = np.arctan2(out["orientation"][:, 1], out["orientation"][:, 0]) / 2
        diff = np.abs((got - orientation + np.pi / 2) % np.pi - np.pi / 2)
        errors.append(np.degrees(diff[mask]))
        predicted = out["mask"][:, 0] > 0
        inter += float((predicted & mask).sum())
        union += float((predicted | mask).sum())
        correct += int((out["pattern"].argmax(1) == targets["pattern"][i:i + batch]).sum())
        want_minutiae = want["minutiae"]
        positives.append(out["minutiae"][want_minutiae > 0.5])
        negatives.append(out["minutiae"][(want_minutiae < 0.05) & mask[:, None]])
    errors, positives, negatives = np.concatenate(errors), np.concatenate(positives), np.concatenate(negatives)
    ranks = rankdata(np.concatenate([positives, negatives]))[:len(positives)]
    auc = (ranks.sum() - len(positives) * (len(positives) + 1) / 2) / max(len(positives) * len(negatives), 1)
    return {"orientation_error_deg": float(errors.mean()) if errors.size else math.nan,
            "mask_iou": inter / max(union, 1.0), "pattern_accuracy": correct / max(len(targets["images"]), 1),
            "minutiae_auc": float(auc) if positives.size and negatives.size else math.nan}
