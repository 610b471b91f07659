"""Crash-safe torch training runs: one checkpoint per run folder, and per-step seeded batches.

A checkpoint is a dict of state dicts (modules, optimisers, schedules) plus plain values (step,
log, settings) and torch's RNG state, written atomically; a resumed run restores all of it and
draws the same batches, because each step's batch comes from ``step_rng(seed, step)``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch

from fpnb.files import atomic_path, write_text

CHECKPOINT_NAME = "checkpoint.pt"


def step_rng(seed: int, step: int) -> torch.Generator:
    """The generator that draws step ``step``'s batch: a function of (seed, step) alone."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict | None:
    """A checkpoint (file or run folder) as a dict, or None when there is none yet."""
    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / CHECKPOINT_NAME
    if not path.exists():
        return None
    return torch.load(path, map_location=device, weights_only=True)


def restore(checkpoint: dict, stateful: dict[str, Any], optional: tuple[str, ...] = ()) -> None:
    """Load each object's state dict from the checkpoint, and torch's RNG state when saved.

    Names in ``optional`` may be missing from the checkpoint (their objects keep their fresh state);
    any other missing name raises ``KeyError``.
    """
    for name, obj in stateful.items():
        if name in checkpoint or name not in optional:
            obj.load_state_dict(checkpoint[name])
    if "rng" in checkpoint:
        torch.set_rng_state(checkpoint["rng"]["torch"].cpu())
        if "cuda" in checkpoint["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state(checkpoint["rng"]["cuda"].cpu())


def save_checkpoint(run_dir: str | Path, stateful: dict[str, Any], log: list[dict], **values: Any) -> Path:
    """Write ``run_dir/checkpoint.pt`` (state dicts, log, values, RNG state) and ``log.csv``, atomically."""
    run_dir = Path(run_dir)
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state()
    state = {name: obj.state_dict() for name, obj in stateful.items()}
    with atomic_path(run_dir / CHECKPOINT_NAME) as tmp:
        torch.save({**state, **values, "log": log, "rng": rng}, tmp)
    write_text(run_dir / "log.csv", pd.DataFrame(log).to_csv(index=False))
    return run_dir / CHECKPOINT_NAME
