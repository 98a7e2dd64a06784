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


def literal_spike_statistics(spikes, lengths, bins: int):
    """Spike counts and inter-spike intervals, neuron by neuron: for spikes [T, B, ...] (numpy,
    0/1) whose sample b has its first lengths[b] steps, the spikes per step and sample [T, B]
    (0 on padding) and the histogram [bins + 1] of every interval between two spikes of one
    neuron of one sample (np.diff of its spike times; intervals of `bins` steps or more in the
    last entry)."""
    import numpy as np

    steps, batch = spikes.shape[:2]
    flat = spikes.reshape(steps, batch, -1)
    counts = np.zeros((steps, batch), dtype=np.int64)
    isi = np.zeros(bins + 1, dtype=np.int64)
    for b, length in enumerate(lengths):
        counts[:length, b] = flat[:length, b].sum(1)
        for neuron in flat[:length, b].T:
            for d in np.diff(np.nonzero(neuron)[0]):
                isi[min(d, bins)] += 1
    return counts, isi


def literal_layer_maps(spikes: Tensor, gamma: float, window: str = "previous") -> Tensor:
    """The map of any layer, literally: spikes [T, B, C, *spatial] give sum_k N * S,
    [T, B, *spatial]; spikes [T, B, N] of a layer without a layout give each neuron's own
    N * S, [T, B, N], term by term ``M[t, b, n] = S[t, b, n] * sum_{t'} exp(-gamma |t - t'|)
    [S[t', b, n] != 0]``."""
    if spikes.dim() >= 4:
        return literal_spike_activation_map(spikes, gamma, window)
    n = literal_neuronal_contribution(spikes, gamma, window)
    return n * spikes.to(n.dtype)


def authors_tsa(
    weights: list[Tensor],
    layer_spikes: list[Tensor],
    probs: Tensor,
    tc: int,
    beta: float,
    variant: str,
) -> Tensor:
    """The TSA authors' ``tsa()`` loop (ElisaNguyen/tsa-explanations,
    experiments/ExplanationCreation.py), transcribed for one sample: their spike trains (spike
    times per unit), ``spike_contribution``, the per-step diagonal matrices and their products.

    Args:
        weights: per layer [n_l, n_{l+1}] (their layout: in x out; nn.Linear's weight.T).
        layer_spikes: per layer feeding a weight, spikes [T, n_l] (the input first).
        probs: [classes] the confidences at tc.
        tc: the current time (their loop runs t = 0 .. tc - 1).
        beta: their ``model.beta``.
        variant: "s" or "ns".

    Returns:
        [classes, n_in, tc], as theirs.
    """
    layer_sizes = [s.shape[1] for s in layer_spikes]

    def spike_contribution(spike_times, t, layer_size):
        diff_t = torch.abs(tc - spike_times)
        score = beta**diff_t
        if len(score) == 0:
            if variant == "s":
                score = torch.tensor([0])
            elif variant == "ns":
                score = torch.Tensor([(-1 / layer_size) * (beta ** (tc - t))])
        return score

    def get_spike_trains(spk):  # [T, n] -> per unit its spike times
        times, units = spk.nonzero(as_tuple=True)
        return [times[units == unit].to(torch.float64) for unit in range(spk.shape[1])]

    layers_spk_trains = [get_spike_trains(s) for s in layer_spikes]
    tsa_map = []
    for t in range(0, tc):
        layers_w_spk_contr_t = []
        for l in range(len(weights)):  # noqa: E741 (their name)
            spk_train = layers_spk_trains[l]
            l_spk_contr_t = [
                spike_contribution(spk_train[i][spk_train[i] == t], t, layer_sizes[l])
                for i in range(layer_sizes[l])
            ]
            l_spk_contr_t = torch.stack([c.to(torch.float64) for c in l_spk_contr_t])
            l_spk_contr_t = torch.diag(torch.squeeze(l_spk_contr_t, 1))
            layers_w_spk_contr_t.append(torch.matmul(l_spk_contr_t, weights[l].double()))
        w_spk_contr_t = layers_w_spk_contr_t[0]
        for l_w_spk_contr_t in layers_w_spk_contr_t[1:]:
            w_spk_contr_t = torch.matmul(w_spk_contr_t, l_w_spk_contr_t)
        scores = torch.matmul(w_spk_contr_t, torch.diag(probs.double()))
        tsa_map.append(scores)
    return torch.stack(tsa_map).transpose(0, 2)
