"""SAM's per-step update fused into one pass over a layer, compiled by numba (optional).

With torch ops a step is a product, a channel sum and a state update: several passes over the
layer's memory, and the state has left the cache since the layer's last step. This loop reads
the state and the spikes once and writes the state and the map, which on a CPU is what
brings SAM close to the cost of the forward pass. `sam_plugins.engine.backend` uses it for
contiguous CPU tensors when numba is installed (``pip install "sam-plugins[fast]"``).
"""

from __future__ import annotations

import math
import os
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


PASSIVE = os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE"
"""Whether OpenMP's idle threads sleep (``OMP_WAIT_POLICY=PASSIVE``; numba's pool here is
OpenMP's): each parallel loop then wakes them first, about 40 us on this project's 2-core VM."""

PACK_PARALLEL_MIN = 1 << 22 if PASSIVE else PARALLEL_MIN
"""Values a step must hold to be packed as bits (`pack_step`) by the pool's threads: with
sleeping threads, packing a million values on the calling thread (~65 us) costs less than
waking them (~40 us) and sharing the work."""


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


DSPAN = 1024
"""Values of one channel row a work item of `sam_block` covers (a multiple of 8, whole bytes
of the bit planes): its rows of sums, one per step of the block, stay in the core's cache."""

_COPY = np.uint64(0x0101010101010101)  # v * _COPY: byte v in each of 8 bytes
_BITS = np.uint64(0x8040201008040201)  # byte m keeps bit m
_SEVEN = np.uint64(0x7F7F7F7F7F7F7F7F)  # + 0x7F: bit 7 set in each byte that is not 0
_ONES = np.uint64(0x0101010101010101)
_GATHER = np.uint64(0x0102040810204080)
"""x * _GATHER >> 56 packs 8 bytes of 0 or 1 (low byte first) into the bits of one byte."""


@numba.njit(inline="always")
def _pack_sample(spikes, planes, fired, counts, b):  # pragma: no cover - compiled
    channels, length = spikes.shape[1:]
    full = length // 8
    flags = np.empty(full + 1, np.uint64)
    flag = flags.view(np.uint8)
    n = np.uint64(0)
    wrong = False
    for c in range(channels):
        s = spikes[b, c]
        out = planes[b, c]
        for i in range(length):  # vectorised: a byte 0/1 per value, and the 0/1 check
            v = s[i]
            f = v != 0
            flag[i] = f
            wrong |= f & (v != 1)
        for i in range(length, 8 * (full + 1)):
            flag[i] = 0
        for j in range((length + 7) // 8):  # 8 bytes -> 8 bits, and their sum
            x = flags[j]
            out[j] = (x * _GATHER) >> np.uint64(56)
            n += (x * _COPY) >> np.uint64(56)
    fired[b] = n
    counts[b] += n
    return wrong


@numba.njit(parallel=True, cache=True)
def _pack(spikes, planes, fired, counts):  # pragma: no cover - compiled
    bad = 0
    for b in numba.prange(spikes.shape[0]):
        bad += _pack_sample(spikes, planes, fired, counts, b)
    return bad


@numba.njit(cache=True)
def _pack_here(spikes, planes, fired, counts):  # pragma: no cover - compiled
    bad = 0
    for b in range(spikes.shape[0]):  # on the calling thread: see PARALLEL_MIN
        bad += _pack_sample(spikes, planes, fired, counts, b)
    return bad


def pack_step(spikes: Tensor, planes: np.ndarray, fired: np.ndarray, counts: np.ndarray) -> int:
    """Write the spikes (non-zero values) of one step, `spikes` [1, B, C, *spatial]
    (contiguous CPU float), as bits into `planes` [B, C, ceil(positions / 8)] (uint8, low bit
    first), their number per sample into `fired` [B] and add it to `counts` [B] (int64), in
    one pass; return the number of samples with a value that is neither 0 nor 1 (bits cannot
    hold it)."""
    values = spikes.numpy().reshape(spikes.shape[1], spikes.shape[2], -1)
    if values.shape[2] % 8 == 0 and values.shape[2] < 512 and planes.flags.c_contiguous:  # a
        values = values.reshape(len(values), 1, -1)  # sample's short rows of whole bytes
        planes = planes.reshape(len(planes), 1, -1)  # pack as one (the same bits, less work)
    kernel = _pack if values.size >= PACK_PARALLEL_MIN else _pack_here
    return kernel(values, planes, fired, counts)


@numba.njit(inline="always")
def _unpack(row, flag64):  # pragma: no cover - compiled
    """Bytes of bits `row` -> flag64 (uint64), seen as bytes: one 0 or 1 per bit (vectorised)."""
    for j in range(len(row)):
        x = (np.uint64(row[j]) * _COPY) & _BITS
        flag64[j] = ((x + _SEVEN) >> np.uint64(7)) & _ONES


@numba.njit(inline="always")
def _neuron(p, flag, i, decay, inclusive):  # pragma: no cover - compiled
    """Neuron i's step: its N * S, (decay * P + inclusive) * S, returned, and P moved on to
    decay * P + S (the spike S a 0 or 1 byte of `flag`), in `_steps`' arithmetic."""
    f = np.float32(flag[i])
    w = decay * p[i]
    p[i] = w + f
    return (w + inclusive) * f


@numba.njit(inline="always")
def _mark(word, flag, mark):  # pragma: no cover - compiled
    """OR `mark` (a step's bit, 0 on padding) into the words of the neurons whose byte of
    `flag` is 1 (those firing at that step)."""
    for i in range(len(word)):
        word[i] |= np.uint16(flag[i]) * mark


@numba.njit(inline="always")
def _block_item(
    state, planes, maps, decay, inclusive, words, marks, fresh, total, sums, flag64, item
):  # pragma: no cover - compiled
    """One work item of `sam_block`: sample b, values [first, first + n) of each channel row.
    Steps go in the outer loop and, for each full block of CHANNEL_BLOCK (8) channels, the 8
    channels in one inner loop over the values: each value's channel sum then stays in a
    register (the arithmetic and its order are those of `_steps`, so the maps are the same
    bit for bit), and the 8 channels' state rows stay in the L1 cache over the block's steps."""
    steps = maps.shape[0]
    channels, length = state.shape[1:]
    spans = (length + DSPAN - 1) // DSPAN
    b = item // spans
    first = (item % spans) * DSPAN
    n = min(DSPAN, length - first)
    lo, hi = first // 8, (first + n + 7) // 8  # its bytes of the bit planes
    flag = flag64.view(np.uint8)  # [CHANNEL_BLOCK, DSPAN]: 0 or 1 per value
    if fresh:  # a sequence begins: its state is zero
        for c in range(channels):
            state[b, c, first : first + n] = 0.0
    total[:steps, :n] = 0.0
    for block in range(0, channels, CHANNEL_BLOCK):
        if block + 8 <= channels:  # CHANNEL_BLOCK == 8 channels at once
            p0, p1 = state[b, block, first : first + n], state[b, block + 1, first : first + n]
            p2, p3 = state[b, block + 2, first : first + n], state[b, block + 3, first : first + n]
            p4, p5 = state[b, block + 4, first : first + n], state[b, block + 5, first : first + n]
            p6, p7 = state[b, block + 6, first : first + n], state[b, block + 7, first : first + n]
            g0, g1, g2, g3 = flag[0], flag[1], flag[2], flag[3]
            g4, g5, g6, g7 = flag[4], flag[5], flag[6], flag[7]
            for t in range(steps):
                for k in range(8):
                    _unpack(planes[t, b, block + k, lo:hi], flag64[k])
                tot = total[t]
                for i in range(n):  # part = 0 + x0 + x1 + ... + x7 in float32, as `_steps`
                    part = _neuron(p0, g0, i, decay, inclusive)
                    part += _neuron(p1, g1, i, decay, inclusive)
                    part += _neuron(p2, g2, i, decay, inclusive)
                    part += _neuron(p3, g3, i, decay, inclusive)
                    part += _neuron(p4, g4, i, decay, inclusive)
                    part += _neuron(p5, g5, i, decay, inclusive)
                    part += _neuron(p6, g6, i, decay, inclusive)
                    part += _neuron(p7, g7, i, decay, inclusive)
                    tot[i] += part
                if words is not None:
                    for k in range(8):
                        _mark(words[b, block + k, first : first + n], flag[k], marks[t, b])
            continue
        g = flag[0]  # the last channels, fewer than 8: one at a time
        for t in range(steps):
            sums[:n] = 0.0
            for c in range(block, channels):
                p = state[b, c, first : first + n]
                _unpack(planes[t, b, c, lo:hi], flag64[0])
                for i in range(n):
                    f = np.float32(g[i])
                    w = decay * p[i]
                    sums[i] += (w + inclusive) * f
                    p[i] = w + f
                if words is not None:
                    _mark(words[b, c, first : first + n], g, marks[t, b])
            tot = total[t]
            for i in range(n):
                tot[i] += sums[i]
    for t in range(steps):
        maps[t, b, first : first + n] = total[t, :n]


@numba.njit(parallel=True, cache=True)
def _block(state, planes, maps, decay, inclusive, words, marks, fresh, totals, sums, flags):  # noqa: E501  # pragma: no cover
    spans = (state.shape[2] + DSPAN - 1) // DSPAN
    for item in numba.prange(state.shape[0] * spans):
        me = numba.get_thread_id()
        total, row, flag = totals[me], sums[me], flags[me]  # this thread's rows
        _block_item(
            state, planes, maps, decay, inclusive, words, marks, fresh, total, row, flag, item
        )


@numba.njit(cache=True)
def _block_here(state, planes, maps, decay, inclusive, words, marks, fresh, totals, sums, flags):  # noqa: E501  # pragma: no cover
    spans = (state.shape[2] + DSPAN - 1) // DSPAN
    total, row, flag = totals[0], sums[0], flags[0]
    for item in range(state.shape[0] * spans):  # on the calling thread: see PARALLEL_MIN
        _block_item(
            state, planes, maps, decay, inclusive, words, marks, fresh, total, row, flag, item
        )


def sam_block(
    state: Tensor,
    planes: np.ndarray,
    maps: Tensor,
    decay: float,
    inclusive: bool = False,
    words: np.ndarray | None = None,
    marks: np.ndarray | None = None,
    fresh: bool = False,
) -> None:
    """What `sam_steps` does for 0/1 spikes [T, B, C, *spatial], from their bits `planes`
    [T, B, C, ceil(positions / 8)] (`pack_step`): advance `state` P [B, C, *spatial] in place,
    write the maps into `maps` [T, B, *spatial] (the same values, bit for bit) and, with
    `words` and `marks` [T, B], OR marks[t, b] into the word of each neuron firing at step t.
    The state is read and written once for the T steps; `fresh`: it is zero (a sequence begins),
    and is not read."""
    steps, batch, channels = planes.shape[:3]
    p = state.numpy().reshape(batch, channels, -1)
    kernel = _block if steps * p.size >= PARALLEL_MIN else _block_here
    kernel(
        p,
        planes,
        maps.numpy().reshape(steps, batch, -1),
        p.dtype.type(decay),
        p.dtype.type(inclusive),
        None if words is None else words.reshape(batch, channels, -1),
        marks,
        fresh,
        *_block_scratch(steps, p.dtype),
    )


def _block_scratch(steps: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_block`'s work rows, one set per pool thread (`steps` x DSPAN sums in float64, a row of
    DSPAN channel sums in `dtype`, and CHANNEL_BLOCK x DSPAN bytes of flags), made once per
    calling thread (and when more steps come)."""
    kept = _local.__dict__.setdefault("blocks", {})
    rows = kept.get(dtype)
    if rows is None or rows[0].shape[1] < steps:
        threads = numba.config.NUMBA_NUM_THREADS
        rows = kept[dtype] = (
            np.empty((threads, steps, DSPAN), np.float64),
            np.empty((threads, DSPAN), dtype),
            np.empty((threads, CHANNEL_BLOCK, DSPAN // 8), np.uint64),
        )
    return rows


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
