from pathlib import Path

import cv2
import numpy as np
import pytest

from fpnb.identity.matchers import extract_minutiae, get_matcher, nfiq2, nfiq2_table
from fpnb.identity.minutiae import BIFURCATION, ENDING, Minutiae

DATA = Path(__file__).parent / "data" / "real_prints_afis"
# Decision thresholds on each matcher's raw score: NIST's ~40 for Bozorth3; for fingerprint-recognition
# 20, about its EER threshold on generated impressions (its own default of 12 admits a real impostor at 16).
GENUINE_THRESHOLD = {"bozorth3": 40.0, "fingerprint_recognition": 20.0}


def _load(name: str) -> np.ndarray:
    return cv2.imread(str(DATA / f"{name}.png"), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255


@pytest.fixture(scope="module")
def prints():
    a, b, other = _load("p1_1"), _load("p1_2"), _load("p2_1")
    affine = cv2.getRotationMatrix2D((200, 250), 12, 1.0)
    affine[:, 2] += (15, -10)
    moved = cv2.warpAffine(a, affine, (a.shape[1], a.shape[0]), borderValue=1.0)
    return {"a": a, "b": b, "other": other, "moved": moved}


def _dislocations() -> np.ndarray:
    """Horizontal ridges (period 10) with a ridge ending at (130, 90) and a bifurcation at (270, 180)."""
    rows, cols = np.mgrid[0:400, 0:275].astype(float)
    phase = 2 * np.pi * rows / 10 + np.angle((cols - 90) + 1j * (rows - 130))
    phase -= np.angle((cols - 180) + 1j * (rows - 270))
    return (0.5 + 0.5 * np.cos(phase + np.pi / 2)).astype(np.float32)


@pytest.mark.parametrize("name", ["bozorth3", "fingerprint_recognition"])
def test_matcher_ranks_self_then_moved_copy_then_impostor(prints, name):
    matcher = get_matcher(name)
    itself = matcher.score(prints["a"], prints["a"])
    moved = matcher.score(prints["a"], prints["moved"])
    mate = matcher.score(prints["a"], prints["b"])
    impostor = matcher.score(prints["a"], prints["other"])
    assert itself >= max(moved, mate, impostor)
    assert min(moved, mate) >= GENUINE_THRESHOLD[name] > impostor
    assert matcher.score(prints["b"], prints["other"]) < GENUINE_THRESHOLD[name]


def test_matcher_caches_templates_and_scores_many_pairs(prints):
    matcher = get_matcher("bozorth3")
    scores = matcher.scores([(prints["a"], prints["b"]), (prints["a"], prints["b"].copy())])
    assert scores[0] == scores[1] and len(matcher._cache) == 2
    with pytest.raises(ValueError, match="matcher"):
        get_matcher("nope")


@pytest.mark.parametrize("backend", ["nbis", "fingerprint_recognition"])
def test_known_ending_and_bifurcation_are_found(backend):
    minutiae = extract_minutiae(_dislocations(), backend=backend)
    for (row, col), kind in (((130, 90), ENDING), ((270, 180), BIFURCATION)):
        near = np.hypot(minutiae.x - col, minutiae.y - row) < 6
        assert near.any() and kind in minutiae.kind[near], (row, col)


def test_ending_direction_points_into_its_ridge():
    rows, cols = np.mgrid[0:400, 0:275]
    image = (0.5 - 0.5 * np.cos(2 * np.pi * rows / 10)).astype(np.float32)
    image[(np.abs(rows - 200) < 5) & (cols > 137)] = 1.0  # the ridge on row 200 stops at col 137
    for turns, expected in ((0, 180), (1, 270)):  # rot90 turns the picture anticlockwise
        minutiae = extract_minutiae(np.ascontiguousarray(np.rot90(image, turns)))
        assert len(minutiae) == 1 and minutiae.kind[0] == ENDING
        assert abs(np.degrees(minutiae.angle[0]) - expected) < 10


def test_minutiae_container_and_soft_inputs():
    soft = 0.3 + 0.2 * _dislocations()  # low-contrast, soft grey like a model output
    found = extract_minutiae(soft)
    assert len(found) >= 2
    frame = found.to_frame()
    assert list(frame.columns) == ["x", "y", "angle", "kind", "quality"]
    assert ((frame.angle >= 0) & (frame.angle < 2 * np.pi)).all()
    assert len(Minutiae()) == 0
    with pytest.raises(ValueError, match="lengths"):
        Minutiae(x=[1, 2], y=[1], angle=[0], kind=[0], quality=[1])


def test_nfiq2_prefers_a_print_to_noise(prints):
    noise = np.random.default_rng(0).random(prints["a"].shape).astype(np.float32)
    assert nfiq2(prints["a"]) > nfiq2(noise) + 20
    table = nfiq2_table({"prints": [prints["a"], prints["b"]], "noise": [noise, noise]})
    assert list(table.columns) == ["prints", "noise"] and table.loc[0, "prints"] == nfiq2(prints["a"])
