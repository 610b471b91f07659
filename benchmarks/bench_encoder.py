"""What one training step of the minutiae encoder costs at the generator's 128 and 256 px.

The design record for the encoder at 256 px (issue: synthesis at ridge resolution): the mean step
(batch 8, Adam, frozen generator at 64 channels and an untrained PrintNet of the shipped widths,
which runs at ``PRINTNET_SIDE`` = 128 px at most)
with the full losses (pixel, PrintNet perceptual and FingerNet-style, latent) and with the pixel
and latent losses only, for the encoder's stem at stride 1 and at the stride ``build_encoder``
picks (2 at 256 px). Writes reports/bench/encoder.json; compare its rows as ratios (one run, one
machine). Float32 unless ``--precision bf16``.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede the torch import

from bench_precision import _median_seconds, save_results  # noqa: E402  (a script: its folder is on sys.path)
from fpnb.precision import device  # noqa: E402

BATCH = 8
LOSSES = {"full": {"l2": 1.0, "perceptual": 0.8, "fingernet": 1.0, "latent": 1.0},
          "pixel + latent": {"l2": 1.0, "latent": 1.0}}


def step_seconds(resolution: int, stem_stride: int, precision: str, repeats: int) -> dict[str, float]:
    """Median seconds of one encoder step per loss set."""
    import torch

    from fpnb.precision import torch_autocast
    from fpnb.synthesis.printnet import PrintNet
    from fpnb.synthesis.reconstruction import build_encoder, encoder_losses
    from fpnb.synthesis.stylegan import Generator

    torch.manual_seed(0)
    generator = Generator(resolution, channels=64).eval().requires_grad_(False)
    printnet = PrintNet().eval().requires_grad_(False)
    encoder = build_encoder(generator, 16, stem_stride=stem_stride)
    optimiser = torch.optim.Adam(encoder.parameters(), lr=1e-3)
    maps, images = torch.rand(BATCH, 3, resolution, resolution), torch.rand(BATCH, resolution, resolution)
    w = torch.randn(BATCH, generator.style_dim)

    def step(weights: dict) -> None:
        with torch_autocast(precision):
            total, _ = encoder_losses(encoder, generator, printnet, maps, images, w, weights)
        optimiser.zero_grad(set_to_none=True)
        total.backward()
        optimiser.step()

    return {name: round(_median_seconds(lambda: step(weights), repeats), 3) for name, weights in LOSSES.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    rows = {f"{res}px_stem_stride_{stride}": step_seconds(res, stride, args.precision, args.repeats)
            for res, stride in ((128, 1), (256, 1), (256, 2))}
    results = {"machine": {**device(), "threads": args.threads, "precision": args.precision,
                           "load_average_before": load_before},
               "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "batch": BATCH, "step_seconds": rows}
    save_results("encoder", results)


if __name__ == "__main__":
    main()
