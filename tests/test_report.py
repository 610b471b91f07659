"""The report index a stranger reads: provenance of every page, honest rates, readable tables at 1,280 px."""
import json
import re
import shutil
import subprocess
import time

import nbformat
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fpnb.report import NotebookRun, build_index, execute, git_state
from fpnb.report.formatting import cell_text, column_groups, display_frame, sig3
from fpnb.report.provenance import COMMIT_META, html_built, html_commit, html_seed, notebook_seeds

BROWSER = shutil.which("chromium-headless-shell") or shutil.which("chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
# a 07 comparison table as builds wrote it before ms_per_image moved to timings.json: old tables still read
WIDE_HEADLINE = (
    ",n,n_identities,ms_per_image,ssim,ssim_ci,psnr,psnr_ci,mae,mae_ci,minutiae_precision,minutiae_precision_ci,"
    "minutiae_recall,minutiae_recall_ci,minutiae_f1,minutiae_f1_ci,same_impression_match,same_impression_match_ci,"
    "n_cross_genuine,n_cross_impostor,cross_impression_tar,cross_impression_tar_ci,params\n"
    'unet_ms_ssim_l1,60,20,85.02,0.82482,"[0.80717, 0.84162]",15.781,"[15.158, 16.398]",0.10668,"[0.0985, 0.1148]",'
    '0.8276,"[0.7963, 0.8554]",0.8347,"[0.7981, 0.8706]",0.8248,"[0.7937, 0.8539]",0.9667,"[0.9166, 1.0]",'
    '60,2484,0.9667,"[0.9166, 1.0]",1945521\n'
    'unet_seed_mse,60,20,104.3,0.74582,"[0.7280, 0.7628]",14.911,"[14.417, 15.417]",0.1345,"[0.1264, 0.1429]",'
    '0.6991,"[0.6610, 0.7350]",0.8491,"[0.8142, 0.8810]",0.7602,"[0.7271, 0.7915]",0.95,"[0.8833, 1.0]",'
    "60,552,,,1083625\n"
)

TIMINGS = {"unet_ms_ssim_l1": {"ms_per_image": 85.02}, "06_stylegan": {"images_per_second": 41.53}}


def _notebook(path, meta=None, source="profile = None\nseed = 3  # the seed"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["fpnb"] = meta or {}
    params = nbformat.v4.new_code_cell(source)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params]
    nbformat.write(nb, path)


def _page(path, commit):
    path.write_text(f'<!DOCTYPE html>\n<html><head><meta name="{COMMIT_META}" content="{commit}"></head></html>')


@pytest.fixture
def study(tmp_path):
    """A fake notebooks folder and report folder: headline tables, metrics, one figure, executed notebooks."""
    notebooks, out = tmp_path / "notebooks", tmp_path / "out"
    notebooks.mkdir()
    for folder in ("tables", "metrics", "figures"):
        (out / folder).mkdir(parents=True)
    _notebook(notebooks / "01_data.ipynb")
    _notebook(notebooks / "05_restoration_comparison.ipynb", {"headline": ["05_comparison"]})
    _notebook(notebooks / "07_reconstruction.ipynb", {"headline": ["07_summary"]})
    (out / "tables" / "05_comparison.csv").write_text(WIDE_HEADLINE)
    (out / "tables" / "07_summary.csv").write_text(
        ",n,n_impostor,tar_at_far_1e-3,tar_at_far_1e-3_ci,eer\n"
        'held-out generated,60,3540,0.9333,"(0.8667, 0.9833)",0.0126\ntest-split masters,24,552,,,0.0335\n'
    )
    (out / "metrics" / "01_data.json").write_text(json.dumps(
        {"data_hash": "ab" * 32, "n_identities": 240, "pairs": {"test": 72, "training": 576},
         "class_mix": {"arch": 12, "whorl": 69}, "per_image": list(range(40))}))
    (out / "metrics" / "06_stylegan.json").write_text(json.dumps(
        {"fid": {"floor: real vs real": 0.91, "generated vs real": 3.68},
         "matchers": {"bozorth3": {"eer": 0.0003, "n_impostor": 1770, "tar_at_far_1e-4": 0.98}}}))
    (out / "timings.json").write_text(json.dumps(TIMINGS))
    figure = (np.indices((60, 90)).sum(axis=0) % 2 * 255).astype(np.uint8)
    Image.fromarray(figure).save(out / "figures" / "01-degradations.png")
    for stem in ("01_data", "05_restoration_comparison", "07_reconstruction"):
        _notebook(out / f"{stem}.ipynb", source="profile = 'smoke'\nseed = 3")
        _page(out / f"{stem}.html", git_state()["git_commit"])
    return notebooks, out


def test_git_state_flags_changes_outside_reports_only(tmp_path):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "a.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "a.py"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], cwd=tmp_path, check=True)
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "reports" / "quick").mkdir(parents=True)
    (tmp_path / "reports" / "quick" / "index.html").write_text("built")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "a.py").write_text("x = 2\n")
    state = git_state(tmp_path)
    assert state["dirty"] is True and state["dirty_files"] == ["a.py"] and len(state["git_commit"]) == 40


def test_manifest_records_commit_dirty_flag_seeds_data_precision_and_device(study):
    notebooks, out = study
    build_index("smoke", {"01_data": 1.5}, out, notebooks_dir=notebooks)
    manifest = json.loads((out / "manifest.json").read_text())
    here = git_state()
    assert manifest["git_commit"] == here["git_commit"] and manifest["dirty"] == here["dirty"]
    assert isinstance(manifest["dirty"], bool)
    assert manifest["profile"] == "smoke" and manifest["settings"]["name"] == "smoke"
    assert manifest["seeds"] == {"01_data": 3, "05_restoration_comparison": 3, "07_reconstruction": 3}
    assert manifest["data_hash"] == "ab" * 32
    assert manifest["precision"] in ("bf16", "fp32")
    assert manifest["device"]["cpu_model"] and manifest["device"]["cpu_count"] >= 1
    assert manifest["packages"]["pandas"] == pd.__version__


def test_seed_comes_from_papermill_parameters_before_the_parameters_cell(tmp_path):
    _notebook(tmp_path / "05_unet.ipynb", source="seed = 0")
    nb = json.loads((tmp_path / "05_unet.ipynb").read_text())
    nb["metadata"]["papermill"] = {"parameters": {"seed": 7}}
    (tmp_path / "05_unet.ipynb").write_text(json.dumps(nb))
    _notebook(tmp_path / "02_identity.ipynb", source="profile = None")
    assert notebook_seeds(tmp_path) == {"05_unet": 7}


def test_index_warns_about_pages_from_another_commit_missing_or_older_than_the_build(study):
    notebooks, out = study
    page = build_index("smoke", {}, out, notebooks_dir=notebooks).read_text()
    assert "Mixed provenance" not in page and "built by this build" in page
    _page(out / "07_reconstruction.html", "0" * 40)
    (out / "05_restoration_comparison.html").unlink()
    page = build_index("smoke", {}, out, notebooks_dir=notebooks).read_text()
    warning = page[page.index("Mixed provenance"):page.index("</div>", page.index("Mixed provenance"))]
    assert "07_reconstruction: built from commit 0000000000" in warning
    assert "05_restoration_comparison: no HTML" in warning and "01_data" not in warning
    page = build_index("smoke", {}, out, notebooks_dir=notebooks, started=time.time() + 60).read_text()
    assert "01_data: no build time recorded; file dated" in page and "before this build started" in page


def test_execute_stamps_the_commit_into_the_notebook_and_its_html(tmp_path):
    _notebook(tmp_path / "01_tiny.ipynb", source="profile = None\nseed = 5")
    out = tmp_path / "out"
    out.mkdir()
    # a setting reaches the notebooks that declare it, and no other
    execute(NotebookRun(tmp_path / "01_tiny.ipynb", {}), "smoke", out, settings={"seed": 6, "gan_steps": 9})
    commit = git_state()["git_commit"]
    assert json.loads((out / "01_tiny.ipynb").read_text())["metadata"]["fpnb"]["build"]["commit"] == commit
    assert html_commit(out / "01_tiny.html") == commit
    built = html_built(out / "01_tiny.html")
    assert built is not None and abs(built - time.time()) < 600
    page = build_index("smoke", {}, out, notebooks_dir=tmp_path, started=built + 60).read_text()
    assert "01_tiny: HTML built" in page and "before this build started" in page
    assert notebook_seeds(out) == {"01_tiny": 6} and "gan_steps" not in (out / "01_tiny.ipynb").read_text()
    (out / "01_tiny.ipynb").unlink()  # a later partial build keeps only the page
    assert html_seed(out / "01_tiny.html") == 6 and notebook_seeds(out) == {"01_tiny": 6}


def test_unresolved_tar_renders_as_not_resolved():
    assert cell_text("tar_at_far_1e-3", None, n_impostor=552) == "not resolved (552 impostor pairs)"
    assert cell_text("cross_impression_tar", float("nan")) == "not resolved"
    # a table written before the check: 552 impostor pairs cannot resolve FAR 0.1 %
    assert cell_text("tar_at_far_1e-3", 0.583, (0.375, 0.79), n_impostor=552).startswith("not resolved")
    assert cell_text("tar_at_far_1e-3", 0.9333, (0.8667, 0.9833), n_impostor=3540) == "93.3% (86.7–98.3%)"


def test_values_read_as_three_significant_digits_with_intervals_and_counts_whole():
    values = (0.82482, 15.781, 0.0970, 104.32, 0.0, 1.0)
    assert [sig3(v) for v in values] == ["0.825", "15.8", "0.0970", "104", "0", "1.00"]
    assert cell_text("ssim", 0.82482, (0.80717, 0.84162)) == "0.825 (0.807–0.842)"
    assert cell_text("params", 1945521.0) == "1,945,521" and cell_text("eer", 0.0126) == "1.26%"
    assert cell_text("data_hash", "ab" * 32) == "abababababababab…"
    shown = display_frame(pd.read_csv(pd.io.common.StringIO(WIDE_HEADLINE), index_col=0))
    assert shown.loc["unet_ms_ssim_l1", "PSNR (dB)"] == "15.8 (15.2–16.4)"
    assert shown.loc["unet_seed_mse", "cross-impression TAR"] == "not resolved (552 impostor pairs)"
    assert len(column_groups(shown)) > 1, "a table this wide is split to fit 1,280 px"


def test_index_tells_the_story_with_figures_conclusions_and_definitions(study):
    notebooks, out = study
    page = build_index("smoke", {"01_data": 1.0}, out, notebooks_dir=notebooks).read_text()
    assert page.count("data:image/jpeg;base64,") == 1 and "01-degradations.png" in page
    assert "Best pixel fidelity: unet_ms_ssim_l1, SSIM 0.825 (0.807–0.842) on 60 test images of 20 fingers" in page
    assert "test-split masters: TAR at FAR 0.1 % not resolved (552 impostor pairs)" in page
    assert "not defined yet" not in page and "Structural similarity" in page
    assert "floor: masters vs masters" in page and "real vs real" not in page and "generated vs real" not in page
    assert "40 values, 0–39" in page and "{" not in page.split("<body>")[1], "no JSON dumps"


def test_a_partial_rebuild_keeps_the_key_figures_it_did_not_remake(study):
    notebooks, out = study
    first = build_index("smoke", {"01_data": 1.0}, out, notebooks_dir=notebooks).read_text()
    (out / "figures" / "01-degradations.png").unlink()  # a fresh clone: figure files are not committed
    page = build_index("smoke", {"01_data": 1.0}, out, notebooks_dir=notebooks).read_text()
    assert page.count("data:image/jpeg;base64,") == 1 and "01-degradations.png (from the previous build" in page
    uri = re.search(r'src="(data:image/jpeg;base64,[^"]+)"', first).group(1)
    assert uri in page


def test_index_shows_this_builds_timings_apart_from_the_tables_and_metrics(study):
    notebooks, out = study
    page = build_index("smoke", {"01_data": 1.0}, out, notebooks_dir=notebooks).read_text()
    timings = page[page.index("<h2>Timings on this machine</h2>"):page.index("<h2>Each notebook's numbers</h2>")]
    assert "unet_ms_ssim_l1 › time per image (ms)" in timings and "<dd class=\"\">85.0</dd>" in timings
    assert "06_stylegan › generated images / s" in timings and "41.5" in timings
    assert "generated images / s" in page[page.index('id="definitions"'):], "timings are defined too"
    assert json.loads((out / "manifest.json").read_text())["timings"] == TIMINGS
    (out / "timings.json").unlink()
    assert "No timings recorded." in build_index("smoke", {}, out, notebooks_dir=notebooks).read_text()


@pytest.mark.skipif(BROWSER is None, reason="no Chromium: `apt-get install chromium-headless-shell`")
def test_index_fits_1280_px_and_every_figure_loads(study):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip package playwright is not installed")
    notebooks, out = study
    index = build_index("smoke", {"01_data": 1.0}, out, notebooks_dir=notebooks)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=BROWSER, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(index.as_uri())
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        widths = page.evaluate("[...document.images].map(i => i.complete ? i.naturalWidth : 0)")
        assert widths and all(w > 0 for w in widths)
        browser.close()


def test_reconstruction_conclusion_gives_the_tar_and_the_ridge_flow_against_its_chance_level():
    from fpnb.report.conclusions import conclude_reconstruction

    table = pd.DataFrame({"n": [200], "n_impostor": [39800], "tar_at_far_1e-3": [0.915],
                          "tar_at_far_1e-3_ci": ["[0.875, 0.95]"], "eer": [0.033],
                          "flow_error_deg": [31.24], "flow_error_other_deg": [33.5]},
                         index=pd.Index(["test-split masters"]))
    text = conclude_reconstruction(table)
    assert "39,800 impostor pairs" in text
    assert "Ridge-flow error against the source: test-split masters 31.2° (another source: 33.5°)" in text
    assert "Ridge-flow" not in conclude_reconstruction(table.drop(columns=["flow_error_deg", "flow_error_other_deg"]))


def test_real_print_conclusions_compare_the_fused_matcher_and_the_restored_prints_with_their_baselines():
    from fpnb.report.conclusions import conclude_real_matchers, conclude_real_restoration

    matchers = pd.DataFrame({"set": "pyfnprint", "n_genuine": 448, "n_impostor": 7680,
                             "eer": [0.0112, 0.0041, 0.0003]},
                            index=pd.Index(["bozorth3", "fingerprint_recognition", "fused"], name="matcher"))
    text = conclude_real_matchers(matchers)
    assert "EER on pyfnprint (448 genuine and 7,680 impostor pairs)" in text and "below both single" in text
    assert "above the best" in conclude_real_matchers(matchers.assign(eer=[0.0112, 0.0041, 0.005]))
    restored = pd.DataFrame(
        {"n": 128, "n_identities": 16, "minutiae_f1": [np.nan, 0.572, 0.671],
         "minutiae_f1_ci": [np.nan, "[0.53, 0.616]", "[0.602, 0.734]"],
         "real_genuine_accepted": [0.955, 0.566, 0.742], "real_genuine_accepted_ci": [np.nan, np.nan, "[0.608, 0.854]"],
         "real_impostor_accepted": [0.0007, 0.0, 0.0]}, index=["clean prints", "degraded inputs", "unet_tuned"])
    text = conclude_real_restoration(restored)
    assert "128 real prints of 16 fingers" in text and "unet_tuned (best by SSIM" in text
    assert "minutiae F1 0.671 (0.602–0.734) (degraded inputs: 0.572 (0.530–0.616))" in text
    assert "74.2% (60.8–85.4%) of their genuine pairs (clean prints: 95.5%; degraded inputs: 56.6%)" in text
    assert conclude_real_restoration(restored.drop(index="clean prints")) == ""


def test_a_build_without_the_profiles_real_set_records_it_warns_and_shows_the_fixtures_results_apart(
        study, tmp_path, monkeypatch):
    from fpnb import get_profile
    from fpnb.config import Paths
    from fpnb.data import real_sets

    notebooks, out = study
    page = build_index("smoke", {}, out, notebooks_dir=notebooks).read_text()
    assert json.loads((out / "manifest.json").read_text())["real_set"] == {
        "wanted": "fixture", "used": "fixture", "fallback": False, "reason": ""}
    assert "Real prints: the fixture" not in page

    monkeypatch.delenv("FPNB_DATA", raising=False)
    monkeypatch.setattr(real_sets, "paths", Paths(tmp_path / "fresh-clone"))  # no data/real/pyfnprint
    _notebook(notebooks / "02_identity.ipynb", {"headline": ["02_real_prints"]})
    committed = ("matcher,set,n_genuine,n_impostor,eer\nbozorth3,pyfnprint,448,7680,0.0112\n"
                 "fingerprint_recognition,pyfnprint,448,7680,0.0041\nfused,pyfnprint,448,7680,0.0003\n")
    (out / "tables" / "02_real_prints.csv").write_text(committed)
    (out / "tables" / "02_real_prints-fixture.csv").write_text(
        committed.replace("pyfnprint,448,7680", "real_prints_afis,1,2"))
    page = build_index(get_profile("full"), {}, out, notebooks_dir=notebooks).read_text()
    real = json.loads((out / "manifest.json").read_text())["real_set"]
    assert real == {"wanted": "pyfnprint", "used": "fixture", "fallback": True,
                    "reason": "data/real/pyfnprint is missing"}  # the report fetches, not the index
    warning = page[page.index("Real prints: the fixture, not pyfnprint"):]
    warning = warning[:warning.index("</div>")]
    assert "data/real/pyfnprint is missing" in warning and "<li>tables/02_real_prints-fixture.csv</li>" in warning
    assert "Matchers on real prints (on the fixture, not pyfnprint) <small>(02_real_prints-fixture.csv)" in page
    assert "EER on real_prints_afis (1 genuine and 2 impostor pairs)" in page
    assert (out / "tables" / "02_real_prints.csv").read_text() == committed
