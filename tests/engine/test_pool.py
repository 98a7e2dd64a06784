"""A SAM made per batch reuses the state and bit planes of the one before it (`engine.pool`):
a dropped SAM is freed at once (its recorder holds it weakly) and its streams give their
buffers back; what is reused is zeroed where a sequence begins, so the maps are the formula's."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch
from torch import nn

from sam_plugins import SpikeActivationMap
from sam_plugins.engine import backend
from sam_plugins.engine.pool import POOL, BufferPool
from sam_plugins.testing.reference import literal_layer_maps


class Emit(nn.Module):
    def forward(self, x):
        return x


def spikes(shape, seed):
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < 0.3).float()


@pytest.fixture
def empty_pool():
    POOL.clear()
    yield POOL
    POOL.clear()


@pytest.mark.parametrize("kernels", ["numba", "torch"])
def test_the_next_sam_takes_the_dropped_ones_buffers(empty_pool, kernels):
    net = nn.Sequential(Emit())
    with backend.use(kernels):  # the first SAM loads the adapters and numba's kernels, whose
        SpikeActivationMap(net, ["0"]).attribute(spikes((21, 2, 3, 6, 6), 9))  # imports and
    gc.collect()  # compiling leave cyclic garbage holding the frames around: collected here
    empty_pool.clear()
    gc.disable()  # then freed by reference counting alone, not by a collection that may run
    try:
        kept = []
        with backend.use(kernels):
            for seed in range(3):
                s = spikes((21, 2, 3, 6, 6), seed)
                sam = SpikeActivationMap(net, ["0"])
                with sam:
                    for step in s:
                        net(step)
                maps = sam.result()["0"].maps
                # the buffers of the SAM before (its last state is not zero) are zeroed here
                torch.testing.assert_close(maps, literal_layer_maps(s, 0.5))
                state = sam._streams["0"].state
                assert seed == 0 or state.data_ptr() == kept[-1]  # the one the SAM before had
                kept.append(state.data_ptr())
                del sam, state
                assert empty_pool.nbytes > 0  # given back at once
    finally:
        gc.enable()
    # one set kept, not one per SAM: the state [2, 3, 6, 6] in float32, and numba's bit planes
    # [16 steps, 2, 3, 5 bytes]
    assert empty_pool.nbytes == 2 * 3 * 36 * 4 + (16 * 2 * 3 * 5 if kernels == "numba" else 0)


def test_the_pool_keeps_at_most_its_limit_letting_the_oldest_go():
    pool = BufferPool(limit=3000)
    first, second = np.empty(1000, np.uint8), torch.empty(250)  # 1000 bytes each
    pool.give(first)
    pool.give(second)
    pool.give(np.empty(5000, np.uint8))  # larger than the limit: not kept
    assert pool.nbytes == 2000
    pool.give(np.empty(1500, np.uint8))  # 3500 > 3000: the oldest (first) goes
    assert pool.nbytes == 2500
    assert pool.take_array((1000,), np.uint8) is not first
    assert pool.take_tensor((250,), torch.empty(0)) is second
    assert pool.take_array((1500,), np.uint8).nbytes == 1500
    assert pool.nbytes == 0
    assert pool.take_tensor((250,), torch.empty(0)) is not second  # a new one, pool empty


def test_tensors_that_cannot_be_written_everywhere_are_not_kept():
    pool = BufferPool()
    with torch.inference_mode():
        pool.give(torch.empty(10))  # an inference tensor: not writable outside the mode
    pool.give(torch.empty(10, device="meta"))
    assert pool.nbytes == 0
    same = torch.empty(4, dtype=torch.float64)
    pool.give(same)
    assert pool.take_tensor((4,), torch.empty(0)) is not same  # float32 asked: not that one
    assert pool.take_tensor((4,), torch.empty(0, dtype=torch.float64)) is same


def test_a_stream_of_ones_own_is_never_recycled(empty_pool):
    """A `StreamingSAM` made by the user keeps its state to itself: the user may still hold it
    after deleting the stream, and no later stream writes into it."""
    from sam_plugins.engine import StreamingSAM

    s = spikes((3, 2, 3, 4, 4), 0)
    stream = StreamingSAM()
    stream.update(s)
    held, before = stream.state, stream.state.clone()
    del stream
    assert empty_pool.nbytes == 0
    SpikeActivationMap(nn.Sequential(Emit()), ["0"]).attribute(s)  # same shape, recycled
    assert torch.equal(held, before)


def test_a_buffer_given_twice_is_kept_once():
    pool = BufferPool()
    buffer = torch.empty(8)
    pool.give(buffer)
    pool.give(buffer)  # a stream copied with copy.copy gives its state twice
    assert pool.nbytes == 32
    assert pool.take_tensor((8,), buffer) is buffer
    assert pool.take_tensor((8,), buffer) is not buffer  # not handed out a second time


def test_giving_takes_no_lock():
    """A stream gives from __del__, which a garbage collection can run while the same thread
    is inside the pool's lock (in `take`): giving must not wait for the lock."""
    import threading

    pool = BufferPool()
    with pool._lock:
        done = threading.Event()
        thread = threading.Thread(target=lambda: (pool.give(torch.empty(4)), done.set()))
        thread.start()
        assert done.wait(5), "give waited for the pool's lock"
    assert pool.nbytes == 16


def test_a_stream_alive_at_interpreter_exit_goes_quietly():
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from sam_plugins.engine import StreamingSAM\n"
        "s = StreamingSAM(recycle=True)\n"
        "s.update((torch.rand(2, 1, 2, 4, 4) < .5).float())\n"
        "sys._keep = s  # freed late in the shutdown, after numpy and torch\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and "Exception ignored" not in done.stderr, done.stderr
