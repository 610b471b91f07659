"""Restoration builders, losses, Pix2Pix and prediction on tiny models and random arrays."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from fpnb.restoration import models as r  # noqa: E402


def _tiny(name):
    """Each builder at a test-sized width."""
    return {
        "conv_dense": lambda: r.conv_dense((32, 32, 3), filters=(4, 4, 4), hidden_units=8),
        "autoencoder": lambda: r.autoencoder((4, 4, 4)),
        "unet": lambda: r.unet(depth=4, base_filters=4),
        "unet_bn": lambda: r.unet(depth=4, base_filters=4, batch_norm=True),
        "unet_seed": lambda: r.unet(**{**r.SEED_UNET, "base_filters": 4}),
        "pix2pix": lambda: r.Pix2Pix(r.pix2pix_generator(depth=5, base_filters=4, max_filters=8),
                                     r.patchgan_discriminator(base_filters=4)),
    }[name]()


def test_registry_names():
    assert set(r.MODELS) == {"conv_dense", "autoencoder", "unet", "unet_seed", "pix2pix"}
    assert set(r.LOSSES) == {"mse", "mae", "ms_ssim", "ms_ssim_l1"}


@pytest.mark.parametrize("name", ["autoencoder", "unet", "unet_bn", "unet_seed", "pix2pix"])
@pytest.mark.parametrize("shape", [(400, 275), (33, 47)])
def test_fully_convolutional_keeps_size(name, shape):
    model = _tiny(name)
    multiple = r.network_multiple(model)
    padded = tuple(-(-s // multiple) * multiple for s in shape)
    assert r.inference_network(model)(np.zeros((1, *padded, 3), np.float32)).shape == (1, *padded, 1)
    assert r.predict_image(model, np.zeros((*shape, 3), np.uint8)).shape == shape


def test_network_multiples():
    assert r.network_multiple(r.unet(depth=3, base_filters=4)) == 8
    assert r.network_multiple(r.autoencoder((4, 4, 4))) == 8
    assert r.network_multiple(_tiny("pix2pix")) == 32


def test_conv_dense_fixed_shape_and_tiled_prediction():
    model = _tiny("conv_dense")
    assert model(np.zeros((2, 32, 32, 3), np.float32)).shape == (2, 32, 32, 1)
    out = r.predict_image(model, np.full((400, 275, 3), 200, np.uint8))
    assert out.shape == (400, 275) and out.dtype == np.float32


def test_unet_batch_norm_normalises_every_convolution_before_its_activation():
    plain, normed = r.unet(depth=2, base_filters=4), _tiny("unet_bn")
    convs = [layer for layer in normed.layers if type(layer).__name__ == "Conv2D"]
    norms = [layer for layer in normed.layers if type(layer).__name__ == "BatchNormalization"]
    assert len(norms) == len(convs) - 1  # all but the 1x1 output convolution
    assert not any(layer.use_bias for layer in convs[:-1])
    assert not any(type(layer).__name__ == "BatchNormalization" for layer in plain.layers)


def test_folding_batch_norm_keeps_the_outputs_and_drops_the_layers():
    model = r.unet(depth=3, base_filters=4, activation="elu", batch_norm=True)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # moving statistics away from their initial 0 / 1
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 2.0, w.shape).astype(np.float32) for w in layer.get_weights()])
    folded = r.fold_batch_norm(model)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    x = rng.random((2, 40, 24, 3)).astype(np.float32)
    np.testing.assert_allclose(folded(x), model(x), atol=1e-5)
    plain = r.unet(depth=2, base_filters=4)
    assert r.fold_batch_norm(plain) is plain


def test_default_sizes_are_documented():
    assert r.unet().count_params() == pytest.approx(7.76e6, rel=0.01)
    assert r.unet_seed().count_params() == pytest.approx(1.0e6, rel=0.1)


def test_patchgan_is_conditional_and_patchwise():
    keras.utils.set_random_seed(0)  # unseeded weights made the 0.1 x scale margins depend on test order
    disc = r.patchgan_discriminator(base_filters=4)
    rng = np.random.default_rng(0)
    target = rng.random((1, 64, 48, 1)).astype(np.float32)
    condition = rng.random((1, 64, 48, 3)).astype(np.float32)
    logits = np.asarray(disc([condition, target]))
    assert logits.shape == (1, 8, 6, 1)
    # the same target judged against another condition gets other logits: D sees the pair
    other = np.asarray(disc([1.0 - condition, target]))
    scale = float(np.abs(logits).max())  # logits start small (weights drawn with std 0.02)
    assert scale > 0 and np.abs(other - logits).max() > 0.1 * scale
    # patchwise: changing the top-left quarter of the pair moves logits there, not in the far corner
    corner = condition.copy()
    corner[:, :16, :12] = 1.0 - corner[:, :16, :12]
    moved = np.asarray(disc([corner, target]))
    assert np.abs(moved[0, :2, :2] - logits[0, :2, :2]).max() > 0.1 * scale
    assert float(moved[0, -1, -1, 0]) == pytest.approx(float(logits[0, -1, -1, 0]), abs=1e-4 * scale)


@pytest.mark.parametrize("image", [
    np.zeros((37, 29), np.uint8),
    np.random.default_rng(0).random((37, 29, 1)).astype(np.float32),
    np.random.default_rng(1).integers(0, 256, (37, 29, 3), dtype=np.uint8),
    np.random.default_rng(2).integers(0, 256, (37, 29, 4), dtype=np.uint8),
], ids=["grey", "grey1", "rgb", "rgba"])
def test_predict_image_any_mode(image):
    out = r.predict_image(r.unet(depth=2, base_filters=4), image)
    assert out.shape == (37, 29) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_rgba_composited_over_white():
    rgba = np.zeros((2, 2, 4), np.uint8)
    assert np.all(r.to_rgb_float(rgba) == 1.0)
    with pytest.raises(ValueError):
        r.to_rgb_float(np.zeros((2, 2, 2), np.uint8))


def test_predict_batch_matches_predict_image():
    model = r.autoencoder((4, 4, 4))
    images = np.random.default_rng(3).integers(0, 256, (3, 20, 30, 3), dtype=np.uint8)
    batch = r.predict_batch(model, images, batch_size=2)
    assert batch.shape == (3, 20, 30)
    np.testing.assert_allclose(batch[1], r.predict_image(model, images[1]), atol=1e-5)


def test_ms_ssim_identity_zero_and_finite_gradients():
    rng = np.random.default_rng(0)
    y = tf.constant(rng.random((2, 64, 64, 1)), tf.float32)
    np.testing.assert_allclose(r.ms_ssim_loss(y, y).numpy(), 0.0, atol=1e-6)
    for start in (y, tf.zeros_like(y), 1.0 - y, tf.fill(y.shape, 0.5)):
        pred = tf.Variable(start)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(r.ms_ssim_l1(y, pred))
        grad = tape.gradient(loss, pred)
        assert np.isfinite(loss.numpy()) and np.all(np.isfinite(grad.numpy()))


def test_ms_ssim_matches_tensorflow_and_falls_back_on_small_crops():
    rng = np.random.default_rng(1)
    a = tf.constant(rng.random((2, 64, 64, 1)), tf.float32)
    b = tf.clip_by_value(a + 0.1 * tf.constant(rng.normal(size=a.shape), tf.float32), 0, 1)
    weights = np.array(r._MS_SSIM_WEIGHTS[:3]) / sum(r._MS_SSIM_WEIGHTS[:3])
    expected = tf.image.ssim_multiscale(a, b, 1.0, power_factors=weights.tolist(), filter_size=7)
    np.testing.assert_allclose(r.ms_ssim(a, b).numpy(), expected.numpy(), rtol=1e-4)
    assert r.ms_ssim_scales(20, 20) == 2 and r.ms_ssim_scales(64, 64) == 3
    assert np.all(np.isfinite(r.ms_ssim_loss(a[:, :20, :20], b[:, :20, :20]).numpy()))
    with pytest.raises(ValueError):
        r.ms_ssim_scales(5, 5)


@pytest.mark.parametrize("shape", [(2, 64, 64, 1), (2, 41, 29, 3)])
def test_ssim_matches_tensorflow(shape):
    rng = np.random.default_rng(2)
    a = rng.random(shape, dtype=np.float32)
    b = np.clip(a + rng.normal(0, 0.2, shape).astype(np.float32), 0, 1)
    np.testing.assert_allclose(r.ssim(a, b).numpy(), tf.image.ssim(a, b, max_val=1.0).numpy(), atol=1e-6)
    np.testing.assert_allclose(r.ssim(a, a).numpy(), 1.0, atol=1e-6)


def test_loss_parts_add_up():
    y = tf.fill((1, 32, 32, 1), 0.8)
    p = tf.fill((1, 32, 32, 1), 0.2)
    parts = r.ms_ssim_l1_parts(y, p)
    np.testing.assert_allclose(parts["l1"].numpy(), 0.6, rtol=1e-5)
    np.testing.assert_allclose(parts["loss"].numpy(),
                               0.84 * parts["ms_ssim_loss"].numpy() + 0.16 * 0.6, rtol=1e-5)
    for name, loss in r.LOSSES.items():
        assert loss(y, y).shape == (1,), name
    mixed = r.loss_function("ms_ssim_l1", 0.5)(y, p).numpy()
    np.testing.assert_allclose(mixed, 0.5 * parts["ms_ssim_loss"].numpy() + 0.5 * 0.6, rtol=1e-5)
    assert r.loss_function("mae") is r.mae
    with pytest.raises(ValueError, match="only the ms_ssim_l1"):
        r.loss_function("mse", 0.5)
    with pytest.raises(ValueError, match="unknown 'l3'"):
        r.loss_function("l3")


def test_pix2pix_train_step_returns_losses():
    keras.utils.set_random_seed(0)
    model = _tiny("pix2pix")
    model.d_steps = 2
    model.compile()
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((2, 32, 32, 3)), tf.float32)
    y = tf.constant(rng.random((2, 32, 32, 1)), tf.float32)
    d_before = [v.numpy().copy() for v in model.discriminator.trainable_variables]
    logs = model.train_step((x, y))
    assert {"g_loss", "g_gan", "g_l1", "d_loss", "d_real_acc", "d_fake_acc"} <= set(logs)
    assert all(np.isfinite(float(v)) for v in logs.values())
    np.testing.assert_allclose(float(logs["g_loss"]),
                               float(logs["g_gan"]) + 100 * float(logs["g_l1"]), rtol=1e-4)
    assert int(model.d_optimizer.iterations.numpy()) == 2
    assert int(model.g_optimizer.iterations.numpy()) == 1
    d_after = model.discriminator.trainable_variables
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(d_before, d_after))
    assert {"loss", "mae", "psnr", "ssim"} <= set(model.test_step((x, y)))


def test_cross_impression_pairs_never_pair_an_image_with_itself_or_cross_identities():
    from fpnb.restoration.study import cross_impression_pairs, identity_of

    names = [f"{i:05d}_{k:02d}" for i in range(6) for k in range(3)]
    genuine, impostor = cross_impression_pairs(names, max_impostors=4, seed=1)
    assert len(genuine) == 6 * 3 * 2 and all(i != j for i, j in genuine)
    assert all(identity_of(names[i]) == identity_of(names[j]) for i, j in genuine)
    assert all(identity_of(names[i]) != identity_of(names[j]) for i, j in impostor)
    assert len(impostor) == 18 * 4 and (genuine, impostor) == cross_impression_pairs(names, max_impostors=4, seed=1)


def test_summarise_reports_cross_impression_tar_only_when_resolved():
    import pandas as pd

    from fpnb.restoration.study import summarise

    table = pd.DataFrame({"identity": ["a", "a", "b", "b"], "ssim": [0.8, 0.9, 0.7, 0.6], "match_score": [50, 60, 5, 70]})
    rng = np.random.default_rng(0)
    cross = pd.DataFrame({"identity": ["a"] * 10 + ["b"] * 1990, "genuine": [True] * 10 + [False] * 1990,
                          "score": np.r_[np.full(10, 100.0), rng.normal(10, 2, 1990)]})
    out = summarise(table, threshold=40, cross=cross)
    assert out["same_impression_match"] == 0.75 and out["n_identities"] == 2
    assert out["cross_impression_tar"] == 1.0 and out["n_cross_impostor"] == 1990
    few = summarise(table, threshold=40, cross=cross.iloc[:500])  # 490 impostor pairs do not resolve FAR 0.1 %
    assert few["cross_impression_tar"] is None and few["cross_impression_tar_ci"] is None


def test_evaluation_keeps_inference_time_out_of_tables_and_in_the_builds_timings(tmp_path, monkeypatch):
    """A rebuild reproduces tables and metrics byte for byte: the time per image, which varies, goes to timings.json."""
    import pandas as pd

    from fpnb import config
    from fpnb.restoration import study

    monkeypatch.setattr(config, "paths", config.Paths(tmp_path))
    monkeypatch.setattr(study, "paths", config.Paths(tmp_path))
    profile, run = config.get_profile("smoke"), study.get_run("conv_dense")
    images = np.zeros((2, 8, 8, 3), np.uint8)
    table = pd.DataFrame({"name": ["00001_00", "00002_00"], "identity": ["00001", "00002"], "ssim": [0.5, 0.6]})
    cross = pd.DataFrame({"restored": ["00001_00"], "reference": ["00002_00"], "identity": ["00001"],
                          "genuine": [False], "score": [3.0]})
    study.save_evaluation(study.Evaluation(table, cross, images, images[..., 0], images[..., 0], 12.345678), profile, run)
    assert list(pd.read_csv(tmp_path / "reports" / "smoke" / "tables" / "conv_dense.csv").columns) == list(table.columns)
    assert "ms_per_image" not in study.summarise(table)
    config.save_timings(profile, "06_stylegan", {"images_per_second": 41.5})
    assert config.load_timings(profile) == {"conv_dense": {"ms_per_image": 12.35}, "06_stylegan": {"images_per_second": 41.5}}
    times = study.inference_times(profile, ["conv_dense", "pix2pix"])
    assert times.loc["conv_dense", "ms_per_image"] == 12.35 and np.isnan(times.loc["pix2pix", "ms_per_image"])


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    from fpnb import get_profile
    from fpnb.data.datasets import build_restoration_dataset

    profile = get_profile("smoke", n_identities=4, n_impressions=2, image_height=96, image_width=80,
                          val_fraction=0.25, test_fraction=0.25)
    return build_restoration_dataset(profile, seed=1, root=tmp_path_factory.mktemp("ceiling"))


def test_ceiling_scores_inputs_with_and_without_lossy_steps(tiny_set):
    from fpnb.restoration.study import ceiling, ceiling_summary

    keras.utils.set_random_seed(0)
    table = ceiling(r.unet(depth=2, base_filters=4), tiny_set, "test")
    assert len(table) == 2 and table["covered_fraction"].between(0, 1).all()
    assert table[["ssim", "ssim_uncovered", "ssim_without_lossy"]].apply(lambda c: c.between(-1, 1)).all().all()
    assert (table["covered_fraction"] > 0).eq(table["ssim_covered"].notna()).all()
    summary = ceiling_summary(table)
    assert summary["n"] == 2 and summary["ssim"] == pytest.approx(table["ssim"].mean())


def test_evaluate_measures_inference_time_beside_the_per_image_table(tiny_set):
    from fpnb.restoration.study import evaluate

    keras.utils.set_random_seed(0)
    evaluation = evaluate(r.unet(depth=2, base_filters=4), tiny_set, "test")
    assert len(evaluation.table) == 2 and {"ssim", "minutiae_f1", "match_score"} <= set(evaluation.table.columns)
    assert "ms_per_image" not in evaluation.table and evaluation.ms_per_image > 0


def test_score_restorations_gives_perfect_pixel_and_minutiae_scores_to_the_targets_themselves(tiny_set):
    from fpnb.data.datasets import load_pairs
    from fpnb.identity.matchers import extract_minutiae
    from fpnb.restoration.study import score_restorations

    _, targets, names = load_pairs(tiny_set, "training")
    table, cross = score_restorations(targets, targets, names)
    found = np.array([len(extract_minutiae(t)) > 0 for t in targets])  # a 96x80 print may hold none
    assert np.allclose(table["ssim"], 1.0) and found.any() and np.allclose(table["minutiae_f1"][found], 1.0)
    assert not (cross["restored"] == cross["reference"]).any()  # a print is never its own reference


def test_real_print_check_pairs_every_print_with_every_other_clean_print():
    from fpnb.restoration.study import real_print_baseline, real_print_check, real_print_summary

    keras.utils.set_random_seed(0)
    baseline = real_print_baseline(threshold=40.0)
    check = real_print_check(r.unet(depth=2, base_filters=4), baseline)
    assert baseline.restored is None and "score_restored" not in baseline.pairs  # the baseline is left as it was
    assert list(check.prints["finger"]) == ["p1", "p1", "p2"]
    assert len(check.pairs) == 6 and check.pairs["genuine"].sum() == 2  # p1_1 <-> p1_2, both ways
    assert check.restored.shape == check.clean.shape == check.degraded.shape
    summary = real_print_summary(check)
    assert summary["n_genuine_pairs"] == 2 and summary["n_impostor_pairs"] == 4 and summary["n_fingers"] == 2
    low, high = summary["minutiae_f1_restored_ci"]
    assert low <= summary["minutiae_f1_restored"] <= high
    # both genuine pairs are of finger p1: a bootstrap over fingers has one cluster to draw, so no spread
    assert summary["genuine_accepted_restored_ci"] == [summary["genuine_accepted_restored"]] * 2
    # the clean other impression of the same real finger is accepted by Bozorth3 (its genuine score is far above 40)
    assert summary["genuine_accepted_clean"] == 1.0


def test_real_print_table_puts_the_baselines_above_the_models_and_keeps_their_order():
    from fpnb.restoration.study import real_print_table

    def summary(restored: float) -> dict:
        return {"n_prints": 3, "n_fingers": 2, "minutiae_f1_degraded": 0.4, "minutiae_f1_degraded_ci": [0.3, 0.5],
                "minutiae_f1_restored": restored, "minutiae_f1_restored_ci": [restored - 0.1, restored + 0.1],
                **{f"genuine_accepted_{k}": v for k, v in (("clean", 1.0), ("degraded", 0.5), ("restored", restored))},
                **{f"genuine_accepted_{k}_ci": [v, v] for k, v in (("clean", 1.0), ("degraded", 0.5), ("restored", restored))},
                **{f"impostor_accepted_{k}": 0.0 for k in ("clean", "degraded", "restored")}}

    table = real_print_table({"b": summary(0.6), "a": summary(0.8)})
    assert list(table.index) == ["clean prints", "degraded inputs", "b", "a"]
    assert np.isnan(float(table.loc["clean prints", "minutiae_f1"])) and table.loc["degraded inputs", "minutiae_f1"] == 0.4
    assert table.loc["a", "minutiae_f1"] == 0.8 and table.loc["a", "real_genuine_accepted"] == 0.8
    assert table.loc["clean prints", "real_genuine_accepted"] == 1.0 and (table["n_identities"] == 2).all()
