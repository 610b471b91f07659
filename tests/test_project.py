"""House rules of the project: environment files agree, notebooks are clean, the report fails loudly."""
import json
import os
import re

import nbformat
import pytest

from fpnb.config import paths
from fpnb.report import NotebookFailed, NotebookRun, build_index, discover, execute, headline_tables

ROOT = paths.root


def _requirements(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")}


def test_environment_yml_matches_requirements_in():
    env = (ROOT / "environment.yml").read_text()
    pip_lines = {m.group(1) for m in re.finditer(r"^\s+- ([A-Za-z0-9_.-]+==\S+)\s*$", env, re.M)}
    assert pip_lines == _requirements((ROOT / "requirements.in").read_text())


def test_lock_pins_every_requirement_at_the_same_version():
    lock = {}
    for line in _requirements((ROOT / "requirements.lock").read_text()):
        name, version = line.split("==")
        lock[name.lower().replace("_", "-")] = version
    for line in _requirements((ROOT / "requirements.in").read_text()):
        name, version = line.split("==")
        assert lock.get(name.lower()) == version, name
    assert lock["torch"] == "2.13.0"


@pytest.mark.parametrize("notebook", sorted(paths.notebooks.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_is_committed_clean_with_parameters(notebook):
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "clear the outputs"
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged parameters"
    assert "profile = None" in code[0].source
    assert not any(line.startswith("def ") for c in code for line in c.source.splitlines()), \
        "functions belong in fpnb"


def test_discover_repeats_parameterised_notebooks(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["fpnb"] = {"runs": [{"loss": "mse"}, {"loss": "mae"}]}
    nbformat.write(nb, tmp_path / "05_unet.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "01_data.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "scratch.ipynb")
    stems = [run.stem for run in discover(tmp_path)]
    assert stems == ["01_data", "05_unet_loss-mse", "05_unet_loss-mae"]
    assert [run.stem for run in discover(tmp_path, only="05_unet_loss-mae")] == ["05_unet_loss-mae"]
    assert len(discover(tmp_path, only="05")) == 2
    with pytest.raises(FileNotFoundError, match="07"):
        discover(tmp_path, only="07")


def test_broken_notebook_fails_naming_notebook_and_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("profile = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('boom')")]
    source = tmp_path / "03_broken.ipynb"
    nbformat.write(nb, source)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(NotebookFailed, match=r"03_broken\.ipynb failed in cell \d+ \(ValueError: boom\)"):
        execute(NotebookRun(source, {}), "smoke", out_dir)
    executed = json.loads((out_dir / "03_broken.ipynb").read_text())
    assert executed["metadata"]["papermill"]["parameters"] == {"profile": "smoke"}


def test_report_rejects_a_run_parameter_the_notebook_does_not_declare(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("profile = None\nloss = 'mse'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params]
    source = tmp_path / "05_unet.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(ValueError, match=r"05_unet\.ipynb: run parameters \['lose'\]"):
        execute(NotebookRun(source, {"lose": "mae"}), "smoke", tmp_path)
    assert not (tmp_path / "05_unet_lose-mae.ipynb").exists()


def test_index_shows_the_declared_headline_tables_only(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["fpnb"] = {"headline": ["05_comparison"]}
    nbformat.write(nb, tmp_path / "05_comparison.ipynb")
    out = tmp_path / "out"
    (out / "tables").mkdir(parents=True)
    (out / "tables" / "05_comparison.csv").write_text(",ssim,ssim_ci,tar_ci\nunet,0.75,\"[0.7, 0.8]\",\"(0.25, 0.5)\"\n")
    (out / "tables" / "unet.csv").write_text("name,ssim\nimg_0,0.5\n")
    assert headline_tables(tmp_path) == ["05_comparison"]
    page = build_index("smoke", {}, out, notebooks_dir=tmp_path).read_text()
    assert "(05_comparison.csv)" in page and "0.750 (0.700–0.800)" in page and "0.250–0.500" in page
    assert "(unet.csv)" not in page and "img_0" not in page


def _logged_run(run: NotebookRun, log_dir) -> float:
    """A stand-in for ``execute``: records when the run started and ended; ``06`` fails."""
    import time

    start = time.monotonic()
    if run.source.name.startswith("06"):
        raise NotebookFailed(f"{run.source.name} failed in cell 1 (ValueError: boom)")
    time.sleep(0.3)
    (log_dir / run.stem).write_text(f"{start} {time.monotonic()}")
    (log_dir / f"{run.stem}.cores").write_text(" ".join(map(str, sorted(os.sched_getaffinity(0)))))
    return 0.3


def _fake_runs(tmp_path, names):
    after = {"07": ("03", "05"), "09": ("08",)}
    return [NotebookRun(tmp_path / f"{name}.ipynb", {}, after.get(name[:2], ())) for name in names]


def test_parallel_report_starts_each_notebook_after_the_ones_it_reads(tmp_path):
    import functools

    from fpnb.report import run_all

    runs = _fake_runs(tmp_path, ["00_env", "01_data", "03_a", "05_b", "07_c", "08_d", "09_e"])
    started = []
    seconds = run_all(runs, functools.partial(_logged_run, log_dir=tmp_path), jobs=2, on_start=started.append)
    assert set(seconds) == {run.stem for run in runs} and len(started) == len(runs)
    spans = {stem: tuple(map(float, (tmp_path / stem).read_text().split())) for stem in seconds}
    for late, early in [("07_c", "03_a"), ("07_c", "05_b"), ("07_c", "01_data"), ("09_e", "08_d"), ("03_a", "01_data")]:
        assert spans[late][0] >= spans[early][1], f"{late} started before {early} ended"
    for stem, (start, end) in spans.items():  # never more than two at once
        assert sum(s <= start < e for s, e in spans.values()) <= 2, stem
    assert spans["01_data"][0] >= spans["00_env"][1], "the data notebook runs alone"
    cores = os.sched_getaffinity(0)
    shares = {stem: (tmp_path / f"{stem}.cores").read_text() for stem in seconds}
    assert shares.pop("01_data") == " ".join(map(str, sorted(cores))), "the data notebook has every core"
    if len(cores) >= 2:  # every other run pinned to its own half of the cores
        assert len(set(shares.values())) == 2 and all(len(s.split()) == len(cores) // 2 for s in shares.values())


def test_parallel_report_starts_the_longest_ready_notebook_first(tmp_path):
    import functools

    from fpnb.report import run_all

    runs = _fake_runs(tmp_path, ["01_data", "03_a", "05_b", "08_d", "09_e"])
    started = []
    run_all(runs, functools.partial(_logged_run, log_dir=tmp_path), jobs=2, on_start=started.append,
            longest={"08_d": 900.0, "05_b": 100.0})
    order = [run.stem for run in started]
    assert order[0] == "01_data" and order[1:3] == ["08_d", "05_b"], order  # 09_e reads 08_d: it waits


def test_parallel_report_stops_at_a_failed_notebook(tmp_path):
    import functools

    from fpnb.report import run_all

    runs = _fake_runs(tmp_path, ["01_data", "06_fails", "07_reads_it"])
    runs[2] = NotebookRun(runs[2].source, {}, ("06",))
    with pytest.raises(NotebookFailed, match="06_fails.ipynb failed"):
        run_all(runs, functools.partial(_logged_run, log_dir=tmp_path), jobs=2)
    assert (tmp_path / "01_data").exists() and not (tmp_path / "07_reads_it").exists()
    with pytest.raises(ValueError, match="listed before its prerequisites"):
        run_all(runs[::-1], functools.partial(_logged_run, log_dir=tmp_path), jobs=1)
