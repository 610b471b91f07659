"""Short StyleGAN2 runs that differ in one training setting, scored with the 06 notebook's FID-style distance.

Each arm trains the full profile's generator (batch 16; its resolution and width unless
``--resolution`` / ``--channels`` say otherwise; ``--profile smoke`` is the test's tiny run) on the
full training masters from scratch for ``--images`` images, in its own resumable run folder under
``runs/experiments/gan_sweep/``; its EMA generator is then scored like notebook 06 scores the
shipped one: Fréchet distance of PrintNet features (the shipped full PrintNet, 128 px; larger samples are resized to it like the masters, by
``datasets.square``) to the 128 px training masters, over the masters-vs-masters floor, ``--n``
prints a side; beside it the mean orientation coherence and MINDTCT minutiae count of ``--stats``
prints (06's ``print_statistics``), with the held-out masters' for reference. The shipped generator
(96,000 images) is scored the same way for scale. One seed per arm: a short pilot, not a tuned result.
Rerunning with a larger ``--images`` continues each arm from its checkpoint; ``--train-only`` trains
one arm per process, so arms can run side by side, and a last call without it scores them all.

A size other than the profile's names the record (``gan_sweep_128px_64ch.json``); the committed
``gan_sweep.json`` holds the 128 px arms, run when 128 px was the full profile's size.

    python experiments/gan_sweep.py r1_gamma=10 r1_gamma=0.2 --resolution 128 [--images 8000] [--n 400]
    python experiments/gan_sweep.py r1_gamma=10 --images 24000 --out reports/full/experiments/gan_sweep_256px_64ch.json
"""
from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fpnb.config import Profile, get_profile, paths
from fpnb.data.datasets import square
from fpnb.report.experiments import record_fields
from fpnb.synthesis import printnet, sampling, study
from fpnb.synthesis.stylegan import Generator
from fpnb.synthesis.training import train_stylegan


QUESTION = "Which training setting (R1 weight, resolution) brings a short StyleGAN2 run closest to the masters?"
CHECKPOINT_STEPS = 150  # at most this many steps between checkpoints: about 15 min of one core at 256 px


def parse_arm(text: str) -> dict:
    """``name=value`` as a keyword argument of ``train_stylegan`` (value as float)."""
    name, _, value = text.partition("=")
    if not value:
        raise ValueError(f"arm: expected name=value, got {text!r}")
    return {name: float(value)}


def size_name(profile: Profile) -> str:
    """``""`` for the profile's own generator size, else e.g. ``"256px_64ch"``."""
    default = get_profile(profile.name)
    same = (profile.gan_resolution, profile.gan_channels) == (default.gan_resolution, default.gan_channels)
    return "" if same else f"{profile.gan_resolution}px_{profile.gan_channels}ch"


def run_dir(arm: str, profile: Profile) -> Path:
    """The arm's checkpoint, log and samples."""
    experiment = "gan_sweep" if profile.name == "full" else f"gan_sweep-{profile.name}"
    return paths.runs / "experiments" / experiment / size_name(profile) / arm


def train_arm(arm: str, profile: Profile, data: torch.Tensor, images: int,
              seed: int = 0, precision: str = "fp32") -> tuple[Generator, pd.DataFrame]:
    """Train (or resume) one arm on ``data`` (``study.training_images``) for ``images`` images.

    Returns its EMA generator and training log, one row a step: longer than ``images`` when its
    checkpoint is further on (an arm still training in another process is scored at its last checkpoint).
    """
    torch.manual_seed(seed)
    generator, discriminator = study.build_gan(profile)
    g_ema = copy.deepcopy(generator)
    steps = images // profile.gan_batch
    log = train_stylegan(generator, discriminator, data, run_dir(arm, profile), steps, profile.gan_batch, seed,
                         g_ema=g_ema, sample_every=steps, checkpoint_every=max(1, min(steps // 10, CHECKPOINT_STEPS)),
                         progress=False, precision=precision, **parse_arm(arm))
    return g_ema.eval(), log


def main(argv: list[str] | None = None) -> dict | None:
    """Train (or resume) every arm, then score them; add the scores to the record and return it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arms", nargs="+", help="name=value settings of train_stylegan, one run each")
    parser.add_argument("--images", type=int, default=8000)
    parser.add_argument("--n", type=int, default=400, help="prints a side in each distance")
    parser.add_argument("--stats", type=int, default=100, help="prints in the coherence and minutiae means")
    parser.add_argument("--train-only", action="store_true", help="train (or resume) the arms, score nothing")
    parser.add_argument("--profile", default="full", help="whose masters, PrintNet and shipped generator")
    parser.add_argument("--resolution", type=int, default=None, help="default: the profile's")
    parser.add_argument("--channels", type=int, default=None, help="default: the profile's")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="training precision (bf16: bfloat16 autocast, where the CPU has it)")
    parser.add_argument("--out", type=Path, help="default: reports/full/experiments/gan_sweep[_SIZE].json")
    args = parser.parse_args(argv)
    scoring = get_profile(args.profile)  # PrintNet, masters and the shipped generator at their own resolution
    profile = get_profile(args.profile, gan_resolution=args.resolution or scoring.gan_resolution,
                          gan_channels=args.channels or scoring.gan_channels)
    stem = "_".join(filter(None, ["gan_sweep", size_name(profile)]))
    out = args.out or paths.reports / "full" / "experiments" / f"{stem}.json"
    data = study.training_images(profile)  # the full training masters, N x 1 x R x R in [-1, 1]
    # a finished arm is read back
    trained = {arm: train_arm(arm, profile, data, args.images, precision=args.precision) for arm in args.arms}
    if args.train_only:
        return None
    generators = {arm: generator for arm, (generator, _) in trained.items()}
    shown = {arm: len(log) * profile.gan_batch for arm, (_, log) in trained.items()}
    net = printnet.load_printnet(printnet.shipped_printnet(scoring))
    shipped = sampling.load_generator(study.shipped_generator(scoring))
    real = (study.training_images(scoring)[:, 0].numpy() + 1) / 2
    held_out = study.held_out_targets(scoring, args.n)["images"]

    def statistics(images: np.ndarray) -> dict:
        table = study.print_statistics(images[:args.stats])
        return {"coherence": round(float(table["coherence"].mean()), 3),
                "minutiae": round(float(table["minutiae"].mean()), 1)}

    rows = {"held-out masters": statistics(held_out)}
    for name, generator in {"shipped (96,000 images)": shipped, **generators}.items():
        images = sampling.sample(generator, range(args.n))
        table = study.quality_table(net, real, held_out, square(images, scoring.gan_resolution), {})
        if name in shown:  # what was scored, beside the arm's training grids
            grid = run_dir(name, profile) / "samples" / f"scored-{shown[name]:06d}.png"
            sampling.save_grid(images[:16], grid, n_cols=8)
        rows[name] = {"fid": round(float(table.loc["generated vs masters", "fid"]), 4),
                      "ratio_to_floor": round(float(table.loc["generated vs masters", "ratio_to_floor"]), 3),
                      **statistics(images)}
        print(name, rows[name], flush=True)
    fields = record_fields(__file__, QUESTION, argv)
    result = {"command": fields["command"], "n": args.n, "images_shown": shown,
              "floor_fid": round(float(table.loc["floor: masters vs masters", "fid"]), 4), "rows": rows,
              "train_seconds": {arm: round(float(log["seconds"].sum())) for arm, (_, log) in trained.items()}}
    record = json.loads(out.read_text()) if out.exists() else {
        **fields, "batch": profile.gan_batch, "resolution": profile.gan_resolution, "channels": profile.gan_channels,
        "scored_at": scoring.gan_resolution, "by_images": {}}
    budget = next(iter(shown.values())) if len(set(shown.values())) == 1 else args.images
    record["by_images"][str(budget)] = result  # earlier budgets of the same arms stay
    record.update(fields)  # the last command; each budget keeps its own
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    return record


if __name__ == "__main__":
    main()
