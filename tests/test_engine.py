"""The streaming engine against the literal double sum of the paper."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sam_plugins import StreamingSAM, neuronal_contribution, spike_activation_map
from sam_plugins.reference import literal_neuronal_contribution, literal_spike_activation_map

gammas = st.floats(0.0, 3.0, allow_nan=False)
shapes = st.tuples(
    st.integers(1, 12), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)
)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, gamma=gammas, data=st.data())
def test_binary_spikes_match_literal_sum(shape, gamma, data):
    spikes = torch.from_numpy(data.draw(arrays(np.bool_, shape))).float()
    torch.testing.assert_close(
        neuronal_contribution(spikes, gamma), literal_neuronal_contribution(spikes, gamma)
    )
    torch.testing.assert_close(
        spike_activation_map(spikes, gamma), literal_spike_activation_map(spikes, gamma)
    )


@settings(max_examples=60, deadline=None)
@given(shape=shapes, gamma=gammas, data=st.data())
def test_graded_spikes_match_literal_sum(shape, gamma, data):
    values = st.sampled_from([0.0, 0.0, 0.0, 0.25, 1.0, 2.5, -0.5])
    spikes = torch.from_numpy(data.draw(arrays(np.float64, shape, elements=values)))
    expected = literal_spike_activation_map(spikes, gamma)
    got = spike_activation_map(spikes, gamma)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, expected)


def test_hand_computed_example():
    # one neuron spiking at t = 0, 1, 3: N = [0, d, d + d^2, d^2 + d^3, ...]
    d = math.exp(-0.5)
    spikes = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0]).reshape(5, 1, 1, 1, 1)
    n = neuronal_contribution(spikes, 0.5).flatten()
    expected = torch.tensor([0.0, d, d + d**2, d**2 + d**3, d + d**3 + d**4])
    torch.testing.assert_close(n, expected)
    m = spike_activation_map(spikes, 0.5).flatten()
    torch.testing.assert_close(m, expected * spikes.flatten())


def test_single_step_has_zero_contribution():
    spikes = torch.ones(1, 2, 3, 4, 4)
    assert spike_activation_map(spikes).abs().sum() == 0
    assert neuronal_contribution(spikes).shape == spikes.shape


def test_all_zero_input_gives_zero_maps():
    assert spike_activation_map(torch.zeros(9, 2, 3, 5, 5)).abs().sum() == 0


def test_streaming_in_chunks_equals_one_call():
    spikes = (torch.rand(17, 2, 3, 4, 4) < 0.3).float()
    stream = StreamingSAM(0.4)
    parts = [stream.update(chunk) for chunk in (spikes[:1], spikes[1:6], spikes[6:7], spikes[7:])]
    torch.testing.assert_close(torch.cat(parts), StreamingSAM(0.4).update(spikes))
    torch.testing.assert_close(torch.cat(parts), StreamingSAM(0.4).update(spikes, binary=True))
    assert stream.steps == 17


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.float16, torch.bfloat16])
def test_other_dtypes(dtype):
    spikes = torch.rand(6, 2, 3, 4, 4) < 0.5
    got = spike_activation_map(spikes.to(dtype))
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, literal_spike_activation_map(spikes.float(), 0.5))


@pytest.mark.parametrize("gamma", [-0.1, float("nan"), float("inf")])
def test_bad_gamma_is_refused(gamma):
    with pytest.raises(ValueError, match="gamma"):
        neuronal_contribution(torch.zeros(2, 1, 3), gamma)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\[T, B, C, H, W\]"):
        spike_activation_map(torch.zeros(4, 2, 3))
    with pytest.raises(ValueError, match=r"\[steps, batch"):
        neuronal_contribution(torch.zeros(4))
    stream = StreamingSAM()
    stream.update(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="reset"):
        stream.update(torch.zeros(1, 4, 3))
