"""SeFa attribute editing: direction files, edit grids, what each direction changes, identity kept (SynFing-like sets: ``fpnb.synthesis.synfing``).

Edits keep each seed's own noise maps (``sampling.seed_noise``), so moving w is the only
change between an original and its edit. Prints are matched and measured at the masters'
500 ppi (``fpnb.data.datasets.to_native``), as in the reconstruction study.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fpnb.config import Profile, paths
from fpnb.goals import GOALS
from fpnb.data.datasets import to_native
from fpnb.synthesis.sampling import render, seed_latents, seed_noise
from fpnb.synthesis.sefa import edit
from fpnb.synthesis.stylegan import Generator

DIRECTIONS_FILE = "sefa_directions.safetensors"
DIRECTIONS_FORMAT = "fpnb.sefa.directions/1"  # a file-format name in shipped files, not a module path
MEASURES = ("ridge_period_px", "contrast", "foreground_area", "centroid_shift_px", "rotation_deg")
# The smallest change of each measure called visible (ridge period and centroid in px at the masters' scale):
# a direction whose edit at the largest tested |degree| <= 3 moves no measure this far has no visible effect.
VISIBLE = {"ridge_period_px": 0.5, "contrast": 0.05, "foreground_area": 0.03, "centroid_shift_px": 8.0,
           "rotation_deg": 5.0}


def directions_path(profile: Profile, generator_source: str) -> Path:
    """weights/ beside the shipped generator they come from (``generator_source`` "shipped ..."), else runs/<profile>/."""
    shipped = profile.ships_weights and generator_source.startswith("shipped")
    return (paths.weights if shipped else paths.runs / profile.name) / DIRECTIONS_FILE


def save_directions(eigenvalues: torch.Tensor, directions: torch.Tensor, path: str | Path,
                    meta: dict | None = None) -> Path:
    """Write eigenvalues (k) and unit directions (k x D) as safetensors, ``meta`` as JSON metadata
    (an existing file with the same content is left as it is: ``weights_io.write_safetensors``)."""
    from fpnb.weights_io import write_safetensors

    path = Path(path)
    write_safetensors({"eigenvalues": eigenvalues.float(), "directions": directions.float()}, path,
                      {"format": DIRECTIONS_FORMAT, "meta": json.dumps(meta or {})})
    return path


def directions_for(generator: Generator, path: str | Path) -> torch.Tensor:
    """The SeFa directions of ``generator``: those in ``path`` when its metadata names this generator's
    ``module_digest`` (notebook 10 records it), else factorised afresh (closed-form, under a second)."""
    from fpnb.synthesis.sefa import factorize
    from fpnb.weights_io import module_digest

    path = Path(path)
    if path.exists() and directions_meta(path).get("generator_digest") == module_digest(generator):
        return load_directions(path)[1]
    return factorize(generator)[1]


def directions_meta(path: str | Path) -> dict:
    """The ``meta`` that ``save_directions`` wrote into a directions file."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return json.loads((f.metadata() or {}).get("meta", "{}"))


def load_directions(path: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues and directions written by ``save_directions``."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as f:
        if (f.metadata() or {}).get("format") != DIRECTIONS_FORMAT:
            raise ValueError(f"{path}: not a {DIRECTIONS_FORMAT} file")
    tensors = load_file(str(path), device="cpu")
    return tensors["eigenvalues"], tensors["directions"]


def _edited(generator: Generator, directions: torch.Tensor, seed: int, edits: Sequence[tuple[int, float]],
            truncation: float, layers: Sequence[int] | None = None) -> np.ndarray:
    """Images (len(edits) x R x R) of one seed, each w moved along (index, degree), the seed's noise throughout
    (with ``layers``, only those w+ entries move: ``sefa.edit``)."""
    w = seed_latents(generator, [seed], truncation)
    if layers is not None:
        w = w[:, None].expand(-1, generator.n_latent, -1)
    moved = torch.cat([edit(w, directions, index, degree, layers) for index, degree in edits])
    return render(generator, moved, noise=seed_noise(generator, [seed]))


def edit_grid(generator: Generator, directions: torch.Tensor, seeds: Sequence[int], indices: Sequence[int],
              degrees: Sequence[float], truncation: float = 0.7, layers: Sequence[int] | None = None) -> np.ndarray:
    """Edited prints, S x I x G x R x R in [0, 1]: seed x direction index x degree."""
    edits = [(i, float(d)) for i in indices for d in degrees]
    r = generator.resolution
    return np.stack([_edited(generator, directions, s, edits, truncation, layers)
                     .reshape(len(indices), len(degrees), r, r) for s in seeds])


def _measures(image: np.ndarray, native: np.ndarray) -> dict:
    """Ridge period, contrast (5-95 % spread), foreground fraction, centroid and ridge orientation field of one
    print (lengths in px at the masters' scale)."""
    from fpnb.identity.fields import dominant_period, foreground_mask, orientation_field

    mask = foreground_mask(native)
    rows, cols = np.nonzero(mask)
    centroid = (rows.mean(), cols.mean()) if len(rows) else (np.nan, np.nan)
    low, high = np.percentile(image, [5, 95])
    return {"ridge_period_px": dominant_period(native, pad=1), "contrast": float(high - low),
            "foreground_area": float(mask.mean()), "centroid": centroid, "mask": mask,
            "orientation": orientation_field(native)[0]}


def _rotation_deg(orientation: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> float:
    """Mean signed turn of a ridge flow from ``reference`` inside ``mask`` (degrees, doubled-angle circular mean)."""
    inside = mask if mask.any() else np.ones_like(mask)
    turn = np.exp(2j * (orientation[inside].astype(np.float64) - reference[inside]))
    return float(np.degrees(0.5 * np.angle(turn.mean())))


# Fewer seeds than this are measured in this process: a local cluster's start costs more than a second core saves.
MIN_CLUSTER_SEEDS = 16


def measure_edits(generator: Generator, directions: torch.Tensor, seeds: Sequence[int], indices: Sequence[int],
                  degrees: Sequence[float], matcher, scale: float, truncation: float = 0.7,
                  layers: Sequence[int] | None = None, workers: int | None = None) -> pd.DataFrame:
    """One row per (direction, degree, seed): the edit's measures and its matcher score against the original.

    Seeds are Dask tasks (``fpnb.data.cluster.run_tasks``, one worker per core by default), each scored by its
    worker's own stock matcher of ``matcher``'s name. Fewer than ``MIN_CLUSTER_SEEDS`` seeds, or a matcher that is
    not a stock one, run in this process.
    """
    from fpnb.data.cluster import run_tasks
    from fpnb.identity.matchers import MATCHERS

    stock = MATCHERS.get(getattr(matcher, "name", None)) is type(matcher)
    in_process = len(seeds) < MIN_CLUSTER_SEEDS or not stock
    jobs = [(int(seed), list(indices), list(degrees), matcher.name if stock else matcher, scale, truncation, layers)
            for seed in seeds]
    rows = run_tasks(_measure_seed, jobs, workers=1 if in_process else workers,
                     desc="edits", progress=False, shared=[generator, directions], uses=lambda job: (0, 1))
    return pd.DataFrame([row for seed_rows in rows for row in seed_rows])


def _measure_seed(job: tuple, shared: dict) -> list[dict]:
    """``measure_edits``'s rows of one seed; ``shared`` holds the generator (0) and the directions (1), the job a
    stock matcher's name or a matcher."""
    from fpnb.identity.verification import worker_matcher

    seed, indices, degrees, matcher, scale, truncation, layers = job
    generator, directions = shared[0], shared[1]
    matcher = worker_matcher(matcher) if isinstance(matcher, str) else matcher
    original = _edited(generator, directions, seed, [(0, 0.0)], truncation)
    native_original = to_native(original, scale)[0]
    reference = _measures(original[0], native_original)
    grid = edit_grid(generator, directions, [seed], indices, degrees, truncation, layers)[0]
    rows = []
    for a, index in enumerate(indices):
        native = to_native(grid[a], scale)
        for b, degree in enumerate(degrees):
            found = _measures(grid[a, b], native[b])
            shift = float(np.hypot(*np.subtract(found.pop("centroid"), reference["centroid"])))
            rotation = _rotation_deg(found.pop("orientation"), reference["orientation"], reference["mask"])
            del found["mask"]
            rows.append({"direction": int(index), "degree": float(degree), "seed": seed, **found,
                         "centroid_shift_px": shift, "rotation_deg": rotation,
                         "score": matcher.score(native[b], native_original)})
    return rows


def impostor_threshold(generator: Generator, seeds: Sequence[int], matcher, scale: float, far: float = 1e-3,
                       truncation: float = 0.7) -> tuple[float, int]:
    """Matcher threshold at ``far`` from every pair of distinct seeds' prints, and the number of pairs."""
    from fpnb.identity.metrics import threshold_at_far
    from fpnb.identity.verification import score_pair_list
    from fpnb.synthesis.sampling import sample

    native = to_native(sample(generator, seeds, truncation), scale)
    scores = score_pair_list(matcher, native, np.stack(np.triu_indices(len(native), 1), axis=1))
    return threshold_at_far(scores, far), int(len(scores))


def match_rates(table: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Fraction of seeds whose edit still matches its original (score >= threshold): direction x degree."""
    return (table.assign(match=table["score"] >= threshold)
            .pivot_table(index="direction", columns="degree", values="match", aggfunc="mean"))


def effect_sizes(table: pd.DataFrame, max_degree: float = 3.0) -> pd.DataFrame:
    """Per direction: each measure's mean absolute change between degree 0 and ±``max_degree`` over the seeds
    (in its units), the measure that moves most in units of ``VISIBLE``, and whether that move is visible."""
    base = table[table["degree"] == 0][["direction", "seed", *MEASURES]]
    edge = table[table["degree"].abs() == max_degree].merge(base, on=["direction", "seed"], suffixes=("", "_0"))
    if edge.empty:
        raise ValueError(f"table: needs degrees 0 and ±{max_degree} for every direction")
    change = pd.DataFrame({m: (edge[m] - edge[f"{m}_0"]).abs() for m in MEASURES}).groupby(edge["direction"]).mean()
    relative = change / pd.Series(VISIBLE)
    return change.assign(effect=relative.idxmax(axis=1), effect_over_visible=relative.max(axis=1),
                         visible=relative.max(axis=1) >= 1.0)


def identity_preserving(table: pd.DataFrame, threshold: float, min_rate: float = GOALS["edit_match_rate"].value,
                        max_degree: float | None = None) -> pd.DataFrame:
    """Per direction, over the tested degrees with 0 < |degree| <= ``max_degree`` (None: all):

    - ``worst_match_rate``, ``keeps_identity``: the worst match rate, and whether it reaches ``min_rate``;
    - ``identity_degree``: the largest |degree| up to which every edit keeps ``min_rate`` (0: not even the smallest);
    - ``effect``, ``effect_over_visible``: the measure that moves most at that |degree| (``effect_sizes``; at the
      smallest |degree| where it is 0);
    - ``identity_preserving``: ``identity_degree`` > 0 *and* the effect there is visible (a direction that changes
      nothing keeps identity trivially and is not claimed).
    """
    rates = match_rates(table, threshold)
    magnitudes = sorted({abs(d) for d in rates.columns if 0 < abs(d) <= (max_degree or np.inf)})
    if not magnitudes:
        raise ValueError(f"table: no degree with 0 < |degree| <= {max_degree}")
    at = {m: rates[[d for d in rates.columns if abs(d) == m]].min(axis=1) for m in magnitudes}
    effects = {m: effect_sizes(table, m) for m in magnitudes}
    rows = {}
    for direction in rates.index:
        reach = 0.0
        for m in magnitudes:  # up from the smallest edit, until one loses the print
            if at[m][direction] < min_rate:
                break
            reach = m
        effect = effects[reach or magnitudes[0]].loc[direction]
        worst = min(at[m][direction] for m in magnitudes)
        rows[direction] = {"worst_match_rate": worst, "keeps_identity": worst >= min_rate, "identity_degree": reach,
                           "effect": effect["effect"], "effect_over_visible": effect["effect_over_visible"],
                           "identity_preserving": bool(reach > 0 and effect["visible"])}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("direction")


def chosen_directions(keeps: pd.DataFrame) -> list[int]:
    """The identity-preserving directions, else (none qualifies, e.g. an untrained generator) the best one alone."""
    chosen = [int(d) for d in keeps.index[keeps["identity_preserving"]]]
    return chosen or [int(keeps["worst_match_rate"].idxmax())]


def describe_directions(table: pd.DataFrame) -> pd.DataFrame:
    """Per direction: the least-squares slope of each measure against degree, and the measure it moves most.

    "Most" compares slopes in units of the measure's spread over the whole table, per unit degree.
    """
    rows = {}
    for direction, group in table.groupby("direction"):
        slopes = {m: float(np.polyfit(group["degree"], group[m].fillna(group[m].mean()), 1)[0])
                  if group[m].notna().sum() > 1 else np.nan for m in MEASURES}
        relative = {m: abs(s) / (table[m].std() or 1.0) for m, s in slopes.items() if np.isfinite(s)}
        rows[direction] = {**{f"{m}_per_degree": s for m, s in slopes.items()},
                           "main_effect": max(relative, key=relative.get) if relative else "none"}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("direction")


def eigenvalue_figure(eigenvalues: torch.Tensor, n: int = 30):
    """The top ``n`` eigenvalues of AᵀA (how strongly each direction moves the styles)."""
    import matplotlib.pyplot as plt

    values = eigenvalues[:n].numpy()
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.bar(np.arange(len(values)), values / values.sum(), color="tab:blue")
    ax.set_xlabel("direction index")
    ax.set_ylabel(f"eigenvalue / sum of top {len(values)}")
    fig.tight_layout()
    return fig


def identity_figure(rates: pd.DataFrame, threshold: float):
    """Match rate of edited vs original against degree, one line per direction."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for direction, row in rates.iterrows():
        ax.plot(row.index, row.to_numpy(), "o-", label=f"direction {direction}")
    ax.axhline(0.9, color="grey", ls=":", lw=1)
    ax.set_xlabel("degree")
    ax.set_ylabel(f"match rate (score >= {threshold:.1f})")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def _png(image: np.ndarray, size: int = 256) -> bytes:
    """8-bit PNG bytes of a [0, 1] grey image, enlarged to ``size`` px with nearest neighbours."""
    import cv2

    big = cv2.resize(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), (size, size),
                     interpolation=cv2.INTER_NEAREST)
    return cv2.imencode(".png", big)[1].tobytes()


def slider_app(generator: Generator, directions: torch.Tensor, n_directions: int = 20, max_seed: int = 999,
               max_degree: float = 10.0):
    """ipywidgets UI: sliders for seed, direction index, degree and truncation over the original and its edit.

    It renders once when built (so a headless run exercises the callback) and again on every slider
    change; ``display`` it in JupyterLab for the live editor.
    """
    import ipywidgets as widgets

    sliders = {
        "seed": widgets.IntSlider(0, 0, max_seed, description="seed"),
        "index": widgets.IntSlider(0, 0, min(n_directions, len(directions)) - 1, description="direction"),
        "degree": widgets.FloatSlider(3.0, min=-max_degree, max=max_degree, step=0.5, description="degree"),
        "truncation": widgets.FloatSlider(0.7, min=0.0, max=1.0, step=0.05, description="truncation"),
    }
    original, edited = widgets.Image(format="png"), widgets.Image(format="png")

    def update(_=None) -> None:
        v = {name: s.value for name, s in sliders.items()}
        images = _edited(generator, directions, v["seed"], [(v["index"], 0.0), (v["index"], v["degree"])],
                         v["truncation"])
        original.value, edited.value = _png(images[0]), _png(images[1])

    for slider in sliders.values():
        slider.observe(update, names="value")
    update()
    labelled = [widgets.VBox([widgets.Label(t), img]) for t, img in (("original", original), ("edited", edited))]
    return widgets.VBox([widgets.HBox(list(sliders.values())[:2]), widgets.HBox(list(sliders.values())[2:]),
                         widgets.HBox(labelled)])
