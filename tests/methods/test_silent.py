"""Silent layers: a layer that emits no spike over the whole input is named (a Python warning
from the API, one ``note:`` line on the command line, "no spikes" on its report panel) instead
of showing an all-blank map; each layer's spikes per sample are in ``LayerSAM.spike_count``.
An all-zero model output reads "no prediction (all outputs zero)", not "predicted 0"."""

import re
import warnings

import numpy as np
import pytest
import torch
from conftest import record_spikes, snntorch_net
from plain_snn import ConvSNN
from snntorch import utils

from sam_plugins import SNNGradCAM, SpikeActivationMap, SpikeCount, explain
from sam_plugins.cli import main
from sam_plugins.methods import SilentLayerWarning
from sam_plugins.outputs import predictions
from sam_plugins.report import sample_titles

X = (torch.rand(6, 3, 2, 8, 8, generator=torch.Generator().manual_seed(0)) < 0.9).float()


def silenced(net):
    """The snnTorch net with its second conv layer's neurons ("4") never reaching threshold."""
    with torch.no_grad():
        net[3].weight.fill_(-1.0)
        net[3].bias.fill_(-1.0)
    return net


def caught(call):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = call()
    return result, [str(w.message) for w in seen if issubclass(w.category, SilentLayerWarning)]


def test_spike_count_is_each_samples_spikes_counted_by_plain_hooks():
    net = snntorch_net()
    result, silent = caught(lambda: explain(net, X))
    assert silent == []
    utils.reset(net)
    modules = {"1": net[1], "4": net[4], "7": net[7]}
    plain = record_spikes(
        modules,
        lambda: [net(xt) for xt in X],
        lambda out: out[0] if isinstance(out, tuple) else out,
    )
    for name in modules:
        spikes = torch.stack(plain[name])  # [T, B, ...]
        expected = (spikes != 0).flatten(2).sum(2).sum(0)
        assert int(expected.sum()) > 0, name
        assert torch.equal(result[name].spike_count, expected), name


@pytest.mark.parametrize(
    "method",
    [
        lambda net: explain(net, X),
        lambda net: SpikeActivationMap(net).attribute(X),
        lambda net: SpikeCount(net).attribute(X),
        lambda net: SNNGradCAM(net).attribute(X, 1),
    ],
    ids=["explain", "SAM attribute", "spike count", "Grad-CAM"],
)
def test_a_silent_layer_is_named_in_one_warning(method):
    result, silent = caught(lambda: method(silenced(snntorch_net())))
    assert "layer '4' (Leaky) emitted no spike over the whole input (T=6, B=3)" in silent[0]
    assert len(silent) == len(result) - 1, silent  # and the output layer after it, if mapped
    assert torch.equal(result["4"].spike_count, torch.zeros(3, dtype=torch.long))
    assert int(result["1"].spike_count.sum()) > 0


def test_the_with_block_result_warns_too():
    net = silenced(snntorch_net())
    with SpikeActivationMap(net) as sam:
        for xt in X:
            net(xt)
    result, silent = caught(sam.result)
    assert len(silent) == 2 and "'4'" in silent[0] and "'7'" in silent[1]
    assert result["4"].maps.abs().sum() == 0


def test_all_zero_outputs_are_no_prediction():
    scores = torch.tensor([[0.0, 0.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.0, 0.0]])
    assert predictions(scores) == [None, 1, None]
    assert predictions(torch.stack([scores, scores])) == [None, 1, None]  # [T, B, classes]
    titles = sample_titles(scores, torch.tensor([2, 1, 0]), 3)
    assert titles[0] == "sample 0, label 2, no prediction (all outputs zero)"
    assert titles[1] == "sample 1, label 1, predicted 1"
    assert "predicted" not in titles[2]


def test_command_line_notes_a_silent_layer_in_one_line(tmp_path, capsys):
    net = ConvSNN()
    with torch.no_grad():
        net.conv2.weight.fill_(-1.0)  # lif2 and, after it, lif3 never fire
        net.conv2.bias.fill_(-1.0)
    torch.save(net.state_dict(), tmp_path / "w.pt")
    np.save(tmp_path / "x.npy", np.ones((4, 2, 2, 16, 16), np.float32))
    argv = ["explain", "plain_snn:ConvSNN", "--weights", str(tmp_path / "w.pt")]
    argv += ["--layers", "lif1", "lif2", "lif3"]
    argv += ["--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "o")]
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # a warning shown by Python as well would be seen
        assert main(argv) == 0
    out, err = capsys.readouterr()
    notes = [line for line in (out + err).splitlines() if "no spike" in line]
    assert notes == [
        "note: layer 'lif2' (PlainLIF) emitted no spike over the whole input "
        "(T=4, B=2): its maps are all zero",
        "note: layer 'lif3' (PlainLIF) emitted no spike over the whole input "
        "(T=4, B=2): its maps are all zero",
    ], out + err
    assert "Warning" not in err, err
    page = (tmp_path / "o" / "report.html").read_text()
    # lif2's panel and lif3's raster (a Linear layer: neuron x time), in each of 2 samples
    assert len(re.findall(r"<figcaption>[^<]*, no spikes", page)) == 4
    assert "no prediction (all outputs zero)" in page and "predicted 0" not in page
