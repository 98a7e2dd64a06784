"""Random maps: uniform noise shaped like each layer's maps, the chance level of the metrics."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..layers import LayerSpec
from ..plugins import Runner, StepMode
from ..result import SAMResult
from .base import SpikeMapMethod


class RandomMap(SpikeMapMethod):
    """Uniform noise maps [T, B, h, w] with the shapes the layers' spikes give; `seed` makes
    them reproducible. The other arguments are those of every map method (`MapMethod`)."""

    method = "random"

    def __init__(
        self,
        model: nn.Module,
        layers: LayerSpec | Sequence[LayerSpec] | None = None,
        *,
        seed: int = 0,
        step_mode: StepMode = "single",
        graded: bool = False,
        run: Runner | None = None,
    ) -> None:
        super().__init__(model, layers, step_mode=step_mode, graded=graded, run=run)
        self.seed = seed

    def _attribute(self, inputs: Tensor, target: Tensor | None) -> SAMResult:
        self._generator = torch.Generator().manual_seed(self.seed)
        return super()._attribute(inputs, target)

    def layer_maps(self, spikes: Tensor) -> Tensor:
        shape = (spikes.shape[0], spikes.shape[1], *spikes.shape[3:])
        return torch.rand(shape, generator=self._generator).to(spikes.device)
