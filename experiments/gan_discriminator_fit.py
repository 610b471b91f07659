"""Has the GAN's discriminator memorised its training masters? Score training and held-out masters alike.

A discriminator that overfits a small training set scores its training images above unseen ones
of the same distribution, and a generator trained against it degrades with more steps; then more
training data (more masters) is the cure. This scores, with the discriminator of each run folder
given, as many training-split masters (a fixed random draw) as there are test-split masters, the
test-split masters (never seen by the GAN) and as many of the run's generator samples (its G, not
the EMA, fresh z and noise). Record: ``reports/full/experiments/gan_discriminator_fit.json`` (``--out``).

    python experiments/gan_discriminator_fit.py runs/full/stylegan runs/full/stylegan-noise-from-256
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from fpnb.config import get_profile, paths
from fpnb.report.experiments import record_fields, shown_path
from fpnb.synthesis import study
from fpnb.synthesis.reconstruction import split_masters
from fpnb.synthesis.runs import load_checkpoint
from fpnb.synthesis.stylegan import Discriminator, Generator


QUESTION = "Has the GAN's discriminator memorised its training masters, so that more masters would help?"


@torch.no_grad()
def logits(discriminator: Discriminator, images: torch.Tensor, batch: int = 16) -> np.ndarray:
    return torch.cat([discriminator(images[i:i + batch]).flatten() for i in range(0, len(images), batch)]).numpy()


def main(argv: list[str] | None = None) -> dict:
    """Score the masters and samples with each run's discriminator; write and return the record."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="GAN run folders (their checkpoint)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", default="full", help="whose masters the runs trained on")
    parser.add_argument("--out", type=Path,
                        default=paths.reports / "full" / "experiments" / "gan_discriminator_fit.json")
    args = parser.parse_args(argv)

    profile = get_profile(args.profile)
    train = study.training_images(profile, args.seed)
    test = torch.from_numpy(split_masters(profile, args.seed, "test")[0] * 2 - 1).unsqueeze(1)
    draw = torch.randperm(len(train), generator=torch.Generator().manual_seed(args.seed))[:len(test)]
    record = {**record_fields(__file__, QUESTION, argv), "n_train": len(test), "n_test": len(test), "runs": {}}
    for run in args.runs:
        ckpt = load_checkpoint(run)
        discriminator = Discriminator(**ckpt["args"]["discriminator"]).eval()
        discriminator.load_state_dict(ckpt["discriminator"])
        generator = Generator(**ckpt["args"]["generator"]).eval()
        generator.load_state_dict(ckpt["generator"])
        torch.manual_seed(args.seed)
        with torch.no_grad():
            fakes = torch.cat([generator(torch.randn(16, generator.style_dim)) for _ in range(-(-len(test) // 16))])
        scores = {name: logits(discriminator, images.float()) for name, images in
                  (("train_masters", train[draw]), ("test_masters", test), ("generated", fakes[:len(test)]))}
        record["runs"][shown_path(run)] = {
            "step": int(ckpt["step"]), **{f"mean_logit_{k}": round(float(v.mean()), 3) for k, v in scores.items()},
            "test_above_train_median": round(float(np.mean(scores["test_masters"] > np.median(scores["train_masters"]))),
                                             3)}
        print(run, record["runs"][shown_path(run)])
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    return record


if __name__ == "__main__":
    main()
