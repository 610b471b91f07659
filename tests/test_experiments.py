"""Every script in experiments/ runs its main path at the tiniest size, so none of them rots.

The scripts run on the smoke profile in a sandbox (data, runs and reports under a temporary folder).
Where a script needs shipped weights that the smoke profile has none of, the test hands it tiny
untrained stand-ins and says so; everything else is the script's own code.
"""
import importlib.util
import json
from pathlib import Path

import pytest

from fpnb.config import Paths, get_profile

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
SMOKE = get_profile("smoke")


def load(name: str):
    """An experiment script as a module (``experiments/`` is not a package)."""
    spec = importlib.util.spec_from_file_location(f"experiment_{name}", EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """Generated data, training runs and reports go under a temporary folder for this module's tests; the smoke
    dataset that most scripts read is built once, in this process (no cluster to start for 60 images)."""
    from fpnb.data.datasets import build_restoration_dataset

    root = tmp_path_factory.mktemp("experiments")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FPNB_DATA", str(root / "data"))
        patch.setattr(Paths, "runs", property(lambda self: root / "runs"))
        patch.setattr(Paths, "reports", property(lambda self: root / "reports"))
        build_restoration_dataset(SMOKE, seed=0, workers=1)
        yield root


@pytest.fixture(scope="module")
def gan_run(sandbox):
    """The smoke profile's GAN run (2 steps at 32 px): its folder, checkpoint and sample grids."""
    import torch

    from fpnb.synthesis import study

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    study.train_or_load_generator(SMOKE)
    yield study.gan_run_dir(SMOKE)
    torch.set_num_threads(threads)


def tiny_unet():
    from fpnb.restoration.models import build_model

    return build_model("unet", base_filters=4, depth=2)


def _record(path: Path, argv: list[str]) -> dict:
    record = json.loads(path.read_text())
    assert record["question"].endswith("?") and record["command"].split()[:2] == ["python", f"experiments/{path.stem}.py"]
    assert record["command"].endswith(" ".join(argv[-2:])), "the command names the arguments it ran with"
    return record


def test_every_experiment_has_a_smoke_test_and_a_question():
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    for script in sorted(EXPERIMENTS.glob("*.py")):
        assert script.stem in tested, f"{script.name}: no smoke test in {Path(__file__).name}"
        assert "\nQUESTION = " in script.read_text() and "def main(argv" in script.read_text()


def test_realism_calibration(sandbox, tmp_path):
    out = tmp_path / "realism_calibration.json"
    argv = ["--identities", "2", "--impressions", "2", "--out", str(out)]
    load("realism_calibration").main(argv)
    record = _record(out, argv)
    assert record["bozorth3_impressions"]["identities"] == 2 and len(record["print_stats"]) == 3


def test_restoration_design(sandbox, tmp_path):
    out = tmp_path / "restoration_design.json"
    argv = ["seed", "--profile", "smoke", "--out", str(out)]
    load("restoration_design").main(argv)
    run = _record(out, argv)["runs"]["seed (1 epochs)"]
    assert run["n"] == SMOKE.n_eval_images and 0 <= run["ssim"] <= 1 and run["command"].endswith("restoration_design.json")


def test_restoration_ensemble(sandbox, tmp_path, monkeypatch):
    """No smoke model is shipped: every member is one tiny untrained U-Net."""
    script = load("restoration_ensemble")
    model = tiny_unet()
    monkeypatch.setattr(script, "runs", lambda profile: dict.fromkeys(script.ENSEMBLE))
    monkeypatch.setattr(script, "load_trained", lambda run, profile: model)
    out = tmp_path / "restoration_ensemble.json"
    argv = ["--profile", "smoke", "--n", "0", "--variants", "single", "flip4", "--out", str(out)]
    script.main(argv)
    record = _record(out, argv)
    assert record["flip4"]["forward_passes"] == 4 and "ssim_gain_ci" in record["flip4"]


def test_data_effect(sandbox, tmp_path, monkeypatch):
    """The old model comes from git history at the quick profile, the new one from the 04 notebook's training
    (``study.train_or_load``, run by the notebook's smoke test): here two tiny untrained U-Nets stand in."""
    import pandas as pd

    from fpnb.restoration import study

    script = load("data_effect")
    card = {"run_config": study.run_config(study.RUNS[script.RUN], SMOKE)}
    monkeypatch.setattr(script, "old_model", lambda commit: (tiny_unet(), card))
    monkeypatch.setattr(study, "train_or_load", lambda run, profile, root, seed, retrain: (
        tiny_unet(), pd.DataFrame({"epoch": [1]}), "untrained stand-in"))
    out = tmp_path / "data_effect.json"
    argv = ["--profile", "smoke", "--seeds", "1", "--out", str(out)]
    script.main(argv)
    record = _record(out, argv)
    assert record["profile"] == "smoke" and set(record["minutiae_f1"]) == {"degraded input", "old data", "new data",
                                                                           "new minus old"}


def test_gan_discriminator_fit(gan_run, tmp_path):
    out = tmp_path / "gan_discriminator_fit.json"
    argv = [str(gan_run), "--profile", "smoke", "--out", str(out)]
    load("gan_discriminator_fit").main(argv)
    record = _record(out, argv)
    assert record["runs"][str(gan_run)]["step"] == SMOKE.gan_steps


def test_gan_noise_fade(gan_run, tmp_path):
    argv = ["--profile", "smoke", "--source", str(gan_run), "--noise-from", "16", "--fade", "1", "--steps", "4",
            "--scratch-steps", "2", "--seeds", "2", "--out", str(tmp_path)]
    load("gan_noise_fade").main(argv)
    record = _record(tmp_path / "gan_noise_fade.json", argv)
    assert record["source_step"] == SMOKE.gan_steps and record["from_scratch"]["steps"] == 2
    assert all((tmp_path / figure).exists() for figure in record["figures"])


def test_gan_sweep(gan_run, tmp_path, monkeypatch, tiny_generator):
    """No smoke PrintNet or generator is shipped: an untrained PrintNet and a tiny generator stand in."""
    from fpnb.synthesis import printnet, sampling, study

    script = load("gan_sweep")
    net = printnet.PrintNet((4, 8, 8, 8)).eval().requires_grad_(False)
    monkeypatch.setattr(printnet, "shipped_printnet", lambda profile: "untrained")
    monkeypatch.setattr(printnet, "load_printnet", lambda path: net)
    monkeypatch.setattr(study, "shipped_generator", lambda profile: "tiny")
    monkeypatch.setattr(sampling, "load_generator", lambda path: tiny_generator)
    out = tmp_path / "gan_sweep.json"
    argv = ["r1_gamma=10", "--profile", "smoke", "--images", "8", "--n", "2", "--stats", "2", "--out", str(out)]
    script.main(argv)
    record = _record(out, argv)
    assert record["by_images"]["8"]["images_shown"] == {"r1_gamma=10": 8}


def test_sefa_layers(gan_run, tmp_path):
    from fpnb.synthesis.runs import CHECKPOINT_NAME

    out = tmp_path / "sefa_layers.json"
    argv = ["--profile", "smoke", "--generator", str(gan_run / CHECKPOINT_NAME), "--n", "2", "--top", "1",
            "--bands", "4-8,16-32", "--impostor-seeds", "3", "--out", str(out)]
    load("sefa_layers").main(argv)
    record = _record(out, argv)
    assert set(record["bands"]) == {"all layers", "4-8 px", "16-32 px"}
