"""SeFa (Shen & Zhou 2021): closed-form semantic directions of w from the style-modulation weights."""
from __future__ import annotations

import torch

from fpnb.synthesis.stylegan import Generator, StyledConv


def factorize(generator: Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (descending) and unit directions (rows, k x style_dim) of AᵀA.

    A stacks the modulation weights (w -> per-channel style) of every conv layer, to-grey
    layers excluded; directions that move w along the top eigenvectors change the styles most.
    """
    weights = [m.conv.modulation.weight * m.conv.modulation.scale
               for m in generator.modules() if isinstance(m, StyledConv)]
    a = torch.cat(weights).detach().double().cpu()  # sum(C_in) x style_dim
    eigenvalues, eigenvectors = torch.linalg.eigh(a.T @ a)
    order = torch.argsort(eigenvalues, descending=True)
    directions = eigenvectors[:, order].T
    return eigenvalues[order].float(), (directions / directions.norm(dim=1, keepdim=True)).float()


def edit(w: torch.Tensor, directions: torch.Tensor, index: int, degree: float) -> torch.Tensor:
    """w moved ``degree`` units along direction ``index`` (w: style_dim, N x style_dim or w+)."""
    return w + degree * directions[index].to(w.device, w.dtype)
