"""Verification of sets of prints: comparison pairs, matcher scores of pairs and their rates.

Long pair lists are scored as Dask tasks (``fpnb.data.cluster``): the images go to the cluster once, in
blocks; a task scores the pairs between two blocks, and every worker keeps one matcher and its template
cache, so a worker extracts each template at most once. Templates are not shipped between workers: an
nbis template pickles as a C pointer (loading it in another process crashes).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from fpnb.data.cluster import run_tasks
from fpnb.identity.matchers import (MATCHER_PPI, MATCHERS, MIN_QUALITY, Matcher, extract_minutiae, get_matcher,
                                   resample_to_ppi)
from fpnb.identity.metrics import det_curve, minutiae_prf, verification_metrics


def comparison_pairs(
    labels: Sequence[int], max_impostor: int | None = None, seed: int = 0, all_impostors: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of all genuine comparisons and of impostor comparisons.

    Impostors compare the first impression of each identity with the first of every other (FVC's
    protocol), or with ``all_impostors`` every pair of different identities (what a small set needs
    to resolve a low EER: 16 fingers give 120 FVC impostor pairs); ``max_impostor`` draws a seeded
    subset of them.
    """
    labels = np.asarray(labels)
    i, j = np.triu_indices(len(labels), 1)
    same = labels[i] == labels[j]
    genuine = np.stack([i[same], j[same]], axis=1)
    if all_impostors:
        impostor = np.stack([i[~same], j[~same]], axis=1)
    else:
        _, first = np.unique(labels, return_index=True)
        a, b = np.triu_indices(len(first), 1)
        impostor = np.stack([first[a], first[b]], axis=1)
    if max_impostor is not None and len(impostor) > max_impostor:
        chosen = np.random.default_rng(seed).choice(len(impostor), max_impostor, replace=False)
        impostor = impostor[np.sort(chosen)]
    return genuine, impostor


def score_pairs(
    matcher: Matcher, images: Sequence[np.ndarray], genuine: np.ndarray, impostor: np.ndarray
) -> Any:
    """DataFrame of one matcher's scores: columns i, j, genuine (bool), score, matcher."""
    import pandas as pd

    pairs = np.concatenate([genuine, impostor]).reshape(-1, 2)
    scores = matcher.scores((images[i], images[j]) for i, j in pairs)
    return pd.DataFrame(
        {
            "i": pairs[:, 0],
            "j": pairs[:, 1],
            "genuine": np.arange(len(pairs)) < len(genuine),
            "score": scores,
            "matcher": matcher.name,
        }
    )


def matcher_scores(images: Sequence[np.ndarray], labels: Sequence[int], names: Sequence[str] = tuple(MATCHERS),
                   seed: int = 0, all_impostors: bool = False) -> Any:
    """``score_pairs`` of each named matcher on one labelled set's ``comparison_pairs``, in one DataFrame."""
    import pandas as pd

    genuine, impostor = comparison_pairs(labels, seed=seed, all_impostors=all_impostors)
    return pd.concat([score_pairs(get_matcher(name), images, genuine, impostor) for name in names],
                     ignore_index=True)


def verification_by_matcher(scores: Any) -> dict[str, dict[str, Any]]:
    """``verification_metrics`` of each matcher in a ``matcher_scores`` frame, in the frame's order."""
    return {name: verification_metrics(group.score[group.genuine], group.score[~group.genuine])
            for name, group in scores.groupby("matcher", sort=False)}


def det_curves(scores: Any) -> dict[str, Any]:
    """``det_curve`` of each matcher in a ``matcher_scores`` frame, in the frame's order."""
    return {name: det_curve(group.score[group.genuine], group.score[~group.genuine])
            for name, group in scores.groupby("matcher", sort=False)}


def set_verification(images: Sequence[np.ndarray], labels: Sequence[int], names: Sequence[str] = tuple(MATCHERS),
                     ppi: float = MATCHER_PPI, seed: int = 0, all_impostors: bool = False) -> Any:
    """Each matcher on one labelled set of prints (``comparison_pairs``: every genuine pair, first impressions
    as impostors, or every pair of different fingers with ``all_impostors``), the prints first brought from
    ``ppi`` to the matchers' 500 ppi: one row per matcher with the pair counts, mean genuine and impostor
    scores, the EER and the TAR at FAR 0.1 % (None where the impostor count does not resolve it)."""
    import pandas as pd

    images = [resample_to_ppi(np.asarray(image, np.float32), ppi) for image in images]
    scores = matcher_scores(images, labels, names, seed, all_impostors)
    results = verification_by_matcher(scores)
    rows = {}
    for name in names:
        group = scores[scores.matcher == name]
        same, other = group.score[group.genuine], group.score[~group.genuine]
        rows[name] = {"n_genuine": len(same), "n_impostor": len(other), "genuine_mean": float(same.mean()),
                      "impostor_mean": float(other.mean()), "eer": results[name]["eer"],
                      "tar_at_far_1e-3": results[name]["tar_at_far_1e-3"]}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("matcher")


def minutiae_kept(clean: Sequence[np.ndarray], degraded: Sequence[np.ndarray], identities: Sequence[Any],
                  min_qualities: Sequence[float] = (MIN_QUALITY, 0.0)) -> Any:
    """``minutiae_prf`` of each degraded print's minutiae against its clean print's, at each MINDTCT quality
    floor: one row per print and floor (identity, min_quality, precision, recall, f1, tp, fp, fn)."""
    import pandas as pd

    rows = []
    for identity, image, noisy in zip(identities, clean, degraded):
        for min_quality in min_qualities:
            prf = minutiae_prf(extract_minutiae(noisy, min_quality=min_quality),
                               extract_minutiae(image, min_quality=min_quality))
            rows.append({"identity": identity, "min_quality": min_quality, **prf})
    return pd.DataFrame(rows)


# ---- long pair lists as Dask tasks ----------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def worker_matcher(name: str) -> Matcher:
    """One matcher per worker process, so templates extracted for one task serve the next."""
    return get_matcher(name)


def _score_blocks(job: tuple[str, int, np.ndarray], blocks: dict[int, list[np.ndarray]]) -> np.ndarray:
    """Scores of pairs (k x 2 global indices) whose images lie in the given blocks of ``block`` images."""
    name, block, pairs = job
    images = {int(k): blocks[int(k) // block][int(k) % block] for k in np.unique(pairs)}
    return np.asarray(worker_matcher(name).scores((images[i], images[j]) for i, j in pairs.tolist()),
                      dtype=np.float64)


# Fewer pairs than this are scored in this process (no scheduler given): a local cluster's start and
# each worker's own template extraction cost more than a second core saves.
MIN_CLUSTER_PAIRS = 5000


def score_pair_list(matcher: str | Any, images: Sequence[np.ndarray], pairs: np.ndarray, scheduler: str | None = None,
                    workers: int | None = None, block: int = 64, chunk: int = 1024, progress: bool = False,
                    min_cluster_pairs: int = MIN_CLUSTER_PAIRS) -> np.ndarray:
    """Scores of ``pairs`` (k x 2 indices into ``images``) by a matcher, in pair order.

    ``matcher`` is a name, or a matcher object: one of the stock matchers (``get_matcher(name)``) is
    replaced by its name, so that workers build their own; any other object scores in this process.
    Images are grouped in blocks of ``block``; the pairs between two blocks form tasks of at most
    ``chunk`` pairs. Without ``scheduler``, fewer than ``min_cluster_pairs`` pairs run in this process.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if not len(pairs):
        return np.zeros(0)
    in_process = len(pairs) < min_cluster_pairs and not scheduler
    if not isinstance(matcher, str):
        if in_process or MATCHERS.get(getattr(matcher, "name", None)) is not type(matcher):
            return np.asarray(matcher.scores((images[i], images[j]) for i, j in pairs.tolist()), dtype=np.float64)
        matcher = matcher.name
    if in_process:
        workers = 1
    blocks = [list(images[start:start + block]) for start in range(0, len(images), block)]
    key = np.sort(pairs // block, axis=1)
    order = np.lexsort((key[:, 1], key[:, 0]))  # pairs grouped by their two blocks
    groups = np.split(order, np.flatnonzero(np.any(np.diff(key[order], axis=0), axis=1)) + 1)
    parts = [group[start:start + chunk] for group in groups for start in range(0, len(group), chunk)]
    jobs = [(matcher, block, pairs[part]) for part in parts]
    scores = run_tasks(_score_blocks, jobs, scheduler, workers, desc=f"{matcher} scores", progress=progress,
                       shared=blocks, uses=lambda job: np.unique(job[2] // job[1]))
    out = np.empty(len(pairs))
    out[np.concatenate(parts)] = np.concatenate(scores)
    return out
