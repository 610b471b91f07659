"""The minutiae of one print (``Minutiae``) and their kinds, shared by matchers, maps and metrics.

Angles are directions in [0, 2pi) counter-clockwise on screen from the +x (col) axis, as in ISO
19794-2 and ``fpnb.identity.fields``; an ending points into its ridge (MINDTCT's convention).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

ENDING, BIFURCATION = 0, 1


@dataclass
class Minutiae:
    """Minutiae of one print as parallel arrays: x (col), y (row), angle (rad), kind, quality."""

    x: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    angle: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    kind: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    quality: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, np.float32).ravel()
        self.y = np.asarray(self.y, np.float32).ravel()
        self.angle = np.mod(np.asarray(self.angle, np.float32).ravel(), 2 * np.pi).astype(np.float32)
        self.kind = np.asarray(self.kind, np.int8).ravel()
        self.quality = np.asarray(self.quality, np.float32).ravel()
        sizes = {len(self.x), len(self.y), len(self.angle), len(self.kind), len(self.quality)}
        if len(sizes) != 1:
            raise ValueError(f"minutiae: fields have different lengths {sorted(sizes)}")

    def __len__(self) -> int:
        return len(self.x)

    def select(self, keep: np.ndarray) -> Minutiae:
        """The subset given by a boolean mask or index array."""
        return Minutiae(self.x[keep], self.y[keep], self.angle[keep], self.kind[keep], self.quality[keep])

    def to_frame(self) -> Any:
        """A pandas DataFrame with columns x, y, angle, kind, quality."""
        import pandas as pd

        return pd.DataFrame(
            {"x": self.x, "y": self.y, "angle": self.angle, "kind": self.kind, "quality": self.quality}
        )
