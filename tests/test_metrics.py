import numpy as np
import pytest

from fpnb.identity.metrics import (
    accepted_at_far,
    bootstrap_ci,
    det_curve,
    far_resolved,
    flow_error,
    frechet_distance,
    mae,
    masked_flow_error,
    mean_ci,
    minutiae_prf,
    pixel_metrics,
    psnr,
    ridge_flow,
    separation,
    ssim,
    threshold_at_far,
    verification_metrics,
)
from fpnb.identity.minutiae import Minutiae


def test_pixel_metrics_match_hand_computed_values():
    target = np.zeros((4, 4))
    pred = np.full((4, 4), 0.1)
    assert mae(pred, target) == pytest.approx(0.1)
    assert psnr(pred, target) == pytest.approx(20.0)  # 10 log10(1 / 0.01)
    assert psnr(target, target) == float("inf")
    image = np.random.default_rng(0).random((32, 32))
    assert ssim(image, image) == pytest.approx(1.0)
    assert set(pixel_metrics(image, image)) == {"mae", "psnr", "ssim"}
    with pytest.raises(ValueError, match="shape"):
        mae(np.zeros((2, 2)), np.zeros((3, 3)))


def test_minutiae_prf_is_one_to_one_with_radius_and_angle():
    target = Minutiae(x=[10, 50, 90], y=[10, 50, 90], angle=[0, 0, 0], kind=[0, 1, 0], quality=[1, 1, 1])
    pred = Minutiae(
        x=[12, 11, 50, 200], y=[10, 10, 58, 200], angle=[0.1, 0.0, np.pi, 0], kind=[0, 0, 1, 0],
        quality=[1, 1, 1, 1],
    )
    # (12,10) and (11,10) compete for one target; (50,58) is close but points the other way.
    result = minutiae_prf(pred, target, radius=10.0, angle_deg=30.0)
    assert (result["tp"], result["fp"], result["fn"]) == (1, 3, 2)
    assert result["precision"] == pytest.approx(0.25)
    assert result["recall"] == pytest.approx(1 / 3)
    assert result["f1"] == pytest.approx(2 * 1 / 7)
    assert minutiae_prf(target, target)["f1"] == 1.0
    assert minutiae_prf(Minutiae(), target)["recall"] == 0.0


def test_angle_tolerance_wraps_around_the_circle():
    a = Minutiae(x=[0], y=[0], angle=[np.radians(355)], kind=[0], quality=[1])
    b = Minutiae(x=[0], y=[0], angle=[np.radians(5)], kind=[0], quality=[1])
    assert minutiae_prf(a, b, angle_deg=15)["tp"] == 1
    assert minutiae_prf(a, b, angle_deg=5)["tp"] == 0


def test_separable_scores_have_zero_eer_and_full_tar():
    genuine, impostor = np.array([10, 11, 12, 13]), np.array([1, 2, 3, 4, 5])
    result = verification_metrics(genuine, impostor)
    assert result["eer"] == 0.0
    assert 5 < result["threshold_eer"] <= 10
    # 5 impostor scores resolve no FAR below 1/5: those TARs are "not resolved", not 100 %
    assert result["tar_at_far_1e-2"] is None and result["tar_at_far_1e-4"] is None
    assert result["n_impostor"] == 5 and result["thresholds"] == {}


def test_tar_is_reported_only_at_resolved_fars():
    rng = np.random.default_rng(0)
    genuine, impostor = rng.normal(10, 1, 50), rng.normal(0, 1, 2000)
    result = verification_metrics(genuine, impostor)
    assert result["tar_at_far_1e-2"] == 1.0 and result["tar_at_far_1e-3"] == 1.0
    assert result["tar_at_far_1e-4"] is None  # 2,000 impostor pairs resolve 5e-4 at best
    assert far_resolved(1e-3, 1000) and not far_resolved(1e-3, 999) and not far_resolved(1e-4, 3540)


def test_eer_and_tar_on_overlapping_scores():
    genuine = np.array([3, 5, 6, 8])
    impostor = np.array([1, 2, 4, 7])
    # Accept score >= 5: impostor 7 gets in (FAR 1/4), genuine 3 is refused (FRR 1/4).
    result = verification_metrics(genuine, impostor)
    assert result["eer"] == pytest.approx(0.25)
    assert result["threshold_eer"] == 5
    assert 4 < threshold_at_far(impostor, 0.25) <= 4 + 1e-9  # only 7 accepted
    assert 7 < threshold_at_far(impostor, 0.0) <= 7 + 1e-9
    assert threshold_at_far(impostor, 1.0) == -np.inf
    curve = det_curve(genuine, impostor)
    assert list(curve.columns) == ["threshold", "far", "frr"]
    assert curve["far"].is_monotonic_decreasing and curve["frr"].is_monotonic_increasing


def test_accepted_at_far_is_the_tar_at_a_resolved_far_only():
    rng = np.random.default_rng(0)
    genuine, impostor = rng.normal(3, 1, 40), rng.normal(0, 1, 1000)
    threshold, accepted = accepted_at_far(genuine, impostor, 1e-3)
    assert threshold == threshold_at_far(impostor, 1e-3) and accepted.dtype == bool
    assert accepted.tolist() == (genuine >= threshold).tolist()
    assert verification_metrics(genuine, impostor)["tar_at_far_1e-3"] == accepted.mean()
    assert accepted_at_far(genuine, impostor[:999], 1e-3) is None  # 999 impostor pairs do not resolve 0.1 %
    assert accepted_at_far([], impostor, 1e-3) is None


def test_separation_is_zero_for_identical_distributions_and_grows_with_the_gap():
    rng = np.random.default_rng(0)
    impostor = rng.normal(0, 1, 500)
    assert abs(separation(impostor, impostor)) < 1e-9
    assert separation(impostor + 3, impostor) > separation(impostor + 1, impostor) > 0


def test_bootstrap_ci_brackets_the_mean_and_is_seeded():
    values = np.random.default_rng(1).normal(5.0, 1.0, 400)
    lo, hi = bootstrap_ci(values, n=300, seed=3)
    assert lo < values.mean() < hi and hi - lo < 0.4
    assert bootstrap_ci(values, n=300, seed=3) == (lo, hi)
    assert bootstrap_ci(np.ones(10), n=50) == (1.0, 1.0)


def test_clustered_bootstrap_is_wider_on_clustered_data():
    # 20 fingers x 3 impressions: impressions of one finger share most of their score
    rng = np.random.default_rng(4)
    finger = np.repeat(rng.normal(0.8, 0.1, 20), 3)
    values = finger + rng.normal(0, 0.01, 60)
    groups = np.repeat(np.arange(20), 3)
    per_image = np.subtract(*bootstrap_ci(values, n=500, seed=1)[::-1])
    per_finger = np.subtract(*bootstrap_ci(values, n=500, seed=1, groups=groups)[::-1])
    assert per_finger > 1.4 * per_image  # about sqrt(3) wider
    assert bootstrap_ci(values, n=50, seed=2, groups=groups) == bootstrap_ci(values, n=50, seed=2, groups=groups)


def test_mean_ci_is_the_mean_with_its_bootstrap_interval():
    values = np.random.default_rng(5).random(30)
    groups = np.repeat(np.arange(10), 3)
    mean, ci = mean_ci(values, groups, seed=2)
    assert mean == float(values.mean()) and ci == list(bootstrap_ci(values, seed=2, groups=groups))
    assert mean_ci([True, False, True, True])[0] == 0.75
    assert mean_ci(np.zeros(0)) == (None, None)


def test_frechet_distance_is_zero_for_identical_sets():
    feats = np.random.default_rng(0).standard_normal((50, 6))
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_matches_the_1d_gaussian_formula():
    a = np.random.default_rng(1).standard_normal((400, 1))
    for shift, scale in [(0.5, 1.0), (2.0, 1.0), (1.0, 3.0)]:
        b = scale * a + shift
        expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
        assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    distances = [frechet_distance(a, a + s) for s in (0.5, 1.0, 2.0)]
    assert distances == sorted(distances) and distances[0] > 0


def test_frechet_distance_handles_fewer_samples_than_dimensions():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((8, 32)), rng.standard_normal((8, 32)) + 1.0
    assert np.isfinite(frechet_distance(a, b)) and frechet_distance(a, b) > 30
    with pytest.raises(ValueError, match="features"):
        frechet_distance(a[:1], b[:1])


def test_flow_error_grows_with_rotation_inside_the_source_foreground():
    from scipy import ndimage

    from fpnb.data.masters import make_master

    source = make_master(7, 200, 150).image
    errors = [flow_error(source, ndimage.rotate(source, angle, reshape=False, mode="nearest")) for angle in (0, 10, 30)]
    assert errors[0] == 0.0 and errors[0] < errors[1] < errors[2]
    orientation, mask = ridge_flow(source)
    assert masked_flow_error((orientation, mask), orientation + np.pi) == pytest.approx(0.0, abs=1e-4)  # mod pi
    assert np.isnan(masked_flow_error((orientation, np.zeros_like(mask)), orientation))


def test_masked_ssim_is_the_ssim_map_over_the_mask():
    from fpnb.identity.metrics import masked_ssim, ssim

    rng = np.random.default_rng(0)
    target = rng.random((48, 40))
    pred = target.copy()
    pred[:, 20:] = rng.random((48, 20))  # right half wrong, left half exact
    whole = np.ones_like(target, dtype=bool)
    assert masked_ssim(pred, target, whole) == pytest.approx(ssim(pred, target))
    left = np.zeros_like(whole)
    left[:, :14] = True  # away from the 7x7 windows that see the right half
    assert masked_ssim(pred, target, left) == pytest.approx(1.0)
    assert masked_ssim(pred, target, ~left) < 0.5
    assert np.isnan(masked_ssim(pred, target, np.zeros_like(whole)))
    with pytest.raises(ValueError, match="mask"):
        masked_ssim(pred, target, whole[:10])
