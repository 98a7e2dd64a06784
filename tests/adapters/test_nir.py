"""NIR graphs: exported by one framework, imported by another through sam_plugins.nir, and
explained with the same spikes and so the same maps as the original. Where the frameworks' NIR
support differs (docs/nir.md), the tests say so: a strict xfail with the reason, or an assertion
that the documented error is raised (either turns red when the framework changes)."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import nir
import numpy as np
import pytest
import sinabs
import sinabs.layers as sl
import torch
from conftest import hook_count
from sam_plugins_sinabs import SinabsAdapter
from sinabs.activation import MembraneReset, SingleSpike
from spikingjelly.activation_based import functional, layer, neuron, nir_exchange
from torch import nn

from sam_plugins import explain
from sam_plugins.nir import (
    UNFAITHFUL,
    NIRImportError,
    NIRImportWarning,
    explain_nir,
    load_nir,
    read_nir,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import norse.torch as nt

T, B = 6, 2
# the exporters and Norse's importer call nirtorch's deprecated functions: theirs to change
pytestmark = pytest.mark.filterwarnings("ignore:nirtorch.*deprecated:DeprecationWarning")


def spikingjelly_conv_net(flatten=False):
    """conv -> IF -> conv -> IF (threshold 0.2; hard reset to 0), multi-step; with `flatten`,
    -> flatten -> linear -> IF instead of the second conv."""
    torch.manual_seed(0)
    tail = (
        [layer.Flatten(), layer.Linear(3 * 36, 4), neuron.IFNode()]
        if flatten
        else [layer.Conv2d(3, 2, 3, padding=1), neuron.IFNode(v_threshold=0.2)]
    )
    net = nn.Sequential(layer.Conv2d(1, 3, 3, padding=1), neuron.IFNode(), *tail)
    functional.set_step_mode(net, "m")
    return net


def sinabs_conv_net():
    """The same layout in sinabs, with one spike per bin and reset to 0 (NIR's IF)."""
    torch.manual_seed(0)
    kw = {"spike_fn": SingleSpike, "reset_fn": MembraneReset(), "min_v_mem": None}
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        sl.IAFSqueeze(batch_size=B, **kw),
        nn.Conv2d(3, 2, 3, padding=1),
        sl.IAFSqueeze(batch_size=B, spike_threshold=0.2, **kw),
    )


@pytest.fixture
def frames():
    torch.manual_seed(1)
    return torch.rand(T, B, 1, 6, 6) * 4


def assert_same_maps(original, imported, pairs):
    """Same spikes out and the same maps, layer by layer (original name, imported name)."""
    out = imported.outputs[0] if isinstance(imported.outputs, tuple) else imported.outputs
    assert torch.equal(out, original.outputs), "the imported model spikes differently"
    for a, b in pairs:
        assert original[a].profile.sum() > 0, f"layer {a} never spiked: the test proves nothing"
        torch.testing.assert_close(imported[b].maps, original[a].maps)


def test_spikingjelly_export_is_explained_the_same_through_norse_and_spikingjelly(tmp_path, frames):
    net = spikingjelly_conv_net()
    path = tmp_path / "net.nir"
    nir.write(path, nir_exchange.export_to_nir(net, frames))
    original = explain(net, frames)

    model, framework = load_nir(path)  # the first installed adapter that imports it
    assert framework == "norse" and hook_count(model) == 0
    result, used = explain_nir(path, frames)
    assert used == "norse"
    assert_same_maps(original, result, [("1", "_1"), ("3", "_3")])
    assert [result[n].kind for n in result] == ["IAFCell", "IAFCell"]

    back, used = explain_nir(str(path), frames, framework="spikingjelly")
    assert used == "spikingjelly"
    assert list(back) == ["_1", "_3"]  # the NIR wrappers, which call the IF nodes without hooks
    assert_same_maps(original, back, [("1", "_1"), ("3", "_3")])


def test_sinabs_export_is_explained_the_same_through_norse(frames):
    net = sinabs_conv_net()
    folded = frames.transpose(0, 1).reshape(B * T, 1, 6, 6)
    graph = sinabs.to_nir(net, folded)
    original = explain(net, frames)
    result, used = explain_nir(graph, frames)
    assert used == "norse"
    assert_same_maps(original, result, [("1", "1"), ("3", "3")])


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="sinabs 3.1.3 reads nir.IF as its IAF: several spikes per bin, reset by subtraction "
    "and membrane clipped at -threshold, not the hard-reset IF SpikingJelly exported",
)
def test_spikingjelly_export_through_sinabs(frames):
    net = spikingjelly_conv_net()
    original = explain(net, frames)
    graph = nir_exchange.export_to_nir(net, frames)
    model = SinabsAdapter().import_nir(graph, batch_size=B)  # explain_nir's would take batch 1
    result = explain(model, frames)
    assert list(result) == ["_1", "_3"]
    assert_same_maps(original, result, [("1", "_1"), ("3", "_3")])


@pytest.mark.xfail(
    strict=True,
    raises=RuntimeError,
    reason="Norse 1.1.0 builds nn.Flatten from nir.Flatten's start_dim without the batch axis: "
    "the model flattens the batch and fails (NorseAdapter.import_nir refuses such graphs)",
)
def test_norse_imports_flatten_wrongly(frames):
    net = spikingjelly_conv_net(flatten=True)
    model = nt.from_nir(nir_exchange.export_to_nir(net, frames))
    model(frames[0])


def test_a_graph_norse_refuses_goes_to_the_next_faithful_framework(frames):
    net = spikingjelly_conv_net(flatten=True)
    graph = nir_exchange.export_to_nir(net, frames)
    _, used = load_nir(graph)
    # norse refuses Flatten, sinabs's IF is not faithful (passed over), snnTorch refuses IF
    assert used == "spikingjelly"
    _, used = load_nir(graph, "sinabs")  # unless asked for
    assert used == "sinabs"
    original = explain(net, frames)
    result, used = explain_nir(graph, frames, framework="spikingjelly")
    assert used == "spikingjelly"
    assert torch.equal(result.outputs[0], original.outputs)
    torch.testing.assert_close(result["_1"].maps, original["1"].maps)


def test_snntorch_refuses_if_and_imports_lif():
    rng = np.random.default_rng(0)
    if_graph = nir.NIRGraph.from_list(
        nir.Affine(weight=rng.normal(size=(6, 4)).astype(np.float32), bias=np.zeros(6, np.float32)),
        nir.IF(r=np.ones(6, np.float32), v_threshold=np.ones(6, np.float32)),
    )
    with pytest.raises(NIRImportError, match=r"snntorch: NotImplementedError: .*nir\.IF"):
        load_nir(if_graph, framework="snntorch")
    lif_graph = nir.NIRGraph.from_list(
        nir.Affine(weight=rng.normal(size=(6, 4)).astype(np.float32), bias=np.zeros(6, np.float32)),
        nir.LIF(
            tau=np.full(6, 0.02, np.float32),
            r=np.ones(6, np.float32),
            v_leak=np.zeros(6, np.float32),
            v_threshold=np.full(6, 0.002, np.float32),
        ),
    )
    result, used = explain_nir(lif_graph, torch.rand(T, B, 4) * 3, framework="snntorch")
    assert used == "snntorch" and result["lif"].scores.shape == (B, 6)
    assert result["lif"].profile.sum() > 0


def test_exports_that_fail_with_nir_1_0_8(tmp_path, frames):
    """What docs/nir.md's table says cannot be exported or written with nir 1.0.8."""
    import snntorch as snn
    from snntorch.export_nir import export_to_nir

    leaky = nn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.9, init_hidden=True))
    with pytest.raises(ValueError, match="type mismatch"):
        export_to_nir(leaky, torch.rand(1, 4))
    norse_graph = nt.to_nir(nt.SequentialState(nn.Linear(4, 3), nt.IAFCell()), torch.rand(1, 4))
    with pytest.raises(TypeError, match="Scalar datasets"):  # its 0-d v_reset
        nir.write(tmp_path / "unused.nir", norse_graph)
    folded = frames.transpose(0, 1).reshape(B * T, 1, 6, 6)
    with pytest.raises(TypeError, match="One of data, shape or dtype"):  # Conv2d input_shape None
        nir.write(tmp_path / "unused.nir", sinabs.to_nir(sinabs_conv_net(), folded))


def test_spikingjelly_refuses_the_if_graphs_norse_and_sinabs_export(tmp_path):
    graph = sinabs.to_nir(
        nn.Sequential(nn.Linear(4, 3), sl.IAFSqueeze(batch_size=1)), torch.rand(T, 4)
    )
    nir.write(tmp_path / "iaf.nir", graph)  # Linear + IAF graphs of sinabs do write
    with pytest.raises(
        NIRImportError, match=r"spikingjelly: ValueError: nir.IF.r must equal 1 / dt"
    ):
        load_nir(tmp_path / "iaf.nir", framework="spikingjelly")
    _, used = load_nir(tmp_path / "iaf.nir")
    assert used == "norse"


def test_a_graph_no_framework_imports_names_every_reason():
    graph = nir.NIRGraph.from_list(nir.Threshold(threshold=np.ones(3, np.float32)))
    with pytest.raises(NIRImportError) as error:
        load_nir(graph)
    message = str(error.value)
    assert "no installed framework could import this NIR graph (nodes: " in message
    for name in ("norse", "sinabs", "snntorch", "spikingjelly"):
        assert f"{name}: " in message
    with pytest.raises(NIRImportError, match="no installed adapter named 'brian'"):
        load_nir(graph, framework="brian")


def test_bad_graph_arguments_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="NIR file not found"):
        read_nir(tmp_path / "missing.nir")
    (tmp_path / "junk.nir").write_text("not hdf5")
    with pytest.raises(ValueError, match="is not a readable NIR file"):
        read_nir(tmp_path / "junk.nir")
    with pytest.raises(TypeError, match="expected a nir.NIRGraph"):
        read_nir(nn.Linear(2, 2))


def spikingjelly_lif_classifier():
    """The most common classifier, as SpikingJelly exports it: Conv2d-LIF-Flatten-Linear-LIF."""
    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Conv2d(1, 3, 3, padding=1),
        neuron.LIFNode(tau=2.0),
        layer.Flatten(),
        layer.Linear(3 * 36, 4),
        neuron.LIFNode(tau=2.0),
    )
    for p in net.parameters():
        p.data.abs_()  # so that both layers spike
    functional.set_step_mode(net, "m")
    return net


def test_the_lif_classifier_goes_to_a_framework_that_runs_it_faithfully(frames):
    net = spikingjelly_lif_classifier()
    x = frames * 3
    graph = nir_exchange.export_to_nir(net, x)
    original = explain(net, x)
    # without a sample input, the first faithful importer by name is snnTorch, whose model
    # folds the batch axis into Flatten and fails on a batch of 2; with the input it is passed
    # over (and so is sinabs, whose importer fails on this graph)
    result, used = explain_nir(graph, x)
    assert used == "spikingjelly"
    assert_same_maps(original, result, [("1", "_1")])
    with pytest.raises(RuntimeError):
        model, _ = load_nir(graph, "snntorch")
        explain(model, x)


def test_what_importers_print_is_one_warning(frames, capsys):
    graph = nir_exchange.export_to_nir(spikingjelly_lif_classifier(), frames)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        load_nir(graph, "snntorch")  # snnTorch 1.0 prints the graph's arrays while importing
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == ""
    (warning,) = [w for w in said if w.category is NIRImportWarning]
    assert str(warning.message).startswith("snntorch's NIR importer said: ")


@pytest.mark.parametrize(("framework", "kind"), [("norse", "LIF")])
def test_the_frameworks_passed_over_by_default_do_change_the_spikes(frames, framework, kind):
    """Why UNFAITHFUL lists them (sinabs's IF: test_spikingjelly_export_through_sinabs)."""
    assert kind in UNFAITHFUL[framework]
    torch.manual_seed(0)
    net = nn.Sequential(layer.Conv2d(1, 3, 3, padding=1), neuron.LIFNode(tau=2.0))
    for p in net.parameters():
        p.data.abs_()
    functional.set_step_mode(net, "m")
    x = frames * 3
    original = explain(net, x)
    assert original["1"].profile.sum() > 0
    model, used = load_nir(nir_exchange.export_to_nir(net, x), framework)
    assert used == framework
    result = explain(model, x)
    out = result.outputs[0] if isinstance(result.outputs, tuple) else result.outputs
    assert not torch.equal(out, original.outputs)
    _, chosen = load_nir(nir_exchange.export_to_nir(net, x), inputs=x)
    assert chosen != framework


@pytest.mark.parametrize("layout", ["T, C, H, W", "T, 1, C, H, W", "events"])
def test_a_one_sample_input_on_the_command_line_goes_to_an_importer_that_keeps_the_batch(
    tmp_path, layout
):
    """Issue 33: SpikingJelly's Conv2d-LIF-Flatten-Linear-LIF exported with one sample and
    explained on one sample went to snnTorch, whose model flattens the batch axis away (one
    sample ran, then layer '_4' had spikes shaped (3,)); every one-sample layout now goes to
    SpikingJelly, as [T, B, C, H, W] with B = 2 did."""
    from sam_plugins_tonic.formats import EVENT_DTYPE

    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Conv2d(2, 4, 3, padding=1),
        neuron.LIFNode(),
        layer.Flatten(),
        layer.Linear(256, 3),
        neuron.LIFNode(),
    )
    for p in net.parameters():
        p.data.abs_()  # so that both layers spike
    functional.set_step_mode(net, "m")
    sample = (torch.rand(8, 1, 2, 8, 8) < 0.5).float() * 3  # [T, B, C, H, W], B = 1
    nir_exchange.export_to_nir(net, sample, str(tmp_path / "model.nir"))
    command = "sam-plugins explain model.nir --input x.npy --out out"
    if layout == "events":  # a recording of an 8 x 8 sensor, framed into 8 bins
        rng = np.random.default_rng(0)
        events = np.zeros(400, EVENT_DTYPE)
        for axis, high in (("x", 8), ("y", 8), ("p", 2)):
            events[axis] = rng.integers(0, high, len(events))
        events["t"] = np.sort(rng.integers(0, 8000, len(events)))
        np.save(tmp_path / "x.npy", events)
        command += " --sensor-size 8,8,2 --time-bins 8"
    else:
        np.save(tmp_path / "x.npy", (sample[:, 0] if layout == "T, C, H, W" else sample).numpy())
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # the venv's first
    done = subprocess.run(
        command, shell=True, cwd=tmp_path, env={**os.environ, "PATH": path},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "model.nir: imported by spikingjelly" in done.stderr
    assert "no spike" not in done.stderr  # both layers of the explained model spike
    assert (tmp_path / "out" / "report.html").is_file()
