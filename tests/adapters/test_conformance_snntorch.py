"""The snnTorch adapter on the shared conformance suite (sam_plugins.testing.conformance)."""

import snntorch as snn
import torch
from sam_plugins_snntorch import SnnTorchAdapter
from torch import nn

from sam_plugins.testing.conformance import AdapterConformance, Case

T, B = 6, 2


def hidden_net():
    """init_hidden=True: the state lives in the neurons, one call per step."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        snn.Leaky(beta=0.8, init_hidden=True),
        nn.Flatten(),
        nn.Linear(256, 5),
        snn.Synaptic(alpha=0.7, beta=0.8, threshold=0.05, init_hidden=True, output=True),
    )


def loop(net, x):
    return [net(xt) for xt in x]


def stacked_loop(net, x):
    """What the default runner returns: (spk, syn, mem) of each step, stacked element-wise."""
    steps = loop(net, x)
    return tuple(torch.stack(parts) for parts in zip(*steps, strict=True))


class OwnLoop(nn.Module):
    """init_hidden=False: the snnTorch tutorial's time loop inside forward."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.lif1 = snn.Leaky(beta=0.8)
        self.fc = nn.Linear(256, 5)
        self.lif2 = snn.Leaky(beta=0.8, threshold=0.05)

    def forward(self, x):
        mem1, mem2 = self.lif1.reset_mem(), self.lif2.reset_mem()
        spikes = []
        for xt in x:
            spk1, mem1 = self.lif1(self.conv(xt), mem1)
            spk2, mem2 = self.lif2(self.fc(spk1.flatten(1)), mem2)
            spikes.append(spk2)
        return torch.stack(spikes)


def parallel_net():
    return nn.Sequential(nn.Linear(5, 6), snn.LeakyParallel(6, 4))


class TestSnnTorchConformance(AdapterConformance):
    adapter = SnnTorchAdapter()
    entry_point = "snntorch"

    def cases(self):
        torch.manual_seed(1)
        x = torch.rand(T, B, 1, 8, 8) * 3
        return [
            Case("init_hidden", hidden_net, x, {"1": "single", "4": "single"}, stacked_loop),
            Case("own loop", OwnLoop, x, {"lif1": "single", "lif2": "single"}, lambda n, x: n(x)),
            Case(
                "parallel", parallel_net, torch.rand(T, B, 5) * 4, {"1": "multi"}, lambda n, x: n(x)
            ),
        ]
