"""The restoration study: which run trains what, train or reuse shipped weights, evaluate.

Every run is evaluated the same way on the identity-disjoint test split: pixel scores
(``fpnb.identity.metrics``), minutiae precision/recall/F1 of the output against its clean target, and
the matcher's score of output vs target, so a model that invents plausible ridges is caught.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from fpnb.config import Profile, load_timings, paths, save_table, save_timings
from fpnb.data.datasets import REAL_FIXTURE, finger_of, load_print_folder
from fpnb.identity.matchers import extract_minutiae
from fpnb.identity.metrics import (accepted_at_far, masked_ssim, mean_ci, minutiae_prf, pixel_metrics, ssim,
                                  threshold_at_far)
from fpnb.identity.verification import score_pair_list, worker_matcher
from fpnb.restoration import search
from fpnb.weights_io import may_ship, shipped_for

MATCHER = "bozorth3"
# the real-print fixture: two impressions of one finger and one of another (MIT, tests/data/real_prints_afis/README.md)
COVERED_LEVEL = 12  # grey levels an input must change by to count as covered by a lossy step


@dataclass(frozen=True)
class RestorationRun:
    """One row of the comparison: a builder of ``fpnb.restoration.models.MODELS`` and its loss."""

    model: str
    loss: str = "mse"
    kwargs: dict = field(default_factory=dict)
    learning_rate: float = 1e-3  # Adam's; Pix2Pix keeps its own two rates
    ms_ssim_weight: float | None = None  # the MS-SSIM share of an ms_ssim_l1 loss (None: 0.84)
    label: str = ""  # the run's name where the model and loss do not make it
    epoch_share: float = 1.0  # share of the profile's epochs this run trains (same wall time for costlier steps)

    def epochs(self, profile: Profile) -> int:
        """Epochs of ``steps_per_epoch`` steps this run trains in ``profile``."""
        return max(1, round(profile.epochs * self.epoch_share))

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        return self.model if self.model in ("conv_dense", "autoencoder", "pix2pix") else f"{self.model}_{self.loss}"


# The study's U-Net: depth 4 from 16 filters (1.9 M parameters) serves a 400x275 print in about
# 0.1 s on 2 CPU cores; 32 filters (7.8 M) is about 4x slower and does not fit the CPU budget.
# Batch normalisation and Adam at 3e-3 (instead of 1e-3) lifted test SSIM of the MS-SSIM run at the
# quick budget from 0.78 to 0.82 (experiments/restoration_design.py, README); the seed's keeps 1e-3.
STUDY_UNET = {"depth": 4, "base_filters": 16, "batch_norm": True}
STUDY_UNET_LR = 3e-3

RUNS = {run.name: run for run in (
    # a 32-unit bottleneck keeps the seed's dense design under 5 MB of weights (128 units: 17 MB)
    RestorationRun("conv_dense", kwargs={"hidden_units": 32}),
    RestorationRun("autoencoder"),
    RestorationRun("unet", "mse", STUDY_UNET, STUDY_UNET_LR),
    RestorationRun("unet", "ms_ssim", STUDY_UNET, STUDY_UNET_LR),
    RestorationRun("unet", "mae", STUDY_UNET, STUDY_UNET_LR),
    RestorationRun("unet", "ms_ssim_l1", STUDY_UNET, STUDY_UNET_LR),
    RestorationRun("unet_seed", "mse"),
    # a Pix2Pix step updates two networks (about 2x a U-Net step here): 60 % of the epochs keeps the
    # full run near the profile's ~90 minutes a model (24 x 300 steps at full)
    RestorationRun("pix2pix", "bce_l1", {"base_filters": 16}, epoch_share=0.6),
)}


TUNED = "unet_tuned"


def tuned_run(profile: Profile) -> RestorationRun:
    """The study U-Net with the winning configuration of this profile's search (notebook 03_search)."""
    path = paths.metrics_file(profile, search.RESULT)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no search result for profile {profile.name}; run notebooks/03_search first")
    best = json.loads(path.read_text())["best"]
    weight = best.get("ms_ssim_weight")
    kwargs = {"depth": int(best["depth"]), "base_filters": int(best["base_filters"]),
              "batch_norm": bool(best["batch_norm"]), "dropout": float(best["dropout"])}
    return RestorationRun("unet", str(best["loss"]), kwargs, float(best["learning_rate"]),
                          ms_ssim_weight=None if weight is None or np.isnan(weight) else float(weight), label=TUNED)


def runs(profile: Profile) -> dict[str, RestorationRun]:
    """Every compared run of a profile: the fixed ones, and the search winner once the search has run."""
    found = paths.metrics_file(profile, search.RESULT).exists()
    return RUNS | ({TUNED: tuned_run(profile)} if found else {})


def get_run(model: str, loss: str = "mse", profile: Profile | None = None) -> RestorationRun:
    """The run of ``model`` trained with ``loss`` (ignored where a model has one); ``unet_tuned`` needs the profile."""
    if model == TUNED:
        if profile is None:
            raise ValueError(f"model: {TUNED!r} is the winner of a profile's search; pass the profile")
        return tuned_run(profile)
    for run in RUNS.values():
        if run.model == model and (run.loss == loss or run.model in ("conv_dense", "autoencoder", "pix2pix")):
            return run
    raise ValueError(f"model/loss: no run {model!r} with {loss!r}; runs: {sorted(RUNS) + [TUNED]}")


def builder_kwargs(run: RestorationRun, profile: Profile) -> dict:
    """Sizes per profile: ``small_models`` (smoke) shrinks every network so that tests take seconds."""
    kwargs = dict(run.kwargs)
    if run.model == "conv_dense":
        kwargs["input_shape"] = (profile.crop_size, profile.crop_size, 3)
    if profile.small_models:
        kwargs.update({"unet": {"base_filters": 8, "depth": 3}, "autoencoder": {"filters": (8, 8, 8)},
                       "pix2pix": {"base_filters": 8, "depth": 4}}.get(run.model, {}))
    return kwargs


def run_config(run: RestorationRun, profile: Profile) -> dict:
    """What decides a run's weights besides data: builder, its arguments, loss, learning rate, reduced epochs.

    Stored in the model card; shipped weights are reused only when it matches.
    """
    config = {"model": run.model, "loss": run.loss, "learning_rate": run.learning_rate,
              "builder_kwargs": builder_kwargs(run, profile)}
    if run.ms_ssim_weight is not None:
        config["ms_ssim_weight"] = run.ms_ssim_weight
    if run.epoch_share != 1.0:
        config["epochs"] = run.epochs(profile)
    return json.loads(json.dumps(config, sort_keys=True))  # tuples as lists, as read back from a card


def shipped_paths(run: RestorationRun) -> tuple[Path, Path, Path]:
    """Weights, model card and training log of a shipped run under ``weights/``."""
    stem = paths.weights / run.name
    return stem.with_suffix(".keras"), stem.with_suffix(".json"), paths.weights / f"{run.name}.log.csv"


def run_dir(run: RestorationRun, profile: Profile) -> Path:
    """Checkpoints and logs of a training run (resumed after a crash); one folder per run configuration."""
    digest = hashlib.sha256(json.dumps(run_config(run, profile), sort_keys=True).encode()).hexdigest()[:8]
    return paths.runs / profile.name / f"{run.name}-{digest}"


def train_or_load(run: RestorationRun, profile: Profile, root: Path, seed: int = 0,
                  retrain: bool = False, verbose: int | str = 0):
    """Reuse shipped weights trained with this profile, else train; returns (model, history, source)."""
    from fpnb.data.datasets import list_pairs, tf_pairs
    from fpnb.precision import keras_precision, resolve
    from fpnb.restoration.models import build_model
    from fpnb.restoration.training import fit, load_restoration_model, save_model

    weights, _, log = shipped_paths(run)
    if not retrain and shipped_run(run, profile):
        return load_restoration_model(weights), pd.read_csv(log), f"shipped {weights.name}"
    with keras_precision(resolve(profile)):  # mixed_bfloat16 where the CPU has bfloat16 units
        model = build_model(run.model, loss=run.loss, learning_rate=run.learning_rate, seed=seed,
                            ms_ssim_weight=run.ms_ssim_weight, **builder_kwargs(run, profile))
    train = tf_pairs(root, "training", profile.batch_size, profile.crop_size, seed=seed)
    val = tf_pairs(root, "validation", profile.batch_size, profile.crop_size, seed=seed + 1, augment=False)
    validation_steps = max(1, len(list_pairs(root, "validation")) // profile.batch_size)
    history = fit(model, train, val, run_dir(run, profile), run.epochs(profile), profile.steps_per_epoch,
                  validation_steps=validation_steps, seed=seed, resume=not retrain, verbose=verbose)
    save_model(model, run_dir(run, profile) / "model.keras")
    return model, history, f"trained here ({profile.name})"


def shipped_run(run: RestorationRun, profile: Profile) -> Path | None:
    """The run's shipped weights where they were trained with this profile and exactly this run's configuration."""
    return shipped_for(shipped_paths(run)[0], profile, exact=True, run_config=run_config(run, profile))


def load_trained(run: RestorationRun, profile: Profile):
    """The model a notebook of this profile trained or reused (shipped weights first)."""
    from fpnb.restoration.training import load_restoration_model

    path = shipped_run(run, profile) or run_dir(run, profile) / "model.keras"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no trained {run.name} for profile {profile.name}; run its notebook first")
    return load_restoration_model(path)


def ship(model, run: RestorationRun, profile: Profile, root: Path, history: pd.DataFrame,
         metrics: dict) -> Path | None:
    """Save weights, training log and model card under ``weights/`` (never for smoke).

    Reused shipped weights, their log and card are left alone: a ``.keras`` file's bytes change on
    every save, and a card changes only when its model is retrained.
    """
    from fpnb.restoration.models import inference_network
    from fpnb.data.datasets import data_hash
    from fpnb.restoration.training import load_restoration_model, save_model, save_model_card

    weights, card, log = shipped_paths(run)
    if not may_ship(weights, profile):  # smoke, or weights of a stronger profile already shipped
        return None
    unchanged = False
    if shipped_run(run, profile):
        old, new = load_restoration_model(weights).get_weights(), inference_network(model).get_weights()
        unchanged = len(old) == len(new) and all(np.array_equal(a, b) for a, b in zip(old, new))
    if unchanged:  # reused as shipped: its card keeps the data and metrics it was trained and measured with
        return card
    save_model(model, weights)
    history.to_csv(log, index=False)
    return save_model_card(weights, profile, data_hash(root), metrics, run_config(run, profile), history)


def identity_of(name: str) -> str:
    """Identity of a dataset file stem ``<identity>_<impression>``."""
    return name.split("_")[0]


@dataclass
class Evaluation:
    """Per-image scores of one model on one split, the cross-impression pair scores, the images, and the
    inference time per image on this machine (a timing: kept out of the tables)."""

    table: pd.DataFrame
    cross: pd.DataFrame
    inputs: np.ndarray
    targets: np.ndarray
    preds: np.ndarray
    ms_per_image: float


def cross_impression_pairs(names: list[str], max_impostors: int = 50, seed: int = 0
                           ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(restored, reference) index pairs as a user matches a restored print: genuine against every
    *other* impression of its identity (never itself), impostor against prints of other identities
    (at most ``max_impostors`` per restored print, drawn with ``seed``)."""
    identities = np.array([identity_of(name) for name in names])
    rng = np.random.default_rng(seed)
    genuine, impostor = [], []
    for i, identity in enumerate(identities):
        genuine += [(i, int(j)) for j in np.flatnonzero(identities == identity) if j != i]
        others = np.flatnonzero(identities != identity)
        chosen = others if len(others) <= max_impostors else np.sort(rng.choice(others, max_impostors, replace=False))
        impostor += [(i, int(j)) for j in chosen]
    return genuine, impostor


def evaluate(model, root: Path, split: str = "test", n: int | None = None,
             matcher: str = MATCHER, seed: int = 0) -> Evaluation:
    """Restore the first ``n`` images of a split; score each against its clean target (pixels,
    minutiae, same-impression match) and against the clean other impressions (cross-impression)."""
    from fpnb.data.datasets import load_pairs
    from fpnb.restoration.models import predict_batch

    inputs, targets, names = load_pairs(root, split, limit=n)
    predict_batch(model, inputs[:1])  # warm-up: graph tracing is not inference time
    start = time.perf_counter()
    preds = np.concatenate([predict_batch(model, inputs[i:i + 1]) for i in range(len(inputs))])
    ms_per_image = (time.perf_counter() - start) * 1e3 / len(inputs)
    table, cross = score_restorations(preds, targets, names, matcher, seed)
    return Evaluation(table, cross, inputs, targets, preds, ms_per_image)


def score_restorations(preds: np.ndarray, targets: np.ndarray, names: list[str], matcher: str = MATCHER,
                       seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-image scores of restorations against their clean targets (pixels, minutiae, same-impression
    match) and the cross-impression pair scores against the clean other impressions (``evaluate``'s tables)."""
    scorer = worker_matcher(matcher)  # the matcher score_pair_list uses in this process: templates extracted once
    rows = []
    for name, pred, target in zip(names, preds, targets):
        prf = minutiae_prf(extract_minutiae(pred), extract_minutiae(target))
        rows.append({"name": name, "identity": identity_of(name), **pixel_metrics(pred, target),
                     **{f"minutiae_{k}": v for k, v in prf.items()},
                     "match_score": scorer.score(pred, target)})
    genuine, impostor = cross_impression_pairs(names, seed=seed)
    pairs = np.array(genuine + impostor, dtype=np.int64).reshape(-1, 2)
    scores = score_pair_list(matcher, [*preds, *targets], pairs + [0, len(preds)])  # restored vs clean reference
    cross = pd.DataFrame({"restored": [names[i] for i in pairs[:, 0]], "reference": [names[j] for j in pairs[:, 1]],
                          "identity": [identity_of(names[i]) for i in pairs[:, 0]],
                          "genuine": np.arange(len(pairs)) < len(genuine), "score": scores})
    return pd.DataFrame(rows), cross


def save_evaluation(evaluation: Evaluation, profile: Profile, run: RestorationRun) -> None:
    """The per-image table and the cross-impression scores, where ``comparison`` reads them; the inference
    time goes to the build's ``timings.json`` (``inference_times``)."""
    save_table(profile, run.name, evaluation.table, index=False)
    save_table(profile, f"{run.name}-cross", evaluation.cross, index=False)
    save_timings(profile, run.name, {"ms_per_image": evaluation.ms_per_image})


def impostor_threshold(root: Path, split: str = "test", far: float = 1e-3, n: int | None = None,
                       matcher: str = MATCHER) -> tuple[float, int]:
    """Matcher threshold at ``far`` from impostor pairs of clean targets; returns (threshold, n pairs)."""
    from fpnb.data.datasets import load_pairs

    _, targets, names = load_pairs(root, split, limit=n)
    identities = np.array([identity_of(name) for name in names])
    i, j = np.triu_indices(len(names), 1)
    different = identities[i] != identities[j]
    scores = score_pair_list(matcher, targets, np.stack([i[different], j[different]], axis=1))
    return threshold_at_far(scores, far), int(different.sum())


SUMMARY_COLUMNS = ("ssim", "psnr", "mae", "minutiae_precision", "minutiae_recall", "minutiae_f1",
                   "same_impression_match")


def summarise(table: pd.DataFrame, threshold: float | None = None, seed: int = 0,
              cross: pd.DataFrame | None = None, far: float = 1e-3) -> dict:
    """Mean and 95 % CI of every score, n, the same-impression match rate at ``threshold`` and the
    cross-impression TAR at ``far`` (from ``cross``'s impostor pairs, where their count resolves it).

    Intervals come from a bootstrap over identities: impressions of one finger are not independent.
    """
    table = table.copy()
    if threshold is not None:
        table["same_impression_match"] = (table["match_score"] >= threshold).astype(float)
    out = {"n": int(len(table)), "n_identities": int(table["identity"].nunique())}
    for column in SUMMARY_COLUMNS:
        if column in table:
            out[column], out[f"{column}_ci"] = mean_ci(table[column].to_numpy(dtype=float),
                                                       table["identity"].to_numpy(), seed)
    if cross is not None:
        genuine, impostor = cross[cross["genuine"]], cross[~cross["genuine"]]
        out["n_cross_genuine"], out["n_cross_impostor"] = int(len(genuine)), int(len(impostor))
        out["cross_impression_tar"], out["cross_impression_tar_ci"] = None, None
        found = accepted_at_far(genuine["score"], impostor["score"], far)
        if found is not None:
            out["cross_impression_tar"], out["cross_impression_tar_ci"] = mean_ci(
                found[1], genuine["identity"].astype(str).to_numpy(), seed)
    return out


# Seed 000's own table: its 10k subset of the *training* split at 512x384, not a test set.
SEED_TABLE = pd.DataFrame(
    {"seed_ssim": [0.0997, 0.3563, 0.6989, 0.3631, 0.2409, 0.6266],
     "seed_psnr": [11.7853, 13.9658, 17.0378, 12.7265, 9.0918, 14.3752]},
    index=["conv_dense", "autoencoder", "unet_mse", "unet_ms_ssim", "unet_mae", "pix2pix"],
)


def comparison(profile: Profile, threshold: float, seed: int = 0) -> pd.DataFrame:
    """One row per run whose notebook has written its test tables: means, 95 % CIs, params."""
    rows = {}
    for run in runs(profile).values():
        table_path, cross_path = paths.table(profile, run.name), paths.table(profile, f"{run.name}-cross")
        if table_path.exists():
            cross = pd.read_csv(cross_path) if cross_path.exists() else None
            summary = summarise(pd.read_csv(table_path, dtype={"identity": str}), threshold, seed, cross)
            summary["params"] = int(load_trained(run, profile).count_params())
            rows[run.name] = summary
    return pd.DataFrame.from_dict(rows, orient="index")


def inference_times(profile: Profile, runs: list[str]) -> pd.DataFrame:
    """Each run's inference time per test image as this build measured it (``timings.json``; NaN where none)."""
    timings = load_timings(profile)
    return pd.DataFrame({"ms_per_image": [timings.get(name, {}).get("ms_per_image") for name in runs]},
                        index=pd.Index(runs, name="run"), dtype=float)


def ranking(table: pd.DataFrame) -> pd.DataFrame:
    """Rank of each run by SSIM, by minutiae F1 and by cross-impression TAR, beside seed 000's SSIM rank."""
    ranks = pd.DataFrame({
        "rank_ssim": table["ssim"].rank(ascending=False),
        "rank_minutiae_f1": table["minutiae_f1"].rank(ascending=False),
        "rank_cross_impression_tar": table["cross_impression_tar"].astype(float).rank(ascending=False),
    })
    seed = SEED_TABLE.reindex(table.index)
    ranks["seed_rank_ssim"] = seed["seed_ssim"].rank(ascending=False)
    return ranks.join(seed).sort_values("rank_ssim")


def example_names(root: Path, n: int = 3, limit: int | None = None) -> list[str]:
    """``n`` test images among the first ``limit``, each of another finger while there are enough fingers."""
    from fpnb.data.datasets import list_pairs

    names = [inputs.stem for inputs, _ in list_pairs(root, "test")[:limit]]
    firsts: dict[str, str] = {}
    for name in names:
        firsts.setdefault(identity_of(name), name)
    chosen = list(firsts.values())
    return (chosen + [name for name in names if name not in chosen])[:n]


def restore_examples(profile: Profile, root: Path, names: list[str], run_names: list[str]) -> dict[str, np.ndarray]:
    """Test images ``names`` through each of ``run_names``: {"input": ..., "ground truth": ..., run: preds}."""
    from fpnb.data.datasets import load_pairs
    from fpnb.restoration.models import predict_batch

    inputs, targets, all_names = load_pairs(root, "test", limit=profile.n_eval_images)
    index = [all_names.index(name) for name in names]
    rows = {"input": inputs[index], "ground truth": targets[index]}
    compared = runs(profile)
    for name in run_names:
        rows[name] = predict_batch(load_trained(compared[name], profile), inputs[index])
    return rows


def worst_cases(profile: Profile, runs: list[str], column: str = "minutiae_f1") -> pd.DataFrame:
    """The lowest-scoring test image of each run by ``column``."""
    rows = []
    for name in runs:
        table = pd.read_csv(paths.table(profile, name))
        rows.append(table.nsmallest(1, column).assign(run=name))
    return pd.concat(rows, ignore_index=True)[["run", "name", column, "ssim", "match_score"]]


def ceiling(model, root: Path, split: str = "test", n: int | None = None) -> pd.DataFrame:
    """How much of the gap to a perfect restoration is information the input no longer holds.

    Each target's input is made again from its recorded seed three ways (``datasets.regenerate_input``):
    as in the set; without the local lossy steps (banners, smudges, local blur), whose area is where
    the two differ; and without any lossy step (``degradations.LOSSY``, blur and lost resolution too).
    Per image: SSIM and minutiae F1 of the restored set-like input, SSIM inside and outside the
    covered area, and SSIM and F1 of the restored input without lossy steps.
    """
    from fpnb.data.datasets import build_parameters, load_pairs, regenerate_input
    from fpnb.data.degradations import LOCAL_LOSSY, LOSSY
    from fpnb.restoration.models import predict_batch

    params = build_parameters(root)
    _, targets, names = load_pairs(root, split, limit=n)
    rows = []
    for name, target in zip(names, targets):
        full = regenerate_input(params, name, target)
        covered = np.abs(full.astype(np.int16) - regenerate_input(params, name, target, skip=LOCAL_LOSSY)).max(axis=2)
        covered = covered > COVERED_LEVEL
        pred, pred_clear = predict_batch(model, np.stack([full, regenerate_input(params, name, target, skip=LOSSY)]))
        truth = extract_minutiae(target)
        rows.append({"name": name, "identity": identity_of(name), "covered_fraction": float(covered.mean()),
                     "ssim": ssim(pred, target), "ssim_covered": masked_ssim(pred, target, covered),
                     "ssim_uncovered": masked_ssim(pred, target, ~covered),
                     "ssim_without_lossy": ssim(pred_clear, target),
                     "minutiae_f1": minutiae_prf(extract_minutiae(pred), truth)["f1"],
                     "minutiae_f1_without_lossy": minutiae_prf(extract_minutiae(pred_clear), truth)["f1"]})
    return pd.DataFrame(rows)


def ceiling_summary(table: pd.DataFrame, seed: int = 0) -> dict:
    """Mean and identity-bootstrap 95 % CI of each ``ceiling`` column (covered-area SSIM over the images that have one)."""
    out = {"n": int(len(table)), "images_with_covered_area": int((table["covered_fraction"] > 0).sum()),
           "covered_fraction": float(table["covered_fraction"].mean())}
    for column in ("ssim", "ssim_covered", "ssim_uncovered", "ssim_without_lossy", "minutiae_f1",
                   "minutiae_f1_without_lossy"):
        rows = table[table[column].notna()]
        out[column], out[f"{column}_ci"] = mean_ci(rows[column].to_numpy(float), rows["identity"].astype(str).to_numpy(),
                                                   seed)
    return out


@dataclass
class RealPrintCheck:
    """Real prints degraded by the study's pipeline, restored once a model has run: per-print and per-pair
    tables, the images, the clean prints' minutiae, the matcher and its acceptance threshold."""

    prints: pd.DataFrame
    pairs: pd.DataFrame
    clean: np.ndarray
    inputs: np.ndarray
    degraded: np.ndarray
    truths: list
    matcher: str
    threshold: float
    restored: np.ndarray | None = None


def _score_against_clean(check: RealPrintCheck, kind: str, probes: np.ndarray) -> None:
    """Add ``score_<kind>`` and ``accepted_<kind>`` to ``check.pairs``: each probe against its clean reference."""
    position = {name: k for k, name in enumerate(check.prints["file"])}
    index = np.column_stack([check.pairs["probe"].map(position), check.pairs["reference"].map(position) + len(probes)])
    scores = score_pair_list(check.matcher, [*probes, *check.clean], index)
    check.pairs[f"score_{kind}"] = scores
    check.pairs[f"accepted_{kind}"] = scores >= check.threshold


def real_print_baseline(threshold: float, folder: str | Path = REAL_FIXTURE, seed: int = 0,
                        matcher: str = MATCHER) -> RealPrintCheck:
    """Degrade each real print of ``folder`` (``datasets.load_print_folder``; one size, named
    ``<finger>_<impression>``) with seed ``seed + k`` and score the clean and degraded prints, the baselines
    of every model: minutiae F1 against the clean print, and the matcher's score against every clean *other*
    print, accepted at ``threshold``. ``real_print_check`` adds a model's restorations."""
    from fpnb.data.degradations import degrade

    clean, files = load_print_folder(folder)
    fingers = [finger_of(f) for f in files]
    inputs = np.stack([degrade(image, seed + k) for k, image in enumerate(clean)])
    grey = inputs.mean(axis=3).astype(np.float32) / 255.0
    truths = [extract_minutiae(image) for image in clean]
    prints = pd.DataFrame({"file": files, "finger": fingers,
                           "minutiae_f1_degraded": [minutiae_prf(extract_minutiae(g), truth)["f1"]
                                                    for g, truth in zip(grey, truths)]})
    index = [(i, j) for i in range(len(files)) for j in range(len(files)) if i != j]
    pairs = pd.DataFrame([{"probe": files[i], "reference": files[j], "finger": fingers[i],
                           "genuine": fingers[i] == fingers[j]} for i, j in index])
    check = RealPrintCheck(prints, pairs, clean, inputs, grey, truths, matcher, threshold)
    for kind, probes in (("clean", clean), ("degraded", grey)):
        _score_against_clean(check, kind, probes)
    return check


def real_print_check(model, baseline: RealPrintCheck) -> RealPrintCheck:
    """``baseline`` (``real_print_baseline``) with the model's restorations of its degraded prints scored the
    same way: minutiae F1 against the clean print, the baseline's matcher against every clean other print."""
    from fpnb.restoration.models import predict_batch

    restored = predict_batch(model, baseline.inputs)
    prints = baseline.prints.assign(minutiae_f1_restored=[minutiae_prf(extract_minutiae(r), truth)["f1"]
                                                          for r, truth in zip(restored, baseline.truths)])
    check = replace(baseline, prints=prints, pairs=baseline.pairs.copy(), restored=restored)
    _score_against_clean(check, "restored", restored)
    return check


def real_print_summary(check: RealPrintCheck, seed: int = 0) -> dict:
    """Mean minutiae F1 (degraded, restored) and the acceptance of genuine and impostor pairs of each kind, with
    counts; F1 and genuine acceptance with 95 % intervals from a bootstrap over fingers (a finger's prints and
    pairs are not independent draws)."""
    genuine, impostor = check.pairs[check.pairs["genuine"]], check.pairs[~check.pairs["genuine"]]
    out = {"n_prints": int(len(check.prints)), "n_fingers": int(check.prints["finger"].nunique()),
           "n_genuine_pairs": int(len(genuine)), "n_impostor_pairs": int(len(impostor))}
    for kind in ("degraded", "restored"):
        out[f"minutiae_f1_{kind}"], out[f"minutiae_f1_{kind}_ci"] = mean_ci(
            check.prints[f"minutiae_f1_{kind}"].to_numpy(float), check.prints["finger"].astype(str).to_numpy(), seed)
    for kind in ("clean", "degraded", "restored"):
        out[f"genuine_accepted_{kind}"], out[f"genuine_accepted_{kind}_ci"] = mean_ci(
            genuine[f"accepted_{kind}"].to_numpy(float), genuine["finger"].astype(str).to_numpy(), seed)
        out[f"impostor_accepted_{kind}"] = float(impostor[f"accepted_{kind}"].mean()) if len(impostor) else None
    return out


def real_print_table(summaries: dict[str, dict]) -> pd.DataFrame:
    """The index's real-print table: the clean prints and the degraded inputs as baselines, then one row per
    model (in the order given): minutiae F1 and genuine / impostor acceptance with intervals, prints, fingers."""
    first = next(iter(summaries.values()))
    rows = {"clean prints": ("clean", None), "degraded inputs": ("degraded", "degraded"),
            **{name: ("restored", "restored") for name in summaries}}
    table = {}
    for row, (accepted, f1) in rows.items():
        summary = summaries.get(row, first)
        table[row] = {"n": summary["n_prints"], "n_identities": summary["n_fingers"],
                      "minutiae_f1": summary[f"minutiae_f1_{f1}"] if f1 else None,
                      "minutiae_f1_ci": summary[f"minutiae_f1_{f1}_ci"] if f1 else None,
                      "real_genuine_accepted": summary[f"genuine_accepted_{accepted}"],
                      "real_genuine_accepted_ci": summary[f"genuine_accepted_{accepted}_ci"],
                      "real_impostor_accepted": summary[f"impostor_accepted_{accepted}"]}
    return pd.DataFrame.from_dict(table, orient="index")


def real_print_examples(check: RealPrintCheck, n: int = 3) -> list[int]:
    """Indices of the n real prints the model restores worst and the n it restores best (minutiae F1)."""
    order = list(check.prints.sort_values("minutiae_f1_restored", kind="stable").index)
    return order[:n] + [i for i in order[-n:] if i not in order[:n]]
