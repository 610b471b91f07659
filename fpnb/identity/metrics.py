"""The study's one definition of every metric: pixel, minutiae, ridge-flow, verification and
feature-distribution scores, and the mean with its bootstrap interval.

Pixel metrics compare float images in [0, 1] with dark ridges on white (data_range 1).
Verification scores are similarities: higher means "same finger"; a pair is accepted when
its score is >= the threshold.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from fpnb.identity.minutiae import Minutiae

FARS = {"1e-2": 1e-2, "1e-3": 1e-3, "1e-4": 1e-4}


def _pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"pred: shape {pred.shape} differs from target {target.shape}")
    return pred, target


def mae(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute error."""
    pred, target = _pair(pred, target)
    return float(np.mean(np.abs(pred - target)))


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB with data_range 1 (inf for identical images)."""
    from skimage.metrics import peak_signal_noise_ratio

    pred, target = _pair(pred, target)
    if np.array_equal(pred, target):
        return float("inf")
    return float(peak_signal_noise_ratio(target, pred, data_range=1.0))


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """Structural similarity (skimage defaults: 7x7 window) with data_range 1."""
    from skimage.metrics import structural_similarity

    pred, target = _pair(pred, target)
    return float(structural_similarity(target, pred, data_range=1.0))


def masked_ssim(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Mean of the SSIM map (as ``ssim``: its 3-pixel border left out) where ``mask`` is true; NaN for an empty mask."""
    from skimage.metrics import structural_similarity

    pred, target = _pair(pred, target)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != pred.shape:
        raise ValueError(f"mask: shape {mask.shape} differs from the images' {pred.shape}")
    inner = np.zeros_like(mask)
    inner[3:-3, 3:-3] = mask[3:-3, 3:-3]  # skimage's mean leaves out the half-window border
    if not inner.any():
        return float("nan")
    _, full = structural_similarity(target, pred, data_range=1.0, full=True)
    return float(full[inner].mean())


def pixel_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """MAE, PSNR and SSIM of one prediction against its target."""
    return {"mae": mae(pred, target), "psnr": psnr(pred, target), "ssim": ssim(pred, target)}


def minutiae_prf(
    pred: Minutiae, target: Minutiae, radius: float = 10.0, angle_deg: float = 30.0
) -> dict[str, float]:
    """Precision, recall, F1 of one-to-one minutiae pairs within ``radius`` px and ``angle_deg``."""
    from scipy.optimize import linear_sum_assignment

    n_pred, n_target = len(pred), len(target)
    tp = 0
    if n_pred and n_target:
        distance = np.hypot(pred.x[:, None] - target.x[None, :], pred.y[:, None] - target.y[None, :])
        turn = np.abs(np.mod(pred.angle[:, None] - target.angle[None, :] + np.pi, 2 * np.pi) - np.pi)
        feasible = (distance <= radius) & (turn <= np.radians(angle_deg))
        cost = np.where(feasible, distance, radius * 1e3 + 1.0)
        rows, cols = linear_sum_assignment(cost)
        tp = int(feasible[rows, cols].sum())
    fp, fn = n_pred - tp, n_target - tp
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_target if n_target else 0.0
    f1 = 2 * tp / (n_pred + n_target) if n_pred + n_target else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def _scores(values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise ValueError("scores: empty")
    return array


def det_curve(genuine: Any, impostor: Any) -> Any:
    """DataFrame (threshold, far, frr) over every distinct score, thresholds ascending."""
    import pandas as pd

    genuine, impostor = _scores(genuine), _scores(impostor)
    thresholds = np.unique(np.concatenate([genuine, impostor, [np.inf]]))
    genuine_sorted, impostor_sorted = np.sort(genuine), np.sort(impostor)
    far = 1.0 - np.searchsorted(impostor_sorted, thresholds, side="left") / impostor.size
    frr = np.searchsorted(genuine_sorted, thresholds, side="left") / genuine.size
    return pd.DataFrame({"threshold": thresholds, "far": far, "frr": frr})


def threshold_at_far(impostor: Any, far: float) -> float:
    """Smallest threshold with false accept rate (impostor >= threshold) <= ``far``.

    It lies just above the highest impostor score that must be refused (-inf if none must).
    """
    ranked = np.sort(_scores(impostor))[::-1]
    allowed = int(np.floor(far * ranked.size + 1e-9))
    if allowed >= ranked.size:
        return float("-inf")
    return float(np.nextafter(ranked[allowed], np.inf))


def far_resolved(far: float, n_impostor: int) -> bool:
    """Whether ``n_impostor`` impostor scores resolve a false accept rate of ``far`` (at least one
    impostor may be accepted there); below 1/n every threshold over the top impostor looks alike."""
    return far * n_impostor >= 1.0 - 1e-9


def accepted_at_far(genuine: Any, impostor: Any, far: float) -> tuple[float, np.ndarray] | None:
    """The threshold at ``far`` (``threshold_at_far``) and which genuine scores it accepts (their mean is
    the TAR); None where the impostor count does not resolve ``far`` (``far_resolved``) or there are no
    genuine scores."""
    genuine = np.asarray(genuine, dtype=np.float64).ravel()
    if not genuine.size or not far_resolved(far, np.asarray(impostor).size):
        return None
    threshold = threshold_at_far(impostor, far)
    return threshold, genuine >= threshold


def goal_met(ci: Any, goal: float) -> bool:
    """A goal is met only when the interval's lower bound meets it (an unresolved rate never does)."""
    return ci is not None and ci[0] is not None and bool(ci[0] >= goal)


def rate_text(value: float | None, ci: Any = None, n_impostor: int | None = None) -> str:
    """"93.3 % (86.7–98.3 %)", or "not resolved (552 impostor pairs)" for a rate at an unresolved FAR."""
    if value is None:
        return "not resolved" + (f" ({n_impostor:,} impostor pairs)" if n_impostor is not None else "")
    text = f"{value:.1%}"
    return text if ci is None else f"{text} ({ci[0]:.1%}–{ci[1]:.1%})".replace("%–", "–")


def verification_metrics(genuine: Any, impostor: Any) -> dict[str, Any]:
    """EER (with its threshold) and TAR at FAR 1e-2, 1e-3, 1e-4, plus the thresholds used.

    A TAR at a FAR that the impostor count does not resolve (``far_resolved``) is None, with
    ``n_impostor`` beside it, never the zero-FAR threshold's rate passed off as that FAR.
    """
    curve = det_curve(genuine, impostor)
    gap = np.abs(curve["far"].to_numpy() - curve["frr"].to_numpy())
    best = int(np.argmin(gap))
    genuine = _scores(genuine)
    result: dict[str, Any] = {
        "eer": float((curve["far"].iloc[best] + curve["frr"].iloc[best]) / 2),
        "threshold_eer": float(curve["threshold"].iloc[best]),
        "n_genuine": int(genuine.size),
        "n_impostor": int(_scores(impostor).size),
    }
    thresholds = {}
    for label, far in FARS.items():
        found = accepted_at_far(genuine, impostor, far)
        result[f"tar_at_far_{label}"] = None if found is None else float(np.mean(found[1]))
        if found is not None:
            thresholds[f"far_{label}"] = found[0]
    result["thresholds"] = thresholds
    return result


def separation(genuine: Any, impostor: Any) -> float:
    """Decidability d' = (mean_gen - mean_imp) / sqrt((var_gen + var_imp) / 2)."""
    genuine, impostor = np.asarray(genuine, np.float64), np.asarray(impostor, np.float64)
    spread = np.sqrt((genuine.var() + impostor.var()) / 2)
    return float((genuine.mean() - impostor.mean()) / max(spread, 1e-9))


def bootstrap_ci(
    values: Any,
    stat: Callable[[np.ndarray], float] = np.mean,
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    groups: Any = None,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``stat`` over ``values``.

    With ``groups`` (one label per value, e.g. the identity of each image) whole groups are
    resampled: impressions of one finger are not independent draws, and treating them as such
    makes the interval too narrow.
    """
    values = np.asarray(values)
    rng = np.random.default_rng(seed)
    if groups is None:
        draws = rng.integers(0, len(values), size=(n, len(values)))
    else:
        labels, index = np.unique(np.asarray(groups), return_inverse=True)
        members = [np.flatnonzero(index == k) for k in range(len(labels))]
        draws = [np.concatenate([members[k] for k in rng.integers(0, len(labels), len(labels))]) for _ in range(n)]
    stats = np.array([stat(values[d]) for d in draws], dtype=np.float64)
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def mean_ci(values: Any, groups: Any = None, seed: int = 0) -> tuple[float | None, list[float] | None]:
    """Mean of ``values`` and its 95 % ``bootstrap_ci`` (whole ``groups``, e.g. identities, resampled when
    given); (None, None) without values."""
    values = np.asarray(values, dtype=np.float64)
    if not values.size:
        return None, None
    return float(values.mean()), list(bootstrap_ci(values, seed=seed, groups=groups))


def ridge_flow(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A print's ridge orientation field and foreground mask: the reference ``flow_error`` compares with."""
    from fpnb.identity.fields import foreground_mask, orientation_field

    return orientation_field(image)[0], foreground_mask(image)


def masked_flow_error(flow: tuple[np.ndarray, np.ndarray], orientation: np.ndarray) -> float:
    """Mean angle (degrees) between a ``ridge_flow``'s orientation field and ``orientation``, inside its mask
    (NaN for an empty mask)."""
    from fpnb.identity.fields import angle_error

    reference, mask = flow
    return float(np.degrees(angle_error(reference, orientation)[mask]).mean()) if mask.any() else float("nan")


def flow_error(source: np.ndarray, reconstruction: np.ndarray) -> float:
    """Mean ridge-orientation difference (degrees, 0-90) between two prints, inside the first one's
    foreground: 0 when the ridge flow is reproduced, about 45 for unrelated flows."""
    from fpnb.identity.fields import orientation_field

    return masked_flow_error(ridge_flow(source), orientation_field(reconstruction)[0])


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance of Gaussians fitted to two N x D feature sets (the FID formula).

    |μa - μb|² + tr(Σa + Σb - 2 (Σa Σb)^½), with tr (Σa Σb)^½ taken as tr (Σa^½ Σb Σa^½)^½: both
    matrices are symmetric positive semi-definite, so symmetric eigendecompositions (negative
    round-off clipped to 0) give them even for singular covariances (N < D), where
    ``scipy.linalg.sqrtm`` of the non-symmetric product returns complex or NaN entries.
    """
    import scipy.linalg

    a = np.asarray(feats_a, dtype=np.float64)
    b = np.asarray(feats_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"features: expected two N x D arrays, N >= 2, got {a.shape} and {b.shape}")
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    values, vectors = scipy.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = root_a @ cov_b @ root_a
    eigenvalues = scipy.linalg.eigvalsh((middle + middle.T) / 2)
    trace_root = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    distance = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    return float(max(distance, 0.0))
