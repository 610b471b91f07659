"""The precision switch: detection from CPU flags, overrides, and what each precision sets."""
import pytest

from fpnb import precision
from fpnb.config import get_profile


def test_detect_follows_the_cpu_flags():
    assert precision.detect(frozenset({"avx2", "amx_bf16"}), cuda_bf16=False) == "bf16"
    assert precision.detect(frozenset({"avx512_bf16"}), cuda_bf16=False) == "bf16"
    assert precision.detect(frozenset({"avx2", "avx512f"}), cuda_bf16=False) == "fp32"  # no bf16 unit
    assert precision.detect(frozenset(), cuda_bf16=True) == "bf16"


def test_cpu_flags_reads_a_cpuinfo_file(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512_bf16\n")
    assert precision.cpu_flags(str(info)) == {"fpu", "sse2", "avx512_bf16"}
    assert precision.cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_environment_beats_profile_beats_detection(monkeypatch):
    monkeypatch.delenv(precision.PRECISION_ENV, raising=False)
    monkeypatch.setattr(precision, "detect", lambda: "fp32")  # a CPU without bf16
    assert precision.resolve(get_profile("smoke")) == "fp32"
    assert precision.resolve(get_profile("smoke", precision="bf16")) == "bf16"
    monkeypatch.setenv(precision.PRECISION_ENV, "fp32")
    assert precision.resolve(get_profile("smoke", precision="bf16")) == "fp32"
    monkeypatch.setenv(precision.PRECISION_ENV, "fp16")
    with pytest.raises(ValueError, match="fp16"):
        precision.resolve()


def test_keras_policy_is_restored_after_building():
    import keras

    before = keras.config.dtype_policy().name
    with precision.keras_precision("bf16"):
        layer = keras.layers.Dense(2)
        assert layer.dtype_policy.name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == before


def test_torch_autocast_only_for_bf16():
    import torch

    x = torch.ones(2, 3)
    with precision.torch_autocast("bf16"):
        assert torch.nn.functional.linear(x, torch.ones(4, 3)).dtype == torch.bfloat16
    with precision.torch_autocast("fp32"):
        assert torch.nn.functional.linear(x, torch.ones(4, 3)).dtype == torch.float32


def test_keras_bf16_training_step_is_finite_and_moves_weights():
    import numpy as np

    from fpnb.restoration import models as r

    with precision.keras_precision("bf16"):
        model = r.build_model("unet", loss="ms_ssim_l1", depth=2, base_filters=4, batch_norm=True)
    assert model.layers[2].dtype_policy.name == "mixed_bfloat16"
    rng = np.random.default_rng(0)
    x, y = rng.random((4, 32, 32, 3), np.float32), rng.random((4, 32, 32, 1), np.float32)
    before = [np.array(w) for w in model.get_weights()]
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x, verbose=0).dtype == np.float32
    assert any(not np.array_equal(a, np.array(b)) for a, b in zip(before, model.get_weights()))


def test_bf16_restoration_agrees_with_float32():
    import numpy as np

    from fpnb.config import paths
    from fpnb.data.degradations import degrade
    from fpnb.data.masters import make_master
    from fpnb.identity.metrics import ssim
    from fpnb.restoration import models as r
    from fpnb.restoration.training import load_restoration_model

    shipped = sorted(paths.weights.glob("unet_*.keras"))
    model = r.fold_batch_norm(load_restoration_model(shipped[0])) if shipped else r.unet(depth=3, base_filters=8)
    image = degrade(make_master(7).image, seed=7)
    fp32 = r.predict_image(r.with_precision(model, "fp32"), image)
    bf16 = r.predict_image(r.with_precision(model, "bf16"), image)
    assert fp32.shape == bf16.shape == image.shape[:2] and bf16.dtype == np.float32
    assert ssim(bf16, fp32) >= 0.99


@pytest.mark.parametrize("name, kwargs", [("conv_dense", {"input_shape": (32, 32, 3), "hidden_units": 8}),
                                          ("autoencoder", {"filters": (4, 4, 4)}),
                                          ("unet", {"depth": 2, "base_filters": 4}),
                                          ("pix2pix", {"depth": 3, "base_filters": 4})])
def test_every_builder_outputs_float32_under_bf16(name, kwargs):
    import numpy as np

    from fpnb.restoration import models as r

    with precision.keras_precision("bf16"):
        model = r.build_model(name, **kwargs)
    x = np.random.default_rng(0).random((2, 32, 32, 3), np.float32)
    assert np.asarray(r.inference_network(model)(x)).dtype == np.float32
