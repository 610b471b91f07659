"""Rebuilding the report: run the numbered notebooks with papermill, export HTML, write the index.

The index is the study's product for most readers: one self-contained page with a key figure and
a conclusion generated from the metrics per stage, the headline tables in readable units, the
definition of every column shown, and a check that every notebook's HTML comes from this build.

Modules: ``runner`` (papermill runs in dependency order, HTML export), ``provenance`` (commit, seeds,
machine, stale pages), ``formatting`` (headers, units, intervals, tables), ``conclusions`` and
``index`` (the page).
"""
from fpnb.report.index import build_index
from fpnb.report.provenance import accelerators, environment_manifest, git_state
from fpnb.report.runner import NotebookFailed, NotebookRun, discover, execute, headline_tables, run_all

__all__ = ["NotebookFailed", "NotebookRun", "accelerators", "build_index", "discover", "environment_manifest",
           "execute", "git_state", "headline_tables", "run_all"]
