"""Rebuilding the report: run the numbered notebooks with papermill, export HTML, write the index."""
from __future__ import annotations

import html
import importlib.metadata
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fpnb.config import Profile, get_profile, paths

KEY_PACKAGES = (
    "fpnb", "tensorflow-cpu", "keras", "torch", "numpy", "scikit-image", "opencv-python-headless",
    "pandas", "matplotlib", "papermill", "nbval", "nbis-py", "fingerprint-recognition",
)


class NotebookFailed(RuntimeError):
    """A notebook of the report raised; the message names the notebook and the cell."""


@dataclass(frozen=True)
class NotebookRun:
    """One execution of one notebook: its source, its parameters and the output stem."""

    source: Path
    parameters: dict

    @property
    def stem(self) -> str:
        extra = "".join(f"_{k}-{v}" for k, v in sorted(self.parameters.items()))
        return self.source.stem + extra


def _numbered_notebooks(notebooks_dir: Path | None = None) -> list[tuple[Path, dict]]:
    """Every ``NN_*.ipynb`` in order with its ``metadata.fpnb`` (runs, headline tables)."""
    return [(nb_path, json.loads(nb_path.read_text()).get("metadata", {}).get("fpnb", {}))
            for nb_path in sorted((notebooks_dir or paths.notebooks).glob("[0-9][0-9]_*.ipynb"))]


def headline_tables(notebooks_dir: Path | None = None) -> list[str]:
    """Summary tables for the index, in notebook order: each notebook's ``metadata.fpnb.headline`` names."""
    return [name for _, meta in _numbered_notebooks(notebooks_dir) for name in meta.get("headline", [])]


def discover(notebooks_dir: Path | None = None, only: str | None = None) -> list[NotebookRun]:
    """The runs of every ``NN_*.ipynb`` in order; a notebook's ``metadata.fpnb.runs`` repeats it."""
    notebooks_dir = notebooks_dir or paths.notebooks
    runs = []
    for nb_path, meta in _numbered_notebooks(notebooks_dir):
        if only is not None and not nb_path.name.startswith(only):
            continue
        for params in meta.get("runs", [{}]):
            runs.append(NotebookRun(nb_path, dict(params)))
    if only is not None and not runs:
        raise FileNotFoundError(f"no notebook {only}_*.ipynb in {notebooks_dir}")
    return runs


def execute(run: NotebookRun, profile: str, out_dir: Path, retrain: bool = False) -> float:
    """Execute one run with papermill into ``out_dir`` and export its HTML; returns wall seconds."""
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
    export_html(out_nb)
    return seconds


def export_html(notebook: Path) -> Path:
    """Write ``notebook``'s HTML beside it, figures embedded."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(embed_images=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    out = notebook.with_suffix(".html")
    out.write_text(body)
    return out


def environment_manifest() -> dict:
    """Package versions, git commit, machine and accelerators of this run."""
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=paths.root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "git_commit": commit,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
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


def _metrics_table(metrics: dict) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in sorted(metrics.items())
    )
    return f"<table>{rows}</table>"


def _interval(value):
    """A CSV cell holding a ``[lo, hi]`` or ``(lo, hi)`` interval, shown as ``lo–hi``; other cells unchanged."""
    if isinstance(value, str) and value[:1] in "[(" and value[-1:] in "])" and value.count(",") == 1:
        lo, hi = (float(v) for v in value[1:-1].split(","))
        return f"{lo:.4g}–{hi:.4g}"
    return value


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)[:300]
    return str(value)


def build_index(profile: str | Profile, wall_seconds: dict[str, float], out_dir: Path | None = None,
                notebooks_dir: Path | None = None) -> Path:
    """Write ``reports/<profile>/index.html``: links, the notebooks' headline tables, each notebook's
    metrics, the run manifest."""
    profile = get_profile(profile) if isinstance(profile, str) else profile
    out_dir = out_dir or paths.report_dir(profile)
    (out_dir / "tables").mkdir(exist_ok=True)
    manifest = {
        "profile": profile.name,
        "settings": profile.__dict__,
        "wall_seconds": wall_seconds,
        "built": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        **environment_manifest(),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    links = "".join(
        f'<li><a href="{html.escape(stem)}.html">{html.escape(stem)}</a> '
        f"({seconds:.0f} s)</li>"
        for stem, seconds in wall_seconds.items()
    )
    headline = "".join(
        f"<h3>{html.escape(name)}</h3>"
        f"{pd.read_csv(f, index_col=0).map(_interval).to_html(float_format=lambda v: f'{v:.4g}', border=0)}"
        for name in headline_tables(notebooks_dir) if (f := out_dir / "tables" / f"{name}.csv").exists()
    )
    sections = "".join(
        f"<h2>{html.escape(f.stem)}</h2>{_metrics_table(json.loads(f.read_text()))}"
        for f in sorted((out_dir / "metrics").glob("*.json"))
    )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>fpnb report ({profile.name})</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}}</style>
</head><body>
<h1>fpnb report: profile <code>{profile.name}</code></h1>
<p>All numbers come from the study's own synthetic data (SFinGe-style masters with
ChaLearn-style degradations), not from ChaLearn LAP 2018 or NIST; they are not comparable
with those leaderboards.</p>
<h2>Notebooks</h2><ul>{links}</ul>
<h2>Headline tables</h2>{headline}
<h2>Each notebook's numbers</h2>
{sections}
<h2>Run manifest</h2><pre>{html.escape(json.dumps(manifest, indent=2, default=str))}</pre>
</body></html>
"""
    index = out_dir / "index.html"
    index.write_text(page)
    return index
