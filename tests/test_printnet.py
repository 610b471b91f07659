import numpy as np
import pytest
import torch

from fpnb.synthesis import printnet
from fpnb.data.datasets import square
from fpnb.synthesis.printnet import PATTERNS, PrintNet, fingernet_loss, perceptual_loss, printnet_targets
from fpnb.data.masters import Master, make_master


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def net():
    torch.manual_seed(0)
    return PrintNet().eval().requires_grad_(False)


def _stripes(height: int = 96, width: int = 80, period: float = 9.0) -> Master:
    """A master of horizontal ridges (orientation 0) filling the whole image."""
    rows = np.arange(height, dtype=np.float32)[:, None].repeat(width, 1)
    image = (0.5 + 0.5 * np.cos(2 * np.pi * rows / period)).astype(np.float32)
    return Master(image, np.ones((height, width), bool), "arch", np.zeros((0, 2)), np.zeros((0, 2)),
                  np.zeros((height, width), np.float32), np.full((height, width), period, np.float32), 0)


@pytest.mark.parametrize("resolution", [32, 64, 128, 256])
def test_every_head_has_its_shape(net, resolution):
    x = torch.zeros(3, 1, resolution, resolution)
    out, side = net(x), min(resolution, printnet.PRINTNET_SIDE)  # 256 px runs at 128
    assert out["orientation"].shape == (3, 2, side, side)
    assert out["mask"].shape == (3, 1, side, side)
    assert out["minutiae"].shape == (3, 2, side, side)
    assert out["pattern"].shape == (3, len(PATTERNS))
    feats = net.features(x)
    assert [f.shape[1:] for f in feats] == [(w, side >> (i + 1), side >> (i + 1))
                                            for i, w in enumerate((16, 32, 64, 128))]
    assert printnet.embed(net, np.zeros((5, resolution, resolution))).shape == (5, 128)


def test_a_256_px_print_is_seen_as_its_128_px_area_average(net):
    torch.manual_seed(2)
    big = torch.rand(2, 1, 256, 256) * 2 - 1
    small = torch.nn.functional.avg_pool2d(big, 2)
    torch.testing.assert_close(net.features(big)[-1], net.features(small)[-1])
    torch.testing.assert_close(perceptual_loss(net, big, -big), perceptual_loss(net, small, -small))
    images = (big[:, 0].numpy() + 1) / 2
    np.testing.assert_allclose(printnet.embed(net, images), printnet.embed(net, (small[:, 0].numpy() + 1) / 2),
                               rtol=1e-5, atol=1e-6)


def test_one_printnet_side_serves_128_and_256_px_generators():
    from fpnb.config import get_profile

    assert [printnet.printnet_side(get_profile("full", gan_resolution=r)) for r in (64, 128, 256)] == [64, 128, 128]


def test_input_size_must_be_a_multiple_of_16(net):
    with pytest.raises(ValueError, match="multiples of 16"):
        net(torch.zeros(1, 1, 40, 40))


def test_targets_of_horizontal_stripes():
    master = _stripes()
    t = printnet_targets([master], 32)
    assert t["images"].shape == (1, 32, 32) and t["orientation"].shape == (1, 2, 32, 32)
    np.testing.assert_allclose(t["images"], np.clip(square(master.image[None], 32), 0, 1), atol=1e-6)
    np.testing.assert_allclose(t["orientation"][0, 0], 1.0, atol=1e-5)  # cos 2θ, θ = 0
    np.testing.assert_allclose(t["orientation"][0, 1], 0.0, atol=1e-5)
    assert t["mask"].min() == 1.0 and t["pattern"].tolist() == [PATTERNS.index("arch")]
    assert t["minutiae"].shape == (1, 2, 32, 32) and 0 <= t["minutiae"].min() <= t["minutiae"].max() <= 1


def test_targets_agree_with_the_image_orientation():
    from fpnb.identity.fields import orientation_field

    master = make_master(2**32 + 7, 160, 160)
    t = printnet_targets([master], 128)
    theta, _ = orientation_field(t["images"][0], block_sigma=3.0)
    inside = t["mask"][0] > 0.5
    agreement = np.cos(2 * theta) * t["orientation"][0, 0] + np.sin(2 * theta) * t["orientation"][0, 1]
    assert agreement[inside].mean() > 0.7
    assert t["minutiae"].max() > 0.5  # MINDTCT found minutiae on the master


def test_flip_augmentation_mirrors_orientation_and_loops():
    master = make_master(2**32 + 3, 96, 96, pattern="left_loop")
    t = {k: torch.from_numpy(v) for k, v in printnet_targets([master], 32).items()}
    batch = printnet.augmented_batch(t, 16, torch.Generator().manual_seed(0))
    flipped = batch["mask"].flip(-1).eq(t["mask"]).all(dim=(1, 2)) & ~batch["mask"].eq(t["mask"]).all(dim=(1, 2))
    assert flipped.any() and (~flipped).any()
    assert (batch["pattern"][flipped] == PATTERNS.index("right_loop")).all()
    np.testing.assert_allclose(batch["orientation"][flipped][:, 1].flip(-1), -t["orientation"][0, 1].expand(
        int(flipped.sum()), -1, -1), atol=1e-6)


def test_a_few_steps_lower_the_loss():
    masters = [make_master(s, 96, 96) for s in printnet.fresh_seeds(2)]
    t = {k: torch.from_numpy(v) for k, v in printnet_targets(masters, 32).items()}
    batch = printnet.augmented_batch(t, 4, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    net = PrintNet()
    optim = torch.optim.Adam(net.parameters(), lr=2e-3)
    losses = []
    for _ in range(8):
        parts = printnet.printnet_losses(net, batch)
        optim.zero_grad()
        parts["loss"].backward()
        optim.step()
        losses.append(parts["loss"].item())
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


@pytest.mark.parametrize("loss", [perceptual_loss, fingernet_loss])
def test_losses_vanish_on_identical_images_and_have_finite_gradients(net, loss):
    torch.manual_seed(1)
    target = torch.rand(2, 1, 32, 32) * 2 - 1
    assert loss(net, target.clone(), target).item() == pytest.approx(0.0, abs=1e-6)
    output = (torch.rand(2, 1, 32, 32) * 2 - 1).requires_grad_(True)
    value = loss(net, output, target)
    value.backward()
    assert value.item() > 0 and torch.isfinite(output.grad).all() and output.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())


def test_fresh_seeds_avoid_dataset_seeds():
    seeds = printnet.fresh_seeds(5, seed=3, stream=printnet.EVALUATION_STREAM)
    assert min(seeds) >= 2**32 and len(set(seeds)) == 5
    assert not set(seeds) & set(printnet.fresh_seeds(5, seed=3))


def test_training_resumes_ships_and_reloads(tmp_path, monkeypatch):
    from fpnb.config import Paths, get_profile

    monkeypatch.setattr(printnet, "paths", Paths(tmp_path))
    profile = get_profile("quick", n_identities=3, printnet_steps=3, gan_resolution=32, gan_batch=2,
                          image_height=96, image_width=96)
    net, log, source = printnet.train_printnet(profile)
    assert source.startswith("trained here") and log["step"].tolist() == [1, 2, 3]
    assert (tmp_path / "runs" / "quick" / "printnet" / "checkpoint.pt").exists()
    again, log_again, _ = printnet.train_printnet(profile)  # finished checkpoint: nothing left to train
    assert log_again["loss"].tolist() == log["loss"].tolist()
    x = torch.zeros(1, 1, 32, 32)
    torch.testing.assert_close(again(x)["orientation"], net(x)["orientation"])
    printnet.ship_printnet(net, profile, log, {"note": 1.0})
    shipped, _, source = printnet.train_printnet(profile)
    assert source == f"shipped {printnet.WEIGHTS_FILE}"
    torch.testing.assert_close(shipped(x)["minutiae"], net(x)["minutiae"])


def test_evaluation_scores_are_in_range(net):
    masters = [make_master(s, 96, 96) for s in printnet.fresh_seeds(2, stream=printnet.EVALUATION_STREAM)]
    for side in (32, 256):  # 256 px targets are brought to PRINTNET_SIDE with their images
        scores = printnet.evaluate_printnet(net, printnet_targets(masters, side))
        assert 0 <= scores["orientation_error_deg"] <= 90 and 0 <= scores["mask_iou"] <= 1
        assert 0 <= scores["pattern_accuracy"] <= 1 and 0 <= scores["minutiae_auc"] <= 1
