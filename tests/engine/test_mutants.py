"""Tests that kill mutants mutmut left alive in the engine and the recorder
(benchmarks/mutation.sh, issue 24): the whole text of every error they raise (other tests match
a word of it, so a garbled message passed), and the behaviours named in each test."""

import pytest
import torch
from torch import nn

from sam_plugins import neuronal_contribution, spike_activation_map
from sam_plugins.engine import StreamingSAM
from sam_plugins.plugins import GenericAdapter
from sam_plugins.recorder import NotSpikesError, SpikeRecorder, SpikeShapeError, Target


class Emit(nn.Module):
    """Returns the tensor it holds: a layer whose output the test chooses."""

    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.out = out

    def forward(self, x):
        return self.out


def recorded(out: torch.Tensor, step_mode: str = "multi", graded: bool = False, name="lif"):
    module = Emit(out)
    target = Target(name, module, GenericAdapter(step_mode), graded=graded)
    recorder = SpikeRecorder([target])
    recorder.attach()
    return recorder, module


def message(error_type, call) -> str:
    with pytest.raises(error_type) as error:
        call()
    return str(error.value)


NOT_SPIKES = (
    "layer 'lif' (Emit) does not emit spikes: expected {}, found values from {}. Record the "
    "neuron module itself rather than the layer before it, or pass graded=True if it emits "
    "graded spikes."
)


def test_the_recorder_says_exactly_what_is_not_a_spike(kernels):  # compiled check and torch ops
    _, layer = recorded(torch.tensor([0.0, 1.0, 0.5, 2.0]).reshape(2, 1, 2))
    assert message(NotSpikesError, lambda: layer(None)) == NOT_SPIKES.format(
        "values in {0, 1}", "0 to 2"
    )
    _, layer = recorded(torch.tensor([0.0, 1.0, 0.5, float("inf")]).reshape(2, 1, 2), graded=True)
    assert message(NotSpikesError, lambda: layer(None)) == NOT_SPIKES.format(
        "finite values (graded spikes)", "0 to inf"
    )


def test_the_recorders_shape_errors_word_for_word():
    _, layer = recorded(torch.zeros(2, 1, 3, dtype=torch.complex64))
    assert (
        message(NotSpikesError, lambda: layer(None))
        == "layer 'lif': spikes must be real, found torch.complex64"
    )
    _, layer = recorded(torch.zeros(3), step_mode="single")
    assert message(SpikeShapeError, lambda: layer(None)) == (
        "layer 'lif': expected spikes shaped [batch, neurons or channels, ...] per step, found "
        "shape (3,) (read as 'single'-step). A model that loops over time (or over the batch) "
        "inside forward needs run=lambda model, x: model(x) or the right step_mode"
    )
    _, layer = recorded(torch.zeros(2, 0, 3))
    assert message(SpikeShapeError, lambda: layer(None)) == (
        "layer 'lif': spikes of shape (2, 0, 3) ([steps, batch, ...]) hold no values, B = 0 "
        "(no samples): every call needs at least one step, one sample and one neuron"
    )
    recorder, layer = recorded(torch.zeros(2, 1, 3))
    layer(None)
    layer.out = torch.zeros(2, 2, 3)
    assert message(SpikeShapeError, lambda: layer(None)) == (
        "layer 'lif': call after step 2 gave spikes of shape (2, 3) per step, earlier steps gave "
        "(1, 3). Batch or input size changed without sam.reset(), or the layer's step mode is "
        "not what it seems (read as 'multi'-step). A model that loops over time inside forward "
        "needs run=lambda model, x: model(x) (or step_mode='multi' for modules no adapter knows)"
    )
    assert message(RuntimeError, recorder.attach) == "this recorder is already attached"


def test_disagreeing_step_counts_word_for_word_and_silent_layers_do_not_count():
    a, b, silent = Emit(torch.zeros(3, 1, 2)), Emit(torch.zeros(2, 1, 2)), Emit(torch.zeros(0))
    adapter = GenericAdapter("multi")
    targets = [Target("a", a, adapter), Target("b", b, adapter), Target("c", silent, adapter)]
    recorder = SpikeRecorder(targets)
    recorder.attach()
    a(None)
    recorder.verify()  # one layer with steps, one without: nothing disagrees
    b(None)
    assert message(SpikeShapeError, recorder.verify) == (
        "the recorded layers saw different numbers of time steps: {'a': 3, 'b': 2}. A layer read "
        "as single-step may in fact be multi-step (or the reverse): check step_mode."
    )
    recorder.detach()
    assert not recorder.attached
    assert all(len(m._forward_hooks) == 0 for m in (a, b, silent))


def test_the_engines_errors_word_for_word():
    assert message(ValueError, lambda: StreamingSAM(-1)) == (
        "gamma must be a finite number >= 0, found -1.0"
    )
    assert message(ValueError, lambda: StreamingSAM(0.5, "x")) == (
        "window must be one of ['previous', 'inclusive'], found 'x'"
    )
    assert message(ValueError, lambda: StreamingSAM().update(torch.zeros(0, 1, 2))) == (
        "spikes must hold at least one step, one sample and one neuron, found shape (0, 1, 2)"
    )
    assert message(ValueError, lambda: StreamingSAM().update(torch.zeros(3, 1))) == (
        "spikes must be shaped [steps, batch, neurons or channels, ...], found shape (3, 1)"
    )
    assert message(ValueError, lambda: neuronal_contribution(torch.zeros(3))) == (
        "spikes must be shaped [steps, batch, ...], found shape (3,)"
    )
    # [T, B, N] spikes (a layer without a layout) give [T, B, N] maps: one place per neuron
    assert spike_activation_map(torch.zeros(3, 1, 2)).shape == (3, 1, 2)
    complex_spikes = torch.zeros(3, 1, 2, 2, dtype=torch.complex64)
    assert message(ValueError, lambda: spike_activation_map(complex_spikes)) == (
        "spikes must be real, found torch.complex64"
    )
    one, two = torch.ones(3, 1, 2, 2), torch.ones(3, 1, 2, 2)
    one[1, 0, 0, 0] = two[1, 0, 0, 0] = float("inf")
    two[2, 0, 1, 1] = float("nan")
    assert message(ValueError, lambda: spike_activation_map(one)) == (
        "spikes must be finite, found 1 value that is NaN or infinite in spikes of shape "
        "(3, 1, 2, 2)"
    )
    assert message(ValueError, lambda: spike_activation_map(two)) == (
        "spikes must be finite, found 2 values that are NaN or infinite in spikes of shape "
        "(3, 1, 2, 2)"
    )
    huge = torch.full((3, 1, 2, 2), 3e38)
    assert message(ValueError, lambda: spike_activation_map(huge, 0.0)) == (
        "the maps overflow torch.float32: spikes up to 3e+38 are too large for it; pass float64 "
        "spikes"
    )


def test_buffers_of_the_wrong_shape_dtype_or_device_are_refused_word_for_word():
    spikes = torch.zeros(3, 1, 2)
    assert message(ValueError, lambda: StreamingSAM().update(spikes, out=torch.zeros(3, 2))) == (
        "out must be torch.float32 of shape (3, 1) on cpu, found torch.float32 of shape (3, 2) "
        "on cpu"
    )
    scores = torch.zeros(1, 2, dtype=torch.float64)
    assert message(ValueError, lambda: StreamingSAM().update(spikes, scores=scores)) == (
        "scores must be torch.float32 of shape (1, 2) on cpu, found torch.float64 of shape "
        "(1, 2) on cpu"
    )


def test_one_dimensional_layers_get_maps(kernels):
    from sam_plugins.testing.reference import literal_spike_activation_map

    spikes = (torch.rand(6, 2, 3, 7) < 0.4).float()  # [T, B, C, L]: a 1-D layer
    torch.testing.assert_close(
        spike_activation_map(spikes), literal_spike_activation_map(spikes, 0.5)
    )
