"""`python tasks.py check-report`: a rebuild against the committed report, metric by metric."""
import io
import json
import subprocess

import pandas as pd

from fpnb.report.check import agrees, check_report, compare_metrics, compare_tables, format_check

COMMITTED = {
    "minutiae_f1": 0.8512, "minutiae_f1_ci95": [0.84, 0.862],
    "matchers": {"bozorth3": {"eer": 0.0112, "eer_ci": [0.009, 0.0134], "n_impostor": 7680}},
    "fid": 1.42727, "threshold": 40.0, "best_by_ssim": "unet_tuned", "goal_met": True, "gone": 3,
    "per_image": [0.5, 0.25],
}


def _rebuilt(**changes):
    rebuilt = json.loads(json.dumps(COMMITTED))
    rebuilt.update(changes)
    return rebuilt


def test_values_agree_to_three_significant_digits():
    assert agrees(0.671437, 0.6712) and agrees(133.47, 133.5) and agrees(0.0, 1e-17) and agrees(float("nan"), None)
    assert not agrees(0.671437, 0.6704) and not agrees(133.47, 134.0) and not agrees(0.0, 0.1)
    assert agrees("pyfnprint", "pyfnprint") and not agrees(True, 1.0) and not agrees(1.0, float("nan"))


def test_a_value_with_an_interval_must_stay_inside_the_committed_interval_others_to_three_digits():
    assert compare_metrics(COMMITTED, _rebuilt(minutiae_f1=0.8431)) == []  # moved, but inside [0.84, 0.862]
    [outside] = compare_metrics(COMMITTED, _rebuilt(minutiae_f1=0.83))
    assert outside.key == "minutiae_f1" and "outside the committed 95 % interval [0.84, 0.862]" in outside.why
    assert outside.committed == 0.8512 and outside.rebuilt == 0.83
    moved_eer = {"bozorth3": {"eer": 0.02, "eer_ci": [0.009, 0.0134], "n_impostor": 7680}}
    [eer] = compare_metrics(COMMITTED, _rebuilt(matchers=moved_eer))
    assert eer.key == "matchers › bozorth3 › eer" and "interval" in eer.why
    assert compare_metrics(COMMITTED, _rebuilt(fid=1.4268)) == []  # 1.43 both
    [fid] = compare_metrics(COMMITTED, _rebuilt(fid=1.4214))
    assert fid.key == "fid" and "3 significant digits" in fid.why
    [text, flag, item] = compare_metrics(COMMITTED, _rebuilt(best_by_ssim="unet_mse", goal_met=False,
                                                             per_image=[0.5, 0.3]))
    assert (text.key, flag.key, item.key) == ("best_by_ssim", "goal_met", "per_image › [1]")


def test_new_and_missing_metrics_are_named():
    rebuilt = _rebuilt(added=0.5)
    del rebuilt["gone"]
    found = {(f.key, f.why) for f in compare_metrics(COMMITTED, rebuilt, "metrics/02_identity.json")}
    assert found == {("gone", "missing"), ("added", "new")}
    moved_interval = _rebuilt(minutiae_f1_ci95=[0.9, 0.95])
    assert [f.why for f in compare_metrics(COMMITTED, moved_interval)] == [
        "interval no longer overlaps the committed one"]


def _csv(text):
    return pd.read_csv(io.StringIO(text))


TABLE = (',n,ssim,ssim_ci,set\n'
         'unet_tuned,400,0.8816,"[0.8783, 0.8849]",pyfnprint\n'
         'unet_mse,400,0.8704,"[0.866, 0.8748]",pyfnprint\n')


def test_table_cells_are_checked_against_their_interval_cells_and_rows_and_columns_named():
    assert compare_tables(_csv(TABLE), _csv(TABLE.replace("0.8816,", "0.8790,"))) == []  # inside its interval
    [moved] = compare_tables(_csv(TABLE), _csv(TABLE.replace("0.8816,", "0.8750,")), "tables/05_comparison.csv")
    assert str(moved).startswith("tables/05_comparison.csv › unet_tuned › ssim: outside the committed 95 % interval")
    assert "committed 0.8816, rebuilt 0.875" in str(moved)
    [count] = compare_tables(_csv(TABLE), _csv(TABLE.replace("400", "398", 1)))
    assert count.key == "unet_tuned › n" and "3 significant digits" in count.why
    fewer = _csv(TABLE).drop(columns="set").iloc[:1].assign(psnr=21.7)
    found = {(f.key, f.why) for f in compare_tables(_csv(TABLE), fewer)}
    assert found == {("set", "missing column"), ("psnr", "new column"), ("unet_mse", "missing row")}


def test_check_report_compares_the_work_tree_with_the_commit_and_notes_a_fallbacks_fixture_results(tmp_path):
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    report = tmp_path / "reports" / "full"
    for folder in ("metrics", "tables"):
        (report / folder).mkdir(parents=True)
    (report / "metrics" / "02_identity.json").write_text(json.dumps(COMMITTED))
    (report / "metrics" / "00_environment.json").write_text(json.dumps({"git_commit": "a" * 40}))
    (report / "tables" / "05_comparison.csv").write_text(TABLE)
    (report / "tables" / "05_old.csv").write_text(TABLE.replace("pyfnprint", "other"))
    (report / "timings.json").write_text(json.dumps({"x": {"ms_per_image": 10}}))
    (report / "tables" / "unet_mse.csv").write_text("name,ssim\na,0.5\nb,0.6\n")  # per image
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "report"], check=True)

    (report / "metrics" / "00_environment.json").write_text(json.dumps({"git_commit": "b" * 40}))  # not compared
    (report / "timings.json").write_text(json.dumps({"x": {"ms_per_image": 99}}))  # not compared
    (report / "metrics" / "02_identity.json").write_text(json.dumps(_rebuilt(minutiae_f1=0.8431)))
    (report / "tables" / "unet_mse.csv").write_text("name,ssim\na,0.5\nb,0.7\n")  # one image moved: not a finding
    check = check_report(report)
    assert check.ok and check.per_item == ["tables/unet_mse.csv"]
    assert "1 per-item tables on both sides, not compared cell by cell" in format_check(check)
    subprocess.run([*git, "mv", "reports/full/tables/05_old.csv", "reports/full/tables/05_new.csv"], check=True)
    check = check_report(report)
    assert check.ok and "tables/05_new.csv (was tables/05_old.csv)" in check.compared  # renumbered notebooks

    (report / "metrics" / "02_identity.json").write_text(json.dumps(_rebuilt(fid=2.0)))
    (report / "tables" / "05_comparison.csv").unlink()
    (report / "tables" / "02_real_prints-fixture.csv").write_text(TABLE)
    check = check_report(report)
    assert not check.ok
    assert [str(f) for f in check.findings] == [
        "metrics/02_identity.json › fid: differs in its first 3 significant digits (committed 1.42727, rebuilt 2.0)",
        "tables/02_real_prints-fixture.csv: new file", "tables/05_comparison.csv: missing file"]
    (report / "manifest.json").write_text(json.dumps({"real_set": {
        "wanted": "pyfnprint", "used": "fixture", "fallback": True, "reason": "data/real/pyfnprint is missing"}}))
    check = check_report(report)
    assert "tables/02_real_prints-fixture.csv" not in {f.file for f in check.findings}
    text = format_check(check)
    assert "2 values moved or differ" in text
    assert "note: tables/02_real_prints-fixture.csv: the fixture's results" in text
    assert "read the fixture in place of pyfnprint (data/real/pyfnprint is missing)" in text
