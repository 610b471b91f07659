"""The experiments page: one row per record of experiments/*.py, linked from the index."""
import json
from pathlib import Path

from fpnb.report import build_index
from fpnb.report.experiments import PAGE, build_experiments_page, record_fields

ROOT = Path(__file__).resolve().parents[1]


def _records(folder: Path) -> None:
    folder.mkdir(parents=True)
    judged = {**record_fields("experiments/gan_sweep.py", "Does γ = 0.2 <beat> 10?", ["r1_gamma=10", "--n", "4"]),
              "result": "No: gamma stays 10.", "figures": ["gan_sweep.png"], "n": 400,
              "by_images": {"8000": {"floor_fid": 0.3082}, "24000": {"floor_fid": 0.3082}}}
    (folder / "gan_sweep.json").write_text(json.dumps(judged))
    (folder / "sefa_layers.json").write_text(json.dumps({"question": "Which band?", "command": "python x.py",
                                                         "threshold": 43.0}))


def test_page_has_one_row_per_record_with_question_command_result_and_numbers(tmp_path):
    _records(tmp_path / "experiments")
    page = build_experiments_page(tmp_path).read_text()
    assert page.count("<tr><td>") == 2 and "Does γ = 0.2 &lt;beat&gt; 10?" in page
    assert "<code>python experiments/gan_sweep.py r1_gamma=10 --n 4</code>" in page and "No: gamma stays 10." in page
    assert 'href="experiments/gan_sweep.json"' in page and 'href="experiments/gan_sweep.png"' in page
    assert "not judged yet" in page and "43.0" in page and "{" not in page.split("<body>")[1], "no JSON dumps"


def test_no_records_no_page(tmp_path):
    (tmp_path / PAGE).write_text("stale")
    assert build_experiments_page(tmp_path) is None and not (tmp_path / PAGE).exists()


def test_index_links_the_page_only_when_there_are_records(tmp_path):
    notebooks, out = tmp_path / "notebooks", tmp_path / "out"
    notebooks.mkdir()
    out.mkdir()
    assert "experiments.html" not in build_index("smoke", {}, out, notebooks_dir=notebooks).read_text()
    _records(out / "experiments")
    assert 'href="experiments.html"' in build_index("smoke", {}, out, notebooks_dir=notebooks).read_text()
    assert (out / PAGE).exists()


def test_every_committed_record_says_its_question_command_and_result():
    records = sorted(ROOT.glob("reports/*/experiments/*.json"))
    assert records
    for path in records:
        record = json.loads(path.read_text())
        assert all(record.get(field) for field in ("question", "command", "result")), path
        script = record["command"].split()[1]
        assert record["command"].startswith("python experiments/") and (ROOT / script).exists(), path
