"""Event frames drawn for people: ON events red, OFF events blue."""

from __future__ import annotations

import numpy as np
import torch

from sam_plugins.render import as_array, frame_image, show_sam_on_image


def polarity_image(frame: torch.Tensor | np.ndarray) -> np.ndarray:
    """One frame [P, H, W] of event counts as RGB [H, W, 3] in [0, 1]: ON (p=1) red, OFF (p=0)
    blue, black where nothing happened, scaled by the frame's peak count; a frame of another
    channel count is drawn by the core's `frame_image`."""
    x = as_array(frame).astype(np.float32)
    if x.ndim != 3 or x.shape[0] != 2:
        return frame_image(x)
    peak = x.max()
    x = x / peak if peak > 0 else x
    rgb = np.zeros((*x.shape[1:], 3), np.float32)
    rgb[..., 0], rgb[..., 2] = x[1], x[0]
    return rgb


def show_sam_on_events(frame, heatmap, alpha: float = 0.5) -> np.ndarray:
    """Heat map [H, W] in [0, 1] blended over one event frame [P, H, W]: RGB [H, W, 3]."""
    return show_sam_on_image(polarity_image(frame), heatmap, alpha)
