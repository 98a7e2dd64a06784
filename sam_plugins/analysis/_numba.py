"""The spike statistics of a layer in compiled passes (numba, optional): spikes per step and
sample, and the inter-spike intervals, with no per-spike branch or scatter while the model runs.

Per step, one branch-free pass over the layer counts each sample's spikes and sets the step's
bit in each neuron's 16-bit word (16 steps per block). Once per block, one pass over the words
counts the intervals: a silent neuron costs a test, a firing one a step per spike (the gap from
its lowest set bit to the next); an interval that crosses a block boundary joins the neuron's
age (steps since its last spike, one byte, saturating at 255) to the position of the word's
first spike. `sam_plugins.analysis.stats` uses this when the engine's backend is numba and the
spikes are a contiguous CPU float tensor.
"""

from __future__ import annotations

import numba
import numpy as np
from torch import Tensor

from sam_plugins.engine._numba import threads_for
from sam_plugins.engine.streaming import DEFER

CODES = 256  # interval counts by length: 1..254 steps, 255: 255 steps or more
BLOCK = DEFER  # steps per word: those of SAM's deferred block, whose pass marks the words


@numba.njit(inline="always")
def _popcount(x):  # pragma: no cover - compiled
    x = x - ((x >> 1) & 0x5555)
    x = (x & 0x3333) + ((x >> 2) & 0x3333)
    x = (x + (x >> 4)) & 0x0F0F
    return (x + (x >> 8)) & 0x1F


@numba.njit(inline="always")
def _lowest(x):  # pragma: no cover - compiled
    return _popcount((x & -x) - 1)  # index of the lowest set bit of x != 0


@numba.njit(cache=True)
def _flush(bits, age, length, codes, cross, more):  # pragma: no cover - compiled
    """Count the intervals of one sample's block (`length` steps) into `codes` [CODES], and
    clear the words. `cross`: join the intervals from the last block (ages); `more`: another
    block follows (move the ages on). One pass over the neurons; a silent neuron costs a test,
    a firing one a step per spike."""
    for i in range(bits.shape[0]):
        w = np.int64(bits[i])
        a = np.int64(age[i])
        if w == 0:
            if more and a != 0:
                age[i] = min(a + length, 255)
            continue
        bits[i] = 0
        last = _lowest(w)
        if cross and a != 0:  # from the last block's last spike to this one's first
            codes[min(a + last, CODES - 1)] += 1
        w &= w - 1
        while w != 0:  # from each spike to the next
            k = _lowest(w)
            codes[k - last] += 1
            last = k
            w &= w - 1
        if more:
            age[i] = length - last  # steps from the last spike on


@numba.njit(parallel=True, cache=True)
def _steps(spikes, first, lengths, bits, age, counts, codes):  # pragma: no cover - compiled
    steps, batch, neurons = spikes.shape
    for b in numba.prange(batch):
        word = bits[b]
        for k in range(steps):
            t = first + k
            if t >= lengths[b]:  # padding from here on: counts nowhere
                break
            row = spikes[k, b]
            bit = np.int32(1 << (t % BLOCK))
            n = np.int32(0)
            for i in range(neurons):  # branch-free, vectorised
                fired = np.int32(row[i] != 0)
                n += fired
                word[i] = np.uint16(word[i] | np.uint16(fired * bit))
            counts[k, b] = n
            if t % BLOCK == BLOCK - 1:
                _flush(word, age[b], BLOCK, codes[b], t >= BLOCK, True)


@numba.njit(parallel=True, cache=True)
def _close(bits, age, codes, lengths, t):  # pragma: no cover - compiled
    for b in numba.prange(bits.shape[0]):
        if t < lengths[b]:  # as `_steps` does at a block's last step
            _flush(bits[b], age[b], BLOCK, codes[b], t >= BLOCK, True)


def close_block(state: dict[str, np.ndarray], t: int, lengths: np.ndarray) -> None:
    """Count the intervals of the block that step `t` (its last) ends, for words that another
    pass marked (SAM's kernel: `sam_plugins.engine._numba.sam_steps` with words and marks)."""
    with threads_for(state["bits"].size):
        _close(state["bits"], state["age"], state["codes"], lengths, t)


@numba.njit(parallel=True, cache=True)
def _finish(bits, age, codes, cross):  # pragma: no cover - compiled
    for b in numba.prange(bits.shape[0]):
        _flush(bits[b], age[b], BLOCK, codes[b], cross, False)


def spike_stats(
    spikes: Tensor, first: int, lengths: np.ndarray, state: dict[str, np.ndarray]
) -> np.ndarray:
    """Spikes per step and sample [steps, B] of `spikes` [steps, B, ...] (contiguous CPU float)
    whose first step is step `first` of the sequence. `state` (from `new_state`) is updated."""
    steps, batch = spikes.shape[:2]
    counts = np.zeros((steps, batch), dtype=np.int64)
    values = spikes.numpy().reshape(steps, batch, -1)
    with threads_for(values.size):
        _steps(values, first, lengths, state["bits"], state["age"], counts, state["codes"])
    return counts


def new_state(batch: int, neurons: int) -> dict[str, np.ndarray]:
    """State of a layer for `batch` samples, not zeroed (see `zeroed`): the neurons' words and
    ages, and the per-sample interval counts [B, CODES]."""
    return {
        "bits": np.empty((batch, neurons), np.uint16),
        "age": np.empty((batch, neurons), np.uint8),
        "codes": np.empty((batch, CODES), np.int64),
    }


def zeroed(state: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
    """The first `batch` samples of `state`, zeroed for a new sequence. Reusing a layer's state
    over batches saves the page faults of fresh memory, which cost more than the zeroing."""
    part = {key: value[:batch] for key, value in state.items()}
    for value in part.values():
        value.fill(0)
    return part


def interval_counts(state: dict[str, np.ndarray], steps: int) -> np.ndarray:
    """Close the open block of a sequence of `steps` steps and return the interval counts
    [CODES] summed over samples."""
    with threads_for(state["bits"].size):
        _finish(state["bits"], state["age"], state["codes"], steps > BLOCK)
    return state["codes"].sum(0)
