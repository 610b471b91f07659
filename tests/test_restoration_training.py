"""The training routine: learning, resume after a crash, atomic checkpoints, model cards."""
import hashlib
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from fpnb.restoration import models as r  # noqa: E402
from fpnb import files  # noqa: E402
from fpnb.restoration import training  # noqa: E402
from fpnb.config import get_profile  # noqa: E402

CROP = 32


def _toy_pairs(n=16, seed=0):
    """A learnable toy task: the target is the input's grey level (dark ridges on white)."""
    rng = np.random.default_rng(seed)
    grey = rng.random((n, CROP, CROP, 1)).astype(np.float32)
    rgb = np.repeat(grey, 3, axis=-1)
    return rgb, grey


def _datasets(batch=4):
    x, y = _toy_pairs()
    train = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(batch)
    val = tf.data.Dataset.from_tensor_slices(_toy_pairs(8, seed=1)).batch(batch)
    return train, val


def _tiny_unet(seed=0, loss="mse", learning_rate=1e-2):
    keras.utils.set_random_seed(seed)
    return r.compile_model(r.unet(depth=2, base_filters=4, dropout=0.0), loss, learning_rate)


def _fit(model, run_dir, epochs, **kwargs):
    train, val = _datasets()
    return training.fit(model, train, val, run_dir, epochs=epochs, steps_per_epoch=3,
                        validation_steps=2, seed=0, verbose=0, **kwargs)


def test_loss_decreases_on_toy_task(tmp_path):
    history = _fit(_tiny_unet(), tmp_path, epochs=4)
    assert list(history["epoch"]) == [1, 2, 3, 4]
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    assert {"val_loss", "val_mae", "val_psnr", "val_ssim", "time_s"} <= set(history.columns)
    assert (tmp_path / "log.csv").exists() and (tmp_path / "history.json").exists()


class _LearningRates(keras.callbacks.Callback):
    """Record the optimizer's learning rate at each epoch's first batch."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.rates.append(float(self.model.optimizer.learning_rate.numpy()))


def test_cosine_decay_follows_the_epoch_also_after_resume(tmp_path):
    expected = [1e-2 * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * e / 4))) for e in range(4)]
    first = _LearningRates()
    with pytest.raises(RuntimeError, match="simulated crash"):
        _fit(_tiny_unet(), tmp_path, epochs=4, callbacks=[first, _Crash(epoch=2)])
    resumed = _LearningRates()
    _fit(_tiny_unet(seed=1), tmp_path, epochs=4, callbacks=[resumed])
    np.testing.assert_allclose(first.rates + resumed.rates, expected[:3] + expected[2:], rtol=1e-5)
    flat = _LearningRates()
    _fit(_tiny_unet(), tmp_path / "flat", epochs=2, callbacks=[flat], cosine=False)
    assert flat.rates == pytest.approx([1e-2, 1e-2])


class _Crash(keras.callbacks.Callback):
    """Raise in the middle of a chosen epoch, like a killed process."""

    def __init__(self, epoch):
        super().__init__()
        self.crash_epoch = epoch
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.crash_epoch and batch == 1:
            raise RuntimeError("simulated crash")


def test_resume_after_crash_continues_history(tmp_path):
    with pytest.raises(RuntimeError, match="simulated crash"):
        _fit(_tiny_unet(), tmp_path, epochs=3, callbacks=[_Crash(epoch=2)])
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epoch"] == 2 and len(state["history"]) == 2
    model = _tiny_unet(seed=1)
    history = _fit(model, tmp_path, epochs=3)
    assert list(history["epoch"]) == [1, 2, 3]
    saved_iterations = int(model.optimizer.iterations.numpy())
    assert saved_iterations == 9  # 2 epochs restored + 1 resumed, 3 steps each
    best_epoch = json.loads((tmp_path / "state.json").read_text())["best_epoch"]
    assert sorted(p.name for p in tmp_path.glob("*-0*")) == sorted([
        "epoch-0003.optimizer.npz", "epoch-0003.weights.h5", f"best-{best_epoch:04d}.weights.h5"])
    assert not list(tmp_path.glob(".*tmp*"))
    again = _fit(_tiny_unet(seed=2), tmp_path, epochs=3)
    assert again.equals(history)


def test_resume_refuses_a_checkpoint_of_another_architecture(tmp_path):
    _fit(_tiny_unet(), tmp_path, epochs=1)
    other = r.compile_model(r.unet(depth=2, base_filters=2), "mse")
    with pytest.raises(ValueError, match="another architecture"):
        _fit(other, tmp_path, epochs=2)
    assert len(_fit(other, tmp_path, epochs=1, resume=False)) == 1


def test_checkpoint_is_atomic_with_ms_ssim_l1(tmp_path, monkeypatch):
    real_replace = files.os.replace

    def failing_replace(src, dst):
        if str(dst).endswith("epoch-0002.weights.h5"):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        _fit(_tiny_unet(loss="ms_ssim_l1"), tmp_path, epochs=2)
    monkeypatch.setattr(files.os, "replace", real_replace)
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epoch"] == 1 and not (tmp_path / "epoch-0002.weights.h5").exists()
    history = _fit(_tiny_unet(loss="ms_ssim_l1"), tmp_path, epochs=2)
    assert list(history["epoch"]) == [1, 2] and np.isfinite(history["loss"]).all()


def test_early_stopping(tmp_path):
    history = _fit(_tiny_unet(learning_rate=0.0), tmp_path, epochs=6, patience=2)
    state = json.loads((tmp_path / "state.json").read_text())
    assert list(history["epoch"]) == [1, 2, 3]  # val_loss never improves on epoch 1
    assert state["stopped"] and state["best_epoch"] == 1
    assert list(_fit(_tiny_unet(), tmp_path, epochs=6, patience=2)["epoch"]) == [1, 2, 3]
    # without a patience (the default: the cosine schedule fixes the budget) the stopped run trains on
    history = _fit(_tiny_unet(learning_rate=0.0), tmp_path, epochs=6)
    assert list(history["epoch"]) == [1, 2, 3, 4, 5, 6]
    assert not json.loads((tmp_path / "state.json").read_text())["stopped"]


def test_fit_trains_pix2pix(tmp_path):
    keras.utils.set_random_seed(0)
    model = r.Pix2Pix(r.pix2pix_generator(depth=3, base_filters=4, max_filters=8),
                      r.patchgan_discriminator(base_filters=4, n_layers=2))
    model.compile()
    _fit(model, tmp_path / "a", epochs=1)
    history = _fit(model, tmp_path / "a", epochs=2)
    assert list(history["epoch"]) == [1, 2]
    assert {"g_loss", "d_loss", "val_loss", "val_ssim"} <= set(history.columns)
    assert int(model.d_optimizer.iterations.numpy()) == 6
    generator = training.load_restoration_model(training.save_model(model, tmp_path / "p2p.keras"))
    assert generator.name == "pix2pix_generator"
    assert r.predict_image(generator, np.zeros((40, 27), np.uint8)).shape == (40, 27)


def test_save_load_and_model_card(tmp_path):
    model = _tiny_unet()
    path = training.save_model(model, tmp_path / "unet_mse.keras")
    image = np.random.default_rng(0).integers(0, 256, (45, 30, 3), dtype=np.uint8)
    loaded = training.load_restoration_model(path)
    np.testing.assert_allclose(r.predict_image(loaded, image), r.predict_image(model, image), atol=1e-6)
    smoke = get_profile("smoke")
    history = pd.DataFrame({"epoch": [1, 2], "loss": [0.2, 0.1], "time_s": [1.4, 1.7]})
    card_path = training.save_model_card(path, smoke, "abc123", {"ssim": 0.5}, history=history)
    card = json.loads(card_path.read_text())
    assert card["training_steps"] == 2 * smoke.steps_per_epoch and card["wall_seconds"] == 3
    assert card["images_shown"] == card["training_steps"] * smoke.batch_size
    assert card_path.name == "unet_mse.json"
    assert card["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert card["profile"] == "smoke" and card["data_manifest_hash"] == "abc123"
    assert card["params"] == model.count_params() and card["metrics"] == {"ssim": 0.5}
    with zipfile.ZipFile(path) as archive:  # Keras stores members uncompressed; shipped files are deflated
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_DEFLATED}


def test_shipped_weights_are_reused_only_for_their_profile_and_run_config(tmp_path, monkeypatch):
    import dataclasses

    from fpnb.restoration import study
    from fpnb.config import Paths

    monkeypatch.setattr(study, "paths", Paths(tmp_path))
    (tmp_path / "weights").mkdir()
    quick, run = get_profile("quick"), study.RUNS["unet_mse"]
    weights = training.save_model(_tiny_unet(), study.shipped_paths(run)[0])
    training.save_model_card(weights, quick, "h", {"ssim": 0.5}, study.run_config(run, quick))
    assert study.shipped_run(run, quick)
    assert not study.shipped_run(run, get_profile("smoke"))
    assert not study.shipped_run(dataclasses.replace(run, learning_rate=run.learning_rate / 3), quick)
    assert not study.shipped_run(dataclasses.replace(run, kwargs={**run.kwargs, "depth": 3}), quick)


def test_ship_rewrites_weights_and_card_only_when_retrained(tmp_path, monkeypatch):
    import pandas as pd

    from fpnb.restoration import study
    from fpnb.config import Paths

    monkeypatch.setattr(study, "paths", Paths(tmp_path))
    (tmp_path / "weights").mkdir()
    quick, run = get_profile("quick"), study.RUNS["unet_mse"]
    history = pd.DataFrame({"loss": [0.1]})
    study.ship(_tiny_unet(), run, quick, tmp_path, history, {"ssim": 0.5})
    weights = study.shipped_paths(run)[0]
    before = weights.read_bytes()
    card_before = study.shipped_paths(run)[1].read_bytes()
    card = study.ship(training.load_restoration_model(weights), run, quick, tmp_path, history, {"ssim": 0.6})
    assert weights.read_bytes() == before and card.read_bytes() == card_before  # reused: card keeps its metrics
    assert json.loads(card.read_text())["metrics"] == {"ssim": 0.5}
    study.ship(_tiny_unet(seed=1), run, quick, tmp_path, history, {"ssim": 0.7})
    assert json.loads(card.read_text())["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert weights.read_bytes() != before


def test_the_tuned_run_is_the_search_winner_of_its_own_profile(tmp_path, monkeypatch):
    from fpnb import config
    from fpnb.restoration import study

    monkeypatch.setattr(study, "paths", config.Paths(tmp_path))
    full = get_profile("full")
    assert set(study.runs(full)) == set(study.RUNS)  # before the search: the fixed runs only
    with pytest.raises(FileNotFoundError, match="03_search"):
        study.get_run("unet_tuned", profile=full)
    with pytest.raises(ValueError, match="pass the profile"):
        study.get_run("unet_tuned")
    best = {"base_filters": 12.0, "depth": 3.0, "batch_norm": 0.0, "dropout": 0.05, "learning_rate": 0.0021,
            "loss": "ms_ssim_l1", "ms_ssim_weight": 0.65}
    path = study.paths.metrics_file(full, study.search.RESULT)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"best": best}))
    run = study.get_run("unet_tuned", profile=full)
    assert run.name == "unet_tuned" and study.runs(full)["unet_tuned"] == run
    assert run.kwargs == {"depth": 3, "base_filters": 12, "batch_norm": False, "dropout": 0.05}
    assert (run.loss, run.learning_rate, run.ms_ssim_weight) == ("ms_ssim_l1", 0.0021, 0.65)
    assert study.run_config(run, full)["ms_ssim_weight"] == 0.65
    assert "ms_ssim_weight" not in study.run_config(study.RUNS["unet_mse"], full)  # shipped cards still match
    assert study.run_dir(run, full) != study.run_dir(study.RUNS["unet_ms_ssim_l1"], full)
    assert set(study.runs(get_profile("quick"))) == set(study.RUNS)  # another profile's search does not count


def test_a_search_trial_runs_in_smoke_and_seed_0_draws_the_same_trial(tmp_path):
    from fpnb.data.datasets import build_restoration_dataset
    from fpnb.restoration.search import HYPERPARAMETERS, search

    profile = get_profile("smoke", n_identities=6, image_height=96, image_width=80, search_trials=2)
    root = build_restoration_dataset(profile, seed=0, root=tmp_path / "data")
    table = search(profile, root, directory=tmp_path / "search")
    assert len(table) == profile.search_trials == 2
    assert set(HYPERPARAMETERS) <= set(table.columns) and table["val_ssim"].between(-1, 1).all()
    assert (table["params"] > 0).all()
    # KerasTuner replaces a seed of 0 with a random one; the study's seed 0 must still fix the draws
    again = search(profile, root, directory=tmp_path / "again")
    columns = [k for k in HYPERPARAMETERS if k != "ms_ssim_weight"]
    assert table.sort_index()[columns].equals(again.sort_index()[columns])


def test_pix2pix_trains_its_share_of_the_epochs():
    from fpnb.restoration import study

    full, smoke = get_profile("full"), get_profile("smoke")
    pix2pix, unet = study.RUNS["pix2pix"], study.RUNS["unet_mse"]
    assert unet.epochs(full) == full.epochs and "epochs" not in study.run_config(unet, full)
    assert pix2pix.epochs(full) == study.run_config(pix2pix, full)["epochs"] == 24
    assert pix2pix.epochs(smoke) == 1  # never zero


def test_a_saved_search_is_reused_only_with_its_settings(tmp_path, monkeypatch):
    from fpnb import config
    from fpnb.restoration import search

    monkeypatch.setattr(config, "paths", config.Paths(tmp_path))
    monkeypatch.setattr(search, "paths", config.paths)
    profile, root = get_profile("smoke"), tmp_path / "data"
    values = dict(zip(search.HYPERPARAMETERS, (8, 3, True, 0.1, 1e-3, "mae", float("nan"))))
    table = pd.DataFrame([{"trial": "0", **values, "val_ssim": 0.5, "params": 10}]).set_index("trial")
    calls = []
    monkeypatch.setattr(search, "search", lambda *args: calls.append(args) or table)
    assert search.search_or_reuse(profile, root)[1] == "searched here" and len(calls) == 1
    saved = json.loads(config.paths.metrics_file(profile, search.RESULT).read_text())
    assert saved["best"]["loss"] == "mae" and saved["settings"]["seed"] == 0
    reused, source = search.search_or_reuse(profile, root)
    assert source == "saved 03_search.csv" and len(calls) == 1
    assert reused["val_ssim"].iloc[0] == 0.5 and reused["batch_norm"].iloc[0]
    for kwargs in ({"rerun": True}, {"seed": 1}):
        assert search.search_or_reuse(profile, root, **kwargs)[1] == "searched here"
    assert search.search_or_reuse(get_profile("smoke", search_epochs=2), root)[1] == "searched here"
    assert len(calls) == 4


def test_example_names_take_one_image_per_finger_first(tmp_path):
    from fpnb.restoration.study import example_names

    for folder in ("test_input", "test_ground-truth"):
        (tmp_path / folder).mkdir()
        for name in ("00002_00", "00002_01", "00002_02", "00007_00", "00007_01", "00011_03"):
            (tmp_path / folder / f"{name}.png").write_bytes(b"")
    assert example_names(tmp_path, 3) == ["00002_00", "00007_00", "00011_03"]
    assert example_names(tmp_path, 3, limit=4) == ["00002_00", "00007_00", "00002_01"]
    assert example_names(tmp_path, 2) == ["00002_00", "00007_00"]
