"""Display heat maps: raw maps [T, B, H, W] (or [T, B, N]) made into [0, 1] per sample and step,
resized to the input (`normalize_maps`). Pure torch; `SAMResult.heatmap` and every picture use it.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

STYLES = ("minmax", "authors")

AUTHORS_SIZE = (128, 128)
"""The authors' display size (``visual_imagesize = 128`` in their main.py)."""


def normalize_maps(
    maps: Tensor, size: tuple[int, int] | None = None, style: str = "minmax"
) -> Tensor:
    """Display heat maps from raw maps [T, B, H, W], per sample and step; raw maps with one
    axis of places, [T, B, L] (1-D layers) or [T, B, N] (neurons of a layer without a layout),
    are min-max normalised per sample and step along it and never resized.

    Styles:
        "minmax": bilinear upsampling to `size` (torch, half-pixel centres, edges clamped),
            then min-max to [0, 1]; a constant map (an all-zero one included) becomes zero.
        "authors": the paper authors' code (main.py, ``getForwardCAM``): at the layer's own
            resolution ``cam = cam - np.min(cam); cam / (np.max(cam) + 1e-3)``, then
            ``skimage.transform.resize`` to `size` (default 128 x 128, their
            ``visual_imagesize``), reproduced here in torch: bilinear with scikit-image's
            "reflect" edges when upsampling (their maps are 4-16 px), torch's antialiased
            bilinear when downsampling. Their code sums the batch axis too, with batch size 1;
            here each sample is normalised on its own, which is the same for one sample.

    Args:
        maps: raw maps [T, B, H, W], or [T, B, L] / [T, B, N].
        size: (height, width) to resize to, e.g. the input's; None keeps the layer's own
            ("minmax") or uses 128 x 128 ("authors"). Must be None for [T, B, N] maps.
        style: "minmax" or "authors" (for [T, B, N] maps: their normalisation, no resize).

    Returns:
        [T, B, height, width] (or [T, B, N]) float32, in [0, 1] ("minmax") or [0, 1)
        ("authors").
    """
    if maps.dim() not in (3, 4):
        raise ValueError(
            "heat maps need raw maps shaped [T, B, H, W] (or [T, B, N]), found shape "
            f"{tuple(maps.shape)}"
        )
    if style not in STYLES:
        raise ValueError(f"style must be one of {list(STYLES)}, found {style!r}")
    if maps.dim() == 3:
        if size is not None:
            raise ValueError(
                f"size={size!r} resizes 2-D maps only; maps of shape {tuple(maps.shape)} "
                "([T, B, N]: one axis of neurons or positions) are normalised at their own "
                "length: pass size=None"
            )
        flat = maps.float()
        low = flat.amin(dim=2, keepdim=True)
        if style == "authors":
            shifted = flat - low
            return shifted / (shifted.amax(dim=2, keepdim=True) + 1e-3)
        span = flat.amax(dim=2, keepdim=True) - low
        return torch.where(
            span > 0, (flat - low) / span.clamp_min(torch.finfo(flat.dtype).tiny), 0.0
        )
    if size is not None:
        size = _check_size(size)
    steps, batch, height, width = maps.shape
    flat = maps.reshape(steps * batch, 1, height, width).float()
    if style == "authors":
        shifted = flat - flat.amin(dim=(2, 3), keepdim=True)
        cam = shifted / (shifted.amax(dim=(2, 3), keepdim=True) + 1e-3)
        out = _skimage_resize(cam[:, 0], tuple(size or AUTHORS_SIZE))
        return out.reshape(steps, batch, *out.shape[1:])
    if size is not None and size != (height, width):
        flat = F.interpolate(flat, size=tuple(size), mode="bilinear", align_corners=False)
    low = flat.amin(dim=(2, 3), keepdim=True)
    span = flat.amax(dim=(2, 3), keepdim=True) - low
    out = torch.where(span > 0, (flat - low) / span.clamp_min(torch.finfo(flat.dtype).tiny), 0.0)
    return out.reshape(steps, batch, *out.shape[2:])


def _skimage_resize(images: Tensor, size: tuple[int, int]) -> Tensor:
    """`skimage.transform.resize(image, size)` (order 1, mode "reflect") of images [N, H, W]:
    exact when neither axis shrinks; a shrinking image (where scikit-image first smooths with
    a Gaussian) goes through torch's antialiased bilinear instead."""
    if size[0] < images.shape[1] or size[1] < images.shape[2]:
        return F.interpolate(images[:, None], size, mode="bilinear", antialias=True)[:, 0]
    rows = _reflect_bilinear(images.shape[1], size[0]).to(images)
    cols = _reflect_bilinear(images.shape[2], size[1]).to(images)
    return rows @ images @ cols.T


def _reflect_bilinear(n_in: int, n_out: int) -> Tensor:
    """Weights [n_out, n_in] of linear interpolation at the output pixels' centres, samples
    outside the input mirrored about its edge pixels (scikit-image's "reflect")."""
    x = (torch.arange(n_out, dtype=torch.float64) + 0.5) * n_in / n_out - 0.5
    x = x.abs()
    x = torch.where(x > n_in - 1, 2 * (n_in - 1) - x, x).clamp(0, n_in - 1)
    low = x.floor().long().clamp(max=max(n_in - 2, 0))
    frac = x - low
    weights = torch.zeros(n_out, n_in, dtype=torch.float64)
    rows = torch.arange(n_out)
    weights[rows, low] += 1 - frac
    weights[rows, (low + 1).clamp(max=n_in - 1)] += frac
    return weights


def _check_size(size: Any) -> tuple[int, int]:
    """`size` as (height, width) of ints >= 1, else ValueError (before torch sees it)."""
    ok = (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in size)
    )
    if not ok:
        raise ValueError(f"size must be (height, width) of ints >= 1, found {size!r}")
    return int(size[0]), int(size[1])
