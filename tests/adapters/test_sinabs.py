"""The sinabs adapter on real sinabs models: batch-first and Squeeze layers unfolded to
[T, B, ...], multi-spike layers read as graded counts, reset_states, and the conformance suite."""

import pytest
import sinabs
import sinabs.layers as sl
import torch
from conftest import assert_matches_reference, hook_count
from sam_plugins_sinabs import SinabsAdapter
from sinabs.activation import MaxSpike, MembraneReset, SingleSpike
from sinabs.layers.alif import ALIFSqueeze  # not exported by sinabs.layers
from torch import nn

from sam_plugins import NotSpikesError, SpikeActivationMap, explain
from sam_plugins.testing.conformance import AdapterConformance, Case

T, B = 6, 2
GAMMA = 0.5


def batch_first(net, x):
    """The sinabs user's call: [B, T, ...] in and out; here [T, B, ...] in and out."""
    return net(x.transpose(0, 1)).transpose(0, 1)


def folded(net, x):
    """The sinabs user's call of a Squeeze model: [B*T, ...] in and out (batch-major)."""
    out = net(x.transpose(0, 1).reshape(B * T, *x.shape[2:]))
    return out.reshape(B, T, *out.shape[1:]).transpose(0, 1)


def record_unfolded(net, x, run):
    """Each neuron layer's raw output recorded by plain hooks and unfolded by hand to
    [T, B, ...], without the adapter."""
    seen = {}

    def keep(name):
        def hook(module, args, out):
            if isinstance(module, sl.SqueezeMixin):
                out = out.reshape(B, T, *out.shape[1:])
            seen[name] = out.transpose(0, 1).detach().clone()

        return hook

    neurons = SinabsAdapter().neuron_modules(net)
    handles = [m.register_forward_hook(keep(n)) for n, m in neurons]
    try:
        SinabsAdapter().reset(net)
        run(net, x)
    finally:
        for h in handles:
            h.remove()
    return seen


def check(net, x, run):
    adapter = SinabsAdapter()
    with torch.no_grad():
        spikes = record_unfolded(net, x, run)
        adapter.reset(net)
        plain = run(net, x)
        adapter.reset(net)
        with SpikeActivationMap(net, gamma=GAMMA) as sam:
            attached = run(net, x)
    assert hook_count(net) == 0
    assert torch.equal(plain, attached)
    result = sam.result()
    assert list(result) == list(spikes)
    for name, s in spikes.items():
        assert s.shape[0] == T
        assert_matches_reference(result[name], s, GAMMA)
    return result, spikes


NEURONS = {
    "IAF": lambda **kw: sl.IAF(**kw),
    "LIF": lambda **kw: sl.LIF(tau_mem=5.0, **kw),
    "ALIF": lambda **kw: sl.ALIF(tau_mem=5.0, tau_adapt=5.0, **kw),
}
SQUEEZED = {
    "IAFSqueeze": lambda **kw: sl.IAFSqueeze(batch_size=B, **kw),
    "LIFSqueeze": lambda **kw: sl.LIFSqueeze(tau_mem=5.0, num_timesteps=T, **kw),
    "ALIFSqueeze": lambda **kw: ALIFSqueeze(tau_mem=5.0, tau_adapt=5.0, batch_size=B, **kw),
}


@pytest.mark.parametrize("name", list(SQUEEZED))
def test_squeeze_layers_between_convolutions_give_maps(name):
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), SQUEEZED[name](), nn.AvgPool2d(2), nn.Conv2d(4, 2, 3)
    )
    # LIF and ALIF scale their input by 1 - exp(-1 / tau_mem)
    x = torch.rand(T, B, 1, 8, 8) * (4.0 if name == "IAFSqueeze" else 25.0)
    result, spikes = check(net, x, folded)
    assert result["1"].maps.shape == (T, B, 8, 8)
    if name == "ALIFSqueeze":  # ALIF's default is SingleSpike: held to 0 / 1
        assert not SinabsAdapter().graded(net[1]) and spikes["1"].max() == 1
    else:  # the default MultiSpike: counts, kept as they are
        assert SinabsAdapter().graded(net[1]) and spikes["1"].max() > 1


@pytest.mark.parametrize("name", list(NEURONS))
def test_batch_first_layers_give_per_neuron_scores(name):
    net = nn.Sequential(nn.Linear(5, 6), NEURONS[name](), nn.Linear(6, 3))
    result, _ = check(net, torch.rand(T, B, 5) * 6, batch_first)
    assert result["1"].scores.shape == (B, 6)


@pytest.mark.parametrize("recurrent", [sl.IAFRecurrent, sl.LIFRecurrent])
def test_recurrent_layers(recurrent):
    kw = {} if recurrent is sl.IAFRecurrent else {"tau_mem": 5.0}
    net = nn.Sequential(nn.Linear(5, 6), recurrent(rec_connect=nn.Linear(6, 6), **kw))
    result, _ = check(net, torch.rand(T, B, 5) * 6, batch_first)
    assert result["1"].profile.shape == (T, B)


def test_graded_follows_the_spike_function():
    adapter = SinabsAdapter()
    assert adapter.graded(sl.IAF())  # MultiSpike, the default: counts
    assert adapter.graded(sl.IAF(spike_fn=MaxSpike(max_num_spikes_per_bin=3)))
    assert not adapter.graded(sl.IAF(spike_fn=MaxSpike(max_num_spikes_per_bin=1)))
    assert not adapter.graded(sl.IAF(spike_fn=SingleSpike))
    # a single-spike layer is held to 0/1: a layer wrongly read as spikes is caught
    net = nn.Sequential(nn.Linear(5, 6), sl.IAF(spike_fn=SingleSpike), nn.Linear(6, 3))
    with pytest.raises(NotSpikesError):
        explain(net, torch.rand(T, B, 5) * 6, layers=["1", "2"])


def test_max_spikes_per_bin_caps_the_counts_in_the_maps():
    spike_fn = MaxSpike(max_num_spikes_per_bin=2)
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), sl.IAFSqueeze(batch_size=B, spike_fn=spike_fn)
    )
    result, spikes = check(net, torch.rand(T, B, 1, 6, 6) * 8, folded)
    assert spikes["1"].max() == 2


def test_left_out_layers_are_not_found():
    adapter = SinabsAdapter()
    others = [sl.ExpLeak(tau_mem=5.0), sl.ExpLeakSqueeze(tau_mem=5.0, batch_size=B)]
    others += [sl.SumPool2d(2), sl.NeuromorphicReLU(), sl.Img2SpikeLayer((1, 4, 4), tw=T)]
    assert not any(adapter.owns(m) for m in others)


def test_default_runner_unfolds_the_output_and_checks_the_squeeze_sizes():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), sl.IAFSqueeze(batch_size=B))
    x = torch.rand(T, B, 1, 8, 8) * 4
    SinabsAdapter().reset(net)
    expected = folded(net, x)
    result = explain(net, x)
    assert torch.equal(result.outputs, expected) and expected.shape == (T, B, 4, 8, 8)
    with pytest.raises(ValueError, match=r"batch_size=2.*batch 3"):
        explain(net, torch.rand(T, 3, 1, 8, 8))


def test_reset_covers_recurrent_layers_that_the_sinabs_helper_skips():
    net = nn.Sequential(nn.Linear(5, 6), sl.IAFRecurrent(rec_connect=nn.Linear(6, 6)))
    x = torch.rand(T, B, 5) * 6
    batch_first(net, x)
    sinabs.reset_states(net)
    assert net[1].v_mem.abs().sum() > 0  # sinabs's helper left it as it was
    SinabsAdapter().reset(net)
    assert net[1].v_mem.abs().sum() == 0
    first, second = explain(net, x), explain(net, x)
    assert torch.equal(first["1"].scores, second["1"].scores)
    assert torch.equal(first.outputs, second.outputs)


def test_graph_imported_from_nir():
    import nir
    import numpy as np

    rng = np.random.default_rng(0)
    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=rng.normal(size=(6, 4)).astype(np.float32), bias=np.zeros(6, np.float32)),
        nir.IF(r=np.ones(6, np.float32), v_threshold=np.ones(6, np.float32)),
    )
    net = SinabsAdapter().import_nir(graph, batch_size=B)
    x = torch.rand(T, B, 4) * 3
    SinabsAdapter().reset(net)
    out, _ = net(x.transpose(0, 1).reshape(B * T, 4))
    result = explain(net, x)
    assert torch.equal(result.outputs[0], out.reshape(B, T, 6).transpose(0, 1))
    assert list(result) == ["if"] and result["if"].kind == "IAFSqueeze"
    cuba = nir.NIRGraph.from_list(
        nir.CubaLIF(
            tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2), v_leak=np.zeros(2),
            v_threshold=np.ones(2),
        )
    )  # fmt: skip
    with pytest.raises(NotImplementedError, match="CubaLIF"):
        SinabsAdapter().import_nir(cuba)


# --- the shared conformance suite ---------------------------------------------------------


def squeezed_net():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        sl.IAFSqueeze(batch_size=B),
        nn.Flatten(),
        nn.Linear(256, 5),
        sl.LIFSqueeze(
            tau_mem=3.0,
            batch_size=B,
            spike_threshold=0.05,
            spike_fn=SingleSpike,
            reset_fn=MembraneReset(),
        ),
    )


def batch_first_net():
    return nn.Sequential(
        nn.Linear(5, 6), sl.LIF(tau_mem=5.0), nn.Linear(6, 4), sl.IAF(spike_threshold=0.1)
    )


class TestSinabsConformance(AdapterConformance):
    adapter = SinabsAdapter()
    entry_point = "sinabs"

    def cases(self):
        torch.manual_seed(1)
        return [
            Case(
                "squeezed",
                squeezed_net,
                torch.rand(T, B, 1, 8, 8) * 4,
                {"1": "multi", "4": "multi"},
                folded,
            ),
            Case(
                "batch first",
                batch_first_net,
                torch.rand(T, B, 5) * 6,
                {"1": "multi", "3": "multi"},
                batch_first,
                spikes=lambda module, out: out.transpose(0, 1),
            ),
            # no users' loop given: the adapter's own runner and to_spikes throughout
            Case("runner", batch_first_net, torch.rand(T, B, 5) * 6, {"1": "multi", "3": "multi"}),
        ]


def test_a_network_converted_by_from_model():
    ann = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 64, 3), nn.ReLU()
    )
    with torch.no_grad():
        ann[3].weight *= 4  # so that the output layer spikes within T steps
    network = sinabs.from_model(ann, input_shape=(1, 8, 8), batch_size=B)
    x = torch.rand(T, B, 1, 8, 8) * 3
    result, spikes = check(network.spiking_model, x, folded)
    assert list(result) == ["1", "4"] and result["1"].maps.shape == (T, B, 8, 8)
    assert list(explain(network, x)) == ["spiking_model.1", "spiking_model.4"]
