import torch

from fpnb.synthesis.sefa import edit, factorize
from fpnb.synthesis.stylegan import Generator


def test_directions_are_orthonormal_and_sorted():
    torch.manual_seed(0)
    eigenvalues, directions = factorize(Generator(16, style_dim=16, n_mlp=1, channels=8))
    assert directions.shape == (16, 16)
    torch.testing.assert_close(directions @ directions.T, torch.eye(16), atol=1e-5, rtol=0)
    assert (eigenvalues[:-1] >= eigenvalues[1:]).all()


def test_edit_moves_w_along_one_direction():
    directions = torch.linalg.qr(torch.randn(8, 8))[0].T
    w = torch.randn(3, 8)
    assert torch.equal(edit(w, directions, 2, 0.0), w)
    moved = edit(w, directions, 2, 3.0)
    torch.testing.assert_close((moved - w) @ directions[2], torch.full((3,), 3.0))
    torch.testing.assert_close((moved - w).norm(dim=1), torch.full((3,), 3.0))
