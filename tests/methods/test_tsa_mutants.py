"""Tests that kill mutants mutmut left alive in Temporal Spike Attribution
(sam_plugins/methods/tsa.py; benchmarks/mutation.sh, issue 24): the bounds of the decay, given or
read from the neurons; the whole text of the errors; the chains refused; what the method passes
on to the recording (layers, step_mode, graded, run); the result's layout, dtype and outputs; and
the float64 precision of `tsa_maps`.

Plain torch modules stand for the spiking layers (a threshold with a `beta` attribute), so the
spikes and the expected maps are computed here, from TSA's definition, without the library."""

import math

import pytest
import torch
from torch import nn

from sam_plugins import TemporalSpikeAttribution
from sam_plugins.methods.tsa import tsa_maps
from sam_plugins.recorder import NotSpikesError

T, B, N_IN, N_HID, CLASSES = 4, 2, 5, 6, 3


class Fire(nn.Module):
    """A stateless spiking layer: `level` where its input is positive, else 0. `beta` is what
    TSA reads as the membrane decay (None: nothing to read)."""

    def __init__(self, beta=None, level=1.0):
        super().__init__()
        self.beta, self.level = beta, level

    def forward(self, x):
        return (x > 0).to(x.dtype) * self.level


class MultiFire(Fire):
    """The same layer taking the whole sequence [T, B, n] in one call (a multi-step module)."""

    def forward(self, x):
        steps, batch, n = x.shape  # refuses one step [B, n]
        return super().forward(x)


class Keep(nn.Module):
    """Keeps the first `n` values of the last axis: a module without weights that changes
    the width between the layers of a chain."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def forward(self, x):
        return x[..., : self.n]


class Looping(nn.Module):
    """A model whose forward loops over time itself: one call with [T, B, n]."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.stack([self.net(xt) for xt in x])


def message(error_type, call) -> str:
    with pytest.raises(error_type) as error:
        call()
    return str(error.value)


@pytest.fixture
def case():
    """Inputs [T, B, N_IN] of 0/1 and the two weights (multiples of 1/4: the layers' sums are
    exact in float32 and float64 alike, so the test's thresholds agree with the model's)."""
    x = (torch.rand(T, B, N_IN) < 0.6).float()
    w0 = torch.randint(-4, 5, (N_HID, N_IN)) / 4
    w1 = torch.randint(-4, 5, (CLASSES, N_HID)) / 4
    return x, w0, w1


def chain(w0, w1, first=None, second=None):
    """Linear -> spiking -> Linear -> spiking, without biases (TSA ignores them); layers '1'
    and '3'."""
    net = nn.Sequential(
        nn.Linear(N_IN, N_HID, bias=False), first if first is not None else Fire(),
        nn.Linear(N_HID, CLASSES, bias=False), second if second is not None else Fire(),
    )  # fmt: skip
    with torch.no_grad():
        net[0].weight.copy_(w0)
        net[2].weight.copy_(w1)
    return net


def by_hand(x, w0, w1, decay, target=None, variant="s"):
    """TSA from its definition, for a chain of two weight layers: each step's hidden and
    output spikes thresholded here, p the softmax of the output spikes summed over time, and

        TSA[t, b, i] = N_0(t)[i] * sum_j W0[j, i] * N_1(t)[j] * W1[c, j] * p_c

    with N(t) = decay^(T - t) for a spike, 0 (variant "s") or -decay^(T - t) / n for silence.
    Returns the maps [T, B, N_IN] float64, the output spikes [T, B, CLASSES] and the target."""
    x, w0, w1 = x.double(), w0.double(), w1.double()
    hidden = (x @ w0.T > 0).double()
    out = (hidden @ w1.T > 0).double()
    assert hidden.any() and out.any(), "a layer never spiked: the test proves nothing"
    p = torch.softmax(out.sum(0), -1)
    target = p.argmax(-1) if target is None else target
    steps = x.shape[0]

    def contribution(s, t, b):
        weight = decay ** (steps - t)
        silent = 0.0 if variant == "s" else -weight / s.shape[-1]
        return [weight if v != 0 else silent for v in s[t, b].tolist()]

    maps = torch.zeros(x.shape, dtype=torch.float64)
    for t in range(steps):
        for b in range(x.shape[1]):
            c = int(target[b])
            n0, n1 = contribution(x, t, b), contribution(hidden, t, b)
            for i in range(x.shape[2]):
                path = sum(float(w0[j, i]) * n1[j] * float(w1[c, j]) for j in range(len(n1)))
                maps[t, b, i] = n0[i] * path * float(p[b, c])
    return maps, out, target


def test_decay_given_is_checked_and_used_word_for_word(case):
    """decay= must be a finite number in (0, 1]: 0, negatives, values above 1 and NaN/inf are
    refused with the message below; 1 and 0.5 are accepted and are the base of decay^(T - t),
    also for spiking layers whose own decay cannot be read."""
    x, w0, w1 = case
    for bad in (0, 0.0, -0.5, 1.0000001, 1.5, 2, math.nan, math.inf):
        with pytest.raises(ValueError) as error:
            TemporalSpikeAttribution(chain(w0, w1), ["1", "3"], decay=bad)
        assert str(error.value) == f"decay must be a number in (0, 1], found {bad!r}"
    for decay in (1, 0.5):
        tsa = TemporalSpikeAttribution(chain(w0, w1), ["1", "3"], decay=decay)
        assert tsa.decay == decay and type(tsa.decay) is float
        result = tsa.attribute(x, target=[0, 2])
        expected, _, _ = by_hand(x, w0, w1, decay, target=[0, 2])
        torch.testing.assert_close(result.maps("input").double(), expected)


def test_decay_is_read_from_the_first_spiking_layer_word_for_word(case):
    """Without decay=, the base is the first spiking layer's beta (not a later layer's); a
    beta of 1 (no leak) is accepted, one above 1 or none at all is refused by name."""
    x, w0, w1 = case
    for first, second in ((0.8, 0.6), (1.0, 0.6)):
        net = chain(w0, w1, Fire(beta=first), Fire(beta=second))
        result = TemporalSpikeAttribution(net, ["1", "3"], variant="ns").attribute(x, target=1)
        expected, _, _ = by_hand(x, w0, w1, first, target=[1, 1], variant="ns")
        torch.testing.assert_close(result.maps("input").double(), expected)
    for beta in (1.5, None):
        net = chain(w0, w1, Fire(beta=beta), Fire(beta=0.5))
        assert message(ValueError, lambda net=net: TemporalSpikeAttribution(net, ["1", "3"])) == (
            "cannot read one membrane decay in (0, 1] from Fire (beta or tau); pass decay= to "
            "TemporalSpikeAttribution"
        )


def test_step_mode_graded_and_run_reach_the_recording(case):
    """The layers named, step_mode='multi', graded=True and run= are the user's: a multi-step
    module gets the whole sequence, graded spikes (0.5) are refused unless graded=True and
    count as spikes then, and a model looping over time itself runs through run=."""
    x, w0, w1 = case
    expected, _, _ = by_hand(x, w0, w1, 0.5, target=[2, 0])

    multi = chain(w0, w1, MultiFire(), MultiFire())
    result = TemporalSpikeAttribution(multi, ["1", "3"], step_mode="multi", decay=0.5).attribute(
        x, target=[2, 0]
    )
    torch.testing.assert_close(result.maps("input").double(), expected)

    graded = chain(w0, w1, Fire(level=0.5))
    with pytest.raises(NotSpikesError, match="pass graded=True if it emits graded spikes"):
        TemporalSpikeAttribution(graded, ["1", "3"], decay=0.5).attribute(x, target=[2, 0])
    result = TemporalSpikeAttribution(graded, ["1", "3"], graded=True, decay=0.5).attribute(
        x, target=[2, 0]
    )
    torch.testing.assert_close(result.maps("input").double(), expected)

    looping = Looping(chain(w0, w1))
    tsa = TemporalSpikeAttribution(looping, ["net.1", "net.3"], decay=0.5, run=lambda m, v: m(v))
    torch.testing.assert_close(tsa.attribute(x, target=[2, 0]).maps("input").double(), expected)


def test_result_layout_dtype_and_outputs(case):
    """One input layer named and kinded "input", maps in the inputs' precision (float32 for
    float32 inputs, float64 for float64), the model's outputs kept, and the predicted classes
    explained when no target is given."""
    x, w0, w1 = case
    expected, out, _ = by_hand(x, w0, w1, 0.5)
    for dtype in (torch.float32, torch.float64):
        net = chain(w0, w1).to(dtype)
        result = TemporalSpikeAttribution(net, ["1", "3"], decay=0.5).attribute(x.to(dtype))
        layer = result["input"]
        assert list(result) == ["input"] and layer.name == "input" and layer.kind == "input"
        assert layer.maps.dtype == dtype and layer.scores.dtype == dtype
        torch.testing.assert_close(layer.maps.double(), expected)
        torch.testing.assert_close(result.outputs, out.to(dtype), rtol=0, atol=0)


def test_a_layer_never_called_is_named_word_for_word(case):
    """A spiking layer that forward skips has no spikes to weigh: the error names it."""
    x, w0, w1 = case

    class Skips(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin0, self.fire = nn.Linear(N_IN, N_HID), Fire()
            self.lin1, self.out = nn.Linear(N_HID, CLASSES), Fire()

        def forward(self, v):
            return self.out(self.lin1(self.lin0(v)))  # self.fire is never called

    tsa = TemporalSpikeAttribution(Skips(), ["fire", "out"], decay=0.5)
    assert message(RuntimeError, lambda: tsa.attribute(x)) == (
        "layer 'fire' was never called while the model ran"
    )


def test_widths_that_do_not_chain_are_named_word_for_word(case):
    """A module without weights that changes the width (here Keep) breaks the chain: the error
    says where, the input or the spiking layer before the Linear, and both widths."""
    x, w0, w1 = case
    wide = torch.cat([x, x[..., :2]], 2)  # 7 values per step, the model keeps 5
    net = nn.Sequential(
        Keep(N_IN), nn.Linear(N_IN, N_HID), Fire(), nn.Linear(N_HID, CLASSES), Fire()
    )
    tsa = TemporalSpikeAttribution(net, ["2", "4"], decay=0.5)
    assert message(ValueError, lambda: tsa.attribute(wide)) == (
        "TSA needs a chain of Linear and spiking layers: the input has 7 values per step, but "
        "the Linear layer after it takes 5"
    )
    net = nn.Sequential(nn.Linear(N_IN, N_HID), Fire(), Keep(4), nn.Linear(4, CLASSES), Fire())
    tsa = TemporalSpikeAttribution(net, ["1", "4"], decay=0.5)
    assert message(ValueError, lambda: tsa.attribute(x)) == (
        "TSA needs a chain of Linear and spiking layers: layer '1' has 6 values per step, but "
        "the Linear layer after it takes 4"
    )


def test_a_layer_nested_in_another_is_refused_not_skipped(case):
    """Explaining a spiking layer and a module inside it gives more recorded layers than Linear
    layers: TSA refuses it rather than pairing spikes with the wrong weights."""
    x, w0, w1 = case

    class Outer(Fire):
        def __init__(self):
            super().__init__()
            self.inner = Fire()

        def forward(self, v):
            return self.inner(v)

    net = chain(w0, w1, Outer())
    tsa = TemporalSpikeAttribution(net, ["1", "1.inner", "3"], decay=0.5)
    with pytest.raises(ValueError):
        tsa.attribute(x)


def test_chains_refused_word_for_word():
    """Weights inside a spiking layer (a recurrent Linear, however deep, or any other weighted
    module) are refused naming the module that holds them; Linear and spiking layers that do
    not alternate are refused listing the chain found (the model itself as 'model')."""

    class Recurrent(Fire):
        def __init__(self, inner):
            super().__init__()
            self.rec = inner

    def refused(net, layers):
        return message(ValueError, lambda: TemporalSpikeAttribution(net, layers, decay=0.5))

    deep = nn.Sequential(nn.Linear(N_IN, N_HID), Recurrent(nn.Sequential(nn.Linear(N_HID, N_HID))))
    assert refused(deep, ["1"]) == (
        "TSA needs a chain of Linear and spiking layers; the spiking layer holding '1.rec.0' "
        "(Linear) has weights of its own (recurrent), which TSA does not follow"
    )
    conv = nn.Sequential(nn.Linear(N_IN, N_HID), Recurrent(nn.Conv1d(1, 1, 3)))
    assert refused(conv, ["1"]) == (
        "TSA needs a chain of Linear and spiking layers; the spiking layer holding '1.rec' "
        "(Conv1d) has weights of its own (recurrent), which TSA does not follow"
    )
    pairs = nn.Sequential(
        nn.Linear(N_IN, N_HID), nn.Linear(N_HID, CLASSES), Fire(), Fire()
    )  # even length, not alternating
    assert refused(pairs, ["2", "3"]) == (
        "TSA needs a chain Linear -> spiking layer -> ... -> Linear -> spiking layer, found "
        "0 (Linear) -> 1 (Linear) -> 2 (Fire) -> 3 (Fire)"
    )

    class Dense(nn.Linear):  # the model is itself the first Linear
        def __init__(self):
            super().__init__(N_IN, N_HID)
            self.fire, self.out = Fire(), Fire()

    assert refused(Dense(), ["fire", "out"]) == (
        "TSA needs a chain Linear -> spiking layer -> ... -> Linear -> spiking layer, found "
        "model (Dense) -> fire (Fire) -> out (Fire)"
    )


def test_tsa_maps_keep_float64_precision():
    """tsa_maps returns float64 computed in float64, also from float32 spikes, weights and
    confidences: decay^(T - t) and W[c] * p_c are not rounded to float32 on the way."""
    steps, n_in = 12, 4
    spikes = (torch.rand(steps, B, n_in) < 0.5).float()
    weight = torch.randn(CLASSES, n_in)  # float32
    probs = torch.softmax(torch.randn(B, CLASSES), -1)  # float32
    target = torch.tensor([2, 1])
    maps = tsa_maps([spikes], [weight], probs, target, 0.7, "s")
    assert maps.dtype == torch.float64
    expected = torch.zeros(steps, B, n_in, dtype=torch.float64)
    for t in range(steps):
        for b in range(B):
            c = int(target[b])
            for i in range(n_in):
                if spikes[t, b, i]:
                    expected[t, b, i] = (
                        0.7 ** (steps - t) * float(weight[c, i]) * float(probs[b, c])
                    )
    torch.testing.assert_close(maps, expected, rtol=1e-13, atol=0)


def test_decay_read_from_the_neurons_in_float64_and_from_if_neurons(case):
    """The decay read from the neurons is exact in float64 (beta 0.9, SpikingJelly tau 3:
    1 - 1/3), a beta of 0 is refused (no memory: the formula's base must be positive), and
    SpikingJelly's IF neurons (no leak) count with decay 1."""
    from spikingjelly.activation_based import neuron

    x, w0, w1 = case
    assert TemporalSpikeAttribution(chain(w0, w1, Fire(beta=0.9)), ["1", "3"]).decay == 0.9
    lif = chain(w0, w1, neuron.LIFNode(tau=3.0), neuron.LIFNode(tau=3.0))
    assert TemporalSpikeAttribution(lif, ["1", "3"]).decay == 1 - 1 / 3
    if_net = chain(w0, w1, neuron.IFNode(), neuron.IFNode())
    assert TemporalSpikeAttribution(if_net, ["1", "3"]).decay == 1.0
    net = chain(w0, w1, Fire(beta=0.0), Fire(beta=0.5))
    assert message(ValueError, lambda: TemporalSpikeAttribution(net, ["1", "3"])) == (
        "cannot read one membrane decay in (0, 1] from Fire (beta or tau); pass decay= to "
        "TemporalSpikeAttribution"
    )
