"""Benchmark of the identity toolbox: extraction ms per 400x275 print, comparisons per second per matcher.

Run as ``python benchmarks/bench_identity.py [--prints N] [--seed S]``; writes reports/bench/matchers.json.
"""
from __future__ import annotations

import argparse
import itertools
import json
import time

from fpnb.data import masters
from fpnb.identity import matchers
from fpnb.config import save_benchmark
from fpnb.precision import device


def bench(n_prints: int, seed: int) -> dict:
    """Time template extraction and all-pairs comparison of ``n_prints`` generated impressions."""
    prints = masters.make_masters([seed * 100_000 + i for i in range(n_prints)])
    images = [masters.make_impression(m, seed=m.seed * 10) for m in prints]
    pairs = list(itertools.combinations(range(n_prints), 2))
    results: dict = {"n_prints": n_prints, "n_comparisons": len(pairs), "image_shape": list(images[0].shape)}
    start = time.perf_counter()
    for image in images:
        matchers.extract_minutiae(image)
    results["minutiae_extraction_ms"] = 1000 * (time.perf_counter() - start) / n_prints
    start = time.perf_counter()
    for image in images:
        matchers.nfiq2(image)
    results["nfiq2_ms"] = 1000 * (time.perf_counter() - start) / n_prints
    for name in matchers.MATCHERS:
        matcher = matchers.get_matcher(name)
        if name == "fused":  # its calibration runs once per process: timed apart from the comparisons
            start = time.perf_counter()
            matcher.calibration
            results["fused_calibration_s"] = time.perf_counter() - start
        start = time.perf_counter()
        for image in images:
            matcher.template(image)
        template_ms = 1000 * (time.perf_counter() - start) / n_prints
        start = time.perf_counter()
        matcher.scores((images[i], images[j]) for i, j in pairs)
        per_second = len(pairs) / (time.perf_counter() - start)
        results[name] = {"template_ms": template_ms, "comparisons_per_s": per_second,
                         "comparisons_per_min": 60 * per_second}
    return results


def main() -> None:
    """Parse arguments, run the benchmark, write and print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prints", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = bench(args.prints, args.seed)
    results["machine"] = device()
    results = json.loads(json.dumps(results, default=float), parse_float=lambda v: round(float(v), 3))
    save_benchmark("matchers", results)
    print(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
