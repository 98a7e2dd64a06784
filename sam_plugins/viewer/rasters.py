"""Rasters: maps [T, B, N] (a layer without a 2-D layout, each neuron its own place; or a Conv1d
layer's positions) drawn as neuron (or position) x time pictures, numbered on both axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor

from .pixels import as_array


def is_raster(maps: Tensor | None) -> bool:
    """Whether maps are drawn as a raster: maps [T, B, N] (a layer without a 2-D layout: each
    neuron its own place; or a Conv1d layer's positions), as opposed to images [T, B, H, W]."""
    return maps is not None and maps.dim() == 3


def raster_rows(maps: Tensor | np.ndarray, order: str = "layer") -> np.ndarray:
    """One sample's maps [T, N] as a display raster [N, T] in [0, 1]: a row per neuron (or
    position), a column per step, each step min-max normalised as `SAMResult.heatmap` does (an
    all-zero step stays zero). Rows in the layer's order (``order="layer"``) or by total
    score, highest first (``order="score"``)."""
    x = as_array(maps).astype(np.float64)
    if x.ndim != 2:
        raise ValueError(f"a raster is drawn from maps [T, N], found shape {x.shape}")
    if order not in ("layer", "score"):
        raise ValueError(f"order must be 'layer' or 'score', found {order!r}")
    low, span = x.min(1, keepdims=True), np.ptp(x, 1, keepdims=True)
    out = np.where(span > 0, (x - low) / np.where(span > 0, span, 1), 0.0).T
    if order == "score":
        out = out[np.argsort(-x.sum(0), kind="stable")]
    return out.astype(np.float32)


def rows_are(sam: Any) -> str:
    """What a raster's rows are: a Linear layer's neurons, or a Conv1d layer's positions."""
    return "neurons" if sam.scores is not None else "positions"


RASTER_AXES = (0.2, 0.17, 0.76, 0.75)
"""Where a raster's image lies in its picture (left, bottom, width, height, as fractions): the
step marker is placed over it by the script."""
