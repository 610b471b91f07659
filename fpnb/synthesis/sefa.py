"""SeFa (Shen & Zhou 2021): closed-form semantic directions of w from the style-modulation weights.

``factorize`` over every conv layer gives global directions; over a subset of layers (``layers_between``:
the layers drawing at some range of sides) it gives that subset's directions, which ``edit`` then
applies to those layers' entries of w+ only (the SeFa paper's layer-wise factorization).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from fpnb.synthesis.stylegan import Generator, StyledConv


def conv_layers(generator: Generator) -> list[tuple[int, int, StyledConv]]:
    """(w+ index, side in px it draws at, layer) of every styled conv, coarse to fine."""
    return [(0, 4, generator.conv1), *((1 + j, 8 << (j // 2), conv) for j, conv in enumerate(generator.convs))]


def layers_between(generator: Generator, low: int, high: int) -> list[int]:
    """w+ indices of the styled convs drawing at sides ``low``..``high`` px (a to-grey shares its conv's index)."""
    return [index for index, side, _ in conv_layers(generator) if low <= side <= high]


def factorize(generator: Generator, layers: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (descending) and unit directions (rows, k x style_dim) of AᵀA.

    A stacks the modulation weights (w -> per-channel style) of the conv layers whose w+ index is in
    ``layers`` (None: every conv layer), to-grey layers excluded; directions that move w along the
    top eigenvectors change those layers' styles most.
    """
    chosen = [conv for index, _, conv in conv_layers(generator) if layers is None or index in set(layers)]
    if not chosen:
        raise ValueError(f"layers: no styled conv among w+ indices {list(layers or [])}")
    a = torch.cat([m.conv.modulation.weight * m.conv.modulation.scale for m in chosen]).detach().double().cpu()
    eigenvalues, eigenvectors = torch.linalg.eigh(a.T @ a)  # a: sum(C_in) x style_dim
    order = torch.argsort(eigenvalues, descending=True)
    directions = eigenvectors[:, order].T
    return eigenvalues[order].float(), (directions / directions.norm(dim=1, keepdim=True)).float()


def edit(w: torch.Tensor, directions: torch.Tensor, index: int, degree: float,
         layers: Sequence[int] | None = None) -> torch.Tensor:
    """w moved ``degree`` units along direction ``index`` (w: style_dim, N x style_dim or w+).

    With ``layers``, only those entries of a w+ (N x n_latent x style_dim) move.
    """
    step = degree * directions[index].to(w.device, w.dtype)
    if layers is None:
        return w + step
    if w.dim() != 3:
        raise ValueError(f"w: a layer-wise edit needs w+ (N x n_latent x style_dim), got {tuple(w.shape)}")
    mask = torch.zeros(w.shape[1], 1, device=w.device, dtype=w.dtype)
    mask[list(layers)] = 1
    return w + mask * step
