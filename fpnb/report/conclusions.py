"""Two-sentence conclusions generated from the headline tables, with their numbers and intervals."""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from fpnb.goals import GOALS
from fpnb.identity.metrics import goal_met
from fpnb.report.formatting import display_name, interval_of, label, missing, row_cell, sig3


def _intervals_overlap(row_a: pd.Series, row_b: pd.Series, column: str) -> bool:
    a, b = interval_of(row_a.get(f"{column}_ci")), interval_of(row_b.get(f"{column}_ci"))
    return a is None or b is None or (a[0] <= b[1] and b[0] <= a[1])


def _goal_text(row: pd.Series, goals: dict[str, str]) -> str:
    """`` Goals (fpnb.goals): ... met; ... not met (lower bound).`` for the named goals and their columns."""
    verdicts = [f"{GOALS[goal].text()}: {'met' if goal_met(interval_of(row.get(f'{column}_ci')), GOALS[goal].value) else 'not met'}"
                for goal, column in goals.items()]
    return f" Goals, by the interval's lower bound: {'; '.join(verdicts)}."


def _sample_text(row: pd.Series) -> str:
    fingers = f" of {int(row['n_identities'])} fingers" if not missing(row.get("n_identities")) else ""
    return f"{int(row['n'])} test images{fingers}" if not missing(row.get("n")) else "the test images"


def conclude_restoration(table: pd.DataFrame) -> str:
    """Best model by SSIM and by minutiae F1 with intervals, whether the lead is resolved, its identity rate."""
    if "ssim" not in table or table["ssim"].isna().all():
        return ""
    ranked = table.sort_values("ssim", ascending=False)
    best = ranked.iloc[0]
    text = f"Best pixel fidelity: {ranked.index[0]}, SSIM {row_cell(best, 'ssim')} on {_sample_text(best)}."
    if len(ranked) > 1:
        second = ranked.iloc[1]
        verdict = ("overlaps it, so their order is not resolved" if _intervals_overlap(best, second, "ssim")
                   else "is clearly behind")
        text += f" The runner-up {ranked.index[1]}, {row_cell(second, 'ssim')}, {verdict}."
    if "minutiae_f1" in table and not table["minutiae_f1"].isna().all():
        top = table["minutiae_f1"].astype(float).idxmax()
        text += f" Best minutiae F1: {top}, {row_cell(table.loc[top], 'minutiae_f1')}."
    identity = next((c for c in ("cross_impression_tar", "same_impression_match", "genuine_match") if c in table), None)
    if identity:
        text += f" {ranked.index[0]}'s {label(identity)}: {row_cell(best, identity)}."
    if "unet_seed_mse" in table.index and ranked.index[0] != "unet_seed_mse":
        seed = table.loc["unet_seed_mse", "ssim"]
        text += f" That is {best['ssim'] / seed:.2f}× the SSIM of the source project's U-Net ({sig3(seed)})."
    return text


def conclude_real_matchers(table: pd.DataFrame) -> str:
    """Each matcher's EER on the real set, and where the fused matcher stands against the single ones."""
    if "eer" not in table or "fused" not in table.index or len(table) < 2:
        return ""
    single = table.drop(index="fused")["eer"].astype(float)
    fused = float(table.loc["fused", "eer"])
    verdict = ("below both single matchers" if fused < single.min() else
               "at the best single matcher's" if fused == single.min() else "above the best single matcher's")
    where = f" on {table['set'].iloc[0]}" if "set" in table else ""
    counts = ""
    if {"n_genuine", "n_impostor"} <= set(table.columns):
        first = table.iloc[0]
        counts = f" ({int(first['n_genuine']):,} genuine and {int(first['n_impostor']):,} impostor pairs)"
    eers = ", ".join(f"{display_name(str(name))} {row_cell(row, 'eer')}" for name, row in table.iterrows())
    return f"EER{where}{counts}: {eers}. The fused matcher's EER is {verdict}."


def conclude_real_restoration(table: pd.DataFrame) -> str:
    """The best model's restored real prints against the degraded inputs and the clean prints."""
    if not {"clean prints", "degraded inputs"} <= set(table.index) or len(table) < 3:
        return ""
    model = table.index[2]  # the models follow the baselines, best by SSIM first
    row, clean, degraded = table.loc[model], table.loc["clean prints"], table.loc["degraded inputs"]
    return (f"{int(row['n'])} real prints of {int(row['n_identities'])} fingers, degraded by the study's pipeline: "
            f"{model} (best by SSIM on the test split) restores them to minutiae F1 {row_cell(row, 'minutiae_f1')} "
            f"(degraded inputs: {row_cell(degraded, 'minutiae_f1')}). Bozorth3 accepts "
            f"{row_cell(row, 'real_genuine_accepted')} of their genuine pairs (clean prints: "
            f"{row_cell(clean, 'real_genuine_accepted')}; degraded inputs: "
            f"{row_cell(degraded, 'real_genuine_accepted')})."
            + _goal_text(row, {"real_restoration_f1": "minutiae_f1", "real_restoration_accepted": "real_genuine_accepted"}))


def conclude_quality(table: pd.DataFrame) -> str:
    """Where the generated prints' FID lies between the masters' floor and the ceilings."""
    names = pd.Series(table.index.astype(str), index=table.index)
    generated, floor = table[names.str.startswith("generated")], table[names.str.startswith("floor")]
    ceilings = table[names.str.startswith("ceiling")]
    if generated.empty or floor.empty or "fid" not in table:
        return ""
    gen, low = generated.iloc[0], floor.iloc[0]
    text = (f"Generated prints: FID {sig3(gen['fid'])}, {sig3(gen['fid'] / low['fid'])}× the "
            f"{display_name(floor.index[0])} ({sig3(low['fid'])}).")
    if not ceilings.empty:
        nearest = ceilings["fid"].astype(float).idxmin()
        where = "below every ceiling" if gen["fid"] < ceilings["fid"].min() else "not below every ceiling"
        text += f" That is {where}; the nearest, {nearest}, is at {sig3(ceilings.loc[nearest, 'fid'])}."
    if not missing(gen.get("n")) and not missing(gen.get("n_reference")):
        text += (f" One draw of {int(gen['n']):,} generated against {int(gen['n_reference']):,} reference prints: "
                 "no interval.")
    return text


def conclude_reconstruction(table: pd.DataFrame) -> str:
    """Each evaluation set's TAR (with interval, or 'not resolved') and EER."""
    tar = next((c for c in table.columns if str(c).startswith("tar_at_far") and not str(c).endswith("_ci")), None)
    if tar is None:
        return ""
    parts = []
    for name, row in table.iterrows():
        part = f"{name}: {label(tar)} {row_cell(row, tar)}"
        if "eer" in table:
            part += f", EER {row_cell(row, 'eer')}"
        if not missing(row.get("n")):
            part += f" ({int(row['n']):,} reconstructions"
            part += f", {int(row['n_impostor']):,} impostor pairs)" if not missing(row.get("n_impostor")) else ")"
        parts.append(part)
    text = "Reconstructions accepted as their source print by Bozorth3 — " + "; ".join(parts) + "."
    if "held-out generated" in table.index and tar == "tar_at_far_1e-3":
        text += _goal_text(table.loc["held-out generated"], {"reconstruction_tar": tar})
    if {"flow_error_deg", "flow_error_other_deg"} <= set(table.columns):
        flows = [f"{name} {sig3(float(row['flow_error_deg']))}° (another source: "
                 f"{sig3(float(row['flow_error_other_deg']))}°)" for name, row in table.iterrows()
                 if not missing(row.get("flow_error_deg"))]
        if flows:
            text += " Ridge-flow error against the source: " + "; ".join(flows) + "."
    return text


def conclude_editing(table: pd.DataFrame) -> str:
    """How many SeFa directions keep identity, and the one that loses it most."""
    if "identity_preserving" not in table or "worst_match_rate" not in table:
        return ""
    keeps = table.index[table["identity_preserving"].astype(bool)]
    worst = table["worst_match_rate"].astype(float).idxmin()
    kept = ", ".join(str(d) for d in keeps) or "none"
    return (f"{len(keeps)} of {len(table)} directions keep identity (directions: {kept}). Direction {worst} "
            f"changes it most: worst match rate {row_cell(table.loc[worst], 'worst_match_rate')}.")


CONCLUSIONS: dict[str, Callable[[pd.DataFrame], str]] = {
    "02_real_prints": conclude_real_matchers,
    "05_comparison": conclude_restoration,
    "05_real_summary": conclude_real_restoration,
    "06_quality": conclude_quality,
    "07_summary": conclude_reconstruction,
    "08_identity": conclude_editing,
}
HEADLINE_TITLES = {
    "02_real_prints": "Matchers on real prints",
    "05_real_summary": "Restoration of real prints",
    "05_comparison": "Restoration models on the test split",
    "06_quality": "Distance of generated prints to the masters",
    "07_summary": "Reconstruction from minutiae",
    "08_identity": "Identity along each edit direction",
}
