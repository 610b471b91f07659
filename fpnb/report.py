"""Rebuilding the report: run the numbered notebooks with papermill, export HTML, write the index.

The index is the study's product for most readers: one self-contained page with a key figure and
a conclusion generated from the metrics per stage, the headline tables in readable units, the
definition of every column shown, and a check that every notebook's HTML comes from this build.
"""
from __future__ import annotations

import ast
import base64
import calendar
import fnmatch
import html
import importlib.metadata
import io
import json
import math
import os
import platform
import re
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fpnb.config import TIMINGS_FILE, Profile, get_profile, load_timings, paths
from fpnb.identity.metrics import far_resolved, rate_text
from fpnb.precision import device
from fpnb.weights_io import shipped_models

KEY_PACKAGES = (
    "fpnb", "tensorflow-cpu", "keras", "torch", "numpy", "scikit-image", "opencv-python-headless",
    "pandas", "matplotlib", "papermill", "nbval", "nbis-py", "fingerprint-recognition",
)
# the notebook that builds the dataset: every later notebook starts after it
DATA_NOTEBOOK = "01"
# the <meta> names under which a notebook's HTML carries the commit it was built from, and when (UTC)
COMMIT_META = "fpnb-commit"
BUILT_META = "fpnb-built"
SEED_META = "fpnb-seed"
BUILT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# the index is read at 1,280 px: figures are stored no wider than the page's text column
MAX_FIGURE_PX = 1180
# estimated characters per table row above which a table is split into several (same rows, fewer columns)
TABLE_BUDGET_CHARS = 100
# labels written by code this module does not own; the masters are synthetic, never "real"
DISPLAY_NAMES = {
    "floor: real vs real": "floor: masters vs masters",
    "generated vs real": "generated vs masters",
    "real (held-out masters)": "held-out masters",
    "n_real_pairs": "n_master_pairs",
}
# column -> (header with units, definition); the index defines every column it shows
DEFINITIONS: dict[str, tuple[str, str]] = {
    "n": ("n", "Test images (or prints) the row's numbers average over."),
    "n_identities": ("fingers", "Distinct fingers among those images; intervals resample whole fingers, "
                                "since impressions of one finger are not independent."),
    "ms_per_image": ("time per image (ms)", "Wall time to restore one test print on this build's CPU, one print per "
                                            "call after a warm-up call."),
    "build_s": ("dataset build (s)", "Wall time of notebook 01's dataset build on this build's CPU; near zero "
                                     "when it reuses a dataset built before."),
    "masters_per_s": ("master prints / s", "Master prints generated per second by one process on this build's CPU."),
    "pairs_per_s": ("degraded pairs / s", "Impressions made and degraded per second by one process on this build's "
                                          "CPU."),
    "images_per_second": ("generated images / s", "Prints the StyleGAN2 generator samples per second on this build's "
                                                   "CPU, after a warm-up batch."),
    "ssim": ("SSIM", "Structural similarity of the restored print to its clean target, 0–1, higher is better."),
    "psnr": ("PSNR (dB)", "Peak signal-to-noise ratio of the restored print against its clean target "
                          "(grey range 1), in decibels; higher is better."),
    "mae": ("MAE (grey, 0–1)", "Mean absolute grey-level error against the clean target, grey scaled to 0–1; "
                               "lower is better."),
    "minutiae_precision": ("minutiae precision", "Share of the minutiae MINDTCT finds on the restored print that "
                                                 "match a minutia of the clean target (position and angle tolerance)."),
    "minutiae_recall": ("minutiae recall", "Share of the clean target's minutiae found again on the restored print."),
    "minutiae_f1": ("minutiae F1", "Harmonic mean of minutiae precision and recall, 0–1."),
    "same_impression_match": ("same-impression match", "Share of restored prints Bozorth3 accepts as their own "
                                                        "clean target at FAR 0.1 %."),
    "genuine_match": ("same-impression match", "Share of restored prints Bozorth3 accepts as their own clean "
                                               "target at FAR 0.1 %."),
    "n_cross_genuine": ("cross-impression genuine pairs", "Pairs of a restored print with a clean other "
                                                          "impression of the same finger."),
    "n_cross_impostor": ("cross-impression impostor pairs", "Pairs of a restored print with clean prints of other "
                                                            "fingers; they set the smallest FAR a TAR can resolve."),
    "cross_impression_tar": ("cross-impression TAR", "Share of restored prints Bozorth3 accepts as a clean other "
                                                     "impression of their finger at FAR 0.1 %; 'not resolved' when "
                                                     "too few impostor pairs exist to measure that FAR."),
    "params": ("parameters", "Weights of the model (trainable and not)."),
    "fid": ("FID (PrintNet)", "Fréchet distance between the feature distributions of two sets of prints, on the "
                              "study's PrintNet features instead of Inception's; lower is closer."),
    "n_reference": ("reference prints", "Prints in the reference set the FID compares against (held-out masters)."),
    "ratio_to_floor": ("× floor", "FID divided by the masters-vs-masters floor: the distance two samples of the "
                                  "same distribution already have."),
    "n_impostor": ("impostor pairs", "Pairs of prints of different fingers; with n of them a FAR below 1/n is "
                                     "not resolved."),
    "genuine_mean": ("mean genuine score", "Mean Bozorth3 score of reconstructions against their source print."),
    "impostor_mean": ("mean impostor score", "Mean Bozorth3 score of reconstructions against other prints."),
    "tar_at_far_1e-2": ("TAR at FAR 1 %", "True accept rate: share of genuine pairs at or above the threshold that "
                                          "accepts 1 % of impostor pairs."),
    "tar_at_far_1e-3": ("TAR at FAR 0.1 %", "True accept rate: share of genuine pairs at or above the threshold "
                                            "that accepts 0.1 % of impostor pairs."),
    "tar_at_far_1e-4": ("TAR at FAR 0.01 %", "True accept rate: share of genuine pairs at or above the threshold "
                                             "that accepts 0.01 % of impostor pairs."),
    "eer": ("EER", "Equal error rate: where false accepts and false rejects are equally frequent."),
    "model": ("model", "A shipped model under weights/, named by its card."),
    "profile": ("profile", "The profile (smoke / quick / full) the model was trained with: its data size and budget."),
    "precision": ("precision", "Arithmetic the model trained in: bf16 (bfloat16 compute, float32 weights) or fp32."),
    "training_steps": ("training steps", "Optimiser steps of the training run (for a GAN, generator steps)."),
    "images_shown": ("images shown", "Training images seen: steps × batch size."),
    "wall_minutes": ("training wall time (min)", "Minutes the training steps took on this 2-core CPU, often "
                                                  "beside another job; not recorded by the oldest cards."),
    "size_mb": ("file size (MB)", "Size of the shipped weights file."),
    "flow_error_deg": ("ridge-flow error (°)", "Mean difference of ridge orientation between a reconstruction "
                                               "and its source, inside the source's print area: 0 when the ridge "
                                               "flow comes back, about 45 for unrelated prints."),
    "flow_error_other_deg": ("ridge-flow error vs another source (°)", "The same against another, randomly "
                                                                       "drawn source: the chance level."),
    "pattern_agreement": ("pattern agreement", "Share of reconstructions whose pattern class (PrintNet) is the "
                                               "source's."),
    "pattern_agreement_other": ("pattern agreement with another source", "The same against another, randomly "
                                                                         "drawn source: the chance level."),
    "direction": ("SeFa direction", "Latent direction found by SeFa, by decreasing eigenvalue."),
    "worst_match_rate": ("worst match rate", "Over the edit strengths tried along a direction, the lowest share of "
                                             "edited prints Bozorth3 still accepts as their unedited source."),
    "keeps_identity": ("keeps identity at every strength", "Whether the worst match rate reaches the bar "
                                                            "(90 % of seeds) at every edit strength tried."),
    "identity_degree": ("identity kept up to |degree|", "The largest edit strength up to which every strength tried "
                                                        "keeps 90 % of the edited prints matched to their source "
                                                        "(0: not even the smallest)."),
    "effect": ("main visible effect", "The measure (ridge period, contrast, foreground area, centroid shift, "
                                      "rotation) that the edit moves most, in units of its smallest visible change."),
    "effect_over_visible": ("effect / visible", "That measure's mean change at the identity-keeping strength, over "
                                                "its smallest visible change (editing.VISIBLE); 1 or more is visible."),
    "identity_preserving": ("identity-preserving", "Keeps identity up to some strength and visibly changes a measure "
                                                   "there."),
}
RATE_COLUMNS = frozenset({"same_impression_match", "genuine_match", "cross_impression_tar", "eer", "far",
                          "worst_match_rate", "genuine_match_rate", "fraction_above"})
# a hex digest longer than this is shown by its first characters (the manifest keeps it whole)
HASH_SHOWN = 16
COUNT_COLUMNS = frozenset({"params", "epochs", "gan_steps", "steps", "seed"})


class NotebookFailed(RuntimeError):
    """A notebook of the report raised; the message names the notebook and the cell."""


@dataclass(frozen=True)
class NotebookRun:
    """One execution of one notebook: its source, its parameters and the output stem."""

    source: Path
    parameters: dict
    after: tuple[str, ...] = ()  # notebooks (name prefixes) whose runs must finish before this one starts

    @property
    def stem(self) -> str:
        extra = "".join(f"_{k}-{v}" for k, v in sorted(self.parameters.items()))
        return self.source.stem + extra


@dataclass(frozen=True)
class Stage:
    """One stage of the study on the index: its notebook number, title, question and key-figure globs."""

    number: str
    title: str
    question: str
    figures: tuple[str, ...]


STAGES = (
    Stage("01", "Data", "Synthetic master prints, several impressions per finger, ChaLearn-style degradations.",
          ("01-degradations*.png", "01-impressions*.png")),
    Stage("02", "Identity toolbox", "Do the matchers tell fingers apart on these prints?",
          ("02-det*.png", "02-score-histograms*.png")),
    Stage("07", "Restoration", "Which model turns a degraded print back into its clean print, pixels and identity?",
          ("07-comparison*.png", "07-grid*.png")),
    Stage("08", "Synthesis", "Does the StyleGAN2 generate prints close to the masters and as distinct as fingers?",
          ("08-samples*.png",)),
    Stage("09", "Reconstruction", "Can a print be rebuilt from its minutiae through the generator's latent space?",
          ("09-examples*.png",)),
    Stage("10", "Editing", "Which SeFa directions change a print's appearance and keep its identity?",
          ("10-edit-grid*.png",)),
)


def _numbered_notebooks(notebooks_dir: Path | None = None) -> list[tuple[Path, dict]]:
    """Every ``NN_*.ipynb`` in order with its ``metadata.fpnb`` (runs, headline tables)."""
    return [(nb_path, json.loads(nb_path.read_text()).get("metadata", {}).get("fpnb", {}))
            for nb_path in sorted((notebooks_dir or paths.notebooks).glob("[0-9][0-9]_*.ipynb"))]


def headline_tables(notebooks_dir: Path | None = None) -> list[str]:
    """Summary tables for the index, in notebook order: each notebook's ``metadata.fpnb.headline`` names."""
    return [name for _, meta in _numbered_notebooks(notebooks_dir) for name in meta.get("headline", [])]


def discover(notebooks_dir: Path | None = None, only: str | None = None) -> list[NotebookRun]:
    """The runs of every ``NN_*.ipynb`` in order; a notebook's ``metadata.fpnb.runs`` repeats it, and its
    ``metadata.fpnb.after`` names the notebooks it reads the results of.

    ``only`` keeps the runs whose stem starts with it: ``05`` every run of the 05 notebooks,
    ``05_unet_loss-ms_ssim_l1`` one of them.
    """
    notebooks_dir = notebooks_dir or paths.notebooks
    runs = [NotebookRun(nb_path, dict(params), tuple(meta.get("after", ())))
            for nb_path, meta in _numbered_notebooks(notebooks_dir) for params in meta.get("runs", [{}])]
    if only is not None:
        runs = [run for run in runs if run.stem.startswith(only)]
        if not runs:
            raise FileNotFoundError(f"no notebook run whose name starts with {only!r} in {notebooks_dir}")
    return runs


def prerequisites(run: NotebookRun, runs: Iterable[NotebookRun]) -> set[str]:
    """Stems among ``runs`` that must finish before ``run`` starts: the data notebook's (``01``, which builds the
    dataset every later notebook reads) and those of the notebooks named in ``run.after``."""
    number = run.source.name[:2]
    prefixes = run.after + ((DATA_NOTEBOOK,) if number > DATA_NOTEBOOK else ())
    return {other.stem for other in runs if other.source != run.source and other.source.name.startswith(prefixes)}


def run_all(runs: list[NotebookRun], execute_one: Callable[[NotebookRun], float], jobs: int = 1,
            on_start: Callable[[NotebookRun], None] = lambda run: None,
            on_done: Callable[[NotebookRun, float], None] = lambda run, seconds: None) -> dict[str, float]:
    """Execute ``runs`` (``execute_one(run)`` returns its wall seconds), ``jobs`` at a time in separate processes,
    each once its prerequisites among ``runs`` have finished, in list order otherwise; returns seconds by stem.

    A failure stops new starts, lets the running notebooks finish and raises it.
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from multiprocessing import get_context

    needs = {run.stem: prerequisites(run, runs) for run in runs}
    done: dict[str, float] = {}
    if jobs <= 1:
        for run in runs:
            if not needs[run.stem] <= done.keys():
                raise ValueError(f"{run.stem} is listed before its prerequisites {sorted(needs[run.stem] - done.keys())}")
            on_start(run)
            done[run.stem] = execute_one(run)
            on_done(run, done[run.stem])
        return done
    pending, running = list(runs), {}
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        while pending or running:
            for run in [r for r in pending if needs[r.stem] <= done.keys()][:jobs - len(running)]:
                pending.remove(run)
                on_start(run)
                running[pool.submit(execute_one, run)] = run
            if not running:
                raise ValueError(f"prerequisites never met: {[run.stem for run in pending]}")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                run = running.pop(future)
                try:
                    done[run.stem] = future.result()
                except BaseException:
                    pending.clear()  # no new starts; leaving the block waits for the running ones
                    raise
                on_done(run, done[run.stem])
    return done


def execute(run: NotebookRun, profile: str, out_dir: Path, retrain: bool = False) -> float:
    """Execute one run with papermill into ``out_dir``, stamp its commit and export its HTML; returns wall seconds."""
    import papermill

    declared = papermill.inspect_notebook(str(run.source))
    unknown = sorted(set(run.parameters) - set(declared))
    if unknown:
        raise ValueError(f"{run.source.name}: run parameters {unknown} are not in its parameters cell "
                         f"(declared: {sorted(declared)})")
    # the report's own settings go to every notebook that declares them
    params = {k: v for k, v in {"profile": profile, "interactive": False, "retrain": retrain}.items() if k in declared}
    params |= run.parameters
    out_nb = out_dir / f"{run.stem}.ipynb"
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(run.source), str(out_nb), parameters=params, cwd=str(run.source.parent),
            progress_bar=False, kernel_name="python3",
        )
    except papermill.PapermillExecutionError as err:
        raise NotebookFailed(
            f"{run.source.name} failed in cell {err.exec_count} ({err.ename}: {err.evalue})"
        ) from err
    seconds = time.perf_counter() - start
    stamp_build(out_nb)
    export_html(out_nb)
    return seconds


def stamp_build(notebook: Path, state: dict | None = None) -> None:
    """Record in an executed notebook the commit and dirty flag it ran from and when (UTC), so its HTML can
    carry them."""
    import nbformat

    state = state or git_state()
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata.setdefault("fpnb", {})["build"] = {"commit": state["git_commit"], "dirty": state["dirty"],
                                                   "built": time.strftime(BUILT_FORMAT, time.gmtime())}
    nbformat.write(nb, notebook)


def export_html(notebook: Path) -> Path:
    """Write ``notebook``'s HTML beside it, figures embedded and its build commit, time and seed in ``<meta>``
    tags."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    body, _ = HTMLExporter(embed_images=True).from_notebook_node(nb)
    build = dict(nb.metadata.get("fpnb", {}).get("build", {}))
    seed = notebook_seed(nb)
    build["seed"] = None if seed is None else json.dumps(seed)
    tags = "".join(f'\n<meta name="{name}" content="{html.escape(build[key])}">'
                   for name, key in ((COMMIT_META, "commit"), (BUILT_META, "built"), (SEED_META, "seed"))
                   if build.get(key))
    body = body.replace("<head>", f"<head>{tags}", 1)
    out = notebook.with_suffix(".html")
    out.write_text(body)
    return out


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def git_state(root: Path | None = None) -> dict:
    """HEAD and whether the work tree differs from it; reports/ is left out, since the build itself writes there."""
    root = root or paths.root
    try:
        commit = _git(root, "rev-parse", "HEAD").strip()
        changed = _git(root, "status", "--porcelain", "--", ".", ":(exclude)reports").splitlines()
    except (OSError, subprocess.CalledProcessError):
        return {"git_commit": None, "dirty": None, "dirty_files": []}
    return {"git_commit": commit, "dirty": bool(changed), "dirty_files": [line[3:] for line in changed]}


def environment_manifest() -> dict:
    """Package versions, git commit and dirty flag, machine of this run."""
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        **git_state(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "device": device(),
        "packages": versions,
    }


def accelerators() -> dict:
    """GPUs seen by torch and TensorFlow (imports both: call only where that cost is wanted)."""
    import tensorflow as tf
    import torch

    return {
        "torch_cuda": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "tensorflow_gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
    }


# --- provenance of the executed notebooks --------------------------------------------------------

_SEED_LINE = re.compile(r"^seed\s*=\s*([^#\n]+)", re.M)
_COMMIT_TAG = re.compile(rf'<meta name="{COMMIT_META}" content="([^"]+)"')
_BUILT_TAG = re.compile(rf'<meta name="{BUILT_META}" content="([^"]+)"')
_SEED_TAG = re.compile(rf'<meta name="{SEED_META}" content="([^"]+)"')


def notebook_seed(notebook: dict) -> Any:
    """The seed an executed notebook ran with: papermill's injected value, else its parameters cell's literal."""
    injected = notebook.get("metadata", {}).get("papermill", {}).get("parameters", {})
    if "seed" in injected:
        return injected["seed"]
    for cell in notebook.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            found = _SEED_LINE.search(source)
            return ast.literal_eval(found.group(1).strip()) if found else None
    return None


def notebook_seeds(out_dir: Path) -> dict[str, Any]:
    """Seed of every notebook in ``out_dir`` that declares one: from its executed copy, else from the seed its HTML
    records (a partial build keeps the pages, not the executed copies, of the notebooks it did not run)."""
    seeds = {page.stem: html_seed(page) for page in out_dir.glob("*.html")}
    seeds |= {nb.stem: notebook_seed(json.loads(nb.read_text())) for nb in out_dir.glob("*.ipynb")}
    return {stem: seeds[stem] for stem in sorted(seeds) if seeds[stem] is not None}


def _head_meta(page: Path, tag: re.Pattern) -> str | None:
    """The content of a ``<meta>`` tag in the head of a notebook's HTML (its first 8 KB), None if absent."""
    with page.open(errors="replace") as handle:
        found = tag.search(handle.read(8192))
    return found.group(1) if found else None


def html_commit(page: Path) -> str | None:
    """The commit a notebook's HTML was built from (None for HTML exported before commits were stamped)."""
    return _head_meta(page, _COMMIT_TAG)


def html_seed(page: Path) -> Any:
    """The seed a notebook's HTML was built with, None where the page does not record it."""
    seed = _head_meta(page, _SEED_TAG)
    return None if seed is None else json.loads(html.unescape(seed))


def html_built(page: Path) -> float | None:
    """When a notebook's HTML was built (seconds since the epoch), None where the page does not record it."""
    built = _head_meta(page, _BUILT_TAG)
    return calendar.timegm(time.strptime(built, BUILT_FORMAT)) if built else None


def stale_notebooks(out_dir: Path, stems: Iterable[str], commit: str | None, started: float | None) -> dict[str, str]:
    """Why a notebook's HTML may not belong to this build: missing, from another commit, or older than the build."""
    problems = {}
    for stem in stems:
        page = out_dir / f"{stem}.html"
        if not page.exists():
            problems[stem] = "no HTML"
            continue
        reasons = []
        built_from = html_commit(page)
        if built_from is None:
            reasons.append("no commit recorded")
        elif commit is not None and built_from != commit:
            reasons.append(f"built from commit {built_from[:10]}")
        built = html_built(page)
        dated = built or page.stat().st_mtime  # without a build time, the file's date (a fresh clone's checkout)
        if started is not None and dated < started:
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(dated))
            reasons.append(f"HTML built {when}, before this build started" if built else
                           f"no build time recorded; file dated {when}, before this build started")
        if reasons:
            problems[stem] = "; ".join(reasons)
    return problems


def _data_hash(out_dir: Path) -> str | None:
    data = out_dir / "metrics" / "01_data.json"
    return json.loads(data.read_text()).get("data_hash") if data.exists() else None


def build_manifest(profile: Profile, wall_seconds: dict[str, float], out_dir: Path, started: float | None) -> dict:
    """What rebuilding these numbers takes: commit and dirty flag, profile, seeds, data, precision, machine."""
    from fpnb.precision import resolve

    return {
        "profile": profile.name,
        "settings": dict(profile.__dict__),
        "precision": resolve(profile),
        "seeds": notebook_seeds(out_dir),
        "data_hash": _data_hash(out_dir),
        "wall_seconds": wall_seconds,
        "timings": load_timings(profile, out_dir),
        "build_started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)) if started else None,
        "built": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        **environment_manifest(),
    }


# --- values as a reader sees them -----------------------------------------------------------------

def label(column: str) -> str:
    """A column's header with units (its name with spaces where the index has no definition)."""
    return DEFINITIONS.get(column, (_display_name(column).replace("_", " "), ""))[0]


def _display_name(text: str) -> str:
    return DISPLAY_NAMES.get(text, text)


def sig3(value: float) -> str:
    """Three significant digits, thousands separated, plain notation between 1e-4 and 1e6."""
    if not math.isfinite(value):
        return "—" if math.isnan(value) else ("∞" if value > 0 else "−∞")
    rounded = float(f"{value:.3g}")
    if rounded == 0:
        return "0"
    exponent = math.floor(math.log10(abs(rounded)))
    if not -4 <= exponent < 6:
        return f"{rounded:.3g}"
    return f"{rounded:,.{max(0, 2 - exponent)}f}"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def interval_of(value: Any) -> tuple[float, float] | None:
    """An interval: a ``[lo, hi]`` list, or a ``"[lo, hi]"`` / ``"(lo, hi)"`` CSV string; None otherwise."""
    if isinstance(value, str) and value[:1] in "[(" and value[-1:] in "])" and value.count(",") == 1:
        value = value[1:-1].split(",")
    if isinstance(value, (list, tuple)) and len(value) == 2:
        try:
            return float(value[0]), float(value[1])
        except (TypeError, ValueError):
            return None
    return None


def _is_tar(column: str) -> bool:
    return column.startswith("tar_at_far") or column == "cross_impression_tar"


def _unresolved(column: str, n_impostor: int | None) -> bool:
    """A ``tar_at_far_<far>`` whose impostor count cannot resolve that FAR (tables written before the check)."""
    if not column.startswith("tar_at_far_") or n_impostor is None:
        return False
    try:
        return not far_resolved(float(column.removeprefix("tar_at_far_")), n_impostor)
    except ValueError:
        return False


def _is_count(column: str) -> bool:
    return column == "n" or column.startswith("n_") or column in COUNT_COLUMNS


def _percent(value: float, interval: tuple[float, float] | None) -> str:
    text = f"{sig3(100 * value)}%"
    return text if interval is None else f"{text} ({sig3(100 * interval[0])}–{sig3(100 * interval[1])}%)"


def _list_text(column: str, values: list) -> str:
    if len(values) <= 6:
        return ", ".join(cell_text(column, v) for v in values) or "none"
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == len(values):
        return f"{len(values)} values, {sig3(min(numbers))}–{sig3(max(numbers))}"
    return f"{len(values)} items: {', '.join(str(v) for v in values[:3])}, …"


def cell_text(column: str, value: Any, interval: tuple[float, float] | None = None,
              n_impostor: int | None = None) -> str:
    """One value for reading: TARs via ``rate_text`` ("not resolved" when None), rates in %, counts whole,
    other numbers to three significant digits with their interval as "0.825 (0.807–0.842)"."""
    if _missing(value) or _unresolved(column, n_impostor):
        return rate_text(None, n_impostor=n_impostor) if _is_tar(column) else "—"
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{_display_name(str(k))}: {cell_text(str(k), v)}" for k, v in value.items())
    if (bounds := interval_of(value)) is not None:
        return f"{sig3(bounds[0])}–{sig3(bounds[1])}"
    if isinstance(value, list):
        return _list_text(column, value)
    if isinstance(value, str):
        return value[:HASH_SHOWN] + "…" if re.fullmatch(r"[0-9a-f]{20,}", value) else _display_name(value)
    if _is_tar(column):
        return rate_text(float(value), interval)
    if column in RATE_COLUMNS:
        return _percent(float(value), interval)
    if isinstance(value, int) or (_is_count(column) and float(value).is_integer()):
        return f"{int(value):,}"
    text = sig3(float(value))
    return text if interval is None else f"{text} ({sig3(interval[0])}–{sig3(interval[1])})"


def _impostor_count(row: pd.Series, column: str) -> int | None:
    """The impostor count that decides whether a TAR column's FAR is resolved, where the row has it."""
    count = row.get("n_cross_impostor" if column == "cross_impression_tar" else "n_impostor")
    return None if _missing(count) else int(count)


def _row_cell(row: pd.Series, column: str) -> str:
    return cell_text(column, row[column], interval_of(row.get(f"{column}_ci")), _impostor_count(row, column))


def shown_columns(frame: pd.DataFrame) -> list[str]:
    """The frame's columns less the ``x_ci`` ones merged into their ``x``."""
    return [c for c in frame.columns if not (str(c).endswith("_ci") and str(c)[:-3] in frame.columns)]


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows for reading: intervals merged into their column, values formatted, headers with units."""
    columns = shown_columns(frame)
    rows = {_display_name(str(name)): {label(c): _row_cell(row, c) for c in columns} for name, row in frame.iterrows()}
    shown = pd.DataFrame.from_dict(rows, orient="index", columns=[label(c) for c in columns])
    shown.index.name = label(frame.index.name) if frame.index.name else ""
    return shown


def _width(texts: Iterable[str], header: str) -> int:
    longest_word = max((len(word) for word in header.split()), default=1)
    return max([longest_word, *(len(t) for t in texts)]) + 3


def column_groups(shown: pd.DataFrame, budget: int = TABLE_BUDGET_CHARS) -> list[list[str]]:
    """Columns in reading order cut into groups whose estimated row width fits the page."""
    index_width = _width(shown.index.astype(str), shown.index.name or "")
    groups: list[list[str]] = [[]]
    width = index_width
    for column in shown.columns:
        need = _width(shown[column], column)
        if groups[-1] and width + need > budget:
            groups.append([])
            width = index_width
        groups[-1].append(column)
        width += need
    return groups


def table_html(shown: pd.DataFrame) -> str:
    """One or more HTML tables that each fit 1,280 px: a wide frame is split by columns, its row names repeated."""
    parts = []
    for group in column_groups(shown):
        part = shown[group].reset_index().rename(columns={"index": shown.index.name or ""})
        parts.append(part.to_html(index=False, border=0, classes="data", escape=True))
    return "".join(parts)


def _grid(items: dict[str, str]) -> str:
    """Label–value pairs in a grid of columns (scalar metrics, manifest fields)."""
    cells = "".join(f'<div><dt>{html.escape(k)}</dt><dd class="{"long" if len(v) > 24 else ""}">'
                    f"{html.escape(v)}</dd></div>" for k, v in items.items())
    return f'<dl class="kv">{cells}</dl>'


# --- conclusions generated from the headline tables ------------------------------------------------

def _intervals_overlap(row_a: pd.Series, row_b: pd.Series, column: str) -> bool:
    a, b = interval_of(row_a.get(f"{column}_ci")), interval_of(row_b.get(f"{column}_ci"))
    return a is None or b is None or (a[0] <= b[1] and b[0] <= a[1])


def _sample_text(row: pd.Series) -> str:
    fingers = f" of {int(row['n_identities'])} fingers" if not _missing(row.get("n_identities")) else ""
    return f"{int(row['n'])} test images{fingers}" if not _missing(row.get("n")) else "the test images"


def conclude_restoration(table: pd.DataFrame) -> str:
    """Best model by SSIM and by minutiae F1 with intervals, whether the lead is resolved, its identity rate."""
    if "ssim" not in table or table["ssim"].isna().all():
        return ""
    ranked = table.sort_values("ssim", ascending=False)
    best = ranked.iloc[0]
    text = f"Best pixel fidelity: {ranked.index[0]}, SSIM {_row_cell(best, 'ssim')} on {_sample_text(best)}."
    if len(ranked) > 1:
        second = ranked.iloc[1]
        verdict = ("overlaps it, so their order is not resolved" if _intervals_overlap(best, second, "ssim")
                   else "is clearly behind")
        text += f" The runner-up {ranked.index[1]}, {_row_cell(second, 'ssim')}, {verdict}."
    if "minutiae_f1" in table and not table["minutiae_f1"].isna().all():
        top = table["minutiae_f1"].astype(float).idxmax()
        text += f" Best minutiae F1: {top}, {_row_cell(table.loc[top], 'minutiae_f1')}."
    identity = next((c for c in ("cross_impression_tar", "same_impression_match", "genuine_match") if c in table), None)
    if identity:
        text += f" {ranked.index[0]}'s {label(identity)}: {_row_cell(best, identity)}."
    if "unet_seed_mse" in table.index and ranked.index[0] != "unet_seed_mse":
        seed = table.loc["unet_seed_mse", "ssim"]
        text += f" That is {best['ssim'] / seed:.2f}× the SSIM of the source project's U-Net ({sig3(seed)})."
    return text


def conclude_quality(table: pd.DataFrame) -> str:
    """Where the generated prints' FID lies between the masters' floor and the ceilings."""
    names = pd.Series(table.index.astype(str), index=table.index)
    generated, floor = table[names.str.startswith("generated")], table[names.str.startswith("floor")]
    ceilings = table[names.str.startswith("ceiling")]
    if generated.empty or floor.empty or "fid" not in table:
        return ""
    gen, low = generated.iloc[0], floor.iloc[0]
    text = (f"Generated prints: FID {sig3(gen['fid'])}, {sig3(gen['fid'] / low['fid'])}× the "
            f"{_display_name(floor.index[0])} ({sig3(low['fid'])}).")
    if not ceilings.empty:
        nearest = ceilings["fid"].astype(float).idxmin()
        where = "below every ceiling" if gen["fid"] < ceilings["fid"].min() else "not below every ceiling"
        text += f" That is {where}; the nearest, {nearest}, is at {sig3(ceilings.loc[nearest, 'fid'])}."
    if not _missing(gen.get("n")) and not _missing(gen.get("n_reference")):
        text += (f" One draw of {int(gen['n']):,} generated against {int(gen['n_reference']):,} reference prints: "
                 "no interval.")
    return text


def conclude_reconstruction(table: pd.DataFrame) -> str:
    """Each evaluation set's TAR (with interval, or 'not resolved') and EER."""
    tar = next((c for c in table.columns if str(c).startswith("tar_at_far") and not str(c).endswith("_ci")), None)
    if tar is None:
        return ""
    parts = []
    for name, row in table.iterrows():
        part = f"{name}: {label(tar)} {_row_cell(row, tar)}"
        if "eer" in table:
            part += f", EER {_row_cell(row, 'eer')}"
        if not _missing(row.get("n")):
            part += f" ({int(row['n']):,} reconstructions"
            part += f", {int(row['n_impostor']):,} impostor pairs)" if not _missing(row.get("n_impostor")) else ")"
        parts.append(part)
    text = "Reconstructions accepted as their source print by Bozorth3 — " + "; ".join(parts) + "."
    if {"flow_error_deg", "flow_error_other_deg"} <= set(table.columns):
        flows = [f"{name} {sig3(float(row['flow_error_deg']))}° (another source: "
                 f"{sig3(float(row['flow_error_other_deg']))}°)" for name, row in table.iterrows()
                 if not _missing(row.get("flow_error_deg"))]
        if flows:
            text += " Ridge-flow error against the source: " + "; ".join(flows) + "."
    return text


def conclude_editing(table: pd.DataFrame) -> str:
    """How many SeFa directions keep identity, and the one that loses it most."""
    if "identity_preserving" not in table or "worst_match_rate" not in table:
        return ""
    keeps = table.index[table["identity_preserving"].astype(bool)]
    worst = table["worst_match_rate"].astype(float).idxmin()
    kept = ", ".join(str(d) for d in keeps) or "none"
    return (f"{len(keeps)} of {len(table)} directions keep identity (directions: {kept}). Direction {worst} "
            f"changes it most: worst match rate {_row_cell(table.loc[worst], 'worst_match_rate')}.")


CONCLUSIONS: dict[str, Callable[[pd.DataFrame], str]] = {
    "07_comparison": conclude_restoration,
    "08_quality": conclude_quality,
    "09_summary": conclude_reconstruction,
    "10_identity": conclude_editing,
}
HEADLINE_TITLES = {
    "07_comparison": "Restoration models on the test split",
    "08_quality": "Distance of generated prints to the masters",
    "09_summary": "Reconstruction from minutiae",
    "10_identity": "Identity along each edit direction",
}


# --- page sections ---------------------------------------------------------------------------------

def key_figure(figures_dir: Path, patterns: Iterable[str]) -> Path | None:
    """The first figure matching the stage's globs in preference order; None when its notebook saved none."""
    for pattern in patterns:
        found = sorted(figures_dir.glob(pattern))
        if found:
            return found[0]
    return None


def embedded_image(path: Path, max_width: int = MAX_FIGURE_PX) -> str:
    """The figure as a JPEG data URI no wider than the page, so the index stays one self-contained file."""
    from PIL import Image

    with Image.open(path) as image:
        rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    flat.thumbnail((max_width, 4 * max_width))
    buffer = io.BytesIO()
    flat.save(buffer, "JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _headline_html(name: str, table: pd.DataFrame) -> str:
    conclusion = CONCLUSIONS.get(name, lambda _: "")(table)
    return (f'<h3 id="{html.escape(name)}">{html.escape(HEADLINE_TITLES.get(name, name))} '
            f"<small>({html.escape(name)}.csv)</small></h3>"
            + (f'<p class="conclusion">{html.escape(conclusion)}</p>' if conclusion else "")
            + table_html(display_frame(table)))


_EMBEDDED = re.compile(r'<figure><img src="(data:image/jpeg;base64,[^"]+)" alt="([^"]+)">')


def previous_figures(index: Path) -> dict[str, str]:
    """The key figures an earlier ``index.html`` embedded, by file name (empty when there is none).

    Figure files are not committed: a partial rebuild (``report --only``) on a fresh clone has only its
    own notebooks' figures, and keeps the others' from the previous index (their pages' provenance
    warnings stay)."""
    return {name: uri for uri, name in _EMBEDDED.findall(index.read_text())} if index.exists() else {}


def _stage_html(stage: Stage, figures_dir: Path, tables: dict[str, pd.DataFrame],
                previous: dict[str, str] | None = None) -> str:
    figure = key_figure(figures_dir, stage.figures)
    if figure is not None:
        source, name, caption = embedded_image(figure), figure.name, figure.name
    else:
        name = next((n for pattern in stage.figures for n in sorted(previous or {}) if fnmatch.fnmatch(n, pattern)), None)
        source, caption = (previous or {}).get(name), f"{name} (from the previous build of this index)"
    picture = (f'<figure><img src="{source}" alt="{html.escape(name)}">'
               f"<figcaption>{html.escape(caption)}</figcaption></figure>" if source else "")
    body = "".join(_headline_html(name, table) for name, table in tables.items() if name[:2] == stage.number)
    if not picture and not body:
        return ""
    return (f"<section><h2>{stage.number} · {html.escape(stage.title)}</h2>"
            f"<p>{html.escape(stage.question)}</p>{picture}{body}</section>")


def _definitions_html(columns: Iterable[str]) -> str:
    rows = {label(c): DEFINITIONS.get(c, ("", "not defined yet"))[1] for c in dict.fromkeys(columns)}
    items = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows.items())
    return f'<table class="definitions">{items}</table>'


def _flatten(values: dict) -> dict:
    """One level of nesting flattened into ``parent child`` keys."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update({f"{key} {sub}": v for sub, v in value.items()})
        else:
            flat[key] = value
    return flat


def metrics_html(metrics: dict) -> str:
    """One notebook's metrics as a value grid (dicts flattened one level, long lists summarised) and tables
    for dicts of per-item dicts; never a JSON dump."""
    items, tables = {}, []
    for key, value in metrics.items():
        if key.endswith("_ci") and key[:-3] in metrics:
            continue
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            frame = pd.DataFrame.from_dict({k: _flatten(v) for k, v in value.items()}, orient="index")
            tables.append(f"<h4>{html.escape(label(key))}</h4>{table_html(display_frame(frame))}")
        elif isinstance(value, dict):
            n_impostor = value.get("n_impostor")
            for sub, v in value.items():
                if not (sub.endswith("_ci") and sub[:-3] in value):
                    column = sub if sub in DEFINITIONS or sub in RATE_COLUMNS or _is_count(sub) else key
                    items[f"{label(key)} › {label(sub)}"] = cell_text(column, v, interval_of(value.get(f"{sub}_ci")),
                                                                       n_impostor)
        else:
            items[label(key)] = cell_text(key, value, interval_of(metrics.get(f"{key}_ci")))
    return _grid(items) + "".join(tables)


def _runs_html(stems: list[str], wall_seconds: dict[str, float], out_dir: Path, seeds: dict,
               problems: dict[str, str]) -> str:
    rows = []
    for stem in stems:
        page = out_dir / f"{stem}.html"
        commit = html_commit(page) if page.exists() else None
        seconds = wall_seconds.get(stem)
        rows.append(
            f'<tr><td><a href="{html.escape(stem)}.html">{html.escape(stem)}</a></td>'
            f"<td>{'—' if seconds is None else f'{seconds:,.0f}'}</td><td>{html.escape((commit or '—')[:10])}</td>"
            f"<td>{html.escape(str(seeds.get(stem, '—')))}</td>"
            f"<td>{html.escape(problems.get(stem, 'this build'))}</td></tr>"
        )
    head = "<tr><th>notebook</th><th>wall time (s)</th><th>commit</th><th>seed</th><th>provenance</th></tr>"
    return f'<table class="data">{head}{"".join(rows)}</table>'


def timings_html(timings: dict[str, dict]) -> str:
    """The notebooks' timings as one value grid, ``name › measure``; kept apart from the tables, since they vary
    from run to run."""
    if not timings:
        return "<p>No timings recorded.</p>"
    items = {f"{_display_name(name)} › {label(key)}": cell_text(key, value)
             for name, values in timings.items() for key, value in values.items()}
    return (f"<p>Speeds the notebooks measured on this build's CPU ({html.escape(TIMINGS_FILE)}). They vary from "
            "run to run and with the machine's load, so they are kept out of the tables and each notebook's "
            "numbers.</p>"
            + _grid(items))


def _warning_html(problems: dict[str, str], commit: str | None) -> str:
    if not problems:
        return '<p class="ok">Every notebook\'s HTML was built by this build, from this commit.</p>'
    items = "".join(f"<li>{html.escape(stem)}: {html.escape(why)}</li>" for stem, why in problems.items())
    return (f'<div class="warning"><strong>Mixed provenance:</strong> these notebooks\' pages do not come from '
            f"this build of commit {html.escape((commit or 'unknown')[:10])}; their numbers may disagree with "
            f"the tables below.<ul>{items}</ul></div>")


def _manifest_html(manifest: dict) -> str:
    device_info = manifest.get("device") or {}
    dirty = manifest.get("dirty")
    fields = {
        "profile": manifest["profile"], "commit": manifest.get("git_commit") or "unknown",
        "work tree": "unknown" if dirty is None else (f"dirty: {len(manifest['dirty_files'])} files changed"
                                                      if dirty else "clean"),
        "precision": manifest["precision"], "data hash": manifest.get("data_hash") or "—",
        "CPU": f"{device_info.get('cpu_model')} × {device_info.get('cpu_count')} cores",
        "python": manifest["python"], "build started": manifest.get("build_started") or "—",
        "built": manifest["built"],
    }
    settings = {k: cell_text(k, v) for k, v in manifest["settings"].items()}
    packages = {k: v or "not installed" for k, v in manifest["packages"].items()}
    return (_grid(fields) + "<h3>Profile settings</h3>" + _grid(settings) + "<h3>Packages</h3>" + _grid(packages)
            + '<p>All of it, with the changed files and the seeds: <a href="manifest.json">manifest.json</a>.</p>')


STYLE = """body{font-family:system-ui,sans-serif;max-width:1180px;margin:1.5em auto;padding:0 1em;
line-height:1.45;color:#222}
h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3 small{color:#777;font-weight:normal}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:14px}
td,th{border:1px solid #ccc;padding:3px 8px;overflow-wrap:anywhere}
table.data td{text-align:right}
table.data td:first-child{text-align:left}
table.data th{background:#f4f4f4}
table.definitions th{text-align:left;white-space:nowrap;background:#f4f4f4}
figure{margin:1em 0}
img{max-width:100%;max-height:85vh;width:auto;height:auto;display:block}
figcaption{color:#777;font-size:13px}
.conclusion{background:#f6f8fa;border-left:4px solid #4a7;padding:.4em .8em}
.warning{border:2px solid #c00;background:#fee;color:#900;padding:.5em 1em}
.ok{color:#275}
dl.kv{display:grid;grid-template-columns:repeat(auto-fill,minmax(17em,1fr));gap:.1em 2em;font-size:14px}
dl.kv div{display:flex;justify-content:space-between;gap:1em;border-bottom:1px dotted #ccc;min-width:0}
dt{color:#555;flex:1 1 auto;min-width:0;overflow-wrap:break-word}
dd{margin:0;text-align:right;flex:0 1 auto;overflow-wrap:break-word}
dd.long{overflow-wrap:anywhere;min-width:0}"""


def build_index(profile: str | Profile, wall_seconds: dict[str, float], out_dir: Path | None = None,
                notebooks_dir: Path | None = None, started: float | None = None) -> Path:
    """Write ``manifest.json`` and ``index.html``: per stage a key figure, conclusions and headline tables;
    definitions; every notebook's provenance and numbers; the manifest. ``started`` (epoch seconds) is when
    the build began: HTML older than it is flagged."""
    profile = get_profile(profile) if isinstance(profile, str) else profile
    out_dir = out_dir or paths.report_dir(profile)
    (out_dir / "tables").mkdir(exist_ok=True)
    manifest = build_manifest(profile, wall_seconds, out_dir, started)
    tree = {None: "unknown work tree", True: "with uncommitted changes", False: "clean work tree"}[manifest["dirty"]]
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    tables = {name: pd.read_csv(f, index_col=0) for name in headline_tables(notebooks_dir)
              if (f := out_dir / "tables" / f"{name}.csv").exists()}
    stems = list(dict.fromkeys([run.stem for run in discover(notebooks_dir)] + list(wall_seconds)))
    problems = stale_notebooks(out_dir, stems, manifest["git_commit"], started)
    previous = previous_figures(out_dir / "index.html")
    stages = "".join(_stage_html(stage, out_dir / "figures", tables, previous) for stage in STAGES)
    staged = {stage.number for stage in STAGES}
    others = "".join(_headline_html(name, table) for name, table in tables.items() if name[:2] not in staged)
    columns = [c for table in tables.values() for c in [table.index.name, *shown_columns(table)] if c]
    models = pd.DataFrame(shipped_models(paths.weights)).set_index("model")
    columns += [models.index.name, *models.columns]
    columns += [key for values in manifest["timings"].values() for key in values]
    sections = "".join(
        f"<details><summary>{html.escape(f.stem)}</summary>{metrics_html(json.loads(f.read_text()))}</details>"
        for f in sorted((out_dir / "metrics").glob("*.json"))
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>fpnb report ({profile.name})</title><style>{STYLE}</style></head><body>
<h1>fpnb report: profile <code>{profile.name}</code></h1>
<p>All numbers come from the study's own synthetic data (SFinGe-style master prints with
ChaLearn-style degradations), not from ChaLearn LAP 2018 or NIST; they are not comparable
with those leaderboards. Intervals are 95 % bootstrap intervals over fingers; each column is defined
<a href="#definitions">below the tables</a>.</p>
<p>Built from commit <code>{html.escape((manifest['git_commit'] or 'unknown')[:10])}</code>
({tree}),
{html.escape(manifest['precision'])} precision, on {html.escape(str(manifest['device']['cpu_model']))}
× {manifest['device']['cpu_count']} cores.</p>
{_warning_html(problems, manifest['git_commit'])}
{stages}
{f'<section><h2>Other headline tables</h2>{others}</section>' if others else ''}
<h2>Shipped models</h2><p>Every model card under <code>weights/</code>: what a rebuild of this report reuses
instead of training (a model is reused only for the profile its card names).</p>{table_html(display_frame(models))}
<h2 id="definitions">Definitions</h2>{_definitions_html(columns)}
<h2>Notebooks</h2>{_runs_html(stems, wall_seconds, out_dir, manifest['seeds'], problems)}
<h2>Timings on this machine</h2>{timings_html(manifest['timings'])}
<h2>Each notebook's numbers</h2>{sections}
<h2>Run manifest</h2>{_manifest_html(manifest)}
</body></html>
"""
    index = out_dir / "index.html"
    index.write_text(page)
    return index
