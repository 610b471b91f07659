"""Figures the notebooks share: image grids, learning curves, saving under reports/."""
from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fpnb.config import Profile, paths


def image_grid(rows: Sequence[Sequence[np.ndarray]], row_titles: Sequence[str] = (),
               col_titles: Sequence[str] = (), size: float = 2.6) -> Figure:
    """Images in a grid (grey ones on a fixed [0, 1] scale), titled by row and column."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(size * n_cols, size * 1.45 * n_rows), squeeze=False)
    for r, images in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                image = images[c]
                ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1 if image.dtype != np.uint8 else 255)
            else:
                ax.set_axis_off()
            if r == 0 and c < len(col_titles):
                ax.set_title(col_titles[c], fontsize=9)
            if c == 0 and r < len(row_titles):
                ax.set_ylabel(row_titles[r], fontsize=9)
    fig.tight_layout()
    return fig


# y-axis labels (with units) of the quantities training logs hold; others are labelled by their name
QUANTITY_LABELS = {
    "loss": "loss (the training objective)", "mae": "mean absolute error (grey 0-1)", "mse": "mean squared error (grey 0-1)",
    "psnr": "PSNR (dB)", "ssim": "SSIM (-1 to 1)", "d_loss": "discriminator loss", "g_loss": "generator loss",
    "g_gan": "generator adversarial loss", "g_l1": "generator L1 (grey 0-1)", "d_real_acc": "D accuracy on targets",
    "d_fake_acc": "D accuracy on outputs", "r1": "R1 penalty", "pl": "path-length penalty",
    # per-print statistics
    "ridge_period_px": "ridge period (px)", "mean_period_px": "mean ridge period (px)",
    "coherence": "orientation coherence (0-1)", "foreground_fraction": "finger area / image area",
    "endings": "ridge endings per print", "bifurcations": "bifurcations per print",
}


def quantity_label(name: str) -> str:
    """Axis label of a logged quantity, e.g. ``psnr`` -> ``PSNR (dB)``."""
    return QUANTITY_LABELS.get(name, name.replace("_", " "))


def learning_curves(history: pd.DataFrame, title: str = "") -> Figure:
    """Training and validation curves of every logged quantity, one panel per quantity (validation-only
    quantities, such as Pix2Pix's SSIM, get a panel of their own)."""
    logged = [c for c in history.columns if c not in ("epoch", "seconds", "time_s", "lr")]
    names = list(dict.fromkeys(c.removeprefix("val_") for c in logged))
    n_cols = min(len(names), 4)
    n_rows = -(-len(names) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.6 * n_cols, 3 * n_rows), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.set_axis_off()
    epochs = history["epoch"] if "epoch" in history else np.arange(1, len(history) + 1)
    for ax, name in zip(axes.flat, names):
        if name in history:
            ax.plot(epochs, history[name], "o-", label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], "s--", color="tab:orange", label="validation")
        ax.set(title=name if name in history else f"{name} (validation)", xlabel="epoch", ylabel=quantity_label(name))
    axes[0, 0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def step_curves(log: pd.DataFrame, names: Sequence[str] | None = None, window: int = 25) -> Figure:
    """Logged quantities against training step, one panel each (light: raw; dark: running mean over up to
    ``window`` steps), NaN steps skipped; ``names`` picks them (default: every column but step, lr, seconds)."""
    names = [c for c in (names or [c for c in log.columns if c not in ("step", "lr", "seconds")]) if c in log]
    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 2.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        values = log.set_index("step")[name].dropna()
        ax.plot(values.index, values, color="tab:blue", alpha=0.3, lw=0.8)
        ax.plot(values.index, values.rolling(max(1, min(window, len(values) // 5)), min_periods=1).mean(),
                color="tab:blue")
        ax.set(title=name, xlabel="step", ylabel=quantity_label(name))
    fig.tight_layout()
    return fig


def save(fig: Figure, profile: str | Profile, name: str, dpi: int = 80) -> None:
    """Save a figure as ``reports/<profile>/figures/<name>`` and show it in the notebook as a JPEG.

    The inline PNG of a grid of photo-like prints is megabytes; the JPEG keeps the exported
    HTML report small while the PNG file keeps full quality.
    """
    fig.savefig(paths.figure(profile, name), dpi=dpi, bbox_inches="tight")
    from IPython import get_ipython

    if get_ipython() is not None:
        from IPython.display import Image, display

        buffer = io.BytesIO()
        fig.savefig(buffer, format="jpeg", dpi=dpi, bbox_inches="tight", pil_kwargs={"quality": 80})
        plt.close(fig)
        display(Image(buffer.getvalue()))


UNITS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "mae": "MAE", "minutiae_f1": "minutiae F1",
         "same_impression_match": "same-impression match rate", "cross_impression_tar": "cross-impression TAR"}


def bars_with_ci(table: pd.DataFrame, columns: Sequence[str]) -> Figure:
    """One bar panel per score: each row's mean with its 95 % interval (``<column>_ci``) as error bars.

    A missing value (None: e.g. a TAR at a FAR its impostor count does not resolve) gets no bar
    and the mark "n/r".
    """
    fig, axes = plt.subplots(1, len(columns), figsize=(3.8 * len(columns), 3.8), squeeze=False)
    x = np.arange(len(table))
    for ax, column in zip(axes[0], columns):
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
        intervals = table[f"{column}_ci"] if f"{column}_ci" in table else [None] * len(table)
        ci = np.array([c if c is not None and not np.isscalar(c) else (np.nan, np.nan) for c in intervals], dtype=float)
        ax.bar(x, np.nan_to_num(values), yerr=np.nan_to_num(np.abs(ci.T - values)), capsize=3, color="tab:blue")
        for i in np.flatnonzero(np.isnan(values)):
            ax.text(i, 0, "n/r", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x, table.index, rotation=70)
        ax.set_ylabel(UNITS.get(column, column))
        ax.set_ylim(bottom=0)
    fig.suptitle("bars: mean over test images; error bars: 95 % interval (bootstrap over identities); "
                 "n/r: not resolved", fontsize=9)
    fig.tight_layout()
    return fig


def pattern_classes(masters: Sequence, found: Sequence) -> Figure:
    """Each master with its placed cores/deltas and the ``SingularPoints`` found back, over its orientation field."""
    fig, axes = plt.subplots(2, len(masters), figsize=(3.2 * len(masters), 9), squeeze=False)
    for m, points, top, bottom in zip(masters, found, axes[0], axes[1]):
        cores, deltas = points.cores, points.deltas
        top.imshow(m.image, cmap="gray", vmin=0, vmax=1)
        top.scatter(m.cores[:, 1], m.cores[:, 0], s=180, facecolors="none", edgecolors="red", label="core")
        top.scatter(m.deltas[:, 1], m.deltas[:, 0], s=180, marker="^", facecolors="none", edgecolors="blue",
                    label="delta")
        top.scatter(np.r_[cores[:, 1], deltas[:, 1]], np.r_[cores[:, 0], deltas[:, 0]], s=60, marker="x",
                    c="orange", label="Poincaré")
        top.set_title(m.pattern)
        bottom.imshow(np.where(m.mask, m.orientation, np.nan), cmap="twilight", vmin=0, vmax=np.pi)
        bottom.set_title("orientation (twilight: 0 to π)")
    axes[0, 0].legend(loc="lower left", fontsize=8)
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def det_figure(curves: dict[str, pd.DataFrame], n_genuine: int, n_impostor: int, title: str) -> Figure:
    """DET curves (``far``, ``frr`` columns per matcher) on log axes that stop at the smallest rates the
    counts resolve, 1 / n_impostor and 1 / n_genuine: below them every threshold looks alike."""
    far_floor, frr_floor = 1.0 / n_impostor, 1.0 / n_genuine
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for name, curve in curves.items():
        ax.step(curve["far"].clip(lower=far_floor), curve["frr"].clip(lower=frr_floor), where="post", label=name)
    ax.plot([far_floor, 1], [far_floor, 1], color="grey", lw=0.5)
    ax.set(xscale="log", yscale="log", xlim=(far_floor, 1), ylim=(frr_floor, 1), title=title,
           xlabel=f"false accept rate ({n_impostor:,} impostor pairs)",
           ylabel=f"false reject rate ({n_genuine:,} genuine pairs)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def score_histograms(scores: pd.DataFrame, results: dict[str, dict]) -> Figure:
    """Genuine and impostor score densities of each matcher in ``results`` (``verification_metrics`` by matcher)
    from a frame of scores (columns matcher, genuine, score), with the matcher's EER threshold."""
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.2))
    for ax, (name, result) in zip(np.atleast_1d(axes), results.items()):
        group = scores[scores.matcher == name]
        bins = np.linspace(0, group.score.max() + 1, 40)
        ax.hist(group.score[~group.genuine], bins=bins, alpha=0.6, density=True, label="impostor")
        ax.hist(group.score[group.genuine], bins=bins, alpha=0.6, density=True, label="genuine")
        ax.axvline(result["threshold_eer"], color="k", ls="--", lw=1, label="EER threshold")
        ax.set_title(f"{name}: EER {result['eer']:.2%}", fontsize=10)
        ax.set(xlabel=f"{name} score", ylabel="density")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def histograms(table: pd.DataFrame, columns: Sequence[str], ylabel: str, bins: int = 15) -> Figure:
    """One histogram per column, each on its own range (pandas' ``plot.hist`` shares one range across columns)."""
    fig, axes = plt.subplots(1, len(columns), figsize=(5 * len(columns), 3.5), squeeze=False)
    for ax, column in zip(axes[0], columns):
        ax.hist(table[column].dropna(), bins=bins)
        ax.set(xlabel=quantity_label(column), ylabel=ylabel)
    fig.tight_layout()
    return fig
