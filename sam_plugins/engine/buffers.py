"""What a recording keeps of one layer: its maps step by step, in a buffer that grows."""

from __future__ import annotations

import torch
from torch import Tensor

from .streaming import _frozen, as_places, score_dtype


class LayerBuffer:
    """The maps [T, B, *spatial] of one layer ([T, B, N] for a layer without spatial axes:
    each neuron its own place) as they are recorded, and its raw spikes when asked to keep them.

    The map buffer grows by doubling: one allocation for many steps instead of one per step.
    After `reset` the first allocation is sized for as many steps as the last sequence had, or
    as `expect` says.
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
        self._spikes: list[Tensor] = []

    def expect(self, steps: int) -> None:
        """Size the next first allocation for `steps` steps (a sequence whose length is known
        before it runs): one allocation of the maps, none grown and copied, none too large."""
        self._expected = steps

    @property
    def recorded(self) -> bool:
        return self._maps is not None

    def room(self, spikes: Tensor) -> Tensor:
        """Where this call's maps go: [steps, B, *spatial] (a slice of the buffer) for spikes
        [steps, B, C, *spatial], [steps, B, N] for spikes [steps, B, N]."""
        if self.keep_spikes:
            self._spikes.append(spikes.clone())
        places = as_places(spikes)
        shape = (spikes.shape[1], *places.shape[3:])
        return self.rows(spikes.shape[0], shape, score_dtype(spikes.dtype), spikes.device)

    def rows(
        self, steps: int, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
    ) -> Tensor:
        """Where the maps of `steps` more steps go: [steps, *shape] (a slice of the buffer),
        for maps of `shape` ([B, *spatial]) per step."""
        maps, filled = self._maps, self.filled
        need = filled + steps
        if maps is None or need > maps.shape[0] or _frozen(maps):
            room = max(need, 2 * filled, self._expected)
            grown = torch.empty((room, *shape), dtype=dtype, device=device)
            if filled:
                grown[:filled] = maps[:filled]
            self._maps = grown
        self.filled = need
        return self._maps[filled:need]

    def take(self) -> tuple[Tensor, Tensor | None]:
        """(maps of the steps so far, spikes [T, B, ...] or None).

        The maps are handed out as they are, without a copy; the buffer is cut to the steps
        filled, so that recording on (without reset) moves to a new buffer instead of writing
        into what was handed out."""
        if self._maps is None:
            raise RuntimeError("nothing was recorded in this layer")
        self._maps = self._maps[: self.filled]
        spikes = torch.cat(self._spikes) if self.keep_spikes else None
        return self._maps, spikes
