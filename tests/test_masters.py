"""Synthetic master prints and impressions: determinism, ranges, singular points, ridge period."""
import numpy as np
import pytest

from fpnb.data import masters
from fpnb.identity import fields

H, W = 160, 120


def test_same_seed_gives_identical_bytes():
    a, b = masters.make_master(7, H, W), masters.make_master(7, H, W)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.pattern == b.pattern and a.seed == 7
    assert masters.make_master(8, H, W).image.tobytes() != a.image.tobytes()
    assert masters.make_impression(a, 3).tobytes() == masters.make_impression(b, 3).tobytes()
    assert masters.make_impression(a, 4).tobytes() != masters.make_impression(a, 3).tobytes()


def test_master_shapes_dtypes_and_ranges():
    m = masters.make_master(1, H, W, pattern="whorl")
    assert m.image.shape == m.mask.shape == m.orientation.shape == m.period.shape == (H, W)
    assert m.image.dtype == np.float32 and m.mask.dtype == bool
    assert 0.0 <= m.image.min() and m.image.max() <= 1.0
    assert m.image[~m.mask].mean() > 0.95 and 0.3 < m.image[m.mask].mean() < 0.7
    assert 0.0 <= m.orientation.min() and m.orientation.max() < np.pi
    assert masters.MIN_PERIOD_PX <= m.period.min() and m.period.max() <= masters.MAX_PERIOD_PX
    impression = masters.make_impression(m, 0)
    assert impression.shape == (H, W) and impression.dtype == np.float32
    assert 0.0 <= impression.min() and impression.max() <= 1.0


@pytest.mark.parametrize(("pattern", "n_cores", "n_deltas"), [
    ("arch", 0, 0), ("tented_arch", 1, 1), ("left_loop", 1, 1), ("right_loop", 1, 1), ("whorl", 2, 2)])
def test_singular_points_found_back_by_poincare_index(pattern, n_cores, n_deltas):
    for seed in (0, 1):
        m = masters.make_master(seed, 200, 140, pattern=pattern)
        assert m.pattern == pattern and len(m.cores) == n_cores and len(m.deltas) == n_deltas
        found = fields.singular_points(m.orientation, step=1, smooth_sigma=0, margin=0)
        cores, deltas = found.cores, found.deltas
        assert len(cores) == n_cores and len(deltas) == n_deltas
        for found, truth in ((cores, m.cores), (deltas, m.deltas)):
            if len(truth):
                distance = np.linalg.norm(found[:, None] - truth[None], axis=-1)
                assert distance.min(axis=0).max() < 3.0


def test_left_loop_delta_is_lower_right_of_core():
    m = masters.make_master(3, pattern="left_loop")
    assert m.deltas[0, 0] > m.cores[0, 0] and m.deltas[0, 1] > m.cores[0, 1]


def test_poincare_index_of_ideal_core_and_delta():
    theta = masters.zero_pole_orientation(np.array([[20.0, 20.0]]), np.array([[40.0, 45.0]]), 64, 64)
    index = fields.poincare_index(theta, radius=2)
    assert index[20, 20] == pytest.approx(0.5, abs=1e-6)
    assert index[40, 45] == pytest.approx(-0.5, abs=1e-6)
    assert abs(index[5, 60]) < 1e-6


@pytest.mark.parametrize("period", [8.0, 9.5, 11.0, 12.0])
def test_grown_ridge_period_matches_the_requested_one(period):
    orientation = np.full((192, 192), 0.7, np.float32)
    ridges = masters.grow_ridges(orientation, np.full((192, 192), period, np.float32), np.random.default_rng(0))
    assert fields.dominant_period(ridges[32:160, 32:160]) == pytest.approx(period, rel=0.10)


def test_master_ridge_period_follows_its_period_map():
    errors = []
    for seed in range(4):
        m = masters.make_master(seed)
        window = (slice(230, 326), slice(90, 186))  # inside the finger, whose outline leaves a margin
        errors.append(fields.dominant_period(m.image[window]) / m.period[window].mean() - 1)
    assert np.median(np.abs(errors)) < 0.10


def test_make_masters_is_deterministic_regardless_of_workers():
    seeds = list(range(8))
    serial = masters.make_masters(seeds, 96, 80, workers=1)
    pooled = masters.make_masters(seeds, 96, 80, workers=2)
    assert [m.image.tobytes() for m in serial] == [m.image.tobytes() for m in pooled]


def test_pattern_priors_are_a_distribution():
    assert sum(masters.PATTERN_PRIORS) == pytest.approx(1.0)
    drawn = {masters.make_master(s, 64, 64).pattern for s in range(30)}
    assert {"left_loop", "right_loop", "whorl"} <= drawn


def test_invalid_parameters_raise_naming_the_parameter():
    with pytest.raises(ValueError, match="pattern"):
        masters.make_master(0, H, W, pattern="spiral")
    with pytest.raises(ValueError, match="height"):
        masters.make_master(0, 10, W)
    with pytest.raises(ValueError, match="width"):
        masters.make_master(0, H, 10)
    with pytest.raises(ValueError, match="strength"):
        masters.make_impression(masters.make_master(0, H, W), 0, strength=-1.0)
    with pytest.raises(ValueError, match="workers"):
        masters.make_masters([0], H, W, workers=0)
    with pytest.raises(ValueError, match="radius"):
        fields.poincare_index(np.zeros((8, 8)), radius=0)


def test_master_has_a_blank_margin_and_real_print_statistics():
    from fpnb.data import realism

    m = masters.make_master(4)
    assert not m.mask[0].any() and not m.mask[-1].any() and not m.mask[:, 0].any() and not m.mask[:, -1].any()
    assert m.image[~m.mask].mean() > 0.97
    stats = realism.print_stats(m.image)
    assert 0.25 <= stats["dark_fraction"] <= 0.5 and 2.0 <= stats["ridge_width_median"] <= 5.0
    assert stats["grey_mid_fraction"] > 0.1  # grey-level ink, not a binary drawing


def test_impressions_of_one_finger_differ_but_keep_its_ridges():
    m = masters.make_master(6)
    a, b = masters.make_impression(m, 1), masters.make_impression(m, 2)
    assert np.abs(a - b).mean() > 0.05
    assert np.abs(masters.make_impression(m, 1, strength=0.0) - m.image).max() < 1e-5
