import copy
import json

import numpy as np
import pytest
import torch

from fpnb.synthesis import reconstruction as rc
from fpnb.config import get_profile
from fpnb.synthesis.printnet import PrintNet
from fpnb.synthesis.stylegan import Generator
from fpnb.weights_io import stored_state


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def generator():
    torch.manual_seed(0)
    return Generator(32, style_dim=16, n_mlp=1, channels=8).eval().requires_grad_(False)


class EqualityMatcher:
    """Stand-in matcher: 100 for identical prints, else 0."""

    name = "equality"

    def score(self, a, b):
        return 100.0 if np.array_equal(a, b) else 0.0

    def scores(self, pairs):
        return [self.score(a, b) for a, b in pairs]


@pytest.fixture(scope="module")
def prints():
    from fpnb.data.datasets import square
    from fpnb.data.masters import make_master

    return square(np.stack([make_master(seed, 275, 275).image for seed in (1, 2, 3)]), 64)


def test_maps_to_encoder_to_generator_shapes(generator):
    encoder = rc.build_encoder(generator, channels=8)
    maps = torch.rand(3, 3, 32, 32)
    w_plus, noise = encoder(maps)
    assert w_plus.shape == (3, generator.n_latent, 16)
    torch.testing.assert_close(w_plus, generator.w_avg.expand_as(w_plus))  # zero head: the mean print
    assert [n.shape for n in noise] == [(3, 1, m.shape[-1], m.shape[-1]) for m in generator.fixed_noise()]
    assert all(n.abs().max() == 0 for n in noise)  # zero noise heads: blank noise
    images = rc.reconstruct(encoder, generator, maps.numpy())
    assert images.shape == (3, 32, 32) and images.min() >= 0 and images.max() <= 1


@pytest.mark.parametrize("resolution", [128, 256])
def test_encoder_and_generator_shapes_at_ridge_resolution(resolution):
    torch.manual_seed(0)
    generator = Generator(resolution, style_dim=16, n_mlp=1, channels=8).eval().requires_grad_(False)
    encoder = rc.build_encoder(generator, channels=4)
    maps = torch.rand(2, 3, resolution, resolution)
    assert encoder.stem(maps).shape[-1] == rc.ENCODER_SIDE  # a 256 px map enters through a stride-2 stem
    w_plus, noise = encoder(maps)
    assert w_plus.shape == (2, generator.n_latent, 16)
    assert [n.shape[-1] for n in noise] == [m.shape[-1] for m in generator.fixed_noise()]
    assert rc.reconstruct(encoder, generator, maps.numpy()).shape == (2, resolution, resolution)


def test_single_w_encoder_repeats_one_w(generator):
    encoder = rc.MinutiaeEncoder(generator.n_latent, 16, channels=8, w_plus=False)
    torch.nn.init.normal_(encoder.head.weight)
    w_plus, noise = encoder(torch.rand(2, 3, 32, 32))
    assert noise is None
    assert w_plus.shape == (2, generator.n_latent, 16)
    torch.testing.assert_close(w_plus, w_plus[:, :1].expand_as(w_plus))


def test_encoder_steps_give_finite_losses_change_weights_and_resume(generator, tmp_path):
    pairs = {"maps": np.random.default_rng(0).random((6, 3, 32, 32), dtype=np.float32),
             "images": np.random.default_rng(1).random((6, 32, 32), dtype=np.float32),
             "w": np.random.default_rng(2).standard_normal((6, 16)).astype(np.float32),
             "seeds": [10, 11, 12, 13, 14, 15]}  # the noise loss draws their noise maps again
    torch.manual_seed(0)
    printnet = PrintNet((4, 8, 8, 8)).eval().requires_grad_(False)
    weights = {"l2": 1.0, "perceptual": 0.8, "fingernet": 1.0, "latent": 1.0, "noise": 0.1}
    profile = get_profile("smoke", batch_size=2)
    torch.manual_seed(0)
    initial = rc.build_encoder(generator, 8).state_dict()
    encoder, log, _ = rc.train_encoder(generator, printnet, pairs, profile, loss_weights=weights, steps=2,
                                       channels=8, run_dir=tmp_path)
    assert list(log["step"]) == [1, 2]
    assert all(torch.equal(v, v.to(torch.bfloat16).float()) for v in encoder.state_dict().values()
               if v.is_floating_point())  # rounded as shipped, so metrics are of the stored weights
    for name in ["loss", *weights]:
        assert np.isfinite(log[name]).all(), name
    changed = [not torch.equal(initial[k], v) for k, v in encoder.state_dict().items() if k != "w_avg"]
    assert any(changed)
    assert all(p.grad is None for p in generator.parameters()) and all(p.grad is None for p in printnet.parameters())
    again, log_again, _ = rc.train_encoder(generator, printnet, pairs, profile, loss_weights=weights, steps=2,
                                           channels=8, run_dir=tmp_path)
    assert len(log_again) == 2  # resumed from the finished checkpoint, no extra step
    for key, value in encoder.state_dict().items():
        torch.testing.assert_close(again.state_dict()[key], value)


def test_generated_pairs_carry_each_seeds_noise(generator):
    from fpnb.synthesis.sampling import sample

    pairs = rc.make_pairs(generator, [5, 6], truncation=0.7)
    assert pairs["seeds"] == [5, 6] and "noise" not in pairs  # seed_noise draws the maps again from the seeds
    np.testing.assert_allclose(pairs["images"], sample(generator, [5, 6], 0.7), atol=1e-6)
    assert pairs["maps"].shape == (2, 3, 32, 32) and pairs["maps"].dtype == np.float32
    chunked, found = rc.maps_of(pairs["images"], pairs["scale"], chunk=1)
    np.testing.assert_array_equal(chunked, pairs["maps"])
    assert [len(m) for m in found] == [len(m) for m in pairs["minutiae"]]


def test_pairs_drawn_chunk_by_chunk_are_the_prints_sample_draws(generator, monkeypatch):
    from fpnb.synthesis.sampling import sample

    monkeypatch.setattr(rc, "PAIRS_CHUNK", 16)  # 20 seeds: a full chunk and a partial one
    pairs = rc.make_pairs(generator, range(20, 40), truncation=0.7)
    np.testing.assert_allclose(pairs["images"], sample(generator, range(20, 40), 0.7), atol=1e-6)


def test_a_noise_loss_without_seeds_is_refused(generator):
    pairs = {"maps": np.zeros((2, 3, 32, 32), np.float32), "images": np.zeros((2, 32, 32), np.float32),
             "w": np.zeros((2, 16), np.float32)}
    with pytest.raises(ValueError, match="seeds"):
        rc.train_encoder(generator, None, pairs, get_profile("smoke"), loss_weights={"l2": 1.0, "noise": 0.1},
                         steps=1, retrain=True)


def test_cached_pairs_read_back_what_was_made_and_key_on_the_seeds(generator, prints, tmp_path, monkeypatch):
    calls = []
    made = rc.make_pairs

    def make_pairs(generator, seeds, truncation, scale):  # generated pairs, with the masters' minutiae
        calls.append(list(seeds))
        pairs = made(generator, seeds, truncation, scale)
        pairs["minutiae"] = rc.maps_of(prints[:len(pairs["images"])], rc.native_scale(64))[1]
        return pairs

    monkeypatch.setattr(rc, "make_pairs", make_pairs)
    first = rc.cached_pairs(generator, [5, 6], 0.7, 2.0, tmp_path)
    again = rc.cached_pairs(generator, [5, 6], 0.7, 2.0, tmp_path)
    assert calls == [[5, 6]]  # the second call read the cache
    for key in ("images", "w", "maps"):
        np.testing.assert_array_equal(again[key], first[key])
    assert [len(m) for m in again["minutiae"]] == [len(m) for m in first["minutiae"]] and len(first["minutiae"][0])
    for a, b in zip(again["minutiae"], first["minutiae"]):
        for field in ("x", "y", "angle", "kind", "quality"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    rc.cached_pairs(generator, [5, 7], 0.7, 2.0, tmp_path)
    assert calls[-1] == [5, 7] and len(list(tmp_path.glob("pairs-*.npz"))) == 2


def test_maps_of_brings_minutiae_back_to_generator_pixels(prints):
    maps, minutiae = rc.maps_of(prints, rc.native_scale(64))
    assert maps.shape == (3, 3, 64, 64) and maps.dtype == np.float32
    assert 0 <= maps.min() and maps.max() <= 1
    assert all(len(m) >= 5 for m in minutiae)  # a 64 px master upsampled to 500 ppi still has minutiae
    assert all((m.x >= 0).all() and (m.x < 64).all() and (m.y >= 0).all() and (m.y < 64).all() for m in minutiae)
    assert maps[:, :2].sum() > 0


def test_evaluate_reconstruction_perfect_copies(prints):
    torch.manual_seed(0)
    net = PrintNet((4, 4, 4, 4)).eval()
    table, summary = rc.evaluate_reconstruction(prints, prints.copy(), EqualityMatcher(), rc.native_scale(64), printnet=net)
    assert len(table) == 3 and summary["n_impostor"] == 6
    assert summary["tar_at_far_1e-3"] is None and summary["impostor_mean"] == 0.0  # 6 impostor pairs resolve 1/6 only
    assert summary["eer"] == 0.0 and summary["genuine_mean"] > summary["impostor_mean"]
    assert table["minutiae_f1"].eq(1.0).all()
    assert summary["flow_error_deg"] == 0.0 and summary["flow_error_other_deg"] > 10  # three different masters
    assert summary["pattern_agreement"] == 1.0 and 0 <= summary["pattern_agreement_other"] <= 1
    with pytest.raises(ValueError):
        rc.evaluate_reconstruction(prints, prints[:2], EqualityMatcher(), 1.0)


def test_shipped_encoder_reloads_with_noise_heads_and_its_ablation(generator, tmp_path, monkeypatch):
    import pandas as pd

    from fpnb.config import Paths

    monkeypatch.setattr(rc, "paths", Paths(tmp_path))
    profile = get_profile("quick")
    assert rc.shipped_ablation(profile, generator) is None and rc.needs_training_pairs(profile, generator)
    torch.manual_seed(0)
    encoder = rc.build_encoder(generator, channels=8)
    for head in encoder.noise_heads:
        torch.nn.init.normal_(head.weight)
    ablation = {"l2": {"steps": 1, "tar_at_far_1e-3": 0.5}, "l2+perceptual": {"steps": 1, "tar_at_far_1e-3": 0.25}}
    rc.ship_encoder(encoder, generator, profile, pd.DataFrame({"step": [1], "loss": [1.0]}), {"ablation": ablation})
    path = rc.shipped_encoder(profile, generator)
    loaded = rc.load_encoder(path)
    encoder.load_state_dict(stored_state(encoder, "bfloat16"))  # the file holds bfloat16, as trained ones are
    maps = torch.rand(2, 3, 32, 32)
    for a, b in zip(loaded(maps)[1], encoder.eval()(maps)[1]):
        torch.testing.assert_close(a, b)
    assert json.loads(path.with_suffix(".json").read_text())["storage"] == "bfloat16"
    assert path.stat().st_size < 2.2 * sum(p.numel() for p in encoder.parameters())  # 2 bytes a parameter
    table = rc.shipped_ablation(profile, generator)
    assert list(table.index) == ["l2", "l2+perceptual"] and table.loc["l2", "tar_at_far_1e-3"] == 0.5
    assert rc.shipped_ablation(get_profile("full"), generator) is None
    assert not rc.needs_training_pairs(profile, generator) and rc.needs_training_pairs(profile, generator, retrain=True)
    other = copy.deepcopy(generator)
    with torch.no_grad():
        next(other.parameters()).add_(1.0)
    assert rc.shipped_encoder(profile, other) is None  # an encoder is reused only with the generator it inverts


def test_derangement_never_pairs_a_print_with_itself():
    for n in (2, 3, 50):
        other = rc._other(n, seed=n)
        assert (other != np.arange(n)).all() and ((0 <= other) & (other < n)).all()
