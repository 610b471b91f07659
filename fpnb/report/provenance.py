"""Where a build's numbers come from: git state, machine and packages, seeds, and each page's commit."""
from __future__ import annotations

import ast
import calendar
import html
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fpnb.config import Profile, load_timings, paths
from fpnb.precision import device

KEY_PACKAGES = (
    "fpnb", "tensorflow-cpu", "keras", "torch", "numpy", "scikit-image", "opencv-python-headless",
    "pandas", "matplotlib", "papermill", "nbval", "nbis-py", "fingerprint-recognition",
)
# the <meta> names under which a notebook's HTML carries the commit it was built from, when (UTC) and its seed
COMMIT_META = "fpnb-commit"
BUILT_META = "fpnb-built"
SEED_META = "fpnb-seed"
BUILT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


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


def build_manifest(profile: Profile, wall_seconds: dict[str, float], out_dir: Path, started: float | None,
                   real_set: dict | None = None) -> dict:
    """What rebuilding these numbers takes: commit and dirty flag, profile, seeds, data, real prints (``real_set``:
    the set the profile reads and the one used, ``RealPrints.record``; by default as data/ holds them now),
    precision, machine."""
    from fpnb.data.real_sets import resolve_real_set
    from fpnb.precision import resolve

    return {
        "profile": profile.name,
        "settings": dict(profile.__dict__),
        "real_set": real_set or resolve_real_set(profile, fetch=False).record(),
        "precision": resolve(profile),
        "seeds": notebook_seeds(out_dir),
        "data_hash": _data_hash(out_dir),
        "wall_seconds": wall_seconds,
        "timings": load_timings(profile, out_dir),
        "build_started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)) if started else None,
        "built": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        **environment_manifest(),
    }
