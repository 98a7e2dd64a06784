"""Drawing heat maps over inputs (needs matplotlib: ``pip install sam-plugins[plot]``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from torch import Tensor

if TYPE_CHECKING:
    from .result import SAMResult


def _array(x: Tensor | np.ndarray) -> np.ndarray:
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
    from matplotlib import colormaps

    img, heat = _array(image).astype(np.float32), _array(heatmap).astype(np.float32)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.shape[:2] != heat.shape:
        raise ValueError(
            f"image is {img.shape[:2]} but heat map is {heat.shape}: upsample the map to the "
            "image size first, e.g. result.heatmap(layer, size=image.shape[-2:])"
        )
    span = img.max() - img.min()
    img = (img - img.min()) / span if span > 0 else np.zeros_like(img)
    colored = colormaps[colormap](np.clip(heat, 0, 1))[..., :3]
    return (1 - alpha) * img + alpha * colored


def save_time_grid(
    path: str | Path,
    images: Tensor | np.ndarray,
    heatmaps: Tensor | np.ndarray,
    row_titles: Sequence[str] | None = None,
    step_stride: int = 1,
    alpha: float = 0.5,
) -> Path:
    """PNG grid of heat maps over inputs: one row per sample, one column per time step.

    Args:
        images: inputs to draw under the maps: [N, H, W] grey, [N, H, W, 3] RGB, or
            [T, N, H, W, 3] RGB, one per step (e.g. event frames).
        heatmaps: [T, N, H, W] in [0, 1].
        row_titles: N labels for the rows.
        step_stride: draw every k-th step.
    """
    heat = _array(heatmaps)
    backgrounds = _array(images)
    if backgrounds.ndim != 5:
        backgrounds = np.broadcast_to(backgrounds, (heat.shape[0], *backgrounds.shape))
    steps = range(0, heat.shape[0], step_stride)
    cells = [
        [show_sam_on_image(backgrounds[t, r], heat[t, r], alpha) for t in steps]
        for r in range(heat.shape[1])
    ]
    return save_image_grid(path, cells, [f"t={t}" for t in steps], row_titles)


def save_image_grid(
    path: str | Path,
    cells: Sequence[Sequence[np.ndarray]],
    column_titles: Sequence[str],
    row_titles: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """PNG of RGB images [H, W, 3] in [0, 1], `cells[row][column]`, titled per column on top and
    per row on the left (the layout of every grid here: rows of samples or layers, columns of
    time steps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, columns = len(cells), len(column_titles)
    fig, axes = plt.subplots(
        rows, columns, figsize=(1.2 * columns + 0.8, 1.3 * rows + 0.4), squeeze=False
    )
    for r, row in enumerate(cells):
        for c, image in enumerate(row):
            ax = axes[r][c]
            ax.imshow(image)
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(column_titles[c], fontsize=8)
        if row_titles is not None:
            axes[r][0].set_ylabel(str(row_titles[r]), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_layer_grids(
    folder: str | Path,
    images: Tensor,
    result: SAMResult,
    row_titles: Sequence[str] | None = None,
    step_stride: int = 1,
) -> list[Path]:
    """One `save_time_grid` PNG per layer with maps, ``folder/sam_layer_<name>.png``.

    Args:
        images: [N, H, W] inputs the result was computed from; maps are upsampled to H x W.
        result: a SAMResult over those N samples. Layers without maps (Linear) are skipped.
    """
    size = tuple(images.shape[-2:])
    return [
        save_time_grid(
            Path(folder) / f"sam_layer_{name}.png",
            images,
            result.heatmap(name, size=size),
            row_titles,
            step_stride,
        )
        for name in result
        if result[name].maps is not None
    ]


def frame_image(frame: Tensor | np.ndarray) -> np.ndarray:
    """One input frame as RGB [H, W, 3] in [0, 1], for drawing maps over it.

    [H, W] or [1, H, W]: grey; [3, H, W]: RGB; [2, H, W]: event counts by polarity, ON (channel
    1) red and OFF (channel 0) blue, black where nothing happened. Min-max scaled (counts: by
    their peak) so that any range can be shown.
    """
    x = _array(frame).astype(np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[0] not in (1, 2, 3):
        raise ValueError(
            "a frame to draw must be [H, W], [1, H, W] (grey), [2, H, W] (event polarities) or "
            f"[3, H, W] (RGB), found shape {x.shape}"
        )
    if x.shape[0] == 2:
        peak = x.max()
        x = x / peak if peak > 0 else x
        rgb = np.zeros((*x.shape[1:], 3), np.float32)
        rgb[..., 0], rgb[..., 2] = x[1], x[0]
        return rgb
    span = x.max() - x.min()
    x = (x - x.min()) / span if span > 0 else np.zeros_like(x)
    return np.repeat(x[0][..., None], 3, axis=-1) if x.shape[0] == 1 else x.transpose(1, 2, 0)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] as uint8, for image files."""
    return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)


def save_animation(path: str | Path, frames: Tensor | np.ndarray, fps: float = 4.0) -> Path:
    """Animated GIF (or MP4 when `path` ends in .mp4; needs imageio-ffmpeg) of RGB frames
    [T, H, W, 3] in [0, 1], looping. Small frames are enlarged (nearest) to at least 128 px."""
    import imageio.v3 as iio

    video = to_uint8(_array(frames))
    if video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"frames must be [T, H, W, 3], found shape {video.shape}")
    scale = max(1, -(-128 // min(video.shape[1:3])))
    video = video.repeat(scale, axis=1).repeat(scale, axis=2)
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


def save_step_layer_grid(
    path: str | Path,
    frames: Tensor | np.ndarray,
    heatmaps: dict[str, Tensor],
    title: str = "",
    alpha: float = 0.5,
) -> Path:
    """PNG grid for one sample: one row per layer, one column per time step.

    Args:
        frames: the sample's input frames [T, C, H, W] (see `frame_image`), or one frame
            [C, H, W] / [H, W] drawn under every step.
        heatmaps: row label (e.g. "layer conv1") -> maps [T, H, W] in [0, 1] at the frames'
            size.
    """
    steps = next(iter(heatmaps.values())).shape[0]
    images = _array(frames)
    per_step = images.ndim == 4
    backgrounds = [frame_image(images[t] if per_step else images) for t in range(steps)]
    cells = [
        [show_sam_on_image(backgrounds[t], heat[t], alpha) for t in range(steps)]
        for heat in (_array(h) for h in heatmaps.values())
    ]
    return save_image_grid(path, cells, [f"t={t}" for t in range(steps)], list(heatmaps), title)
