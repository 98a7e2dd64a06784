"""Layers without a layout (per-step output [B, N]: fed by Linear, or recurrent cells) get maps
[T, B, N], each neuron its own place, equal to the paper's literal double sum; their scores
stay the time sum and their heat maps are normalised per sample and step, never resized."""

import pytest
import snntorch as snn
import torch
from conftest import check_adapter, first
from sam_plugins_snntorch import SnnTorchAdapter
from sam_plugins_spikingjelly import SpikingJellyAdapter
from spikingjelly.activation_based import layer, neuron
from torch import nn

from sam_plugins import SpikeActivationMap, SpikeCount, explain, spike_activation_map
from sam_plugins.engine import backend
from sam_plugins.testing.reference import literal_layer_maps

T, B = 12, 3


@pytest.mark.parametrize("engine", ["numba", "torch"])
@pytest.mark.parametrize("window", ["previous", "inclusive"])
def test_flat_spikes_give_each_neuron_its_own_map(engine, window):
    graded = (torch.rand(T, B, 7) < 0.4) * torch.rand(T, B, 7) * 3  # graded spikes too
    with backend.use(engine):
        got = spike_activation_map(graded, 0.4, window=window)
    assert got.shape == (T, B, 7)
    torch.testing.assert_close(got, literal_layer_maps(graded, 0.4, window))


def loop(net, x):
    return torch.stack([first(net(xt)) for xt in x])


def fc_snntorch(recurrent: str | None = None) -> nn.Sequential:
    """20 inputs -> 16 neurons (plain, or snnTorch's recurrent RLeaky / RSynaptic) -> 4."""
    hidden = {
        None: lambda: snn.Leaky(beta=0.8, init_hidden=True),
        "RLeaky": lambda: snn.RLeaky(beta=0.8, linear_features=16, init_hidden=True),
        "RSynaptic": lambda: snn.RSynaptic(
            alpha=0.7, beta=0.8, linear_features=16, init_hidden=True
        ),
    }[recurrent]
    net = nn.Sequential(
        nn.Linear(20, 16),
        hidden(),
        nn.Linear(16, 4),
        snn.Leaky(beta=0.8, init_hidden=True, output=True),
    )
    with torch.no_grad():
        net[0].weight.mul_(3)
        net[2].weight.mul_(3)
    return net


@pytest.mark.parametrize("recurrent", [None, "RLeaky", "RSynaptic"])
def test_snntorch_fully_connected_and_recurrent_layers_are_exact(recurrent):
    net, x = fc_snntorch(recurrent), torch.rand(T, B, 20) * 2
    spikes = {}
    result = check_adapter(SnnTorchAdapter(), net, x, loop, spikes_out=spikes)
    for name, layer_sam in result.items():  # check_adapter compared maps and scores too
        torch.testing.assert_close(layer_sam.maps, literal_layer_maps(spikes[name], 0.5))
        assert layer_sam.maps.shape == (T, B, spikes[name].shape[2])
        torch.testing.assert_close(layer_sam.scores, layer_sam.maps.sum(0))
        torch.testing.assert_close(layer_sam.profile, layer_sam.maps.sum(2))


@pytest.mark.parametrize("container", ["LinearRecurrentContainer", "ElementWiseRecurrentContainer"])
def test_spikingjelly_recurrent_containers_are_exact(container):
    make = {
        "LinearRecurrentContainer": lambda: layer.LinearRecurrentContainer(
            neuron.IFNode(), in_features=16, out_features=16
        ),
        "ElementWiseRecurrentContainer": lambda: layer.ElementWiseRecurrentContainer(
            neuron.IFNode(), element_wise_function=lambda y, x: x + 0.5 * y
        ),
    }[container]
    net = nn.Sequential(layer.Linear(20, 16), make(), layer.Linear(16, 4), neuron.LIFNode())
    with torch.no_grad():
        net[0].weight.mul_(3)
        net[2].weight.mul_(3)
    spikes = {}
    result = check_adapter(
        SpikingJellyAdapter(), net, torch.rand(T, B, 20) * 2, loop, spikes_out=spikes
    )
    name = "1.sub_module"
    assert name in result and spikes[name].any()
    torch.testing.assert_close(result.maps(name), literal_layer_maps(spikes[name], 0.5))


def test_heatmap_of_flat_maps_is_normalised_per_sample_and_step_without_resizing():
    net, x = fc_snntorch(), torch.rand(T, B, 20) * 2
    result = explain(net, x, run=loop)
    raw, heat = result.maps("1"), result.heatmap("1")
    assert heat.shape == raw.shape == (T, B, 16)
    for t in range(T):
        for b in range(B):
            span = raw[t, b].max() - raw[t, b].min()
            expected = (raw[t, b] - raw[t, b].min()) / span if span > 0 else torch.zeros(16)
            torch.testing.assert_close(heat[t, b], expected)
    assert heat[0].abs().sum() == 0  # step 0: N = 0 everywhere, an all-zero map stays zero
    assert heat.amax(dim=2)[1:].eq(1).any()
    with pytest.raises(ValueError, match=r"size=None"):
        result.heatmap("1", size=(16, 16))


def test_spike_count_maps_flat_layers_too():
    net, x = fc_snntorch(), torch.rand(T, B, 20) * 2
    spikes = {}
    check_adapter(SnnTorchAdapter(), net, x, loop, spikes_out=spikes)
    counts = SpikeCount(net, run=loop).attribute(x)
    torch.testing.assert_close(counts.maps("1"), (spikes["1"] != 0).float())


def test_recording_with_the_context_manager_gives_the_same_flat_maps():
    net, x = fc_snntorch(), torch.rand(T, B, 20) * 2
    one_call = explain(net, x, run=loop)
    SnnTorchAdapter().reset(net)
    with SpikeActivationMap(net) as sam:
        for xt in x[:5]:  # two chunks of steps: the buffer grows, the state carries on
            net(xt)
        for xt in x[5:]:
            net(xt)
    for name in one_call:
        torch.testing.assert_close(sam.result().maps(name), one_call.maps(name))
