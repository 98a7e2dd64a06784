"""The Norse adapter on real Norse models: maps against the reference, outputs unchanged, the
state threaded the Norse way, and the shared conformance suite."""

import warnings

import pytest
import torch
from conftest import assert_matches_reference, first, hook_count, record_spikes
from sam_plugins_norse import NorseAdapter
from torch import nn

from sam_plugins import SpikeActivationMap, explain
from sam_plugins.testing.conformance import AdapterConformance, Case, assert_same

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import norse.torch as nt

T, B = 6, 2
GAMMA = 0.5


def thread(net, x):
    """The Norse user's loop over time: the state handed back at every step."""
    state, outs = None, []
    for xt in x:
        out, state = net(xt, state)
        outs.append(out)
    return torch.stack(outs), state


def whole(net, x):
    return net(x)


def check(net, x, run, must_spike):
    """Outputs bit-identical with SAM attached, and each neuron layer that spiked (`must_spike`
    must) equal to the reference on spikes recorded by plain hooks."""
    adapter = NorseAdapter()
    neurons = dict(adapter.neuron_modules(net))
    with torch.no_grad():
        plain = run(net, x)
        recorded = record_spikes(neurons, lambda: run(net, x), first)
        with SpikeActivationMap(net, gamma=GAMMA) as sam:
            attached = run(net, x)
    assert hook_count(net) == 0
    assert_same(plain, attached)
    result = sam.result()
    assert list(result) == list(neurons)
    for name, calls in recorded.items():
        multi = adapter.step_mode(neurons[name]) == "multi"
        spikes = torch.cat(calls) if multi else torch.stack(calls)
        assert spikes.shape[0] == T
        if name in must_spike or spikes.any():
            assert_matches_reference(result[name], spikes, GAMMA)
    return result


CELLS = {
    "LIFCell": nt.LIFCell,
    "LIFBoxCell": nt.LIFBoxCell,
    "IAFCell": nt.IAFCell,
    "LIFAdExCell": nt.LIFAdExCell,
    "LIFAdExRefracCell": nt.LIFAdExRefracCell,
    "LIFExCell": nt.LIFExCell,
    "LIFRefracCell": nt.LIFRefracCell,
    "LSNNCell": nt.LSNNCell,
    "IzhikevichCell": lambda: nt.IzhikevichCell(nt.tonic_spiking),
}
SEQUENCES = {
    "LIF": nt.LIF,
    "IAF": nt.IAF,
    "LIFAdEx": nt.LIFAdEx,
    "LIFEx": nt.LIFEx,
    "LSNN": nt.LSNN,
    "Izhikevich": lambda: nt.Izhikevich(nt.tonic_spiking),
}
# stronger inputs where the neuron needs them to spike at all within T steps
STRONG = {"IzhikevichCell": 100.0, "Izhikevich": 100.0, "LIFBoxCell": 20.0}


@pytest.mark.parametrize("name", list(CELLS))
def test_single_step_cells_in_a_sequential_state(name):
    net = nt.SequentialState(
        nn.Conv2d(1, 4, 3, padding=1), CELLS[name](), nn.Flatten(), nn.Linear(256, 5), nt.LIFCell()
    )
    x = torch.rand(T, B, 1, 8, 8) * STRONG.get(name, 3.0)
    result = check(net, x, thread, must_spike={"1"})
    assert result["1"].maps.shape == (T, B, 8, 8)
    assert result["4"].scores.shape == (B, 5)


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_multi_step_modules_with_lifted_layers(name):
    net = nt.SequentialState(
        nt.Lift(nn.Conv2d(1, 4, 3, padding=1)),
        SEQUENCES[name](),
        nt.Lift(nn.Flatten()),
        nt.Lift(nn.Linear(256, 5)),
        nt.Lift(nt.LIFCell()),
    )
    x = torch.rand(T, B, 1, 8, 8) * STRONG.get(name, 3.0)
    adapter = NorseAdapter()
    assert [(n, adapter.step_mode(m)) for n, m in adapter.neuron_modules(net)] == [
        ("1", "multi"),
        ("4.lifted_module", "single"),
    ]
    result = check(net, x, whole, must_spike={"1"})
    assert result["1"].maps.shape == (T, B, 8, 8)


RECURRENT = {
    "LIFRecurrentCell": lambda: nt.LIFRecurrentCell(6, 5),
    "LIFAdExRecurrentCell": lambda: nt.LIFAdExRecurrentCell(6, 5),
    "LIFAdExRefracRecurrentCell": lambda: nt.LIFAdExRefracRecurrentCell(6, 5),
    "LIFExRecurrentCell": lambda: nt.LIFExRecurrentCell(6, 5),
    "LIFRefracRecurrentCell": lambda: nt.LIFRefracRecurrentCell(6, 5),
    "LSNNRecurrentCell": lambda: nt.LSNNRecurrentCell(6, 5),
    "LIFMCRecurrentCell": lambda: nt.LIFMCRecurrentCell(6, 5),
    "LIFMCRefracRecurrentCell": lambda: nt.LIFMCRefracRecurrentCell(6, 5),
    "CobaLIFCell": lambda: nt.CobaLIFCell(6, 5),
    "IzhikevichRecurrentCell": lambda: nt.IzhikevichRecurrentCell(6, 5, nt.tonic_spiking),
    "LIFRecurrent": lambda: nt.LIFRecurrent(6, 5),
    "LIFAdExRecurrent": lambda: nt.LIFAdExRecurrent(6, 5),
    "LIFAdExRefracRecurrent": lambda: nt.LIFAdExRefracRecurrent(6, 5),
    "LIFExRecurrent": lambda: nt.LIFExRecurrent(6, 5),
    "LIFRefracRecurrent": lambda: nt.LIFRefracRecurrent(6, 5),
    "LSNNRecurrent": lambda: nt.LSNNRecurrent(6, 5),
    "IzhikevichRecurrent": lambda: nt.IzhikevichRecurrent(6, 5, nt.tonic_spiking),
}


@pytest.mark.parametrize("name", list(RECURRENT))
def test_recurrent_neurons_give_per_neuron_scores(name):
    neuron = RECURRENT[name]()
    multi = NorseAdapter().step_mode(neuron) == "multi"
    net = nt.SequentialState(nn.Linear(4, 6), neuron)
    x = torch.rand(T, B, 4) * (300.0 if "Izhikevich" in name else 10.0)
    result = check(net, x, whole if multi else thread, must_spike={"1"})
    assert result["1"].scores.shape == (B, 5)
    assert result["1"].profile.shape == (T, B)


def test_modules_that_emit_no_spikes_are_not_found():
    adapter = NorseAdapter()
    silent = [nt.LI(), nt.LICell(), nt.LIBoxCell(), nt.LILinearCell(3, 2), nt.PoissonEncoder(4)]
    assert not any(adapter.owns(m) for m in silent)
    net = nt.SequentialState(nn.Linear(3, 4), nt.LICell())
    with pytest.raises(LookupError, match="no spiking neuron modules found"):
        explain(net, torch.rand(T, B, 3))


class OwnLoop(nn.Module):
    """The Norse tutorial style: cells called in the model's own time loop."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.lif = nt.LIFCell()
        self.fc = nn.Linear(256, 5)
        self.out = nt.LIFRecurrentCell(5, 3)

    def forward(self, x):
        s1 = s2 = None
        outs = []
        for xt in x:
            z, s1 = self.lif(self.conv(xt), s1)
            z, s2 = self.out(self.fc(z.flatten(1)) * 5, s2)
            outs.append(z)
        return torch.stack(outs)


def test_default_runner_threads_the_state_or_gives_the_whole_sequence():
    x = torch.rand(T, B, 1, 8, 8) * 3
    cells = nt.SequentialState(nn.Conv2d(1, 4, 3, padding=1), nt.LIFCell())
    out, state = explain(cells, x).outputs
    expected, expected_state = thread(cells, x)
    assert torch.equal(out, expected) and out.any()
    assert_same(state, expected_state)
    # a loop without the state would restart every step: the spikes would differ
    assert not torch.equal(out, torch.stack([cells(xt)[0] for xt in x]))

    own = OwnLoop()
    assert torch.equal(explain(own, x).outputs, own(x))
    lifted = nt.SequentialState(nt.Lift(nn.Conv2d(1, 4, 3, padding=1)), nt.LIF())
    assert_same(explain(lifted, x).outputs, lifted(x))


def test_graph_imported_from_nir_is_explained_with_its_state_threaded():
    import nir
    import numpy as np

    rng = np.random.default_rng(0)
    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=rng.normal(size=(6, 4)).astype(np.float32), bias=np.zeros(6, np.float32)),
        nir.IF(r=np.ones(6, np.float32), v_threshold=np.ones(6, np.float32)),
    )
    net = NorseAdapter().import_nir(graph)
    x = torch.rand(T, B, 4) * 2
    result = check(net, x, lambda n, x: thread(n, x)[0], must_spike={"if"})
    out, _ = explain(net, x).outputs
    assert torch.equal(out, thread(net, x)[0])
    assert list(result) == ["if"] and result["if"].kind == "IAFCell"


def test_import_nir_refuses_what_norse_imports_wrongly():
    import nir
    import numpy as np

    flat = nir.NIRGraph.from_list(nir.Flatten(input_type={"input": np.array([2, 3])}))
    with pytest.raises(NotImplementedError, match="Flatten"):
        NorseAdapter().import_nir(flat)
    pool = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([1, 4, 4])),
            "pool": nir.AvgPool2d(
                kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])
            ),
            "output": nir.Output(output_type=np.array([1, 2, 2])),
        },
        edges=[("input", "pool"), ("pool", "output")],
        type_check=False,
    )
    with pytest.raises(NotImplementedError, match="AvgPool2d"):
        NorseAdapter().import_nir(pool)


# --- the shared conformance suite ---------------------------------------------------------


def cells_net():
    return nt.SequentialState(
        nn.Conv2d(1, 4, 3, padding=1),
        nt.LIFCell(),
        nn.Flatten(),
        nn.Linear(256, 5),
        nt.LIFRecurrentCell(5, 4, p=nt.LIFParameters(v_th=torch.tensor(0.05))),
    )


def lifted_net():
    return nt.SequentialState(
        nt.Lift(nn.Conv2d(1, 4, 3, padding=1)),
        nt.LIFAdEx(),
        nt.Lift(nn.Flatten()),
        nt.Lift(nn.Linear(256, 5)),
        nt.Lift(nt.IAFCell(nt.IAFParameters(v_th=torch.tensor(0.05)))),
    )


class TestNorseConformance(AdapterConformance):
    adapter = NorseAdapter()
    entry_point = "norse"

    def cases(self):
        torch.manual_seed(1)
        x = torch.rand(T, B, 1, 8, 8) * 3
        return [
            Case("cells", cells_net, x, {"1": "single", "4": "single"}, thread),
            Case("lifted", lifted_net, x, {"1": "multi", "4.lifted_module": "single"}, whole),
            Case("own loop", OwnLoop, x, {"lif": "single", "out": "single"}, whole),
        ]
