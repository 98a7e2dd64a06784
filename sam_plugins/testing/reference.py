"""The literal SAM formula of Kim & Panda (2021), O(T^2): a reference to check the engine against.

Slow on purpose: it follows the paper's double sum term by term. Use `sam_plugins.engine` for
real work.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def literal_neuronal_contribution(spikes: Tensor, gamma: float) -> Tensor:
    """N[t] = sum_{t' < t, S[t'] != 0} exp(-gamma * |t - t'|), for spikes [T, B, ...]."""
    dtype = torch.float64 if spikes.dtype == torch.float64 else torch.float32
    fired = (spikes != 0).to(dtype)
    n = torch.zeros(spikes.shape, dtype=dtype, device=spikes.device)
    for t in range(spikes.shape[0]):
        for t_prev in range(t):
            n[t] += math.exp(-gamma * abs(t - t_prev)) * fired[t_prev]
    return n


def literal_spike_activation_map(spikes: Tensor, gamma: float) -> Tensor:
    """M[t, b, ...] = sum_k N[t, b, k, ...] * S[t, b, k, ...], for spikes [T, B, C, ...]."""
    n = literal_neuronal_contribution(spikes, gamma)
    return (n * spikes.to(n.dtype)).sum(dim=2)
