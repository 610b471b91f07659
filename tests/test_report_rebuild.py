"""The issue's "rebuild the smoke report twice" check: the same code and weights give the same numbers.

Builds the smoke report twice (``invoke report --profile smoke``, as ``python tasks.py report`` does) and
requires every metrics file and table of the second build to equal the first's byte for byte. Timings,
which vary from run to run, live in ``timings.json`` and ``wall_seconds.json`` and are not compared.
Slow: two smoke builds, several minutes each.
"""
import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "smoke"
COMPARED = ("metrics", "tables")
BUILD_TIMEOUT_S = 3600


def _tracked_changes() -> list[str]:
    """``git status`` of tracked files outside reports/ (which the build writes)."""
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)reports"],
                          cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines()


def _build(number: int) -> None:
    env = {**os.environ, "FPNB_PROFILE": "smoke"}
    done = subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(ROOT), "report", "--profile", "smoke", "--jobs", "2"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    assert done.returncode == 0, f"smoke build {number} failed:\n{(done.stdout + done.stderr)[-4000:]}"


def _files(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}


def _difference(name: str, first: bytes, second: bytes) -> str:
    first_lines, second_lines = first.decode(errors="replace").splitlines(), second.decode(errors="replace").splitlines()
    lines = difflib.unified_diff(first_lines, second_lines, f"first/{name}", f"second/{name}", n=0, lineterm="")
    return "\n".join(list(lines)[:12])


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs git and the repository's .git folder (the check compares git status)")
def test_rebuilding_the_smoke_report_reproduces_every_metric_and_table(tmp_path):
    before = _tracked_changes()
    _build(1)
    for folder in COMPARED:
        shutil.copytree(REPORT / folder, tmp_path / folder)
    _build(2)
    assert _tracked_changes() == before, "the builds changed tracked files outside reports/"
    for folder in COMPARED:
        first, second = _files(tmp_path / folder), _files(REPORT / folder)
        assert first, f"the build wrote nothing under reports/smoke/{folder}"
        assert sorted(first) == sorted(second), f"reports/smoke/{folder}: the two builds wrote different files"
        changed = [name for name in first if first[name] != second[name]]
        assert not changed, (f"reports/smoke/{folder}: {len(changed)} files differ between two builds of the same "
                             "code:\n" + "\n".join(_difference(n, first[n], second[n]) for n in changed))
