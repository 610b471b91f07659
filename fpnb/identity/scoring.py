"""Matcher scores of long pair lists as Dask tasks (``fpnb.data.cluster``): the images go to the
cluster once, in blocks; a task scores the pairs between two blocks, and every worker keeps one
matcher and its template cache, so a worker extracts each template at most once. Templates are not
shipped between workers: an nbis template pickles as a C pointer (loading it in another process crashes)."""
from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from fpnb.data.cluster import run_tasks


@functools.lru_cache(maxsize=None)
def worker_matcher(name: str):
    """One matcher per worker process, so templates extracted for one task serve the next."""
    from fpnb.identity.matchers import get_matcher

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
    from fpnb.identity.matchers import MATCHERS

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
