"""Throughput of the synthetic data: master prints/s and degraded training pairs/s.

Writes reports/bench/data.json. Goals on 2 cores: ≥ 12 masters/s and ≥ 50 pairs/s.
"""
from __future__ import annotations

import json
import os
import tempfile
import time

import numpy as np

from fpnb.config import get_profile, paths
from fpnb.data.datasets import build_restoration_dataset
from fpnb.data.degradations import degrade
from fpnb.data.masters import make_impression, make_masters


def _rate(n: int, fn) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def main() -> dict:
    workers = os.cpu_count() or 1
    n = 48
    masters = make_masters(range(8), workers=1)  # warm-up (filter bank cache)
    impressions = [make_impression(m, seed=i) for i, m in enumerate(masters)]
    report = {
        "cpu_count": workers,
        "image_size": list(masters[0].image.shape),
        "masters_per_s_1_process": _rate(n, lambda: make_masters(range(100, 100 + n), workers=1)),
        f"masters_per_s_{workers}_processes": _rate(n, lambda: make_masters(range(200, 200 + n), workers=workers)),
        "impressions_per_s_1_process": _rate(80, lambda: [make_impression(masters[i % 8], seed=i) for i in range(80)]),
        "degrade_per_s_1_process": _rate(80, lambda: [degrade(impressions[i % 8], seed=i) for i in range(80)]),
    }
    quick = get_profile("quick")  # the quick profile's dataset size: process start-up is amortised as in real use
    profile = get_profile("smoke", n_identities=quick.n_identities, n_impressions=quick.n_impressions)
    with tempfile.TemporaryDirectory() as tmp:
        pairs = profile.n_identities * profile.n_impressions
        report["dataset_build_pairs_per_s"] = _rate(
            pairs, lambda: build_restoration_dataset(profile, seed=1, root=os.path.join(tmp, "d"), workers=workers)
        )
        report["dataset_build_pairs"] = pairs
        report["dataset_build_note"] = "end to end: masters + impressions + degradation + JPEG/PNG writing"
    report["goals"] = {"masters_per_s": 12, "pairs_per_s": 50}
    report = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in report.items()}
    out = paths.reports / "bench" / "data.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    print(json.dumps(main(), indent=2))
