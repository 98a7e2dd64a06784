"""Tests that kill mutants mutmut left alive in the map methods (benchmarks/mutation.sh,
issue 24): the whole text of the errors they raise (other tests match a word of it, so a
garbled message passed)."""

import functools
import math
import sys

import numpy as np
import pytest
import torch
from torch import nn

from sam_plugins import (
    RandomMap,
    SNNGradCAM,
    SpikeActivationMap,
    SpikeCount,
    class_scores,
    explain,
)
from sam_plugins.methods.base import (
    SilentLayerWarning,
    check_inputs,
    maps_result,
    silent_layer_messages,
)
from sam_plugins.methods.captum import CaptumMethod
from sam_plugins.result import LayerSAM, SAMResult


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


# --- a neuron layer in plain torch, so that every map below can be worked out by hand --------


class Fire(nn.Module):
    """Spikes of `height` where the input is positive, 0 elsewhere, with gradient 1 (a
    straight-through surrogate); returns (spikes, input) as snnTorch's init_hidden=False neurons
    return (spk, mem), and the models below unpack that pair."""

    def __init__(self, height: float = 1.0, surrogate: bool = True) -> None:
        super().__init__()
        self.height, self.surrogate = height, surrogate

    def forward(self, x):
        spikes = self.height * (x > 0).float()
        return (spikes + (x - x.detach()) if self.surrogate else spikes), x


class Readout(nn.Module):
    """One step [B, C, L] -> class scores [B, 3]: a flat neuron layer `gate` ([B, L] spikes, no
    spatial layout; it adds the same to every class) registered before a 1-D neuron layer `fire`
    ([B, C, L] spikes), read out by a linear layer."""

    def __init__(
        self, height: float = 1.0, channels: int = 2, length: int = 4, surrogate: bool = True
    ) -> None:
        super().__init__()
        self.gate = Fire()
        self.fire = Fire(height, surrogate)
        self.unused = Fire()  # never called by forward
        self.fc = nn.Linear(channels * length, 3)

    def forward(self, x):
        gate, _ = self.gate(x[:, 0])
        spikes, _ = self.fire(x)
        return self.fc(spikes.flatten(1)) + gate.sum(1, keepdim=True)


class WholeSequence(nn.Module):
    """The same readout taking all steps [T, B, C, L] in one call (a multi-step model)."""

    def __init__(self, channels: int = 2, length: int = 4) -> None:
        super().__init__()
        self.fire = Fire()
        self.fc = nn.Linear(channels * length, 3)

    def forward(self, x):
        spikes, _ = self.fire(x)
        return self.fc(spikes.flatten(2))


def grad_cam_by_hand(spikes, weight, labels):
    """Grad-CAM of each step of a layer read out linearly: the score's gradient with respect to
    the spikes [T, B, C, L] is the class's weights [C, L]; ReLU(sum_c mean_l(w[c]) * S[t, c])."""
    w = weight.view(3, spikes.shape[2], spikes.shape[3])[labels].mean(2)  # [B, C]
    return torch.relu((w[None, :, :, None] * spikes).sum(2))


def test_layer_grad_cam_of_a_1d_layer_by_hand():
    """LayerGradCam explains each step of a 1-D layer (spikes [T, B, C, L] have a spatial
    layout), skips a flat layer listed before it, explains each sample's predicted class, and
    counts every spike of every step per sample."""
    net = Readout()
    with torch.no_grad():  # class 0: channel 0 fires more, class 1: channel 1, class 2: both
        weights = [[1.0] * 4 + [-1.0] * 4, [-1.0] * 4 + [1.0] * 4, [0.2] * 8]
        net.fc.weight.copy_(torch.tensor(weights))
        net.fc.bias.zero_()
    x = torch.randn(3, 4, 2, 4)
    spikes = (x > 0).float()
    weight = net.fc.weight.detach()
    with torch.no_grad():  # the scores written out: readout summed over time, plus the gate
        gate = (x[:, :, 0] > 0).float().sum(dim=(0, 2))[:, None]
        scores = torch.einsum("tbn,kn->bk", spikes.flatten(2), weight) + gate
    predicted = scores.argmax(1)
    assert len(set(predicted.tolist())) > 1  # the samples' classes differ
    result = CaptumMethod(net, ["gate", "fire"], algorithm="LayerGradCam").attribute(x)
    assert list(result) == ["fire"]
    expected = grad_cam_by_hand(spikes, weight, predicted)
    assert expected.shape == (3, 4, 4) and expected.sum() > 0
    torch.testing.assert_close(result["fire"].maps, expected)
    assert result["fire"].spike_count.tolist() == spikes.sum(dim=(0, 2, 3)).long().tolist()


def test_layer_grad_cam_of_a_multi_step_layer_run_in_chunks():
    """A multi-step model that `run` feeds two steps at a time: every forward Captum makes goes
    through `run` (one to record, then one per explained step), and the step explained in the
    second chunk is found there."""
    net = WholeSequence()
    calls = []

    def run(model, x):
        calls.append(x.shape[0])
        return torch.cat([model(x[:2]), model(x[2:])])

    x = torch.randn(4, 3, 2, 4)
    target = torch.tensor([0, 2, 1])
    method = CaptumMethod(net, ["fire"], algorithm="LayerGradCam", step_mode="multi", run=run)
    result = method.attribute(x, target)
    assert calls == [4] * 5
    expected = grad_cam_by_hand((x > 0).float(), net.fc.weight.detach(), target)
    assert expected[2:].sum() > 0
    torch.testing.assert_close(result["fire"].maps, expected)


def test_layer_grad_cam_refuses_graded_spikes_unless_told():
    net = Readout(height=0.5)
    x = torch.randn(3, 2, 2, 4)
    target = torch.tensor([1, 0])
    assert message(
        ValueError, lambda: CaptumMethod(net, ["fire"], algorithm="LayerGradCam").attribute(x)
    ) == (
        "layer 'fire' (Fire) does not emit spikes: expected values in {0, 1}, found values from "
        "0 to 0.5. Record the neuron module itself rather than the layer before it, or pass "
        "graded=True if it emits graded spikes."
    )
    graded = CaptumMethod(net, ["fire"], algorithm="LayerGradCam", graded=True)
    expected = grad_cam_by_hand(0.5 * (x > 0).float(), net.fc.weight.detach(), target)
    assert expected.sum() > 0
    torch.testing.assert_close(graded.attribute(x, target)["fire"].maps, expected)


def test_layers_never_called_word_for_word():
    net = Readout()
    x = torch.randn(2, 1, 2, 4)
    assert (
        message(
            RuntimeError,
            lambda: CaptumMethod(net, ["fire", "unused"], algorithm="LayerGradCam").attribute(x),
        )
        == "layer 'unused' was never called while the model ran"
    )
    assert message(RuntimeError, lambda: SpikeCount(net, ["fire", "unused"]).attribute(x)) == (
        "layer 'unused' was never called while the model ran"
    )


def test_captum_missing_word_for_word(monkeypatch):
    monkeypatch.setitem(sys.modules, "captum.attr", None)  # `import captum.attr` fails
    assert message(ImportError, lambda: CaptumMethod(Readout(), algorithm="Saliency")) == (
        'Captum is not installed; install it with: pip install "sam-plugins[captum]"'
    )


class ReusedNeurons(nn.Module):
    """One step [B, 2, 2] -> scores [B, 3] of an snnTorch model that calls its neuron layer
    `lif` twice a step and `lif2` once: the recorder would refuse those step counts."""

    def __init__(self) -> None:
        import snntorch as snn

        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.lif = snn.Leaky(beta=0.5, init_hidden=True)
        self.lif2 = snn.Leaky(beta=0.5, init_hidden=True)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        h = self.lif(self.fc(x.flatten(1)))
        h = self.lif(self.fc(h))
        return self.head(self.lif2(h))


def test_input_methods_record_no_layer():
    """An input method explains the input: the model's neuron layers (found by the adapters)
    are not recorded, so their step counts do not matter; the maps are |d score / d input|."""
    net = ReusedNeurons()
    x = torch.rand(3, 2, 2, 2) * 4
    target = torch.tensor([2, 0])
    result = CaptumMethod(net, algorithm="Saliency").attribute(x, target)
    inputs = x.clone().requires_grad_(True)
    net.lif.reset_mem()
    net.lif2.reset_mem()
    scores = torch.stack([net(xt) for xt in inputs]).sum(0)
    (grad,) = torch.autograd.grad(scores.gather(1, target.view(-1, 1)).sum(), inputs)
    assert grad.abs().sum() > 0
    torch.testing.assert_close(result["input"].maps, grad.abs())
    assert result["input"].kind == "input"


def test_how_to_run_note_word_for_word():
    """A model that fails under the default runner gets a note saying how it was run and what
    to pass instead."""
    with pytest.raises(RuntimeError) as error:
        SpikeCount(Readout(), ["fire"]).attribute(torch.zeros(2, 1, 3, 4))
    assert error.value.__notes__ == [
        "sam-plugins ran the model on inputs [T=2, B=1, ...] with the generic adapter's default "
        "runner: one call per time step, or one call with the whole sequence when the adapter "
        "sees that the model handles time itself. If forward loops over time itself, pass "
        "run=lambda model, x: model(x) (for a static input repeated inside forward: "
        "run=lambda model, x: model(x[0])); if it takes one step per call, pass "
        "run=lambda model, x: [model(xt) for xt in x]. Modules no adapter knows also need "
        "step_mode='multi' if they take [T, B, ...] in one call."
    ]


def test_explain_defaults_refuse_graded_spikes_and_keep_no_spikes():
    x = torch.randn(3, 2, 2, 4)
    assert message(ValueError, lambda: explain(Readout(height=0.5), x, ["fire"])) == (
        "layer 'fire' (Fire) does not emit spikes: expected values in {0, 1}, found values from "
        "0 to 0.5. Record the neuron module itself rather than the layer before it, or pass "
        "graded=True if it emits graded spikes."
    )
    assert explain(Readout(), x, ["fire"])["fire"].spikes is None
    kept = explain(Readout(), x, ["fire"], keep_spikes=True)["fire"].spikes
    assert torch.equal(kept, (x > 0).float())


def test_random_maps_arguments_reach_the_method():
    """RandomMap's default seed is 0, its maps one uniform draw [T, B, L]; graded spikes are
    refused unless graded=True; step_mode and run= are those of the run."""
    x = torch.randn(4, 3, 2, 4)
    maps = RandomMap(Readout(), ["fire"]).attribute(x)["fire"].maps
    seed_0 = torch.Generator().manual_seed(0)
    torch.testing.assert_close(maps, torch.rand(4, 3, 4, generator=seed_0))
    assert message(ValueError, lambda: RandomMap(Readout(height=0.5), ["fire"]).attribute(x)) == (
        "layer 'fire' (Fire) does not emit spikes: expected values in {0, 1}, found values from "
        "0 to 0.5. Record the neuron module itself rather than the layer before it, or pass "
        "graded=True if it emits graded spikes."
    )
    graded = RandomMap(Readout(height=0.5), ["fire"], graded=True, seed=5).attribute(x)["fire"]
    assert graded.spike_count.tolist() == (x > 0).sum(dim=(0, 2, 3)).tolist()
    calls = []

    def run(model, x):
        calls.append(x.shape[0])
        return torch.cat([model(x[:2]), model(x[2:])])

    chunked = RandomMap(WholeSequence(), ["fire"], step_mode="multi", run=run).attribute(x)
    assert calls == [4]
    assert chunked["fire"].maps.shape == (4, 3, 4)
    assert chunked["fire"].spike_count.tolist() == (x > 0).sum(dim=(0, 2, 3)).tolist()


def set_class_weights(net) -> None:
    """Class 0: channel 0 fires more than channel 1, class 1: the reverse, class 2: both."""
    with torch.no_grad():
        weights = [[1.0] * 4 + [-1.0] * 4, [-1.0] * 4 + [1.0] * 4, [0.2] * 8]
        net.fc.weight.copy_(torch.tensor(weights))
        net.fc.bias.zero_()


def scores_by_hand(x, weight):
    """Class scores [B, 3] of `Readout` over inputs [T, B, C, L]: readout summed over time,
    plus the gate's spikes."""
    gate = (x[:, :, 0] > 0).float().sum(dim=(0, 2))[:, None]
    return torch.einsum("tbn,kn->bk", (x > 0).float().flatten(2), weight) + gate


def test_snn_grad_cam_by_hand():
    """SNN Grad-CAM of a layer fed by the inputs themselves (gradients start at the inputs),
    skipping a flat layer listed before it; the predicted classes are explained and the
    result holds the model's outputs, detached, under the method's name."""
    net = Readout()
    set_class_weights(net)
    x = torch.randn(3, 4, 2, 4)
    weight = net.fc.weight.detach()
    scores = scores_by_hand(x, weight)
    predicted = scores.argmax(1)
    assert len(set(predicted.tolist())) > 1
    result = SNNGradCAM(net, ["gate", "fire"]).attribute(x)
    assert list(result) == ["fire"] and result.method == "SNN Grad-CAM"
    # the channel weights are the gradients averaged over time and space: the class's weights
    # averaged over L, as in each step's Grad-CAM of a linear readout
    expected = grad_cam_by_hand((x > 0).float(), weight, predicted)
    assert expected.sum() > 0
    torch.testing.assert_close(result["fire"].maps, expected)
    assert not result.outputs.requires_grad
    torch.testing.assert_close(class_scores(result.outputs), scores)


class TwoHeads(Readout):
    """Returns (steps' scores, spikes of a layer `aux` that feeds no class score)."""

    def __init__(self) -> None:
        super().__init__()
        self.aux = Fire()

    def forward(self, x):
        aux, _ = self.aux(x)
        return super().forward(x), aux


def test_snn_grad_cam_of_a_layer_that_feeds_no_score_is_zero():
    net = TwoHeads()
    x = torch.randn(3, 2, 2, 4)
    target = torch.tensor([0, 1])
    result = SNNGradCAM(net, ["fire", "aux"]).attribute(x, target)
    assert torch.equal(result["aux"].maps, torch.zeros(3, 2, 4))
    assert result["aux"].spike_count.tolist() == (x > 0).sum(dim=(0, 2, 3)).tolist()
    torch.testing.assert_close(
        result["fire"].maps, grad_cam_by_hand((x > 0).float(), net.fc.weight.detach(), target)
    )


class DictOut(nn.Module):
    def forward(self, x):
        return {"spikes": (x > 0).float()}


class ReadsDict(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.odd = DictOut()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.odd(x)["spikes"].flatten(1))


def test_snn_grad_cam_errors_word_for_word():
    x = torch.randn(3, 2, 2, 4)
    assert message(
        ValueError, lambda: SNNGradCAM(Readout(surrogate=False), ["fire"]).attribute(x)
    ) == (
        "the recorded spikes carry no gradient: Grad-CAM needs neurons with a surrogate gradient "
        "(the model's own training path)"
    )
    assert message(TypeError, lambda: SNNGradCAM(ReadsDict(), ["odd"]).attribute(x)) == (
        "DictOut returned dict; expected a spike tensor or a tuple whose first element is the "
        "spike tensor"
    )


def test_targets_that_are_not_labels_word_for_word():
    method = SpikeCount(Readout(), ["fire"])
    x = torch.randn(2, 2, 2, 4)
    start = (
        "target must be class labels (an int, a sequence of ints or an integer tensor [B], or "
        "None); found "
    )
    assert message(TypeError, lambda: method.attribute(x, np.array([0.5, 1.0]))) == (
        start + "ndarray array([0.5, 1. ])"
    )

    def my_run(model, inputs):
        return model(inputs)

    runner = "; a runner is passed as run= when the method is made"
    assert message(TypeError, lambda: method.attribute(x, my_run)) == (
        start + "a function (my_run)" + runner
    )
    assert message(TypeError, lambda: method.attribute(x, functools.partial(my_run, None))) == (
        start + "a function (partial)" + runner
    )


def test_spike_maps_of_a_flat_layer_have_scores():
    """A layer without a spatial layout ([B, N] spikes) gets scores: its maps [T, B, N]
    summed over time; a 1-D layer ([B, C, L] spikes) has maps and no scores."""
    x = torch.randn(3, 2, 2, 4)
    result = SpikeCount(Readout(), ["gate", "fire"]).attribute(x)
    fired = (x[:, :, 0] > 0).float()  # the gate's spikes [T, B, L]
    assert torch.equal(result["gate"].maps, fired)
    assert torch.equal(result["gate"].scores, fired.sum(0))
    assert result["fire"].scores is None
    assert torch.equal(result["fire"].maps, (x > 0).float().sum(2))


def test_explain_passes_graded_and_run_on():
    """explain(graded=True) takes 0.5 spikes; explain(run=...) runs the model with `run`. The
    SAM written out: M[t] = sum_c N[t, c] S[t, c], N[t] = sum_{t' < t, fired} exp(-0.5 (t - t'))."""
    x = torch.randn(4, 2, 2, 4)
    spikes = 0.5 * (x > 0).float()
    expected = torch.zeros(4, 2, 4)
    for t in range(4):
        n = torch.zeros(2, 2, 4)
        for u in range(t):
            n += math.exp(-0.5 * (t - u)) * (spikes[u] != 0).float()
        expected[t] = (n * spikes[t]).sum(1)
    assert expected.sum() > 0
    result = explain(Readout(height=0.5), x, ["fire"], graded=True)
    torch.testing.assert_close(result["fire"].maps, expected)
    assert result.gamma == 0.5 and result["fire"].scores is None  # a 1-D layer: maps only
    calls = []

    def run(model, x):
        calls.append(x.shape[0])
        return torch.cat([model(x[:2]), model(x[2:])])

    chunked = explain(WholeSequence(), x, ["fire"], step_mode="multi", run=run)
    assert calls == [4]
    torch.testing.assert_close(chunked["fire"].maps, 2 * expected)


class LoopsInside(nn.Module):
    """A forward that loops over time itself ([T, B, C, L] in one call): run one step at a time
    it loops over the batch instead, and its layer `fire` sees [C, L] per call."""

    def __init__(self) -> None:
        super().__init__()
        self.fire = Fire()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return torch.stack([self.fc(self.fire(xt)[0].flatten(-2)) for xt in x])


def test_time_axis_read_wrongly_word_for_word():
    x = torch.randn(2, 3, 2, 4)  # [T=2, B=3, C=2, L=4]: 6 calls of batch C=2 per step
    start = (
        "the recorded spikes have 6 step(s) of batch 2, but the inputs are [T=2, B=3, ...]: the "
        "layers' time and batch axes were not read as the model runs, and the maps would be "
        "wrong. "
    )
    assert message(ValueError, lambda: SpikeCount(LoopsInside(), ["fire"]).attribute(x)) == (
        start + "sam-plugins ran the model on inputs [T=2, B=3, ...] with the generic adapter's "
        "default runner: one call per time step, or one call with the whole sequence when the "
        "adapter sees that the model handles time itself. If forward loops over time itself, "
        "pass run=lambda model, x: model(x) (for a static input repeated inside forward: "
        "run=lambda model, x: model(x[0])); if it takes one step per call, pass "
        "run=lambda model, x: [model(xt) for xt in x]. Modules no adapter knows also need "
        "step_mode='multi' if they take [T, B, ...] in one call."
    )
    per_step = SpikeCount(LoopsInside(), ["fire"], run=lambda m, x: [m(xt) for xt in x])
    assert message(ValueError, lambda: per_step.attribute(x)) == start + "Check what run= does."
    # with run= the steps are the run's: a run over the first 2 of 4 steps is taken as it is
    first_two = SpikeCount(Readout(), ["fire"], run=lambda m, x: [m(xt) for xt in x[:2]])
    assert first_two.attribute(torch.randn(4, 3, 2, 4)).steps == 2
    assert message(ValueError, lambda: check_inputs(torch.zeros(2, 0, 3))) == (
        "inputs have B = 0 (no samples): shape (2, 0, 3); expected [T, B, ...] with at least "
        "one time step and one sample"
    )


def test_sam_layer_never_called_word_for_word():
    sam = SpikeActivationMap(Readout(), ["fire", "unused"])
    assert message(RuntimeError, lambda: sam.attribute(torch.randn(2, 1, 2, 4))) == (
        "layer 'unused' was never called while recording"
    )


def test_silent_layers_warn_word_for_word():
    x = -torch.rand(2, 3, 2, 4)  # nothing fires
    with pytest.warns(SilentLayerWarning) as caught:
        result = SpikeCount(Readout(), ["gate", "fire"]).attribute(x)
    assert [str(w.message) for w in caught] == [
        f"layer '{name}' (Fire) emitted no spike over the whole input (T=2, B=3): its maps are "
        "all zero"
        for name in ("gate", "fire")
    ]
    assert result["fire"].spike_count.dtype == torch.long
    assert result["fire"].spike_count.tolist() == [0, 0, 0]
    net = Readout()
    with SpikeActivationMap(net, ["fire"]) as sam:
        net(x[0])
    with pytest.warns(SilentLayerWarning) as caught:
        sam.result()
    assert len(caught) == 1
    unnamed = LayerSAM(
        "scores", None, torch.zeros(3, 2), torch.zeros(2, 3), spike_count=torch.zeros(2)
    )
    assert silent_layer_messages(SAMResult({"scores": unnamed}, gamma=None)) == [
        "layer 'scores' emitted no spike over the whole input (T=2, B=3): its scores are all zero"
    ]


def test_sam_bound_on_maps_counts_the_neurons_summed_in_a_place():
    """After a layer's first call with spikes passed the full check, its maps are bounded by
    (neurons summed in one place) * sum_{d<T} exp(-gamma d): 1 neuron for a flat layer, the
    channels for a 1-D layer."""
    layer = Emit(torch.ones(2, 1, 4))
    net = nn.Sequential(layer)
    with SpikeActivationMap(net, ["0"], step_mode="multi") as sam:
        net(None)  # 0/1 spikes: the layer is checked, later calls are not
        sam.reset()
        layer.out = torch.ones(2, 1, 4)
        layer.out[1, 0, 0] = 3.0  # its map at step 1: 3 exp(-0.5) = 1.81959
        net(None)
    bound = (1 + math.exp(-0.5)) * (1 + 1e-4) + 1e-6  # one neuron, T = 2
    assert message(Exception, sam.result) == (
        "layer '0' (Emit) emitted values that are not spikes at some step: expected values in "
        f"{{0, 1}}, and its SAM maps range from 0 to 1.81959, outside [0, {bound:g}] that 0/1 "
        "spikes allow. Pass graded=True if it emits graded spikes."
    )
    # two channels firing at both steps, the spike at t counted (inclusive window): 2 (1 +
    # exp(-0.5)) at step 1, over one neuron's bound but within two neurons'
    result = explain(Readout(), torch.ones(2, 1, 2, 4), ["fire"], window="inclusive")
    expected = torch.tensor([2.0, 2 * (1 + math.exp(-0.5))]).view(2, 1, 1).expand(2, 1, 4)
    torch.testing.assert_close(result["fire"].maps, expected)


def test_sam_attribute_inside_the_with_block_keeps_the_hooks():
    net = Readout()
    x = torch.randn(3, 2, 2, 4)
    with SpikeActivationMap(net, ["fire"], keep_spikes=True) as sam:
        assert sam.keep_spikes is True  # the setting, readable on the object
        result = sam.attribute(x)
        assert torch.equal(result["fire"].spikes, (x > 0).float())
        sam.reset()
        net(x[0])  # still recording after attribute
        assert torch.equal(sam.result()["fire"].spikes, (x[:1] > 0).float())
