"""Spike statistics of one batch, computed once per batch over all its steps at once.

The recorder hands each call's spikes [steps, B, ...] to `SpikeStats`, which only copies them
into one bool buffer per layer [T, B, neurons] (one batch of memory). `finish()` then computes,
for all steps together, the spikes per (step, sample) and the inter-spike-interval histogram:
no per-step reductions or histograms while the model runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class LayerStats:
    """Spike statistics of one layer over one batch.

    Attributes:
        counts: spikes per step and sample [T, B] (int64), padded steps excluded.
        neurons: neurons of the layer (per sample and step).
        isi: inter-spike intervals [isi_bins + 1] (int64): entry k counts intervals of k steps
            between two spikes of one neuron of one sample (k >= 1, entry 0 is always 0); the
            last entry also holds every longer interval.
    """

    counts: Tensor
    neurons: int
    isi: Tensor


class SpikeStats:
    """Recorder consumer: keeps each layer's spikes of the current batch as bool [T, B, N]."""

    def __init__(self, isi_bins: int = 64) -> None:
        if isi_bins < 1:
            raise ValueError(f"isi_bins must be at least 1, found {isi_bins}")
        self.isi_bins = isi_bins
        self._buffers: dict[str, Tensor] = {}
        self._filled: dict[str, int] = {}
        self.steps = 0

    def reset(self, steps: int) -> None:
        """Start a batch of `steps` time steps (the buffers grow if the model makes more)."""
        self.steps = steps
        self._filled = {}

    def __call__(self, target, spikes: Tensor) -> None:
        name, n = target.name, spikes.shape[0]
        filled = self._filled.get(name, 0)
        flat = spikes.reshape(n, spikes.shape[1], -1)
        buffer = self._buffers.get(name)
        shape = (max(self.steps, filled + n), *flat.shape[1:])
        if buffer is None or buffer.shape[1:] != shape[1:] or buffer.device != spikes.device:
            buffer = torch.zeros(shape, dtype=torch.bool, device=spikes.device)
        elif buffer.shape[0] < filled + n:
            buffer = torch.cat([buffer, buffer.new_zeros(filled + n - buffer.shape[0], *shape[1:])])
        buffer[filled : filled + n].copy_(flat)  # any non-zero value is a spike
        self._buffers[name], self._filled[name] = buffer, filled + n

    def finish(self, name: str, lengths: Tensor) -> LayerStats:
        """Statistics of layer `name` for the batch; `lengths` [B] are the samples' valid steps
        (steps at or after a sample's length are padding and count nowhere)."""
        steps = self._filled[name]
        fired = self._buffers[name][:steps]  # [T, B, N]
        lengths = lengths.to(fired.device)
        if int(lengths.min()) < steps:
            valid = torch.arange(steps, device=fired.device)[:, None] < lengths[None]
            fired = fired & valid[..., None]
        counts = fired.sum(2)  # [T, B]
        # every spike as (neuron of a sample, step), sorted by neuron then step: consecutive
        # entries of one neuron are its consecutive spikes
        where = fired.permute(1, 2, 0).reshape(-1, steps).nonzero()
        same = where[1:, 0] == where[:-1, 0]
        intervals = (where[1:, 1] - where[:-1, 1])[same].clamp_(max=self.isi_bins)
        isi = torch.bincount(intervals, minlength=self.isi_bins + 1)
        return LayerStats(counts.cpu(), fired.shape[2], isi.cpu())
