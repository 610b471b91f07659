import numpy as np
import pytest
import torch

from fpnb.synthesis import study
from fpnb.data.datasets import square
from fpnb.identity.matchers import get_matcher
from fpnb.synthesis.printnet import PrintNet
from fpnb.data.masters import make_master


def test_quality_table_rows_and_floor_ratio():
    torch.manual_seed(0)
    net = PrintNet().eval().requires_grad_(False)
    rng = np.random.default_rng(0)
    real_a, real_b = rng.random((6, 32, 32)), rng.random((6, 32, 32))
    table = study.quality_table(net, real_a, real_b, real_b.copy(), study.ceiling_images(real_b))
    assert list(table.index) == ["floor: masters vs masters", "generated vs masters", "ceiling: blurred noise",
                                 "ceiling: ridge-free"]
    assert table.loc["generated vs masters", "fid"] == pytest.approx(table.loc["floor: masters vs masters", "fid"])
    assert table.loc["floor: masters vs masters", "ratio_to_floor"] == 1.0 and (table["n"] == 6).all()


@pytest.fixture(scope="module")
def masters():
    return np.clip(square(np.stack([make_master(2**33 + s).image for s in range(4)]), 64), 0, 1)


def test_print_statistics_of_straight_ridges_with_a_known_period():
    n = 275  # the masters' side: no resize
    rows, cols = np.mgrid[0:n, 0:n]
    ridges = 0.5 + 0.5 * np.cos(2 * np.pi * (rows * np.cos(0.4) + cols * np.sin(0.4)) / 10.0)
    disk = (rows - n / 2) ** 2 + (cols - n / 2) ** 2 < (0.4 * n) ** 2
    stats = study.print_statistics(np.where(disk, ridges, 1.0)[None]).iloc[0]
    assert stats["ridge_period_px"] == pytest.approx(10.0, rel=0.05)
    assert stats["coherence"] > 0.9  # one orientation everywhere
    assert stats["foreground_fraction"] == pytest.approx(disk.mean(), abs=0.08)
    assert stats["minutiae"] == 0  # parallel ridges end nowhere inside


def test_print_statistics_of_masters(masters):
    stats = study.print_statistics(masters[:2])
    assert list(stats.columns) == ["ridge_period_px", "coherence", "foreground_fraction", "endings",
                                   "bifurcations", "minutiae"]
    assert stats["ridge_period_px"].between(6, 16).all() and stats["coherence"].between(0, 1).all()
    assert (stats["minutiae"] == stats["endings"] + stats["bifurcations"]).all()


def test_diversity_flags_two_identical_prints(masters):
    result = study.diversity(np.stack([masters[0], masters[0]]), get_matcher("bozorth3"), masters[1:])
    assert result["n_pairs"] == 1 and result["n_master_pairs"] == 3
    assert result["n_above"] == 1 and result["fraction_above"] == 1.0
    assert result["scores"][0] > result["master_scores"].max()


def test_to_native_brings_prints_to_the_masters_side(masters):
    from fpnb.data.datasets import NATIVE_SIDE, native_scale, to_native

    assert to_native(masters).shape == (4, NATIVE_SIDE, NATIVE_SIDE)
    assert to_native(masters[:, :32, :32], native_scale(32)).shape == (4, NATIVE_SIDE, NATIVE_SIDE)


def test_variation_split_tells_noise_from_latent(torch_one_thread):
    import torch

    from fpnb.synthesis.stylegan import Generator, NoiseInjection
    from fpnb.synthesis.study import variation_split

    torch.manual_seed(0)
    generator = Generator(32, style_dim=32, n_mlp=2, channels=8).eval()
    table = variation_split(generator, n_pairs=3)
    # noise weights start at zero: resampling only the noise changes nothing, only w changes everything
    assert len(table) == 3 and (table["pixel_noise_fraction"] == 0).all()
    assert np.allclose(table["pixel_w_fraction"], 1.0) and (table["pixel_both"] > 0).all()
    with torch.no_grad():
        for module in generator.modules():
            if isinstance(module, NoiseInjection):
                module.weight.fill_(5.0)
    loud = variation_split(generator, n_pairs=3)
    assert (loud["pixel_noise_fraction"] > 0.1).all()


def test_noise_strengths_name_each_layer_and_its_resolution(torch_one_thread):
    import torch

    from fpnb.synthesis.stylegan import Generator
    from fpnb.synthesis.study import noise_strengths

    generator = Generator(32, style_dim=32, n_mlp=2, channels=8)
    table = noise_strengths(generator)
    assert list(table["resolution"]) == [4, 8, 8, 16, 16, 32, 32] and (table["strength"] == 0).all()
    with torch.no_grad():
        generator.convs[3].noise.weight.fill_(-0.5)
    assert noise_strengths(generator).set_index("layer")["strength"].to_dict()["convs.3"] == 0.5


def test_noise_ablation_switches_off_one_side_at_a_time(torch_one_thread):
    import torch

    from fpnb.synthesis.stylegan import Generator
    from fpnb.synthesis.study import noise_ablation_rows

    torch.manual_seed(0)
    generator = Generator(16, style_dim=32, n_mlp=2, channels=8, noise_from=8).eval()
    with torch.no_grad():
        generator.convs[-1].noise.weight.fill_(2.0)  # only 16 px noise matters
    rows, titles = noise_ablation_rows(generator, [0, 1])
    assert titles == ["as trained", "no noise at 8 px", "no noise at 16 px"] and len(rows) == 2
    for trained, no_8, no_16 in rows:
        np.testing.assert_array_equal(trained, no_8)
        assert np.abs(trained - no_16).max() > 1e-3
    assert all(conv.noise.fade == 1.0 for conv in generator.convs)  # switched back on
    np.testing.assert_array_equal(noise_ablation_rows(generator, [0, 1])[0][0][0], rows[0][0])
