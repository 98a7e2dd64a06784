"""Backend-agnostic spike recorder: one forward hook per neuron module, steps counted, spikes
streamed to consumers. It stores nothing itself; consumers keep what they were asked to keep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from .engine import backend
from .plugins import Adapter

Consumer = Callable[["Target", Tensor], None]
"""Called as consumer(target, spikes) with spikes [steps, B, ...] of one call, detached."""


class SpikeShapeError(ValueError):
    """A layer's spikes do not fit the shape or step count recorded so far."""


class NotSpikesError(ValueError):
    """A recorded layer produced values that are not spikes."""


@dataclass
class Target:
    """One recorded module: its name in the model, the module, and the adapter that reads it."""

    name: str
    module: nn.Module
    adapter: Adapter
    graded: bool = False
    steps: int = 0
    step_shape: torch.Size | None = None
    checked: bool = False  # a call with spikes in it passed the full value check (kept on reset)

    def reset(self) -> None:
        self.steps, self.step_shape = 0, None

    def check_values(self, spikes: Tensor) -> bool:
        """Whether `spikes` hold a spike; NotSpikesError unless every value is 0 or 1 (finite,
        if the layer is graded). One compiled pass where the backend takes the tensor, torch
        ops otherwise."""
        if spikes.dtype == torch.bool:
            return bool(spikes.any())
        census = backend.current().census(spikes, self.graded)
        if census is not None:
            fired, bad = census
        else:  # torch ops
            fired, bad = bool(spikes.any()), False
            if fired:
                wrong = ~torch.isfinite(spikes) if self.graded else (spikes != 0) & (spikes != 1)
                bad = bool(wrong.any())
        if bad:
            low, high = (float(v) for v in torch.aminmax(spikes.float()))
            raise self.not_spikes(low, high)
        return bool(fired)

    def not_spikes(self, low: float, high: float) -> NotSpikesError:
        expected = "finite values (graded spikes)" if self.graded else "values in {0, 1}"
        return NotSpikesError(
            f"layer {self.name!r} ({type(self.module).__name__}) does not emit spikes: expected "
            f"{expected}, found values from {low:g} to {high:g}. Record the neuron module itself "
            "rather than the layer before it, or pass graded=True if it emits graded spikes."
        )


class SpikeRecorder:
    """Attaches one forward hook per target and streams each call's spikes to the consumers."""

    def __init__(self, targets: list[Target], check_values: bool = True) -> None:
        self.targets = targets
        self.consumers: list[Consumer] = []
        self.check_values = check_values
        """Whether the recorder checks each target's values (`Target.check_values`, until a
        call with a spike passes); False: the first consumer does, in its own pass over the
        spikes (SAM packing them as bits checks that they are 0 or 1)."""
        self._handles: list[RemovableHandle] = []

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def attach(self) -> None:
        if self.attached:
            raise RuntimeError("this recorder is already attached")
        try:
            for target in self.targets:
                self._handles.append(target.module.register_forward_hook(self._hook(target)))
        except BaseException:
            self.detach()  # never leave a model half-attached
            raise

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def reset(self) -> None:
        for target in self.targets:
            target.reset()

    def _hook(self, target: Target):
        def hook(module: nn.Module, args, output) -> None:
            # detached, the consumers' work builds no graph (cheaper than a no_grad block: this
            # runs once per layer and step, with the caches cold from the forward)
            spikes = target.adapter.to_spikes(module, output)
            if spikes.requires_grad:
                spikes = spikes.detach()
            self._check(target, spikes)
            for consume in self.consumers:
                consume(target, spikes)
            # returning None leaves the model's output untouched

        return hook

    def _check(self, target: Target, spikes: Tensor) -> None:
        if target.checked and spikes.shape[1:] == target.step_shape:  # the usual call
            steps = spikes.shape[0]
            if steps:
                target.steps += steps
                return
        if spikes.is_complex():
            raise NotSpikesError(
                f"layer {target.name!r}: spikes must be real, found {spikes.dtype}"
            )
        if spikes.dim() < 3:
            raise SpikeShapeError(
                f"layer {target.name!r}: expected spikes shaped [batch, neurons or channels, ...] "
                f"per step, found shape {tuple(spikes.shape[1:])} (read as "
                f"{target.adapter.step_mode(target.module)!r}-step). A model that loops over time "
                "(or over the batch) inside forward needs run=lambda model, x: model(x) or the "
                "right step_mode"
            )
        if spikes.numel() == 0:
            names = ("T = 0 (no time steps)", "B = 0 (no samples)")
            empty = [
                names[i] if i < 2 else "no neurons" for i, n in enumerate(spikes.shape) if not n
            ]
            raise SpikeShapeError(
                f"layer {target.name!r}: spikes of shape {tuple(spikes.shape)} ([steps, batch, "
                f"...]) hold no values, {empty[0]}: every call needs at least one step, one "
                "sample and one neuron"
            )
        step_shape = spikes.shape[1:]
        if target.step_shape is None:
            target.step_shape = step_shape
        elif step_shape != target.step_shape:
            raise SpikeShapeError(
                f"layer {target.name!r}: call after step {target.steps} gave spikes of shape "
                f"{tuple(step_shape)} per step, earlier steps gave {tuple(target.step_shape)}. "
                "Batch or input "
                "size changed without sam.reset(), or the layer's step mode is not what it seems "
                f"(read as {target.adapter.step_mode(target.module)!r}-step). A model that loops "
                "over time inside forward needs run=lambda model, x: model(x) (or step_mode="
                "'multi' for modules no adapter knows)"
            )
        target.steps += spikes.shape[0]
        if spikes.dtype == torch.bool or target.checked or not self.check_values:
            return
        # Full value check of the first call with spikes in it: a layer that is not a neuron
        # layer (or emits graded values) shows it at once, and later calls and sequences cost
        # nothing. Silent calls before it cost one read-only pass. The compiled census does it
        # in one pass (a multi-step layer's first call holds all T steps).
        target.checked = target.check_values(spikes)

    def verify(self) -> None:
        """Raise if the layers' step counts disagree."""
        counts = {t.name: t.steps for t in self.targets if t.steps}
        if len(set(counts.values())) > 1:
            raise SpikeShapeError(
                f"the recorded layers saw different numbers of time steps: {counts}. A layer read "
                "as single-step may in fact be multi-step (or the reverse): check step_mode."
            )
