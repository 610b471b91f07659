"""The experiments page: one row per record that a script of ``experiments/`` wrote under
``reports/<profile>/experiments/``: the question it asked, the command that wrote it and its result.

Each script puts ``record_fields`` (its ``QUESTION`` and the command that ran it) into its JSON record;
the ``result``, a sentence that reads the numbers, is written into the record by hand once they are judged.
"""
from __future__ import annotations

import html
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from fpnb.config import paths
from fpnb.report.formatting import STYLE, metrics_html

PAGE = "experiments.html"
TEXT_FIELDS = ("question", "command", "result")  # shown in the row; every other field is a number or detail
PAGE_STYLE = STYLE + """
table.experiments td{vertical-align:top}
table.experiments td:first-child{width:18%}
table.experiments td:nth-child(2){width:27%}
table.experiments code{font-size:13px;overflow-wrap:break-word}"""


def record_fields(script: str | Path, question: str, argv: Sequence[str] | None = None) -> dict[str, str]:
    """A record's ``question`` (the script's ``QUESTION``) and ``command`` (how the script was called: ``argv``,
    default the process's arguments)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    return {"question": question, "command": shlex.join(["python", f"experiments/{Path(script).name}", *arguments])}


def shown_path(path: Path) -> str:
    """A path as a record shows it: from the repository root when it lies inside it (a test's lies elsewhere)."""
    return str(path.relative_to(paths.root) if path.is_relative_to(paths.root) else path)


def experiment_records(profile_dir: Path) -> dict[str, dict]:
    """The JSON records under ``<profile_dir>/experiments/``, by file name."""
    return {path.name: json.loads(path.read_text()) for path in sorted((profile_dir / "experiments").glob("*.json"))}


def _row(name: str, record: dict) -> str:
    question, command, result = (html.escape(record.get(field) or "") for field in TEXT_FIELDS)
    figures = ", ".join(f'<a href="experiments/{html.escape(f)}">{html.escape(f)}</a>'
                        for f in record.get("figures", []))
    return (f"<tr><td>{question or 'not recorded'}</td><td><code>{command or 'not recorded'}</code></td>"
            f"<td>{result or 'not judged yet: read the numbers'}"
            + (f"<br>Figures: {figures}" if figures else "")
            + f'<br><a href="#{html.escape(name)}">Numbers</a> (<a href="experiments/{html.escape(name)}">'
            f"{html.escape(name)}</a>)</td></tr>")


def _numbers(name: str, record: dict) -> str:
    numbers = {k: v for k, v in record.items() if k not in TEXT_FIELDS and k != "figures"}
    return (f'<details id="{html.escape(name)}"><summary>{html.escape(name)}: '
            f"{html.escape(record.get('question') or '')}</summary>{metrics_html(numbers)}</details>")


def build_experiments_page(profile_dir: Path) -> Path | None:
    """Write ``experiments.html`` beside the index from the profile's experiment records; None (and no page)
    when there are none."""
    page = profile_dir / PAGE
    records = experiment_records(profile_dir)
    if not records:
        page.unlink(missing_ok=True)
        return None
    rows = "".join(_row(name, record) for name, record in records.items())
    numbers = "".join(_numbers(name, record) for name, record in records.items())
    page.write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>fpnb experiments ({html.escape(profile_dir.name)})</title><style>{PAGE_STYLE}</style></head><body>
<h1>Experiments: <code>{html.escape(profile_dir.name)}</code></h1>
<p>One-off studies run by the scripts in <code>experiments/</code>, outside the notebooks: each asks one design
question, and its record (under <code>experiments/</code> beside this page) keeps the numbers. They are not rebuilt
with the report; rerun a command to measure again. <a href="index.html">Back to the report</a>.</p>
<table class="experiments"><tr><th>question</th><th>command</th><th>result</th></tr>{rows}</table>
<h2>Numbers</h2><p>Each record's numbers, as its script wrote them.</p>{numbers}
</body></html>
""")
    return page
