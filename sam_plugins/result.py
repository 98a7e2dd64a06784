"""SAM results: raw maps, display heat maps, per-neuron scores and temporal profiles per layer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class LayerSAM:
    """SAM of one layer over T recorded steps and B samples.

    Attributes:
        name: the layer's qualified name in the model.
        maps: raw maps M [T, B, *spatial] for layers with channels and a spatial layout
            (per-step output [B, C, H, W]); None for layers without one (Linear).
        scores: per-neuron scores sum_t N * S, [B, *neuron_shape], for layers without spatial
            layout; None for spatial layers.
        profile: SAM mass per step, sum over neurons of N * S, [T, B]: when the layer looks.
        spikes: the raw spikes [T, B, ...] when recorded with keep_spikes=True, else None.
        kind: the recorded module's class name (e.g. "Leaky", "LIFNode"), for labels.
    """

    name: str
    maps: Tensor | None
    scores: Tensor | None
    profile: Tensor
    spikes: Tensor | None = None
    kind: str = ""

    @property
    def label(self) -> str:
        """ "layer <name>", with the module's class when known: "layer 1 (Leaky)"."""
        return f"layer {self.name}" + (f" ({self.kind})" if self.kind else "")

    @property
    def steps(self) -> int:
        return self.profile.shape[0]


def normalize_maps(maps: Tensor, size: tuple[int, int] | None = None) -> Tensor:
    """Display heat maps: bilinear upsampling to `size`, then min-max to [0, 1] per sample and step.

    Args:
        maps: raw maps [T, B, H, W].
        size: (height, width) to upsample to, e.g. the input's; None keeps the layer's own.

    Returns:
        [T, B, height, width] in [0, 1]; a constant map (an all-zero one included) becomes zero.
    """
    if maps.dim() != 4:
        raise ValueError(
            f"heat maps need raw maps shaped [T, B, H, W], found shape {tuple(maps.shape)}"
        )
    steps, batch, height, width = maps.shape
    flat = maps.reshape(steps * batch, 1, height, width).float()
    if size is not None and tuple(size) != (height, width):
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"size must be (height, width) of positive ints, found {size!r}")
        flat = F.interpolate(flat, size=tuple(size), mode="bilinear", align_corners=False)
    low = flat.amin(dim=(2, 3), keepdim=True)
    span = flat.amax(dim=(2, 3), keepdim=True) - low
    out = torch.where(span > 0, (flat - low) / span.clamp_min(torch.finfo(flat.dtype).tiny), 0.0)
    return out.reshape(steps, batch, *out.shape[2:])


class SAMResult(Mapping[str, LayerSAM]):
    """Per-layer maps of one run, read like a dict: ``result["conv1"].maps``. The one result
    type of every map method (`method` says which made it).

    Attributes:
        gamma: SAM's decay, None for other methods.
        outputs: what the model returned, when the method ran it (`attribute`, `explain`).
        method: the method's name: "SAM", "SNN Grad-CAM", "spike count", "random".
    """

    def __init__(
        self,
        layers: dict[str, LayerSAM],
        gamma: float | None,
        outputs: Any = None,
        method: str = "SAM",
    ) -> None:
        self._layers = layers
        self.gamma = gamma
        self.outputs = outputs
        self.method = method

    def __getitem__(self, name: str) -> LayerSAM:
        try:
            return self._layers[name]
        except KeyError:
            raise KeyError(
                f"no layer {name!r} in this result; layers: {list(self._layers)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    @property
    def steps(self) -> int:
        """Number of time steps recorded (the same for every layer)."""
        return next(iter(self._layers.values())).steps if self._layers else 0

    @property
    def batch_size(self) -> int:
        """Number of samples in the recorded batch."""
        return next(iter(self._layers.values())).profile.shape[1] if self._layers else 0

    def maps(self, layer: str) -> Tensor:
        """Raw maps [T, B, *spatial] of a spatial layer."""
        maps = self[layer].maps
        if maps is None:
            raise ValueError(
                f"layer {layer!r} has no spatial layout, so no heat map; read result[{layer!r}]"
                ".scores (per-neuron scores) or .profile instead"
            )
        return maps

    def heatmap(self, layer: str, size: tuple[int, int] | None = None) -> Tensor:
        """Display heat maps of `layer`, [T, B, H, W] in [0, 1] (see `normalize_maps`)."""
        return normalize_maps(self.maps(layer), size)

    def __repr__(self) -> str:
        shapes = {
            name: tuple((sam.maps if sam.maps is not None else sam.scores).shape)
            for name, sam in self._layers.items()
        }
        gamma = "" if self.gamma is None else f", gamma={self.gamma}"
        return f"SAMResult({self.method}{gamma}, steps={self.steps}, layers={shapes})"
