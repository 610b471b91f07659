"""float32 against bfloat16 in one run: the study U-Net's training step and 400 x 275 inference,
a StyleGAN2 G+D step at 128 and 256 px, and generation images/s.

Run as ``python benchmarks/bench_precision.py [--repeats 10] [--quick]``; writes
reports/bench/precision.json. Each figure is the median over ``repeats`` timed calls after a warm-up,
on all of the process's cores; the two precisions run back to back so their ratio is what to read
on a noisy machine. A GAN step is the mean over 16 training steps, which include one lazy R1 and
four path-length passes (the regularisation the real run pays).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede the torch and TF imports
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from fpnb.config import save_benchmark  # noqa: E402
from fpnb.precision import cpu_flags, detect, device  # noqa: E402

PRECISIONS = ("fp32", "bf16")


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: graph tracing, oneDNN primitive creation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def unet_figures(base_filters: int, repeats: int) -> dict:
    """Training step (batch 8 of 128 px crops, MS-SSIM + L1) and one 400 x 275 restoration, per precision."""
    from fpnb.precision import keras_precision
    from fpnb.restoration import models as r

    rng = np.random.default_rng(0)
    x, y = rng.random((8, 128, 128, 3), np.float32), rng.random((8, 128, 128, 1), np.float32)
    image = rng.random((400, 275, 3), np.float32)
    out = {}
    for precision in PRECISIONS:
        with keras_precision(precision):
            model = r.build_model("unet", loss="ms_ssim_l1", learning_rate=3e-3, depth=4,
                                  base_filters=base_filters, batch_norm=True)
        step = _median_seconds(lambda: model.train_on_batch(x, y), repeats)
        served = r.with_precision(r.fold_batch_norm(model), precision)
        infer = _median_seconds(lambda: r.predict_image(served, image), repeats)
        out[precision] = {"train_step_ms": round(step * 1000, 1), "inference_400x275_ms": round(infer * 1000, 1)}
    out["speedup"] = {k: round(out["fp32"][k] / out["bf16"][k], 2) for k in out["fp32"]}
    return out


def gan_step(resolution: int, channels: int, batch: int, precision: str) -> tuple[float, object, object]:
    """Mean seconds of a G+D training step (16 steps after one warm-up step), the generator and the discriminator."""
    import torch

    from fpnb.synthesis.stylegan import Discriminator, Generator
    from fpnb.synthesis.training import train_stylegan

    torch.manual_seed(0)
    g, d = Generator(resolution, channels=channels), Discriminator(resolution, channels=channels)
    data = torch.rand(4 * batch, 1, resolution, resolution) * 2 - 1
    with tempfile.TemporaryDirectory() as tmp:
        log = train_stylegan(g, d, data, tmp, 17, batch, 0, progress=False, precision=precision,
                             sample_every=10**9, checkpoint_every=10**9)
    return float(log["seconds"].iloc[1:].mean()), g, d


def gan_figures(resolution: int, channels: int, batch: int) -> dict:
    """Mean G+D training step per precision."""
    out = {}
    for precision in PRECISIONS:
        seconds = gan_step(resolution, channels, batch, precision)[0]
        out[precision] = {"step_s": round(seconds, 3), "images_per_s": round(batch / seconds, 1)}
    out["speedup"] = round(out["fp32"]["step_s"] / out["bf16"]["step_s"], 2)
    return out


def generation_figures(resolution: int, channels: int, repeats: int) -> dict:
    """Images/s of ``sample`` (seeds to numpy prints), batch 32, per precision."""
    import torch

    from fpnb.precision import torch_autocast
    from fpnb.synthesis.sampling import sample
    from fpnb.synthesis.stylegan import Generator

    g = Generator(resolution, channels=channels).eval()
    out = {}
    for precision in PRECISIONS:
        def run(precision=precision):
            with torch_autocast(precision), torch.inference_mode():
                sample(g, range(32), batch=32)
        out[precision] = {"images_per_s": round(32 / _median_seconds(run, repeats), 1)}
    out["speedup"] = round(out["bf16"]["images_per_s"] / out["fp32"]["images_per_s"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--gan-batch", type=int, default=8)
    parser.add_argument("--only", choices=("unet", "gan", "generation"), default=None)
    args = parser.parse_args()
    flags = cpu_flags()
    results = {
        "machine": {"cores": len(os.sched_getaffinity(0)), **device(),
                    "bf16_flags": sorted(flags & {"amx_bf16", "avx512_bf16", "amx_tile"}),
                    "detected_precision": detect(flags), "load_average_before": os.getloadavg()},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if args.only in (None, "unet"):
        results["study_unet"] = {f"base_filters_{n}": unet_figures(n, args.repeats) for n in (16, 32)}
    if args.only in (None, "gan"):
        results["stylegan_step"] = {f"{res}px_{ch}ch_batch{args.gan_batch}": gan_figures(res, ch, args.gan_batch)
                                    for res, ch in ((128, 64), (256, 64))}
    if args.only in (None, "generation"):
        results["generation"] = {f"{res}px_{ch}ch": generation_figures(res, ch, args.repeats)
                                 for res, ch in ((128, 64), (256, 64))}
    save_results("precision", results, merge=bool(args.only))  # a partial run keeps the other sections


def save_results(name: str, results: dict, merge: bool = False) -> None:
    """Record the load average after the run, write reports/bench/<name>.json (over the sections already
    there with ``merge``) and print it."""
    results["machine"]["load_average_after"] = os.getloadavg()
    print(save_benchmark(name, results, merge).read_text())


if __name__ == "__main__":
    main()
