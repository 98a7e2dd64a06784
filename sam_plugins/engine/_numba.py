"""SAM's per-step update fused into one pass over a layer, compiled by numba (optional).

With torch ops a step is a product, a channel sum and a state update: several passes over the
layer's memory, and the state has left the cache since the layer's last step. This loop reads
the state and the spikes once and writes the state and the map, which on a CPU is what
brings SAM close to the cost of the forward pass. `sam_plugins.engine.backend` uses it for
contiguous CPU tensors when numba is installed (``pip install "sam-plugins[fast]"``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
from torch import Tensor

SPAN = 4096
"""Values of one channel row a work item covers: whole rows for most layers (long streams that
the prefetcher follows), split only for large maps so that batch 1 still uses every core."""


PARALLEL_MIN = 1 << 18
"""Values a call must hold to be shared among numba's threads: a smaller call (a layer at batch
1, a stream step) runs on the calling thread, since waking the pool costs more than its work,
and on a busy machine a call waits for whichever pool thread the OS has put aside (seen here
at load 7: a median of 11 us, but 16 ms at the 90th percentile, for a 2,300-value layer)."""


@contextmanager
def threads_for(values: int) -> Iterator[None]:
    """Inside the block, numba's parallel loops use one thread if `values` < PARALLEL_MIN."""
    if values >= PARALLEL_MIN:
        yield
        return
    threads = numba.get_num_threads()
    if threads == 1:
        yield
        return
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(threads)


CHANNEL_BLOCK = 8
"""Channels summed in the layer's dtype before the sum moves to float64: summed one by one in
float32, a 512-channel map drifts by ~1e-4 and a 4096-neuron profile by ~1e-2; all in float64,
the loop costs ~1.5x on mid-size layers; blocks of 8 keep the error at a few eps of the
largest value for ~1.1-1.2x."""


@numba.njit(parallel=True, cache=True)
def _steps(state, spikes, maps, scores, decay, inclusive, totals, parts, fired, words, marks):  # noqa: E501  # pragma: no cover
    steps, batch, channels, length = spikes.shape
    spans = (length + SPAN - 1) // SPAN
    for item in numba.prange(batch * spans):
        b = item // spans
        first = (item % spans) * SPAN
        n = min(SPAN, length - first)
        total, part = totals[item, :n], parts[item, :n]
        for t in range(steps):
            total[:] = 0.0
            count = 0  # spikes of this sample and span at step t, counted in the same pass
            for block in range(0, channels, CHANNEL_BLOCK):
                part[:] = 0.0
                for c in range(block, min(block + CHANNEL_BLOCK, channels)):
                    p = state[b, c, first : first + n]
                    s = spikes[t, b, c, first : first + n]
                    if words is not None:  # numba compiles each case without the branches
                        mark = marks[t, b]
                        word = words[b, c, first : first + n]
                        for i in range(n):
                            w = decay * p[i]
                            f = s[i] != 0
                            part[i] += (w + inclusive) * s[i]
                            p[i] = w + f
                            count += f
                            word[i] |= np.uint16(f) * mark
                    elif scores is None:
                        for i in range(n):
                            w = decay * p[i]  # N[t] over t' < t
                            f = s[i] != 0
                            part[i] += (w + inclusive) * s[i]
                            p[i] = w + f
                            count += f
                    else:
                        kept = scores[b, c, first : first + n]
                        for i in range(n):
                            w = decay * p[i]
                            x = (w + inclusive) * s[i]
                            part[i] += x
                            kept[i] += x
                            f = s[i] != 0
                            p[i] = w + f
                            count += f
                for i in range(n):
                    total[i] += part[i]
            maps[t, b, first : first + n] = total
            fired[t, item] = count


def sam_steps(
    state: Tensor,
    spikes: Tensor,
    maps: Tensor,
    scores: Tensor | None,
    decay: float,
    inclusive: bool = False,
    fired: Tensor | None = None,
    words: np.ndarray | None = None,
    marks: np.ndarray | None = None,
) -> None:
    """Advance `state` P [B, C, *spatial] in place over `spikes` [T, B, C, *spatial], write the
    maps sum_c N * S into `maps` [T, B, *spatial] and add sum_t N * S to `scores`
    [B, C, *spatial] (unless None), where N = decay * P (window t' < t), plus [S != 0] if
    `inclusive` (window t' <= t); write the spikes (non-zero values) per step and sample into
    `fired` [T, B] (int64, unless None), counted in the same pass; with `words` (uint16
    [B, C, *spatial]) and `marks` (uint16 [T, B]), OR marks[t, b] into the word of each neuron
    that fires at step t (a record of its firing steps, for spike statistics; not with
    `scores`). Contiguous CPU tensors of one floating dtype."""
    steps, batch, channels = spikes.shape[:3]
    p = state.numpy()
    length = math.prod(spikes.shape[3:])
    spans = -(-length // SPAN)
    totals, parts = _scratch(batch * spans, min(SPAN, length), p.dtype)
    counts = _scratch_counts(steps, batch * spans)
    with threads_for(steps * batch * channels * length):
        _steps(
            p.reshape(batch, channels, -1),
            (spikes.detach() if spikes.requires_grad else spikes)
            .numpy()
            .reshape(steps, batch, channels, -1),
            maps.numpy().reshape(steps, batch, -1),
            None if scores is None else scores.numpy().reshape(batch, channels, -1),
            p.dtype.type(decay),
            p.dtype.type(inclusive),
            totals,
            parts,
            counts,
            None if words is None else words.reshape(batch, channels, -1),
            marks,
        )
    if fired is not None:
        fired.numpy()[:] = counts if spans == 1 else counts.reshape(steps, batch, spans).sum(2)


_local = threading.local()


def _scratch(items: int, width: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's work rows [items, width], float64 and `dtype`, reused over calls (one set
    per thread, as large as the largest call so far: 12 bytes per sample and position, e.g.
    0.4 MB for batch 32 at 34x34): allocated per call they were page-faulted in afresh each
    time (glibc serves large blocks by mmap), about 40,000 faults per analysis of 297
    recordings."""
    kept = _local.__dict__.setdefault("scratch", {})
    need = items * width
    totals, parts = kept.get(dtype, (None, None))
    if totals is None or totals.size < need:
        totals, parts = kept[dtype] = np.empty(need, np.float64), np.empty(need, dtype)
    return totals[:need].reshape(items, width), parts[:need].reshape(items, width)


def _scratch_counts(steps: int, items: int) -> np.ndarray:
    """The kernel's spike counts per step and work item [steps, items] (int64), reused."""
    kept = _local.__dict__
    counts = kept.get("counts")
    if counts is None or counts.size < steps * items:
        counts = kept["counts"] = np.empty(steps * items, np.int64)
    return counts[: steps * items].reshape(steps, items)


@numba.njit(parallel=True, cache=True)
def _census(values, graded):  # pragma: no cover - compiled
    fired = 0
    bad = 0
    for i in numba.prange(values.size):
        v = values[i]
        if v != 0:
            fired += 1
        if (not np.isfinite(v)) if graded else (v != 0 and v != 1):
            bad += 1
    return fired, bad


def spike_census(spikes: Tensor, graded: bool) -> tuple[int, int]:
    """(number of non-zero values, number of values that are not spikes: outside {0, 1}, or
    not finite if `graded`) of a contiguous CPU float32/float64 tensor, in one pass
    (the torch ops for the same take five)."""
    with threads_for(spikes.numel()):
        fired, bad = _census(spikes.numpy().reshape(-1), graded)
    return int(fired), int(bad)
