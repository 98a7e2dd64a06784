"""Small models of each framework for the command-line tests, built by factories the CLI names
as ``framework_models:NAME`` (this folder is put on sys.path by those tests). Seeded, so that the
CLI's model and the test's model are the same."""

import warnings

import sinabs.layers as sl
import torch
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import norse.torch as nt

T = 6


def norse_net():
    torch.manual_seed(0)
    return nt.SequentialState(
        nn.Conv2d(2, 4, 3, padding=1), nt.LIFCell(), nn.Flatten(), nn.Linear(4 * 64, 3)
    )


def sinabs_net():
    """Squeeze layers unfolded by num_timesteps, so any batch size runs."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        sl.IAFSqueeze(num_timesteps=T),
        nn.Flatten(),
        nn.Linear(4 * 64, 3),
    )


def spikingjelly_net():
    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Conv2d(2, 4, 3, padding=1),
        neuron.IFNode(),
        layer.Conv2d(4, 2, 3, padding=1),
        neuron.IFNode(v_threshold=0.2),
    )
    functional.set_step_mode(net, "m")
    return net
