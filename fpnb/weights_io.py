"""Shipped weights: checksums, and torch modules as safetensors with their arguments and a JSON card.

A module saved here must carry ``args`` (the keyword arguments that rebuild it); the file's
metadata holds them with a format tag, and ``<name>.json`` beside it is the model card.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fpnb.config import Profile, profile_rank
from fpnb.files import atomic_path, write_text


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def card_path(path: str | Path) -> Path:
    """The model card beside a weights file: ``x.safetensors`` -> ``x.json``."""
    return Path(path).with_suffix(".json")


def _card_has(meta: dict, wanted: dict) -> bool:
    """Whether every wanted field is in the card; a dict value asks only for the keys it gives."""
    return all(isinstance(meta.get(k), dict) and _card_has(meta[k], v) if isinstance(v, dict) else meta.get(k) == v
               for k, v in wanted.items())


def shipped_for(path: Path, profile: Profile, exact: bool = False, **card_fields) -> Path | None:
    """``path`` when it exists with a card naming ``profile`` and every other given field
    (``args={"resolution": 256}`` checks that one argument of the card's ``args``; with ``exact``, a dict
    field must equal the card's, keys it does not give included)."""
    card = card_path(path)
    if not (path.exists() and card.exists()):
        return None
    meta, wanted = json.loads(card.read_text()), {"profile": profile.name, **card_fields}
    found = all(meta.get(k) == v for k, v in wanted.items()) if exact else _card_has(meta, wanted)
    return path if found else None


def _logged_seconds(log: Path) -> float | None:
    """Sum of a training log's per-step or per-epoch seconds (``seconds`` or ``time_s`` column), if it has one."""
    import pandas as pd

    if not log.exists():
        return None
    frame = pd.read_csv(log)
    column = next((c for c in ("seconds", "time_s") if c in frame), None)
    return float(frame[column].sum()) if column else None


def shipped_models(weights_dir: Path) -> list[dict]:
    """One row per model card in ``weights_dir``: profile, precision, training steps, images shown, wall time
    (the card's, else its training log's), size."""
    rows = []
    for card in sorted(Path(weights_dir).glob("*.json")):
        meta = json.loads(card.read_text())
        weights = card.with_name(meta.get("file", card.stem))
        wall = meta.get("wall_seconds") or _logged_seconds(card.with_suffix(".log.csv"))
        rows.append({"model": meta.get("name", card.stem), "profile": meta.get("profile"),
                     "precision": meta.get("precision", "fp32"), "training_steps": meta.get("training_steps"),
                     "images_shown": meta.get("images_shown"),
                     "wall_minutes": None if wall is None else round(wall / 60, 1),
                     "size_mb": round(weights.stat().st_size / 1e6, 1) if weights.exists() else None})
    return rows


def module_digest(module) -> str:
    """SHA-256 over a torch module's state (names, dtypes, shapes, bytes): which weights a derived model belongs to."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def may_ship(path: Path, profile: Profile) -> bool:
    """Whether a run of ``profile`` may write ``path`` under weights/: it ships weights, and no weights of a
    stronger profile are there already (a quick rerun never replaces full weights)."""
    card = card_path(path)
    shipped = json.loads(card.read_text()).get("profile") if path.exists() and card.exists() else None
    return profile.ships_weights and profile_rank(shipped) <= profile_rank(profile.name)


# a rewrite must change more than this: the same computation on another CPU (its bf16 kernels, BLAS) moves the
# last bits of a float32 tensor (the SeFa directions by 1.8e-12), which must not rewrite a shipped file
SAME_RTOL, SAME_ATOL = 1e-6, 1e-9


def same_tensors(saved: dict, tensors: dict, rtol: float = SAME_RTOL, atol: float = SAME_ATOL) -> bool:
    """Whether two name -> tensor dicts hold the same names, dtypes and shapes, and values equal within
    ``rtol``/``atol`` (exactly, for integer and boolean tensors; NaN equals NaN)."""
    import torch

    def same(a, b) -> bool:
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if not a.is_floating_point():
            return torch.equal(a, b)
        return torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol, equal_nan=True)

    return saved.keys() == tensors.keys() and all(same(saved[k], v) for k, v in tensors.items())


def write_safetensors(tensors: dict, path: str | Path, metadata: dict[str, str]) -> bool:
    """Write ``tensors`` with ``metadata`` atomically, unless ``path`` already holds these: the same metadata
    and tensors equal up to rounding (``same_tensors``). Returns whether it wrote.

    safetensors orders the metadata differently from process to process, and another CPU moves the last bits
    of a float, so rewriting the same content would still change a committed file's bytes (and its sha256).
    """
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    if path.exists():
        with safe_open(str(path), framework="pt") as handle:
            same_metadata = handle.metadata() == metadata
        if same_metadata and same_tensors(load_file(str(path)), tensors):
            return False
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata=metadata)
    return True


def stored_state(module, storage: str = "float32") -> dict:
    """``module``'s state with floating-point tensors in ``storage`` (a torch dtype name), as ``save_module`` writes it."""
    import torch

    dtype = getattr(torch, storage)
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in module.state_dict().items()}


def save_module(module, path: str | Path, fmt: str, card: dict, storage: str = "float32") -> Path:
    """Write ``module``'s state as safetensors (atomically) and its card with size and sha256; where ``path``
    already holds these weights up to rounding (``write_safetensors``) and their card (its sha256) has every
    field the new one would have, neither changes.

    ``storage="bfloat16"`` stores floating-point tensors at half the size; ``load_module`` casts them
    back to the module's float32 parameters (metrics must then be measured with the stored weights).
    """
    import torch

    path = Path(path)
    wrote = write_safetensors(stored_state(module, storage), path, {"format": fmt, "args": json.dumps(module.args)})
    full_card = {**card, "file": path.name, "format": fmt, "args": module.args, "storage": storage,
                 "n_params": sum(p.numel() for p in module.parameters()),
                 "size_bytes": path.stat().st_size, "sha256": sha256_file(path), "torch": torch.__version__}
    old = json.loads(card_path(path).read_text()) if card_path(path).exists() else None
    if not wrote and old is not None and old.get("sha256") == full_card["sha256"] and _covers(old, full_card):
        return path  # the same weights: their card, with what was measured on them, stays as it is
    write_text(card_path(path), json.dumps(full_card, indent=2, sort_keys=True, default=float) + "\n")
    return path


def _covers(old: dict, new: dict) -> bool:
    """Whether ``old`` has every key of ``new``, in nested dicts too (a card from before a field was added
    is rewritten)."""
    return all(key in old and (not isinstance(value, dict) or isinstance(old[key], dict) and _covers(old[key], value))
               for key, value in new.items())


def load_module(cls: type, path: str | Path, fmt: str, device: str = "cpu"):
    """Rebuild ``cls(**args)`` from a file written by ``save_module``, checking format and sha256."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    card = card_path(path)
    if card.exists() and json.loads(card.read_text()).get("sha256") not in (None, sha256_file(path)):
        raise ValueError(f"{path}: sha256 differs from its model card {card.name}")
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("format") != fmt:
        raise ValueError(f"{path}: not a {fmt} file")
    module = cls(**json.loads(metadata["args"]))
    module.load_state_dict(load_file(str(path), device=str(device)))
    return module.to(device)
