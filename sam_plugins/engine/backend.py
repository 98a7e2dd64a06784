"""The kernels behind SAM's per-step update and the spike value check, chosen once.

``numba``: compiled CPU loops (`sam_plugins.engine._numba`, the ``fast`` extra) for contiguous
CPU tensors, which read the layer's memory once per step instead of several times.
``torch``: plain torch ops, on every device; the engine falls back to them for whatever the
compiled loops do not take (GPU tensors, other dtypes, non-contiguous tensors).

The choice is made at import: numba when it is installed and usable, else torch (with a warning
when numba is installed but broken). `use` switches it for a block (tests, benchmarks).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor


class TorchBackend:
    """Torch ops only: `sam_steps` and `census` decline, and the caller runs its torch path."""

    name = "torch"

    def sam_steps(
        self,
        state: Tensor,
        spikes: Tensor,
        maps: Tensor,
        scores: Tensor | None,
        decay: float,
        inclusive: bool = False,
        fired: Tensor | None = None,
        words: Any = None,
        marks: Any = None,
    ) -> bool:
        """Advance the SAM state over `spikes` writing `maps` (and `scores`, and the spikes per
        step and sample into `fired` [T, B], and each firing neuron's step mark into `words`:
        see `_numba.sam_steps`), with the window t' <= t if `inclusive` else t' < t, if this
        backend takes these tensors; return whether it did."""
        return False

    def census(self, spikes: Tensor, graded: bool) -> tuple[int, int] | None:
        """(non-zero values, values that are not spikes) of `spikes`, or None if declined."""
        return None

    def pack(self, spikes: Tensor, planes: Any, fired: Any, counts: Any) -> int | None:
        """Write one step's `spikes` [1, B, C, *spatial] as bits into `planes`, their number per
        sample into `fired` [B] and add it to `counts` [B] (numpy; see `_numba.pack_step`);
        return the number of samples holding a value other than 0 and 1 (0: all packed), or
        None where this backend keeps no steps as bits (or declines these spikes)."""
        return None

    def sam_block(
        self, state, planes, maps, decay, inclusive=False, words=None, marks=None, fresh=False
    ):
        """Run the steps kept as bits by `pack` (see `_numba.sam_block`)."""
        raise NotImplementedError(f"the {self.name} backend keeps no steps as bits")


class NumbaBackend(TorchBackend):
    """numba's compiled loops for contiguous CPU float tensors."""

    name = "numba"
    DTYPES = (torch.float32, torch.float64)

    def __init__(self) -> None:
        from . import _numba

        self._kernels = _numba

    def sam_steps(
        self, state, spikes, maps, scores, decay, inclusive=False, fired=None, words=None,
        marks=None,
    ) -> bool:  # fmt: skip
        tensors = [t for t in (state, spikes, maps, scores, fired) if t is not None]
        if not all(t.is_cpu and t.is_contiguous() for t in tensors):
            return False
        if words is not None and scores is not None:
            words = marks = None  # not both: the caller sees `marked` False and counts itself
        self._kernels.sam_steps(state, spikes, maps, scores, decay, inclusive, fired, words, marks)
        return True

    def census(self, spikes, graded) -> tuple[int, int] | None:
        if not (spikes.is_cpu and spikes.is_contiguous() and spikes.dtype in self.DTYPES):
            return None
        return self._kernels.spike_census(spikes, graded)

    def pack(self, spikes, planes, fired, counts) -> int | None:
        if not (spikes.is_cpu and spikes.is_contiguous() and spikes.dtype in self.DTYPES):
            return None
        return self._kernels.pack_step(spikes, planes, fired, counts)

    def sam_block(
        self, state, planes, maps, decay, inclusive=False, words=None, marks=None, fresh=False
    ):
        self._kernels.sam_block(state, planes, maps, decay, inclusive, words, marks, fresh)


def _choose() -> TorchBackend:
    try:
        return NumbaBackend()
    except Exception as exc:  # numba is optional (the "fast" extra); torch ops do the same work
        if not (isinstance(exc, ModuleNotFoundError) and exc.name == "numba"):
            warnings.warn(
                f"sam-plugins: numba is installed but its CPU kernel cannot be used ({exc}); "
                "SAM runs on torch ops instead (slower on CPU)",
                RuntimeWarning,
                stacklevel=2,
            )
        return TorchBackend()


_current: TorchBackend = _choose()
_BACKENDS = {"torch": TorchBackend, "numba": NumbaBackend}


def current() -> TorchBackend:
    """The backend in use."""
    return _current


@contextmanager
def use(name: str) -> Iterator[TorchBackend]:
    """Run a block with the backend `name` ('numba' or 'torch'), then restore the previous one."""
    global _current
    if name not in _BACKENDS:
        raise ValueError(f"backend must be one of {list(_BACKENDS)}, found {name!r}")
    previous, _current = _current, _BACKENDS[name]()
    try:
        yield _current
    finally:
        _current = previous
