import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from fpnb.synthesis.sampling import (interpolate, load_generator, render, sample, save_generator, seed_latents,
                               seed_noise, style_mix)
from fpnb.synthesis.training import diff_augment, load_training_run, train_stylegan
from fpnb.synthesis.stylegan import Discriminator, Generator, channel_widths

TINY = dict(style_dim=16, n_mlp=2, channels=8)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def generator():
    torch.manual_seed(0)
    g = Generator(16, **TINY).eval()
    with torch.no_grad():
        for layer in [g.conv1, *g.convs]:
            layer.noise.weight.fill_(0.5)  # zero at init: give the noise inputs a visible effect
    return g


@pytest.mark.parametrize("resolution", [8, 16, 32, 128, 256])
def test_shapes_at_each_resolution(resolution):
    g = Generator(resolution, **TINY)
    d = Discriminator(resolution, channels=8)
    z = torch.randn(3, 16)
    img, latents = g([z], return_latents=True)
    assert img.shape == (3, 1, resolution, resolution)
    assert g.n_latent == 2 * int(np.log2(resolution)) - 2
    assert latents.shape == (3, g.n_latent, 16)
    assert d(img).shape == (3, 1)
    assert g([z, torch.randn(3, 16)], inject_index=1).shape == img.shape


def test_channel_widths_halve_above_32_px():
    assert channel_widths(128, 128, 1) == {4: 128, 8: 128, 16: 128, 32: 128, 64: 64, 128: 32}
    with pytest.raises(ValueError, match="resolution"):
        Generator(48)


def test_samples_are_in_unit_range_and_deterministic_per_seed(generator):
    images = sample(generator, [3, 7, 11])
    assert images.shape == (3, 16, 16) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1 and np.isfinite(images).all()
    np.testing.assert_array_equal(sample(generator, [3, 7, 11]), images)
    np.testing.assert_allclose(sample(generator, [11], batch=1)[0], images[2], atol=1e-5)
    assert np.abs(images[0] - images[1]).max() > 1e-3
    fixed = sample(generator, [3, 7], noise="fixed")
    np.testing.assert_array_equal(sample(generator, [3, 7], noise="fixed"), fixed)
    assert np.abs(fixed[0] - images[0]).max() > 0


def test_truncation_zero_gives_the_mean_latent_image(generator):
    generator.w_avg.copy_(generator.mean_latent(256)[0])
    images = sample(generator, [1, 2, 3], truncation=0.0, noise="fixed")
    np.testing.assert_allclose(images[0], images[1], atol=1e-6)
    np.testing.assert_allclose(images[0], images[2], atol=1e-6)
    center = seed_latents(generator, [5], truncation=0.0)
    torch.testing.assert_close(center[0], generator.w_avg)


def test_mixing_and_interpolation(generator):
    a = sample(generator, [1])[0]
    b_with_noise_of_a = render(generator, seed_latents(generator, [2]), noise=seed_noise(generator, [1]))[0]
    assert style_mix(generator, 1, 2, crossover=3).shape == (16, 16)
    np.testing.assert_allclose(style_mix(generator, 1, 2, crossover=generator.n_latent), a, atol=1e-5)
    np.testing.assert_allclose(style_mix(generator, 1, 2, crossover=0), b_with_noise_of_a, atol=1e-5)
    path = interpolate(generator, 1, 2, n=4)
    assert path.shape == (4, 16, 16)
    np.testing.assert_allclose(path[0], a, atol=1e-5)
    np.testing.assert_allclose(path[-1], b_with_noise_of_a, atol=1e-5)


def test_diff_augment_changes_each_image_keeps_shape_range_and_gradients():
    torch.manual_seed(0)
    x = (torch.rand(8, 1, 16, 16) * 2 - 1).requires_grad_(True)
    torch.manual_seed(1)
    y = diff_augment(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert ((y - x).abs().flatten(1).mean(1) > 0.05).all()  # every image moved
    # brightness +-0.5 then contrast x0.5-1.5 about the mean: |y| <= 1.5 * (1.5 + 1.5) at most
    assert y.abs().max() <= 4.5
    # cutout: at least a quarter of a half-size square of each image is zero
    assert ((y == 0).flatten(1).sum(1) >= 16).all()
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    torch.manual_seed(1)
    assert torch.equal(diff_augment(x.detach()), y.detach())  # a function of torch's seed


def test_training_checkpoints_and_resumes(tmp_path):
    torch.manual_seed(0)
    data = torch.rand(12, 1, 16, 16) * 2 - 1
    g, d = Generator(16, **TINY), Discriminator(16, channels=8)
    before = [p.detach().clone() for p in g.parameters()]
    options = dict(batch=4, seed=1, r1_every=2, pl_every=2, progress=False)
    log = train_stylegan(g, d, data, tmp_path, steps=3, **options)
    assert isinstance(log, pd.DataFrame) and list(log["step"]) == [1, 2, 3]
    assert np.isfinite(log[["d_loss", "g_loss"]].to_numpy()).all()
    assert any(not torch.equal(a, b) for a, b in zip(before, g.parameters()))
    assert (tmp_path / "checkpoint.pt").exists() and (tmp_path / "samples" / "step-000003.png").exists()

    g2, d2 = Generator(16, **TINY), Discriminator(16, channels=8)  # fresh models: state comes from disk
    log2 = train_stylegan(g2, d2, data, tmp_path, steps=5, **options)
    assert list(log2["step"]) == [1, 2, 3, 4, 5]
    pd.testing.assert_frame_equal(log2.iloc[:3], log)
    assert len(pd.read_csv(tmp_path / "log.csv")) == 5
    run = load_training_run(tmp_path)
    assert run["step"] == 5
    assert all(torch.equal(a, b) for a, b in zip(run["generator"].parameters(), g2.parameters()))

    with pytest.raises(ValueError, match="model arguments"):
        train_stylegan(Generator(16, style_dim=16, n_mlp=2, channels=4), d2, data, tmp_path, steps=6, **options)


def test_save_load_round_trip(generator, tmp_path):
    path = save_generator(generator, tmp_path / "g.safetensors", {"profile": "smoke"})
    loaded = load_generator(path)
    np.testing.assert_array_equal(sample(loaded, [4, 5]), sample(generator, [4, 5]))
    assert loaded.args == generator.args
    corrupted = bytearray(path.read_bytes())
    corrupted[-1] ^= 0xFF
    path.write_bytes(bytes(corrupted))
    with pytest.raises(ValueError, match="sha256"):
        load_generator(path)


def test_a_run_shipped_part_way_continues_on_a_machine_without_its_run_folder(tmp_path, monkeypatch):
    from fpnb import get_profile
    from fpnb.config import Paths
    from fpnb.synthesis import study
    from fpnb.weights_io import card_path

    monkeypatch.setattr(study, "paths", Paths(tmp_path))
    (tmp_path / "weights").mkdir()
    profile = get_profile("smoke", ships_weights=True, gan_resolution=16, gan_steps=2)
    torch.manual_seed(0)
    data = torch.rand(12, 1, 16, 16) * 2 - 1
    g, d = Generator(16, **TINY), Discriminator(16, channels=8)
    options = dict(batch=4, seed=1, r1_every=2, pl_every=2, progress=False)
    log = train_stylegan(g, d, data, study.gan_run_dir(profile), steps=2, **options)
    run = load_training_run(study.gan_run_dir(profile))
    shipped = study.ship_generator(run["g_ema"], profile, log, {}, "hash")
    assert (tmp_path / "weights" / study.DISCRIMINATOR_FILE).exists()

    longer = get_profile("smoke", ships_weights=True, gan_resolution=16, gan_steps=4)
    shutil.rmtree(study.gan_run_dir(profile))  # a fresh machine: weights/ only
    assert study.continue_from_shipped(longer, shipped)
    seeded = load_training_run(study.gan_run_dir(longer))
    assert seeded["step"] == 2 and list(seeded["log"]["step"]) == [1, 2]
    for seeded_module, shipped_module in ((seeded["generator"], run["g_ema"]), (seeded["g_ema"], run["g_ema"]),
                                          (seeded["discriminator"], run["discriminator"])):
        assert all(torch.equal(a, b) for a, b in zip(seeded_module.parameters(), shipped_module.parameters()))

    g2, d2 = Generator(16, **TINY), Discriminator(16, channels=8)
    continued = train_stylegan(g2, d2, data, study.gan_run_dir(longer), steps=4, **options)
    assert list(continued["step"]) == [1, 2, 3, 4]
    pd.testing.assert_frame_equal(continued.iloc[:2], log)

    d_card = card_path(tmp_path / "weights" / study.DISCRIMINATOR_FILE)
    card = json.loads(d_card.read_text())
    d_card.write_text(json.dumps({**card, "generator_sha256": "0" * 64}))
    assert not study.continue_from_shipped(longer, shipped)  # trained beside another generator
    d_card.write_text(json.dumps(card))
    other = Generator(16, **TINY)  # a generator the shipped discriminator was not trained with
    study.ship_generator(other, get_profile("smoke", ships_weights=True, gan_resolution=16, gan_steps=9),
                         log, {}, "hash")
    assert not study.continue_from_shipped(longer, shipped)
    assert not (tmp_path / "weights" / study.DISCRIMINATOR_FILE).exists()  # it belonged to the earlier generator
    matching = get_profile("smoke", ships_weights=True, gan_resolution=16, gan_channels=8, gan_steps=2)
    assert study.train_or_load_generator(matching)[2] == f"shipped {shipped.name}"  # as it is, without steps
    with pytest.raises(ValueError, match="no discriminator"):
        study.train_or_load_generator(matching, steps=4)


def test_layers_below_noise_from_ignore_noise():
    torch.manual_seed(0)
    g = Generator(16, **TINY, noise_from=32).eval()  # no noise input at any side
    assert all(layer.noise is None for layer in [g.conv1, *g.convs])
    np.testing.assert_array_equal(sample(g, [3, 7]), sample(g, [3, 7], noise="fixed"))
    g16 = Generator(16, **TINY, noise_from=16).eval()
    assert [layer.noise is not None for layer in [g16.conv1, *g16.convs]] == [False] * 3 + [True] * 2
    with torch.no_grad():
        for layer in g16.convs[2:]:
            layer.noise.weight.fill_(0.5)
    assert np.abs(sample(g16, [3]) - sample(g16, [3], noise="fixed")).max() > 1e-3


def test_a_run_continues_without_its_coarse_noise_inputs(tmp_path, monkeypatch):
    from fpnb import get_profile
    from fpnb.config import Paths
    from fpnb.synthesis import study
    from fpnb.synthesis.runs import load_checkpoint

    monkeypatch.setattr(study, "paths", Paths(tmp_path))
    profile = get_profile("smoke", gan_resolution=16, gan_channels=8, gan_noise_from=16, gan_steps=6)
    monkeypatch.setattr(study, "training_images", lambda *_: torch.rand(8, 1, 16, 16) * 2 - 1)
    torch.manual_seed(0)
    data = study.training_images(profile)
    options = dict(batch=4, seed=1, r1_every=2, pl_every=2, progress=False)
    g, d = Generator(16, channels=8), Discriminator(16, channels=8)  # noise everywhere
    with torch.no_grad():
        for layer in [g.conv1, *g.convs]:
            layer.noise.weight.fill_(0.5)
    train_stylegan(g, d, data, tmp_path / "old", steps=2, **options)

    study.continue_run(profile, tmp_path / "old", fade=(2, 4))  # the old run trains on to 4, fading 4 and 8 px noise
    old = load_training_run(tmp_path / "old")
    seeded = load_training_run(study.gan_run_dir(profile))
    assert old["step"] == seeded["step"] == 4 and seeded["generator"].args["noise_from"] == 16
    assert seeded["g_ema"].conv1.noise is None and seeded["g_ema"].convs[-1].noise is not None
    assert abs(float(old["g_ema"].conv1.noise.weight)) > 0.1  # learned, but faded out: dropping it changes nothing
    for layer in [old["g_ema"].conv1, *old["g_ema"].convs[:2]]:
        layer.noise.fade = 0.0
    np.testing.assert_allclose(sample(seeded["g_ema"], [3, 5]), sample(old["g_ema"], [3, 5]), atol=1e-6)
    assert len(load_checkpoint(study.gan_run_dir(profile))["g_optim"]["state"]) == len(list(g.parameters())) - 3

    g2, d2 = study.build_gan(profile)
    log = train_stylegan(g2, d2, data, study.gan_run_dir(profile), steps=5, **options)
    assert list(log["step"]) == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="model arguments"):  # only continue_run crosses noise layouts
        train_stylegan(Generator(16, channels=8, noise_from=16), Discriminator(16, channels=8), data,
                       tmp_path / "old", steps=5, **options)
