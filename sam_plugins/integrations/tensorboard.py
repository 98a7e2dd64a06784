"""SAM in TensorBoard: `log_sam` writes a result's heat maps as images and its SAM mass as
scalars to a `torch.utils.tensorboard.SummaryWriter` (or anything with its ``add_image`` and
``add_scalar``). Nothing here imports tensorboard; the writer you pass does.

Example::

    from torch.utils.tensorboard import SummaryWriter
    from sam_plugins import explain
    from sam_plugins.integrations.tensorboard import log_sam

    writer = SummaryWriter("runs/snn")
    for epoch in range(epochs):
        train_one_epoch(net)
        log_sam(writer, explain(net, probe), step=epoch)
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

from ..result import SAMResult
from .summaries import MIN_SIDE, sam_images, sam_scalars


def log_sam(
    writer: Any,
    result: SAMResult,
    step: int,
    samples: int | Sequence[int] = 0,
    *,
    size: tuple[int, int] | None = None,
    per_step: bool = True,
    colormap: str = "jet",
    prefix: str = "sam",
    min_side: int = MIN_SIDE,
) -> dict[str, Any]:
    """Write `result` to TensorBoard at global step `step`.

    Per layer and chosen sample, images (see `summaries.sam_images` for tags and shapes): the
    map summed over time and, with `per_step`, a strip of the T steps' maps for 2-D layers; a
    neuron x time image for 1-D layers and per-neuron maps [T, B, N]; layers without maps get
    no image. Per layer, scalars: ``{prefix}/{layer}/mass`` (the batch mean of the SAM mass
    ``profile.sum(0)``) and ``{prefix}/{layer}/mass/sample_{b}``.

    Args:
        writer: a ``torch.utils.tensorboard.SummaryWriter`` (anything with ``add_image`` and
            ``add_scalar``); not flushed or closed here.
        result: what `explain` or a map method's ``attribute`` returned.
        step: the global step (e.g. the epoch) the values are logged at.
        samples: index or indices of the samples in the result's batch to draw.
        size: (height, width) the 2-D maps are resized to, e.g. the input's; default the
            layer's own.
        per_step: also write each 2-D layer's per-step strip.
        colormap: matplotlib colormap of the images.
        prefix: the first part of every tag.
        min_side: every image is enlarged (nearest neighbour, a whole factor) to at least
            this many pixels on its short side, as TensorBoard shows it at its own size.

    Returns:
        {"images": {tag: [H, W, 3] uint8}, "scalars": {tag: float}}: what was written.
    """
    if not (
        callable(getattr(writer, "add_image", None))
        and callable(getattr(writer, "add_scalar", None))
    ):
        raise TypeError(
            "writer must be a torch.utils.tensorboard.SummaryWriter (with add_image and "
            f"add_scalar), found {type(writer).__name__}"
        )
    if not isinstance(result, SAMResult):
        raise TypeError(
            f"result must be a SAMResult (from explain or attribute), found {type(result).__name__}"
        )
    if not isinstance(step, Integral) or isinstance(step, bool):
        raise TypeError(f"step must be an int (the global step), found {step!r}")
    if not isinstance(min_side, Integral) or isinstance(min_side, bool) or min_side < 1:
        raise ValueError(f"min_side must be an int >= 1 (pixels), found {min_side!r}")
    images = sam_images(result, samples, size, per_step, colormap, prefix, min_side)
    scalars = sam_scalars(result, samples, prefix)
    write(writer, images, scalars, int(step))
    return {"images": images, "scalars": scalars}


def write(writer: Any, images: dict[str, Any], scalars: dict[str, float], step: int) -> None:
    """Images [H, W, 3] and scalars, by tag, to a SummaryWriter at global step `step`."""
    for tag, image in images.items():
        writer.add_image(tag, image, step, dataformats="HWC")
    for tag, value in scalars.items():
        writer.add_scalar(tag, value, step)
