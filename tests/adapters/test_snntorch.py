"""The snnTorch adapter on real snnTorch models: maps against the reference, outputs unchanged."""

import pytest
import snntorch as snn
import torch
from conftest import assert_same_outputs, check_adapter, first
from sam_plugins_snntorch import SnnTorchAdapter
from snntorch import utils
from torch import nn

from sam_plugins import SpikeActivationMap, explain

T, B = 6, 2
GAMMA = 0.5


def check(net, x, run):
    """Outputs unchanged and SAM equal to the reference for every neuron the adapter finds."""
    return check_adapter(SnnTorchAdapter(), net, x, run, GAMMA)


def loop(net, x):
    return [net(xt) for xt in x]


class ConvNet(nn.Module):
    """conv -> neuron under test -> pool -> fc -> Leaky(output=True), one call per step."""

    def __init__(self, neuron, **kw):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.lif = neuron(init_hidden=True, **kw)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(4 * 4 * 4, 5)
        self.out = snn.Leaky(beta=0.8, threshold=0.05, init_hidden=True, output=True)

    def forward(self, x):
        spk = first(self.lif(self.conv(x)))  # DeltaLeaky returns (spk, state) even then
        return self.out(self.fc(self.pool(spk).flatten(1)))


CONV_NEURONS = {
    "Leaky": lambda **kw: snn.Leaky(beta=0.8, **kw),
    "Synaptic": lambda **kw: snn.Synaptic(alpha=0.7, beta=0.8, **kw),
    "Alpha": lambda **kw: snn.Alpha(alpha=0.9, beta=0.8, **kw),
    "Lapicque": lambda **kw: snn.Lapicque(beta=0.8, **kw),
    "RLeaky": lambda **kw: snn.RLeaky(beta=0.8, conv2d_channels=4, kernel_size=3, **kw),
    "RSynaptic": lambda **kw: snn.RSynaptic(
        alpha=0.7, beta=0.8, conv2d_channels=4, kernel_size=3, **kw
    ),
    "DeltaLeaky": lambda **kw: snn.DeltaLeaky(beta=0.8, delta_threshold=0.3, **kw),
}


@pytest.mark.parametrize("name", list(CONV_NEURONS))
def test_single_step_conv_neurons(name):
    net = ConvNet(CONV_NEURONS[name])
    x = torch.rand(T, B, 1, 8, 8) * 3
    result = check(net, x, loop)
    assert result["lif"].maps.shape == (T, B, 8, 8)
    assert result["out"].scores.shape == (B, 5)


def test_sconv2dlstm_and_slstm():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.clstm = snn.SConv2dLSTM(1, 4, 3, init_hidden=True, threshold=0.05)
            self.flat = nn.Flatten()
            self.slstm = snn.SLSTM(4 * 8 * 8, 6, init_hidden=True, threshold=0.05)

        def forward(self, x):
            return self.slstm(self.flat(self.clstm(x)))

    result = check(Net(), torch.rand(T, B, 1, 8, 8) * 3, loop)
    assert result["clstm"].maps.shape == (T, B, 8, 8)
    assert result["slstm"].scores.shape == (B, 6)


def test_init_hidden_false_with_the_time_loop_inside_forward():
    """The snnTorch tutorial style: state threaded by hand, stacked spikes returned."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.lif1 = snn.Leaky(beta=0.8)
            self.fc = nn.Linear(4 * 8 * 8, 5)
            self.lif2 = snn.Synaptic(alpha=0.7, beta=0.8)

        def forward(self, x):
            mem1 = self.lif1.reset_mem()
            syn2, mem2 = self.lif2.reset_mem()
            spk_rec, mem_rec = [], []
            for step in range(x.shape[0]):
                spk1, mem1 = self.lif1(self.conv(x[step]), mem1)
                spk2, syn2, mem2 = self.lif2(self.fc(spk1.flatten(1)), syn2, mem2)
                spk_rec.append(spk2)
                mem_rec.append(mem2)
            return torch.stack(spk_rec), torch.stack(mem_rec)

    net, x = Net(), torch.rand(T, B, 1, 8, 8) * 3
    check(net, x, lambda n, x: n(x))
    # the default runner sees init_hidden=False and gives the whole sequence in one call
    net.eval()
    result = explain(net, x)
    assert_same_outputs(result.outputs, net(x))
    assert result.steps == T


def test_explain_default_runner_loops_and_resets_the_snntorch_way():
    net = ConvNet(CONV_NEURONS["Leaky"])
    x = torch.rand(T, B, 1, 8, 8) * 3
    utils.reset(net)
    expected = [net(xt) for xt in x]
    first_run = explain(net, x)
    second_run = explain(net, x)  # equal only if the state was reset in between
    spk, mem = first_run.outputs  # output=True on the last layer: (spk, mem) per step, stacked
    assert spk.shape == (T, B, 5)
    assert torch.equal(spk, torch.stack([e[0] for e in expected]))
    torch.testing.assert_close(first_run["lif"].maps, second_run["lif"].maps)


def test_graded_spikes():
    net = ConvNet(CONV_NEURONS["Leaky"], graded_spikes_factor=2.5)
    x = torch.rand(T, B, 1, 8, 8) * 3
    result = check(net, x, loop)
    assert SnnTorchAdapter().graded(net.lif) and not SnnTorchAdapter().graded(net.out)
    assert result["lif"].maps.max() > 0


def test_multi_step_neurons_take_the_whole_sequence():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.par = snn.LeakyParallel(input_size=12, hidden_size=10, threshold=0.2)
            self.lin = snn.LinearLeaky(beta=0.8, in_features=10, out_features=8, threshold=0.2)
            self.state = snn.StateLeaky(beta=0.8, channels=8, threshold=0.2)

        def forward(self, x):
            spk, _ = self.lin(self.par(x))
            return self.state(spk)

    net, x = Net(), torch.rand(T, B, 12) * 2
    result = check(net, x, lambda n, x: n(x))
    assert result.steps == T
    assert result["par"].scores.shape == (B, 10)
    assert explain(net, x).steps == T  # default runner: one call, as LeakyParallel needs


def test_state_leaky_without_output_is_not_a_spiking_layer():
    net = nn.Sequential(nn.Linear(4, 4), snn.StateLeaky(beta=0.8, channels=4, output=False))
    assert SnnTorchAdapter().neuron_modules(net) == []
    with pytest.raises(LookupError, match="no spiking neuron modules found"):
        SpikeActivationMap(net)


def test_tutorial_sequential_with_nested_blocks_is_found_and_reset():
    net = nn.Sequential(
        nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            nn.MaxPool2d(2),
            snn.Leaky(beta=0.8, threshold=0.2, init_hidden=True),
        ),
        nn.Sequential(
            nn.Conv2d(4, 8, 3, padding=1),
            nn.MaxPool2d(2),
            snn.Leaky(beta=0.8, threshold=0.2, init_hidden=True),
        ),
        nn.Flatten(),
        nn.Linear(8 * 2 * 2, 4),
        snn.Leaky(beta=0.8, init_hidden=True, output=True),
    )
    x = torch.rand(T, B, 1, 8, 8) * 4
    result = check(net, x, loop)
    assert list(result) == ["0.2", "1.2", "4"]
    assert result.heatmap("1.2", size=(8, 8)).shape == (T, B, 8, 8)


def test_model_imported_from_nir():
    import nir
    import numpy as np
    from snntorch.import_nir import import_from_nir

    rng = np.random.default_rng(0)

    def lif(n):
        return nir.LIF(
            tau=np.full(n, 0.02, np.float32),
            r=np.ones(n, np.float32),
            v_leak=np.zeros(n, np.float32),
            v_threshold=np.full(n, 0.002, np.float32),
        )

    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=rng.normal(size=(6, 3)).astype(np.float32), bias=np.zeros(6, np.float32)),
        lif(6),
        nir.Affine(weight=rng.normal(size=(4, 6)).astype(np.float32), bias=np.zeros(4, np.float32)),
        lif(4),
    )
    net = import_from_nir(graph)
    assert len(SnnTorchAdapter().neuron_modules(net)) == 2
    result = check(net, torch.rand(T, B, 3) * 3, lambda n, x: [n(xt)[0] for xt in x])
    assert all(layer.scores is not None for layer in result.values())


# --- issue 17: state kept inside init_hidden=False neurons, axes read wrongly ----------------
class KeepsItsOwnState(nn.Module):
    """init_hidden=False neurons called without their state: snnTorch 1.0 keeps it inside the
    neuron between calls (one step per call), as snntorch.utils.reset knows."""

    def __init__(self, neuron):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.lif = neuron(init_hidden=False)

    def forward(self, x):
        return first(self.lif(self.conv(x)))


def each_step(net, x):
    return torch.stack([net(xt) for xt in x])


@pytest.mark.parametrize("name", ["Leaky", "Synaptic", "Alpha", "Lapicque", "RLeaky"])
def test_explain_resets_state_kept_inside_init_hidden_false_neurons(name):
    torch.manual_seed(0)
    net = KeepsItsOwnState(CONV_NEURONS[name])
    x = torch.rand(T, B, 1, 8, 8) * 3
    first_run = explain(net, x, run=each_step)
    second_run = explain(net, x, run=each_step)  # equal only if the state was reset
    assert first_run.outputs.any(), "no spikes: the test proves nothing"
    assert torch.equal(first_run.outputs, second_run.outputs)
    torch.testing.assert_close(first_run["lif"].maps, second_run["lif"].maps)
    utils.reset(net)  # snnTorch's own reset gives the same run
    assert torch.equal(each_step(net, x), first_run.outputs)


def test_one_step_per_call_model_run_as_a_whole_is_refused_with_what_to_pass():
    """init_hidden=False makes the default runner give the whole sequence in one call; a model
    that takes one step per call then sees [T, B, ...] as a batch: batch T, one step."""

    class OneStep(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 5)
            self.lif = snn.Leaky(beta=0.8, threshold=0.1)

        def forward(self, x):
            spk, _ = self.lif(self.fc(x))
            return spk

    x = torch.rand(8, 3, 6)
    with pytest.raises(ValueError, match=r"1 step\(s\) of batch 8.*\[T=8, B=3.*\[model\(xt\)"):
        explain(OneStep(), x)
    result = explain(OneStep(), x, run=lambda m, x: [m(xt) for xt in x])
    assert (result.steps, result.batch_size) == (8, 3)


def test_time_loop_on_a_static_input_inside_forward_is_refused_with_what_to_pass():
    class Static(nn.Module):
        def __init__(self, steps=8):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.lif = snn.Leaky(beta=0.8, threshold=0.1)
            self.steps = steps

        def forward(self, x):
            mem = self.lif.reset_mem()
            out = []
            for _ in range(self.steps):
                spk, mem = self.lif(self.conv(x), mem)
                out.append(spk)
            return torch.stack(out)

    images = torch.rand(3, 1, 6, 6)
    with pytest.raises(ValueError, match=r"8 step\(s\) of batch 3.*\[T=3, B=1.*x\[0\]"):
        explain(Static(), images)  # a static batch passed as if it were [T, B, ...]
    result = explain(Static(), images.unsqueeze(0), run=lambda m, x: m(x[0]))
    assert (result.steps, result.batch_size) == (8, 3)


def test_time_loop_inside_forward_with_init_hidden_neurons_says_run():
    class Inside(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.fc = nn.Linear(4 * 36, 5)
            self.lif = snn.Leaky(beta=0.8, threshold=0.1, init_hidden=True)
            self.lif2 = snn.Leaky(beta=0.8, threshold=0.1, init_hidden=True)

        def forward(self, x):
            return torch.stack([self.lif2(self.fc(self.lif(self.conv(xt)).flatten(1))) for xt in x])

    x = torch.rand(8, 3, 1, 6, 6)
    with pytest.raises(RuntimeError) as error:
        explain(Inside(), x)  # one step per call given: forward loops over the batch
    assert "run=lambda model, x: model(x)" in "".join(getattr(error.value, "__notes__", []))
    result = explain(Inside(), x, run=lambda m, x: m(x))
    assert (result.steps, result.batch_size) == (8, 3)
