"""Throughput of the synthetic data and of matcher scoring, at one and two Dask workers.

Writes reports/bench/data.json: master prints/s, the end-to-end dataset build in pairs/s at the
quick profile's size (720 pairs: masters + impressions + degradations + JPEG/PNG writing) with 1
and 2 workers, Bozorth3 comparisons/s with 1 and 2 workers, and the projected times of a
100,000-pair build and of 10^7 comparisons from the measured per-worker rates. Goals on 2 cores:
>= 50 pairs/s and >= 1.8x the one-worker rate at two workers. SynFing-style pairs from the shipped
full generator (rendered, written and scored with Bozorth3; ``fpnb.synthesis.synfing``) are timed at
one worker (64 identities) and two (256, the smallest set that starts a cluster). Run with
``--big N`` to also time a real N-pair build. The load average before and after is recorded: other
jobs slow every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from fpnb.config import get_profile, save_benchmark
from fpnb.data.datasets import build_restoration_dataset
from fpnb.data.masters import make_impression, make_master, make_masters
from fpnb.identity.verification import score_pair_list, worker_matcher
from fpnb.precision import device
from fpnb.synthesis.synfing import build_from_shipped


# Prints compared all against all: enough comparisons (19,900) that the local cluster's start and each
# worker's own template extraction do not hide the scaling (with 60 prints two workers were slower).
N_PRINTS = 200


def _rate(n: int, fn) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def _build_rate(identities: int, impressions: int, workers: int, tmp: str) -> float:
    profile = get_profile("smoke", n_identities=identities, n_impressions=impressions)
    root = Path(tmp) / f"d{workers}-{identities}"
    return _rate(identities * impressions, lambda: build_restoration_dataset(profile, seed=1, root=root, workers=workers))


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=0, help="also time a real build of this many pairs (2 per identity)")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    quick = get_profile("quick")
    report = {"cores": cores, "machine": device(), "load_average_before": os.getloadavg()}
    make_masters(range(4), workers=1)  # warm-up (filter bank cache)
    report["masters_per_s_1_process"] = _rate(24, lambda: make_masters(range(100, 124), workers=1))
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            report[f"build_pairs_per_s_{workers}_workers"] = _build_rate(quick.n_identities, quick.n_impressions,
                                                                         workers, tmp)
        if args.big:
            start = time.perf_counter()
            _build_rate(args.big // 2, 2, cores, tmp)
            report[f"build_{args.big}_pairs_seconds"] = time.perf_counter() - start
        for workers, identities in ((1, 64), (2, 256)):
            report[f"synfing_pairs_per_s_{workers}_workers"] = _rate(identities, lambda: build_from_shipped(
                get_profile("full"), identities, Path(tmp) / f"synfing{workers}", workers=workers))
    images = [make_impression(make_master(s), seed=s) for s in range(N_PRINTS)]
    pairs = np.array([(i, j) for i in range(N_PRINTS) for j in range(i + 1, N_PRINTS)])
    for workers in (1, 2):
        worker_matcher.cache_clear()  # every run extracts its templates afresh, as a new worker does
        report[f"comparisons_per_s_{workers}_workers"] = _rate(
            len(pairs), lambda w=workers: score_pair_list("bozorth3", images, pairs, workers=w))
    one, two = report["build_pairs_per_s_1_workers"], report["build_pairs_per_s_2_workers"]
    report["build_speedup_2_workers"] = two / one
    report["comparisons_speedup_2_workers"] = (report["comparisons_per_s_2_workers"]
                                               / report["comparisons_per_s_1_workers"])
    report["comparisons_note"] = (f"all {len(pairs):,} Bozorth3 comparisons among {N_PRINTS} prints, template "
                                  "extraction and (at 2 workers) the local cluster's start included")
    report["projected"] = {
        "build_100000_pairs_hours_per_worker_count": {str(w): 1e5 / (one * w) / 3600 for w in (2, 8, 32)},
        "synfing_100000_pairs_hours_per_worker_count": {
            str(w): 1e5 / (report["synfing_pairs_per_s_1_workers"] * w) / 3600 for w in (2, 8, 32)},
        "comparisons_1e7_hours_per_worker_count": {
            str(w): 1e7 / (report["comparisons_per_s_1_workers"] * w) / 3600 for w in (2, 8, 32)},
        "note": "linear in workers from the measured one-worker rates; a real cluster adds scheduling and transfer",
    }
    report["goals"] = {"pairs_per_s": 50, "speedup_2_workers": 1.8}
    report["load_average_after"] = os.getloadavg()
    report = json.loads(json.dumps(report), parse_float=lambda v: round(float(v), 3))
    save_benchmark("data", report)
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
