"""The study's goals in one place: the notebooks test them and the report's conclusions state them.

A goal is met only when the 95 % interval's lower bound reaches it (``identity.metrics.goal_met``).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Goal:
    """A lower bound on one measured score or rate, and what it bounds."""

    value: float
    measure: str
    rate: bool = False  # shown in percent

    def text(self) -> str:
        """E.g. ``minutiae F1 of restored real prints ≥ 0.65``."""
        return f"{self.measure} ≥ {self.value * 100:g} %" if self.rate else f"{self.measure} ≥ {self.value:g}"


GOALS = {
    # 05: the best model (by test SSIM) on real prints degraded by the study's pipeline
    "real_restoration_f1": Goal(0.65, "minutiae F1 of restored real prints"),
    "real_restoration_accepted": Goal(0.60, "cross-impression acceptance of restored real prints", rate=True),
    # 07: reconstructions of held-out generated prints accepted as their source
    "reconstruction_tar": Goal(0.90, "TAR at FAR 0.1 % of reconstructed held-out generated prints", rate=True),
    # 08: an identity-preserving edit keeps this share of seeds matched at every tested degree
    "edit_match_rate": Goal(0.90, "edited seeds still matched to their original", rate=True),
}
