"""One moment of a stream as HTML, for a live page: the input frame at a step, each layer's SAM
map of that step over it, the model's prediction and a time line (`frame_html`). The fragment
has no script and needs nothing else: a live page swaps it whole for the next step's.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from .heat import normalize_maps
from .panels import Draw
from .pixels import colored, frame_image, png_uri, show_sam_on_image

TIMELINE = (480, 64)
"""Width and height of the time line, in CSS pixels."""


def frame_html(
    frame: Tensor | np.ndarray,
    maps: Mapping[str, Tensor | np.ndarray],
    step: int,
    prediction: str | None = None,
    timeline: Sequence[float] = (),
    steps: int | None = None,
    draw: Draw = frame_image,
    alpha: float = 0.5,
) -> str:
    """One step of a stream as an HTML fragment ``<div class="sam-live">``: the input, a panel
    per layer with its map over the input, the prediction, "t = step / last" and a time line.

    Args:
        frame: the input at this step, [C, H, W] or [H, W], drawn by `draw` (default
            `sam_plugins.viewer.pixels.frame_image`; a reader's own, e.g. event polarities).
        maps: per layer (its label, shown escaped), its raw SAM map at this step: [h, w] of
            any size (bilinearly upsampled to H x W and min-max normalised, as
            `normalize_maps` does, then blended over the input), or [N] for a layer without a
            2-D layout (one row of N cells, in colour).
        step: the step shown, from 0.
        prediction: what the model says now (e.g. "predicted 7"); None shows none.
        timeline: values per step up to this one (e.g. a layer's SAM mass), the last one
            `step`'s: drawn as a line, the current step marked; empty draws no line.
        steps: the stream's length when known (the line then spans it); None for an
            open-ended stream (the line spans the values given).
        alpha: weight of the heat maps in the blends.

    Returns:
        The fragment: images inside as data URIs, every name escaped, no script.
    """
    e = html.escape
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be an int >= 0, found {step!r}")
    if steps is not None and (
        isinstance(steps, bool) or not isinstance(steps, int) or steps <= step
    ):
        raise ValueError(f"steps must be an int > step ({step}) or None, found {steps!r}")
    values = [float(v) for v in timeline]
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"timeline must hold finite numbers, found {values}")
    image = draw(frame)
    size = image.shape[:2]
    figures = [_figure(png_uri(image), "input", "input")]
    for name, raw in maps.items():
        heat = torch.as_tensor(np.asarray(raw) if not isinstance(raw, Tensor) else raw)
        heat = heat.detach().cpu().float()
        if heat.dim() == 2:
            shown = show_sam_on_image(image, normalize_maps(heat[None, None], size)[0, 0], alpha)
            figures.append(_figure(png_uri(shown), name, "map"))
        elif heat.dim() == 1:
            row = colored(normalize_maps(heat[None, None])[0])  # [1, N, 3]
            figures.append(_figure(png_uri(row), name, "cells"))
        else:
            raise ValueError(
                f"the map of layer {name!r} must be [h, w] or [N] (one step), found shape "
                f"{tuple(heat.shape)}"
            )
    said = "" if prediction is None else f'<p class="prediction">{e(str(prediction))}</p>'
    at = f"t = {step}" + ("" if steps is None else f" / {steps - 1}")
    return (
        f'<div class="sam-live" data-step="{step}">{_STYLE}<div class="row">{"".join(figures)}'
        f'</div>{said}<p class="t">{at}</p>{_timeline_svg(values, step, steps)}</div>'
    )


def _figure(uri: str, label: str, kind: str) -> str:
    e = html.escape
    return (
        f'<figure class="{kind}"><img src="{uri}" alt="{e(label)}">'
        f"<figcaption>{e(label)}</figcaption></figure>"
    )


def _timeline_svg(values: list[float], step: int, steps: int | None) -> str:
    """Inline SVG: `values` as a line ending at `step`, a mark on `step`; x spans 0..steps-1
    when the length is known, else the values given."""
    width, height = TIMELINE
    first = step - len(values) + 1
    span_low, span_high = (0, steps - 1) if steps is not None else (first, step)
    span = max(span_high - span_low, 1)

    def x(t: float) -> float:
        return 4 + (width - 8) * (t - span_low) / span

    top = max((abs(v) for v in values), default=0.0) or 1.0
    points = " ".join(
        f"{x(first + k):.1f},{height - 4 - (height - 8) * v / top:.1f}"
        for k, v in enumerate(values)
    )
    line = f'<polyline points="{points}" fill="none" stroke="#1f77b4" />' if values else ""
    return (
        f'<svg class="timeline" width="{width}" height="{height}" role="img" '
        f'aria-label="time line to step {step}"><rect x="0" y="0" width="{width}" '
        f'height="{height}" fill="#f6f6f6" />{line}<line class="now" x1="{x(step):.1f}" '
        f'x2="{x(step):.1f}" y1="0" y2="{height}" stroke="#000" /></svg>'
    )


_STYLE = """<style>
.sam-live { font-family: system-ui, sans-serif; color: #222; }
.sam-live .row { display: flex; flex-wrap: wrap; gap: .8em; align-items: flex-end; }
.sam-live figure { margin: 0; text-align: center; font-size: .85em; }
.sam-live figure img { width: 240px; image-rendering: pixelated; display: block; }
.sam-live figure.cells img { height: 24px; }
.sam-live .prediction { font-weight: bold; margin: .4em 0 0; }
.sam-live .t { margin: .2em 0; }
</style>"""
