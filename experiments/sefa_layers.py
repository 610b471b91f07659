"""Layer-wise SeFa: do directions factorized over a band of layers keep identity with a visible effect more often?

For the full profile's generator (shipped weights, or ``--generator`` a finished training checkpoint):
global SeFa (every conv layer, as notebook 08) and SeFa over each band of layers (``--bands``, sides
in px), the top ``--top`` directions of each, edited on ``--n`` evaluation seeds at |degree| <= 3 and
scored like notebook 08 (``editing.identity_preserving`` at the Bozorth3 threshold for FAR 0.1 % among
prints of ``--impostor-seeds`` other seeds). Writes reports/full/experiments/sefa_layers_<resolution>px.json
(``--out`` elsewhere).

    python experiments/sefa_layers.py [--n 40] [--top 5]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from fpnb.config import get_profile, paths
from fpnb.identity.matchers import get_matcher
from fpnb.report.experiments import record_fields
from fpnb.synthesis import editing, sefa
from fpnb.synthesis.reconstruction import profile_scale
from fpnb.synthesis.sampling import load_generator
from fpnb.synthesis.study import shipped_generator
from fpnb.synthesis.training import load_training_run

QUESTION = "Do SeFa directions factorized over one band of layers keep identity with a visible effect more often?"
DEGREES = [-3.0, -1.5, 0.0, 1.5, 3.0]


def main(argv: list[str] | None = None) -> dict:
    """Factorize, edit and score each band; write and return the record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="evaluation seeds edited")
    parser.add_argument("--top", type=int, default=5, help="directions measured per band")
    parser.add_argument("--bands", default="4-16,32-64,128-256", help="comma-separated low-high sides in px")
    parser.add_argument("--generator", type=Path, help="a finished training checkpoint (default: shipped)")
    parser.add_argument("--truncation", type=float, default=0.7)
    parser.add_argument("--impostor-seeds", type=int, default=200, help="prints whose pairs set the threshold")
    parser.add_argument("--profile", default="full", help="whose shipped generator and print scale")
    parser.add_argument("--out", type=Path, help="default: reports/full/experiments/sefa_layers_<side>px.json")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    if args.generator:
        generator = load_training_run(args.generator, "cpu")["g_ema"].eval()
    else:
        generator = load_generator(shipped_generator(profile))
    matcher = get_matcher("bozorth3")
    scale = profile_scale(get_profile(args.profile, gan_resolution=generator.resolution))
    seeds = range(10**6, 10**6 + args.n)
    threshold, n_impostor = editing.impostor_threshold(generator, range(10**6, 10**6 + args.impostor_seeds), matcher,
                                                       scale, 1e-3, args.truncation)
    bands = {"all layers": None}
    for band in args.bands.split(","):
        low, high = (int(v) for v in band.split("-"))
        bands[f"{low}-{high} px"] = sefa.layers_between(generator, low, high)
    result = {**record_fields(__file__, QUESTION, argv), "resolution": generator.resolution, "n_seeds": args.n,
              "degrees": DEGREES, "threshold": threshold, "n_impostor_pairs": n_impostor,
              "truncation": args.truncation, "bands": {}}
    for name, layers in bands.items():
        _, directions = sefa.factorize(generator, layers)
        table = editing.measure_edits(generator, directions, seeds, range(args.top), DEGREES, matcher, scale,
                                      args.truncation, layers)
        keeps = editing.identity_preserving(table, threshold, min_rate=0.9)
        result["bands"][name] = {"layers": layers, "identity_preserving": [int(d) for d in keeps.index[
            keeps["identity_preserving"]]], **{k: keeps[k].round(4).to_dict() for k in
                                               ("worst_match_rate", "effect", "effect_over_visible")}}
        print(name, keeps.round(3).to_string(), sep="\n", flush=True)
    out = args.out or paths.reports / "full" / "experiments" / f"sefa_layers_{generator.resolution}px.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
