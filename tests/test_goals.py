"""Goals live in one mapping; the report's conclusions judge them by the interval's lower bound."""
import pandas as pd

from fpnb.goals import GOALS, Goal
from fpnb.report.conclusions import conclude_reconstruction, conclude_real_restoration


def test_goal_text_shows_rates_in_percent():
    assert Goal(0.9, "TAR", rate=True).text() == "TAR ≥ 90 %"
    assert Goal(0.65, "minutiae F1").text() == "minutiae F1 ≥ 0.65"


def _real_summary(f1_ci, accepted_ci):
    rows = {"clean prints": {}, "degraded inputs": {},
            "unet": {"minutiae_f1": 0.7, "minutiae_f1_ci": f1_ci, "real_genuine_accepted": 0.8,
                     "real_genuine_accepted_ci": accepted_ci}}
    table = pd.DataFrame(rows).T
    table["n"], table["n_identities"] = 32, 4
    return table


def test_real_restoration_goals_need_the_lower_bound():
    f1, accepted = GOALS["real_restoration_f1"], GOALS["real_restoration_accepted"]
    met = conclude_real_restoration(_real_summary([f1.value, 0.9], [accepted.value + 0.01, 0.9]))
    assert f"{f1.text()}: met" in met and f"{accepted.text()}: met" in met
    missed = conclude_real_restoration(_real_summary([f1.value - 0.01, 0.9], [accepted.value + 0.01, 0.9]))
    assert f"{f1.text()}: not met" in missed and f"{accepted.text()}: met" in missed


def test_reconstruction_goal_is_judged_on_held_out_generated_prints():
    goal = GOALS["reconstruction_tar"]
    table = pd.DataFrame({"tar_at_far_1e-3": [0.95], "tar_at_far_1e-3_ci": [[goal.value - 0.05, 0.99]]},
                         index=["held-out generated"])
    assert f"{goal.text()}: not met" in conclude_reconstruction(table)
