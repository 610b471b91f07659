"""Design runs for the study's U-Net: which builder options and learning rate train best at one budget.

Every variant trains from seed 0 on a profile's data, crops, batch and steps (``--epochs`` scales
the budget), then scores the first ``n_eval_images`` test images by pixel metrics (no matcher, so
a run costs only its training). Each run is added to the record under ``runs``, by variant and epochs:
the committed report's ``reports/full/experiments/restoration_design.json`` unless ``--out`` says otherwise.

    python experiments/restoration_design.py base bn_drop_lr3e-3 seed --profile quick --epochs 16
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fpnb.config import get_profile, paths
from fpnb.data.datasets import build_restoration_dataset, list_pairs, load_pairs, tf_pairs
from fpnb.identity.metrics import pixel_metrics
from fpnb.report.experiments import record_fields
from fpnb.restoration.models import SEED_UNET, build_model, predict_batch
from fpnb.restoration.study import STUDY_UNET, RestorationRun, builder_kwargs
from fpnb.restoration.training import fit

QUESTION = "Which builder options and learning rate train the study's U-Net best at one budget?"
STUDY = {**STUDY_UNET, "batch_norm": False}  # the study's U-Net before these runs
# name: builder, loss, learning rate, builder arguments, crop size and batch (None: the profile's)
VARIANTS = {
    "base": ("unet", "ms_ssim", 1e-3, STUDY, None),
    "nodrop": ("unet", "ms_ssim", 1e-3, {**STUDY, "dropout": 0.0}, None),
    "bn": ("unet", "ms_ssim", 1e-3, {**STUDY, "dropout": 0.0, "batch_norm": True}, None),
    "bn_drop": ("unet", "ms_ssim", 1e-3, {**STUDY, "batch_norm": True}, None),
    "bn_lr3e-3": ("unet", "ms_ssim", 3e-3, {**STUDY, "dropout": 0.0, "batch_norm": True}, None),
    "bn_lr6e-3": ("unet", "ms_ssim", 6e-3, {**STUDY, "dropout": 0.0, "batch_norm": True}, None),
    "bn_drop_lr3e-3": ("unet", "ms_ssim", 3e-3, {**STUDY, "batch_norm": True}, None),
    "bn_crop192": ("unet", "ms_ssim", 1e-3, {**STUDY, "dropout": 0.0, "batch_norm": True}, (192, 4)),
    "seed": ("unet", "mse", 1e-3, SEED_UNET, None),
}


def run(name: str, profile_name: str, epochs: int | None) -> dict:
    """Train one variant and score it on the test split; returns its result row."""
    model_name, loss, lr, kwargs, crop_batch = VARIANTS[name]
    profile = get_profile(profile_name)
    epochs = epochs or profile.epochs
    crop, batch = crop_batch or (profile.crop_size, profile.batch_size)
    root = build_restoration_dataset(profile, seed=0)
    kwargs = builder_kwargs(RestorationRun(model_name, loss, kwargs, lr), profile)  # smoke: a few filters
    model = build_model(model_name, loss=loss, learning_rate=lr, seed=0, **kwargs)
    train = tf_pairs(root, "training", batch, crop, seed=0)
    val = tf_pairs(root, "validation", batch, crop, seed=1, augment=False)
    start = time.perf_counter()
    fit(model, train, val, paths.runs / profile.name / f"design-{name}-{epochs}", epochs, profile.steps_per_epoch,
        validation_steps=max(1, len(list_pairs(root, "validation")) // batch), seed=0, verbose=0)
    train_s = time.perf_counter() - start
    inputs, targets, _ = load_pairs(root, "test", limit=profile.n_eval_images)
    scores = [pixel_metrics(predict_batch(model, x[None])[0], y) for x, y in zip(inputs, targets)]
    return {"variant": name, "profile": profile.name, "epochs": epochs, "steps_per_epoch": profile.steps_per_epoch,
            "crop": crop, "batch": batch, "n": len(scores), "params": int(model.count_params()),
            "train_s": round(train_s), **{k: round(float(np.mean([s[k] for s in scores])), 4) for k in scores[0]}}


def main(argv: list[str] | None = None) -> dict:
    """Train and score each variant named, adding each run to the record as it finishes; return the record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", choices=sorted(VARIANTS))
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--epochs", type=int, default=None, help="default: the profile's")
    parser.add_argument("--out", type=Path, default=paths.reports / "full" / "experiments" / "restoration_design.json")
    args = parser.parse_args(argv)
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    fields = record_fields(__file__, QUESTION, argv)
    for name in args.variants:
        row = {**run(name, args.profile, args.epochs), "command": fields["command"]}
        print(json.dumps(row), flush=True)
        record = json.loads(out.read_text()) if out.exists() else {**fields, "runs": {}}
        record.update(fields)  # the last command that added runs; each run keeps its own
        record["runs"][f"{name} ({row['epochs']} epochs)"] = row
        out.write_text(json.dumps(record, indent=1) + "\n")
    return record


if __name__ == "__main__":
    main()
