"""The literal SAM formula of Kim & Panda (2021), O(T^2): a reference to check the engine against.

Slow on purpose: it follows the paper's double sum term by term. Use `sam_plugins.engine` for
real work.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..engine.streaming import check_window


def literal_neuronal_contribution(spikes: Tensor, gamma: float, window: str = "previous") -> Tensor:
    """N[t] = sum_{t' < t, S[t'] != 0} exp(-gamma * |t - t'|), for spikes [T, B, ...]; with
    ``window="inclusive"`` the sum runs over t' <= t (the spike at t adds exp(0) = 1)."""
    last = 1 if check_window(window) == "inclusive" else 0
    dtype = torch.float64 if spikes.dtype == torch.float64 else torch.float32
    fired = (spikes != 0).to(dtype)
    n = torch.zeros(spikes.shape, dtype=dtype, device=spikes.device)
    for t in range(spikes.shape[0]):
        for t_prev in range(t + last):
            n[t] += math.exp(-gamma * abs(t - t_prev)) * fired[t_prev]
    return n


def literal_spike_activation_map(spikes: Tensor, gamma: float, window: str = "previous") -> Tensor:
    """M[t, b, ...] = sum_k N[t, b, k, ...] * S[t, b, k, ...], for spikes [T, B, C, ...]."""
    n = literal_neuronal_contribution(spikes, gamma, window)
    return (n * spikes.to(n.dtype)).sum(dim=2)


def literal_layer_maps(spikes: Tensor, gamma: float, window: str = "previous") -> Tensor:
    """The map of any layer, literally: spikes [T, B, C, *spatial] give sum_k N * S,
    [T, B, *spatial]; spikes [T, B, N] of a layer without a layout give each neuron's own
    N * S, [T, B, N], term by term ``M[t, b, n] = S[t, b, n] * sum_{t'} exp(-gamma |t - t'|)
    [S[t', b, n] != 0]``."""
    if spikes.dim() >= 4:
        return literal_spike_activation_map(spikes, gamma, window)
    n = literal_neuronal_contribution(spikes, gamma, window)
    return n * spikes.to(n.dtype)
