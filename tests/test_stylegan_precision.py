"""StyleGAN2 in bfloat16: the same weights draw the same prints, and bf16 training keeps float32 weights."""
import numpy as np
import torch

from fpnb.precision import torch_autocast
from fpnb.synthesis.sampling import sample
from fpnb.synthesis.stylegan import Discriminator, Generator
from fpnb.synthesis.training import train_stylegan

TINY = dict(style_dim=32, n_mlp=2, channels=16)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


def test_bf16_generator_matches_float32_and_is_deterministic(torch_one_thread):
    torch.manual_seed(0)
    g = Generator(32, **TINY).eval()
    fp32 = sample(g, range(4))
    with torch_autocast("bf16"):
        bf16 = sample(g, range(4))
        again = sample(g, range(4))
    assert bf16.shape == fp32.shape and np.array_equal(bf16, again)
    assert _psnr(bf16, fp32) >= 30


def test_bf16_training_changes_g_and_d_and_saves_float32(tmp_path, torch_one_thread):
    torch.manual_seed(0)
    g, d = Generator(16, **TINY), Discriminator(16, channels=8)
    g0 = {k: v.clone() for k, v in g.state_dict().items()}
    d0 = {k: v.clone() for k, v in d.state_dict().items()}
    log = train_stylegan(g, d, torch.rand(8, 1, 16, 16) * 2 - 1, tmp_path, steps=4, batch=4, seed=0,
                         r1_every=2, pl_every=2, progress=False, precision="bf16")
    assert np.isfinite(log[["d_loss", "g_loss"]].to_numpy()).all() and log["r1"].notna().any()
    assert any(not torch.equal(v, g.state_dict()[k]) for k, v in g0.items() if v.is_floating_point())
    assert any(not torch.equal(v, d.state_dict()[k]) for k, v in d0.items())
    assert all(v.dtype == torch.float32 for v in g.state_dict().values() if v.is_floating_point())
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["args"]["train"]["precision"] == "bf16"
    assert all(v.dtype == torch.float32 for v in saved["g_ema"].values() if v.is_floating_point())
