"""Does a rebuild reproduce the committed report? Its metrics and tables against ``git show <ref>:<path>``.

A value with a 95 % interval beside it (``x_ci`` or ``x_ci95`` next to ``x``: a ``[lo, hi]`` list, or a
``"[lo, hi]"`` cell of a CSV table) passes when the rebuilt value lies inside the committed interval; any other
number when the two agree to ``DIGITS`` significant digits; anything else (text, flags) when it is equal.
An interval itself passes when it overlaps the committed one. A metric, column, row or file on one side only is
named too. Timings (``timings.json``, ``wall_seconds.json``), HTML and the build's environment
(``metrics/00_environment.json``: commit and machine) are not compared, nor the cells of per-item tables
(``PER_ITEM``: one row per image, pair or edit), whose means are the metrics.
"""
from __future__ import annotations

import fnmatch
import io
import json
import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fpnb.data.real_sets import result_name
from fpnb.report.formatting import interval_of

DIGITS = 3
ABS_TOL = 1e-9  # numbers this close agree whatever their digits (0 against float noise such as 1e-17)
INTERVAL_SUFFIXES = ("_ci", "_ci95")
SKIPPED = ("metrics/00_environment.json",)  # the commit and machine of the build, not a result
# one row per test image (a model's tables, named by the run), pair, print or edit: another CPU's kernels move
# single items (a minutia found or not, a score by a point), so only their presence is checked
PER_ITEM = ("tables/[!0-9]*.csv", "tables/05_ceiling.csv", "tables/06_variation.csv", "tables/07_generated.csv",
            "tables/07_masters.csv", "tables/08_edits.csv")
SEP = " › "


@dataclass(frozen=True)
class Finding:
    """One value (``key`` inside ``file``) that moved, or that only one side has."""

    file: str  # relative to the report folder: metrics/x.json, tables/x.csv
    key: str  # "matchers › bozorth3 › eer", "unet_tuned › ssim"; "" for the whole file
    why: str
    committed: Any = None
    rebuilt: Any = None

    def __str__(self) -> str:
        where = self.file + (SEP + self.key if self.key else "")
        values = []
        if self.committed is not None:
            values.append(f"committed {_shown(self.committed)}")
        if self.rebuilt is not None:
            values.append(f"rebuilt {_shown(self.rebuilt)}")
        return f"{where}: {self.why}" + (f" ({', '.join(values)})" if values else "")


@dataclass
class Check:
    """What ``check_report`` compared and found; ``notes`` say what it left out and why."""

    report_dir: Path
    ref: str
    commit: str | None = None
    compared: list[str] = field(default_factory=list)
    per_item: list[str] = field(default_factory=list)  # PER_ITEM tables present on both sides
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str) if isinstance(value, (dict, list, tuple)) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _number(value: Any) -> float | None:
    """A plain number as float (numpy scalars too); None for flags, text, lists and missing values."""
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def agrees(committed: Any, rebuilt: Any, digits: int = DIGITS) -> bool:
    """Whether two values agree: numbers to ``digits`` significant digits (within half a unit of the last one,
    or ``ABS_TOL``), missing values (None, NaN) with each other, anything else when equal."""
    committed, rebuilt = _plain(committed), _plain(rebuilt)
    if _missing(committed) or _missing(rebuilt):
        return _missing(committed) and _missing(rebuilt)
    a, b = _number(committed), _number(rebuilt)
    if a is None or b is None:  # a flag is not the number 1
        return isinstance(committed, bool) == isinstance(rebuilt, bool) and committed == rebuilt
    if a == b:
        return True
    if math.isinf(a) or math.isinf(b):
        return False
    unit = 10.0 ** (math.floor(math.log10(max(abs(a), abs(b)))) - digits + 1)
    return abs(a - b) <= max(unit / 2, ABS_TOL)


def value_moved(committed: Any, rebuilt: Any, interval: tuple[float, float] | None = None) -> str | None:
    """Why a rebuilt value is not the committed one, None when it passes: inside the committed 95 % ``interval``
    where there is one, else agreeing to ``DIGITS`` significant digits."""
    if agrees(committed, rebuilt):
        return None
    value = _number(rebuilt)
    if interval is not None and value is not None:
        if interval[0] <= value <= interval[1]:
            return None
        return f"outside the committed 95 % interval [{interval[0]:.4g}, {interval[1]:.4g}]"
    if _number(committed) is not None and value is not None:
        return f"differs in its first {DIGITS} significant digits"
    return "changed"


def interval_moved(committed: Any, rebuilt: Any) -> str | None:
    """Why a rebuilt 95 % interval is not the committed one, None when the two overlap (or both are missing)."""
    old, new = interval_of(committed), interval_of(rebuilt)
    if old is None or new is None:
        return None if agrees(committed, rebuilt) else "changed"
    return None if old[0] <= new[1] and new[0] <= old[1] else "interval no longer overlaps the committed one"


def _is_interval_key(key: Any) -> bool:
    return isinstance(key, str) and key.endswith(INTERVAL_SUFFIXES)


def _interval_beside(values: dict, key: Any) -> tuple[float, float] | None:
    """The committed 95 % interval of ``values[key]``: ``values[key + "_ci"]`` (or ``_ci95``) as an interval."""
    return next((found for suffix in INTERVAL_SUFFIXES
                 if (found := interval_of(values.get(f"{key}{suffix}"))) is not None), None)


def compare_metrics(committed: dict, rebuilt: dict, file: str = "") -> list[Finding]:
    """Every metric of ``committed`` (nested dicts and lists walked) that moved in ``rebuilt``, or is missing
    there, and every metric only ``rebuilt`` has."""
    findings: list[Finding] = []

    def walk(old: Any, new: Any, path: list[str], interval: tuple[float, float] | None = None) -> None:
        key = SEP.join(path)
        if isinstance(old, dict) and isinstance(new, dict):
            for name in list(old) + [n for n in new if n not in old]:
                if name not in new:
                    findings.append(Finding(file, SEP.join([*path, str(name)]), "missing", committed=old[name]))
                elif name not in old:
                    findings.append(Finding(file, SEP.join([*path, str(name)]), "new", rebuilt=new[name]))
                elif _is_interval_key(name) and interval_of(old[name]) is not None:
                    why = interval_moved(old[name], new[name])
                    if why:
                        findings.append(Finding(file, SEP.join([*path, name]), why, old[name], new[name]))
                else:
                    walk(old[name], new[name], [*path, str(name)], _interval_beside(old, name))
        elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
            for i, (a, b) in enumerate(zip(old, new)):
                walk(a, b, [*path, f"[{i}]"])
        elif isinstance(old, (dict, list)) or isinstance(new, (dict, list)):
            if old != new:
                findings.append(Finding(file, key, "changed", old, new))
        elif why := value_moved(old, new, interval):
            findings.append(Finding(file, key, why, old, new))

    walk(committed, rebuilt, [])
    return findings


def _rows(table: pd.DataFrame, by_label: bool) -> dict[str, pd.Series]:
    """Rows by the label in their first column (the saved index), else by position."""
    if by_label:
        return {str(label): row for label, (_, row) in zip(table.iloc[:, 0], table.iterrows())}
    return {f"row {i}": row for i, (_, row) in enumerate(table.iterrows())}


def _labelled(table: pd.DataFrame) -> bool:
    return table.shape[1] > 1 and table.iloc[:, 0].astype(str).is_unique


def compare_tables(committed: pd.DataFrame, rebuilt: pd.DataFrame, file: str = "") -> list[Finding]:
    """Every cell of ``committed`` (a CSV table read without an index) that moved in ``rebuilt``; columns and
    rows only one of them has. Rows match by their first column's label (the saved index) where it is unique."""
    findings = [Finding(file, str(c), "missing column") for c in committed.columns if c not in rebuilt.columns]
    findings += [Finding(file, str(c), "new column") for c in rebuilt.columns if c not in committed.columns]
    by_label = _labelled(committed) and _labelled(rebuilt) and committed.columns[0] == rebuilt.columns[0]
    columns = [c for c in committed.columns[int(by_label):] if c in rebuilt.columns]
    old_rows, new_rows = _rows(committed, by_label), _rows(rebuilt, by_label)
    findings += [Finding(file, label, "missing row") for label in old_rows if label not in new_rows]
    findings += [Finding(file, label, "new row") for label in new_rows if label not in old_rows]
    for label, old in old_rows.items():
        if label not in new_rows:
            continue
        new = new_rows[label]
        for column in columns:
            if _is_interval_key(column):
                why = interval_moved(old[column], new[column])
            else:
                why = value_moved(old[column], new[column], _interval_beside(old, column))
            if why:
                findings.append(Finding(file, f"{label}{SEP}{column}", why, _plain(old[column]), _plain(new[column])))
    return findings


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 else value


def compare_file(name: str, committed: str, rebuilt: str) -> list[Finding]:
    """``compare_metrics`` or ``compare_tables`` on the two texts of ``name`` (``metrics/x.json``, ``tables/x.csv``)."""
    if name.endswith(".json"):
        return compare_metrics(json.loads(committed), json.loads(rebuilt), name)
    return compare_tables(pd.read_csv(io.StringIO(committed)), pd.read_csv(io.StringIO(rebuilt)), name)


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout


def check_report(report_dir: Path, ref: str = "HEAD") -> Check:
    """Compare every ``metrics/*.json`` and ``tables/*.csv`` of ``report_dir`` in the work tree with its version
    at ``ref`` (``git show``). New files are findings, except the fixture's real-print results of a build that
    fell back (its ``manifest.json``'s ``real_set``), which are noted."""
    report_dir = Path(report_dir).resolve()
    here = next(folder for folder in (report_dir, *report_dir.parents) if folder.is_dir())  # a deleted report too
    root = Path(_git(here, "rev-parse", "--show-toplevel").strip())
    prefix = report_dir.relative_to(root).as_posix()
    check = Check(report_dir, ref, _git(root, "rev-parse", "--short", ref).strip())
    listed = _git(root, "ls-tree", "-r", "--name-only", ref, "--", f"{prefix}/metrics", f"{prefix}/tables")
    committed = {path[len(prefix) + 1:] for path in listed.splitlines()
                 if path.endswith((".json", ".csv")) and path.count("/") == prefix.count("/") + 2}
    # a file renamed since ref (renumbered notebooks; staged, so git sees it) is compared with its old self
    renames = {new[len(prefix) + 1:]: old[len(prefix) + 1:] for status, old, new in (
        line.split("\t") for line in _git(root, "diff", "--find-renames", "--name-status", ref, "--",
                                           f"{prefix}/metrics", f"{prefix}/tables").splitlines()
        if line.startswith("R"))}
    rebuilt = {f"{folder}/{f.name}" for folder, ext in (("metrics", "json"), ("tables", "csv"))
               for f in (report_dir / folder).glob(f"*.{ext}")}
    manifest = report_dir / "manifest.json"
    real = (json.loads(manifest.read_text()).get("real_set") or {}) if manifest.exists() else {}
    fallback = result_name("*", real) if real.get("fallback") else None
    if fallback:
        check.notes.append(f"this build read the {real['used']} in place of {real['wanted']} ({real.get('reason')}): "
                           f"the committed {real['wanted']} results were left as they are, not rebuilt")
    for name in sorted(committed - set(renames.values()) | rebuilt):
        if name in SKIPPED:
            continue
        before = renames.get(name, name)
        if name not in rebuilt:
            check.findings.append(Finding(name, "", "missing file"))
        elif before not in committed:
            if fallback and fnmatch.fnmatch(Path(name).stem, fallback):
                check.notes.append(f"{name}: the {real['used']}'s results, not compared")
            else:
                check.findings.append(Finding(name, "", "new file"))
        elif any(fnmatch.fnmatch(name, pattern) for pattern in PER_ITEM):
            check.per_item.append(name)
        else:
            check.compared.append(name if before == name else f"{name} (was {before})")
            check.findings += compare_file(name, _git(root, "show", f"{ref}:{prefix}/{before}"),
                                           (report_dir / name).read_text())
    return check


def format_check(check: Check) -> str:
    """The check for reading: what was compared, every finding one a line, the notes."""
    try:
        where = check.report_dir.relative_to(Path.cwd())
    except ValueError:
        where = check.report_dir
    lines = [f"{where} against {check.ref} ({check.commit}): {len(check.compared)} files compared, "
             + (f"{len(check.findings)} values moved or differ:" if check.findings else
                f"every metric as committed (intervals, else {DIGITS} significant digits)")]
    lines += [f"  {finding}" for finding in check.findings]
    if check.per_item:
        lines.append(f"note: {len(check.per_item)} per-item tables on both sides, not compared cell by cell "
                     "(their means are the metrics)")
    lines += [f"note: {note}" for note in check.notes]
    return "\n".join(lines)
