"""Matcher scores of long pair lists as Dask tasks (``fpnb.data.cluster``): chunks of pairs, each
shipped with only the images it needs; every worker keeps one matcher and its template cache."""
from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from fpnb.data.cluster import run_tasks


@functools.lru_cache(maxsize=None)
def _worker_matcher(name: str):
    """One matcher per worker process, so templates extracted for one chunk serve the next."""
    from fpnb.identity.matchers import get_matcher

    return get_matcher(name)


def _score_chunk(job: tuple[str, dict[int, np.ndarray], np.ndarray]) -> np.ndarray:
    name, images, pairs = job
    matcher = _worker_matcher(name)
    return np.asarray(matcher.scores((images[int(i)], images[int(j)]) for i, j in pairs), dtype=np.float64)


def score_pair_list(matcher: str, images: Sequence[np.ndarray], pairs: np.ndarray, scheduler: str | None = None,
                    workers: int | None = None, chunk: int = 256, progress: bool = False) -> np.ndarray:
    """Scores of ``pairs`` (k x 2 indices into ``images``) by the named matcher, in pair order."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    jobs = []
    for start in range(0, len(pairs), chunk):
        part = pairs[start:start + chunk]
        jobs.append((matcher, {int(k): images[int(k)] for k in np.unique(part)}, part))
    scores = run_tasks(_score_chunk, jobs, scheduler, workers, desc=f"{matcher} scores", progress=progress)
    return np.concatenate(scores) if scores else np.zeros(0)
