"""The SAM engine: streaming neuronal contribution scores and heat maps, pure torch.

For spikes S[t, b, k, ...] (any non-zero value counts as a spike and keeps its value):

    N[t] = sum over earlier spike times t' < t of exp(-gamma * (t - t'))   (N[0] = 0)
    M[t, b, ...] = sum_k N[t, b, k, ...] * S[t, b, k, ...]

N is computed online, N[t] = exp(-gamma) * (N[t-1] + [S[t-1] != 0]): O(T) time and one
layer of state, whatever T is. The literal O(T^2) double sum lives in `sam_plugins.reference`
for checking.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor

DEFAULT_GAMMA = 0.5
"""Default decay of the temporal spike contribution exp(-gamma * |t - t'|).

0.5 is the default of the paper authors' reference code (Kim & Panda 2021); a spike then counts
e^-0.5 ~ 0.61 one step later and has faded below 0.01 after ten steps.
"""


def _check_gamma(gamma: float) -> float:
    gamma = float(gamma)
    if not math.isfinite(gamma) or gamma < 0:
        raise ValueError(f"gamma must be a finite number >= 0, found {gamma!r}")
    return gamma


def has_spatial_layout(spikes: Tensor) -> bool:
    """Whether spikes [steps, B, ...] have channels and a spatial axis ([steps, B, C, H, ...]),
    so that SAM gives a map per step rather than per-neuron scores."""
    return spikes.dim() >= 4


def score_dtype(dtype: torch.dtype) -> torch.dtype:
    """The floating dtype scores are computed in: float64 stays, everything else is float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


class StreamingSAM:
    """Online SAM state of one layer: feed it spikes step by step, get maps step by step.

    Holds the state for the next step ([B, ...], one layer's worth of memory), never the spike
    history.
    Pass ``binary=True`` only for spikes known to be 0/1: they then serve as their own spike
    indicator, which saves a comparison per step.
    """

    def __init__(self, gamma: float = DEFAULT_GAMMA) -> None:
        self.gamma = _check_gamma(gamma)
        self.decay = math.exp(-self.gamma)
        # P[t] = N[t] / decay for the step about to come, so that the update
        # P[t+1] = decay * P[t] + [S[t] != 0] is a single fused kernel.
        self.state: Tensor | None = None
        self.steps = 0

    def reset(self) -> None:
        self.state = None
        self.steps = 0

    def _start(self, spikes: Tensor) -> Tensor:
        if spikes.dim() < 2:
            raise ValueError(
                f"spikes must be shaped [steps, batch, ...], found shape {tuple(spikes.shape)}"
            )
        if self.state is not None and self.state.shape != spikes.shape[1:]:
            raise ValueError(
                f"spikes of shape {tuple(spikes.shape[1:])} per step do not continue the "
                f"earlier steps of shape {tuple(self.state.shape)}; call reset() between sequences"
            )
        self.steps += spikes.shape[0]
        return spikes.to(score_dtype(spikes.dtype))

    def _steps(self, s: Tensor, binary: bool) -> Iterator[tuple[int, Tensor]]:
        """Walk `s` [steps, B, ...] step by step; yield (i, P[i]) with P[i] the state itself
        (no copy). The state moves on, P[i+1] = decay * P[i] + [S[i] != 0] in one fused
        kernel, after the caller has used it. Step by step beats building P for several steps
        at once: no layer-sized buffer per step is written and read back."""
        if self.state is None:
            self.state = torch.zeros_like(s[0])
        for i, step in enumerate(s):
            yield i, self.state
            fired = step if binary else (step != 0).to(step.dtype)
            torch.add(fired, self.state, alpha=self.decay, out=self.state)

    def contributions(self, spikes: Tensor, binary: bool = False) -> Tensor:
        """Advance over `spikes` [steps, B, ...]; return N for those steps, [steps, B, ...]."""
        s = self._start(spikes)
        out = torch.empty_like(s)
        for i, p in self._steps(s, binary):
            torch.mul(p, self.decay, out=out[i])
        return out

    def update(self, spikes: Tensor, binary: bool = False) -> Tensor:
        """Advance over `spikes` [steps, B, ...]; return N * S of those steps, summed over the
        channel axis where there is a spatial layout: [steps, B, *spatial] for spikes
        [steps, B, C, *spatial], else [steps, B, K] unreduced for spikes [steps, B, K]."""
        s = self._start(spikes)
        spatial = has_spatial_layout(s)
        out = s.new_empty(s.shape[:2] + s.shape[3:] if spatial else s.shape)
        for i, p in self._steps(s, binary):  # N * S = decay * P * S
            if spatial:  # summed over channels (vecdot: faster than mul + sum)
                torch.linalg.vecdot(p, s[i], dim=1, out=out[i])
            else:
                torch.mul(p, s[i], out=out[i])
        return out.mul_(self.decay)


def neuronal_contribution(spikes: Tensor, gamma: float = DEFAULT_GAMMA) -> Tensor:
    """Neuronal contribution score N of Kim & Panda (2021).

    Args:
        spikes: [T, B, ...] spike trains; any non-zero value is a spike.
        gamma: decay of the temporal contribution exp(-gamma * |t - t'|).

    Returns:
        N, [T, B, ...] (float32, or float64 for float64 input): for each neuron and step t the sum
        of exp(-gamma * (t - t')) over its earlier spike times t' < t. N[0] = 0.
    """
    return StreamingSAM(gamma).contributions(spikes)


def spike_activation_map(spikes: Tensor, gamma: float = DEFAULT_GAMMA) -> Tensor:
    """Raw Spike Activation Maps M[t, b, i, j] = sum_k N[t, b, k, i, j] * S[t, b, k, i, j].

    Args:
        spikes: [T, B, C, H, W] (or [T, B, C, *spatial]) spike trains.
        gamma: decay of the temporal contribution.

    Returns:
        [T, B, H, W] (or [T, B, *spatial]) raw maps, not normalised.
    """
    if not has_spatial_layout(spikes):
        raise ValueError(
            "spike_activation_map needs spikes shaped [T, B, C, H, W] (channels and at least one "
            f"spatial axis), found shape {tuple(spikes.shape)}; use neuronal_contribution for "
            "layers without spatial layout"
        )
    return StreamingSAM(gamma).update(spikes)
