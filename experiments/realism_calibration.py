"""How close the synthetic data is to real prints: print statistics, Bozorth3 EER, colour of degraded inputs.

Real prints: the three-print fixture in tests/data/real_prints_afis (afis test data, MIT) — a tiny
set, so its figures are a sanity reference, not a population estimate. Synthetic prints are labelled
"masters" and "impressions". Reference figures quoted in issue #16 from a larger real set (16 fingers
x 8): dark fraction about 0.43, Bozorth3 EER about 1 % with genuine median score 138; ChaLearn inputs:
mean RGB 0.61-0.88, saturation 0.02-0.15.

    python experiments/realism_calibration.py [--identities 40] [--impressions 4] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fpnb.data import degradations, masters, realism
from fpnb.identity import matchers, metrics, verification
from fpnb.report.experiments import record_fields

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "real_prints_afis"
QUESTION = "How close are the synthetic masters, impressions and degraded inputs to real prints and ChaLearn inputs?"
CHALEARN_MEAN, CHALEARN_SATURATION = (0.61, 0.88), (0.02, 0.15)


def real_prints() -> dict[str, np.ndarray]:
    """The fixture's real prints as grey float32, by file stem."""
    return {path.stem: cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
            for path in sorted(FIXTURE.glob("*.png"))}


def stats_row(name: str, images: list[np.ndarray], reference_histogram: np.ndarray) -> dict:
    """Median of every print statistic over a set, plus its grey-histogram distance to the real prints'."""
    table = pd.DataFrame([realism.print_stats(image) for image in images])
    histogram = np.mean([realism.grey_histogram(image) for image in images], axis=0)
    return {"set": name, "n": len(images), **table.median().round(3).to_dict(),
            "histogram_distance_to_real": round(realism.histogram_distance(histogram, reference_histogram), 3)}


def bozorth3(images: list[np.ndarray], labels: np.ndarray) -> dict:
    """Bozorth3 verification figures on all genuine pairs and first-impression impostor pairs."""
    genuine, impostor = verification.comparison_pairs(labels)
    scores = verification.score_pairs(matchers.get_matcher("bozorth3"), images, genuine, impostor)
    result = metrics.verification_metrics(scores.score[scores.genuine], scores.score[~scores.genuine])
    result.pop("thresholds")
    result["genuine_median_score"] = float(scores.score[scores.genuine].median())
    result["impostor_median_score"] = float(scores.score[~scores.genuine].median())
    return result


def measure(n_identities: int, n_impressions: int, first_seed: int = 50_000) -> dict:
    """Measure every calibration figure once and return them in one dictionary."""
    start = time.perf_counter()
    real = real_prints()
    real_histogram = np.mean([realism.grey_histogram(image) for image in real.values()], axis=0)
    fingers = masters.make_masters(range(first_seed, first_seed + n_identities), workers=1)
    impressions = [masters.make_impression(m, seed=m.seed * 10 + k) for m in fingers for k in range(n_impressions)]
    labels = np.repeat(np.arange(n_identities), n_impressions)
    stats = pd.DataFrame([
        stats_row(f"real (afis fixture, {len(real)} prints)", list(real.values()), real_histogram),
        stats_row("masters", [m.image for m in fingers], real_histogram),
        stats_row("impressions", impressions, real_histogram),
    ])
    degraded = [degradations.degrade(image, seed) for seed, image in enumerate(impressions)]
    colour = pd.DataFrame([realism.colour_stats(image) for image in degraded])
    inside = colour["mean"].between(*CHALEARN_MEAN) & colour["saturation"].between(*CHALEARN_SATURATION)
    matcher = matchers.get_matcher("bozorth3")
    return {
        "print_stats": stats.to_dict(orient="records"),
        "degraded_inputs": {"n": len(degraded), "mean_quantiles_5_50_95": colour["mean"].quantile([0.05, 0.5, 0.95]).round(3).tolist(),
                            "saturation_quantiles_5_50_95": colour["saturation"].quantile([0.05, 0.5, 0.95]).round(3).tolist(),
                            "share_inside_chalearn_range": round(float(inside.mean()), 3)},
        "bozorth3_impressions": {"identities": n_identities, "impressions_each": n_impressions,
                                 **bozorth3(impressions, labels)},
        "bozorth3_real_fixture": {"p1_1 vs p1_2 (same finger)": matcher.score(real["p1_1"], real["p1_2"]),
                                  "p1_1 vs p2_1 (other finger)": matcher.score(real["p1_1"], real["p2_1"])},
        "seconds": round(time.perf_counter() - start, 1),
    }


def main(argv: list[str] | None = None) -> dict:
    """Measure, print the figures and write them to ``--out`` when given."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identities", type=int, default=40)
    parser.add_argument("--impressions", type=int, default=4)
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    figures = {**record_fields(__file__, QUESTION, argv), **measure(args.identities, args.impressions)}
    pd.set_option("display.width", 200)
    print(pd.DataFrame(figures["print_stats"]).set_index("set").T.to_string())
    for key in ("degraded_inputs", "bozorth3_impressions", "bozorth3_real_fixture"):
        print(f"\n{key}:", json.dumps(figures[key], indent=1))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")
    return figures


if __name__ == "__main__":
    main()
