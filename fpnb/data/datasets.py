"""Datasets on disk in the ChaLearn LAP 2018 track-3 layout, and loaders for it and for plain print folders.

The same loaders read the study's synthetic set and the real ChaLearn download: pairs are
``<split>_input/X.*`` with ``<split>_ground-truth/X.*``. A missing folder, an input without its
ground truth or an unreadable image raises an error naming the path; nothing is skipped silently.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from fpnb.data import degradations, masters
from fpnb.config import Profile, paths
from fpnb.data.cluster import run_tasks
from fpnb.files import atomic_path, write_text

# the three real prints that ship with the tests (MIT, afis 1.2.7; see its README): a sanity set, not a rate
REAL_FIXTURE = paths.root / "tests" / "data" / "real_prints_afis"

SPLITS = ("training", "validation", "test")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
GENERATOR_VERSION = 1
DEGRADE_STRENGTH = 1.0
JPEG_QUALITY = 95
_MANAGED = tuple(f"{s}_{kind}" for s in SPLITS for kind in ("input", "ground-truth")) + ("masters",)
_CLUSTER_MIN_IMAGES = 60  # below this a local build runs in-process: starting workers costs more
CHUNKS = ".chunks"  # records of finished chunks while a build runs (resume after a kill)
CHUNK_IDENTITIES = 8


def _derived_seed(seed: int, *key: int) -> int:
    """An independent 32-bit seed for one identity / impression, from the dataset seed."""
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1)[0])


def _input_seed(seed: int, identity: int, impression: int) -> int:
    """Seed of the degradation that makes an impression's input."""
    return _derived_seed(seed, identity, impression, 2)


def split_identities(n_identities: int, val_fraction: float, test_fraction: float, seed: int) -> list[str]:
    """Split name of every identity; disjoint by construction, each non-empty split drawn at random."""
    if n_identities < 1:
        raise ValueError(f"n_identities: must be >= 1, got {n_identities}")
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name}: must be in [0, 1), got {value}")
    n_val = int(round(n_identities * val_fraction)) if val_fraction else 0
    n_test = int(round(n_identities * test_fraction)) if test_fraction else 0
    n_val, n_test = max(n_val, int(val_fraction > 0)), max(n_test, int(test_fraction > 0))
    if n_identities - n_val - n_test < 1:
        raise ValueError(f"n_identities: {n_identities} leaves no training identity")
    order = np.random.default_rng(seed).permutation(n_identities)
    splits = ["training"] * n_identities
    for index in order[:n_val]:
        splits[index] = "validation"
    for index in order[n_val:n_val + n_test]:
        splits[index] = "test"
    return splits


def _parameters(profile: Profile, seed: int) -> dict:
    """Everything the dataset's bytes depend on, the generator's source included; a change triggers a rebuild."""
    code = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in (masters, degradations))).hexdigest()
    return {
        "generator_version": GENERATOR_VERSION, "code_hash": code[:16], "seed": int(seed),
        "n_identities": profile.n_identities, "n_impressions": profile.n_impressions,
        "image_height": profile.image_height, "image_width": profile.image_width,
        "val_fraction": profile.val_fraction, "test_fraction": profile.test_fraction,
        "degrade_strength": DEGRADE_STRENGTH, "jpeg_quality": JPEG_QUALITY,
    }


def _write_image(path: Path, image: np.ndarray, *params: int) -> None:
    """cv2.imwrite through a temporary file: a killed build never leaves half an image."""
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), image, list(params)):
            raise OSError(f"{path}: could not write the image")


def _build_identity(root: Path, identity: int, split: str, params: dict) -> tuple[list[dict], dict]:
    """Write one identity's master, impressions and degraded inputs; return its csv rows and metadata."""
    seed = params["seed"]
    master = masters.make_master(_derived_seed(seed, identity), params["image_height"], params["image_width"])
    master_file = f"masters/{identity:05d}.png"
    _write_image(root / master_file, _to_uint8(master.image))
    rows = []
    for impression in range(params["n_impressions"]):
        stem = f"{identity:05d}_{impression:02d}"
        target = masters.make_impression(master, _derived_seed(seed, identity, impression, 1))
        degraded = degradations.degrade(target, _input_seed(seed, identity, impression), params["degrade_strength"])
        _write_image(root / f"{split}_input" / f"{stem}.jpg", cv2.cvtColor(degraded, cv2.COLOR_RGB2BGR),
                     cv2.IMWRITE_JPEG_QUALITY, params["jpeg_quality"])
        _write_image(root / f"{split}_ground-truth" / f"{stem}.png", _to_uint8(target))
        rows.append({"file": stem, "identity": identity, "impression": impression, "split": split,
                     "pattern": master.pattern, "master": master_file})
    meta = {"identity": identity, "seed": master.seed, "split": split, "pattern": master.pattern,
            "cores": master.cores.round(2).tolist(), "deltas": master.deltas.round(2).tolist(),
            "mean_period_px": round(float(master.period[master.mask].mean()), 3),
            "foreground_fraction": round(float(master.mask.mean()), 4)}
    return rows, meta


def _build_chunk(job: tuple[Path, list[int], list[str], dict]) -> Path:
    """Build a chunk of identities and record it in ``.chunks/``; a chunk already recorded is skipped.

    The record is written last and atomically, so a build killed mid-chunk redoes that chunk only.
    """
    root, identities, splits, params = job
    record = root / CHUNKS / f"{identities[0]:05d}.json"
    if not record.exists():
        cv2.setNumThreads(1)  # one thread per worker process
        results = [_build_identity(root, identity, split, params) for identity, split in zip(identities, splits)]
        write_text(record, json.dumps(results) + "\n")
    return record


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """float [0, 1] to uint8 with rounding."""
    return (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def content_hash(root: Path, files: list[str]) -> str:
    """sha256 over the relative paths and bytes of the given files, in sorted order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update((Path(root) / name).read_bytes())
    return digest.hexdigest()


def data_hash(root: Path) -> str:
    """Content hash of a dataset built by ``build_restoration_dataset`` (``unknown`` for real data)."""
    manifest = root / "manifest.json"
    return json.loads(manifest.read_text())["content_hash"] if manifest.exists() else "unknown"


def _is_current(root: Path, params: dict) -> bool:
    """True if ``root`` holds a complete build with exactly these parameters."""
    manifest = root / "manifest.json"
    if not manifest.is_file():
        return False
    recorded = json.loads(manifest.read_text())
    return recorded.get("parameters") == params and all((root / f).is_file() for f in recorded.get("files", []))


def _prepare(root: Path, params: dict) -> None:
    """Keep a started build of the same parameters (resume); else start over in empty folders."""
    started = root / CHUNKS / "parameters.json"
    if started.exists() and json.loads(started.read_text()) == params:
        for stray in root.glob("*/.tmp-*"):  # files of a killed build that never replaced anything
            stray.unlink()
        return
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").unlink(missing_ok=True)
    for name in (*_MANAGED, CHUNKS):
        shutil.rmtree(root / name, ignore_errors=True)
        (root / name).mkdir()
    write_text(started, json.dumps(params) + "\n")


def build_restoration_dataset(profile: Profile, seed: int = 0, root: Path | None = None,
                              workers: int | None = None, scheduler: str | None = None,
                              progress: bool = False) -> Path:
    """Build (or reuse) the synthetic ChaLearn-layout dataset of a profile and return its folder.

    Chunks of identities run as Dask tasks (``fpnb.data.cluster``: a local cluster of ``workers``
    processes, or ``scheduler``); every identity draws from its own seeds, so the bytes are the
    same for any number of workers. A killed build rerun with the same arguments redoes only the
    chunks it had not recorded.
    """
    root = Path(root) if root is not None else paths.data / profile.name / "chalearn"
    params = _parameters(profile, seed)
    if _is_current(root, params):
        return root
    splits = split_identities(profile.n_identities, profile.val_fraction, profile.test_fraction, seed)
    if profile.n_impressions < 1:
        raise ValueError(f"n_impressions: must be >= 1, got {profile.n_impressions}")
    _prepare(root, params)
    identities = list(range(len(splits)))
    jobs = [(root, identities[i:i + CHUNK_IDENTITIES], splits[i:i + CHUNK_IDENTITIES], params)
            for i in range(0, len(identities), CHUNK_IDENTITIES)]
    small = len(splits) * (1 + profile.n_impressions) < _CLUSTER_MIN_IMAGES
    records = run_tasks(_build_chunk, jobs, scheduler, 1 if small and not scheduler else workers,
                        desc="dataset", progress=progress)
    results = [tuple(result) for record in records for result in json.loads(record.read_text())]
    rows = [row for identity_rows, _ in results for row in identity_rows]
    with open(root / "identities.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_text(root / "masters.json", json.dumps([meta for _, meta in results], indent=1) + "\n")
    files = sorted(str(p.relative_to(root)) for name in _MANAGED for p in (root / name).iterdir())
    files += ["identities.csv", "masters.json"]
    counts = {s: {"identities": splits.count(s), "pairs": splits.count(s) * profile.n_impressions}
              for s in SPLITS}
    manifest = {"profile": profile.name, "parameters": params, "counts": counts,
                "content_hash": content_hash(root, files), "files": files}
    write_text(root / "manifest.json", json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(root / CHUNKS)
    return root


def _visible_files(folder: Path) -> list[Path]:
    """Visible files of a folder in name order; a missing folder raises naming it."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: folder not found")
    return [p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")]


def _image_files(folder: Path) -> list[Path]:
    """Image files of a folder in name order; any other file, or none at all, raises."""
    files = _visible_files(folder)
    for path in files:
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            raise ValueError(f"{path}: not an image file (expected one of {IMAGE_EXTENSIONS})")
    if not files:
        raise FileNotFoundError(f"{folder}: no image files")
    return files


def list_pairs(root: Path | str, split: str) -> list[tuple[Path, Path]]:
    """(input, ground truth) paths of a split, matched by file stem, in name order."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    root = Path(root)
    inputs = _image_files(root / f"{split}_input")
    truths = {path.stem: path for path in _image_files(root / f"{split}_ground-truth")}
    pairs = []
    for path in inputs:
        if path.stem not in truths:
            raise FileNotFoundError(f"{path}: no ground truth named {path.stem}.* in {root / f'{split}_ground-truth'}")
        pairs.append((path, truths[path.stem]))
    return pairs


def read_image(path: Path | str, grey: bool) -> np.ndarray:
    """uint8 image from disk, RGB (H, W, 3) or grey (H, W); an unreadable file raises naming it."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"{path}: cannot read image")
    return image if grey else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _stack(images: list[np.ndarray], files: list[Path]) -> np.ndarray:
    """Stack same-size images; a different size raises naming the file."""
    for image, path in zip(images, files):
        if image.shape != images[0].shape:
            raise ValueError(f"{path}: size {image.shape[:2]} differs from {files[0]}'s {images[0].shape[:2]}")
    return np.stack(images)


def load_pairs(root: Path | str, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Inputs uint8 (N, H, W, 3), targets float32 (N, H, W) in [0, 1] and the pairs' stems."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit: must be >= 1 or None, got {limit}")
    pairs = list_pairs(root, split)[:limit]
    inputs = [read_image(a, grey=False) for a, _ in pairs]
    targets = [read_image(b, grey=True) for _, b in pairs]
    for (a, b), x, y in zip(pairs, inputs, targets):
        if x.shape[:2] != y.shape:
            raise ValueError(f"{a}: size {x.shape[:2]} differs from its ground truth {b}'s {y.shape}")
    x = _stack(inputs, [a for a, _ in pairs])
    y = _stack(targets, [b for _, b in pairs]).astype(np.float32) / 255.0
    return x, y, [a.stem for a, _ in pairs]


def build_parameters(root: Path | str) -> dict:
    """What a synthetic build was made with (seed, strength, JPEG quality …), from its manifest."""
    manifest = Path(root) / "manifest.json"
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: not a synthetic build of this study (no manifest)")
    return json.loads(manifest.read_text())["parameters"]


def regenerate_input(params: dict, name: str, target: np.ndarray, skip: tuple[str, ...] = ()) -> np.ndarray:
    """The input of pair ``name`` (``<identity>_<impression>``) of a build with ``params`` (``build_parameters``),
    made again from its ``target`` (as loaded) and recorded seed, with the degradation steps in ``skip`` left
    out; RGB uint8."""
    identity, impression = (int(part) for part in name.split("_"))
    rgb = degradations.degrade(target, _input_seed(params["seed"], identity, impression),
                               params["degrade_strength"], skip=skip)
    _, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, params["jpeg_quality"]])
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def finger_of(file_name: str) -> str:
    """Finger of a real print named ``<finger>_<impression>.<ext>`` (NIST and FVC folders)."""
    return Path(file_name).stem.rsplit("_", 1)[0]


def load_print_folder(path: Path | str, exts: tuple[str, ...] = ("png", "tif", "tiff", "bmp", "jpg")
                      ) -> tuple[np.ndarray, list[str]]:
    """All prints of a plain folder (NIST, FVC) as grey float32 (N, H, W) in [0, 1] and their file names."""
    extensions = tuple("." + e.lower().lstrip(".") for e in exts)
    folder = Path(path)
    files = [p for p in _visible_files(folder) if p.suffix.lower() in extensions]
    if not files:
        raise FileNotFoundError(f"{folder}: no files with extensions {extensions}")
    images = _stack([read_image(p, grey=True) for p in files], files)
    return images.astype(np.float32) / 255.0, [p.name for p in files]


def square(images: np.ndarray, resolution: int | None) -> np.ndarray:
    """Centre-crop (N, H, W) images to squares and resize them to ``resolution`` (None: keep the side)."""
    if resolution is not None and resolution < 4:
        raise ValueError(f"resolution: must be >= 4, got {resolution}")
    height, width = images.shape[1:3]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crops = images[:, top:top + side, left:left + side]
    if resolution is None or resolution == side:
        return np.ascontiguousarray(crops, dtype=np.float32)
    interpolation = cv2.INTER_AREA if resolution < side else cv2.INTER_CUBIC
    return np.stack([cv2.resize(c, (resolution, resolution), interpolation=interpolation) for c in crops]
                    ).astype(np.float32)


NATIVE_SIDE = 275  # px: the masters' short side at their own ~500 ppi (ridge period 8-12 px)


def native_scale(resolution: int, side: int = NATIVE_SIDE) -> float:
    """Factor that brings an R px square print back to the masters' ~500 ppi."""
    return side / resolution


def to_native(images: np.ndarray, scale: float | None = None) -> np.ndarray:
    """N x R x R prints resized (bicubic, clipped to [0, 1]) by ``scale``, default to ``NATIVE_SIDE`` px.

    A 64 px print has ridges about 2.3 px apart, where minutiae extraction and matching mean
    nothing; every print (generated and master alike) is compared at the masters' own scale. The
    scale is fixed, not fitted per image, so ridge periods stay comparable.
    """
    images = np.asarray(images, dtype=np.float32)
    side = NATIVE_SIDE if scale is None else int(round(images.shape[-1] * scale))
    return np.clip(square(images, side), 0, 1)


def master_prints(profile: Profile, seed: int = 0, resolution: int | None = None) -> np.ndarray:
    """The dataset's training-split master prints, float32 (N, H, W) in [0, 1]; squared if ``resolution``."""
    root = build_restoration_dataset(profile, seed)
    metas = json.loads((root / "masters.json").read_text())
    files = [root / "masters" / f"{m['identity']:05d}.png" for m in metas if m["split"] == "training"]
    images = _stack([read_image(p, grey=True) for p in files], files).astype(np.float32) / 255.0
    return images if resolution is None else square(images, resolution)


def tf_pairs(root: Path | str, split: str, batch_size: int, crop_size: int | None = None, seed: int = 0,
             augment: bool = True, repeat: bool = True):
    """tf.data pipeline of (input HxWx3, target HxWx1) float32 in [0, 1] batches.

    Crops (when ``crop_size``) and, with ``augment``, shuffling, flips and 90-degree turns (square crops
    only) are drawn by stateless ops from (seed, element index): reproducible, different every step.
    """
    import tensorflow as tf

    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    if crop_size is not None and crop_size < 1:
        raise ValueError(f"crop_size: must be >= 1 or None, got {crop_size}")
    pairs = list_pairs(root, split)
    data = tf.data.Dataset.from_tensor_slices(([str(a) for a, _ in pairs], [str(b) for _, b in pairs]))
    if augment:
        data = data.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        data = data.repeat()

    def decode(input_path, target_path):
        x = tf.io.decode_image(tf.io.read_file(input_path), channels=3, expand_animations=False)
        y = tf.io.decode_image(tf.io.read_file(target_path), channels=1, expand_animations=False)
        return tf.image.convert_image_dtype(x, tf.float32), tf.image.convert_image_dtype(y, tf.float32)

    def transform(index, pair):
        both = tf.concat(pair, axis=-1)
        seeds = tf.random.experimental.stateless_split(tf.stack([tf.cast(seed, tf.int64), index]), 4)
        if crop_size is not None:
            both = tf.image.stateless_random_crop(both, [crop_size, crop_size, 4], seed=seeds[0])
        if augment:
            both = tf.image.stateless_random_flip_left_right(both, seed=seeds[1])
            both = tf.image.stateless_random_flip_up_down(both, seed=seeds[2])
            if crop_size is not None:
                turns = tf.random.stateless_uniform([], seed=seeds[3], minval=0, maxval=4, dtype=tf.int32)
                both = tf.image.rot90(both, k=turns)
        return both[..., :3], both[..., 3:]

    data = data.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    data = data.enumerate().map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.batch(batch_size, drop_remainder=repeat).prefetch(tf.data.AUTOTUNE)


@functools.cache
def _torch_prints_class() -> type:
    """Define TorchPrints on first use, so that importing this module does not import torch."""
    import torch

    class TorchPrints(torch.utils.data.Dataset):
        """Grey prints as float tensors 1 x R x R in [-1, 1] (dark ridges at -1), centre-cropped and resized."""

        def __init__(self, images: np.ndarray, resolution: int):
            images = np.asarray(images, dtype=np.float32)
            if images.ndim != 3:
                raise ValueError(f"images: expected (N, H, W), got shape {images.shape}")
            self.resolution = int(resolution)
            self.images = torch.from_numpy(square(images, self.resolution) * 2.0 - 1.0).unsqueeze(1)

        def __len__(self) -> int:
            return len(self.images)

        def __getitem__(self, index: int):
            return self.images[index]

    return TorchPrints


def __getattr__(name: str):
    """Lazy attribute: ``TorchPrints`` imports torch only when first asked for."""
    if name == "TorchPrints":
        return _torch_prints_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
