"""Tests that kill mutants mutmut left alive in the map methods (benchmarks/mutation.sh,
issue 24): the whole text of the errors they raise (other tests match a word of it, so a
garbled message passed)."""

import pytest
import torch
from torch import nn

from sam_plugins import SpikeActivationMap, SpikeCount
from sam_plugins.methods.base import check_inputs, maps_result
from sam_plugins.methods.captum import CaptumMethod


class Emit(nn.Module):
    """Returns the tensor it holds: a layer whose output the test chooses."""

    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.out = out

    def forward(self, x):
        return self.out


def message(error_type, call) -> str:
    with pytest.raises(error_type) as error:
        call()
    return str(error.value)


def test_bad_inputs_word_for_word():
    assert message(ValueError, lambda: check_inputs([1])) == (
        "inputs must be a tensor shaped [T, B, ...] (time first), found list"
    )
    assert message(ValueError, lambda: check_inputs(torch.zeros(3))) == (
        "inputs must be a tensor shaped [T, B, ...] (time first), found (3,)"
    )
    assert message(ValueError, lambda: check_inputs(torch.zeros(0, 2, 3))) == (
        "inputs have T = 0 (no time steps): shape (0, 2, 3); expected [T, B, ...] with at least "
        "one time step and one sample"
    )
    one, two = torch.zeros(2, 1, 3), torch.zeros(2, 1, 3)
    one[0, 0, 0] = two[0, 0, 0] = float("nan")
    two[1, 0, 1] = float("inf")
    assert message(ValueError, lambda: check_inputs(one)) == (
        "inputs must be finite, found 1 value NaN or infinite in inputs of shape (2, 1, 3)"
    )
    assert message(ValueError, lambda: check_inputs(two)) == (
        "inputs must be finite, found 2 values NaN or infinite in inputs of shape (2, 1, 3)"
    )


def test_the_methods_errors_word_for_word():
    flat = nn.Sequential(Emit(torch.zeros(2, 1, 3)))
    # spike maps of a layer without a layout: one place per neuron, [T, B, N]
    assert SpikeCount(flat, ["0"], step_mode="multi").attribute(torch.zeros(2, 1, 3))[
        "0"
    ].maps.shape == (2, 1, 3)
    assert message(ValueError, lambda: maps_result({}, "SNN Grad-CAM", None)) == (
        "none of the explained layers has a spatial layout ([T, B, C, H, W] spikes), so there "
        "is no map to make; choose convolutional neuron layers"
    )
    sam = SpikeActivationMap(flat, ["0"], step_mode="multi")
    assert message(RuntimeError, sam.result) == (
        "nothing was recorded from layers ['0']: run the model inside the `with "
        "SpikeActivationMap(...)` block (or after attach()) before result()"
    )
    assert message(ValueError, lambda: CaptumMethod(flat, algorithm="Nope")) == (
        "captum.attr has no attribution method 'Nope'"
    )
    assert message(ValueError, lambda: CaptumMethod(flat, ["0"], algorithm="Saliency")) == (
        "Saliency attributes to the input and takes no layers; use a Captum layer method "
        "(e.g. LayerGradCam) to explain layers"
    )


def test_values_that_are_not_spikes_after_the_checked_call_word_for_word():
    layer = Emit(torch.ones(2, 1, 3, 2, 2))
    net = nn.Sequential(layer)
    with SpikeActivationMap(net, ["0"], step_mode="multi") as sam:
        net(None)  # 0/1 spikes: the layer is checked, later calls are not
        sam.reset()
        layer.out = torch.ones(2, 1, 3, 2, 2)
        layer.out[1, 0, 0, 0, 0] = -50.0
        net(None)
    assert message(Exception, sam.result) == (
        "layer '0' (Emit) emitted values that are not spikes at some step: expected values in "
        "{0, 1}, and its SAM maps range from -29.1135 to 1.81959, outside [0, 4.82007] that 0/1 "
        "spikes allow. Pass graded=True if it emits graded spikes."
    )
    with SpikeActivationMap(net, ["0"], step_mode="multi") as sam:
        layer.out = torch.ones(2, 1, 3, 2, 2)
        net(None)
        sam.reset()
        layer.out[1, 0, 0, 0, 0] = float("nan")
        net(None)
    assert message(Exception, sam.result) == (
        "layer '0' (Emit) emitted spikes that are not finite (NaN or infinite), first at step "
        "1: its SAM maps there are NaN or infinite. A layer is value-checked in full until a "
        "call with spikes passes; later calls show non-finite values through the maps."
    )


def test_input_maps_of_inputs_without_a_spatial_layout_word_for_word():
    import snntorch as snn

    net = nn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.8, init_hidden=True))
    saliency = CaptumMethod(net, algorithm="Saliency")
    assert message(ValueError, lambda: saliency.attribute(torch.rand(5, 2, 4))) == (
        "input maps need inputs shaped [T, B, C, H, W] or [T, B, H, W], found (5, 2, 4)"
    )
