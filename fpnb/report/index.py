"""The index page: per stage a key figure, a conclusion and headline tables; definitions; provenance."""
from __future__ import annotations

import base64
import fnmatch
import html
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fpnb.config import TIMINGS_FILE, Profile, get_profile, paths
from fpnb.data.real_sets import result_name
from fpnb.report.conclusions import CONCLUSIONS, HEADLINE_TITLES
from fpnb.report.experiments import build_experiments_page
from fpnb.report.formatting import (DEFINITIONS, STYLE, cell_text, display_frame, display_name, label,
                                    metrics_html, shown_columns, table_html, value_grid)
from fpnb.report.provenance import build_manifest, html_commit, stale_notebooks
from fpnb.report.runner import discover, headline_tables
from fpnb.weights_io import shipped_models

# the index is read at 1,280 px: figures are stored no wider than the page's text column
MAX_FIGURE_PX = 1180


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
    Stage("05", "Restoration", "Which model turns a degraded print back into its clean print, pixels and identity?",
          ("05-comparison*.png", "05-grid*.png")),
    Stage("06", "Synthesis", "Does the StyleGAN2 generate prints close to the masters and as distinct as fingers?",
          ("06-samples*.png",)),
    Stage("07", "Reconstruction", "Can a print be rebuilt from its minutiae through the generator's latent space?",
          ("07-examples*.png",)),
    Stage("08", "Editing", "Which SeFa directions change a print's appearance and keep its identity?",
          ("08-edit-grid*.png",)),
)


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


def headline_frames(names: Iterable[str], tables_dir: Path, real: dict | None = None) -> dict[str, pd.DataFrame]:
    """The headline tables found in ``tables_dir`` by name; where the build's real prints (a manifest's
    ``real_set``) fell back to the fixture, a table's fixture results (``<name>-fixture.csv``) stand in for the
    committed ones of the wanted set. ``attrs["file"]`` is the table's file stem, ``attrs["note"]`` says why
    another file stands in."""
    frames = {}
    for name in names:
        stem = result_name(name, real or {})
        if not (tables_dir / f"{stem}.csv").exists():
            stem = name
        if (tables_dir / f"{stem}.csv").exists():
            frames[name] = pd.read_csv(tables_dir / f"{stem}.csv", index_col=0)
            frames[name].attrs["file"] = stem
            if stem != name:
                frames[name].attrs["note"] = f"on the {real['used']}, not {real['wanted']}"
    return frames


def _headline_html(name: str, table: pd.DataFrame) -> str:
    conclusion = CONCLUSIONS.get(name, lambda _: "")(table)
    note = f" ({table.attrs['note']})" if table.attrs.get("note") else ""
    return (f'<h3 id="{html.escape(name)}">{html.escape(HEADLINE_TITLES.get(name, name) + note)} '
            f"<small>({html.escape(table.attrs.get('file', name))}.csv)</small></h3>"
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
        name = next((n for pattern in stage.figures for n in sorted(previous or {})
                     if fnmatch.fnmatch(n, pattern)), None)
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
    items = {f"{display_name(name)} › {label(key)}": cell_text(key, value)
             for name, values in timings.items() for key, value in values.items()}
    return (f"<p>Speeds the notebooks measured on this build's CPU ({html.escape(TIMINGS_FILE)}). They vary from "
            "run to run and with the machine's load, so they are kept out of the tables and each notebook's "
            "numbers.</p>"
            + value_grid(items))


def _warning_html(problems: dict[str, str], commit: str | None) -> str:
    if not problems:
        return '<p class="ok">Every notebook\'s HTML was built by this build, from this commit.</p>'
    items = "".join(f"<li>{html.escape(stem)}: {html.escape(why)}</li>" for stem, why in problems.items())
    return (f'<div class="warning"><strong>Mixed provenance:</strong> these notebooks\' pages do not come from '
            f"this build of commit {html.escape((commit or 'unknown')[:10])}; their numbers may disagree with "
            f"the tables below.<ul>{items}</ul></div>")


def _real_set_html(real: dict | None, out_dir: Path) -> str:
    """A warning where the build read the fixture in place of its profile's real prints, naming what it wrote."""
    if not (real or {}).get("fallback"):
        return ""
    pattern = f"{result_name('*', real)}.*"
    written = sorted(f"{f.parent.name}/{f.name}" for folder in ("tables", "metrics")
                     for f in (out_dir / folder).glob(pattern))
    items = "".join(f"<li>{html.escape(name)}</li>" for name in written) or "<li>none yet</li>"
    used, wanted = html.escape(real["used"]), html.escape(real["wanted"])
    return (f'<div class="warning"><strong>Real prints: the {used}, not {wanted}.</strong> This profile is judged '
            f"on {wanted}'s real prints, which this build could not read ({html.escape(real.get('reason') or '')}). "
            f"Its real-print results come from the 3-print {used} (a sanity check, not a rate), carry "
            f"<code>-{used}</code> in their names and stand in for the {wanted} results below; the committed "
            f"{wanted} results were left as they are.<ul>{items}</ul>Get the set with "
            "<code>python tasks.py real-prints</code> and rebuild.</div>")


def _real_set_text(real: dict) -> str:
    if not real:
        return "—"
    return f"{real['used']} (in place of {real['wanted']})" if real.get("fallback") else real["used"]


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
        "real prints": _real_set_text(manifest.get("real_set") or {}),
    }
    settings = {k: cell_text(k, v) for k, v in manifest["settings"].items()}
    packages = {k: v or "not installed" for k, v in manifest["packages"].items()}
    return (value_grid(fields) + "<h3>Profile settings</h3>" + value_grid(settings)
            + "<h3>Packages</h3>" + value_grid(packages)
            + '<p>All of it, with the changed files and the seeds: <a href="manifest.json">manifest.json</a>.</p>')


def build_index(profile: str | Profile, wall_seconds: dict[str, float], out_dir: Path | None = None,
                notebooks_dir: Path | None = None, started: float | None = None, real_set: dict | None = None) -> Path:
    """Write ``manifest.json`` and ``index.html``: per stage a key figure, conclusions and headline tables;
    definitions; every notebook's provenance and numbers; the manifest. ``started`` (epoch seconds) is when
    the build began: HTML older than it is flagged. ``real_set``: the real prints the build read
    (``RealPrints.record``; by default as data/ holds them now); a fallback to the fixture is flagged."""
    profile = get_profile(profile) if isinstance(profile, str) else profile
    out_dir = out_dir or paths.report_dir(profile)
    (out_dir / "tables").mkdir(exist_ok=True)
    manifest = build_manifest(profile, wall_seconds, out_dir, started, real_set)
    tree = {None: "unknown work tree", True: "with uncommitted changes", False: "clean work tree"}[manifest["dirty"]]
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    tables = headline_frames(headline_tables(notebooks_dir), out_dir / "tables", manifest.get("real_set"))
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
    experiments = build_experiments_page(out_dir)
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
{_real_set_html(manifest.get('real_set'), out_dir)}
{stages}
{f'<section><h2>Other headline tables</h2>{others}</section>' if others else ''}
{'<h2>Experiments</h2><p>One-off design studies outside the notebooks (their question, command and result): '
 '<a href="experiments.html">experiments.html</a>.</p>' if experiments else ''}
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
