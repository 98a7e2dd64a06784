"""The SAM engine: streaming neuronal contribution scores and heat maps, pure torch.

For spikes S[t, b, k, ...] (any non-zero value counts as a spike and keeps its value):

    N[t] = sum over earlier spike times t' < t of exp(-gamma * (t - t'))   (N[0] = 0)
    M[t, b, ...] = sum_k N[t, b, k, ...] * S[t, b, k, ...]

N is computed online, N[t] = exp(-gamma) * (N[t-1] + [S[t-1] != 0]): O(T) time and one
layer of state, whatever T is. ``window="inclusive"`` also counts the spike at t itself, as the
paper authors' code does (window t' <= t): N_incl[t] = N[t] + [S[t] != 0], so step 0 has a map
too (see docs/paper.md). The literal O(T^2) double sum lives in
`sam_plugins.testing.reference` for checking. The compiled CPU kernel, when available, is
chosen once in `sam_plugins.engine.backend`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import backend
from .pool import POOL

DEFER = 16
"""Steps `StreamingSAM.defer` keeps as bits before they are run together (`flush`), from step 0
of the sequence on: the layer's state is read and written once per DEFER steps instead of every
step. The spike statistics' words hold as many steps (`sam_plugins.analysis._numba.BLOCK`), so
that a block of words SAM's pass marks is complete when the statistics count it."""

BLOCK = 16
SMALL_LAYER = 1 << 15
"""Multi-step calls on layers of at most SMALL_LAYER values per step are processed BLOCK steps
at a time (fewer kernel calls), larger layers step by step (less memory traffic)."""

DEFAULT_GAMMA = 0.5
"""Default decay of the temporal spike contribution exp(-gamma * |t - t'|).

0.5 is the default of the paper authors' reference code (Kim & Panda 2021: main.py,
``parser.add_argument('--gamma', default=0.5, ...)``); a spike then counts e^-0.5 ~ 0.61 one
step later and has faded below 0.01 after ten steps.
"""

WINDOWS = ("previous", "inclusive")
"""Which spikes N[t] counts: "previous", t' < t (the paper's formula as written, N[0] = 0), or
"inclusive", t' <= t (the authors' code: the spike at t adds exp(0) = 1)."""


def _check_gamma(gamma: float) -> float:
    gamma = float(gamma)
    if not math.isfinite(gamma) or gamma < 0:
        raise ValueError(f"gamma must be a finite number >= 0, found {gamma!r}")
    return gamma


def check_window(window: str) -> str:
    """`window` if it is one of `WINDOWS`."""
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {list(WINDOWS)}, found {window!r}")
    return window


def has_spatial_layout(spikes: Tensor) -> bool:
    """Whether spikes [steps, B, ...] have channels and a spatial axis ([steps, B, C, H, ...]),
    so that SAM sums the channels at each place; without one ([steps, B, N], a layer fed by
    Linear) each neuron is its own place (see `as_places`)."""
    return spikes.dim() >= 4


def as_places(spikes: Tensor) -> Tensor:
    """`spikes` [steps, B, C, *spatial] as they are; spikes without spatial axes [steps, B, N]
    as [steps, B, 1, N]: one channel of N places, so that a layer's map sum_C N * S keeps each
    neuron's own N * S, [steps, B, N] (a view, no copy)."""
    return spikes if has_spatial_layout(spikes) else spikes.unsqueeze(2)


_SCORE_DTYPES = (torch.float32, torch.float64)


def score_dtype(dtype: torch.dtype) -> torch.dtype:
    """The floating dtype scores are computed in: float64 stays, everything else is float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


class StreamingSAM:
    """Online SAM state of one layer: feed it spikes step by step, get maps step by step.

    Holds the state for the next step ([B, ...], one layer's worth of memory), never the spike
    history.
    Pass ``binary=True`` only for spikes known to be 0/1: they then serve as their own spike
    indicator, which saves a comparison per step.
    The values are not checked here (that would cost a pass over every call's spikes): the
    recorder and the functional API (`spike_activation_map`, `neuronal_contribution`) do.
    Empty spikes (no step, sample or neuron) are refused.

    Args:
        gamma: decay of the temporal contribution exp(-gamma * |t - t'|).
        window: "previous" (N[t] sums spikes at t' < t) or "inclusive" (t' <= t, as the
            authors' code): see `WINDOWS`.
    """

    def __init__(
        self, gamma: float = DEFAULT_GAMMA, window: str = "previous", *, recycle: bool = False
    ) -> None:
        self.recycle = recycle
        """Whether the state and bit planes go to `pool.POOL` when this stream is deleted, for
        the next stream of the same shape: only for a stream whose state nobody else holds
        (`SpikeActivationMap`'s own)."""
        self.gamma = _check_gamma(gamma)
        self.window = check_window(window)
        self.inclusive = window == "inclusive"
        self.decay = math.exp(-self.gamma)
        # P[t] = N[t] / decay for the step about to come, so that the update
        # P[t+1] = decay * P[t] + [S[t] != 0] is a single fused kernel.
        self.state: Tensor | None = None
        self.steps = 0
        self._pbuf: Tensor | None = None  # P of a block of steps (small layers)
        self.marked = False  # whether the last update marked the firing steps in `words`
        self.pending = 0  # steps taken by `defer` and not yet run (`flush`)
        self.counts: np.ndarray | None = None
        """Spikes per sample [B] (int64) of the steps `defer` took since the sequence began
        (None if it took none)."""
        self._planes: np.ndarray | None = None  # their spikes as bits [DEFER, B, C, bytes]
        self._marks: np.ndarray | None = None  # their step marks [DEFER, B] (uint16)
        self._words: Any = None  # the words those marks go into, or None
        self._deferred: torch.Size | None = None  # the spikes' shape `defer` is ready for
        self._fresh = False  # whether the state is still to be zeroed (by `flush`)
        self._kernels = backend.current()
        self._fired: Tensor | None = None  # the last `fired` given to `defer`, and as numpy
        self._fired_np: np.ndarray | None = None

    def _own(self, buffer: Tensor | None, shape: torch.Size, like: Tensor) -> Tensor:
        """`buffer` if it fits (`_fits`), else a new one: from the pool where this stream
        recycles (`buffer` then goes there)."""
        if not self.recycle or (buffer is not None and _fits(buffer, shape, like)):
            return _fit(buffer, shape, like)
        if buffer is not None:
            POOL.give(buffer)
        return POOL.take_tensor(tuple(shape), like)

    def __del__(self) -> None:
        # the next stream of this shape takes the state and bit planes (`pool`): a SAM made
        # per batch then writes no fresh memory for them
        try:
            if self.recycle:
                for buffer in (self.state, self._planes):
                    if buffer is not None:
                        POOL.give(buffer)
        except Exception:  # __init__ raised early, or the interpreter is shutting down
            pass

    def reset(self) -> None:
        """Start a new sequence. The buffers stay, to be reused when the next sequence has the
        same shape: allocating layer-sized memory on every sequence costs more than SAM's own
        arithmetic on CPUs. Deferred steps not yet flushed are dropped."""
        self.steps = 0
        self.pending = 0
        self.counts = None
        self._deferred = None  # `defer` makes ready again (zeroes the state, counts anew)

    def _start(self, spikes: Tensor, deferred: bool = False) -> Tensor:
        """Check `spikes` against the sequence so far and make the state ready for them (zeroed
        when a sequence begins, or for `defer`, marked fresh: the first `flush` zeroes each row
        as it reaches it, in cache); count their steps unless `deferred`."""
        if spikes.dim() < 2:
            raise ValueError(
                f"spikes must be shaped [steps, batch, ...], found shape {tuple(spikes.shape)}"
            )
        if spikes.numel() == 0:
            raise ValueError(
                "spikes must hold at least one step, one sample and one neuron, found shape "
                f"{tuple(spikes.shape)}"
            )
        s = spikes if spikes.dtype in _SCORE_DTYPES else spikes.to(score_dtype(spikes.dtype))
        if self.steps == 0:  # a new sequence
            self.state = self._own(self.state, s[0].shape, s)
            self._fresh = deferred
            if not deferred:
                self.state.zero_()
        elif self.state.shape != s.shape[1:]:
            raise ValueError(
                f"spikes of shape {tuple(s.shape[1:])} per step do not continue the "
                f"earlier steps of shape {tuple(self.state.shape)}; call reset() between sequences"
            )
        elif self.state.is_inference() and not torch.is_inference_mode_enabled():
            self.state = self.state.clone()  # the sequence began in inference mode, goes on outside
        if not deferred:
            self.steps += s.shape[0]
        return s

    def _blocks(self, s: Tensor, binary: bool) -> Iterator[tuple[int, Tensor]]:
        """Walk `s` [steps, B, ...] in blocks; yield (first step, P of the block's steps).

        Large layers go one step per block, P being the state itself (no copy): no buffer of P
        is written and read back, which is what costs on them. Small layers go BLOCK steps at a
        time, P built step by step (one fused kernel each), so that the caller's product runs
        once per block: on them the number of kernel calls is what costs.
        The state moves on, P[t+1] = decay * P[t] + [S[t] != 0], after the caller used P."""
        fired = s if binary else (s != 0).to(s.dtype)
        size = BLOCK if s[0].numel() <= SMALL_LAYER else 1
        for start in range(0, s.shape[0], size):
            n = min(size, s.shape[0] - start)
            if n == 1:
                p = self.state.unsqueeze(0)
            else:
                p = self._pbuf = _fit(self._pbuf, (n, *self.state.shape), s)
                p[0] = self.state
                for i in range(1, n):
                    torch.add(fired[start + i - 1], p[i - 1], alpha=self.decay, out=p[i])
            yield start, p
            torch.add(fired[start + n - 1], p[-1], alpha=self.decay, out=self.state)

    def contributions(self, spikes: Tensor, binary: bool = False) -> Tensor:
        """Advance over `spikes` [steps, B, ...]; return N for those steps, [steps, B, ...]."""
        s = self._start(spikes)
        out = torch.empty_like(s)
        for start, p in self._blocks(s, binary):
            torch.mul(p, self.decay, out=out[start : start + len(p)])
        if self.inclusive:  # N_incl[t] = N[t] + [S[t] != 0]
            out.add_(s if binary else (s != 0).to(s.dtype))
        return out

    def defer(self, spikes: Tensor, fired: Tensor, words: Any = None, marks: Any = None) -> bool:
        """Take one step of 0/1 spikes [1, B, C, *spatial] for later: count them now (into
        `fired` [1, B], int64 on the CPU, and added to `counts`) and keep them as bits, to be
        run by `flush` with the steps around them. The state is then read and written once per
        `DEFER` steps instead of every step: on a CPU, beside a model that calls each layer
        once per step, that traffic is most of what SAM costs. `words` and `marks` [1, B] as
        in `update`; the marks are ORed in at `flush`.

        Returns False, having changed nothing but `fired`, where the step is not taken: no
        compiled kernel, a GPU or non-contiguous tensor, another dtype, several steps, values
        other than 0 and 1, a shape or words other than the pending steps'. The caller then
        flushes and runs the step with `update`. Flush when `full` says so, and before reading
        the maps."""
        if (
            spikes.shape != self._deferred
            or spikes.dtype != self.state.dtype
            or not spikes.is_cpu
            or (self.pending and words is not self._words)
            or self.pending == DEFER  # full: flush first
        ) and not self._can_defer(spikes, words):
            return False
        if fired is not self._fired:
            self._fired, self._fired_np = fired, fired.numpy().reshape(-1)
        bad = self._kernels.pack(spikes, self._planes[self.pending], self._fired_np, self.counts)
        if not bad:  # 0: packed; None: declined (a non-contiguous tensor, ...)
            if bad is None:
                return False
            self.steps += 1
            self._words = words
            if words is not None:
                self._marks[self.pending] = marks[0]
            self.pending += 1
            self.marked = words is not None
            return True
        self.counts -= self._fired_np  # values bits cannot hold: `update` counts them
        return False

    def _can_defer(self, spikes: Tensor, words: Any) -> bool:
        """Whether `defer` can take steps of the shape of `spikes`, made ready to (the state
        zeroed if a sequence begins; the bit planes and counts allocated)."""
        if self.pending:  # only steps that continue the pending ones, on the same kernels
            return (
                self.pending < DEFER
                and spikes.is_cpu
                and spikes.shape[0] == 1
                and self.state.shape == spikes.shape[1:]
                and self.state.dtype == spikes.dtype
                and words is self._words
            )
        self._kernels = backend.current()
        if (
            self._kernels.name != "numba"
            or spikes.dim() < 3
            or spikes.shape[0] != 1
            or not spikes.is_cpu
            or spikes.dtype not in _SCORE_DTYPES
        ):
            return False
        self._start(spikes, deferred=True)
        batch, channels = spikes.shape[1:3]
        planes = (DEFER, batch, channels, -(-spikes.shape[3:].numel() // 8))
        if self._planes is None or self._planes.shape != planes:
            if self._planes is not None and self.recycle:
                POOL.give(self._planes)
            take = POOL.take_array if self.recycle else np.empty
            self._planes = take(planes, np.uint8)
            self._marks = np.zeros(planes[:2], np.uint16)
        if self.counts is None:
            self.counts = np.zeros(batch, np.int64)
        self._deferred = spikes.shape
        return True

    @property
    def full(self) -> bool:
        """Whether the deferred steps end a block of `DEFER` steps of the sequence."""
        return self.pending > 0 and self.steps % DEFER == 0

    def flush(self, out: Tensor) -> None:
        """Run the deferred steps: write their maps into `out` [pending, B, *spatial] (as
        `update` would have) and move the state on."""
        k = self.pending
        self._kernels.sam_block(  # the backend that packed them
            self.state,
            self._planes[:k],
            out,
            self.decay,
            self.inclusive,
            self._words,
            None if self._words is None else self._marks[:k],
            self._fresh,
        )
        self.pending, self._words, self._fresh = 0, None, False

    def update(
        self,
        spikes: Tensor,
        binary: bool = False,
        out: Tensor | None = None,
        scores: Tensor | None = None,
        fired: Tensor | None = None,
        words: Any = None,
        marks: Any = None,
    ) -> Tensor:
        """Advance over `spikes` [steps, B, C, *spatial] (C: the channels, or the neurons of a
        layer without spatial axes); return N * S of those steps summed over C:
        [steps, B, *spatial], or [steps, B] without spatial axes.

        Args:
            out: a tensor of that shape and the score dtype to write into, instead of a new one
                (a recorder fills one buffer over many calls).
            scores: a tensor [B, C, *spatial] of the score dtype to which N * S summed over the
                steps is added: per-neuron scores.
            fired: an int64 tensor [steps, B] into which the spikes (non-zero values) of each
                step and sample are written, counted while the spikes are read for the maps
                (no pass of its own over them).
            words: a numpy uint16 array [B, C, *spatial] into which, in the same pass,
                marks[t, b] is ORed for each neuron that fires at step t (spike statistics
                record firing steps so). Only the compiled kernel does this, and not with
                `scores`: `self.marked` then says whether it was done.
            marks: a numpy uint16 array [steps, B] of the marks, with `words`.
        """
        if self.pending:
            raise RuntimeError(
                f"{self.pending} deferred step(s) are pending: flush() them before update()"
            )
        self.marked = False
        if spikes.dim() < 3:
            raise ValueError(
                "spikes must be shaped [steps, batch, neurons or channels, ...], found shape "
                f"{tuple(spikes.shape)}"
            )
        s = self._start(spikes)
        out = _buffer("out", out, s.shape[:2] + s.shape[3:], s)
        scores = _buffer("scores", scores, s.shape[1:], s, make=False)
        if fired is not None and (
            fired.shape != s.shape[:2] or fired.dtype != torch.int64 or fired.device != s.device
        ):
            raise ValueError(
                f"fired must be int64 of shape {tuple(s.shape[:2])} on {s.device}, found "
                f"{fired.dtype} of shape {tuple(fired.shape)} on {fired.device}"
            )
        if backend.current().sam_steps(
            self.state, s, out, scores, self.decay, self.inclusive, fired, words, marks
        ):
            self.marked = words is not None and scores is None
            return out
        for start, p in self._blocks(s, binary):  # N * S = decay * P * S
            block, into = s[start : start + len(p)], out[start : start + len(p)]
            if fired is not None:  # the block is in cache now: counted before it leaves
                fired[start : start + len(p)] = torch.count_nonzero(block.flatten(2), dim=2)
            if scores is None:  # the channel sum without the product kept (vecdot)
                torch.linalg.vecdot(p, block, dim=2, out=into)
            else:
                product = p * block
                torch.sum(product, dim=2, out=into)
                scores.add_(product.sum(dim=0), alpha=self.decay)
        out.mul_(self.decay)
        if self.inclusive:  # N_incl * S = N * S + [S != 0] * S = N * S + S
            out.add_(s.sum(dim=2))
            if scores is not None:
                scores.add_(s.sum(dim=0))
        return out


def _buffer(
    name: str, given: Tensor | None, shape: torch.Size, like: Tensor, make: bool = True
) -> Tensor | None:
    """`given` after checking its shape and dtype, or a new tensor (None if not `make`)."""
    if given is None:
        return like.new_empty(shape) if make else None
    if given.shape != shape or given.dtype != like.dtype or given.device != like.device:
        raise ValueError(
            f"{name} must be {like.dtype} of shape {tuple(shape)} on {like.device}, found "
            f"{given.dtype} of shape {tuple(given.shape)} on {given.device}"
        )
    return given


def _frozen(buffer: Tensor) -> bool:
    """Whether `buffer` is an inference tensor that cannot be written here: made under
    torch.inference_mode (as evaluation loops run) and written to outside it."""
    return buffer.is_inference() and not torch.is_inference_mode_enabled()


def _fits(buffer: Tensor, shape: tuple[int, ...], like: Tensor) -> bool:
    """Whether `buffer` has this shape and the dtype and device of `like`, and can be written
    to here."""
    return (
        buffer.shape == tuple(shape)
        and buffer.dtype == like.dtype
        and buffer.device == like.device
        and not _frozen(buffer)
    )


def _fit(buffer: Tensor | None, shape: tuple[int, ...], like: Tensor) -> Tensor:
    """`buffer` if it fits (`_fits`), else a new uninitialised tensor."""
    if buffer is not None and _fits(buffer, shape, like):
        return buffer
    return like.new_empty(tuple(shape))


def check_spike_values(spikes: Tensor, result: Tensor | None = None) -> Tensor:
    """`spikes` if its values are real and finite, else ValueError saying how many are not.

    One sum decides (NaN and infinity propagate through it): over `result` when given, maps
    made from `spikes` (a NaN or infinite spike makes its step's map NaN or infinite: 0 * inf
    is NaN), which is smaller than the spikes; else over the spikes. The values are counted
    only when the sum is not finite."""
    if spikes.is_complex():
        raise ValueError(f"spikes must be real, found {spikes.dtype}")
    if not spikes.is_floating_point():
        return spikes  # integers and bools are always finite
    if math.isfinite(float((spikes if result is None else result).sum())):
        return spikes
    bad = int((~torch.isfinite(spikes)).sum())
    if bad:
        raise ValueError(
            f"spikes must be finite, found {bad} value{'s' if bad > 1 else ''} that "
            f"{'are' if bad > 1 else 'is'} NaN or infinite in spikes of shape "
            f"{tuple(spikes.shape)}"
        )
    if result is not None and not bool(torch.isfinite(result).all()):
        raise ValueError(
            f"the maps overflow {result.dtype}: spikes up to {float(spikes.abs().max()):g} are "
            "too large for it; pass float64 spikes"
        )
    return spikes  # only the sum overflowed: every value is finite


def neuronal_contribution(
    spikes: Tensor, gamma: float = DEFAULT_GAMMA, window: str = "previous"
) -> Tensor:
    """Neuronal contribution score N of Kim & Panda (2021).

    Args:
        spikes: [T, B, ...] spike trains; any non-zero value is a spike.
        gamma: decay of the temporal contribution exp(-gamma * |t - t'|).
        window: "previous" (t' < t) or "inclusive" (t' <= t, the authors' code).

    Returns:
        N, [T, B, ...] (float32, or float64 for float64 input): for each neuron and step t the sum
        of exp(-gamma * (t - t')) over its spike times t' < t (N[0] = 0), or t' <= t.

    Raises:
        ValueError: spikes that are empty, complex, NaN or infinite.
    """
    stream = StreamingSAM(gamma, window)
    return stream.contributions(check_spike_values(spikes))


def spike_activation_map(
    spikes: Tensor, gamma: float = DEFAULT_GAMMA, window: str = "previous"
) -> Tensor:
    """Raw Spike Activation Maps M[t, b, i, j] = sum_k N[t, b, k, i, j] * S[t, b, k, i, j].

    Args:
        spikes: [T, B, C, H, W] (or [T, B, C, *spatial]) spike trains; or [T, B, N] of a layer
            without spatial axes (fed by Linear), whose neurons are each their own place.
        gamma: decay of the temporal contribution.
        window: "previous" (t' < t) or "inclusive" (t' <= t, the authors' code).

    Returns:
        [T, B, H, W] (or [T, B, *spatial]) raw maps, not normalised; [T, B, N] for spikes
        [T, B, N]: each neuron's N * S.

    Raises:
        ValueError: spikes with fewer than 3 axes, empty, complex, NaN or infinite.
    """
    if spikes.dim() < 3:
        raise ValueError(
            "spike_activation_map needs spikes shaped [T, B, C, H, W] (or [T, B, C, L], or "
            f"[T, B, N] for a layer without spatial axes), found shape {tuple(spikes.shape)}"
        )
    stream = StreamingSAM(gamma, window)
    if spikes.is_complex():
        check_spike_values(spikes)
    maps = stream.update(as_places(spikes))
    check_spike_values(spikes, maps)
    return maps
