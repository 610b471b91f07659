import json

import pytest

from fpnb.data.datasets import REAL_FIXTURE, load_print_folder
from fpnb.data.real_sets import fetch_real_set


def test_fetch_real_set_copies_a_folder_of_prints_and_records_where_they_came_from(tmp_path):
    root = fetch_real_set("pyfnprint", source=REAL_FIXTURE, root=tmp_path / "set")
    assert load_print_folder(root)[1] == load_print_folder(REAL_FIXTURE)[1]  # SOURCE.json is not read as a print
    record = json.loads((root / "SOURCE.json").read_text())
    assert record["n_prints"] == 3 and record["commit"] is None and record["url"].startswith("https://github.com/")
    again = fetch_real_set("pyfnprint", source=REAL_FIXTURE, root=tmp_path / "again")
    assert json.loads((again / "SOURCE.json").read_text())["sha256"] == record["sha256"]


def test_fetch_real_set_names_an_unknown_set_and_a_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="unknown 'nist'"):
        fetch_real_set("nist", source=REAL_FIXTURE, root=tmp_path / "set")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        fetch_real_set("pyfnprint", source=tmp_path / "nowhere", root=tmp_path / "set")
    assert not (tmp_path / "set").exists()  # nothing half-made


@pytest.fixture
def no_real_sets(tmp_path, monkeypatch):
    """data/ in tmp_path, and pyfnprint's repository a local one that does not exist yet (no network)."""
    from fpnb.config import Paths
    from fpnb.data import real_sets

    monkeypatch.delenv("FPNB_DATA", raising=False)
    monkeypatch.delenv(real_sets.FETCH_ENV, raising=False)
    monkeypatch.setattr(real_sets, "paths", Paths(tmp_path))
    spec = real_sets.REAL_SETS["pyfnprint"]
    monkeypatch.setitem(real_sets.REAL_SETS, "pyfnprint",
                        real_sets.RealSet(str(tmp_path / "remote"), spec.folder, spec.licence, spec.description))
    return tmp_path


def test_the_profiles_read_their_real_set_and_only_the_full_one_reads_pyfnprint(no_real_sets):
    from fpnb import get_profile
    from fpnb.data.real_sets import resolve_real_set

    for name in ("smoke", "quick"):
        real = resolve_real_set(get_profile(name))
        assert (real.folder, real.name, real.wanted, real.fallback) == (REAL_FIXTURE, "fixture", "fixture", False)
        assert real.result_name("02_real_prints") == "02_real_prints" and real.notice() == ""
    assert get_profile("full").real_set == "pyfnprint"
    with pytest.raises(ValueError, match="real_set: unknown 'nist'"):
        resolve_real_set(get_profile("full", real_set="nist"))


def test_without_the_set_and_without_github_the_fixture_stands_in_and_says_so(no_real_sets, monkeypatch):
    import time

    from fpnb import get_profile
    from fpnb.data import real_sets

    start = time.perf_counter()
    real = real_sets.resolve_real_set(get_profile("full"))  # git clone of a repository that is not there
    assert time.perf_counter() - start < real_sets.FETCH_TIMEOUT_S
    assert (real.folder, real.name, real.wanted, real.fallback) == (REAL_FIXTURE, "fixture", "pyfnprint", True)
    assert "data/real/pyfnprint is missing and git clone" in real.reason and "failed (" in real.reason
    assert real.result_name("02_real_prints") == "02_real_prints-fixture"
    assert real.record() == {"wanted": "pyfnprint", "used": "fixture", "fallback": True, "reason": real.reason}
    notice = real.notice()
    assert notice.startswith("Real prints: this run uses the fixture") and "in place of pyfnprint" in notice
    assert "-fixture" in notice and "python tasks.py real-prints" in notice
    assert not (no_real_sets / "data" / "real" / "pyfnprint").exists()

    monkeypatch.setenv(real_sets.FETCH_ENV, "0")  # the report already tried: no second clone
    monkeypatch.setattr(real_sets, "fetch_real_set", lambda *a, **k: pytest.fail("fetched"))
    assert real_sets.resolve_real_set(get_profile("full")).reason == "data/real/pyfnprint is missing"


def test_a_clone_that_hangs_is_stopped_and_never_asks_for_credentials(no_real_sets, monkeypatch):
    import subprocess

    from fpnb import get_profile
    from fpnb.data import real_sets

    calls = []

    def hangs(args, **kwargs):
        calls.append(kwargs)
        raise subprocess.TimeoutExpired(args, kwargs["timeout"])

    monkeypatch.setattr(real_sets.subprocess, "run", hangs)
    real = real_sets.resolve_real_set(get_profile("full"))
    assert real.fallback and real.reason.endswith(f"took over {real_sets.FETCH_TIMEOUT_S} s")
    assert calls[0]["timeout"] == real_sets.FETCH_TIMEOUT_S and calls[0]["env"]["GIT_TERMINAL_PROMPT"] == "0"


def test_the_set_is_fetched_once_when_missing_and_read_from_data_real_after(no_real_sets, monkeypatch):
    import shutil
    import subprocess

    from fpnb import get_profile
    from fpnb.data import real_sets

    remote = no_real_sets / "remote"
    shutil.copytree(REAL_FIXTURE, remote / "db" / "PNG")
    git = ["git", "-C", str(remote), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "prints"]):
        subprocess.run([*git, *args], check=True)
    real = real_sets.resolve_real_set(get_profile("full"))
    folder = no_real_sets / "data" / "real" / "pyfnprint"
    assert (real.folder, real.name, real.fallback, real.notice()) == (folder, "pyfnprint", False, "")
    assert json.loads((folder / "SOURCE.json").read_text())["commit"]
    assert real.result_name("05_real_summary") == "05_real_summary"
    monkeypatch.setattr(real_sets, "fetch_real_set", lambda *a, **k: pytest.fail("fetched again"))
    assert real_sets.resolve_real_set(get_profile("full")).folder == folder
