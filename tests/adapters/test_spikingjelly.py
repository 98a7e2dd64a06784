"""The SpikingJelly adapter on real SpikingJelly models: every spiking node, both step modes,
wrapped layers, the default runner and the model zoo. Maps are checked against the reference
formula on spikes recorded with plain hooks; model outputs must be unchanged."""

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import check_adapter, first, hook_count
from sam_plugins_spikingjelly import SpikingJellyAdapter
from spikingjelly.activation_based import functional, layer, neuron, surrogate
from spikingjelly.activation_based.model import sew_resnet, spiking_resnet, spiking_vgg
from torch import nn

from sam_plugins import NotSpikesError, SpikeActivationMap, explain

T, B = 6, 2
GAMMA = 0.5

# Every spiking node the adapter supports, with the arguments it needs, and the step modes it
# runs in. LIAF / NonSpiking* / quantisation / DSR / ILC / Noisy / FlexSN are left out on purpose
# (see the adapter's docstring); test_every_base_node_is_covered keeps this list complete.
BOTH = ("s", "m")
NODES = {
    "IFNode": (lambda: neuron.IFNode(), BOTH),
    "LIFNode": (lambda: neuron.LIFNode(tau=2.0), BOTH),
    "ParametricLIFNode": (lambda: neuron.ParametricLIFNode(), BOTH),
    "QIFNode": (lambda: neuron.QIFNode(), BOTH),
    "EIFNode": (lambda: neuron.EIFNode(), BOTH),
    "IzhikevichNode": (lambda: neuron.IzhikevichNode(), BOTH),
    "KLIFNode": (lambda: neuron.KLIFNode(), BOTH),
    "RAFNode": (lambda: neuron.RAFNode(), BOTH),
    "HalfThresholdIFNode": (lambda: neuron.HalfThresholdIFNode(), BOTH),
    "ComplementaryLIFNode": (lambda: neuron.ComplementaryLIFNode(), BOTH),
    "CUBALIFNode": (lambda: neuron.CUBALIFNode(), BOTH),
    "MPBNLIFNode": (lambda: neuron.MPBNLIFNode(out_channels=4), BOTH),
    "ILIFNode": (lambda: neuron.ILIFNode(), BOTH),
    "TernaryIFNode": (lambda: neuron.TernaryIFNode(), BOTH),
    "TernaryLIFNode": (lambda: neuron.TernaryLIFNode(), BOTH),
    "OTTTLIFNode": (lambda: neuron.OTTTLIFNode(), ("s",)),
    "SLTTLIFNode": (lambda: neuron.SLTTLIFNode(), ("s",)),
    "SimpleIFNode": (lambda: neuron.SimpleIFNode(), BOTH),
    "SimpleLIFNode": (lambda: neuron.SimpleLIFNode(tau=2.0, decay_input=True), BOTH),
    "ActivationAwareIFNode": (lambda: neuron.ActivationAwareIFNode(), BOTH),
    "GatedLIFNode": (lambda: neuron.GatedLIFNode(T=T, inplane=4), ("m",)),
    "PSN": (lambda: neuron.PSN(T=T), ("m",)),
    "MaskedPSN": (lambda: neuron.MaskedPSN(k=2, T=T), ("m",)),
    "SlidingPSN": (lambda: neuron.SlidingPSN(k=2), ("m",)),
}
LEFT_OUT = {"BaseNode", "AdaptBaseNode", "MPBNBaseNode", "LIAFNode"}


def conv_net(node: nn.Module) -> nn.Sequential:
    """conv -> node under test -> pool -> fc -> LIF, built from SpikingJelly's layer modules."""
    return nn.Sequential(
        layer.Conv2d(1, 4, 3, padding=1),
        node,
        layer.AvgPool2d(2),
        layer.Flatten(),
        layer.Linear(4 * 4 * 4, 5),
        neuron.LIFNode(tau=2.0, v_threshold=0.1),
    )


def loop(net, x):
    return torch.stack([first(net(xt)) for xt in x])


def whole(net, x):
    return net(x)


def check(net, x, run, require_spikes=None, spikes_out=None):
    """Outputs unchanged and SAM equal to the reference for every node the adapter finds."""
    return check_adapter(SpikingJellyAdapter(), net, x, run, GAMMA, require_spikes, spikes_out)


@pytest.mark.parametrize("name,mode", [(n, m) for n, (_, modes) in NODES.items() for m in modes])
def test_every_spiking_node_in_its_step_modes(name, mode):
    net = conv_net(NODES[name][0]()).eval()  # OTTT returns [spikes, trace] in training
    functional.set_step_mode(net, mode)
    x = torch.rand(T, B, 1, 8, 8) * 3
    result = check(net, x, loop if mode == "s" else whole)
    assert result["1"].maps.shape == (T, B, 8, 8)
    assert result["5"].scores.shape == (B, 5)


def test_every_base_node_is_covered():
    """A SpikingJelly release that adds a BaseNode subclass must be decided on, not ignored."""
    base_nodes = {
        n for n, c in inspect.getmembers(neuron, inspect.isclass) if issubclass(c, neuron.BaseNode)
    }
    assert base_nodes - LEFT_OUT <= set(NODES), base_nodes - LEFT_OUT - set(NODES)
    adapter = SpikingJellyAdapter()
    assert not adapter.owns(neuron.LIAFNode(act=nn.ReLU(), threshold_related=False))
    for factory, _ in NODES.values():
        assert adapter.owns(factory())


def test_online_training_output_is_read_as_spikes():
    """In training mode OTTTLIFNode returns [spikes, trace]: the spikes are the first element."""
    net = nn.Sequential(neuron.OTTTLIFNode()).train()
    x = torch.rand(T, B, 4, 8, 8) * 3
    result = check(net, x, lambda net, x: [net(xt) for xt in x])
    assert result["0"].maps.shape == (T, B, 8, 8)


def test_graded_nodes_are_read_as_graded():
    adapter = SpikingJellyAdapter()
    x = torch.rand(T, B, 1, 8, 8) * 6 - 3
    for name in ("ILIFNode", "TernaryLIFNode"):
        node = NODES[name][0]()
        assert adapter.graded(node)
        net = conv_net(node)
        functional.set_step_mode(net, "m")
        spikes = {}
        result = check(net, x, whole, require_spikes={"1"}, spikes_out=spikes)
        assert result["1"].maps.shape == (T, B, 8, 8)
        assert ((spikes["1"] != 0) & (spikes["1"] != 1)).any(), "no graded value emitted"
    assert not adapter.graded(neuron.LIFNode())


def test_analog_node_is_not_taken_for_spikes():
    """LIAF emits analog values: the adapter skips it, and naming it says why. (Single-step:
    in SpikingJelly 2.0.0 its multi-step path runs LIFNode's kernel and emits 0/1 spikes.)"""
    net = conv_net(neuron.LIAFNode(act=nn.ReLU(), threshold_related=False))
    assert "1" not in dict(SpikingJellyAdapter().neuron_modules(net))
    with SpikeActivationMap(net, layers=["1"]), pytest.raises(NotSpikesError, match="'1'"):
        net(torch.rand(B, 1, 8, 8) * 3)
    assert hook_count(net) == 0


class Wrapped(nn.Module):
    """The SpikingJelly tutorial style: SeqToANNContainer around stateless layers, a single-step
    node inside a MultiStepContainer, multi-step layer.* modules and a multi-step node."""

    def __init__(self):
        super().__init__()
        self.conv = layer.SeqToANNContainer(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.sn1 = layer.MultiStepContainer(neuron.IFNode(v_threshold=0.5))
        self.conv2 = layer.Conv2d(4, 4, 3, padding=1, step_mode="m")
        self.sn2 = neuron.LIFNode(tau=2.0, v_threshold=0.3, step_mode="m")
        self.pool = layer.SeqToANNContainer(nn.AvgPool2d(2), nn.Flatten())
        self.fc = layer.Linear(4 * 4 * 4, 5, step_mode="m")
        self.sn3 = neuron.IFNode(v_threshold=0.02, step_mode="m")

    def forward(self, x):
        return self.sn3(self.fc(self.pool(self.sn2(self.conv2(self.sn1(self.conv(x)))))))


def test_mixed_wrapped_layers():
    net = Wrapped().eval()
    adapter = SpikingJellyAdapter()
    assert adapter.step_mode(net.sn1[0]) == "single"  # called once per step by its container
    assert adapter.step_mode(net.sn2) == "multi"
    result = check(net, torch.rand(T, B, 1, 8, 8) * 3, whole)
    assert list(result) == ["sn1.0", "sn2", "sn3"]
    assert result["sn1.0"].maps.shape == result["sn2"].maps.shape == (T, B, 8, 8)


@pytest.mark.parametrize("mode", BOTH)
def test_explain_resets_and_runs_by_step_mode(mode):
    """explain() resets with functional.reset_net and picks one call ('m') or a loop ('s')."""
    net = conv_net(neuron.LIFNode(tau=2.0))
    functional.set_step_mode(net, mode)
    x = torch.rand(T, B, 1, 8, 8) * 3
    functional.reset_net(net)
    expected = (loop if mode == "s" else whole)(net, x)
    # state left over from another input must not leak into the explained run
    net(torch.rand(T, B, 1, 8, 8) * 3 if mode == "m" else torch.rand(B, 1, 8, 8) * 3)
    result = explain(net, x)
    assert torch.equal(result.outputs, expected)
    again = explain(net, x)
    torch.testing.assert_close(again["1"].maps, result["1"].maps, rtol=0, atol=0)
    assert result["1"].maps.shape == (T, B, 8, 8)
    assert hook_count(net) == 0


def test_step_mode_switched_between_runs_is_followed():
    net = conv_net(neuron.IFNode())
    x = torch.rand(T, B, 1, 8, 8) * 3
    functional.set_step_mode(net, "m")
    multi = explain(net, x)
    functional.set_step_mode(net, "s")
    single = explain(net, x)
    torch.testing.assert_close(single["1"].maps, multi["1"].maps)
    torch.testing.assert_close(single.outputs, multi.outputs)


ZOO = {
    "spiking_vgg11_bn": lambda **kw: spiking_vgg.spiking_vgg11_bn(**kw),
    "spiking_resnet18": lambda **kw: spiking_resnet.spiking_resnet18(**kw),
    "sew_resnet18": lambda **kw: sew_resnet.sew_resnet18(cnf="ADD", **kw),
}


@pytest.mark.parametrize("name", list(ZOO))
@pytest.mark.parametrize("mode", BOTH)
def test_model_zoo_unchanged(name, mode):
    net = ZOO[name](
        pretrained=False,
        spiking_neuron=neuron.IFNode,
        surrogate_function=surrogate.ATan(),
        detach_reset=True,
        num_classes=10,
    ).eval()
    functional.set_step_mode(net, mode)
    x = torch.rand(3, 1, 3, 32, 32)
    first_node = SpikingJellyAdapter().neuron_modules(net)[0][0]
    with torch.no_grad():
        result = check(net, x, loop if mode == "s" else whole, require_spikes={first_node})
        assert result[first_node].maps.shape[:2] == (3, 1)
        functional.reset_net(net)
        expected = (loop if mode == "s" else whole)(net, x)
        assert torch.equal(explain(net, x).outputs, expected)


GPU_CHECK = Path(__file__).with_name("gpu_spikingjelly_check.py")  # runs without pytest


@pytest.mark.parametrize("implementation", ["cuda", "triton"])
def test_gpu_neuron_kernels(implementation):
    """SpikingJelly 2.0 replaces 1.x's cupy backend with native CUDA and Triton kernels, chosen
    by SJ_<NODE>_CUDA_IMPLEMENTATION when the package is imported; hence a fresh interpreter."""
    if not torch.cuda.is_available():
        pytest.skip("SpikingJelly's CUDA and Triton kernels need a GPU; none here")
    env = dict(os.environ, SJ_LIF_CUDA_IMPLEMENTATION=implementation)
    done = subprocess.run(
        [sys.executable, str(GPU_CHECK)],
        cwd=GPU_CHECK.parent.parent.parent,  # the repository's root, as a user runs it
        env=env,
        capture_output=True,
        text=True,
    )
    if "No available sj_lif CUDA implementation" in done.stderr:
        pytest.skip(f"SpikingJelly's {implementation} kernels are not available here")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("ok: SAM on "), done.stdout


def test_gpu_check_script_is_self_contained():
    """It ran `from test_spikingjelly import ...`, which imports conftest: ModuleNotFoundError
    outside pytest, so on a GPU the test failed. It may import only installed packages."""
    import ast

    tree = ast.parse(GPU_CHECK.read_text())
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    roots = {m.split(".")[0] for m in modules}
    assert roots <= {"math", "os", "torch", "spikingjelly", "sam_plugins"}, roots
