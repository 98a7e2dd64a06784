"""Spike-count maps: spikes per location and step, summed over channels (the firing rate)."""

from __future__ import annotations

from torch import Tensor

from .base import SpikeMapMethod


class SpikeCount(SpikeMapMethod):
    """Maps [T, B, h, w]: how many channels fired at each location and step."""

    method = "spike count"

    def layer_maps(self, spikes: Tensor) -> Tensor:
        return (spikes != 0).sum(2).float()
