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


def score_dtype(dtype: torch.dtype) -> torch.dtype:
    """The floating dtype scores are computed in: float64 stays, everything else is float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


class StreamingSAM:
    """Online SAM state of one layer: feed it spikes step by step, get maps step by step.

    Holds N for the next step ([B, ...], one layer's worth of memory), never the spike history.
    """

    def __init__(self, gamma: float = DEFAULT_GAMMA) -> None:
        self.gamma = _check_gamma(gamma)
        self.decay = math.exp(-self.gamma)
        self.next_n: Tensor | None = None  # N[t] for the step about to come
        self.steps = 0

    def reset(self) -> None:
        self.next_n = None
        self.steps = 0

    def update(self, spikes: Tensor) -> tuple[Tensor, Tensor]:
        """Advance over `spikes` [steps, B, ...]; return (N, N * S), both [steps, B, ...]."""
        if spikes.dim() < 2:
            raise ValueError(
                f"spikes must be shaped [steps, batch, ...], found shape {tuple(spikes.shape)}"
            )
        dtype = score_dtype(spikes.dtype)
        s = spikes.to(dtype)
        n = self.next_n
        if n is not None and n.shape != s.shape[1:]:
            raise ValueError(
                f"spikes of shape {tuple(s.shape[1:])} per step do not continue the earlier "
                f"steps of shape {tuple(n.shape)}; call reset() between sequences"
            )
        if n is None:
            n = torch.zeros(s.shape[1:], dtype=dtype, device=s.device)
        if s.shape[0] == 1:  # the single-step hot path: no copy of N
            contributions = n.unsqueeze(0)
            n = torch.add(n, s[0] != 0).mul_(self.decay)
        else:
            contributions = torch.empty_like(s)
            for t in range(s.shape[0]):
                contributions[t] = n
                n = torch.add(n, s[t] != 0).mul_(self.decay)
        self.next_n = n
        self.steps += s.shape[0]
        return contributions, contributions * s


def neuronal_contribution(spikes: Tensor, gamma: float = DEFAULT_GAMMA) -> Tensor:
    """Neuronal contribution score N of Kim & Panda (2021).

    Args:
        spikes: [T, B, ...] spike trains; any non-zero value is a spike.
        gamma: decay of the temporal contribution exp(-gamma * |t - t'|).

    Returns:
        N, [T, B, ...] (float32, or float64 for float64 input): for each neuron and step t the sum
        of exp(-gamma * (t - t')) over its earlier spike times t' < t. N[0] = 0.
    """
    return StreamingSAM(gamma).update(spikes)[0]


def spike_activation_map(spikes: Tensor, gamma: float = DEFAULT_GAMMA) -> Tensor:
    """Raw Spike Activation Maps M[t, b, i, j] = sum_k N[t, b, k, i, j] * S[t, b, k, i, j].

    Args:
        spikes: [T, B, C, H, W] (or [T, B, C, *spatial]) spike trains.
        gamma: decay of the temporal contribution.

    Returns:
        [T, B, H, W] (or [T, B, *spatial]) raw maps, not normalised.
    """
    if spikes.dim() < 4:
        raise ValueError(
            "spike_activation_map needs spikes shaped [T, B, C, H, W] (channels and at least one "
            f"spatial axis), found shape {tuple(spikes.shape)}; use neuronal_contribution for "
            "layers without spatial layout"
        )
    return StreamingSAM(gamma).update(spikes)[1].sum(dim=2)
