"""An explanation as files: ``report.html``, a steps x layers PNG and a GIF per layer for each
sample (what ``sam-plugins explain`` and ``demo`` write).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from torch import Tensor

from .html import write_page
from .panels import Draw, check_frames, overlays, sample_titles
from .pixels import frame_image, safe_name, save_animation
from .plot import grid_figure, save_figure

if TYPE_CHECKING:
    from ..result import SAMResult


def save_explanation(
    folder: str | Path,
    frames: Tensor | np.ndarray,
    result: SAMResult,
    titles: list[str] | None = None,
    draw: Draw = frame_image,
    before: str = "",
) -> list[Path]:
    """Everything for N samples in `folder`: ``report.html``; per sample ``sample_<n>.png``
    (steps x layers) and per mapped layer ``sample_<n>_layer_<name>.gif`` (the name made safe
    for a file name, see `sam_plugins.viewer.pixels.safe_name`). Returns the paths. The overlays are
    made once and serve all three.

    Args:
        frames: the inputs [T, N, C, H, W] the result was computed from.
        result: maps of those N samples (any method).
        titles: N headings; default from `sample_titles` (the predictions in `result.outputs`).
        draw: how a frame [C, H, W] is drawn.
        before: HTML above the report's samples (e.g. the region of the sensor the model saw).
    """
    folder = Path(folder)
    x = check_frames(frames, result)
    if titles is None:
        titles = sample_titles(result.outputs, None, result.batch_size)
    shown = overlays(x, result, draw)
    paths = [write_page(folder / "report.html", shown, result, titles, before)]
    steps = list(range(result.steps))
    for n, images in enumerate(shown):
        title = titles[n] if titles else f"sample {n}"
        figure = grid_figure(result, n, images, steps, title)
        paths.append(save_figure(figure, folder / f"sample_{n}.png"))
        for name in (key for key in images if key != "input"):
            path = folder / f"sample_{n}_layer_{safe_name(name)}.gif"
            last = result.steps - 1
            captions = [f"{result[name].label} t={t}/{last}" for t in range(result.steps)]
            paths.append(save_animation(path, np.stack(images[name]), captions=captions))
    return paths
