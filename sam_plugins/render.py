"""Where pixels are drawn: heat maps blended over inputs, image grids and animations.

One path: maps (`SAMResult.heatmap`) and inputs (`frame_image`) -> `show_sam_on_image` -> a grid
(`save_overlay_grid`, written by `save_image_grid`) or an animation (`save_animation`).
Needs the ``plot`` extra (matplotlib, Pillow, imageio).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import Tensor

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .result import SAMResult


def as_array(x: Tensor | np.ndarray) -> np.ndarray:
    """A tensor (on any device) or an array-like as a numpy array."""
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def show_sam_on_image(
    image: Tensor | np.ndarray,
    heatmap: Tensor | np.ndarray,
    alpha: float = 0.5,
    colormap: str = "jet",
) -> np.ndarray:
    """Blend a heat map over an image, as pytorch-grad-cam's show_cam_on_image does.

    Args:
        image: [H, W] grey or [H, W, 3] RGB, any range (min-max scaled for display).
        heatmap: [H, W] in [0, 1] (e.g. one step of `SAMResult.heatmap`).
        alpha: weight of the heat map in the blend.

    Returns:
        [H, W, 3] float RGB in [0, 1].
    """
    img, heat = as_array(image).astype(np.float32), as_array(heatmap).astype(np.float32)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.shape[:2] != heat.shape:
        raise ValueError(
            f"image is {img.shape[:2]} but heat map is {heat.shape}: upsample the map to the "
            "image size first, e.g. result.heatmap(layer, size=image.shape[-2:])"
        )
    span = img.max() - img.min()
    img = (img - img.min()) / span if span > 0 else np.zeros_like(img)
    return (1 - alpha) * img + alpha * colored(heat, colormap)


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


COLORBAR = "heat map (min-max per step)"


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


def integer_ticks(ax: Any, x: bool = True, y: bool = True) -> None:
    """Ticks of a matplotlib axes on whole numbers only (steps and neurons are counted: never
    "2.5")."""
    from matplotlib.ticker import MaxNLocator

    for axis, on in ((ax.xaxis, x), (ax.yaxis, y)):
        if on:
            axis.set_major_locator(MaxNLocator(integer=True))


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


def colored(heatmap: Tensor | np.ndarray, colormap: str = "jet") -> np.ndarray:
    """A heat map [..., H, W] in [0, 1] in colour, [..., H, W, 3] in [0, 1] (no background)."""
    from matplotlib import colormaps

    return colormaps[colormap](np.clip(as_array(heatmap), 0, 1))[..., :3]


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


def safe_name(name: str) -> str:
    """`name` (a layer's, a model's) as a file-name part: letters, digits, '-', '_' and '.'
    kept, anything else (path separators included) as '_'; never empty, never '.' or '..'."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "_"


def frame_image(frame: Tensor | np.ndarray) -> np.ndarray:
    """One input frame as RGB [H, W, 3] in [0, 1], for drawing maps over it.

    [H, W] or [1, H, W]: grey; [3, H, W]: RGB; any other channel count [C, H, W]: the sum over
    channels in grey (activity). Min-max scaled so that any range can be shown. Input readers
    may draw their frames their own way (`sam_plugins.InputReader.frame_image`: the tonic
    plugin colours event polarities).
    """
    x = as_array(frame).astype(np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"a frame to draw must be [H, W] or [C, H, W], found shape {x.shape}")
    if x.shape[0] != 3:
        x = x.sum(0, keepdims=True)
    span = x.max() - x.min()
    x = (x - x.min()) / span if span > 0 else np.zeros_like(x)
    return np.repeat(x[0][..., None], 3, axis=-1) if x.shape[0] == 1 else x.transpose(1, 2, 0)


def _captioned(frame: np.ndarray, text: str) -> np.ndarray:
    """A uint8 frame [H, W, 3] with a black band below it holding `text` in white."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (frame.shape[1], frame.shape[0] + 14))
    image.paste(Image.fromarray(frame), (0, 0))
    ImageDraw.Draw(image).text((2, frame.shape[0] + 1), text, fill=(255, 255, 255))
    return np.asarray(image)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] as uint8, for image files."""
    return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)


def save_animation(
    path: str | Path,
    frames: Tensor | np.ndarray,
    fps: float = 4.0,
    captions: Sequence[str] | None = None,
) -> Path:
    """Animated GIF (or MP4 when `path` ends in .mp4; needs imageio-ffmpeg) of RGB frames
    [T, H, W, 3] in [0, 1], looping. Small frames are enlarged (nearest) to at least 128 px.
    `captions` (one per frame, e.g. "layer 1 (Leaky) t=3/9") are written in a band below."""
    import imageio.v3 as iio

    video = to_uint8(as_array(frames))
    if video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"frames must be [T, H, W, 3], found shape {video.shape}")
    scale = max(1, -(-128 // min(video.shape[1:3])))
    video = video.repeat(scale, axis=1).repeat(scale, axis=2)
    if captions is not None:
        if len(captions) != len(video):
            raise ValueError(f"{len(video)} frames but {len(captions)} captions")
        pairs = zip(video, captions, strict=True)
        video = np.stack([_captioned(frame, text) for frame, text in pairs])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "writing MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg); "
                "use a .gif path otherwise"
            ) from exc
        video = np.pad(video, ((0, 0), (0, video.shape[1] % 2), (0, video.shape[2] % 2), (0, 0)))
        iio.imwrite(path, video, fps=fps, codec="libx264")
    else:
        iio.imwrite(path, video, duration=1000 / fps, loop=0)
    return path
