"""Short StyleGAN2 runs that differ in one training setting, scored with the 08 notebook's FID-style distance.

Each arm trains the full profile's generator size (128 px, 64 channels, batch 16) on the full
training masters from scratch for ``--images`` images, in its own resumable run folder under
``runs/experiments/gan_sweep/``; its EMA generator is then scored like notebook 08 scores the
shipped one: Fréchet distance of PrintNet features (the shipped full PrintNet) to the training
masters, over the masters-vs-masters floor, ``--n`` prints a side. The shipped generator (96,000
images) is scored the same way for scale. One seed per arm: a short pilot, not a tuned result.
Rerunning with a larger ``--images`` continues each arm from its checkpoint; ``--train-only`` trains
one arm per process, so arms can run side by side, and a last call without it scores them all.

    python experiments/gan_sweep.py r1_gamma=10 r1_gamma=0.2 [--images 8000] [--n 400]
"""
from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import pandas as pd
import torch

from fpnb.config import get_profile, paths
from fpnb.synthesis import printnet, sampling, study
from fpnb.synthesis.stylegan import Generator
from fpnb.synthesis.training import train_stylegan


def parse_arm(text: str) -> dict:
    """``name=value`` as a keyword argument of ``train_stylegan`` (value as float)."""
    name, _, value = text.partition("=")
    if not value:
        raise ValueError(f"arm: expected name=value, got {text!r}")
    return {name: float(value)}


def run_dir(arm: str) -> Path:
    """The arm's checkpoint, log and samples."""
    return paths.runs / "experiments" / "gan_sweep" / arm


def train_arm(arm: str, data: torch.Tensor, images: int, seed: int = 0) -> Generator:
    """Train (or resume) one arm on ``data`` (``study.training_images``) for ``images`` images; return its EMA generator."""
    profile = get_profile("full")
    torch.manual_seed(seed)
    generator, discriminator = study.build_gan(profile)
    g_ema = copy.deepcopy(generator)
    steps = images // profile.gan_batch
    train_stylegan(generator, discriminator, data, run_dir(arm),
                   steps, profile.gan_batch, seed, g_ema=g_ema, sample_every=steps, checkpoint_every=max(1, steps // 10),
                   progress=False, precision="fp32", **parse_arm(arm))
    return g_ema.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arms", nargs="+", help="name=value settings of train_stylegan, one run each")
    parser.add_argument("--images", type=int, default=8000)
    parser.add_argument("--n", type=int, default=400, help="prints a side in each distance")
    parser.add_argument("--train-only", action="store_true", help="train (or resume) the arms, score nothing")
    parser.add_argument("--out", type=Path, default=paths.reports / "full" / "experiments" / "gan_sweep.json")
    args = parser.parse_args()
    profile = get_profile("full")
    data = study.training_images(profile)  # the full training masters, N x 1 x R x R in [-1, 1]
    generators = {arm: train_arm(arm, data, args.images) for arm in args.arms}  # a finished arm is read back
    if args.train_only:
        return
    net = printnet.load_printnet(printnet.shipped_printnet(profile))
    shipped = sampling.load_generator(study.shipped_generator(profile))
    real = (data[:, 0].numpy() + 1) / 2
    held_out = study.held_out_targets(profile, args.n)["images"]
    rows = {}
    for name, generator in {"shipped (96,000 images)": shipped, **generators}.items():
        table = study.quality_table(net, real, held_out, sampling.sample(generator, range(args.n)), {})
        rows[name] = {"fid": round(float(table.loc["generated vs masters", "fid"]), 4),
                      "ratio_to_floor": round(float(table.loc["generated vs masters", "ratio_to_floor"]), 3)}
        print(name, rows[name], flush=True)
    result = {"n": args.n, "floor_fid": round(float(table.loc["floor: masters vs masters", "fid"]), 4), "rows": rows,
              "train_seconds": {arm: round(float(pd.read_csv(run_dir(arm) / "log.csv")["seconds"].sum()))
                                for arm in args.arms}}
    record = json.loads(args.out.read_text()) if args.out.exists() else {
        "batch": profile.gan_batch, "resolution": profile.gan_resolution, "channels": profile.gan_channels, "by_images": {}}
    record["by_images"][str(args.images)] = result  # earlier budgets of the same arms stay
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
