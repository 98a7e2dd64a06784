"""Spike statistics of one batch: spikes per step and sample, and inter-spike intervals,
computed from where the spikes are (one ``nonzero`` per call, for all its steps), never with
per-step passes over the whole layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sam_plugins.engine import backend
from sam_plugins.engine.streaming import DEFER as _BLOCK  # steps per word: SAM's block

try:
    from . import _numba
except ImportError:  # numba is optional (the "fast" extra): the torch path does the same
    _numba = None


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
    """Recorder consumer: spike counts and ISIs of each layer, from the spikes' positions.

    Per call it finds the spikes once (``nonzero`` over all steps of the call) and works on
    their positions only: per step, the spikes per sample (a bincount) and each spike's interval
    since the same neuron's previous spike (a gather from, and scatter to, one int tensor of
    last spike times). Nothing of the size of the layer is written per step.
    """

    def __init__(self, isi_bins: int = 64, sam: Any = None) -> None:
        """`sam`: the SpikeActivationMap recording the same layers (its consumer runs before
        this one), whose pass over each call's spikes then also counts them and marks the
        firing steps for the intervals (compiled kernels): the statistics read no spike
        themselves."""
        if not 1 <= isi_bins <= 254:
            raise ValueError(f"isi_bins must be in [1, 254], found {isi_bins}")
        self.isi_bins = isi_bins
        self._spare: dict[str, dict[str, np.ndarray]] = {}  # compiled state, kept over batches
        self._sam = sam
        if sam is not None:
            sam.step_words = self._words
        self.reset(torch.ones(1, dtype=torch.long))

    def reset(self, lengths: Tensor) -> None:
        """Start a batch whose samples have `lengths` [B] valid steps (later steps are padding
        and count nowhere)."""
        self.lengths, self.shortest = lengths, int(lengths.min())
        self._lengths_np = lengths.cpu().numpy().astype(np.int64)
        self._mark_steps(int(lengths.max()))
        self._steps: dict[str, int] = {}
        self._last: dict[str, Tensor] = {}
        self._counts: dict[str, list[Any]] = {}  # per call: numpy (compiled) or torch counts
        self._isi: dict[str, Tensor] = {}
        self._neurons: dict[str, int] = {}

    def _mark_steps(self, steps: int) -> None:
        """Per step t < `steps` and sample: whether t is one of the sample's own steps
        (`_valid`), and the bit of t in its block (`_bits`, 0 on padding), made once per batch
        rather than per call."""
        t = np.arange(steps)[:, None]
        self._valid = (t < self._lengths_np[None, :]).astype(np.int64)  # x fired: one dtype
        self._bits = np.where(self._valid, 1 << (t % _BLOCK), 0).astype(np.uint16)

    def _step_rows(self, first: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """`_valid` and `_bits` of steps first .. first + steps - 1 (made longer for a call
        past the longest sample: padding)."""
        if first + steps > len(self._valid):
            self._mark_steps(first + steps)
        return self._valid[first : first + steps], self._bits[first : first + steps]

    @staticmethod
    def _compilable(spikes: Tensor) -> bool:
        return (
            _numba is not None
            and backend.current().name == "numba"
            and spikes.is_cpu
            and spikes.is_contiguous()
            and spikes.dtype in (torch.float32, torch.float64)
        )

    def _words(self, target, spikes: Tensor) -> tuple[Any, Any]:
        """For SAM's pass over this call's `spikes` (asked before it runs): the layer's
        step words [B, neurons] and the call's marks [steps, B] (the bit of each step, 0 on
        padding), or (None, None) where this consumer reads the spikes itself: no compiled
        kernel, or a call that crosses a block of BLOCK steps (its words must be counted
        between)."""
        first, steps = self._steps.get(target.name, 0), spikes.shape[0]
        if not self._compilable(spikes) or first % _BLOCK + steps > _BLOCK:
            return None, None
        state = self._state(target.name, spikes)
        return state["bits"], self._step_rows(first, steps)[1]

    def __call__(self, target, spikes: Tensor) -> None:
        name, n, batch = target.name, spikes.shape[0], spikes.shape[1]
        if self._sam is not None and self._sam.marked.get(name):  # SAM's pass did the reading
            self._marked(name, self._sam.fired[name].numpy(), n)
            return
        if self._compilable(spikes):
            self._compiled(name, spikes)
            return
        if isinstance(self._isi.get(name), dict):  # the batch began in the compiled passes:
            # a call they cannot take (non-contiguous, another dtype) goes on there as a copy
            self._compiled(name, spikes.detach().to("cpu", torch.float32).contiguous())
            return
        flat = spikes.reshape(n, -1)  # [steps, B * neurons]
        if name not in self._steps:
            self._steps[name] = 0
            self._last[name] = torch.full(flat.shape[1:], -1, dtype=torch.long, device=flat.device)
            self._counts[name] = []
            self._isi[name] = flat.new_zeros(self.isi_bins + 1, dtype=torch.long)
            self._neurons[name] = flat.shape[1] // batch
            self._lengths = self.lengths.to(flat.device)
        neurons, last, first = self._neurons[name], self._last[name], self._steps[name]
        where = flat.nonzero()  # [spikes, 2]: (step of the call, position), sorted by step
        if n == 1:
            per_step = [where[:, 1]]
        else:
            per_step = where[:, 1].split(torch.bincount(where[:, 0], minlength=n).tolist())
        for i, position in enumerate(per_step):
            t = first + i
            sample = torch.div(position, neurons, rounding_mode="floor")
            if t >= self.shortest:  # some samples are padding from here on
                keep = t < self._lengths[sample]
                position, sample = position[keep], sample[keep]
            self._counts[name].append(torch.bincount(sample, minlength=batch))
            before = last[position]
            intervals = (t - before[before >= 0]).clamp_(max=self.isi_bins)
            self._isi[name] += torch.bincount(intervals, minlength=self.isi_bins + 1)
            last[position] = t
        self._steps[name] = first + n

    def _state(self, name: str, spikes: Tensor) -> dict[str, np.ndarray]:
        """The compiled state of layer `name` for this batch, made at its first call."""
        if name not in self._steps:
            self._steps[name] = 0
            neurons, batch = spikes[0, 0].numel(), spikes.shape[1]
            spare = self._spare.get(name)
            if spare is None or spare["bits"].shape[0] < batch or spare["bits"].shape[1] != neurons:
                spare = self._spare[name] = _numba.new_state(batch, neurons)
            self._isi[name] = _numba.zeroed(spare, batch)
            self._counts[name] = []
            self._neurons[name] = neurons
        return self._isi[name]

    def _marked(self, name: str, fired: np.ndarray, steps: int) -> None:
        """A call whose spikes SAM's pass counted (`fired` [steps, B]) and marked: the counts
        of padded steps dropped, the block's intervals counted when the call ends it."""
        first = self._steps[name]
        self._counts[name].append(fired * self._step_rows(first, steps)[0])  # padding: 0
        if (first + steps) % _BLOCK == 0:
            _numba.close_block(self._isi[name], first + steps - 1, self._lengths_np)
        self._steps[name] = first + steps

    def _compiled(self, name: str, spikes: Tensor) -> None:
        """The same statistics in compiled passes (numba): state kept as numpy arrays."""
        state = self._state(name, spikes)
        first = self._steps[name]
        self._counts[name].append(_numba.spike_stats(spikes, first, self._lengths_np, state))
        self._steps[name] = first + spikes.shape[0]

    def finish(self, name: str) -> LayerStats:
        """Statistics of layer `name` for the batch."""
        if self._sam is not None:
            self._sam.flush()  # its pass marks the last steps' words when it runs them
        counts, isi = self._counts[name], self._isi[name]
        if isinstance(isi, dict):  # compiled: per-step blocks, interval counts by length
            codes = _numba.interval_counts(isi, self._steps[name])
            folded = codes[: self.isi_bins + 1].copy()
            folded[0] = 0
            folded[-1] += codes[self.isi_bins + 1 :].sum()
            counts = torch.from_numpy(np.concatenate(counts))  # numpy [steps, B] per call
            return LayerStats(counts, self._neurons[name], torch.from_numpy(folded))
        return LayerStats(torch.stack(counts).cpu(), self._neurons[name], isi.cpu())
