"""SAM over event frames: ON events red, OFF events blue, the heat map blended on top."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sam_plugins.render import frame_image, save_time_grid, show_sam_on_image


def polarity_image(frame: torch.Tensor | np.ndarray) -> np.ndarray:
    """One frame [P, H, W] of event counts as RGB [H, W, 3] in [0, 1]: ON (p=1) red, OFF (p=0)
    blue, black where nothing happened; a single-polarity frame is drawn in grey."""
    return frame_image(frame)


def show_sam_on_events(frame, heatmap, alpha: float = 0.5) -> np.ndarray:
    """Heat map [H, W] in [0, 1] blended over one event frame [P, H, W]: RGB [H, W, 3]."""
    return show_sam_on_image(polarity_image(frame), heatmap, alpha)


def save_event_grid(
    path: str | Path, frames, heatmaps, row_titles=None, step_stride: int = 1, alpha: float = 0.5
) -> Path:
    """PNG grid, one row per sample and one column per time bin, of heat maps [T, N, H, W]
    over the event frames [T, N, P, H, W] they were computed from."""
    frames = frames.cpu() if isinstance(frames, torch.Tensor) else torch.as_tensor(frames)
    backgrounds = np.stack([np.stack([polarity_image(f) for f in step]) for step in frames])
    return save_time_grid(path, backgrounds, heatmaps, row_titles, step_stride, alpha)
