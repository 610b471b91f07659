"""Running the numbered notebooks with papermill, in dependency order, and exporting their HTML."""
from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from fpnb.config import paths
from fpnb.report.provenance import BUILT_FORMAT, BUILT_META, COMMIT_META, SEED_META, git_state, notebook_seed

# the notebook that builds the dataset: every later notebook starts after it
DATA_NOTEBOOK = "01"


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
            on_done: Callable[[NotebookRun, float], None] = lambda run, seconds: None,
            longest: dict[str, float] | None = None) -> dict[str, float]:
    """Execute ``runs`` (``execute_one(run)`` returns its wall seconds), ``jobs`` at a time in separate processes,
    each once its prerequisites among ``runs`` have finished; returns seconds by stem.

    Among the runs ready to start, those that took longest last time (``longest``: seconds by stem, e.g. the
    last build's ``wall_seconds.json``) go first, so a long chain starts early; list order otherwise.
    Side by side, each run (and the kernel it starts) is pinned to its own share of the cores (``_pinned``), so
    that torch, TensorFlow and Dask size their threads to it instead of each taking every core: two 2-thread
    notebooks on 2 cores ran 3.7x slower than one. The data notebook, which every later one reads, runs alone
    on every core.

    A failure stops new starts, lets the running notebooks finish and raises it.
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from multiprocessing import get_context

    needs = {run.stem: prerequisites(run, runs) for run in runs}
    done: dict[str, float] = {}
    jobs = min(jobs, len(runs))  # a single run keeps every core
    if jobs <= 1:
        for run in runs:
            if not needs[run.stem] <= done.keys():
                missing = sorted(needs[run.stem] - done.keys())
                raise ValueError(f"{run.stem} is listed before its prerequisites {missing}")
            on_start(run)
            done[run.stem] = execute_one(run)
            on_done(run, done[run.stem])
        return done
    last = longest or {}
    pending, running = sorted(runs, key=lambda run: -last.get(run.stem, 0.0)), {}
    cores = sorted(os.sched_getaffinity(0))
    free = [tuple(cores[k::jobs] or cores) for k in range(jobs)]  # more jobs than cores: some share one
    held: dict = {}  # future -> the shares its run holds
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        while pending or running:
            for run in [r for r in pending if needs[r.stem] <= done.keys()]:
                alone = run.source.name.startswith(DATA_NOTEBOOK)
                if not free or alone and len(free) < jobs:
                    break  # no share free, or the data notebook waits for every core
                shares = free[:] if alone else [free[0]]
                del free[:len(shares)]
                pending.remove(run)
                on_start(run)
                future = pool.submit(_pinned, execute_one, run, sorted({c for share in shares for c in share}))
                running[future], held[future] = run, shares
            if not running:
                raise ValueError(f"prerequisites never met: {[run.stem for run in pending]}")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                run = running.pop(future)
                free.extend(held.pop(future))
                try:
                    done[run.stem] = future.result()
                except BaseException:
                    pending.clear()  # no new starts; leaving the block waits for the running ones
                    raise
                on_done(run, done[run.stem])
    return done


def _pinned(execute_one: Callable[[NotebookRun], float], run: NotebookRun, cores: list[int]) -> float:
    """``execute_one(run)`` in this worker process pinned to ``cores`` (the kernel it starts inherits them)."""
    os.sched_setaffinity(0, cores)
    return execute_one(run)


def execute(run: NotebookRun, profile: str, out_dir: Path, retrain: bool = False,
            settings: dict | None = None) -> float:
    """Execute one run with papermill into ``out_dir``, stamp its commit and export its HTML; returns wall seconds.

    ``settings`` (name: value) go to the notebook where its parameters cell declares the name.
    """
    import papermill

    declared = papermill.inspect_notebook(str(run.source))
    unknown = sorted(set(run.parameters) - set(declared))
    if unknown:
        raise ValueError(f"{run.source.name}: run parameters {unknown} are not in its parameters cell "
                         f"(declared: {sorted(declared)})")
    # the report's own settings go to every notebook that declares them
    given = {"profile": profile, "interactive": False, "retrain": retrain, **(settings or {})}
    params = {k: v for k, v in given.items() if k in declared}
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
