"""Load test of the restoration service on loopback vs the model's raw batched throughput.

8 concurrent clients × 25 requests of 400×275 degraded prints, measured in the same run as
``predict_batch`` on the same images, in the precision the service resolves (bfloat16 where the
CPU has it); the single-request latency is measured in float32 and bfloat16 side by side.
Writes reports/bench/api.json.
"""
from __future__ import annotations

import io
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
from PIL import Image

from fpnb.config import paths, save_benchmark
from fpnb.data.degradations import degrade
from fpnb.precision import device, resolve
from fpnb.restoration.service import ServedModel, create_app, default_model, load_shipped_models, serve_in_thread
from fpnb.data.masters import make_impression, make_master

CLIENTS, REQUESTS_PER_CLIENT, RAW_BATCH = 8, 25, 8


def _model(precision: str | None = None) -> tuple[ServedModel, str]:
    """The service's default shipped model, else an untrained default U-Net (same cost per image)."""
    shipped = load_shipped_models(precision=precision)
    if shipped:
        name = default_model(shipped)
        return shipped[name], f"shipped {name}"
    from fpnb.restoration.models import predict_batch, unet

    network = unet()
    return ServedModel("unet", lambda batch: predict_batch(network, batch)), "untrained default unet (no shipped weights)"


def _uploads(n: int) -> tuple[np.ndarray, list[bytes]]:
    images = np.stack([degrade(make_impression(make_master(i), seed=i), seed=i) for i in range(n)])
    pngs = []
    for image in images:
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "PNG")
        pngs.append(buf.getvalue())
    return images, pngs


def _post(client: httpx.Client, url: str, png: bytes, model: str) -> tuple[float, int]:
    start = time.perf_counter()
    response = client.post(f"{url}/api/v1/restore", files={"file": ("p.png", png)}, data={"model": model})
    return time.perf_counter() - start, response.status_code


def _single_request_ms(served: ServedModel, pngs: list[bytes], n: int = 30) -> float:
    """Median latency of one request at a time (after a warm-up request)."""
    with serve_in_thread(create_app({served.name: served})) as url, httpx.Client(timeout=120) as client:
        _post(client, url, pngs[0], served.name)
        return statistics.median(_post(client, url, pngs[i % len(pngs)], served.name)[0] for i in range(n)) * 1e3


def _eager_vs_traced_ms(name: str, image: np.ndarray, n: int = 12) -> dict[str, float]:
    """One print through shipped network ``name`` (resolved precision, BN folded, as served): an eager Keras
    call against ``predict_batch`` (Keras's traced predict function), medians of ``n`` after a warm-up."""
    from fpnb.restoration.models import fold_batch_norm, network_multiple, predict_batch, to_rgb_float, with_precision
    from fpnb.restoration.training import load_restoration_model

    network = with_precision(fold_batch_norm(load_restoration_model(paths.weights / f"{name}.keras")), resolve())
    multiple = network_multiple(network)
    padded = np.pad(to_rgb_float(image)[None], ((0, 0), (0, -image.shape[0] % multiple), (0, -image.shape[1] % multiple),
                                                (0, 0)), mode="reflect")
    timings = {}
    for kind, call in (("eager", lambda: np.asarray(network(padded, training=False))),
                       ("traced", lambda: predict_batch(network, image[None]))):
        call()
        runs = []
        for _ in range(n):
            start = time.perf_counter()
            call()
            runs.append(time.perf_counter() - start)
        timings[f"inference_ms_{kind}"] = round(statistics.median(runs) * 1e3, 1)
    return timings


def main() -> dict:
    served, weights = _model()
    images, pngs = _uploads(RAW_BATCH)
    by_precision = {p: round(_single_request_ms(_model(p)[0], pngs), 1) for p in ("fp32", "bf16")}
    eager_vs_traced = _eager_vs_traced_ms(served.name, images[0]) if weights.startswith("shipped") else {}
    served.predict(images)  # warm-up: graph tracing
    start = time.perf_counter()
    rounds = 4
    for _ in range(rounds):
        served.predict(images)
    raw_images_per_s = rounds * len(images) / (time.perf_counter() - start)

    with serve_in_thread(create_app({served.name: served})) as url, httpx.Client(timeout=120) as client:
        _post(client, url, pngs[0], served.name)
        single = [_post(client, url, pngs[i % len(pngs)], served.name)[0] for i in range(30)]

        def run_client(k: int) -> list[tuple[float, int]]:
            with httpx.Client(timeout=120) as own:
                return [_post(own, url, pngs[(k + i) % len(pngs)], served.name) for i in range(REQUESTS_PER_CLIENT)]

        start = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = [r for rs in pool.map(run_client, range(CLIENTS)) for r in rs]
        wall = time.perf_counter() - start

    latencies = sorted(t for t, _ in results)
    served_per_s = len(results) / wall
    single_ms = statistics.median(single) * 1e3
    p95_ms = float(np.percentile(latencies, 95)) * 1e3
    report = {
        "machine": device(),
        "model": weights,
        "image_size": list(images.shape[1:3]),
        "clients": CLIENTS,
        "requests": len(results),
        "errors": sum(status != 200 for _, status in results),
        "raw_images_per_s": raw_images_per_s,
        "served_requests_per_s": served_per_s,
        "served_over_raw": served_per_s / raw_images_per_s,
        "precision": resolve(),
        "single_request_ms_p50": single_ms,
        "single_request_ms_p50_by_precision": by_precision,
        "p50_ms": float(np.percentile(latencies, 50)) * 1e3,
        "p95_ms": p95_ms,
        "p95_over_single": p95_ms / single_ms,
        **eager_vs_traced,
    }
    save_benchmark("api", report)
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
