"""Cheap levers on the best restoration model: flip averaging at test time and an ensemble of U-Nets.

Restores the first ``--n`` test images of a profile (default its ``n_eval_images``, the notebooks'
sample; 0 takes the whole split) with the shipped weights, three ways (``--variants`` picks some):
``unet_tuned`` alone (its notebook's numbers again: the check that this script measures the same
thing), ``unet_tuned`` averaged over the four flips of each input (each output flipped back), and
the mean of the three best U-Nets by SSIM (``unet_tuned``, ``unet_mae``, ``unet_ms_ssim_l1``). Each is
scored as notebook 05 scores a model (``study.score_restorations``, ``study.summarise``: identity
bootstrap, cross-impression TAR at FAR 0.1 %), plus the paired per-image SSIM and F1 gain over the
single model with an identity-bootstrap interval, and the milliseconds per print on this machine
(one print at a time; noisy when other jobs run). Writes
``reports/<profile>/experiments/restoration_ensemble.json`` (``restoration_ensemble-n<N>.json`` for
another ``--n``; ``--out`` elsewhere).

    python experiments/restoration_ensemble.py --profile full
    python experiments/restoration_ensemble.py --profile full --n 0 --variants single
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fpnb.config import get_profile, paths
from fpnb.data.datasets import build_restoration_dataset, load_pairs
from fpnb.identity.metrics import mean_ci
from fpnb.report.experiments import record_fields
from fpnb.restoration.models import predict_batch
from fpnb.restoration.study import TUNED, load_trained, runs, score_restorations, summarise

QUESTION = "Do test-time flip averaging or an ensemble of U-Nets lift the best restoration model to its goals?"
ENSEMBLE = (TUNED, "unet_mae", "unet_ms_ssim_l1")
FLIPS = ((), (1,), (2,), (1, 2))  # image axes of an NxHxWx3 batch


def restore(models: list, inputs: np.ndarray, flips: tuple = ((),)) -> tuple[np.ndarray, float]:
    """Mean restoration over ``models`` and input ``flips``, one print at a time; (preds, ms per print)."""
    def one(x: np.ndarray) -> np.ndarray:
        outs = [np.flip(predict_batch(m, np.flip(x, axis))[0], [a - 1 for a in axis]) for m in models for axis in flips]
        return np.mean(outs, axis=0)

    one(inputs[0][None])  # warm-up: graph tracing is not inference time
    start = time.perf_counter()
    preds = np.stack([one(x[None]) for x in inputs])
    return preds, (time.perf_counter() - start) * 1e3 / len(inputs)


def main(argv: list[str] | None = None) -> dict:
    """Restore and score each variant; write and return the record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="full")
    parser.add_argument("--n", type=int, default=None, help="test images (default the profile's; 0: all)")
    parser.add_argument("--variants", nargs="+", default=["single", "flip4", "ensemble3"])
    parser.add_argument("--out", type=Path, help="default: reports/<profile>/experiments/restoration_ensemble*.json")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    root = build_restoration_dataset(profile, seed=0)
    n = profile.n_eval_images if args.n is None else (args.n or None)
    inputs, targets, names = load_pairs(root, "test", limit=n)
    available = runs(profile)
    models = {name: load_trained(available[name], profile) for name in ENSEMBLE}
    variants = {"single": ([models[TUNED]], ((),)), "flip4": ([models[TUNED]], FLIPS),
                "ensemble3": (list(models.values()), ((),))}
    variants = {name: variants[name] for name in args.variants}
    out = {**record_fields(__file__, QUESTION, argv), "profile": profile.name, "n": len(names),
           "ensemble": list(ENSEMBLE)}
    tables = {}
    for name, (members, flips) in variants.items():
        preds, ms = restore(members, inputs, flips)
        table, cross = score_restorations(preds, targets, names)
        tables[name] = table
        summary = summarise(table, cross=cross)
        out[name] = {"ms_per_print": round(ms, 1), "forward_passes": len(members) * len(flips),
                     **{k: summary[k] for k in ("n_identities", "ssim", "ssim_ci", "psnr", "minutiae_f1", "minutiae_f1_ci",
                                                "cross_impression_tar", "cross_impression_tar_ci",
                                                "n_cross_genuine", "n_cross_impostor")}}
        if name != "single" and "single" in tables:
            groups = table["identity"].to_numpy()
            for column in ("ssim", "minutiae_f1"):
                gain = (table[column] - tables["single"][column]).to_numpy(float)
                out[name][f"{column}_gain"], out[name][f"{column}_gain_ci"] = mean_ci(gain, groups)
        print(name, json.dumps(out[name]), flush=True)
    suffix = "" if args.n is None else f"-n{len(names)}"
    path = args.out or paths.report_dir(profile) / "experiments" / f"restoration_ensemble{suffix}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(path)
    return out


if __name__ == "__main__":
    main()
