"""Matplotlib figures: image grids (rows of samples or layers, columns of steps) with one colour
bar and raster rows, the temporal profile, and `plot_result` (`SAMResult.plot`). Whole-number
ticks on every counted axis (`integer_ticks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import Tensor

from .panels import Draw, raster_layers, sample_images, split_inputs
from .pixels import as_array, colored, frame_image, safe_name, show_sam_on_image
from .rasters import RASTER_AXES, raster_rows, rows_are

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..result import SAMResult


COLORBAR = "heat map (min-max per step)"


def integer_ticks(ax: Any, x: bool = True, y: bool = True) -> None:
    """Ticks of a matplotlib axes on whole numbers only (steps and neurons are counted: never
    "2.5")."""
    from matplotlib.ticker import MaxNLocator

    for axis, on in ((ax.xaxis, x), (ax.yaxis, y)):
        if on:
            axis.set_major_locator(MaxNLocator(integer=True))


def image_grid_figure(
    cells: Sequence[Sequence[np.ndarray]],
    column_titles: Sequence[str],
    row_titles: Sequence[str] | None = None,
    title: str = "",
    colorbar: str | None = COLORBAR,
    rasters: Sequence[tuple[str, np.ndarray, str]] = (),
) -> Figure:
    """A matplotlib figure of RGB images [H, W, 3] in [0, 1], `cells[row][column]`, titled per
    column on top and per row on the left (the layout of every grid here: rows of samples or
    layers, columns of time steps), with a jet colour bar from 0 to 1 labelled `colorbar`
    (None: no bar). Below the grid, one full-width row per raster ``(label, [N, T, 3] RGB,
    row axis name)``: a layer whose maps are [T, B, N] drawn as neuron (or position) x time."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.figure import Figure

    rows, columns = len(cells), max(len(column_titles), 1)
    fig = Figure(
        figsize=(
            max(1.2 * columns, 4.0) + (1.6 if colorbar else 0.8),
            1.3 * rows + 1.8 * len(rasters) + 0.5,
        ),
        layout="constrained",
    )
    grid = fig.add_gridspec(
        rows + len(rasters), columns, height_ratios=[1] * rows + [1.4] * len(rasters)
    )
    axes = []
    for r, row in enumerate(cells):
        for c, image in enumerate(row):
            ax = fig.add_subplot(grid[r, c])
            ax.imshow(image)
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(column_titles[c], fontsize=8)
            if c == 0 and row_titles is not None:
                ax.set_ylabel(str(row_titles[r]), fontsize=8)
            axes.append(ax)
    for k, (label, image, what) in enumerate(rasters):
        ax = fig.add_subplot(grid[rows + k, :])
        steps = image.shape[1]
        ax.imshow(
            image,
            aspect="auto",
            interpolation="nearest",
            extent=(-0.5, steps - 0.5, image.shape[0] - 0.5, -0.5),
        )
        integer_ticks(ax)
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("time step", fontsize=7)
        ax.set_ylabel(what, fontsize=7)
        ax.tick_params(labelsize=7)
        axes.append(ax)
    if title:
        fig.suptitle(title, fontsize=9)
    if colorbar and axes:
        bar = fig.colorbar(ScalarMappable(cmap="jet"), ax=axes, shrink=0.9, aspect=25)
        bar.set_label(colorbar, fontsize=7)
        bar.ax.tick_params(labelsize=7)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write `fig` as a PNG at `path` (folders made)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def save_image_grid(
    path: str | Path,
    cells: Sequence[Sequence[np.ndarray]],
    column_titles: Sequence[str],
    row_titles: Sequence[str] | None = None,
    title: str = "",
    colorbar: str | None = COLORBAR,
) -> Path:
    """`image_grid_figure` as a PNG at `path`."""
    return save_figure(image_grid_figure(cells, column_titles, row_titles, title, colorbar), path)


def save_overlay_grid(
    path: str | Path,
    backgrounds: Tensor | np.ndarray,
    heatmaps: Tensor | np.ndarray,
    row_titles: Sequence[str] | None = None,
    title: str = "",
    step_stride: int = 1,
    alpha: float = 0.5,
) -> Path:
    """PNG grid of heat maps over inputs: one row per heat-map row (samples or layers), one
    column per time step.

    Args:
        backgrounds: RGB images in [0, 1] (see `frame_image`) broadcastable to
            [R, T, H, W, 3]: e.g. [R, H, W, 3] (one image per row), [1, T, H, W, 3] (one per
            step, the same for every row).
        heatmaps: [R, T, H, W] in [0, 1].
        row_titles: R labels for the rows.
        step_stride: draw every k-th step (the title says so).
    """
    heat = as_array(heatmaps)
    rows, steps = heat.shape[:2]
    images = as_array(backgrounds)
    if images.ndim == 4:
        images = images[:, None]
    images = np.broadcast_to(images, (rows, steps, *images.shape[2:]))
    shown = range(0, steps, step_stride)
    cells = [
        [show_sam_on_image(images[r, t], heat[r, t], alpha) for t in shown] for r in range(rows)
    ]
    if step_stride > 1:
        title = f"{title} (every {step_stride} steps of {steps})".strip()
    return save_image_grid(path, cells, [f"t={t}" for t in shown], row_titles, title)


def save_layer_grids(
    folder: str | Path,
    images: Tensor,
    result: SAMResult,
    row_titles: Sequence[str] | None = None,
    step_stride: int = 1,
) -> list[Path]:
    """One `save_overlay_grid` PNG per layer with maps, ``folder/sam_layer_<name>.png``: a row
    per sample, a column per step.

    Args:
        images: [N, C, H, W] (or [N, H, W]) inputs the result was computed from, drawn with
            `frame_image`; maps are upsampled to H x W.
        result: a result over those N samples. Layers without image maps [T, B, H, W] (Linear,
            Conv1d: see `raster_rows`) are skipped.
    """
    size = tuple(images.shape[-2:])
    backgrounds = np.stack([frame_image(image) for image in as_array(images)])
    return [
        save_overlay_grid(
            Path(folder) / f"sam_layer_{safe_name(name)}.png",
            backgrounds,
            as_array(result.heatmap(name, size=size)).transpose(1, 0, 2, 3),
            row_titles,
            result[name].label,
            step_stride,
        )
        for name in result
        if result[name].maps is not None and result[name].maps.dim() == 4
    ]


def profile_figure(result: SAMResult, sample: int) -> Figure:
    """Each layer's SAM mass per step for one sample, scaled to its peak: a matplotlib figure
    with the legend beside the axes (never over the lines) and steps as whole numbers."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 2.4))
    ax = fig.add_subplot()
    for name in result:
        profile = as_array(result[name].profile[:, sample]).astype(float)
        peak = profile.max()
        ax.plot(profile / peak if peak > 0 else profile, marker="o", ms=3, label=result[name].label)
    ax.set_xlabel("time step")
    ax.set_ylabel("SAM mass / peak")
    integer_ticks(ax, y=False)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return fig


def grid_figure(
    result: SAMResult,
    n: int,
    images: dict[str, list[np.ndarray]],
    steps: list[int],
    title: str,
    layers: list[str] | None = None,
    order: str = "layer",
    signal: np.ndarray | None = None,
) -> Figure:
    """The grid of sample n: a row per image layer (`images`, at `steps`), a column per step,
    then a full-width raster per layer with maps [T, B, N] (after the input's, for a
    `signal` [T, B, F]); one colour bar."""
    rows = [key for key in images if key != "input"]
    rasters = []
    if signal is not None:
        rasters.append(("input: channels x time", colored(raster_rows(signal[:, n])), "channels"))
    for name in raster_layers(result, layers):
        sam = result[name]
        image = colored(raster_rows(sam.maps[:, n].reshape(sam.maps.shape[0], -1), order))
        ordered = " (by total score)" if order == "score" else ""
        rasters.append((f"{sam.label}: {rows_are(sam)} x time", image, rows_are(sam) + ordered))
    return image_grid_figure(
        [images[key] for key in rows],
        [f"t={t}" for t in steps] if rows else [],
        [result[key].label for key in rows],
        title,
        rasters=rasters,
    )


def plot_result(
    result: SAMResult,
    sample: int = 0,
    layers: list[str] | None = None,
    steps: list[int] | None = None,
    inputs: Tensor | np.ndarray | None = None,
    draw: Draw = frame_image,
    order: str = "layer",
    title: str | None = None,
    max_columns: int = 20,
) -> Figure:
    """`SAMResult.plot`: one sample as the report's grid, a matplotlib figure: a row per layer
    with image maps, a column per step (heat maps over `inputs` [T, B, C, H, W] when given,
    else alone), a neuron x time raster per layer with maps [T, B, N], one colour bar.

    Args:
        layers: which layers (default all with maps).
        steps: which steps (default all, or `max_columns` evenly spaced ones when there are
            more; the title says so).
        order: raster rows in layer order ("layer") or by total score ("score").
    """
    if not 0 <= sample < result.batch_size:
        raise ValueError(f"sample must be in 0..{result.batch_size - 1}, found {sample}")
    if layers is not None:
        for name in layers:
            result[name]  # KeyError naming the layers there are
    x, signal = split_inputs(inputs, result)
    title = f"sample {sample}" if title is None else title
    if steps is None:
        stride = max(1, -(-result.steps // max_columns))
        steps = list(range(0, result.steps, stride))
        if stride > 1:
            title += f" (every {stride}th of {result.steps} steps)"
    else:
        steps = [int(t) for t in steps]
        if not steps or not all(0 <= t < result.steps for t in steps):
            raise ValueError(f"steps must be in 0..{result.steps - 1}, found {steps}")
    images = sample_images(result, sample, x, draw, steps, layers)
    images.pop("input", None)
    if not images and not raster_layers(result, layers):
        raise ValueError(f"none of the layers {layers or list(result)} has maps to draw")
    return grid_figure(result, sample, images, steps, title, layers, order, signal)


def raster_figure(rows: np.ndarray, what: str) -> Figure:
    """A raster [N, T] in [0, 1] drawn as a matplotlib figure: a row per neuron (position,
    channel; `what` names them), a column per step, both numbered with whole numbers, the
    image at `RASTER_AXES` (fixed, so that a marker can be drawn over step t)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.6, 2.6), dpi=100)
    ax = fig.add_axes(RASTER_AXES)
    neurons, steps = rows.shape
    ax.imshow(
        colored(rows), aspect="auto", interpolation="nearest",
        extent=(-0.5, steps - 0.5, neurons - 0.5, -0.5),
    )  # fmt: skip
    integer_ticks(ax)
    ax.set_xlabel("time step", fontsize=8)
    ax.set_ylabel(what, fontsize=8)
    ax.tick_params(labelsize=7)
    return fig
