"""Issue 17, core half: input that used to give silent wrong results or crash deep inside torch,
numpy or numba now gets a clear error (or the right result)."""

import pytest
import torch
from plain_snn import ConvSNN, PlainLIF
from torch import nn

from sam_plugins import (
    NotSpikesError,
    SpikeActivationMap,
    SpikeCount,
    SpikeShapeError,
    explain,
    neuronal_contribution,
    normalize_maps,
    spike_activation_map,
)
from sam_plugins.engine import StreamingSAM, backend
from sam_plugins.testing.reference import literal_spike_activation_map

NAN, INF = float("nan"), float("inf")


@pytest.fixture(params=["numba", "torch"])
def engine(request):
    with backend.use(request.param) as chosen:
        yield chosen


def spikes(shape=(5, 2, 3, 4, 4)):
    return (torch.rand(shape) < 0.4).float()


# --- the functional API ----------------------------------------------------------------------
@pytest.mark.parametrize("value", [NAN, INF, -INF])
@pytest.mark.parametrize("fn", [spike_activation_map, neuronal_contribution])
def test_functional_api_refuses_non_finite_spikes(engine, fn, value):
    s = spikes()
    s[3, 1, 2, 0, 1] = value
    with pytest.raises(ValueError, match=r"finite.*found 1 value"):
        fn(s)


@pytest.mark.parametrize("fn", [spike_activation_map, neuronal_contribution])
@pytest.mark.parametrize("shape", [(0, 2, 3, 4, 4), (3, 0, 3, 4, 4), (3, 2, 0, 4, 4)])
def test_functional_api_refuses_empty_spikes(engine, fn, shape):
    with pytest.raises(ValueError, match=r"at least one step, one sample and one neuron"):
        fn(torch.zeros(shape))


def test_streaming_sam_refuses_empty_spikes(engine):
    stream = StreamingSAM()
    for shape in [(0, 2, 3, 4, 4), (2, 0, 3, 4, 4), (2, 2, 0, 4, 4), (2, 2, 3, 0, 4)]:
        with pytest.raises(ValueError, match="at least one step"):
            stream.update(torch.zeros(shape))
    # and it still works afterwards
    s = spikes()
    torch.testing.assert_close(stream.update(s), literal_spike_activation_map(s, 0.5))


def test_functional_api_refuses_complex_spikes():
    with pytest.raises(ValueError, match="real"):
        spike_activation_map(spikes().to(torch.complex64))


# --- values the recorder's fast path does not look at ----------------------------------------
class Emit(nn.Module):
    """Emits prepared spikes, one step per call: `values[i]` is put at one place of call i."""

    def __init__(self, values, shape=(2, 3, 4, 4)):
        super().__init__()
        self.values, self.shape, self.calls = values, shape, 0

    def forward(self, x):
        torch.manual_seed(self.calls)
        out = (torch.rand(self.shape) < 0.5).float()
        out.view(-1)[0] = 1.0  # every call spikes, so the first call passes the full check
        out.view(-1)[-1] = self.values[self.calls % len(self.values)]
        self.calls += 1
        return out


def record(net, steps, sam=None):
    sam = sam or SpikeActivationMap(net, layers=["n"])
    sam.reset()
    with sam:
        for _ in range(steps):
            net(None)
    return sam.result()


class One(nn.Module):
    def __init__(self, values, shape=(2, 3, 4, 4)):
        super().__init__()
        self.n = Emit(values, shape)

    def forward(self, x):
        return self.n(x)


@pytest.mark.parametrize("value", [NAN, INF, -INF])
@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (2, 7)], ids=["conv", "linear"])
def test_non_finite_spike_at_a_later_step_is_caught(engine, value, shape):
    net = One([1.0, 1.0, value, 1.0], shape)
    with pytest.raises(NotSpikesError, match=r"layer 'n'.*not finite"):
        record(net, 4)


def test_non_finite_spike_in_a_later_batch_is_caught(engine):
    net = One([1.0] * 3 + [NAN] * 3)
    sam = SpikeActivationMap(net, layers=["n"])
    record(net, 3, sam)  # the first sequence is clean
    with pytest.raises(NotSpikesError, match="not finite"):
        record(net, 3, sam)


def test_non_finite_spike_in_a_graded_layer_is_caught(engine):
    net = One([0.5, 2.5, NAN, 1.0])
    with pytest.raises(NotSpikesError, match="not finite"):
        record(net, 4, SpikeActivationMap(net, layers=["n"], graded=True))


@pytest.mark.parametrize("value", [-1.0, 1e6])
def test_values_outside_what_spikes_allow_at_a_later_step_are_caught(engine, value):
    """Not every value other than 0/1 after a layer's first checked call is caught (that would
    cost a pass over every call's spikes), but those that put the maps outside the range 0/1
    spikes allow are: here a negative map value and one over the bound."""
    net = One([1.0, 1.0, value, 1.0])
    with pytest.raises(NotSpikesError, match=r"layer 'n'.*values in \{0, 1\}.*graded=True"):
        record(net, 4)


def test_the_maps_bound_holds_for_every_binary_layer_at_its_extremes(engine):
    """All neurons spiking at every step reaches the bound: no false alarm, gamma 0 too."""
    for gamma in (0.0, 0.5, 3.0):
        for window in ("previous", "inclusive"):
            net = One([1.0])
            net.n.forward = lambda x: torch.ones(2, 3, 4, 4)
            sam = SpikeActivationMap(net, layers=["n"], gamma=gamma, window=window)
            result = record(net, 40, sam)
            assert result["n"].maps.max() > 0


def test_graded_layers_still_take_any_finite_value(engine):
    net = One([1.0, 2.5, -3.0, 0.25])
    result = record(net, 4, SpikeActivationMap(net, layers=["n"], graded=True))
    assert torch.isfinite(result["n"].maps).all()


@pytest.mark.parametrize("shape", [(0, 3, 4, 4), (2, 0, 4, 4)], ids=["batch 0", "0 channels"])
def test_recorder_refuses_empty_single_step_calls(engine, shape):
    class Empty(nn.Module):
        def forward(self, x):
            return torch.zeros(shape)

    net = nn.Sequential(Empty())
    with pytest.raises(SpikeShapeError, match="no values"), SpikeActivationMap(net, ["0"]):
        net(None)


def test_recorder_refuses_a_multi_step_call_with_no_steps(engine):
    class Empty(nn.Module):
        def forward(self, x):
            return torch.zeros(0, 2, 3, 4, 4)

    net = nn.Sequential(Empty())
    sam = SpikeActivationMap(net, ["0"], step_mode="multi")
    with pytest.raises(SpikeShapeError, match="no values"), sam:
        net(None)


def test_recorder_refuses_spikes_without_a_neuron_axis():
    class Flat(nn.Module):
        def forward(self, x):
            return torch.ones(3)  # [B] per step: no neuron axis

    net = nn.Sequential(Flat())
    with pytest.raises(SpikeShapeError, match=r"\[batch, neurons"), SpikeActivationMap(net, ["0"]):
        net(None)


# --- inference mode --------------------------------------------------------------------------
@pytest.mark.parametrize("first", ["inference", "no_grad"])
def test_one_sam_object_runs_in_and_out_of_inference_mode(engine, first):
    net = ConvSNN()
    sam = SpikeActivationMap(net, layers=[PlainLIF])
    x = (torch.rand(5, 2, 2, 16, 16) < 0.3).float() * 2
    modes = {"inference": torch.inference_mode, "no_grad": torch.no_grad}
    order = [first, "no_grad" if first == "inference" else "inference", first, "inference"]
    results = []
    for mode in order:
        with modes[mode]():
            net.reset()
            results.append(sam.attribute(x)["lif1"].maps.clone())
    for r in results[1:]:
        torch.testing.assert_close(r, results[0])


def test_with_block_in_inference_mode_then_with_grad(engine):
    net = ConvSNN()
    sam = SpikeActivationMap(net, layers=[PlainLIF])
    x = (torch.rand(4, 2, 2, 16, 16) < 0.3).float() * 2
    maps = []
    for mode in (torch.inference_mode, torch.enable_grad, torch.inference_mode):
        sam.reset()
        net.reset()
        with mode(), sam:
            for xt in x:
                net(xt)
        maps.append(sam.result()["lif1"].maps.clone())
    torch.testing.assert_close(maps[1], maps[0])
    torch.testing.assert_close(maps[2], maps[0])


def test_streaming_state_made_in_inference_mode_goes_on_outside(engine):
    s = spikes((6, 2, 3, 4, 4))
    stream = StreamingSAM()
    with torch.inference_mode():
        first = stream.update(s[:3])
    rest = stream.update(s[3:])  # the same sequence goes on outside inference mode
    torch.testing.assert_close(torch.cat([first, rest]), literal_spike_activation_map(s, 0.5))


# --- heat map size ---------------------------------------------------------------------------
BAD_SIZES = [(3.5, 5), (16.0, 16.0), (0, 5), (-2, 4), (4,), 7, "ab", (True, 4)]


@pytest.mark.parametrize("size", BAD_SIZES)
def test_heatmap_size_must_be_two_positive_ints(size):
    with pytest.raises(ValueError, match=r"size must be \(height, width\)"):
        normalize_maps(torch.rand(2, 1, 16, 16), size)


def test_heatmap_size_takes_numpy_ints():
    np = pytest.importorskip("numpy")
    assert normalize_maps(torch.rand(2, 1, 4, 4), (np.int64(8), 6)).shape == (2, 1, 8, 6)


# --- explain checks how it read the model's time axis ------------------------------------------
def test_explain_result_steps_and_batch_are_checked_against_the_inputs():
    class LoopsOverBatch(nn.Module):
        """A time loop inside forward (over dim 0), fed one step at a time by explain."""

        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 5)
            self.lif = PlainLIF(0.8, 0.1)

        def forward(self, x):
            return torch.stack([self.lif(self.fc(xt).unsqueeze(0)) for xt in x])

    net = LoopsOverBatch()
    with pytest.raises(SpikeShapeError, match=r"inputs \[T=4, B=3.*run="):
        explain(net, torch.rand(4, 3, 6), layers=[PlainLIF])


@pytest.mark.parametrize("value", [NAN, 2.0, 0.5])
def test_spike_map_methods_check_every_recorded_value(engine, value):
    """Spike count keeps the whole sequence, so all of it is checked: a NaN counted as a spike
    gave a finite, wrong map."""
    net = One([1.0, 1.0, value, 1.0])
    with pytest.raises(NotSpikesError, match="layer 'n'"):
        SpikeCount(net, layers=["n"]).attribute(torch.zeros(4, 2, 1))
    net = One([1.0, 1.0, value, 1.0])
    graded = SpikeCount(net, layers=["n"], graded=True)
    if value != value:  # NaN: not even a graded spike
        with pytest.raises(NotSpikesError):
            graded.attribute(torch.zeros(4, 2, 1))
    else:
        assert graded.attribute(torch.zeros(4, 2, 1))["n"].maps.shape == (4, 2, 4, 4)


@pytest.mark.parametrize("value", [NAN, INF])
def test_attribute_refuses_non_finite_inputs(value):
    """A NaN input makes threshold neurons silent: the maps would be zero, not an error."""
    x = torch.rand(4, 2, 2, 16, 16)
    x[2, 1, 0, 3, 3] = value
    with pytest.raises(ValueError, match=r"inputs must be finite.*1 value"):
        explain(ConvSNN(), x, layers=[PlainLIF])


def test_kept_spikes_are_checked_in_full(engine):
    net = One([1.0, 1.0, 0.5, 1.0])
    sam = SpikeActivationMap(net, layers=["n"], keep_spikes=True)
    with pytest.raises(NotSpikesError, match="layer 'n'"):
        record(net, 4, sam)


def test_functional_maps_that_overflow_are_refused_not_returned(engine):
    s = spikes()
    s[s != 0] = 3e38  # finite float32 graded spikes whose maps overflow
    with pytest.raises(ValueError, match="overflow"):
        spike_activation_map(s)
    torch.testing.assert_close(  # in float64 they do not
        spike_activation_map(s.double()), literal_spike_activation_map(s.double(), 0.5)
    )


def test_input_check_tells_overflowing_sums_from_non_finite_values():
    """The inputs are checked by their sum first: +inf and -inf cancel to NaN there (refused),
    and finite values whose sum overflows are still accepted."""
    from sam_plugins.methods.base import check_inputs

    x = torch.zeros(3, 2, 4)
    x[0, 0, 0], x[1, 1, 1] = INF, -INF
    with pytest.raises(ValueError, match=r"inputs must be finite.*2 values"):
        check_inputs(x)
    huge = torch.full((3, 2, 4), 3e38)
    assert not torch.isfinite(huge.sum()) and check_inputs(huge) is huge
