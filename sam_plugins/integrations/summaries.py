"""What the integrations log from a `SAMResult`, as plain arrays: colour images of each layer's
maps for chosen samples and the SAM mass per layer as scalars. No logging tool is imported here;
`tensorboard.log_sam` and `lightning.SAMCallback` write these."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np
import torch
from torch import Tensor

from ..result import SAMResult
from ..viewer.heat import normalize_maps
from ..viewer.pixels import as_array, to_uint8

GAP = 1
"""Width in pixels (before enlarging) of the white column between two steps in a strip."""

MIN_SIDE = 128
"""TensorBoard shows an image at its own size: each is enlarged (nearest neighbour, by a whole
factor) until its short side has at least this many pixels."""


def enlarge(image: np.ndarray, min_side: int = MIN_SIDE) -> np.ndarray:
    """`image` [H, W, 3] repeated k times along both axes (nearest neighbour), k the smallest
    whole factor that makes min(H, W) * k >= `min_side` (1 when it already is): [kH, kW, 3]."""
    k = max(1, -(-min_side // min(image.shape[:2])))
    return image.repeat(k, axis=0).repeat(k, axis=1)


def colorize(heat: Tensor, colormap: str = "jet") -> np.ndarray:
    """A heat map [H, W] in [0, 1] as RGB [H, W, 3] uint8 (matplotlib's `colormap`)."""
    from matplotlib import colormaps

    return to_uint8(colormaps[colormap](np.clip(as_array(heat), 0, 1))[..., :3])


def strip(frames: list[np.ndarray]) -> np.ndarray:
    """Frames [H, W, 3] side by side, `GAP` white pixels between them: [H, T*W + (T-1)*GAP, 3]."""
    gap = np.full((frames[0].shape[0], GAP, 3), 255, np.uint8)
    parts = [part for frame in frames for part in (frame, gap)][:-1]
    return np.concatenate(parts, axis=1)


def check_samples(batch: int, samples: int | Sequence[int]) -> list[int]:
    """`samples` as a list of indices into a batch of `batch` samples, else a ValueError."""
    chosen = [samples] if isinstance(samples, Integral) else list(samples)
    bad = [s for s in chosen if not isinstance(s, Integral) or isinstance(s, bool)]
    bad += [s for s in chosen if s not in bad and not 0 <= s < batch]
    if not chosen or bad:
        raise ValueError(
            f"samples must be indices into the batch of {batch} (0..{batch - 1}), found {samples!r}"
        )
    return [int(s) for s in chosen]


def sam_images(
    result: SAMResult,
    samples: int | Sequence[int] = 0,
    size: tuple[int, int] | None = None,
    per_step: bool = True,
    colormap: str = "jet",
    prefix: str = "sam",
    min_side: int = MIN_SIDE,
) -> dict[str, np.ndarray]:
    """Colour images [H, W, 3] uint8 of each layer's maps for the chosen `samples`, by tag,
    each enlarged by `enlarge` (nearest neighbour, a whole factor k) to at least `min_side`
    pixels on its short side; the shapes below are before enlarging (1 keeps them as they are).

    - 2-D layers (maps [T, B, H, W]): ``{prefix}/{layer}/sum/sample_{b}``, the map summed over
      time, and (`per_step`) ``{prefix}/{layer}/steps/sample_{b}``, the T steps' maps side by
      side (a strip [H, T*W + (T-1), 3], one white column between steps). Both are min-max
      normalised as `SAMResult.heatmap` (each step on its own) and resized to `size` (default:
      the layer's own resolution).
    - 1-D layers and layers whose maps are per neuron (maps [T, B, L]):
      ``{prefix}/{layer}/neuron_time/sample_{b}``, an image [L, T, 3] (a row per position or
      neuron, a column per step), min-max normalised over the image; `size` does not apply.
    - Layers without maps (per-neuron scores only): no image; their mass is in `sam_scalars`.
    """
    chosen = check_samples(result.batch_size, samples)
    images: dict[str, np.ndarray] = {}
    for name, layer in result.items():
        maps = layer.maps
        if maps is None:
            continue
        maps = maps.detach().float().cpu()
        for b in chosen:
            if maps.dim() == 4:
                summed = normalize_maps(maps[:, b : b + 1].sum(0, keepdim=True), size)
                images[f"{prefix}/{name}/sum/sample_{b}"] = colorize(summed[0, 0], colormap)
                if per_step:
                    steps = normalize_maps(maps[:, b : b + 1], size)[:, 0]
                    frames = [colorize(step, colormap) for step in steps]
                    images[f"{prefix}/{name}/steps/sample_{b}"] = strip(frames)
            elif maps.dim() == 3:
                grid = maps[:, b].T  # [L, T]
                low, span = grid.min(), grid.max() - grid.min()
                grid = (grid - low) / span if span > 0 else torch.zeros_like(grid)
                images[f"{prefix}/{name}/neuron_time/sample_{b}"] = colorize(grid, colormap)
    return {tag: enlarge(image, min_side) for tag, image in images.items()}


def sam_scalars(
    result: SAMResult, samples: int | Sequence[int] = 0, prefix: str = "sam"
) -> dict[str, float]:
    """The SAM mass (sum over steps and neurons of N * S, i.e. ``layer.profile.sum(0)``) per
    layer: ``{prefix}/{layer}/mass``, the batch mean, and ``{prefix}/{layer}/mass/sample_{b}``
    for the chosen `samples`. Every layer has one, maps or not."""
    chosen = check_samples(result.batch_size, samples)
    scalars: dict[str, float] = {}
    for name, layer in result.items():
        mass = layer.profile.detach().double().sum(0).cpu()  # [B]
        scalars[f"{prefix}/{name}/mass"] = float(mass.mean())
        for b in chosen:
            scalars[f"{prefix}/{name}/mass/sample_{b}"] = float(mass[b])
    return scalars
