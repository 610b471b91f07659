"""Paths and run profiles: the one place that decides sizes, counts and epochs."""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fpnb.files import file_lock, write_text

if TYPE_CHECKING:
    import pandas as pd

PROFILE_ENV = "FPNB_PROFILE"
PROFILE_NAMES = ("smoke", "quick", "full")
# per build, beside wall_seconds.json: speeds that vary from run to run, kept out of metrics and tables
TIMINGS_FILE = "timings.json"


@dataclass(frozen=True)
class Profile:
    """Every size, count and epoch of one run of the study."""

    name: str
    # what a run may do: write weights/ (and the model cards), or only runs/
    ships_weights: bool = True
    # shrink every network to a few filters (tests)
    small_models: bool = False
    # "auto" (bf16 where the hardware has it), "bf16" or "fp32"; $FPNB_PRECISION overrides (fpnb.precision)
    precision: str = "auto"
    # data (fpnb.data.masters / fpnb.data.datasets)
    image_height: int = 400
    image_width: int = 275
    n_identities: int = 400
    n_impressions: int = 4
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    # identity toolbox (fpnb.identity.matchers)
    n_match_identities: int = 100
    # the real prints notebooks 02 and 05 are judged on: "fixture" (3 prints in tests/data) or a set of
    # fpnb.data.real_sets.REAL_SETS, read from data/real/<name> (fetched once when missing; resolve_real_set)
    real_set: str = "fixture"
    # restoration (fpnb.restoration.models)
    crop_size: int = 128
    batch_size: int = 16
    epochs: int = 20
    steps_per_epoch: int = 100
    n_eval_images: int = 200
    # hyperparameter search (fpnb.restoration.search): trials of search_epochs short epochs each
    search_trials: int = 24
    search_epochs: int = 8
    search_steps_per_epoch: int = 60
    # synthesis (fpnb.synthesis.stylegan)
    gan_resolution: int = 128
    gan_channels: int = 128
    gan_noise_from: int = 4  # smallest side with noise inputs (Generator ``noise_from``; 4: everywhere)
    gan_steps: int = 20000
    gan_batch: int = 16
    n_gan_samples: int = 500
    # in-house print network (FID-style features, perceptual and FingerNet-style losses)
    printnet_steps: int = 3000
    # reconstruction and editing
    encoder_steps: int = 5000
    n_recon_eval: int = 200


_PROFILES = {
    "smoke": Profile(
        "smoke", ships_weights=False, small_models=True, n_identities=20, n_impressions=2, n_match_identities=6,
        crop_size=64, batch_size=4, epochs=1, steps_per_epoch=2, n_eval_images=4, search_trials=1, search_epochs=1,
        search_steps_per_epoch=2,
        gan_resolution=32, gan_channels=16, gan_steps=2, gan_batch=4, n_gan_samples=8,
        printnet_steps=2, encoder_steps=2, n_recon_eval=4,
    ),
    "quick": Profile(
        "quick", n_identities=240, n_impressions=3, n_match_identities=60,
        crop_size=128, batch_size=8, epochs=16, steps_per_epoch=60, n_eval_images=60, search_trials=8,
        search_epochs=4,
        gan_resolution=64, gan_channels=64, gan_steps=2500, gan_batch=16, n_gan_samples=200,
        printnet_steps=600, encoder_steps=3000, n_recon_eval=60,
    ),
    # the strongest run this 2-core CPU does: each model ~90 min or less in bfloat16 (README "Profiles")
    "full": Profile(
        "full", n_identities=2000, n_impressions=4, n_match_identities=100, real_set="pyfnprint",
        crop_size=128, batch_size=8, epochs=40, steps_per_epoch=300, n_eval_images=400,
        search_trials=8, search_epochs=4,  # the search keeps quick's reduced budget: 240 steps a trial
        gan_resolution=256, gan_channels=64, gan_steps=6000, gan_batch=16, n_gan_samples=1000,
        printnet_steps=1500, encoder_steps=5000, n_recon_eval=200,
    ),
}


def profile_rank(name: str | None) -> int:
    """Strength of a profile: smoke 0 < quick 1 < full 2 (-1: none or unknown)."""
    return PROFILE_NAMES.index(name) if name in PROFILE_NAMES else -1


def default_profile_name() -> str:
    """The profile named by $FPNB_PROFILE, else ``smoke``."""
    return os.environ.get(PROFILE_ENV) or "smoke"


def get_profile(name: str | None = None, **overrides) -> Profile:
    """Return a profile by name (None: $FPNB_PROFILE or smoke) with typed overrides.

    Unknown keys and values of the wrong type raise ValueError naming the key.
    """
    name = name or default_profile_name()
    if name not in _PROFILES:
        raise ValueError(f"profile: unknown profile {name!r}, expected one of {PROFILE_NAMES}")
    base = _PROFILES[name]
    fields = {f.name: f for f in dataclasses.fields(Profile)}
    for key, value in overrides.items():
        if key not in fields or key == "name":
            raise ValueError(f"{key}: not a profile setting")
        expected = type(getattr(base, key))
        if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
            raise ValueError(f"{key}: expected {expected.__name__}, got {type(value).__name__}")
    return dataclasses.replace(base, **overrides)


@dataclass(frozen=True)
class Paths:
    """Where the study reads and writes; override the root with $FPNB_ROOT."""

    root: Path

    @property
    def data(self) -> Path:
        return Path(os.environ.get("FPNB_DATA", self.root / "data"))

    @property
    def weights(self) -> Path:
        return self.root / "weights"

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def runs(self) -> Path:
        """Training runs: checkpoints and logs that resume after a crash (not committed)."""
        return self.root / "runs"

    def report_dir(self, profile: str | Profile) -> Path:
        """``reports/<profile>/``, created on first use."""
        name = profile.name if isinstance(profile, Profile) else profile
        out = self.reports / name
        (out / "figures").mkdir(parents=True, exist_ok=True)
        (out / "metrics").mkdir(parents=True, exist_ok=True)
        return out

    def figure(self, profile: str | Profile, name: str) -> Path:
        """Path of a report figure, e.g. ``figure(p, "01-classes.png")``."""
        return self.report_dir(profile) / "figures" / name

    def table(self, profile: str | Profile, name: str) -> Path:
        """Path of a per-item CSV table that a later notebook reads (e.g. per-image scores)."""
        out = self.report_dir(profile) / "tables"
        out.mkdir(exist_ok=True)
        return out / f"{name}.csv"

    def metrics_file(self, profile: str | Profile, name: str) -> Path:
        """Path of a notebook's metrics JSON, which the report index reads."""
        return self.report_dir(profile) / "metrics" / f"{name}.json"

    def timings_file(self, profile: str | Profile) -> Path:
        """Path of this machine's timings of a profile's build (``save_timings``), beside ``wall_seconds.json``."""
        return self.report_dir(profile) / TIMINGS_FILE


paths = Paths(Path(os.environ.get("FPNB_ROOT", Path(__file__).resolve().parent.parent)))


METRIC_DIGITS = 6  # significant digits of a saved metric: thread counts and BLAS builds move the 8th or later


def save_metrics(profile: str | Profile, name: str, metrics: dict) -> Path:
    """Write a notebook's headline numbers as JSON for the report index, floats to ``METRIC_DIGITS``
    significant digits (so a rebuild on another machine rewrites the same bytes)."""
    out = paths.metrics_file(profile, name)
    return write_text(out, json.dumps(_rounded(metrics), indent=2, sort_keys=True, default=float) + "\n")


def save_table(profile: str | Profile, name: str, table: pd.DataFrame, index: bool = True) -> Path:
    """Write a per-item CSV table (``paths.table``) with every float, those in list or tuple cells such as
    intervals too, to ``METRIC_DIGITS`` significant digits, like ``save_metrics``."""
    rounded = table.apply(lambda column: column.map(_rounded) if column.dtype.kind in "fO" else column)
    return write_text(paths.table(profile, name), rounded.to_csv(index=index))


def _rounded(value, digits: int = METRIC_DIGITS):
    """Every float inside dicts, lists and tuples (kept as such) to ``digits`` significant digits (numpy
    scalars included)."""
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_rounded(v, digits) for v in value)
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    return _significant(value, digits)


def _significant(value, digits: int = 4):
    """A float to ``digits`` significant digits; any other value (NaN and infinities too) as it is."""
    return float(f"{value:.{digits}g}") if isinstance(value, float) and math.isfinite(value) else value


def save_benchmark(name: str, results: dict, merge: bool = False) -> Path:
    """Write a benchmark's record to ``reports/bench/<name>.json`` (over the sections already there with
    ``merge``), the file ``python tasks.py bench`` commits."""
    out = paths.reports / "bench" / f"{name}.json"
    if merge and out.exists():
        results = {**json.loads(out.read_text()), **results}
    return write_text(out, json.dumps(results, indent=2, default=float) + "\n")


def load_timings(profile: str | Profile, report_dir: Path | None = None) -> dict[str, dict]:
    """The timings of a profile's build, ``{name: {key: value}}`` (empty before any was saved); from
    ``report_dir`` instead of the profile's report folder when given."""
    path = report_dir / TIMINGS_FILE if report_dir is not None else paths.timings_file(profile)
    return json.loads(path.read_text()) if path.exists() else {}


def save_timings(profile: str | Profile, name: str, values: dict) -> Path:
    """Merge a notebook's timings (speeds, wall times) into ``timings.json``, floats to 4 significant digits.

    They vary from run to run on one machine, so they stay out of the metrics and tables, which a rebuild
    reproduces byte for byte.
    """
    with file_lock(paths.timings_file(profile)):  # notebooks of one build may run side by side
        timings = load_timings(profile)
        timings[name] = {key: _significant(v.item() if hasattr(v, "item") else v) for key, v in values.items()}
        return write_text(paths.timings_file(profile), json.dumps(timings, indent=2, sort_keys=True, default=float) + "\n")


def shipped_profile() -> str:
    """The profile most shipped weights were trained with (their model cards; a tie goes to the stronger), else smoke.

    Single models of a stronger profile may sit among them (``fpnb.weights_io.may_ship``).
    """
    names = [json.loads(card.read_text()).get("profile") for card in sorted(paths.weights.glob("*.json"))]
    counts = {name: names.count(name) for name in PROFILE_NAMES if name in names and name != "smoke"}
    return max(counts, key=lambda name: (counts[name], profile_rank(name))) if counts else "smoke"
