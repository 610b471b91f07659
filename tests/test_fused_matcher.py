"""The fused matcher: both matchers on one calibrated scale, behind the same interface as each."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from fpnb.identity import matchers
from fpnb.identity.matchers import FusedMatcher, MemberCalibration, get_matcher, resample_to_ppi

DATA = Path(__file__).parent / "data" / "real_prints_afis"


def _load(name: str) -> np.ndarray:
    return cv2.imread(str(DATA / f"{name}.png"), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255


@pytest.fixture(scope="module")
def prints():
    return {name: _load(name) for name in ("p1_1", "p1_2", "p2_1")}


@pytest.fixture(scope="module")
def fused():
    return get_matcher("fused")


def test_fused_ranks_the_genuine_pair_above_both_impostor_pairs(prints, fused):
    genuine = fused.score(prints["p1_1"], prints["p1_2"])
    impostors = fused.scores([(prints["p1_1"], prints["p2_1"]), (prints["p1_2"], prints["p2_1"])])
    assert fused.name == "fused" and genuine > impostors.max()
    # z-normalised on impostors: an impostor lies within a few deviations of the calibration mean
    assert impostors.max() < 4 < genuine


def test_calibration_is_computed_once_and_weights_follow_separation(fused):
    again = get_matcher("fused")
    assert again.calibration is fused.calibration
    for member in fused.calibration.values():
        assert member.impostor_std > 0 and member.d_prime > 1 and member.weight == member.d_prime
    assert get_matcher().name == "bozorth3", "the fused matcher is never the default"


def test_ppi_resamples_to_the_matchers_resolution(prints, fused):
    image = prints["p1_1"]
    assert resample_to_ppi(image, 500) is image
    assert resample_to_ppi(image, 1000).shape == (image.shape[0] // 2, image.shape[1] // 2)
    at_1000 = {k: cv2.resize(v, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC) for k, v in prints.items()}
    fine = FusedMatcher(ppi=1000, calibration=fused.calibration)
    assert fine.score(at_1000["p1_1"], at_1000["p1_2"]) > fine.score(at_1000["p1_1"], at_1000["p2_1"])


class _Member:
    """A stand-in member: a fixed score and a template that is just its minutiae count."""

    def __init__(self, score: float, n_minutiae: int) -> None:
        self.fixed, self.n_minutiae = score, n_minutiae

    def template(self, image: np.ndarray) -> int:
        return self.n_minutiae

    def score(self, a: np.ndarray, b: np.ndarray) -> float:
        return self.fixed


@pytest.mark.parametrize("sizes, expected", [
    ((40, 30), (2.0 * 8.0 + 1.0 * 3.0) / 3.0),  # both usable: d'-weighted mean of z-scores
    ((40, 5), 8.0),  # fingerprint-recognition gated out: too few minutiae
    ((5, 5), (2.0 * 8.0 + 1.0 * 3.0) / 3.0),  # every member gated: fall back to all of them
])
def test_members_are_weighted_by_separation_and_gated_by_minutiae(monkeypatch, sizes, expected):
    monkeypatch.setattr(matchers, "_TEMPLATE_SIZE", {"bozorth3": int, "fingerprint_recognition": int})
    calibration = {"bozorth3": MemberCalibration(10.0, 5.0, 2.0),
                   "fingerprint_recognition": MemberCalibration(3.0, 2.0, 1.0)}
    fused = FusedMatcher(calibration=calibration, min_minutiae=8)
    fused.members = {"bozorth3": _Member(50.0, sizes[0]), "fingerprint_recognition": _Member(9.0, sizes[1])}
    image = np.ones((4, 4), np.float32)
    assert fused.score(image, image) == pytest.approx(expected)


def test_calibration_is_kept_on_disk_for_the_next_process(tmp_path, monkeypatch):
    from fpnb.config import Paths

    monkeypatch.setattr(matchers, "paths", Paths(tmp_path))
    first = matchers.calibrate.__wrapped__(n_identities=2, n_impressions=2)
    assert len(list((tmp_path / "runs" / "cache").glob("fused-calibration-*.json"))) == 1
    monkeypatch.setattr(matchers, "get_matcher", lambda name: pytest.fail("scored again instead of reading the cache"))
    assert matchers.calibrate.__wrapped__(n_identities=2, n_impressions=2) == first
