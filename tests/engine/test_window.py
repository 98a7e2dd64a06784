"""The inclusive window (t' <= t, the paper authors' code) against a transcription of their loop
and against the literal double sum, on both kernel backends."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sam_plugins import neuronal_contribution, spike_activation_map
from sam_plugins.engine import StreamingSAM
from sam_plugins.testing.reference import (
    literal_neuronal_contribution,
    literal_spike_activation_map,
)


def authors_maps(spikes: torch.Tensor, gamma: float) -> torch.Tensor:
    """The maps [T, H, W] of the authors' main.py (Intelligent-Computing-Lab-Yale/
    Visual-Explanations-from-Spiking-Neural-Networks-using-Interspike-Intervals) for spikes
    [T, 1, C, H, W] (their batch size is 1), before their display normalisation. Their loop:

        for l, activation in enumerate(activation_list_value):
            activation = activation
            previous_spike_time_list.append(activation)
            weight = 0

            for prev_t in range(len(previous_spike_time_list)):
                delta_t = time - previous_spike_time_list[prev_t]* prev_t
                weight +=  torch.exp(gamma * (-1) * delta_t)

            weighted_activation = weight.cuda() * activation
            weighted_activation = weighted_activation.data.cpu().numpy()
            overlay = getForwardCAM(weighted_activation)
            ...
            time += 1

    and in getForwardCAM, before min/max: ``cam = feature_conv.sum(axis =0).sum(axis =0)``.
    """
    time = 0
    previous_spike_time_list = []
    maps = []
    for activation in spikes.double():
        previous_spike_time_list.append(activation)
        weight = 0
        for prev_t in range(len(previous_spike_time_list)):
            delta_t = time - previous_spike_time_list[prev_t] * prev_t
            weight += torch.exp(gamma * (-1) * delta_t)
        weighted_activation = weight * activation
        maps.append(weighted_activation.sum(axis=0).sum(axis=0))
        time += 1  # noqa: SIM113 (their code, as written)
    return torch.stack(maps)


def firing_from_the_start(steps: int, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Spikes [T, 1, *shape] where each neuron fires at every step from 0 until a random stop,
    then never again: a spike at t always follows spikes at all t' < t, so the authors' dt
    (which counts a silent t' as exp(-gamma t)) cannot differ from the formula."""
    stops = torch.randint(0, steps + 1, (1, *shape), generator=torch.Generator().manual_seed(seed))
    return (torch.arange(steps).view(-1, *[1] * (len(shape) + 1)) < stops).float()


@pytest.mark.parametrize("gamma", [0.5, 0.2, 1.3])
def test_inclusive_window_equals_the_authors_loop_where_their_dt_cannot_matter(kernels, gamma):
    spikes = firing_from_the_start(12, (8, 5, 5), seed=1)
    assert 0 < spikes.mean() < 1 and spikes[-1].sum() > 0  # non-trivial trains, late spikes too
    theirs = authors_maps(spikes, gamma)
    ours = spike_activation_map(spikes.double(), gamma, window="inclusive")[:, 0]
    torch.testing.assert_close(ours, theirs)
    # the paper's window t' < t gives other maps: the authors' code does not compute it
    assert not torch.allclose(spike_activation_map(spikes, gamma)[:, 0].double(), theirs)


def test_where_the_authors_dt_matters_we_follow_the_formula(kernels):
    gamma = 0.5
    # one neuron, silent at 0, 1, 3; spikes at 2 and 4
    spikes = torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0]).reshape(5, 1, 1, 1, 1)
    formula = 1 + math.exp(-gamma * 2)  # t' = 4 (exp(0)) and t' = 2
    theirs = authors_maps(spikes, gamma).flatten()
    ours = spike_activation_map(spikes, gamma, window="inclusive").flatten()
    # their three silent steps each add exp(-gamma * 4) = e^-2 (dt = 4 - 0 * t')
    assert theirs[4].item() == pytest.approx(formula + 3 * math.exp(-2))
    assert ours[4].item() == pytest.approx(formula)
    torch.testing.assert_close(
        ours, literal_spike_activation_map(spikes, gamma, "inclusive").flatten()
    )
    # and a spike at t' = 0 cannot be told from silence in their code (dt = t - 1 * 0 = t)
    early = torch.tensor([1.0, 0.0, 1.0]).reshape(3, 1, 1, 1, 1)
    late = torch.tensor([0.0, 0.0, 1.0]).reshape(3, 1, 1, 1, 1)
    assert torch.equal(authors_maps(early, gamma)[2], authors_maps(late, gamma)[2])
    ours_early = spike_activation_map(early, gamma, window="inclusive").flatten()[2]
    ours_late = spike_activation_map(late, gamma, window="inclusive").flatten()[2]
    assert ours_early.item() == pytest.approx(1 + math.exp(-1))
    assert ours_late.item() == pytest.approx(1.0)


def test_hand_computed_inclusive_example(kernels):
    # one neuron spiking at t = 0, 1, 3: each step adds its own spike (exp(0) = 1)
    d = math.exp(-0.5)
    spikes = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0]).reshape(5, 1, 1, 1, 1)
    n = neuronal_contribution(spikes, 0.5, window="inclusive").flatten()
    expected = torch.tensor([1.0, 1 + d, d + d**2, 1 + d**2 + d**3, d + d**3 + d**4])
    torch.testing.assert_close(n, expected)
    m = spike_activation_map(spikes, 0.5, window="inclusive").flatten()
    torch.testing.assert_close(m, expected * spikes.flatten())
    assert m[0] == 1  # step 0 has a map with this window (none with t' < t)
    assert spike_activation_map(spikes, 0.5).flatten()[0] == 0


gammas = st.floats(0.0, 3.0, allow_nan=False)
windows = st.sampled_from(["previous", "inclusive"])
shapes = st.tuples(
    st.integers(1, 12), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)
)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, gamma=gammas, window=windows, data=st.data())
def test_both_windows_match_the_literal_sum(kernels, shape, gamma, window, data):
    values = st.sampled_from([0.0, 0.0, 0.0, 1.0, 1.0, 0.25, 2.5, -0.5])
    graded = torch.from_numpy(data.draw(arrays(np.float64, shape, elements=values)))
    binary = (graded != 0).float()
    for spikes in (binary, graded):
        torch.testing.assert_close(
            neuronal_contribution(spikes, gamma, window),
            literal_neuronal_contribution(spikes, gamma, window),
        )
        torch.testing.assert_close(
            spike_activation_map(spikes, gamma, window),
            literal_spike_activation_map(spikes, gamma, window),
        )
    inclusive = neuronal_contribution(graded, gamma, "inclusive")
    previous = neuronal_contribution(graded, gamma, "previous")
    torch.testing.assert_close(inclusive, previous + (graded != 0).double())


@pytest.mark.parametrize("binary", [False, True])
def test_inclusive_scores_buffers_and_chunks(kernels, binary):
    spikes = (torch.rand(9, 2, 5, 3) < 0.4).float()  # no spatial axes: per-neuron scores
    n = literal_neuronal_contribution(spikes, 0.5, "inclusive")
    out, scores = torch.zeros(9, 2, 3), torch.ones(2, 5, 3)
    stream = StreamingSAM(0.5, window="inclusive")
    for chunk in (slice(0, 1), slice(1, 5), slice(5, 9)):
        stream.update(spikes[chunk], binary, out=out[chunk], scores=scores)
    torch.testing.assert_close(out, (n * spikes).sum(dim=2))
    torch.testing.assert_close(scores, 1 + (n * spikes).sum(dim=0))
    assert stream.window == "inclusive"


def test_bad_window_is_refused():
    with pytest.raises(ValueError, match=r"window must be one of \['previous', 'inclusive'\]"):
        StreamingSAM(0.5, window="current")
    with pytest.raises(ValueError, match="window"):
        literal_neuronal_contribution(torch.zeros(2, 1, 1), 0.5, "t<=t")
