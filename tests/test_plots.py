import pandas as pd

from fpnb import plots


def test_learning_curves_label_every_axis_and_show_validation_only_quantities():
    history = pd.DataFrame({"epoch": [1, 2], "loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "val_psnr": [12.0, 14.0],
                            "time_s": [3.0, 3.1]})
    axes = [ax for ax in plots.learning_curves(history).axes if ax.lines]
    assert [ax.get_title() for ax in axes] == ["loss", "psnr (validation)"]  # no panel for the epoch's seconds
    assert [len(ax.lines) for ax in axes] == [2, 1]
    assert axes[1].get_ylabel() == "PSNR (dB)" and all(ax.get_ylabel() and ax.get_xlabel() == "epoch" for ax in axes)


def test_step_curves_show_raw_values_and_their_running_mean():
    log = pd.DataFrame({"step": [1, 2, 3, 4], "d_loss": [1.0, None, 0.5, 0.4], "r1": [0.1, 0.2, 0.3, 0.4],
                        "lr": [1e-3] * 4, "seconds": [1.0] * 4})
    axes = plots.step_curves(log).axes
    assert [ax.get_title() for ax in axes] == ["d_loss", "r1"]  # not the learning rate or the seconds
    assert len(axes[0].lines[0].get_xdata()) == 3 and len(axes[0].lines) == 2  # the NaN step skipped
    assert axes[0].get_ylabel() == "discriminator loss" and axes[0].get_xlabel() == "step"
    assert [ax.get_title() for ax in plots.step_curves(log, ("r1", "missing")).axes] == ["r1"]


def test_score_histograms_show_each_matcher_with_its_eer_threshold():
    scores = pd.DataFrame({"matcher": ["a"] * 4 + ["b"] * 4, "genuine": [True, True, False, False] * 2,
                           "score": [9.0, 8.0, 1.0, 2.0, 5.0, 6.0, 0.5, 5.5]})
    results = {"a": {"eer": 0.0, "threshold_eer": 8.0}, "b": {"eer": 0.25, "threshold_eer": 5.5}}
    axes = plots.score_histograms(scores, results).axes
    assert [ax.get_title() for ax in axes] == ["a: EER 0.00%", "b: EER 25.00%"]
    assert axes[1].lines[0].get_xdata()[0] == 5.5
