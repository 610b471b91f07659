import pandas as pd

from fpnb import plots


def test_learning_curves_label_every_axis_and_show_validation_only_quantities():
    history = pd.DataFrame({"epoch": [1, 2], "loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "val_psnr": [12.0, 14.0],
                            "time_s": [3.0, 3.1]})
    axes = [ax for ax in plots.learning_curves(history).axes if ax.lines]
    assert [ax.get_title() for ax in axes] == ["loss", "psnr (validation)"]  # no panel for the epoch's seconds
    assert [len(ax.lines) for ax in axes] == [2, 1]
    assert axes[1].get_ylabel() == "PSNR (dB)" and all(ax.get_ylabel() and ax.get_xlabel() == "epoch" for ax in axes)
