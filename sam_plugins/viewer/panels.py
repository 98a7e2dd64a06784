"""What one sample shows at chosen steps, read from a result: its input frames, each image
layer's heat map over them, which layers are rasters, captions and titles. Shared by the HTML
view and the matplotlib plot. Results are only read (duck typing: anything shaped like a
`SAMResult`); this module never imports the result types at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import Tensor

from ..outputs import predictions
from .heat import normalize_maps
from .pixels import as_array, colored, show_sam_on_image
from .rasters import is_raster

if TYPE_CHECKING:
    from ..result import SAMResult


Draw = Callable[[Any], np.ndarray]
"""draw(frame [C, H, W]) -> RGB [H, W, 3] in [0, 1]: how an input frame is shown."""


def check_frames(frames: Tensor | np.ndarray, result: SAMResult) -> np.ndarray:
    """`frames` as [T, N, C, H, W] matching the result's steps and samples (images
    [N, C, H, W] repeated over the steps), else a ValueError saying what was found."""
    x = as_array(frames)
    if x.ndim == 4 and x.shape[0] == result.batch_size:  # static images [N, C, H, W]
        x = np.broadcast_to(x[None], (result.steps, *x.shape))
    if x.ndim != 5 or x.shape[:2] != (result.steps, result.batch_size):
        raise ValueError(
            f"frames must be [T, N, C, H, W] with T={result.steps} steps and N="
            f"{result.batch_size} samples as in the result (or images [N, C, H, W]), found "
            f"shape {x.shape}"
        )
    return x


def split_inputs(
    inputs: Tensor | np.ndarray | None, result: SAMResult
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """`inputs` as (frames, signal): frames [T, B, C, H, W] (or images [B, C, H, W]) that maps
    are drawn over, or a signal [T, B, F] (inputs [T, B, F] or [T, B, C, L], e.g. audio
    channels or a Conv1d model's input) drawn as its own channel x time raster."""
    if inputs is None:
        return None, None
    a = as_array(inputs)
    steps, batch = result.steps, result.batch_size
    if a.ndim == 3 or (a.ndim == 4 and a.shape[:2] == (steps, batch) and a.shape[0] != batch):
        if a.shape[:2] != (steps, batch):
            raise ValueError(
                f"a signal must be [T, B, ...] with T={steps} steps and B={batch} samples as in "
                f"the result, found shape {a.shape}"
            )
        return None, a.reshape(steps, batch, -1)
    return check_frames(a, result), None


def image_layers(result: SAMResult, layers: list[str] | None = None) -> list[str]:
    """The layers drawn as images (maps [T, B, H, W]), in result order."""
    names = list(result) if layers is None else layers
    return [n for n in names if result[n].maps is not None and result[n].maps.dim() == 4]


def raster_layers(result: SAMResult, layers: list[str] | None = None) -> list[str]:
    """The layers drawn as neuron (or position) x time rasters (maps [T, B, N])."""
    return [n for n in (list(result) if layers is None else layers) if is_raster(result[n].maps)]


def caption(result: SAMResult, name: str, n: int) -> str:
    """A layer's panel caption for sample n: its label, and "no spikes" when it was silent."""
    return result[name].label + (", no spikes" if result[name].silent(n) else "")


def sample_images(
    result: SAMResult,
    n: int,
    x: np.ndarray | None,
    draw: Draw,
    steps: list[int],
    layers: list[str] | None = None,
) -> dict[str, list[np.ndarray]]:
    """The RGB images [H, W, 3] shown for sample `n` at each of `steps`: "input" (when frames
    `x` [T, N, C, H, W] are given) and each image layer's heat map, over the input upsampled
    to its size, or alone in colour at the layer's own size."""
    images: dict[str, list[np.ndarray]] = {}
    size = None if x is None else tuple(x.shape[-2:])
    if x is not None:
        images["input"] = [draw(x[t, n]) for t in steps]
    for name in image_layers(result, layers):
        heat = as_array(normalize_maps(result[name].maps[steps][:, n : n + 1], size))[:, 0]
        if x is None:
            images[name] = list(colored(heat))
        else:
            images[name] = [
                show_sam_on_image(i, h) for i, h in zip(images["input"], heat, strict=True)
            ]
    return images


def overlays(x: np.ndarray, result: SAMResult, draw: Draw) -> list[dict[str, list[np.ndarray]]]:
    """Per sample, the RGB images [H, W, 3] shown at each step: "input", and each image
    layer's heat map (upsampled to the frames' size) over the input."""
    steps = list(range(result.steps))
    return [sample_images(result, n, x, draw, steps) for n in range(x.shape[1])]


def sample_titles(outputs: Any, labels: Tensor | None, batch: int) -> list[str]:
    """ "sample n, label L, predicted P" per sample, as far as the outputs and labels tell."""
    try:
        predicted = predictions(outputs)
    except ValueError:
        predicted = None
    titles = []
    for n in range(batch):
        parts = [f"sample {n}"]
        if labels is not None:
            parts.append(f"label {int(labels[n])}")
        if predicted is not None:
            none = predicted[n] is None
            parts.append(
                "no prediction (all outputs zero)" if none else f"predicted {predicted[n]}"
            )
        titles.append(", ".join(parts))
    return titles
