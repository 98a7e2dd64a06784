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
    SpikeActivationMap(net, ["0"])  # the first one loads the adapters, whose imports leave
    gc.collect()  # cyclic garbage holding the frames around them: collected here
    gc.disable()  # then freed by reference counting alone, not by a collection that may run
    try:
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
                if seed:
                    assert state.data_ptr() == kept  # noqa: F821 - set on the seed before
                kept = state.data_ptr()
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
