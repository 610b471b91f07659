"""Public sets of real prints the study is judged on but does not ship: copied into ``data/real/<name>`` on request."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from fpnb.config import paths
from fpnb.data.datasets import load_print_folder


@dataclass(frozen=True)
class RealSet:
    url: str  # git repository
    folder: str  # the prints inside it, named <finger>_<impression>.<ext>
    licence: str
    description: str


REAL_SETS = {
    "pyfnprint": RealSet("https://github.com/ayaskovets/pyfnprint", "db/PNG", "MIT (copyright 2024 Andrei Yaskovets)",
                         "pyfnprint's toy database: 128 real prints, 16 fingers x 8 impressions, about 500 ppi"),
}


def real_set_dir(name: str) -> Path:
    """Where the set lives once fetched (git-ignored, like all of data/)."""
    return paths.data / "real" / name


def fetch_real_set(name: str, source: str | Path | None = None, root: Path | None = None) -> Path:
    """Copy a set's prints into ``root`` (default ``real_set_dir(name)``) and return that folder.

    From ``source``, a folder already holding its prints (e.g. a clone's ``db/PNG``), or else by a
    shallow git clone of its repository (needs access to GitHub). ``SOURCE.json`` beside the prints
    records the repository, folder, licence, commit (when cloned) and the sha256 of the prints.
    """
    if name not in REAL_SETS:
        raise ValueError(f"real set: unknown {name!r}, expected one of {tuple(REAL_SETS)}")
    spec = REAL_SETS[name]
    root = Path(root) if root else real_set_dir(name)
    with tempfile.TemporaryDirectory() as tmp:
        commit = None
        if source is None:
            subprocess.run(["git", "clone", "--depth", "1", spec.url, tmp], check=True, capture_output=True)
            commit = subprocess.run(["git", "-C", tmp, "rev-parse", "HEAD"], check=True, capture_output=True,
                                    text=True).stdout.strip()
            source = Path(tmp) / spec.folder
        _, files = load_print_folder(source)  # names the folder when it holds no prints
        root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        for file in sorted(files):
            shutil.copyfile(Path(source) / file, root / file)
            digest.update(file.encode() + hashlib.sha256((root / file).read_bytes()).digest())
    record = {"name": name, **asdict(spec), "commit": commit, "n_prints": len(files), "sha256": digest.hexdigest()}
    (root / "SOURCE.json").write_text(json.dumps(record, indent=1) + "\n")
    return root
