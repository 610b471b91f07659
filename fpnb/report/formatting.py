"""Values as a reader sees them: headers with units and definitions, three significant digits,
intervals, unresolved rates, and tables split to fit the page."""
from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from fpnb.identity.metrics import far_resolved, rate_text

# estimated characters per table row above which a table is split into several (same rows, fewer columns)
TABLE_BUDGET_CHARS = 100
# labels written by code this module does not own; the masters are synthetic, never "real"
DISPLAY_NAMES = {
    "floor: real vs real": "floor: masters vs masters",
    "generated vs real": "generated vs masters",
    "real (held-out masters)": "held-out masters",
    "n_real_pairs": "n_master_pairs",
}
# column -> (header with units, definition); the index defines every column it shows
DEFINITIONS: dict[str, tuple[str, str]] = {
    "n": ("n", "Test images (or prints) the row's numbers average over."),
    "n_identities": ("fingers", "Distinct fingers among those images; intervals resample whole fingers, "
                                "since impressions of one finger are not independent."),
    "ms_per_image": ("time per image (ms)", "Wall time to restore one test print on this build's CPU, one print per "
                                            "call after a warm-up call."),
    "build_s": ("dataset build (s)", "Wall time of notebook 01's dataset build on this build's CPU; near zero "
                                     "when it reuses a dataset built before."),
    "masters_per_s": ("master prints / s", "Master prints generated per second by one process on this build's CPU."),
    "pairs_per_s": ("degraded pairs / s", "Impressions made and degraded per second by one process on this build's "
                                          "CPU."),
    "images_per_second": ("generated images / s", "Prints the StyleGAN2 generator samples per second on this build's "
                                                   "CPU, after a warm-up batch."),
    "ssim": ("SSIM", "Structural similarity of the restored print to its clean target, 0–1, higher is better."),
    "psnr": ("PSNR (dB)", "Peak signal-to-noise ratio of the restored print against its clean target "
                          "(grey range 1), in decibels; higher is better."),
    "mae": ("MAE (grey, 0–1)", "Mean absolute grey-level error against the clean target, grey scaled to 0–1; "
                               "lower is better."),
    "minutiae_precision": ("minutiae precision", "Share of the minutiae MINDTCT finds on the restored print that "
                                                 "match a minutia of the clean target (position and angle tolerance)."),
    "minutiae_recall": ("minutiae recall", "Share of the clean target's minutiae found again on the restored print."),
    "minutiae_f1": ("minutiae F1", "Harmonic mean of minutiae precision and recall, 0–1."),
    "same_impression_match": ("same-impression match", "Share of restored prints Bozorth3 accepts as their own "
                                                        "clean target at FAR 0.1 %."),
    "genuine_match": ("same-impression match", "Share of restored prints Bozorth3 accepts as their own clean "
                                               "target at FAR 0.1 %."),
    "n_cross_genuine": ("cross-impression genuine pairs", "Pairs of a restored print with a clean other "
                                                          "impression of the same finger."),
    "n_cross_impostor": ("cross-impression impostor pairs", "Pairs of a restored print with clean prints of other "
                                                            "fingers; they set the smallest FAR a TAR can resolve."),
    "cross_impression_tar": ("cross-impression TAR", "Share of restored prints Bozorth3 accepts as a clean other "
                                                     "impression of their finger at FAR 0.1 %; 'not resolved' when "
                                                     "too few impostor pairs exist to measure that FAR."),
    "params": ("parameters", "Weights of the model (trainable and not)."),
    "fid": ("FID (PrintNet)", "Fréchet distance between the feature distributions of two sets of prints, on the "
                              "study's PrintNet features instead of Inception's; lower is closer."),
    "n_reference": ("reference prints", "Prints in the reference set the FID compares against (held-out masters)."),
    "ratio_to_floor": ("× floor", "FID divided by the masters-vs-masters floor: the distance two samples of the "
                                  "same distribution already have."),
    "n_impostor": ("impostor pairs", "Pairs of prints of different fingers; with n of them a FAR below 1/n is "
                                     "not resolved."),
    "genuine_mean": ("mean genuine score", "Mean matcher score of genuine pairs (two prints of one finger, or a "
                                           "reconstruction and its source); each matcher has its own scale."),
    "impostor_mean": ("mean impostor score", "Mean matcher score of impostor pairs (prints of different fingers, "
                                             "or a reconstruction and another print)."),
    "n_genuine": ("genuine pairs", "Pairs of two prints of the same finger."),
    "set": ("set", "The folder of real prints the row was measured on: the profile's real set (pyfnprint for "
                   "the full profile, else the 3-print fixture real_prints_afis; manifest.json's real_set)."),
    "real_genuine_accepted": ("genuine pairs accepted", "Share of genuine pairs (a real print, degraded or "
                                                        "restored, against the clean other impressions of its "
                                                        "finger) Bozorth3 accepts at the synthetic test threshold "
                                                        "(FAR 0.1 %)."),
    "real_impostor_accepted": ("impostor pairs accepted", "Share of pairs with the clean prints of other fingers "
                                                          "accepted at that threshold: the real set's false "
                                                          "accept rate."),
    "tar_at_far_1e-2": ("TAR at FAR 1 %", "True accept rate: share of genuine pairs at or above the threshold that "
                                          "accepts 1 % of impostor pairs."),
    "tar_at_far_1e-3": ("TAR at FAR 0.1 %", "True accept rate: share of genuine pairs at or above the threshold "
                                            "that accepts 0.1 % of impostor pairs."),
    "tar_at_far_1e-4": ("TAR at FAR 0.01 %", "True accept rate: share of genuine pairs at or above the threshold "
                                             "that accepts 0.01 % of impostor pairs."),
    "eer": ("EER", "Equal error rate: where false accepts and false rejects are equally frequent."),
    "model": ("model", "A shipped model under weights/, named by its card."),
    "profile": ("profile", "The profile (smoke / quick / full) the model was trained with: its data size and budget."),
    "precision": ("precision", "Arithmetic the model trained in: bf16 (bfloat16 compute, float32 weights) or fp32."),
    "training_steps": ("training steps", "Optimiser steps of the training run (for a GAN, generator steps)."),
    "images_shown": ("images shown", "Training images seen: steps × batch size."),
    "wall_minutes": ("training wall time (min)", "Minutes the training steps took on this 2-core CPU, often "
                                                  "beside another job; not recorded by the oldest cards."),
    "size_mb": ("file size (MB)", "Size of the shipped weights file."),
    "flow_error_deg": ("ridge-flow error (°)", "Mean difference of ridge orientation between a reconstruction "
                                               "and its source, inside the source's print area: 0 when the ridge "
                                               "flow comes back, about 45 for unrelated prints."),
    "flow_error_other_deg": ("ridge-flow error vs another source (°)", "The same against another, randomly "
                                                                       "drawn source: the chance level."),
    "pattern_agreement": ("pattern agreement", "Share of reconstructions whose pattern class (PrintNet) is the "
                                               "source's."),
    "pattern_agreement_other": ("pattern agreement with another source", "The same against another, randomly "
                                                                         "drawn source: the chance level."),
    "direction": ("SeFa direction", "Latent direction found by SeFa, by decreasing eigenvalue."),
    "worst_match_rate": ("worst match rate", "Over the edit strengths tried along a direction, the lowest share of "
                                             "edited prints Bozorth3 still accepts as their unedited source."),
    "keeps_identity": ("keeps identity at every strength", "Whether the worst match rate reaches the bar "
                                                            "(90 % of seeds) at every edit strength tried."),
    "identity_degree": ("identity kept up to |degree|", "The largest edit strength up to which every strength tried "
                                                        "keeps 90 % of the edited prints matched to their source "
                                                        "(0: not even the smallest)."),
    "effect": ("main visible effect", "The measure (ridge period, contrast, foreground area, centroid shift, "
                                      "rotation) that the edit moves most, in units of its smallest visible change."),
    "effect_over_visible": ("effect / visible", "That measure's mean change at the identity-keeping strength, over "
                                                "its smallest visible change (editing.VISIBLE); 1 or more is visible."),
    "identity_preserving": ("identity-preserving", "Keeps identity up to some strength and visibly changes a measure "
                                                   "there."),
}
RATE_COLUMNS = frozenset({"same_impression_match", "genuine_match", "cross_impression_tar", "eer", "far",
                          "worst_match_rate", "genuine_match_rate", "fraction_above", "real_genuine_accepted",
                          "real_impostor_accepted"})
# a hex digest longer than this is shown by its first characters (the manifest keeps it whole)
HASH_SHOWN = 16
COUNT_COLUMNS = frozenset({"params", "epochs", "gan_steps", "steps", "seed"})


def label(column: str) -> str:
    """A column's header with units (its name with spaces where the index has no definition)."""
    return DEFINITIONS.get(column, (display_name(column).replace("_", " "), ""))[0]


def display_name(text: str) -> str:
    """How the index names a label that code it does not own wrote (synthetic masters are never "real")."""
    return DISPLAY_NAMES.get(text, text)


def sig3(value: float) -> str:
    """Three significant digits, thousands separated, plain notation between 1e-4 and 1e6."""
    if not math.isfinite(value):
        return "—" if math.isnan(value) else ("∞" if value > 0 else "−∞")
    rounded = float(f"{value:.3g}")
    if rounded == 0:
        return "0"
    exponent = math.floor(math.log10(abs(rounded)))
    if not -4 <= exponent < 6:
        return f"{rounded:.3g}"
    return f"{rounded:,.{max(0, 2 - exponent)}f}"


def missing(value: Any) -> bool:
    """Whether a table cell holds no value (None or NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def interval_of(value: Any) -> tuple[float, float] | None:
    """An interval: a ``[lo, hi]`` list, or a ``"[lo, hi]"`` / ``"(lo, hi)"`` CSV string; None otherwise."""
    if isinstance(value, str) and value[:1] in "[(" and value[-1:] in "])" and value.count(",") == 1:
        value = value[1:-1].split(",")
    if isinstance(value, (list, tuple)) and len(value) == 2:
        try:
            return float(value[0]), float(value[1])
        except (TypeError, ValueError):
            return None
    return None


def _is_tar(column: str) -> bool:
    return column.startswith("tar_at_far") or column == "cross_impression_tar"


def _unresolved(column: str, n_impostor: int | None) -> bool:
    """A ``tar_at_far_<far>`` whose impostor count cannot resolve that FAR (tables written before the check)."""
    if not column.startswith("tar_at_far_") or n_impostor is None:
        return False
    try:
        return not far_resolved(float(column.removeprefix("tar_at_far_")), n_impostor)
    except ValueError:
        return False


def is_count(column: str) -> bool:
    """Whether a column holds a count, shown as an integer."""
    return column == "n" or column.startswith("n_") or column in COUNT_COLUMNS


def _percent(value: float, interval: tuple[float, float] | None) -> str:
    text = f"{sig3(100 * value)}%"
    return text if interval is None else f"{text} ({sig3(100 * interval[0])}–{sig3(100 * interval[1])}%)"


def _list_text(column: str, values: list) -> str:
    if len(values) <= 6:
        return ", ".join(cell_text(column, v) for v in values) or "none"
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == len(values):
        return f"{len(values)} values, {sig3(min(numbers))}–{sig3(max(numbers))}"
    return f"{len(values)} items: {', '.join(str(v) for v in values[:3])}, …"


def cell_text(column: str, value: Any, interval: tuple[float, float] | None = None,
              n_impostor: int | None = None) -> str:
    """One value for reading: TARs via ``rate_text`` ("not resolved" when None), rates in %, counts whole,
    other numbers to three significant digits with their interval as "0.825 (0.807–0.842)"."""
    if missing(value) or _unresolved(column, n_impostor):
        return rate_text(None, n_impostor=n_impostor) if _is_tar(column) else "—"
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{display_name(str(k))}: {cell_text(str(k), v)}" for k, v in value.items())
    if (bounds := interval_of(value)) is not None:
        return f"{sig3(bounds[0])}–{sig3(bounds[1])}"
    if isinstance(value, list):
        return _list_text(column, value)
    if isinstance(value, str):
        return value[:HASH_SHOWN] + "…" if re.fullmatch(r"[0-9a-f]{20,}", value) else display_name(value)
    if _is_tar(column):
        return rate_text(float(value), interval)
    if column in RATE_COLUMNS:
        return _percent(float(value), interval)
    if isinstance(value, int) or (is_count(column) and float(value).is_integer()):
        return f"{int(value):,}"
    text = sig3(float(value))
    return text if interval is None else f"{text} ({sig3(interval[0])}–{sig3(interval[1])})"


def _impostor_count(row: pd.Series, column: str) -> int | None:
    """The impostor count that decides whether a TAR column's FAR is resolved, where the row has it."""
    count = row.get("n_cross_impostor" if column == "cross_impression_tar" else "n_impostor")
    return None if missing(count) else int(count)


def row_cell(row: pd.Series, column: str) -> str:
    """One table cell as text: value, interval and, for a TAR, whether its impostor count resolves it."""
    return cell_text(column, row[column], interval_of(row.get(f"{column}_ci")), _impostor_count(row, column))


def shown_columns(frame: pd.DataFrame) -> list[str]:
    """The frame's columns less the ``x_ci`` ones merged into their ``x``."""
    return [c for c in frame.columns if not (str(c).endswith("_ci") and str(c)[:-3] in frame.columns)]


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows for reading: intervals merged into their column, values formatted, headers with units."""
    columns = shown_columns(frame)
    rows = {display_name(str(name)): {label(c): row_cell(row, c) for c in columns} for name, row in frame.iterrows()}
    shown = pd.DataFrame.from_dict(rows, orient="index", columns=[label(c) for c in columns])
    shown.index.name = label(frame.index.name) if frame.index.name else ""
    return shown


def _width(texts: Iterable[str], header: str) -> int:
    longest_word = max((len(word) for word in header.split()), default=1)
    return max([longest_word, *(len(t) for t in texts)]) + 3


def column_groups(shown: pd.DataFrame, budget: int = TABLE_BUDGET_CHARS) -> list[list[str]]:
    """Columns in reading order cut into groups whose estimated row width fits the page."""
    index_width = _width(shown.index.astype(str), shown.index.name or "")
    groups: list[list[str]] = [[]]
    width = index_width
    for column in shown.columns:
        need = _width(shown[column], column)
        if groups[-1] and width + need > budget:
            groups.append([])
            width = index_width
        groups[-1].append(column)
        width += need
    return groups


def table_html(shown: pd.DataFrame) -> str:
    """One or more HTML tables that each fit 1,280 px: a wide frame is split by columns, its row names repeated."""
    parts = []
    for group in column_groups(shown):
        part = shown[group].reset_index().rename(columns={"index": shown.index.name or ""})
        parts.append(part.to_html(index=False, border=0, classes="data", escape=True))
    return "".join(parts)


def value_grid(items: dict[str, str]) -> str:
    """Label–value pairs in a grid of columns (scalar metrics, manifest fields)."""
    cells = "".join(f'<div><dt>{html.escape(k)}</dt><dd class="{"long" if len(v) > 24 else ""}">'
                    f"{html.escape(v)}</dd></div>" for k, v in items.items())
    return f'<dl class="kv">{cells}</dl>'


def _flatten(values: dict) -> dict:
    """One level of nesting flattened into ``parent child`` keys."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update({f"{key} {sub}": v for sub, v in value.items()})
        else:
            flat[key] = value
    return flat


def metrics_html(metrics: dict) -> str:
    """One notebook's metrics as a value grid (dicts flattened one level, long lists summarised) and tables
    for dicts of per-item dicts; never a JSON dump."""
    items, tables = {}, []
    for key, value in metrics.items():
        if key.endswith("_ci") and key[:-3] in metrics:
            continue
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            frame = pd.DataFrame.from_dict({k: _flatten(v) for k, v in value.items()}, orient="index")
            tables.append(f"<h4>{html.escape(label(key))}</h4>{table_html(display_frame(frame))}")
        elif isinstance(value, dict):
            n_impostor = value.get("n_impostor")
            for sub, v in value.items():
                if not (sub.endswith("_ci") and sub[:-3] in value):
                    column = sub if sub in DEFINITIONS or sub in RATE_COLUMNS or is_count(sub) else key
                    items[f"{label(key)} › {label(sub)}"] = cell_text(column, v, interval_of(value.get(f"{sub}_ci")),
                                                                       n_impostor)
        else:
            items[label(key)] = cell_text(key, value, interval_of(metrics.get(f"{key}_ci")))
    return value_grid(items) + "".join(tables)


# the pages' shared style: read at 1,280 px, tables that fit it, value grids
STYLE = """body{font-family:system-ui,sans-serif;max-width:1180px;margin:1.5em auto;padding:0 1em;
line-height:1.45;color:#222}
h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3 small{color:#777;font-weight:normal}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:14px}
td,th{border:1px solid #ccc;padding:3px 8px;overflow-wrap:anywhere}
table.data td{text-align:right}
table.data td:first-child{text-align:left}
table.data th{background:#f4f4f4}
table.definitions th{text-align:left;white-space:nowrap;background:#f4f4f4}
figure{margin:1em 0}
img{max-width:100%;max-height:85vh;width:auto;height:auto;display:block}
figcaption{color:#777;font-size:13px}
.conclusion{background:#f6f8fa;border-left:4px solid #4a7;padding:.4em .8em}
.warning{border:2px solid #c00;background:#fee;color:#900;padding:.5em 1em}
.ok{color:#275}
dl.kv{display:grid;grid-template-columns:repeat(auto-fill,minmax(17em,1fr));gap:.1em 2em;font-size:14px}
dl.kv div{display:flex;justify-content:space-between;gap:1em;border-bottom:1px dotted #ccc;min-width:0}
dt{color:#555;flex:1 1 auto;min-width:0;overflow-wrap:break-word}
dd{margin:0;text-align:right;flex:0 1 auto;overflow-wrap:break-word}
dd.long{overflow-wrap:anywhere;min-width:0}"""
