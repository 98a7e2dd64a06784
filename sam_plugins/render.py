"""Drawing heat maps over inputs (needs matplotlib: ``pip install sam-plugins[plot]``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor


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
    path: str | Path, images, heatmaps, row_titles=None, step_stride: int = 1, alpha: float = 0.5
) -> Path:
    """PNG grid of heat maps over inputs: one row per sample, one column per time step.

    Args:
        images: inputs to draw under the maps: [N, H, W] grey, [N, H, W, 3] RGB, or
            [T, N, H, W, 3] RGB, one per step (e.g. event frames).
        heatmaps: [T, N, H, W] in [0, 1].
        row_titles: N labels for the rows.
        step_stride: draw every k-th step.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heat = _array(heatmaps)
    backgrounds = _array(images)
    if backgrounds.ndim != 5:
        backgrounds = np.broadcast_to(backgrounds, (heat.shape[0], *backgrounds.shape))
    steps = list(range(0, heat.shape[0], step_stride))
    rows = heat.shape[1]
    fig, axes = plt.subplots(
        rows, len(steps), figsize=(1.3 * len(steps), 1.4 * rows), squeeze=False
    )
    for r in range(rows):
        for c, t in enumerate(steps):
            ax = axes[r][c]
            ax.imshow(show_sam_on_image(backgrounds[t, r], heat[t, r], alpha))
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(f"t={t}", fontsize=8)
        if row_titles is not None:
            axes[r][0].set_ylabel(str(row_titles[r]), fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_layer_grids(
    folder: str | Path, images, result, row_titles=None, step_stride: int = 1
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
