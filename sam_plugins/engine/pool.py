"""Layer-sized working buffers handed from one recording to the next.

A `StreamingSAM` works in one layer's worth of state and, on the CPU, in bit planes of a
block of steps. A user who makes a new `SpikeActivationMap` per batch (or calls `explain` in a
loop) would allocate them afresh each time; on a CPU the first write of fresh memory costs a
page fault per 4 KiB, and the allocator's returning and regrowing its heap around them made
the model's own forward fault more as well: together more than SAM's own arithmetic on the
benchmark of `shared/tools/overhead.py`. A stream that is deleted gives its buffers back here,
and the next stream of the same shape takes them.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import numpy as np
import torch

LIMIT = 256 << 20
"""Bytes the pool keeps at most; past it, the buffers given back first are let go first."""


class BufferPool:
    """Buffers (CPU tensors or numpy arrays) given back by deleted streams, by shape and dtype,
    up to `limit` bytes in all. What a stream takes is uninitialised, as ``torch.empty``.

    `give` takes no lock (a stream gives from ``__del__``, which a garbage collection may run
    in the middle of a `take` on the same thread): it appends to a queue that `take` and
    `nbytes` empty under the lock."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._given: deque[Any] = deque()  # appended to without the lock
        self._kept: list[tuple[tuple[Any, ...], Any]] = []  # oldest first
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def _key(buffer: Any) -> tuple[Any, ...] | None:
        """What a buffer is matched by, or None for one not kept (a GPU tensor: the CUDA
        allocator keeps its own cache; an inference tensor: it cannot be written outside
        inference mode)."""
        if isinstance(buffer, np.ndarray):
            return ("numpy", buffer.shape, buffer.dtype)
        if isinstance(buffer, torch.Tensor) and buffer.is_cpu and not buffer.is_inference():
            return ("torch", tuple(buffer.shape), buffer.dtype)
        return None

    def give(self, buffer: Any) -> None:
        """Keep `buffer` for the next `take` of its shape and dtype (nobody else may hold it)."""
        self._given.append(buffer)  # atomic: safe from __del__ and from any thread

    def _settle(self) -> None:
        """Move what was given into the kept list (the lock held): buffers not kept, already
        kept (a stream copied with copy.copy gives its state twice) or larger than the limit
        are let go, then the oldest until the limit holds."""
        while self._given:
            buffer = self._given.popleft()
            key = self._key(buffer)
            if key is None or buffer.nbytes > self.limit:
                continue
            if any(kept is buffer for _, kept in self._kept):
                continue
            self._kept.append((key, buffer))
            self._bytes += buffer.nbytes
        while self._bytes > self.limit:
            self._bytes -= self._kept.pop(0)[1].nbytes

    def take_tensor(self, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """A tensor of `shape` with the dtype and device of `like`: a kept one, or a new one."""
        if like.is_cpu:
            found = self._take(("torch", tuple(shape), like.dtype))
            if found is not None:
                return found
        return like.new_empty(shape)

    def take_array(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A numpy array of `shape` and `dtype`: a kept one, or a new one."""
        found = self._take(("numpy", tuple(shape), np.dtype(dtype)))
        return np.empty(shape, dtype) if found is None else found

    def _take(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            self._settle()
            for i in range(len(self._kept) - 1, -1, -1):  # the newest first: warmest in cache
                if self._kept[i][0] == key:
                    buffer = self._kept.pop(i)[1]
                    self._bytes -= buffer.nbytes
                    return buffer
        return None

    def clear(self) -> None:
        """Let every kept buffer go."""
        with self._lock:
            self._given.clear()
            self._kept.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Bytes kept now."""
        with self._lock:
            self._settle()
            return self._bytes


POOL = BufferPool()
"""The process' pool, used by the streams of every `SpikeActivationMap`."""
