"""Comparison pairs, matcher scores of labelled sets and their rates, pair lists on Dask."""
import numpy as np
import pytest

from fpnb.data.datasets import REAL_FIXTURE, finger_of, load_print_folder
from fpnb.data.masters import make_impression, make_master
from fpnb.identity import verification
from fpnb.identity.matchers import MIN_QUALITY, extract_minutiae, get_matcher
from fpnb.identity.metrics import det_curve, minutiae_prf, verification_metrics
from fpnb.identity.verification import comparison_pairs, score_pair_list


@pytest.fixture(scope="module")
def fixture_set():
    """The three-print MIT fixture: two impressions of one finger and one of another."""
    images, files = load_print_folder(REAL_FIXTURE)
    return images, np.unique([finger_of(f) for f in files], return_inverse=True)[1]


def test_comparison_pairs_split_genuine_and_impostor():
    genuine, impostor = comparison_pairs([0, 0, 0, 1, 1, 2])
    assert {tuple(p) for p in genuine} == {(0, 1), (0, 2), (1, 2), (3, 4)}
    assert {tuple(p) for p in impostor} == {(0, 3), (0, 5), (3, 5)}
    _, subset = comparison_pairs(list(range(10)), max_impostor=5, seed=1)
    assert len(subset) == 5
    same_genuine, every = comparison_pairs([0, 0, 0, 1, 1, 2], all_impostors=True)
    assert (same_genuine == genuine).all() and len(every) == 15 - 4  # every pair of different identities
    assert {tuple(p) for p in impostor} < {tuple(p) for p in every}


def test_set_verification_scores_every_matcher_on_a_labelled_folder(fixture_set):
    images, labels = fixture_set
    table = verification.set_verification(images, labels, names=("bozorth3", "fused"))
    assert list(table.index) == ["bozorth3", "fused"]
    assert (table["n_genuine"] == 1).all() and (table["n_impostor"] == 1).all()  # p1_1-p1_2; p1_1-p2_1
    assert (table["genuine_mean"] > table["impostor_mean"]).all() and (table["eer"] == 0).all()
    assert table["tar_at_far_1e-3"].isna().all()  # one impostor pair resolves no FAR of 0.1 %
    halved = verification.set_verification(images, labels, names=("bozorth3",), ppi=1000.0)
    assert halved.loc["bozorth3", "genuine_mean"] != table.loc["bozorth3", "genuine_mean"]  # resampled first
    every = verification.set_verification(images, labels, names=("bozorth3",), all_impostors=True)
    assert every.loc["bozorth3", "n_impostor"] == 2  # p1_1-p2_1 and p1_2-p2_1


def test_matcher_scores_give_each_matcher_its_rates_and_det_curve(fixture_set):
    images, labels = fixture_set
    scores = verification.matcher_scores(images, labels, names=("fingerprint_recognition", "bozorth3"),
                                         all_impostors=True)
    assert list(scores.columns) == ["i", "j", "genuine", "score", "matcher"] and len(scores) == 2 * 3
    bozorth3 = scores[scores.matcher == "bozorth3"]
    assert bozorth3.score.tolist() == get_matcher("bozorth3").scores(
        (images[i], images[j]) for i, j in zip(bozorth3.i, bozorth3.j)).tolist()
    results = verification.verification_by_matcher(scores)
    assert list(results) == ["fingerprint_recognition", "bozorth3"]  # the frame's order
    assert results["bozorth3"] == verification_metrics(bozorth3.score[bozorth3.genuine], bozorth3.score[~bozorth3.genuine])
    curves = verification.det_curves(scores)
    assert list(curves) == list(results)
    assert curves["bozorth3"].equals(det_curve(bozorth3.score[bozorth3.genuine], bozorth3.score[~bozorth3.genuine]))


def test_minutiae_kept_scores_each_degraded_print_at_each_quality_floor():
    clean = [make_master(seed, 200, 150).image for seed in (3, 4)]
    degraded = [np.clip(image + 0.05, 0, 1) for image in clean]
    table = verification.minutiae_kept(clean, degraded, ["a", "b"])
    assert table[["identity", "min_quality"]].values.tolist() == [["a", MIN_QUALITY], ["a", 0.0],
                                                                   ["b", MIN_QUALITY], ["b", 0.0]]
    expected = minutiae_prf(extract_minutiae(degraded[1], min_quality=0.0), extract_minutiae(clean[1], min_quality=0.0))
    assert table.iloc[3].drop(["identity", "min_quality"]).to_dict() == expected


def test_dask_scoring_matches_the_loop_at_one_and_two_workers():
    masters = [make_master(s, 200, 150) for s in (1, 2)]
    images = [make_impression(m, seed=k) for m in masters for k in range(2)]
    pairs = np.array([(0, 1), (2, 3), (0, 2), (1, 3), (0, 3)])
    loop = get_matcher("bozorth3").scores((images[i], images[j]) for i, j in pairs)
    assert np.array_equal(score_pair_list("bozorth3", images, pairs, workers=1, block=2, chunk=1), loop)
    assert np.array_equal(score_pair_list("bozorth3", images, pairs, workers=2, block=3, chunk=2,
                                          min_cluster_pairs=0), loop)
    assert np.array_equal(score_pair_list("bozorth3", images, pairs[::-1], workers=1, block=2), loop[::-1])
    # a stock matcher object goes to the workers by name; any other object scores in this process
    assert np.array_equal(score_pair_list(get_matcher("bozorth3"), images, pairs, workers=2, block=3,
                                          min_cluster_pairs=0), loop)

    class Brightness:
        name = "bozorth3"  # a stock name on another class: must not be replaced by the stock matcher

        def scores(self, pairs):
            return [float(a.mean() - b.mean()) for a, b in pairs]

    expected = [float(images[i].mean() - images[j].mean()) for i, j in pairs]
    assert np.allclose(score_pair_list(Brightness(), images, pairs, workers=2, min_cluster_pairs=0), expected)
