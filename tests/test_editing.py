import numpy as np
import pandas as pd
import pytest
import torch

from fpnb.synthesis import editing
from fpnb.identity.fields import dominant_period
from fpnb.synthesis.sampling import sample
from fpnb.synthesis.sefa import factorize


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def generator(tiny_generator):
    return tiny_generator


def test_directions_round_trip_orthonormal(generator, tmp_path):
    eigenvalues, directions = factorize(generator)
    path = editing.save_directions(eigenvalues, directions, tmp_path / "d.safetensors", {"profile": "test"})
    loaded_values, loaded = editing.load_directions(path)
    assert torch.equal(loaded, directions) and torch.equal(loaded_values, eigenvalues)
    torch.testing.assert_close(loaded @ loaded.T, torch.eye(16), atol=1e-5, rtol=0)
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    editing.save_directions(eigenvalues, directions, path, {"profile": "test"})  # same content: not rewritten
    assert path.stat().st_mtime_ns == mtime and path.read_bytes() == before
    editing.save_directions(eigenvalues * 2, directions, path, {"profile": "test"})
    assert torch.equal(editing.load_directions(path)[0], eigenvalues * 2)
    from safetensors.torch import save_file
    save_file({"x": torch.zeros(1)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError):
        editing.load_directions(tmp_path / "other.safetensors")


def test_directions_are_read_only_for_the_generator_they_were_factorised_from(generator, tmp_path):
    from fpnb.weights_io import module_digest

    eigenvalues, directions = factorize(generator)
    marked = -directions  # a file's directions are returned as stored (here: sign-flipped) when its digest matches
    path = editing.save_directions(eigenvalues, marked, tmp_path / "d.safetensors",
                                   {"generator_digest": module_digest(generator)})
    assert editing.directions_meta(path)["generator_digest"] == module_digest(generator)
    assert torch.equal(editing.directions_for(generator, path), marked)
    editing.save_directions(eigenvalues, marked, path, {"generator_digest": "0" * 64})  # another generator's
    assert torch.equal(editing.directions_for(generator, path), directions)
    assert torch.equal(editing.directions_for(generator, tmp_path / "missing.safetensors"), directions)


def test_degree_zero_is_the_original_and_edits_change_it(generator):
    _, directions = factorize(generator)
    grid = editing.edit_grid(generator, directions, [3, 4], [0, 1], [0.0, 5.0], truncation=0.7)
    assert grid.shape == (2, 2, 2, 32, 32)
    original = sample(generator, [3, 4], truncation=0.7)
    np.testing.assert_allclose(grid[:, 0, 0], original, atol=1e-5)  # batching reorders float sums
    np.testing.assert_allclose(grid[:, 1, 0], original, atol=1e-5)
    assert np.abs(grid[:, :, 1] - grid[:, :, 0]).mean() > 1e-4


def test_measure_edits_table(generator, mean_matcher):
    _, directions = factorize(generator)
    table = editing.measure_edits(generator, directions, [0, 1], [0, 2], [-2.0, 0.0, 2.0], mean_matcher, 4.0)
    assert len(table) == 12
    assert set(editing.MEASURES) | {"direction", "degree", "seed", "score"} <= set(table.columns)
    at_zero = table[table["degree"] == 0]
    assert (at_zero["centroid_shift_px"] == 0).all() and np.allclose(at_zero["score"], 100, atol=1e-3)


def test_measure_edits_on_two_workers_gives_the_same_table(generator, monkeypatch):
    from fpnb.identity.matchers import get_matcher

    _, directions = factorize(generator)
    args = (generator, directions, [3, 4], [0, 1], [-2.0, 0.0], get_matcher("bozorth3"), 8.0)
    here = editing.measure_edits(*args)
    monkeypatch.setattr(editing, "MIN_CLUSTER_SEEDS", 2)
    pd.testing.assert_frame_equal(editing.measure_edits(*args, workers=2), here)


def test_identity_preserving_on_a_hand_made_table():
    still = {"ridge_period_px": 9.0, "contrast": 0.6, "foreground_area": 0.5, "centroid_shift_px": 0.0, "rotation_deg": 0.0}
    rows = []
    for seed in range(10):
        for degree in (-5, -3, 0, 3, 5):
            moved = {**still, "ridge_period_px": 9.0 + 0.4 * abs(degree)}  # 1.2 px at |degree| 3: visible
            rows.append({"direction": 0, "degree": degree, "seed": seed, "score": 50, **moved})  # always matches
            fails = abs(degree) == 3 and seed < 2  # 80 % at |degree| 3
            rows.append({"direction": 1, "degree": degree, "seed": seed, "score": 10 if fails else 50, **moved})
            # direction 2 keeps identity up to 3 because it changes nothing a measure sees
            rows.append({"direction": 2, "degree": degree, "seed": seed, "score": 10 if abs(degree) == 5 else 50, **still})
            # direction 3 keeps identity up to 3 (visibly), loses it at -5 only
            rows.append({"direction": 3, "degree": degree, "seed": seed, "score": 10 if degree == -5 else 50, **moved})
    table = pd.DataFrame(rows)
    up_to_3 = editing.identity_preserving(table, threshold=40, min_rate=0.9, max_degree=3)
    assert up_to_3["keeps_identity"].to_dict() == {0: True, 1: False, 2: True, 3: True}
    assert up_to_3["identity_preserving"].to_dict() == {0: True, 1: False, 2: False, 3: True}
    assert up_to_3.loc[0, "effect"] == "ridge_period_px" and up_to_3.loc[0, "effect_over_visible"] == pytest.approx(2.4)
    assert up_to_3.loc[1, "worst_match_rate"] == pytest.approx(0.8)
    every = editing.identity_preserving(table, threshold=40, min_rate=0.9)
    assert every["identity_degree"].to_dict() == {0: 5, 1: 0, 2: 3, 3: 3}
    assert every["keeps_identity"].to_dict() == {0: True, 1: False, 2: False, 3: False}
    assert every["identity_preserving"].to_dict() == {0: True, 1: False, 2: False, 3: True}
    assert every.loc[0, "effect_over_visible"] == pytest.approx(4.0)  # 2 px at |degree| 5
    assert every.loc[3, "effect_over_visible"] == pytest.approx(2.4)  # measured where identity still holds
    with pytest.raises(ValueError):
        editing.identity_preserving(table, threshold=40, max_degree=1)


def test_describe_directions_names_the_moved_measure():
    degrees = np.tile([-2.0, 0.0, 2.0], 4)
    rows = [{"direction": d, "degree": g, "ridge_period_px": 9 + (g if d == 0 else 0),
             "contrast": 0.5 + (0.1 * g if d == 1 else 0), "foreground_area": 0.5, "centroid_shift_px": 0.0,
             "rotation_deg": 0.0}
            for d in (0, 1) for g in degrees]
    described = editing.describe_directions(pd.DataFrame(rows))
    assert described.loc[0, "main_effect"] == "ridge_period_px" and described.loc[1, "main_effect"] == "contrast"
    assert described.loc[0, "ridge_period_px_per_degree"] == pytest.approx(1.0)


def test_dominant_period_of_a_grating():
    rows, cols = np.mgrid[:200, :200]
    grating = 0.5 + 0.5 * np.cos(2 * np.pi * (cols * np.cos(0.5) + rows * np.sin(0.5)) / 9.0)
    assert dominant_period(grating, pad=1) == pytest.approx(9.0, abs=0.4)


def test_sliders_build_and_update(generator):
    _, directions = factorize(generator)
    app = editing.slider_app(generator, directions, n_directions=4)
    sliders = [w for box in app.children[:2] for w in box.children]
    images = [box.children[1] for box in app.children[2].children]
    before = images[1].value
    assert before and images[0].value
    sliders[2].value = -6.0  # degree
    assert images[1].value != before


def test_rotation_of_a_turned_flow():
    from fpnb.synthesis.editing import _rotation_deg

    reference = np.full((40, 40), 0.2)
    mask = np.ones((40, 40), bool)
    assert _rotation_deg(np.mod(reference + np.radians(10), np.pi), reference, mask) == pytest.approx(10.0, abs=1e-6)
    # orientation is modulo 180 degrees: 175 degrees is a turn of -5
    assert _rotation_deg(np.mod(reference + np.radians(175), np.pi), reference, mask) == pytest.approx(-5.0, abs=1e-6)
