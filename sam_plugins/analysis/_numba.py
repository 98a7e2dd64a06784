"""The spike statistics of one call in one compiled pass over the layer (numba, optional).

Per sample (in parallel) and step: count the spikes, and for each spike add the interval since
the same neuron's last spike to the sample's ISI histogram and move that neuron's last spike
time. The spikes are read once; nothing else of the layer's size is touched except the last
spike times of the neurons that fire. `sam_plugins.analysis.stats` uses it when the engine's
backend is numba and the spikes are a contiguous CPU float tensor.
"""

from __future__ import annotations

import numba
import numpy as np
from torch import Tensor


@numba.njit(parallel=True, cache=True)
def _stats(spikes, first, lengths, last, counts, isi):  # pragma: no cover - compiled
    steps, batch, neurons = spikes.shape
    top = isi.shape[1] - 1
    for b in numba.prange(batch):
        for k in range(steps):
            t = first + k
            if t >= lengths[b]:  # padding from here on: counts nowhere
                break
            row = spikes[k, b]
            times = last[b]
            n = 0
            for i in range(neurons):
                if row[i] != 0:
                    n += 1
                    before = times[i]
                    if before >= 0:
                        isi[b, min(t - before, top)] += 1
                    times[i] = t
            counts[k, b] = n


def spike_stats(
    spikes: Tensor, first: int, lengths: np.ndarray, last: np.ndarray, isi: np.ndarray
) -> np.ndarray:
    """Spikes per step and sample [steps, B] of `spikes` [steps, B, ...] (contiguous CPU float)
    whose first step is step `first` of the sequence; `last` [B, neurons] (int64, -1: never
    fired) and the per-sample ISI histograms `isi` [B, bins + 1] are updated in place."""
    steps, batch = spikes.shape[:2]
    counts = np.zeros((steps, batch), dtype=np.int64)
    values = spikes.numpy().reshape(steps, batch, -1)
    _stats(values, first, lengths, last, counts, isi)
    return counts
