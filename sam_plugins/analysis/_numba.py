"""The spike statistics of one call in compiled passes over the layer (numba, optional).

Each neuron keeps one byte, its age: 0 before its first spike, else the steps since its last
spike (saturating at 255). Per sample (in parallel) and step, a branch-free pass over the layer
counts the spikes, writes each spike's interval code (the neuron's age, 0 where it did not fire
or never fired before) and moves the ages on; a second pass histograms the codes into four
interleaved histograms (no dependency between neighbouring increments). Both passes cost the
same whatever the firing rate, and the spikes are read once. `sam_plugins.analysis.stats` uses
them when the engine's backend is numba and the spikes are a contiguous CPU float tensor.
"""

from __future__ import annotations

import numba
import numpy as np
from torch import Tensor

CODES = 256  # interval codes: 0 (no interval), 1..254 steps, 255: 255 steps or more


@numba.njit(parallel=True, cache=True)
def _stats(spikes, first, lengths, age, counts, codes):  # pragma: no cover - compiled
    steps, batch, neurons = spikes.shape
    for b in numba.prange(batch):
        code = np.empty(neurons, np.uint8)
        h = np.zeros((4, CODES), np.int64)
        a = age[b]
        for k in range(steps):
            if first + k >= lengths[b]:  # padding from here on: counts nowhere
                break
            row = spikes[k, b]
            n = 0
            for i in range(neurons):
                fired = row[i] != 0
                ai = a[i]
                n += fired
                code[i] = ai if fired else 0
                a[i] = 1 if fired else ai + (ai != 0) * (ai != 255)
            whole = neurons - neurons % 4
            for i in range(0, whole, 4):
                h[0, code[i]] += 1
                h[1, code[i + 1]] += 1
                h[2, code[i + 2]] += 1
                h[3, code[i + 3]] += 1
            for i in range(whole, neurons):
                h[0, code[i]] += 1
            counts[k, b] = n
        for j in range(1, CODES):
            codes[b, j] += h[0, j] + h[1, j] + h[2, j] + h[3, j]


def spike_stats(
    spikes: Tensor, first: int, lengths: np.ndarray, age: np.ndarray, codes: np.ndarray
) -> np.ndarray:
    """Spikes per step and sample [steps, B] of `spikes` [steps, B, ...] (contiguous CPU float)
    whose first step is step `first` of the sequence. `age` [B, neurons] (uint8, zeros at the
    start of a sequence) and the per-sample interval-code counts `codes` [B, 256] (int64; code k
    in 1..254: intervals of k steps, 255: of 255 or more) are updated in place."""
    steps, batch = spikes.shape[:2]
    counts = np.zeros((steps, batch), dtype=np.int64)
    _stats(spikes.numpy().reshape(steps, batch, -1), first, lengths, age, counts, codes)
    return counts
