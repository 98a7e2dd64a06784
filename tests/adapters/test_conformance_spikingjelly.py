"""The SpikingJelly adapter on the shared conformance suite (sam_plugins.testing.conformance)."""

import torch
from sam_plugins_spikingjelly import SpikingJellyAdapter
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn

from sam_plugins.testing.conformance import AdapterConformance, Case

T, B = 6, 2


def net(step_mode):
    def make():
        model = nn.Sequential(
            layer.Conv2d(1, 4, 3, padding=1),
            neuron.LIFNode(tau=2.0),
            layer.Flatten(),
            layer.Linear(256, 5),
            neuron.IFNode(v_threshold=0.1),
        )
        functional.set_step_mode(model, step_mode)
        return model

    return make


def single_step_loop(model, x):
    return torch.stack([model(xt) for xt in x])


def psn_net():
    model = nn.Sequential(layer.Linear(5, 6), neuron.PSN(T=T))
    functional.set_step_mode(model, "m")
    return model


class TestSpikingJellyConformance(AdapterConformance):
    adapter = SpikingJellyAdapter()
    entry_point = "spikingjelly"

    def cases(self):
        torch.manual_seed(1)
        x = torch.rand(T, B, 1, 8, 8) * 3
        whole = lambda model, x: model(x)  # noqa: E731
        return [
            Case("single-step", net("s"), x, {"1": "single", "4": "single"}, single_step_loop),
            Case("multi-step", net("m"), x, {"1": "multi", "4": "multi"}, whole),
            Case("parallel", psn_net, torch.rand(T, B, 5) * 4, {"1": "multi"}, whole),
        ]
