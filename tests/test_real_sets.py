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
