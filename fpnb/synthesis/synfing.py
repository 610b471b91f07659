"""SynFing-style pair sets (seed 001): two edited renderings of each generated identity, built as Dask tasks.

An identity is a seed's w and noise maps; each of its two impressions moves w along one of the
identity-preserving SeFa directions by a random degree and mixes a little fresh noise into the
seed's maps. Chunks of identities run as tasks (``fpnb.data.cluster``: a local cluster, or an
existing scheduler); every identity draws from its own seed, so the bytes do not depend on the
number of workers, and a killed build rerun with the same arguments redoes only unfinished chunks.
Workers read the generator and directions from the set's ``.chunks/`` folder, so with remote
workers the output folder must be on storage they all see.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from fpnb.data.cluster import run_tasks
from fpnb.data.datasets import native_scale, to_native
from fpnb.files import atomic_path, write_text
from fpnb.synthesis.stylegan import Generator
from fpnb.weights_io import module_digest

CHUNKS = ".chunks"
CHUNK_IDENTITIES = 32
_CLUSTER_MIN_IDENTITIES = 256  # below this a local build runs in-process: starting workers costs more
_GENERATOR, _DIRECTIONS = "generator.safetensors", "directions.safetensors"


def identity_seeds(n_identities: int, seed: int) -> np.ndarray:
    """Distinct generator seeds of the identities, clear of the small seeds the notebooks evaluate."""
    return (1 << 20) + np.random.default_rng(seed).choice(1 << 30, n_identities, replace=False)


@functools.lru_cache(maxsize=2)
def _worker_model(folder: str, digests: tuple[str, str]) -> tuple[Generator, torch.Tensor]:
    """The set's generator and directions, loaded once per worker process (their ``digests`` key the cache)."""
    from fpnb.synthesis.editing import load_directions
    from fpnb.synthesis.sampling import load_generator

    return load_generator(Path(folder) / _GENERATOR), load_directions(Path(folder) / _DIRECTIONS)[1]


def _scorer(matcher):
    """A matcher object as given, or the worker's cached matcher of that name."""
    if matcher is None or not isinstance(matcher, str):
        return matcher
    from fpnb.identity.verification import worker_matcher

    return worker_matcher(matcher)


def _identity(generator: Generator, directions: torch.Tensor, identity: int, identity_seed: int, params: dict,
              matcher, out_dir: Path) -> dict:
    """Render, write and (with a matcher) score one identity's two impressions; its pairs.csv row."""
    import cv2

    from fpnb.synthesis.sampling import render, seed_latents, seed_noise
    from fpnb.synthesis.sefa import edit

    rng = np.random.default_rng([params["seed"], identity])  # per identity: same draws in any chunk
    w = seed_latents(generator, [identity_seed], params["truncation"])
    base_noise = seed_noise(generator, [identity_seed])
    keep = np.sqrt(1 - params["noise_strength"] ** 2)
    row, images = {"identity": identity, "seed": identity_seed}, []
    for impression in range(2):
        index = int(rng.choice(params["indices"]))
        degree = float(rng.uniform(-params["max_degree"], params["max_degree"]))
        fresh = torch.Generator().manual_seed(int(rng.integers(1 << 31)))
        noise = [keep * n + params["noise_strength"] * torch.randn(n.shape, generator=fresh) for n in base_noise]
        image = render(generator, edit(w, directions, index, degree), noise=noise)[0]
        name = f"{identity:06d}_{impression}.png"
        with atomic_path(out_dir / "images" / name) as tmp:
            cv2.imwrite(str(tmp), np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
        row |= {f"file_{impression}": f"images/{name}", f"direction_{impression}": index,
                f"degree_{impression}": round(degree, 4)}
        images.append(image)
    if matcher is not None:
        native = to_native(np.stack(images), params["scale"] or native_scale(generator.resolution))
        row["score"] = float(matcher.score(native[0], native[1]))
    return row


def _build_chunk(job: tuple[str, list[int], list[int], dict, object]) -> str:
    """Build a chunk of identities and record its rows in ``.chunks/``; a recorded chunk is skipped."""
    out_dir, identities, seeds, params, matcher = job
    out_dir = Path(out_dir)
    record = out_dir / CHUNKS / f"{identities[0]:06d}.json"
    if not record.exists():  # local Dask workers run one thread each (cluster.WORKER_ENVIRON)
        generator, directions = _worker_model(str(out_dir / CHUNKS),
                                              (params["generator_digest"], params["directions_sha256"]))
        scorer = _scorer(matcher)
        rows = [_identity(generator, directions, i, s, params, scorer, out_dir) for i, s in zip(identities, seeds)]
        write_text(record, json.dumps(rows) + "\n")
    return str(record)


def _prepare(out_dir: Path, params: dict, generator: Generator, directions: torch.Tensor) -> None:
    """Keep a started build of the same parameters (resume); else start over with this model."""
    from fpnb.synthesis.editing import save_directions
    from fpnb.synthesis.sampling import save_generator

    chunks = out_dir / CHUNKS
    started = chunks / "parameters.json"
    if started.exists() and json.loads(started.read_text()) == params:
        for stray in (out_dir / "images").glob(".tmp-*"):  # files of a killed build that never replaced anything
            stray.unlink()
        return
    for name in ("images", CHUNKS):
        shutil.rmtree(out_dir / name, ignore_errors=True)
        (out_dir / name).mkdir(parents=True)
    for name in ("pairs.csv", "manifest.json"):
        (out_dir / name).unlink(missing_ok=True)
    save_generator(generator, chunks / _GENERATOR, {"name": "synfing generator"})
    save_directions(torch.zeros(len(directions)), directions, chunks / _DIRECTIONS)
    write_text(started, json.dumps(params) + "\n")


def build_synfing(generator: Generator, directions: torch.Tensor, n_identities: int, out_dir: str | Path,
                  seed: int = 0, indices: Sequence[int] = (0, 1, 2), max_degree: float = 3.0,
                  truncation: float = 0.7, noise_strength: float = 0.1, matcher=None, scale: float | None = None,
                  threshold: float | None = None, workers: int | None = None, scheduler: str | None = None,
                  progress: bool = False) -> dict:
    """Write a SynFing-like set (or keep the one already built with these arguments); its genuine-score statistics.

    Each identity has two impressions: w moved along a random direction of ``indices`` by a degree
    uniform in [-max_degree, max_degree], with ``noise_strength`` of fresh noise mixed into the
    seed's maps (sqrt(1 - a^2) n + a n'). ``matcher``: a matcher name (each worker keeps its own)
    or, for in-process builds, a matcher object; None skips scoring. Files:
    ``images/<identity>_<impression>.png`` (R px, 8-bit), ``pairs.csv``, ``manifest.json``.
    """
    out_dir = Path(out_dir)
    generator = generator.cpu().eval().requires_grad_(False)
    params = {"seed": int(seed), "n_identities": int(n_identities), "indices": [int(i) for i in indices],
              "max_degree": float(max_degree), "truncation": float(truncation),
              "noise_strength": float(noise_strength), "resolution": generator.resolution,
              "scale": scale, "matcher": getattr(matcher, "name", matcher),
              "generator_digest": module_digest(generator),
              "directions_sha256": hashlib.sha256(directions.float().cpu().numpy().tobytes()).hexdigest()}
    manifest_file = out_dir / "manifest.json"
    if manifest_file.is_file() and json.loads(manifest_file.read_text())["parameters"] == params:
        return json.loads(manifest_file.read_text())["stats"]  # already built with these arguments
    _prepare(out_dir, params, generator, directions)
    seeds = identity_seeds(n_identities, seed).tolist()
    jobs = [(str(out_dir), list(range(i, min(i + CHUNK_IDENTITIES, n_identities))),
             seeds[i:i + CHUNK_IDENTITIES], params, matcher) for i in range(0, n_identities, CHUNK_IDENTITIES)]
    in_process = n_identities < _CLUSTER_MIN_IDENTITIES or not isinstance(matcher, (str, type(None)))
    records = run_tasks(_build_chunk, jobs, scheduler, 1 if in_process and not scheduler else workers,
                        desc="synfing", progress=progress)
    rows = [row for record in records for row in json.loads(Path(record).read_text())]
    with open(out_dir / "pairs.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    stats: dict = {"n_identities": n_identities, "n_images": 2 * n_identities}
    if matcher is not None:
        scores = np.array([r["score"] for r in rows])
        stats |= {"matcher": params["matcher"], "genuine_mean": float(scores.mean()),
                  "genuine_median": float(np.median(scores)), "genuine_min": float(scores.min()),
                  "genuine_q10": float(np.quantile(scores, 0.1))}
        if threshold is not None:
            stats |= {"threshold": float(threshold), "genuine_match_rate": float(np.mean(scores >= threshold))}
    manifest = {"parameters": params, "stats": stats}
    write_text(manifest_file, json.dumps(manifest, indent=1, default=float) + "\n")
    shutil.rmtree(out_dir / CHUNKS)
    return stats


def build_from_shipped(profile, n_identities: int, out_dir: str | Path, seed: int = 0, score: bool = True,
                       workers: int | None = None, scheduler: str | None = None, progress: bool = False) -> dict:
    """A SynFing-like set from the shipped generator of ``profile`` and the study's own choices:
    the identity-preserving directions and the FAR 0.1 % Bozorth3 threshold that notebook 10 recorded
    for this generator (``reports/<profile>/metrics/08_editing.json``; directions 0-2 and no match rate
    where notebook 10 has not run on it)."""
    from fpnb.config import paths
    from fpnb.synthesis.editing import directions_for, directions_path
    from fpnb.synthesis.reconstruction import profile_scale
    from fpnb.synthesis.sampling import load_generator
    from fpnb.synthesis.study import shipped_generator

    path = shipped_generator(profile)
    if path is None:
        raise FileNotFoundError(f"no shipped generator for profile {profile.name!r} in weights/: train it with "
                                f"notebook 08 (python tasks.py report --profile {profile.name} --only 08)")
    generator = load_generator(path)
    directions = directions_for(generator, directions_path(profile, f"shipped {path.name}"))
    metrics = paths.metrics_file(profile, "08_editing")
    recorded = json.loads(metrics.read_text()) if metrics.exists() else {}
    if recorded.get("generator_digest") != module_digest(generator):
        recorded = {}  # notebook 10's choices were made on another generator
    indices = recorded.get("identity_preserving") or [0, 1, 2]
    return build_synfing(generator, directions, n_identities, out_dir, seed=seed,
                         indices=indices, matcher="bozorth3" if score else None, scale=profile_scale(profile),
                         threshold=recorded.get("threshold") if score else None, workers=workers,
                         scheduler=scheduler, progress=progress)
