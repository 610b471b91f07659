import pytest
import torch

from fpnb.synthesis.sefa import conv_layers, edit, factorize, layers_between
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


def test_layers_between_names_the_convs_drawing_at_those_sides():
    g = Generator(16, style_dim=16, n_mlp=1, channels=8)  # convs at 4, 8, 8, 16, 16 px read w+ 0..4
    assert [(index, side) for index, side, _ in conv_layers(g)] == [(0, 4), (1, 8), (2, 8), (3, 16), (4, 16)]
    assert layers_between(g, 8, 16) == [1, 2, 3, 4] and layers_between(g, 4, 4) == [0]


def test_layer_wise_factorization_uses_only_those_layers():
    torch.manual_seed(0)
    g = Generator(16, style_dim=16, n_mlp=1, channels=8)
    eigenvalues, directions = factorize(g, layers=[3, 4])
    torch.testing.assert_close(directions @ directions.T, torch.eye(16), atol=1e-5, rtol=0)
    weights = [m.conv.modulation.weight * m.conv.modulation.scale for m in g.convs[2:]]
    energy = sum(float(w.detach().double().pow(2).sum()) for w in weights)
    assert float(eigenvalues.sum()) == pytest.approx(energy, rel=1e-4)  # trace of AᵀA over those layers
    assert not torch.allclose(eigenvalues, factorize(g)[0])
    with pytest.raises(ValueError, match="no styled conv"):
        factorize(g, layers=[99])


def test_layer_wise_edit_moves_only_those_entries_of_w_plus():
    directions = torch.linalg.qr(torch.randn(8, 8))[0].T
    w_plus = torch.randn(2, 6, 8)
    moved = edit(w_plus, directions, 1, 2.0, layers=[3, 4])
    assert torch.equal(moved[:, [0, 1, 2, 5]], w_plus[:, [0, 1, 2, 5]])
    torch.testing.assert_close((moved - w_plus)[:, 3:5] @ directions[1], torch.full((2, 2), 2.0))
    with pytest.raises(ValueError, match="needs w\\+"):
        edit(w_plus[:, 0], directions, 1, 2.0, layers=[3])
