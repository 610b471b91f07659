"""Can the 256 px generator be weaned off its coarse noise inputs? Fine-tune a run without them.

The shipped full generator draws its ridges from the noise at 64 px (06's ``06-noise-ablation.png``:
without it, each seed keeps its orientation field, cores and deltas, but no ridges). This experiment
copies the full run's checkpoint (``--source``, default ``runs/full/stylegan``) to
``runs/experiments/gan_noise_fade/fade``, trains that copy on from its step while the noise of every
layer below ``--noise-from`` px fades out linearly over ``--fade`` steps (``train_stylegan``'s
``noise_fade``), drops those inputs (``study.continue_run``, Adam states carried over) and trains a
generator without them on to ``--steps`` in ``runs/experiments/gan_noise_fade/after``. Every stage is
resumable; the shipped weights and the full run are not touched.

It records the EMA samples of every checkpoint (first ``--seeds`` seeds of each run grid, one row
per step) in ``reports/full/experiments/gan_noise_fade.png`` (``--out`` names another folder) and the
noise scales the generator had learned when the fade ended in ``gan_noise_fade.json``. No FID-style
score: a checkpoint is scored with 06 (``--param gan_steps``) only once its samples draw ridges.
``--profile`` trains another profile's generator (``smoke``: the test's tiny run).

A third arm trains a generator with noise only at ``--noise-from`` px **from scratch** for
``--scratch-steps`` steps in the profile's own run folder (``study.train_or_load_generator``,
``runs/full/stylegan-noise-from-256``) and records its samples beside the full run's at the same
steps (``gan_noise_from_scratch.png``; the full run keeps only the grids of its sample steps).

    python experiments/gan_noise_fade.py --noise-from 256 --fade 900 --steps 7200 --scratch-steps 1200
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from fpnb import plots
from fpnb.config import get_profile, paths
from fpnb.report.experiments import record_fields, shown_path
from fpnb.synthesis import study
from fpnb.synthesis.runs import CHECKPOINT_NAME, load_checkpoint

QUESTION = "Can the 256 px generator be weaned off its coarse noise inputs and draw its ridges from w?"
PAD = 2  # gaps between the samples of a run's grids (``sampling.save_grid``)


def grid_tiles(path: Path, n: int, tile: int) -> list[np.ndarray]:
    """The first n samples (``tile`` px, the generator's resolution) of a run's sample grid, in [0, 1]."""
    grid = np.asarray(Image.open(path), dtype=np.float32) / 255
    return [grid[:tile, i * (tile + PAD):i * (tile + PAD) + tile] for i in range(n)]


def main(argv: list[str] | None = None) -> dict:
    """Fade, drop, train on and train from scratch (each resumable); write and return the record."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=None, help="run folder to start from (default: the full run)")
    parser.add_argument("--noise-from", type=int, default=256, help="smallest side that keeps its noise input")
    parser.add_argument("--fade", type=int, default=900, help="steps over which the coarser noise fades out")
    parser.add_argument("--steps", type=int, default=7200, help="total steps of the generator without it")
    parser.add_argument("--scratch-steps", type=int, default=1200, help="steps of the generator trained from scratch")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--profile", default="full", help="whose generator, masters and budget")
    parser.add_argument("--out", type=Path, default=paths.reports / "full" / "experiments",
                        help="folder of the record and its two figures")
    args = parser.parse_args(argv)

    full = get_profile(args.profile)
    profile = get_profile(args.profile, gan_noise_from=args.noise_from)
    tile = full.gan_resolution
    experiment = "gan_noise_fade" if full.name == "full" else f"gan_noise_fade-{full.name}"
    fade_dir = paths.runs / "experiments" / experiment / "fade"
    if not (fade_dir / CHECKPOINT_NAME).exists():
        shutil.copytree(args.source or study.gan_run_dir(full), fade_dir)
        (fade_dir / "start.json").write_text(json.dumps({"step": load_checkpoint(fade_dir)["step"]}))
    start = int(json.loads((fade_dir / "start.json").read_text())["step"])  # the step the copy started from
    after_dir = fade_dir.parent / "after"
    if not (after_dir / CHECKPOINT_NAME).exists():
        study.continue_run(profile, fade_dir, fade=(start, start + args.fade), progress=True, run_dir=after_dir)
    if load_checkpoint(after_dir)["step"] < args.steps:
        study.train_run_on(profile, after_dir, args.steps, progress=True, noise_fade=None)

    grids = [*sorted((fade_dir / "samples").glob("step-*.png")), *sorted((after_dir / "samples").glob("step-*.png"))]
    grids = [g for g in grids if int(g.stem[5:]) >= start]
    rows = [grid_tiles(g, args.seeds, tile) for g in grids]
    titles = [f"step {int(g.stem[5:]):,}" + (" (noise faded out)" if int(g.stem[5:]) == start + args.fade else "")
              for g in grids]
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    fig = plots.image_grid(rows, row_titles=titles, col_titles=[f"seed {s}" for s in range(args.seeds)], size=1.4)
    fig.savefig(out / "gan_noise_fade.png", dpi=90, bbox_inches="tight")
    faded = load_checkpoint(fade_dir)
    scales = {k: round(float(v), 4) for k, v in faded["generator"].items() if k.endswith("noise.weight")}
    record = {**record_fields(__file__, QUESTION, argv),
              "figures": ["gan_noise_fade.png", "gan_noise_from_scratch.png"], "source_step": start, "noise_from": args.noise_from, "fade_steps": args.fade, "steps": args.steps,
              "noise_scales_at_fade_end": scales, "sample_grids": [shown_path(g) for g in grids]}
    record["from_scratch"] = scratch_arm(full, profile, args.scratch_steps, args.seeds, out)
    (out / "gan_noise_fade.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def scratch_arm(full, profile, steps: int, seeds: int, out: Path) -> dict:
    """Train the profile's generator from scratch to ``steps``; draw its sample grids beside the full run's."""
    study.train_or_load_generator(profile, steps=steps, progress=True)
    run_dir, full_dir = study.gan_run_dir(profile), study.gan_run_dir(full)
    grids = [g for g in sorted((run_dir / "samples").glob("step-*.png")) if int(g.stem[5:]) <= steps]
    tile = profile.gan_resolution
    rows = [grid_tiles(g, seeds, tile) + grid_tiles(full_dir / "samples" / g.name, seeds, tile) for g in grids]
    columns = [f"noise at {profile.gan_noise_from} px\nseed {s}" for s in range(seeds)]
    columns += [f"noise everywhere\nseed {s}" for s in range(seeds)]
    fig = plots.image_grid(rows, row_titles=[f"step {int(g.stem[5:]):,}" for g in grids], col_titles=columns, size=1.4)
    fig.savefig(out / "gan_noise_from_scratch.png", dpi=90, bbox_inches="tight")
    ema = load_checkpoint(run_dir)["g_ema"]
    return {"run": shown_path(run_dir), "steps": steps,
            "ema_noise_scales": {k: round(float(v), 4) for k, v in ema.items() if k.endswith("noise.weight")},
            "sample_grids": [shown_path(g) for g in grids]}


if __name__ == "__main__":
    main()
