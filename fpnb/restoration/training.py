"""One resumable training routine for every restoration model, and shipped-model cards.

A run directory holds, after each completed epoch ``e``:
``epoch-<e>.weights.h5`` and ``epoch-<e>.optimizer.npz`` (model and optimizer state),
``best-<b>.weights.h5`` (weights of the best epoch ``b`` so far), ``log.csv`` and
``state.json`` (epoch, history, early-stopping state; ``history.json`` when ``fit``
returns). Every file is written to a temporary name and moved into place with
``os.replace``; ``state.json`` is written last and names the files to resume from, so a
crash at any point leaves the previous epoch intact; files it no longer names are deleted.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from fpnb.config import Profile
from fpnb.files import atomic_path, deflate_zip, write_text
from fpnb.restoration.models import Pix2Pix, inference_network
from fpnb.weights_io import sha256_file

STATE_FILE = "state.json"
LOG_FILE = "log.csv"


def _atomic_save_weights(model: keras.Model, path: Path) -> None:
    """``model.save_weights`` through a temporary ``.weights.h5`` (keras needs the suffix)."""
    with atomic_path(path) as tmp:
        model.save_weights(tmp)


def _optimizers(model: keras.Model) -> dict[str, keras.optimizers.Optimizer]:
    """Named optimizers of a model: Pix2Pix's two, else the compiled one."""
    if isinstance(model, Pix2Pix):
        return model.optimizer_slots()
    if model.optimizer is None:
        raise ValueError("fit: compile the model first (fpnb.restoration.models.compile_model)")
    return {"model": model.optimizer}


def _ensure_built(model: keras.Model) -> None:
    """Create optimizer slots now so saved state can be loaded before the first step."""
    _optimizers(model)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def _save_optimizers(model: keras.Model, path: Path) -> None:
    """Every optimizer variable (step count, moments) into one npz, atomically."""
    arrays = {}
    for name, optimizer in _optimizers(model).items():
        store: dict[str, np.ndarray] = {}
        optimizer.save_own_variables(store)
        arrays.update({f"{name}/{key}": value for key, value in store.items()})
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def _load_optimizers(model: keras.Model, path: Path) -> None:
    """Restore optimizer variables written by ``_save_optimizers``."""
    with np.load(path) as saved:
        for name, optimizer in _optimizers(model).items():
            store = {key.split("/", 1)[1]: saved[key] for key in saved.files
                     if key.startswith(f"{name}/")}
            if len(store) != len(optimizer.variables):
                raise ValueError(f"{path}: {len(store)} saved variables for optimizer {name}, "
                                 f"model has {len(optimizer.variables)}")
            optimizer.load_own_variables(store)


def _best_path(run_dir: Path, epoch: int) -> Path:
    """Weights file of the best epoch so far."""
    return run_dir / f"best-{epoch:04d}.weights.h5"


def _checkpoint_paths(run_dir: Path, epoch: int) -> tuple[Path, Path]:
    """Weights and optimizer files of the checkpoint after ``epoch`` completed epochs."""
    return (run_dir / f"epoch-{epoch:04d}.weights.h5", run_dir / f"epoch-{epoch:04d}.optimizer.npz")


class _Checkpointer(keras.callbacks.Callback):
    """Per-epoch bookkeeping: history, early stopping, best and last checkpoints, logs."""

    def __init__(self, run_dir: Path, state: dict, monitor: str, patience: int | None):
        super().__init__()
        self.run_dir = run_dir
        self.state = state
        self.monitor = monitor
        self.patience = patience
        self.epoch_start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        state = self.state
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
               "time_s": round(time.perf_counter() - self.epoch_start, 3)}
        value = row.get(self.monitor)
        if value is None:
            raise KeyError(f"fit: monitor {self.monitor!r} not in logs {sorted(row)}")
        if math.isfinite(value) and (state["best"] is None or value < state["best"]):
            state.update(best=value, best_epoch=epoch + 1, wait=0)
            _atomic_save_weights(self.model, _best_path(self.run_dir, epoch + 1))
        else:
            state["wait"] += 1
            if self.patience is not None and state["wait"] >= self.patience:
                state["stopped"] = True
                self.model.stop_training = True
        state["history"].append(row)
        weights, optimizer = _checkpoint_paths(self.run_dir, epoch + 1)
        _atomic_save_weights(self.model, weights)
        _save_optimizers(self.model, optimizer)
        write_text(self.run_dir / LOG_FILE, pd.DataFrame(state["history"]).to_csv(index=False))
        state.update(epoch=epoch + 1, checkpoint=epoch + 1)
        write_text(self.run_dir / STATE_FILE, json.dumps(state, indent=2))
        _prune(self.run_dir, state)


class _CosineDecay(keras.callbacks.Callback):
    """Sets every optimizer's learning rate at each epoch's start: cosine from its base to ``floor`` x base.

    A function of the epoch alone, so a resumed run continues on the same schedule.
    """

    def __init__(self, base: dict[str, float], epochs: int, floor: float = 0.05):
        super().__init__()
        self.base, self.epochs, self.floor = base, epochs, floor

    def on_epoch_begin(self, epoch, logs=None):
        factor = self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * epoch / self.epochs))
        for name, optimizer in _optimizers(self.model).items():
            optimizer.learning_rate.assign(self.base[name] * factor)


def _prune(run_dir: Path, state: dict) -> None:
    """Delete checkpoint files that the committed state no longer names."""
    keep = set()
    if state["checkpoint"] is not None:
        keep.update(_checkpoint_paths(run_dir, state["checkpoint"]))
    if state["best_epoch"] is not None:
        keep.add(_best_path(run_dir, state["best_epoch"]))
    for path in [*run_dir.glob("epoch-*"), *run_dir.glob("best-*")]:
        if path not in keep:
            path.unlink()


def fit(model: keras.Model, train_ds: tf.data.Dataset, val_ds: tf.data.Dataset | None,
        run_dir: str | Path, epochs: int, steps_per_epoch: int,
        validation_steps: int | None = None, seed: int = 0, resume: bool = True,
        patience: int | None = None, monitor: str = "val_loss", verbose: str | int = "auto",
        callbacks: list[keras.callbacks.Callback] | None = None, cosine: bool = True) -> pd.DataFrame:
    """Train a compiled model (or Pix2Pix) with per-epoch resumable checkpoints, keeping the best epoch.

    ``train_ds`` yields (input, target) batches and should repeat (``steps_per_epoch``
    bounds an epoch). With ``resume`` and a ``state.json`` in ``run_dir`` the model and
    optimizer continue from the last completed epoch; a finished or early-stopped run is
    not trained further. Seeds are ``seed + first epoch of this call``, so a resumed run is
    reproducible from its resume point (the dataset restarts its own sequence). The best
    weights by ``monitor`` (lower is better; ``val_`` dropped without ``val_ds``) are
    loaded into ``model`` at the end. With ``cosine`` each optimizer's compiled learning rate
    decays over ``epochs`` to 5 %, which fixes the budget, so there is no early stopping unless
    ``patience`` (epochs without improvement) is given; a run stopped under a patience that no
    longer applies resumes. Extra ``callbacks`` run after the checkpointer.
    Returns one history row per completed epoch.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if val_ds is None:
        monitor = monitor.removeprefix("val_")
    _ensure_built(model)
    base_lr = {name: float(opt.learning_rate.numpy()) for name, opt in _optimizers(model).items()}
    state_path = run_dir / STATE_FILE
    shapes = [list(w.shape) for w in model.weights]
    if resume and state_path.exists():
        state = json.loads(state_path.read_text())
        if state.get("weight_shapes", shapes) != shapes:
            raise ValueError(f"fit: the checkpoint in {run_dir} belongs to another architecture; "
                             "resume=False starts afresh")
        weights, optimizer = _checkpoint_paths(run_dir, state["checkpoint"])
        model.load_weights(weights)
        _load_optimizers(model, optimizer)
    else:
        state_path.unlink(missing_ok=True)
        state = {"epoch": 0, "checkpoint": None, "history": [], "best": None, "best_epoch": None,
                 "wait": 0, "stopped": False, "monitor": monitor, "seed": seed, "weight_shapes": shapes}
        _prune(run_dir, state)
    if state["stopped"] and (patience is None or state["wait"] < patience):
        state["stopped"] = False  # stopped early under a shorter patience: train on
    if state["monitor"] != monitor:
        raise ValueError(f"fit: run in {run_dir} monitors {state['monitor']!r}, not {monitor!r}")
    if not state["stopped"] and state["epoch"] < epochs:
        keras.utils.set_random_seed(seed + state["epoch"])
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=state["epoch"],
                  steps_per_epoch=steps_per_epoch, validation_steps=validation_steps, shuffle=False,
                  callbacks=[*([_CosineDecay(base_lr, epochs)] if cosine else []),
                             _Checkpointer(run_dir, state, monitor, patience), *(callbacks or [])],
                  verbose=verbose)
    if state["best_epoch"] is not None:
        model.load_weights(_best_path(run_dir, state["best_epoch"]))
    write_text(run_dir / "history.json", json.dumps(state["history"], indent=2))
    return pd.DataFrame(state["history"])


def save_model(model: keras.Model, path: str | Path) -> Path:
    """Save the inference network (a Pix2Pix model's generator) uncompiled as a deflated ``.keras``, atomically."""
    path = Path(path)
    network = inference_network(model)
    uncompiled = keras.Model(network.input, network.output, name=network.name)  # shares layers
    with atomic_path(path) as tmp:
        uncompiled.save(tmp)
        deflate_zip(tmp)  # Keras stores the weights uncompressed
    return path


def load_restoration_model(path: str | Path) -> keras.Model:
    """Load a model written by ``save_model``, uncompiled, ready for ``predict_image``."""
    return keras.saving.load_model(path, compile=False)


def trained_precision(model: keras.Model) -> str:
    """``bf16`` when the saved network computes in mixed_bfloat16 (its hidden layers' policy), else ``fp32``."""
    policies = {layer.dtype_policy.name for layer in model.layers[1:-1]}
    return "bf16" if "mixed_bfloat16" in policies else "fp32"


def training_summary(history: pd.DataFrame, profile: Profile) -> dict:
    """Steps, images shown and wall seconds of the epochs a training log records (``fit``'s history)."""
    steps = len(history) * profile.steps_per_epoch
    return {"training_steps": steps, "images_shown": steps * profile.batch_size,
            "wall_seconds": round(float(history["time_s"].sum())) if "time_s" in history else None}


def save_model_card(model_path: str | Path, profile: Profile, data_manifest_hash: str,
                    metrics: dict, run_config: dict | None = None,
                    history: pd.DataFrame | None = None) -> Path:
    """Write ``<name>.json`` beside a saved model: profile, data hash, metrics, params, sha256, the run
    configuration (builder, arguments, loss, learning rate) and, from ``history``, steps and wall time."""
    model_path = Path(model_path)
    model = load_restoration_model(model_path)
    card = {
        **(training_summary(history, profile) if history is not None else {}),
        "name": model_path.name.split(".")[0],
        "file": model_path.name,
        "sha256": sha256_file(model_path),
        "architecture": model.name,
        "params": int(model.count_params()),
        "profile": profile.name,
        "profile_settings": dataclasses.asdict(profile),
        "data_manifest_hash": data_manifest_hash,
        "metrics": metrics,
        "run_config": run_config or {},
        "precision": trained_precision(model),
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
    }
    out = model_path.with_name(f"{card['name']}.json")
    write_text(out, json.dumps(card, indent=2, sort_keys=True, default=float) + "\n")
    return out
