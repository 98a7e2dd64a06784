"""One-step calls of 0/1 spikes are kept as bits and run a block of steps at a time
(`StreamingSAM.defer` / `flush`, the numba kernels `pack_step` and `sam_block`): the maps,
counts and statistics must be those of the step-by-step path, bit for bit, whatever the number
of steps, the window, the layer's layout or the mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sam_plugins import NotSpikesError, SpikeActivationMap
from sam_plugins.engine import StreamingSAM, backend
from sam_plugins.engine import _numba as kernels
from sam_plugins.testing.reference import literal_layer_maps, literal_spike_statistics


class Emit(nn.Module):
    """Emits the spikes it is given: one call per step."""

    def forward(self, x):
        return x


def record(spikes, **options):
    """SAM of a model that emits `spikes` [T, B, ...] step by step (one call per step)."""
    net = nn.Sequential(Emit())
    sam = SpikeActivationMap(net, ["0"], **options)
    with sam:
        for step in spikes:
            net(step)
    return sam.result()["0"], sam


def spikes(shape, rate=0.3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=generator) < rate).float()


@pytest.fixture
def numba_backend():
    with backend.use("numba"):
        yield


@pytest.fixture
def no_step_kernel(monkeypatch):
    """The step-by-step kernel refuses to run: only the deferred path can make the maps."""

    def refuse(*args, **kwargs):
        raise AssertionError("the step-by-step kernel ran")

    monkeypatch.setattr(kernels, "sam_steps", refuse)


@pytest.mark.parametrize("steps", [1, 15, 16, 17, 37])
@pytest.mark.parametrize("window", ["previous", "inclusive"])
@pytest.mark.parametrize("shape", [(3, 5, 7, 9), (2, 4, 34, 34), (4, 11)])
def test_deferred_maps_are_those_of_the_formula(
    numba_backend, no_step_kernel, steps, window, shape
):
    s = spikes((steps, *shape))
    layer, _ = record(s, window=window)
    expected = literal_layer_maps(s, 0.5, window)
    torch.testing.assert_close(layer.maps, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(layer.spike_count, (s != 0).flatten(2).sum(2).sum(0))


@pytest.mark.parametrize("steps", [16, 37])
@pytest.mark.parametrize("window", ["previous", "inclusive"])
@pytest.mark.parametrize("channels", [8, 19])  # blocks of 8 channels; 19: and 3 left over
def test_deferred_maps_equal_the_step_kernel_bit_for_bit(numba_backend, steps, window, channels):
    s = spikes((steps, 4, channels, 12, 12), rate=0.2)
    deferred, _ = record(s, window=window)
    stepwise, _ = record(s, window=window, keep_spikes=True)  # every step runs as it comes
    assert torch.equal(deferred.maps, stepwise.maps)
    assert torch.equal(deferred.spike_count, stepwise.spike_count)


def test_float64_spikes_are_deferred_too(numba_backend, no_step_kernel):
    s = spikes((20, 2, 3, 5, 5)).double()
    layer, _ = record(s)
    assert layer.maps.dtype == torch.float64
    torch.testing.assert_close(layer.maps, literal_layer_maps(s, 0.5))


def test_maps_read_mid_block_and_recording_goes_on(numba_backend):
    """result() in the middle of a block runs the steps so far; the next steps go on from the
    state they left, as take_maps does for a long recording read chunk by chunk."""
    s = spikes((40, 2, 4, 6, 6))
    net = nn.Sequential(Emit())
    sam = SpikeActivationMap(net, ["0"])
    chunks = []
    with sam:
        for t, step in enumerate(s):
            net(step)
            if t in (4, 20, 39):
                chunks.append(sam.take_maps()["0"])
    torch.testing.assert_close(torch.cat(chunks), literal_layer_maps(s, 0.5))


def test_a_step_that_is_not_zero_or_one_runs_from_its_values(numba_backend):
    """Bits cannot hold 0.5: that step (and the rest) runs step by step, from the values, as
    before deferral; nothing is silently made 0/1."""
    s = spikes((30, 2, 3, 4, 4))
    s[20, 0, 1, 2, 2] = 0.5  # after the recorder's full check of the first calls
    layer, _ = record(s)
    expected = literal_layer_maps(s, 0.5)
    torch.testing.assert_close(layer.maps, expected)
    assert layer.maps[20, 0, 2, 2] != literal_layer_maps((s != 0).float(), 0.5)[20, 0, 2, 2]
    torch.testing.assert_close(layer.spike_count, (s != 0).flatten(2).sum(2).sum(0))


def test_packing_checks_the_values_without_a_census_pass(numba_backend, monkeypatch):
    """SAM's recorder leaves the first calls' value check to SAM: a one-step 0/1 call is
    checked by the pass that packs it as bits (no census pass of its own), and a value that is
    not a spike is still refused at its call."""
    calls = []
    census = kernels.spike_census
    monkeypatch.setattr(kernels, "spike_census", lambda *a: calls.append(1) or census(*a))
    s = spikes((20, 2, 3, 4, 4))
    layer, sam = record(s)
    assert calls == [] and sam.targets[0].checked
    torch.testing.assert_close(layer.maps, literal_layer_maps(s, 0.5))
    s[0, 1, 2, 3, 3] = 0.5
    with pytest.raises(NotSpikesError, match=r"expected values in \{0, 1\}, found values"):
        record(s)
    assert calls == [1]


def test_graded_layers_are_not_deferred(numba_backend):
    s = spikes((18, 2, 3, 4, 4)) * 1.5
    layer, sam = record(s, graded=True)
    torch.testing.assert_close(layer.maps, literal_layer_maps(s, 0.5))
    assert sam._streams["0"].counts is None  # nothing was kept as bits


def test_deferred_recording_in_inference_mode_read_outside(numba_backend, no_step_kernel):
    s = spikes((21, 2, 3, 6, 6))
    net = nn.Sequential(Emit())
    sam = SpikeActivationMap(net, ["0"])
    with torch.inference_mode(), sam:
        for step in s:
            net(step)
    torch.testing.assert_close(sam.result()["0"].maps, literal_layer_maps(s, 0.5))
    sam.reset()  # and again outside inference mode, reusing the buffers
    with sam:
        for step in s:
            net(step)
    torch.testing.assert_close(sam.result()["0"].maps, literal_layer_maps(s, 0.5))


def test_reset_drops_pending_steps(numba_backend):
    s = spikes((5, 2, 3, 4, 4))
    net = nn.Sequential(Emit())
    sam = SpikeActivationMap(net, ["0"])
    with sam:
        for step in s:
            net(step)
        sam.reset()
        for step in s[:3]:
            net(step)
    layer = sam.result()["0"]
    torch.testing.assert_close(layer.maps, literal_layer_maps(s[:3], 0.5))
    torch.testing.assert_close(layer.spike_count, (s[:3] != 0).flatten(2).sum(2).sum(0))


def test_update_refuses_to_run_over_pending_steps(numba_backend):
    stream = StreamingSAM()
    s = spikes((1, 2, 3, 8))
    fired = torch.empty(1, 2, dtype=torch.int64)
    assert stream.defer(s, fired)
    with pytest.raises(RuntimeError, match="pending: flush"):
        stream.update(s)
    out = torch.empty(1, 2, 8)
    stream.flush(out)
    torch.testing.assert_close(out, literal_layer_maps(s, 0.5))
    assert fired[0].tolist() == [(s[0, 0] != 0).sum().item(), (s[0, 1] != 0).sum().item()]


def test_torch_backend_keeps_no_bits():
    with backend.use("torch"):
        stream = StreamingSAM()
        assert not stream.defer(spikes((1, 2, 3, 8)), torch.empty(1, 2, dtype=torch.int64))


@pytest.mark.parametrize("channels", [2, 11])  # 11: a block of 8 channels and 3 more
def test_spike_statistics_from_deferred_steps(numba_backend, no_step_kernel, channels):
    """The dataset analysis' statistics (`SpikeStats` with `sam=`) take the counts and firing
    steps from the packed one-step calls: every count and interval as a per-neuron np.diff
    gives them, for samples of different lengths and a sequence that ends mid-block."""
    import numpy as np

    from sam_plugins.analysis.stats import SpikeStats

    gen = np.random.default_rng(7)
    bins, steps, lengths = 40, 77, [77, 50, 9]
    rate = np.array([0.05, 0.3, 0.8])[gen.integers(0, 3, (1, 3, channels, 3, 5))]
    s = (gen.random((steps, 3, channels, 3, 5)) < rate).astype(np.float32)
    s[10:60, 0] = 0  # a long silence
    net = nn.Sequential(Emit())
    sam = SpikeActivationMap(net, ["0"])
    stats = SpikeStats(bins, sam=sam)
    sam.recorder.consumers.append(stats)
    stats.reset(torch.tensor(lengths))
    with sam:
        for step in torch.from_numpy(s):
            net(step)
            assert sam.marked["0"]
    found = stats.finish("0")  # before result(): it has SAM run the pending steps
    layer = sam.result()["0"]
    torch.testing.assert_close(layer.maps, literal_layer_maps(torch.from_numpy(s), 0.5))
    counts, isi = literal_spike_statistics(s, lengths, bins)
    np.testing.assert_array_equal(found.counts.numpy(), counts)
    np.testing.assert_array_equal(found.isi.numpy(), isi)
    assert isi[bins] > 0 and isi[1] > 10


def test_flush_runs_the_pending_steps_now(numba_backend, no_step_kernel):
    s = spikes((5, 2, 3, 4, 4))
    net = nn.Sequential(Emit())
    sam = SpikeActivationMap(net, ["0"])
    sam.flush()  # nothing recorded: nothing to do
    with sam:
        for step in s:
            net(step)
        assert sam._streams["0"].pending == 5
        sam.flush()
        assert sam._streams["0"].pending == 0
        for step in s:  # the sequence goes on
            net(step)
    torch.testing.assert_close(sam.result()["0"].maps, literal_layer_maps(torch.cat([s, s]), 0.5))


def test_spikes_on_another_device_or_dtype_are_not_kept_as_bits(numba_backend):
    """Spikes the kernels cannot take (here float16, declined as a GPU tensor is) run step by
    step, and leave no bits or counts behind."""
    s = spikes((4, 2, 3, 4, 4))
    layer, sam = record(s.half())
    torch.testing.assert_close(layer.maps, literal_layer_maps(s, 0.5))
    assert sam._streams["0"].counts is None
    stream = StreamingSAM()
    meta = torch.zeros(1, 2, 3, 8, device="meta")
    assert not stream.defer(meta, torch.empty(1, 2, dtype=torch.int64, device="meta"))
    assert stream.counts is None


def test_a_backend_switched_mid_block_runs_the_pending_steps_on_theirs():
    s = spikes((6, 2, 3, 4, 4))
    net = nn.Sequential(Emit())
    sam = SpikeActivationMap(net, ["0"], step_mode="multi")
    with backend.use("numba"), sam:
        for step in s[:3]:
            net(step[None])  # three one-step calls kept as bits
        with backend.use("torch"):
            net(s[3:6])  # a three-step call: the pending steps run first, on numba's kernel
    torch.testing.assert_close(sam.result()["0"].maps, literal_layer_maps(s, 0.5))


def test_large_layers_take_the_parallel_kernels(numba_backend, monkeypatch):
    """A step of at least PARALLEL_MIN values is packed, and a block run, by numba's parallel
    loops (each thread with its own rows): spans of DSPAN values, the last one partial and not
    a multiple of 8."""
    parallel = []
    for name in ("_pack", "_block"):
        kernel = getattr(kernels, name)
        monkeypatch.setattr(
            kernels, name, lambda *a, _k=kernel, _n=name: parallel.append(_n) or _k(*a)
        )
    s = spikes((17, 4, 16, 65, 65), rate=0.1)  # 270,400 values a step; 4,225 per channel row
    assert s[0].numel() >= kernels.PARALLEL_MIN
    layer, _ = record(s)
    assert {"_pack", "_block"} <= set(parallel)
    stepwise, _ = record(s, keep_spikes=True)  # the step kernel, for comparison
    assert torch.equal(layer.maps, stepwise.maps)
    torch.testing.assert_close(layer.maps, literal_layer_maps(s, 0.5), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("policy, alone", [("PASSIVE", True), ("active", False), (None, False)])
def test_steps_are_packed_alone_where_openmp_threads_sleep(policy, alone):
    """Under OMP_WAIT_POLICY=PASSIVE a parallel loop first wakes the pool, which costs more than
    packing a step of a million values on the calling thread: such steps are packed alone."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    code = (
        "import numpy as np, torch\n"
        "from sam_plugins.engine import _numba as k\n"
        "used = []\n"
        "for name in ('_pack', '_pack_here'):\n"
        "    kernel = getattr(k, name)\n"
        "    setattr(k, name, lambda *a, _k=kernel, _n=name: used.append(_n) or _k(*a))\n"
        "s = (torch.rand(1, 32, 32, 1156) < 0.1).float()\n"
        "planes, fired = np.empty((32, 32, 145), np.uint8), np.empty(32, np.int64)\n"
        "assert k.pack_step(s, planes, fired, np.zeros(32, np.int64)) == 0\n"
        "assert (fired == s[0].flatten(1).sum(1).numpy()).all()\n"
        "print(used)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ("['_pack_here']" if alone else "['_pack']")
