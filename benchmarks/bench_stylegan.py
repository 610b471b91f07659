"""Benchmark of the StyleGAN2 code: generation images/s at 64 and 128 px, one training step at 64 px.

Generation is timed end to end through ``fpnb.synthesis.sampling.sample`` (seeds -> z, noise, mapping,
synthesis, numpy images) with freshly initialised weights, which cost the same as trained ones.

Run as ``python benchmarks/bench_stylegan.py [--device cpu|cuda] [--batch 16] [--repeats 5]``;
writes reports/bench/stylegan.json (reports/bench/stylegan-<device>.json for other devices).
On a shared CPU the wall-clock figures depend on the other jobs, so each one also carries the
process CPU time per image (equal to the wall time when only one core was free) and the load
average.
OpenMP threads busy-wait by default, which on a CPU shared with other jobs makes 2 threads
several times slower than 1; the script sets OMP_WAIT_POLICY=PASSIVE unless told otherwise
and measures at 1 thread and at all cores.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede the torch import

import torch  # noqa: E402

from fpnb.config import get_profile, save_benchmark  # noqa: E402
from fpnb.synthesis.sampling import sample  # noqa: E402
from fpnb.precision import device as cpu_device  # noqa: E402
from fpnb.synthesis.training import train_stylegan  # noqa: E402
from fpnb.synthesis.stylegan import Discriminator, Generator, channel_widths  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    """GPU name, or the CPU model."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_device()["cpu_model"]


def bench_generation(resolution: int, channels: int, batch: int, repeats: int, device: torch.device) -> dict:
    """Best-of-``repeats`` images/s of ``sample`` (seeds to numpy images) with a fresh generator."""
    g = Generator(resolution, channels=channels).to(device).eval()
    sample(g, range(batch), batch=batch)
    walls, cpus = [], []
    for i in range(repeats):
        _sync(device)
        wall, cpu = time.perf_counter(), time.process_time()
        sample(g, range(i * batch, (i + 1) * batch), batch=batch)
        _sync(device)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    widths = channel_widths(resolution, channels, g.args["channel_multiplier"])
    return {"resolution": resolution, "channels": channels, "widths": widths, "threads": torch.get_num_threads(),
            "n_params": sum(p.numel() for p in g.parameters()), "batch": batch,
            "img_per_s": batch / min(walls), "img_per_s_median": batch / sorted(walls)[len(walls) // 2],
            "cpu_ms_per_img": 1000 * min(cpus) / batch}


def bench_training(resolution: int, channels: int, batch: int, steps: int, device: torch.device) -> dict:
    """Seconds per G+D step (path length every 4 steps, R1 every 16) from the training log, step 1 left out."""
    torch.manual_seed(0)
    g, d = Generator(resolution, channels=channels), Discriminator(resolution, channels=channels)
    data = torch.rand(4 * batch, 1, resolution, resolution) * 2 - 1
    with tempfile.TemporaryDirectory() as run_dir:
        cpu = time.process_time()
        log = train_stylegan(g, d, data, run_dir, steps=steps, batch=batch, seed=0, device=device, progress=False)
        cpu = time.process_time() - cpu
    log = log[log["step"] > 1]  # the first step pays for kernel selection and allocation
    plain = log.loc[log["pl"].isna() & log["r1"].isna(), "seconds"]
    return {"resolution": resolution, "channels": channels, "batch": batch, "steps": steps,
            "threads": torch.get_num_threads(),
            "step_s": float(plain.median()), "step_with_pl_s": float(log.loc[log["pl"].notna(), "seconds"].median()),
            "mean_step_s": float(log["seconds"].mean()),
            "cpu_s_per_step": cpu / steps if device.type == "cpu" else None}


def main() -> None:
    """Parse arguments, run the benchmark, write and print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-steps", type=int, default=6)
    args = parser.parse_args()
    device = torch.device(args.device)
    cores = len(os.sched_getaffinity(0))
    widths = {name: get_profile(name).gan_channels for name in ("quick", "full")}
    results: dict = {"device": device_name(device), "device_type": device.type, "torch": torch.__version__,
                     "cores": cores, "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
                     "load_average_before": os.getloadavg(), "generation": {}, "training": {}}
    for threads in sorted({1, cores}) if device.type == "cpu" else [cores]:
        torch.set_num_threads(threads)
        for name, c in widths.items():
            for res in (64, 128):
                results["generation"][f"{name}_channels-{c}_{res}px_threads-{threads}"] = bench_generation(
                    res, c, args.batch, args.repeats, device)
            results["training"][f"{name}_channels-{c}_64px_threads-{threads}"] = bench_training(
                64, c, args.batch, args.train_steps, device)
    results["load_average_after"] = os.getloadavg()
    save_benchmark("stylegan" if device.type == "cpu" else f"stylegan-{device.type}", results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
