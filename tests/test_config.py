import json

import numpy as np
import pytest

from fpnb import config
from fpnb.config import PROFILE_NAMES, Paths, get_profile, save_metrics


def test_profiles_grow_from_smoke_to_full():
    smoke, quick, full = (get_profile(n) for n in PROFILE_NAMES)
    for field in ("n_identities", "epochs", "gan_steps", "encoder_steps"):
        assert getattr(smoke, field) < getattr(quick, field) <= getattr(full, field), field


def test_default_profile_comes_from_environment(monkeypatch):
    monkeypatch.delenv("FPNB_PROFILE", raising=False)
    assert get_profile().name == "smoke"
    monkeypatch.setenv("FPNB_PROFILE", "quick")
    assert get_profile().name == "quick"


def test_overrides_are_typed():
    assert get_profile("quick", epochs=3).epochs == 3
    with pytest.raises(ValueError, match="epochs"):
        get_profile("quick", epochs="3")
    with pytest.raises(ValueError, match="epoch_count"):
        get_profile("quick", epoch_count=3)
    with pytest.raises(ValueError, match="profile"):
        get_profile("huge")


def test_save_metrics_writes_json(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "paths", Paths(tmp_path))
    out = save_metrics("smoke", "zz_test", {"a": 1.5, "b": {"c": [3.8838556904613255, np.float32(0.1), 7]}, "d": "x"})
    assert out == tmp_path / "reports" / "smoke" / "metrics" / "zz_test.json"
    assert json.loads(out.read_text()) == {"a": 1.5, "b": {"c": [3.88386, 0.1, 7]}, "d": "x"}
    assert not list(out.parent.glob(".tmp-*"))


def test_save_table_rounds_floats_in_columns_and_interval_cells_and_leaves_the_rest(tmp_path, monkeypatch):
    import pandas as pd

    monkeypatch.setattr(config, "paths", Paths(tmp_path))
    table = pd.DataFrame({"name": ["a", "b"], "n": [400, 1200], "ssim": [0.8816145725886254, float("nan")],
                          "ssim_ci": [[0.8782885435906005, 0.8848683994559275], (0.1234567891, 1.0)]},
                         index=["x", "y"])
    out = config.save_table("smoke", "zz_table", table)
    assert out == tmp_path / "reports" / "smoke" / "tables" / "zz_table.csv"
    assert out.read_text().splitlines() == [",name,n,ssim,ssim_ci", 'x,a,400,0.881615,"[0.878289, 0.884868]"',
                                            'y,b,1200,,"(0.123457, 1.0)"']
    assert table.loc["x", "ssim"] == 0.8816145725886254  # the caller's frame is left as it was
    assert config.save_table("smoke", "zz_table", table, index=False).read_text().startswith("name,n,")


def test_save_timings_merges_one_entry_per_name_rounded_to_four_digits(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "paths", Paths(tmp_path))
    assert config.load_timings("smoke") == {}
    out = config.save_timings("smoke", "unet_mse", {"ms_per_image": 123.456789})
    assert out == tmp_path / "reports" / "smoke" / "timings.json"
    config.save_timings("smoke", "01_data", {"pairs_per_s": np.float64(0.000123456), "build_s": 3, "n": np.int64(6)})
    config.save_timings("smoke", "unet_mse", {"ms_per_image": 99.99999})
    assert json.loads(out.read_text()) == {"01_data": {"build_s": 3, "n": 6, "pairs_per_s": 0.0001235},
                                           "unet_mse": {"ms_per_image": 100.0}}
    assert out.read_text().startswith('{\n  "01_data": {\n    "build_s": 3,') and out.read_text().endswith("}\n")
    assert not (tmp_path / "reports" / "smoke" / "metrics" / "timings.json").exists()


def test_only_the_smoke_profile_keeps_weights_to_itself():
    assert [get_profile(n).ships_weights for n in PROFILE_NAMES] == [False, True, True]
    assert [get_profile(n).small_models for n in PROFILE_NAMES] == [True, False, False]


def test_shipped_profile_is_the_one_most_cards_name(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "paths", Paths(tmp_path))
    (tmp_path / "weights").mkdir()
    assert config.shipped_profile() == "smoke"
    for name, profile in (("a", "quick"), ("b", "quick"), ("c", "full")):
        (tmp_path / "weights" / f"{name}.json").write_text(json.dumps({"profile": profile}))
    assert config.shipped_profile() == "quick"  # one full model among quick ones does not make the report full
    (tmp_path / "weights" / "d.json").write_text(json.dumps({"profile": "full"}))
    assert config.shipped_profile() == "full"


def test_the_real_prints_are_a_setting_of_the_profile():
    assert [get_profile(name).real_set for name in PROFILE_NAMES] == ["fixture", "fixture", "pyfnprint"]
    assert get_profile("full", real_set="fixture").real_set == "fixture"
    with pytest.raises(ValueError, match="real_set"):
        get_profile("full", real_set=None)
