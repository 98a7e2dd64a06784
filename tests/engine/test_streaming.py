"""The streaming engine against the literal double sum of the paper."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sam_plugins import neuronal_contribution, spike_activation_map
from sam_plugins.engine import StreamingSAM, backend
from sam_plugins.testing.reference import (
    literal_neuronal_contribution,
    literal_spike_activation_map,
)

gammas = st.floats(0.0, 3.0, allow_nan=False)
shapes = st.tuples(
    st.integers(1, 12), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)
)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, gamma=gammas, data=st.data())
def test_binary_spikes_match_literal_sum(kernels, shape, gamma, data):
    spikes = torch.from_numpy(data.draw(arrays(np.bool_, shape))).float()
    torch.testing.assert_close(
        neuronal_contribution(spikes, gamma), literal_neuronal_contribution(spikes, gamma)
    )
    torch.testing.assert_close(
        spike_activation_map(spikes, gamma), literal_spike_activation_map(spikes, gamma)
    )


@settings(max_examples=60, deadline=None)
@given(shape=shapes, gamma=gammas, data=st.data())
def test_graded_spikes_match_literal_sum(kernels, shape, gamma, data):
    values = st.sampled_from([0.0, 0.0, 0.0, 0.25, 1.0, 2.5, -0.5])
    spikes = torch.from_numpy(data.draw(arrays(np.float64, shape, elements=values)))
    expected = literal_spike_activation_map(spikes, gamma)
    got = spike_activation_map(spikes, gamma)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, expected)


def test_hand_computed_example(kernels):
    # one neuron spiking at t = 0, 1, 3: N = [0, d, d + d^2, d^2 + d^3, ...]
    d = math.exp(-0.5)
    spikes = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0]).reshape(5, 1, 1, 1, 1)
    n = neuronal_contribution(spikes, 0.5).flatten()
    expected = torch.tensor([0.0, d, d + d**2, d**2 + d**3, d + d**3 + d**4])
    torch.testing.assert_close(n, expected)
    m = spike_activation_map(spikes, 0.5).flatten()
    torch.testing.assert_close(m, expected * spikes.flatten())


def test_single_step_has_zero_contribution(kernels):
    spikes = torch.ones(1, 2, 3, 4, 4)
    assert spike_activation_map(spikes).abs().sum() == 0
    assert neuronal_contribution(spikes).shape == spikes.shape


def test_all_zero_input_gives_zero_maps(kernels):
    assert spike_activation_map(torch.zeros(9, 2, 3, 5, 5)).abs().sum() == 0


def test_streaming_in_chunks_equals_one_call(kernels):
    spikes = (torch.rand(17, 2, 3, 4, 4) < 0.3).float()
    stream = StreamingSAM(0.4)
    parts = [stream.update(chunk) for chunk in (spikes[:1], spikes[1:6], spikes[6:7], spikes[7:])]
    torch.testing.assert_close(torch.cat(parts), StreamingSAM(0.4).update(spikes))
    torch.testing.assert_close(torch.cat(parts), StreamingSAM(0.4).update(spikes, binary=True))
    assert stream.steps == 17


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.float16, torch.bfloat16])
def test_other_dtypes(kernels, dtype):
    spikes = torch.rand(6, 2, 3, 4, 4) < 0.5
    got = spike_activation_map(spikes.to(dtype))
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, literal_spike_activation_map(spikes.float(), 0.5))


@pytest.mark.parametrize("gamma", [-0.1, float("nan"), float("inf")])
def test_bad_gamma_is_refused(gamma):
    with pytest.raises(ValueError, match="gamma"):
        neuronal_contribution(torch.zeros(2, 1, 3), gamma)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\[T, B, C, H, W\]"):
        spike_activation_map(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"\[steps, batch"):
        neuronal_contribution(torch.zeros(4))
    stream = StreamingSAM()
    stream.update(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="reset"):
        stream.update(torch.zeros(1, 4, 3))


def test_per_neuron_scores_and_buffers(kernels):
    spikes = (torch.rand(7, 2, 5, 3) < 0.4).float()  # [T, B, C, L]
    n = literal_neuronal_contribution(spikes, 0.5)
    out, scores = torch.full((7, 2, 3), float("nan")), torch.ones(2, 5, 3)
    got = StreamingSAM(0.5).update(spikes, out=out, scores=scores)
    assert got is out
    torch.testing.assert_close(out, (n * spikes).sum(dim=2))
    torch.testing.assert_close(scores, 1 + (n * spikes).sum(dim=0))  # added to what was there
    neurons = (torch.rand(6, 2, 4) < 0.5).float()  # no spatial axes: [T, B, K] -> [T, B]
    torch.testing.assert_close(
        StreamingSAM(0.5).update(neurons),
        (literal_neuronal_contribution(neurons, 0.5) * neurons).sum(dim=2),
    )
    with pytest.raises(ValueError, match=r"out must be torch.float32 of shape \(7, 2, 3\)"):
        StreamingSAM().update(spikes, out=torch.empty(7, 3, 3))
    with pytest.raises(ValueError, match=r"\[steps, batch, neurons"):
        StreamingSAM().update(torch.zeros(4, 2))


def test_non_contiguous_spikes_and_reuse_after_reset(kernels):
    spikes = (torch.rand(6, 2, 4, 5, 3) < 0.3).float()
    channels_last = spikes.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
    assert not channels_last.is_contiguous()
    expected = literal_spike_activation_map(spikes, 0.5)
    stream = StreamingSAM(0.5)
    torch.testing.assert_close(stream.update(channels_last), expected)
    state = stream.state
    stream.reset()  # the state buffer is reused, from zero
    torch.testing.assert_close(stream.update(spikes), expected)
    assert stream.state is state


def test_contiguous_cpu_spikes_take_the_fused_kernel(monkeypatch):
    calls = []
    with backend.use("numba") as chosen:  # the torch backend has no kernel to take
        kernel = chosen._kernels.sam_steps
        monkeypatch.setattr(
            chosen._kernels, "sam_steps", lambda *args: calls.append(1) or kernel(*args)
        )
        spikes = (torch.rand(5, 2, 3, 4, 4) < 0.3).float()
        torch.testing.assert_close(
            spike_activation_map(spikes), literal_spike_activation_map(spikes, 0.5)
        )
    assert len(calls) == 1


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


CHECK_TORCH_PATH = """
import torch
from sam_plugins import spike_activation_map
from sam_plugins.engine import backend
from sam_plugins.testing.reference import literal_spike_activation_map
assert backend.current().name == "torch"
s = (torch.rand(4, 2, 3, 5, 5) < 0.3).float()
torch.testing.assert_close(spike_activation_map(s), literal_spike_activation_map(s, 0.5))
"""


def test_without_numba_torch_ops_do_the_work_silently():
    done = _run_python("import sys; sys.modules['numba'] = None\n" + CHECK_TORCH_PATH)
    assert done.returncode == 0, done.stderr
    assert "numba" not in done.stderr


def test_a_broken_numba_falls_back_with_a_warning():
    broken = "import sys, types; sys.modules['numba'] = types.ModuleType('numba')\n"
    done = _run_python(broken + CHECK_TORCH_PATH)
    assert done.returncode == 0, done.stderr
    assert "numba is installed but its CPU kernel cannot be used" in done.stderr


@pytest.mark.parametrize(
    "shape",
    [
        (7, 3, 5, 6, 4),  # small layer: blocks of steps on the torch path
        (3, 2, 2, 70, 70),  # 4900 places per channel: the kernel splits each row in two spans
        (5, 4, 9),  # a layer without spatial axes, [steps, B, N]
    ],
)
@pytest.mark.parametrize("graded", [False, True])
def test_spikes_per_step_and_sample_are_counted_by_the_pass_that_makes_the_maps(
    kernels, shape, graded
):
    torch.manual_seed(1)
    spikes = (torch.rand(shape) < 0.3).float()
    if graded:  # any non-zero value is a spike, negative ones too
        spikes = spikes * torch.randn(shape)
    expected = (spikes != 0).flatten(2).sum(2)
    stream, fired = StreamingSAM(0.5), torch.full(shape[:2], -1, dtype=torch.int64)
    maps = stream.update(spikes.unsqueeze(2) if len(shape) == 3 else spikes, fired=fired)
    assert fired.tolist() == expected.tolist()
    torch.testing.assert_close(maps, spike_activation_map(spikes))  # counting changes no map
    with pytest.raises(ValueError, match=r"fired must be int64 of shape \(\d+, \d+\)"):
        StreamingSAM(0.5).update(
            spikes[:, :, None] if len(shape) == 3 else spikes, fired=fired.float()
        )


def test_small_calls_run_on_the_calling_thread_and_the_pool_is_restored(monkeypatch):
    """A layer too small to share (< PARALLEL_MIN values) runs the compiled loops on one thread
    (a busy machine made the pool's wake-up cost up to 16 ms a call); larger ones keep every
    thread; the count is restored after the call, also when it raises."""
    numba = pytest.importorskip("numba")
    from sam_plugins.engine import _numba

    if numba.get_num_threads() < 2:
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    threads = numba.get_num_threads()
    assert threads >= 2, "the pool needs two threads for this test"
    seen = []
    kernel = _numba._steps
    monkeypatch.setattr(
        _numba, "_steps", lambda *a: seen.append(numba.get_num_threads()) or kernel(*a)
    )
    with backend.use("numba"):
        small = (torch.rand(1, 1, 8, 17, 17) < 0.3).float()
        large = (torch.rand(1, 2, 32, 64, 64) < 0.3).float()  # 2 * 32 * 64 * 64 = 2 ** 18
        for spikes in (small, large):
            torch.testing.assert_close(
                spike_activation_map(spikes), literal_spike_activation_map(spikes, 0.5)
            )
    assert seen == [1, threads]
    assert numba.get_num_threads() == threads
    with pytest.raises(RuntimeError), _numba.threads_for(10):
        assert numba.get_num_threads() == 1
        raise RuntimeError
    assert numba.get_num_threads() == threads
