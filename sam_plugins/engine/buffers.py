"""What a recording keeps of one layer: its maps step by step, in a buffer that grows."""

from __future__ import annotations

import torch
from torch import Tensor

from .streaming import _frozen, has_spatial_layout, score_dtype


class LayerBuffer:
    """The maps [T, B, *spatial] of one layer (for a layer without spatial axes: its per-step
    profile [T, B]) as they are recorded, and that layer's per-neuron scores [B, ...] (layers
    without spatial axes) and raw spikes (when asked to keep them).

    The map buffer grows by doubling: one allocation for many steps instead of one per step.
    After `reset` the first allocation is sized for as many steps as the last sequence had.
    """

    def __init__(self, keep_spikes: bool = False) -> None:
        self.keep_spikes = keep_spikes
        self.filled = 0
        self._expected = 16
        self.reset()

    def reset(self) -> None:
        """Forget the recorded steps (the buffers handed out by `take` stay valid)."""
        self._expected = self.filled or self._expected
        self._maps: Tensor | None = None
        self.filled = 0
        self.scores: Tensor | None = None
        self._spikes: list[Tensor] = []

    @property
    def recorded(self) -> bool:
        return self._maps is not None

    def room(self, spikes: Tensor) -> tuple[Tensor, Tensor | None]:
        """Where this call's maps go ([steps, B, *spatial], a slice of the buffer) and the
        per-neuron scores to add to (layers without spatial axes, else None), for spikes
        [steps, B, C, ...]."""
        if self.keep_spikes:
            self._spikes.append(spikes.clone())
        dtype = score_dtype(spikes.dtype)
        if not has_spatial_layout(spikes) and self.scores is None:
            self.scores = spikes.new_zeros(spikes.shape[1:], dtype=dtype)
        elif self.scores is not None and _frozen(self.scores):  # inference mode left mid-way
            self.scores = self.scores.clone()
        maps, filled = self._maps, self.filled
        need = filled + spikes.shape[0]
        if maps is None or need > maps.shape[0] or _frozen(maps):
            room = max(need, 2 * filled, self._expected)
            grown = spikes.new_empty((room, spikes.shape[1], *spikes.shape[3:]), dtype=dtype)
            if filled:
                grown[:filled] = maps[:filled]
            self._maps = grown
        self.filled = need
        return self._maps[filled:need], self.scores

    def take(self) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """(maps or profile of the steps so far, scores, spikes [T, B, ...] or None).

        The maps are handed out as they are, without a copy; the buffer is cut to the steps
        filled, so that recording on (without reset) moves to a new buffer instead of writing
        into what was handed out."""
        if self._maps is None:
            raise RuntimeError("nothing was recorded in this layer")
        self._maps = self._maps[: self.filled]
        spikes = torch.cat(self._spikes) if self.keep_spikes else None
        scores = None if self.scores is None else self.scores.clone()
        return self._maps, scores, spikes
