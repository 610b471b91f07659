"""Does the realistic data (#16) help on real prints? One quick U-Net trained on the old data and on the new.

Old: ``weights/unet_ms_ssim_l1.keras`` as shipped at ``--old-commit`` (quick profile, 16 x 60 steps
of batch 8, trained on the data before the realistic-data commit d4dd7cd). New: the same run
(``study.RUNS["unet_ms_ssim_l1"]``, same builder, loss, learning rate and budget) trained here on
today's quick data. Both restore the real prints of ``--real`` (default: the 3-print afis fixture,
MIT) degraded by today's pipeline with ``--seeds`` seeds each; per (print, seed) the minutiae F1
against the clean print and Bozorth3 acceptance against the clean *other* impression of its finger
at the synthetic test threshold (FAR 0.1 % on today's quick test split). Intervals resample
degradation seeds: they say how stable the difference is over degradations of these few prints,
not how it generalises to other fingers. The record goes to the committed report's
``reports/full/experiments/data_effect.json`` unless ``--out`` says otherwise.

    python experiments/data_effect.py [--seeds 30] [--out reports/full/experiments/data_effect.json]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd

from fpnb.config import get_profile, paths
from fpnb.data.datasets import REAL_FIXTURE, build_restoration_dataset, data_hash
from fpnb.identity.metrics import mean_ci
from fpnb.report.experiments import record_fields, shown_path
from fpnb.restoration import study
from fpnb.restoration.training import load_restoration_model

QUESTION = "Does the realistic synthetic data help a restoration model on real prints?"
RUN = "unet_ms_ssim_l1"
OLD_COMMIT = "f35ddce^"  # the last commit whose shipped unet_ms_ssim_l1 is the quick one on the old data


def old_model(commit: str):
    """The quick model shipped at ``commit``, read from git history, and its card."""
    weights, card = (f"{commit}:weights/{RUN}.{ext}" for ext in ("keras", "json"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{RUN}.keras"
        path.write_bytes(subprocess.run(["git", "show", weights], cwd=paths.root, check=True, capture_output=True).stdout)
        model = load_restoration_model(path)
    return model, json.loads(subprocess.run(["git", "show", card], cwd=paths.root, check=True,
                                            capture_output=True, text=True).stdout)


def per_seed(model, threshold: float, real: Path, seeds: int) -> pd.DataFrame:
    """One row per (degradation seed, kind): mean minutiae F1 and genuine / impostor acceptance."""
    rows = []
    for s in range(seeds):
        check = study.real_print_check(model, study.real_print_baseline(threshold, real, seed=1000 * s))
        summary = study.real_print_summary(check)
        for kind in ("degraded", "restored"):
            rows.append({"seed": s, "kind": kind, "minutiae_f1": summary[f"minutiae_f1_{kind}"],
                         "genuine_accepted": summary[f"genuine_accepted_{kind}"],
                         "impostor_accepted": summary[f"impostor_accepted_{kind}"]})
    return pd.DataFrame(rows)


def summarise(values: pd.Series, seed: int = 0) -> dict:
    """Mean and 95 % bootstrap interval over degradation seeds."""
    mean, (low, high) = mean_ci(values, seed=seed)
    return {"mean": round(mean, 3), "ci95": [round(low, 3), round(high, 3)]}


def measure(seeds: int, real: Path, old_commit: str, profile: str = "quick") -> dict:
    """Train (or resume) the new-data model, load the old one, score both on the real prints."""
    start = time.perf_counter()
    quick = get_profile(profile)
    root = build_restoration_dataset(quick, seed=0)
    threshold, n_impostor = study.impostor_threshold(root, "test", 1e-3)
    run = study.RUNS[RUN]
    study_dir = study.run_dir(run, quick)
    new, history, _ = study.train_or_load(run, quick, root, seed=0, retrain=False)
    old, old_card = old_model(old_commit)
    if old_card["run_config"] != study.run_config(run, quick):
        raise ValueError(f"{old_commit}: the old model's run config {old_card['run_config']} differs from today's")
    scores = {"old data": per_seed(old, threshold, real, seeds), "new data": per_seed(new, threshold, real, seeds)}
    restored = {name: table[table.kind == "restored"].reset_index(drop=True) for name, table in scores.items()}
    degraded = scores["new data"][scores["new data"].kind == "degraded"].reset_index(drop=True)
    result = {"profile": quick.name, "real_prints": shown_path(real),
              "n_degradation_seeds": seeds, "threshold": threshold, "threshold_far": 1e-3,
              "threshold_impostor_pairs": n_impostor,
              "old": {"commit": old_commit, "data_hash": old_card.get("data_hash") or old_card.get("data_manifest_hash"),
                      "training_steps": old_card.get("training_steps")},
              "new": {"data_hash": data_hash(root), "training_steps": int(len(history)) * quick.steps_per_epoch,
                      "run_dir": shown_path(study_dir)}}
    for metric in ("minutiae_f1", "genuine_accepted", "impostor_accepted"):
        result[metric] = {"degraded input": summarise(degraded[metric]),
                          **{name: summarise(table[metric]) for name, table in restored.items()},
                          "new minus old": summarise(restored["new data"][metric] - restored["old data"][metric])}
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def main(argv: list[str] | None = None) -> dict:
    """Measure, then write and print the record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--real", type=Path, default=REAL_FIXTURE)
    parser.add_argument("--old-commit", default=OLD_COMMIT)
    parser.add_argument("--profile", default="quick", help="data, budget and test split of the new model")
    parser.add_argument("--out", type=Path, default=paths.reports / "full" / "experiments" / "data_effect.json")
    args = parser.parse_args(argv)
    out = {**record_fields(__file__, QUESTION, argv), **measure(args.seeds, args.real, args.old_commit, args.profile)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
