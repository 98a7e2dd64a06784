"""Explain a batch of frames and write what was found: the library calls behind
``sam-plugins explain`` and ``sam-plugins demo``, for scripts that do the same.

    result = explain_frames(model, frames)            # frames [T, B, C, H, W]
    paths = write_explanation("out", frames, result, labels)
    write_maps("out/maps.npz", frames, result, labels, {"gamma": 0.5})
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .engine import DEFAULT_GAMMA
from .io.models import first_line
from .methods import explain
from .outputs import class_scores
from .render import frame_image
from .report import sample_titles, save_explanation
from .result import SAMResult

__all__ = ["explain_frames", "write_explanation", "write_maps"]


def explain_frames(
    model: nn.Module,
    frames: Tensor,
    layers: Sequence[str] | None = None,
    gamma: float = DEFAULT_GAMMA,
    step_mode: str = "single",
) -> SAMResult:
    """`explain` on frames [T, B, C, H, W], moved to the model's device, insisting on at least
    one map to draw.

    Raises LookupError when no neuron layer is found (or a name is not one), ValueError when
    the model fails on the frames (the message names their shape), or when the arguments are bad.
    """
    device = next(iter(model.parameters()), torch.empty(0)).device
    try:
        result = explain(model, frames.to(device), layers or None, gamma, step_mode=step_mode)
    except RuntimeError as exc:  # e.g. frames of another size than the model was built for
        raise ValueError(
            f"the model failed on frames of shape {tuple(frames.shape)} ([T, B, C, H, W]): "
            f"{first_line(exc)}"
        ) from None
    return result


def write_explanation(
    out: str | Path,
    frames: Tensor,
    result: SAMResult,
    labels: Tensor | None = None,
    draw: Callable[[Tensor], np.ndarray] = frame_image,
    before: str = "",
) -> list[Path]:
    """The report, PNGs and GIFs of `result` (from `frames` [T, B, C, H, W]) in the folder
    `out`, with titles from `labels` [B] and the outputs (`before`: HTML above the samples);
    returns the paths written.
    ValueError (before anything is written) for labels the outputs have no class for."""
    if labels is not None and len(labels):
        try:
            classes = class_scores(result.outputs).shape[-1]
        except ValueError:  # outputs that are not class scores: nothing to check against
            classes = None
        if classes is not None and int(labels.max()) >= classes:
            raise ValueError(
                f"labels must be class numbers 0..{classes - 1} (the model outputs {classes} "
                f"classes), found {labels.tolist()}"
            )
    titles = sample_titles(result.outputs, labels, frames.shape[1])
    return save_explanation(Path(out), frames.cpu(), result, titles, draw, before)


def write_maps(
    path: str | Path,
    frames: Tensor,
    result: SAMResult,
    labels: Tensor | None = None,
    settings: dict | None = None,
) -> Path:
    """``maps.npz`` for scripts and other tools: ``frames`` [T, B, C, H, W], ``outputs`` (the
    model's outputs, [T, B, ...]; the first element of a tuple such as snnTorch's (spikes,
    membrane), the others as ``outputs_1``, ...), one array ``layer_<name>`` per layer (SAM's
    raw maps, time first: [T, B, H, W], or [T, B, N]), ``labels`` [B] when known, and
    ``settings``: `settings` as a JSON string (read it with
    ``json.loads(str(np.load(path)["settings"]))``)."""
    arrays = {"frames": frames.detach().cpu().numpy()}
    outputs = result.outputs
    parts = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
    for i, part in enumerate(parts):
        if isinstance(part, Tensor):
            arrays["outputs" if i == 0 else f"outputs_{i}"] = part.detach().cpu().numpy()
    for name in result:
        maps = result[name].maps
        if maps is not None:
            arrays[f"layer_{name}"] = maps.detach().cpu().numpy()
    if labels is not None:
        arrays["labels"] = labels.detach().cpu().numpy()
    arrays["settings"] = np.array(json.dumps(settings or {}, default=str))
    path = Path(path)
    np.savez(path, **arrays)
    return path
