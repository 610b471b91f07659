"""Public sets of real prints the study is judged on but does not ship: copied into ``data/real/<name>`` on request.

A profile names the set its notebooks read (``Profile.real_set``); ``resolve_real_set`` finds it, fetches it
once when missing, and else falls back to the 3-print fixture, saying so (``RealPrints.notice``) and naming the
results it gives apart (``RealPrints.result_name``), so that they never replace the committed ones.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from fpnb.config import Profile, paths
from fpnb.data.datasets import REAL_FIXTURE, load_print_folder

FIXTURE = "fixture"  # Profile.real_set of the 3-print fixture in tests/data (REAL_FIXTURE)
FETCH_ENV = "FPNB_REAL_FETCH"  # "0": resolve_real_set does not fetch (the report's kernels: the report fetched)
FETCH_TIMEOUT_S = 20  # a clone of a toy set takes seconds; without GitHub, git fails at once or this stops it


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


def fetch_real_set(name: str, source: str | Path | None = None, root: Path | None = None,
                   timeout: float | None = None) -> Path:
    """Copy a set's prints into ``root`` (default ``real_set_dir(name)``) and return that folder.

    From ``source``, a folder already holding its prints (e.g. a clone's ``db/PNG``), or else by a
    shallow git clone of its repository (needs access to GitHub; never asks for credentials; ``timeout``
    seconds at most). ``SOURCE.json``, written last beside the prints, records the repository, folder,
    licence, commit (when cloned) and the sha256 of the prints.
    """
    if name not in REAL_SETS:
        raise ValueError(f"real set: unknown {name!r}, expected one of {tuple(REAL_SETS)}")
    spec = REAL_SETS[name]
    root = Path(root) if root else real_set_dir(name)
    with tempfile.TemporaryDirectory() as tmp:
        commit = None
        if source is None:
            subprocess.run(["git", "clone", "--depth", "1", spec.url, tmp], check=True, capture_output=True,
                           timeout=timeout, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
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


@dataclass(frozen=True)
class RealPrints:
    """The real prints a run reads: ``folder``, the set's ``name`` (``FIXTURE`` or a key of ``REAL_SETS``), the
    set its profile ``wanted``, and whether this is the fixture in its place (``fallback``) and why."""

    folder: Path
    name: str
    wanted: str
    fallback: bool = False
    reason: str = ""

    def result_name(self, name: str) -> str:
        """The name of a table or metrics file of real-print results: ``name`` for the profile's own set,
        ``<name>-fixture`` in a fallback, which leaves the committed results of the wanted set as they are."""
        return result_name(name, self.record())

    def notice(self) -> str:
        """One paragraph for a notebook or a page on a fallback; "" otherwise."""
        if not self.fallback:
            return ""
        return (f"Real prints: this run uses the {self.name} ({REAL_FIXTURE.name}, 3 prints) in place of "
                f"{self.wanted}, which its profile reads: {self.reason}. Its real-print results are saved under "
                f"names ending in -{self.name}; the committed {self.wanted} results are left as they are. "
                f"To use {self.wanted}: python tasks.py real-prints, then rebuild.")

    def record(self) -> dict:
        """What a build's manifest keeps: ``{"wanted", "used", "fallback", "reason"}``."""
        return {"wanted": self.wanted, "used": self.name, "fallback": self.fallback, "reason": self.reason}


def result_name(name: str, record: dict) -> str:
    """``name`` of a real-print result as written by a run whose real prints ``record`` describes
    (``RealPrints.record``, a manifest's ``real_set``): ``<name>-<set used>`` in a fallback."""
    return f"{name}-{record['used']}" if record.get("fallback") else name


def resolve_real_set(profile: Profile, fetch: bool | None = None) -> RealPrints:
    """The real prints ``profile`` reads (``Profile.real_set``): the fixture, or ``data/real/<name>`` when a
    complete copy is there (its ``SOURCE.json``), else fetched now (``fetch_real_set``, once: a copy that
    arrives is used from then on), else the fixture with ``fallback=True`` and the reason.

    ``fetch`` None: fetch unless ``$FPNB_REAL_FETCH`` is "0" (the report fetches before its notebooks start,
    and they then use what is there, as its manifest records).
    """
    wanted = profile.real_set
    if wanted == FIXTURE:
        return RealPrints(REAL_FIXTURE, FIXTURE, FIXTURE)
    if wanted not in REAL_SETS:
        raise ValueError(f"real_set: unknown {wanted!r}, expected {FIXTURE!r} or one of {tuple(REAL_SETS)}")
    folder = real_set_dir(wanted)
    if (folder / "SOURCE.json").exists():
        return RealPrints(folder, wanted, wanted)
    where = folder.relative_to(paths.root) if folder.is_relative_to(paths.root) else folder
    if not (os.environ.get(FETCH_ENV) != "0" if fetch is None else fetch):
        reason = f"{where} is missing"
    else:
        try:
            return RealPrints(fetch_real_set(wanted, timeout=FETCH_TIMEOUT_S), wanted, wanted)
        except subprocess.CalledProcessError as err:
            detail = ((err.stderr or b"").decode(errors="replace").strip().splitlines() or ["no message"])[-1]
            reason = f"{where} is missing and git clone {REAL_SETS[wanted].url} failed ({detail})"
        except subprocess.TimeoutExpired:
            reason = f"{where} is missing and git clone {REAL_SETS[wanted].url} took over {FETCH_TIMEOUT_S} s"
        except OSError as err:  # no git, or a clone without the set's folder
            reason = f"{where} is missing and could not be fetched ({err})"
    return RealPrints(REAL_FIXTURE, FIXTURE, wanted, fallback=True, reason=reason)
