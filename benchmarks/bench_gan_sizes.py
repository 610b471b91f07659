"""What a StyleGAN2 of each size costs on this machine: the G+D training step and generation.

The design record for the generator's resolution and width (issue: synthesis at ridge resolution):
for each (resolution, channels) the feature maps per resolution, parameters, the mean G+D step
(batch 8, 16 steps after a warm-up, lazy R1 and path-length passes included), training images/s and
generation images/s, at this machine's detected precision on ``--threads`` threads, and the hours
that 96,000 training images (the shipped 128 px run's budget) would take. Writes
reports/bench/gan_sizes.json. Pause other jobs first: the figures are compared as ratios in one run.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede the torch import

from bench_precision import _median_seconds, gan_step, save_results  # noqa: E402  (a script: its folder is on sys.path)
from fpnb.precision import detect, device  # noqa: E402

SIZES = ((128, 64), (256, 32), (256, 48), (256, 64), (256, 128))
BUDGET_IMAGES = 96_000


def figures(resolution: int, channels: int, batch: int, precision: str, repeats: int) -> dict:
    """Widths, parameters, step time and images/s of one generator size."""
    import torch

    from fpnb.precision import torch_autocast
    from fpnb.synthesis.sampling import sample
    from fpnb.synthesis.stylegan import channel_widths

    step, g, d = gan_step(resolution, channels, batch, precision)
    g.eval()

    def generate():
        with torch_autocast(precision), torch.inference_mode():
            sample(g, range(32), batch=32)

    return {"widths": {str(k): v for k, v in channel_widths(resolution, channels, 1).items()},
            "generator_params": sum(p.numel() for p in g.parameters()),
            "discriminator_params": sum(p.numel() for p in d.parameters()),
            "step_s": round(step, 3), "train_images_per_s": round(batch / step, 2),
            "hours_for_budget": round(BUDGET_IMAGES / (batch / step) / 3600, 2),
            "generation_images_per_s": round(32 / _median_seconds(generate, repeats), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    precision = detect()
    results = {"machine": {**device(), "threads": args.threads, "precision": precision,
                           "load_average_before": os.getloadavg()},
               "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "batch": args.batch, "budget_images": BUDGET_IMAGES,
               "sizes": {f"{res}px_{ch}ch": figures(res, ch, args.batch, precision, args.repeats) for res, ch in SIZES}}
    save_results("gan_sizes", results)


if __name__ == "__main__":
    main()
