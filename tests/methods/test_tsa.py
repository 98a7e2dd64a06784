"""Temporal Spike Attribution against a transcription of the authors' tsa() loop, on the same
spikes and weights, for snnTorch and SpikingJelly chains of Linear and spiking layers."""

import pytest
import snntorch as snn
import torch
from conftest import first, record_spikes, snntorch_net
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn

from sam_plugins import TemporalSpikeAttribution, class_scores
from sam_plugins.methods.tsa import tsa_maps
from sam_plugins.testing.reference import authors_tsa

T, B = 10, 3


@pytest.mark.parametrize("variant", ["s", "ns"])
@pytest.mark.parametrize("sizes", [(6, 4), (7, 5, 4, 3)])
def test_tsa_maps_equal_the_authors_loop(variant, sizes):
    spikes = [(torch.rand(T, B, n) < 0.3).float() for n in sizes[:-1]]
    weights = [torch.randn(n_out, n_in) for n_in, n_out in zip(sizes, sizes[1:], strict=False)]
    probs = torch.softmax(torch.randn(B, sizes[-1]), -1).double()
    target = torch.tensor([0, 2, 1])
    ours = tsa_maps(spikes, weights, probs, target, 0.7, variant)  # [T, B, n_in]
    for b in range(B):
        theirs = authors_tsa(
            [w.T for w in weights], [s[:, b] for s in spikes], probs[b], T, 0.7, variant
        )  # [classes, n_in, T]
        torch.testing.assert_close(ours[:, b], theirs[target[b]].T)


def fc_snntorch():
    net = nn.Sequential(
        nn.Linear(12, 16), snn.Leaky(beta=0.8, init_hidden=True),
        nn.Linear(16, 10), snn.Leaky(beta=0.8, init_hidden=True),
        nn.Linear(10, 4), snn.Leaky(beta=0.8, init_hidden=True, output=True),
    )  # fmt: skip
    with torch.no_grad():
        for i in (0, 2, 4):
            net[i].weight.mul_(3)
    return net


def fc_jelly():
    net = nn.Sequential(
        layer.Linear(12, 16), neuron.LIFNode(tau=2.0),
        layer.Linear(16, 4), neuron.LIFNode(tau=2.0),
    )  # fmt: skip
    functional.set_step_mode(net, "m")
    with torch.no_grad():
        for i in (0, 2):
            net[i].weight.mul_(6)
    return net


def expected(net, x, run, neurons, beta, variant, target=None):
    """The authors' loop on spikes recorded without the library."""
    linears = [m for m in net if isinstance(m, nn.Linear)]
    ran = {}
    recorded = record_spikes(neurons, lambda: ran.setdefault("outputs", run(net, x)), first)
    outputs = ran["outputs"]
    spikes = [x] + [torch.cat(v) if v[0].dim() == 3 else torch.stack(v) for v in recorded.values()]
    assert all(s.any() for s in spikes[:-1]), "a layer never spiked: the test proves nothing"
    probs = torch.softmax(class_scores(outputs).double(), -1)
    target = probs.argmax(-1) if target is None else target
    out = []
    for b in range(x.shape[1]):
        theirs = authors_tsa(
            [m.weight.detach().T for m in linears], [s[:, b] for s in spikes[:-1]],
            probs[b], x.shape[0], beta, variant,
        )  # fmt: skip
        out.append(theirs[target[b]].T)
    return torch.stack(out, 1)


def loop(net, x):
    return torch.stack([first(net(xt)) for xt in x])


@pytest.mark.parametrize("variant", ["s", "ns"])
def test_tsa_on_snntorch_equals_the_authors_loop(variant):
    net, x = fc_snntorch(), (torch.rand(T, B, 12) < 0.5).float()
    neurons = {"1": net[1], "3": net[3], "5": net[5]}
    from snntorch import utils

    utils.reset(net)
    theirs = expected(net, x, loop, neurons, 0.8, variant)
    result = TemporalSpikeAttribution(net, variant=variant, run=loop).attribute(x)
    assert result.method == f"TSA ({variant})" and list(result) == ["input"]
    torch.testing.assert_close(result.maps("input").double(), theirs, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(result["input"].scores, result.maps("input").sum(0))


def test_tsa_on_spikingjelly_equals_the_authors_loop():
    net, x = fc_jelly(), (torch.rand(T, B, 12) < 0.5).float()
    functional.reset_net(net)
    theirs = expected(net, x, lambda n, v: n(v), {"1": net[1], "3": net[3]}, 0.5, "ns")
    functional.reset_net(net)
    result = TemporalSpikeAttribution(net, variant="ns").attribute(x)
    torch.testing.assert_close(result.maps("input").double(), theirs, rtol=1e-4, atol=1e-6)


def test_tsa_is_class_discriminative():
    net, x = fc_snntorch(), (torch.rand(T, B, 12) < 0.5).float()
    tsa = TemporalSpikeAttribution(net, run=loop)
    zero, one = tsa.attribute(x, target=0), tsa.attribute(x, target=torch.ones(B, dtype=int))
    assert not torch.allclose(zero.maps("input"), one.maps("input"))
    from snntorch import utils

    utils.reset(net)
    theirs = expected(
        net, x, loop, {"1": net[1], "3": net[3], "5": net[5]}, 0.8, "s", torch.ones(B, dtype=int)
    )
    torch.testing.assert_close(one.maps("input").double(), theirs, rtol=1e-4, atol=1e-6)


def test_other_shapes_are_refused_clearly():
    with pytest.raises(ValueError, match=r"chain of Linear and spiking layers; '0' is a Conv2d"):
        TemporalSpikeAttribution(snntorch_net())
    recurrent = nn.Sequential(
        nn.Linear(12, 16), snn.RLeaky(beta=0.8, linear_features=16, init_hidden=True),
        nn.Linear(16, 4), snn.Leaky(beta=0.8, init_hidden=True, output=True),
    )  # fmt: skip
    with pytest.raises(ValueError, match="recurrent"):
        TemporalSpikeAttribution(recurrent)
    two_linears = nn.Sequential(
        nn.Linear(12, 16), nn.Linear(16, 4), snn.Leaky(beta=0.8, init_hidden=True, output=True)
    )
    with pytest.raises(ValueError, match=r"Linear -> spiking layer -> \.\.\."):
        TemporalSpikeAttribution(two_linears)
    with pytest.raises(ValueError, match="variant must be one of"):
        TemporalSpikeAttribution(fc_snntorch(), variant="x")
