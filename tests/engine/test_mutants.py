"""Tests that kill mutants mutmut left alive in the engine and the recorder
(benchmarks/mutation.sh, issue 24): the whole text of every error they raise (other tests match
a word of it, so a garbled message passed), and the behaviours named in each test."""

import math
import warnings

import pytest
import torch
from torch import nn

from sam_plugins import neuronal_contribution, spike_activation_map
from sam_plugins.engine import StreamingSAM, backend
from sam_plugins.engine.buffers import LayerBuffer
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


# --- the kernel backend's choice and what its kernels take -------------------------------------
def refusing(error: BaseException) -> type:
    """A stand-in for NumbaBackend whose construction fails with `error`."""

    class Refusing:
        def __init__(self) -> None:
            raise error

    return Refusing


def test_numba_missing_is_silent_and_numba_broken_warns_word_for_word(monkeypatch):
    """Without numba SAM runs on torch ops quietly; a numba that is installed but fails (its
    own dependency missing, or any error) is said in a RuntimeWarning pointing at the caller."""
    missing = ModuleNotFoundError("No module named 'numba'", name="numba")
    monkeypatch.setattr(backend, "NumbaBackend", refusing(missing))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert type(backend._choose()) is backend.TorchBackend
    for error in (
        ModuleNotFoundError("No module named 'llvmlite'", name="llvmlite"),
        OSError("libgomp.so.1: cannot open shared object file"),
    ):
        monkeypatch.setattr(backend, "NumbaBackend", refusing(error))
        with pytest.warns(RuntimeWarning) as caught:
            chosen = backend._choose()
        assert type(chosen) is backend.TorchBackend
        assert [str(w.message) for w in caught] == [
            f"sam-plugins: numba is installed but its CPU kernel cannot be used ({error}); SAM "
            "runs on torch ops instead (slower on CPU)"
        ]
        assert caught[0].category is RuntimeWarning
        assert caught[0].filename != backend.__file__  # the caller's line, not the library's


def literal_contributions(spikes: torch.Tensor, gamma: float, inclusive: bool = False):
    """N[t] = sum over t' < t (t' <= t if inclusive) of exp(-gamma (t - t')) [S[t'] != 0],
    term by term, in float64."""
    fired = (spikes != 0).double()
    n = torch.zeros(spikes.shape, dtype=torch.float64)
    for t in range(spikes.shape[0]):
        for earlier in range(t + 1 if inclusive else t):
            n[t] += math.exp(-gamma * (t - earlier)) * fired[earlier]
    return n


def test_buffers_given_as_views_with_gaps_are_filled(kernels):
    """`out` and `scores` that are strided views (here H and W swapped) get the maps and the
    scores written into them, on both backends (the compiled loop takes only contiguous ones)."""
    spikes = (torch.rand(4, 2, 3, 2, 3) < 0.5).float()  # [T, B, C, H, W]
    product = literal_contributions(spikes, 0.5) * spikes
    out = torch.zeros(4, 2, 3, 2).transpose(2, 3)  # [T, B, H, W], not contiguous
    assert StreamingSAM(0.5).update(spikes, out=out) is out
    torch.testing.assert_close(out, product.sum(2).float())
    scores = torch.ones(2, 3, 3, 2).transpose(2, 3)  # [B, C, H, W], not contiguous
    maps = StreamingSAM(0.5).update(spikes, scores=scores)
    torch.testing.assert_close(maps, product.sum(2).float())
    torch.testing.assert_close(scores, 1 + product.sum(0).float())


def test_half_precision_spikes_are_checked_by_the_recorder(kernels):
    """float16 (which the compiled census does not take) is checked by torch ops: 0/1 pass,
    anything else is refused with the layer's values."""
    recorder, layer = recorded(
        torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float16).reshape(2, 1, 2)
    )
    layer(None)
    assert recorder.targets[0].checked
    _, layer = recorded(torch.tensor([0.0, 1.0, 0.5, 0.0], dtype=torch.float16).reshape(2, 1, 2))
    assert message(NotSpikesError, lambda: layer(None)) == NOT_SPIKES.format(
        "values in {0, 1}", "0 to 1"
    )


# --- the per-layer map buffer of a recording ---------------------------------------------------
def allocated_steps(view: torch.Tensor) -> int:
    """How many steps the buffer behind `view` (a slice of it) has room for."""
    return view.untyped_storage().nbytes() // (view[0].numel() * view.element_size())


def test_the_map_buffer_grows_by_doubling_and_starts_at_the_last_length():
    """One allocation for 16 steps at first, doubled when full (16, 32, 64 ... steps), and after
    reset sized for as many steps as the last sequence had; written slices keep their maps."""
    buffer = LayerBuffer()
    step = torch.ones(1, 2, 3, 4, 5)  # one step of [B=2, C=3, 4x5]
    first = buffer.room(step)
    assert first.shape == (1, 2, 4, 5) and allocated_steps(first) == 16
    first.fill_(7.0)
    rooms = [buffer.room(step) for _ in range(15)]  # steps 2 to 16: the same allocation
    assert all(r.untyped_storage().data_ptr() == first.untyped_storage().data_ptr() for r in rooms)
    for t, r in enumerate(rooms, start=1):
        r.fill_(t)
    grown = buffer.room(step)  # step 17: twice the room, the steps so far copied over
    assert grown.shape == (1, 2, 4, 5) and allocated_steps(grown) == 32
    grown.fill_(16.0)
    assert [allocated_steps(buffer.room(step)) for _ in range(16)] == [32] * 15 + [64]
    maps, spikes = buffer.take()
    assert spikes is None and maps.shape == (33, 2, 4, 5) and maps.dtype == torch.float32
    assert maps[:, 0, 0, 0].tolist()[:17] == [7.0, *range(1, 17)]
    buffer.reset()
    assert not buffer.recorded
    again = buffer.room(step)  # the last sequence had 33 steps
    assert allocated_steps(again) == 33
    again.fill_(-1.0)
    assert maps[0, 0, 0, 0] == 7.0  # the maps handed out before the reset are untouched


class Through(nn.Module):
    """Emits its input: the spikes of the step (or of all steps) it is given."""

    def forward(self, x):
        return x


@pytest.mark.parametrize("step_mode", ["single", "multi"])
def test_attribute_allocates_the_maps_once_for_the_inputs_steps(kernels, step_mode):
    """`attribute` (and `explain`) know T before the model runs: each layer's maps are one
    allocation of exactly T steps, not grown 16, 32, 64 (and held at 64 for 40 steps)."""
    from sam_plugins import SpikeActivationMap

    spikes = (torch.rand(40, 2, 3, 4, 5, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    net = nn.Sequential(Through())
    maps = SpikeActivationMap(net, ["0"], step_mode=step_mode).attribute(spikes)["0"].maps
    assert maps.shape == (40, 2, 4, 5) and allocated_steps(maps) == 40
    if step_mode == "single":  # the user's own loop, T unknown beforehand: grown by doubling
        with SpikeActivationMap(net, ["0"]) as sam:
            for step in spikes:
                net(step)
        grown = sam.result()["0"].maps
        assert allocated_steps(grown) == 64 and torch.equal(grown, maps)


def test_the_map_buffer_takes_whole_sequences_and_keeps_copies_of_the_spikes():
    """A first call longer than 16 steps gets room for all of them; the maps are float64 for
    float64 spikes, float32 for any other dtype; [T, B, N] spikes get [T, B, N] maps; kept spikes
    are copies, concatenated over the calls; recording on after `take` leaves what it handed
    out alone."""
    buffer = LayerBuffer(keep_spikes=True)
    spikes = torch.zeros(20, 2, 3, 4, dtype=torch.float64)
    room = buffer.room(spikes)
    assert room.shape == (20, 2, 4) and room.dtype == torch.float64
    room.fill_(1.0)
    spikes += 5.0  # the caller's tensor changes after the call: the kept copy does not
    buffer.room(spikes[:3]).fill_(2.0)
    maps, kept = buffer.take()
    assert maps.shape == (23, 2, 4) and maps[:, 0, 0].tolist() == [1.0] * 20 + [2.0] * 3
    assert kept.shape == (23, 2, 3, 4) and kept[:20].eq(0).all() and kept[20:].eq(5).all()
    buffer.room(spikes[:1]).fill_(3.0)  # recording on (no reset) after take
    assert maps[:, 0, 0].tolist() == [1.0] * 20 + [2.0] * 3
    assert buffer.take()[0][:, 0, 0].tolist() == [1.0] * 20 + [2.0] * 3 + [3.0]
    for dtype in (torch.bool, torch.uint8, torch.float16):
        flat = LayerBuffer().room(torch.zeros(2, 3, 5, dtype=dtype))
        assert flat.shape == (2, 3, 5) and flat.dtype == torch.float32


def test_a_map_buffer_made_in_inference_mode_is_written_outside_it():
    """Evaluation loops record under torch.inference_mode; a recording that goes on outside it
    moves to a writable buffer with the steps so far."""
    buffer = LayerBuffer()
    step = torch.ones(1, 1, 2, 3, 3)
    with torch.inference_mode():
        buffer.room(step).fill_(4.0)
    outside = buffer.room(step)
    outside.fill_(5.0)  # an inference tensor would refuse this in-place write
    assert not outside.is_inference()
    assert buffer.take()[0][:, 0, 0, 0].tolist() == [4.0, 5.0]


def test_taking_from_a_layer_that_recorded_nothing_says_so():
    assert message(RuntimeError, LayerBuffer().take) == "nothing was recorded in this layer"


# --- the streaming engine ----------------------------------------------------------------------
def test_a_sequence_goes_on_in_the_same_state_and_other_shapes_are_refused_word_for_word():
    stream = StreamingSAM()
    stream.update(torch.ones(2, 2, 3))
    state = stream.state
    stream.update(torch.ones(1, 2, 3))
    assert stream.state is state  # one layer's memory, updated in place call after call
    assert message(ValueError, lambda: stream.update(torch.ones(2, 1, 3))) == (
        "spikes of shape (1, 3) per step do not continue the earlier steps of shape (2, 3); "
        "call reset() between sequences"
    )


@pytest.mark.parametrize("window", ["previous", "inclusive"])
def test_long_sequences_and_large_layers_match_the_formula(kernels, window):
    """More steps than one block (16) of a small layer, and a layer of more than 32768 values a
    step (processed step by step), for N and for the maps, in one call and in chunks."""
    inclusive = window == "inclusive"
    for shape in [(37, 2, 3, 2), (3, 1, 2, 16400)]:
        spikes = (torch.rand(shape) < 0.5) * torch.rand(shape)  # graded: values in [0, 1)
        n = literal_contributions(spikes, 0.7, inclusive)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "output resized" warning from the blocks
            torch.testing.assert_close(neuronal_contribution(spikes, 0.7, window), n.float())
        maps = (n * spikes).sum(2).float()
        torch.testing.assert_close(spike_activation_map(spikes, 0.7, window), maps)
        stream = StreamingSAM(0.7, window)
        chunks = [stream.update(spikes[:2]), stream.update(spikes[2:])]
        torch.testing.assert_close(torch.cat(chunks), maps)


def test_contributions_count_each_non_zero_value_as_one_spike():
    """N counts spikes, whatever their value: graded and negative values count 1 each; a [T, B]
    layer (one neuron per sample) and a single value are valid input."""
    spikes = torch.tensor([[0.5], [-2.0], [0.0], [3.0]])  # [T=4, B=1]
    d = math.exp(-0.5)
    expected = [0.0, d, d + d**2, d**2 + d**3]
    torch.testing.assert_close(neuronal_contribution(spikes).flatten().tolist(), expected)
    inclusive = neuronal_contribution(spikes, window="inclusive").flatten().tolist()
    torch.testing.assert_close(inclusive, [1.0, 1 + d, d + d**2, 1 + d**2 + d**3])
    assert neuronal_contribution(torch.ones(1, 1)).tolist() == [[0.0]]
    assert spike_activation_map(torch.ones(1, 1, 1)).tolist() == [[[0.0]]]
    assert spike_activation_map(torch.ones(1, 1, 1), window="inclusive").tolist() == [[[1.0]]]


def test_maps_that_overflow_are_refused_even_when_the_spikes_sum_is_finite(kernels):
    """The check sums the maps, not the spikes: two small spikes then one of 2e38 at step 2 give
    a map 2 * 2e38 (gamma 0) beyond float32 although the spikes sum to 2e38; and finite spikes
    whose sum alone overflows are fine for N."""
    spikes = torch.tensor([1.0, 1.0, 2e38]).reshape(3, 1, 1, 1)
    assert torch.isfinite(spikes.sum())
    assert message(ValueError, lambda: spike_activation_map(spikes, 0.0)) == (
        "the maps overflow torch.float32: spikes up to 2e+38 are too large for it; pass float64 "
        "spikes"
    )
    huge = torch.full((2, 1, 2), 3e38)
    assert not torch.isfinite(huge.sum())
    assert neuronal_contribution(huge, 0.0).flatten().tolist() == [0.0, 0.0, 1.0, 1.0]
    # maps each finite whose sum alone overflows float32: returned, not refused
    spikes = torch.tensor([1.0, 1e38]).repeat_interleave(4).reshape(2, 1, 1, 4)
    maps = spike_activation_map(spikes, 0.0)
    assert not torch.isfinite(maps.sum())
    assert maps.flatten().tolist() == [0.0] * 4 + [torch.tensor(1e38).item()] * 4


# --- the recorder ------------------------------------------------------------------------------
def test_shape_changes_are_caught_after_a_checked_call_and_steps_counted_on_every_path():
    recorder, layer = recorded(torch.ones(2, 1, 3))  # spikes at once: the layer is checked
    layer(None)
    layer(None)  # the usual call: counted, not checked again
    target = recorder.targets[0]
    assert target.checked and target.steps == 4
    layer.out = torch.ones(2, 2, 3)
    assert message(SpikeShapeError, lambda: layer(None)).startswith(
        "layer 'lif': call after step 4 gave spikes of shape (2, 3) per step, earlier steps gave "
        "(1, 3)."
    )
    recorder.reset()  # a new sequence: the count starts again, the check is kept
    assert target.steps == 0 and target.step_shape is None and target.checked
    layer(None)
    assert target.steps == 2
    silent, quiet = recorded(torch.zeros(2, 1, 3))  # silent calls: checked in full each time
    quiet(None)
    quiet(None)
    assert not silent.targets[0].checked
    quiet.out = torch.zeros(1, 1, 4)
    assert "call after step 4 gave spikes" in message(SpikeShapeError, lambda: quiet(None))


def test_disagreeing_step_counts_of_checked_layers():
    a, b = Emit(torch.ones(2, 3, 4)), Emit(torch.ones(3, 3, 4))  # T = 2 and 3, batch 3
    adapter = GenericAdapter("multi")
    recorder = SpikeRecorder([Target("a", a, adapter), Target("b", b, adapter)])
    recorder.attach()
    for _ in range(3):  # the first call checks, the next two take the usual path
        a(None)
    b(None)
    b(None)
    recorder.verify()  # 6 steps each
    a(None)
    assert message(SpikeShapeError, recorder.verify).startswith(
        "the recorded layers saw different numbers of time steps: {'a': 8, 'b': 6}."
    )


def test_empty_calls_say_which_axis_is_empty():
    tail = ": every call needs at least one step, one sample and one neuron"
    _, layer = recorded(torch.zeros(0, 1, 3))
    assert message(SpikeShapeError, lambda: layer(None)) == (
        "layer 'lif': spikes of shape (0, 1, 3) ([steps, batch, ...]) hold no values, T = 0 "
        "(no time steps)" + tail
    )
    _, layer = recorded(torch.zeros(2, 1, 0))
    assert message(SpikeShapeError, lambda: layer(None)) == (
        "layer 'lif': spikes of shape (2, 1, 0) ([steps, batch, ...]) hold no values, no neurons"
        + tail
    )
    _, layer = recorded(torch.zeros(2, 3, 4, 0))
    assert message(SpikeShapeError, lambda: layer(None)).endswith("no values, no neurons" + tail)


class ModeAttribute(GenericAdapter):
    """Reads each module's step mode from the module, as the framework adapters do."""

    def step_mode(self, module):
        return getattr(module, "mode", "single")


def test_shape_errors_name_the_step_mode_read_for_that_module():
    module = Emit(torch.ones(2, 1, 3))
    module.mode = "multi"
    recorder = SpikeRecorder([Target("lif", module, ModeAttribute())])
    recorder.attach()
    module(None)
    module.out = torch.ones(2, 2, 3)
    assert "(read as 'multi'-step)" in message(SpikeShapeError, lambda: module(None))
    module.out = torch.ones(2, 5)
    assert "found shape (5,) (read as 'multi'-step)" in message(
        SpikeShapeError, lambda: module(None)
    )


def test_silent_calls_pass_and_leave_the_layer_unchecked(kernels):
    """A call without spikes is not a verdict: it passes on both backends and the next call
    with spikes is checked in full; the value 2 alone is refused; a bool layer is read too."""
    recorder, layer = recorded(torch.zeros(2, 1, 3))
    layer(None)
    assert not recorder.targets[0].checked
    layer.out = torch.tensor([0.0, 1.0, 2.0]).reshape(1, 1, 3)
    assert message(NotSpikesError, lambda: layer(None)) == NOT_SPIKES.format(
        "values in {0, 1}", "0 to 2"
    )
    target = Target("lif", Emit(None), GenericAdapter("multi"))
    assert target.check_values(torch.tensor([[[False, True]]])) is True
    assert target.check_values(torch.zeros(1, 1, 2, dtype=torch.bool)) is False


def test_consumers_get_each_target_and_its_spikes_detached():
    seen = []
    weight = torch.ones(3, requires_grad=True)
    module = Emit(None)
    target = Target("lif", module, GenericAdapter("multi"))
    recorder = SpikeRecorder([target])
    recorder.consumers.append(lambda t, spikes: seen.append((t, spikes)))
    recorder.attach()
    module.out = torch.ones(2, 1, 3) * weight  # the layer's output takes part in a graph
    assert module(None).requires_grad
    [(who, spikes)] = seen
    assert who is target and not spikes.requires_grad and spikes.eq(1).all()


def test_graded_layers_take_any_finite_value(kernels):
    recorder, layer = recorded(torch.tensor([0.0, 0.5, -2.0, 3.0]).reshape(2, 1, 2), graded=True)
    layer(None)
    assert recorder.targets[0].checked and recorder.targets[0].steps == 2


def test_float_spikes_are_checked_in_one_compiled_pass(monkeypatch):
    """Where numba is in use, a float32 layer's values are checked by its compiled census."""
    calls = []
    with backend.use("numba") as chosen:
        census = chosen._kernels.spike_census
        monkeypatch.setattr(
            chosen._kernels, "spike_census", lambda *args: calls.append(1) or census(*args)
        )
        _, layer = recorded(torch.tensor([0.0, 1.0, 1.0, 0.0]).reshape(2, 1, 2))
        layer(None)
    assert calls == [1]


def test_maps_of_spikes_without_a_neuron_axis_are_refused_word_for_word():
    assert message(ValueError, lambda: spike_activation_map(torch.zeros(4, 2))) == (
        "spike_activation_map needs spikes shaped [T, B, C, H, W] (or [T, B, C, L], or [T, B, N] "
        "for a layer without spatial axes), found shape (4, 2)"
    )
