"""Hyperparameter search for the study U-Net with KerasTuner, as seed 000 searched its U-Net.

The space: width (base filters), depth, batch normalisation, dropout, Adam's learning rate and the
loss (MSE, MAE, MS-SSIM, MS-SSIM + L1 with its mix), at widths that serve within the latency goal.
Each trial trains on the profile's crops for ``search_epochs`` short epochs of
``search_steps_per_epoch`` steps and is scored by validation SSIM; the winner is trained at the
profile's full budget as the ``unet_tuned`` run (``fpnb.restoration.study.tuned_run``). Trials run
in the profile's precision and resume from ``runs/<profile>/search`` (KerasTuner's own oracle files).
A finished search is saved under ``reports/<profile>/`` with its settings, and a rebuild reuses it
(as it reuses shipped weights) unless the settings changed or a rerun is asked for.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from fpnb.config import Profile, paths, save_metrics, save_table

HYPERPARAMETERS = ("base_filters", "depth", "batch_norm", "dropout", "learning_rate", "loss", "ms_ssim_weight")
# Widths that serve one 400x275 print within the 50 ms goal in bfloat16 on 2 cores: 16 filters took
# 46 ms (reports/bench/api.json); 32 filters cost 2.5x as much per image (reports/bench/precision.json).
WIDTHS = (8, 12, 16)
SMOKE_WIDTHS = (4, 8)
RESULT = "03_search"  # the saved search: reports/<profile>/metrics/03_search.json and tables/03_search.csv


def _widths(small: bool) -> list[int]:
    """Base filter counts searched: tiny ones for the smoke profile's small models."""
    return list(SMOKE_WIDTHS if small else WIDTHS)


def _build(hp, small: bool):
    """One trial's compiled U-Net (KerasTuner calls this with its HyperParameters)."""
    import keras

    from fpnb.restoration import models

    model = models.unet(depth=hp.Choice("depth", [3, 4]), base_filters=hp.Choice("base_filters", _widths(small)),
                        batch_norm=hp.Boolean("batch_norm", default=True),
                        dropout=hp.Choice("dropout", [0.0, 0.05, 0.1, 0.2]))
    loss = hp.Choice("loss", ["mse", "mae", "ms_ssim", "ms_ssim_l1"])
    weight = hp.Float("ms_ssim_weight", 0.5, 0.95, step=0.05, parent_name="loss", parent_values=["ms_ssim_l1"])
    loss_fn = models.loss_function(loss, weight if loss == "ms_ssim_l1" else None)
    optimizer = keras.optimizers.Adam(hp.Float("learning_rate", 3e-4, 1e-2, sampling="log"))
    model.compile(optimizer=optimizer, loss=loss_fn, metrics=[models.ssim], jit_compile=False)
    return model


def search(profile: Profile, root: Path, seed: int = 0, directory: Path | None = None,
           overwrite: bool = False) -> pd.DataFrame:
    """Run (or resume) the profile's search; one row per trial: hyperparameters, val SSIM, parameters."""
    import keras_tuner as kt

    from fpnb.data.datasets import list_pairs, tf_pairs
    from fpnb.precision import keras_precision, resolve

    directory = directory or paths.runs / profile.name / "search"
    train = tf_pairs(root, "training", profile.batch_size, profile.crop_size, seed=seed)
    val = tf_pairs(root, "validation", profile.batch_size, profile.crop_size, seed=seed + 1, augment=False)
    validation_steps = max(1, len(list_pairs(root, "validation")) // profile.batch_size)
    tuner = kt.RandomSearch(lambda hp: _build(hp, profile.small_models), objective=kt.Objective("val_ssim", "max"),
                            max_trials=profile.search_trials, seed=seed + 1, directory=str(directory),
                            project_name="unet", overwrite=overwrite)  # KerasTuner draws a random seed for 0
    with keras_precision(resolve(profile)):
        tuner.search(train, epochs=profile.search_epochs, steps_per_epoch=profile.search_steps_per_epoch,
                     validation_data=val, validation_steps=validation_steps, verbose=0)
    rows = []
    for trial in tuner.oracle.get_best_trials(num_trials=profile.search_trials):
        values = trial.hyperparameters.values
        rows.append({"trial": trial.trial_id, **{k: values.get(k) for k in HYPERPARAMETERS},
                     "val_ssim": trial.score, "params": tuner.hypermodel.build(trial.hyperparameters).count_params()})
    return pd.DataFrame(rows).set_index("trial")


def settings(profile: Profile, seed: int, data_hash: str) -> dict:
    """What decides a search's trials: budget, crops, widths, seed and data."""
    return {"trials": profile.search_trials, "epochs": profile.search_epochs,
            "steps_per_epoch": profile.search_steps_per_epoch, "batch_size": profile.batch_size,
            "crop_size": profile.crop_size, "widths": _widths(profile.small_models),
            "seed": seed, "data_hash": data_hash}


def search_or_reuse(profile: Profile, root: Path, seed: int = 0, rerun: bool = False) -> tuple[pd.DataFrame, str]:
    """The profile's search table (best trial first) and where it came from: the saved one when it was
    made with these settings, else a new (or resumed) search, saved with its settings and winner
    (``fpnb.restoration.study.tuned_run`` reads it)."""
    from fpnb.data.datasets import data_hash

    metrics, table_file = paths.metrics_file(profile, RESULT), paths.table(profile, RESULT)
    wanted = settings(profile, seed, data_hash(root))
    if not rerun and metrics.exists() and table_file.exists() and json.loads(metrics.read_text()).get("settings") == wanted:
        return pd.read_csv(table_file, index_col="trial"), f"saved {table_file.name}"
    table = search(profile, root, seed)
    best = table.iloc[0]
    save_table(profile, RESULT, table)
    save_metrics(profile, RESULT, {"n_trials": len(table), "best_val_ssim": float(best["val_ssim"]),
                                   "best": {k: best[k] for k in HYPERPARAMETERS}, "settings": wanted})
    return table, "searched here"


def search_figure(table: pd.DataFrame):
    """Validation SSIM of every trial against its width, learning rate and loss."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharey=True)
    axes[0].scatter(table["base_filters"], table["val_ssim"])
    axes[0].set(xlabel="base filters", ylabel="validation SSIM")
    axes[1].scatter(table["learning_rate"], table["val_ssim"])
    axes[1].set(xlabel="Adam learning rate", xscale="log")
    axes[1].xaxis.set_minor_formatter(plt.NullFormatter())  # minor labels of a log axis overlap
    losses = sorted(table["loss"].unique())
    axes[2].scatter([losses.index(v) for v in table["loss"]], table["val_ssim"])
    axes[2].set_xticks(range(len(losses)), losses)
    axes[2].set(xlabel="loss")
    fig.suptitle(f"{len(table)} search trials (one point each)", fontsize=9)
    fig.tight_layout()
    return fig
