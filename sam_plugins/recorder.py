"""Backend-agnostic spike recorder: one forward hook per neuron module, steps counted, spikes
streamed to consumers. It stores nothing itself; consumers keep what they were asked to keep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from .adapter import Adapter

Consumer = Callable[[str, Tensor], None]
"""Called as consumer(layer_name, spikes) with spikes [steps, B, ...] of one call, detached."""


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
    step_shape: tuple[int, ...] | None = None
    # Running checks kept on the spikes' device, so that recording never waits for the GPU.
    bad_values: Tensor | None = field(default=None, repr=False)
    low: Tensor | None = field(default=None, repr=False)
    high: Tensor | None = field(default=None, repr=False)

    def reset(self) -> None:
        self.steps, self.step_shape = 0, None
        self.bad_values = self.low = self.high = None


class SpikeRecorder:
    """Attaches one forward hook per target and streams each call's spikes to the consumers."""

    def __init__(self, targets: list[Target]) -> None:
        self.targets = targets
        self.consumers: list[Consumer] = []
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
            with torch.no_grad():
                spikes = target.adapter.to_spikes(module, output).detach()
                self._check(target, spikes)
                for consume in self.consumers:
                    consume(target.name, spikes)
            # returning None leaves the model's output untouched

        return hook

    def _check(self, target: Target, spikes: Tensor) -> None:
        if spikes.is_complex():
            raise NotSpikesError(
                f"layer {target.name!r}: spikes must be real, found {spikes.dtype}"
            )
        if spikes.dim() < 2:
            raise SpikeShapeError(
                f"layer {target.name!r}: expected spikes shaped [batch, ...] per step, found shape "
                f"{tuple(spikes.shape[1:])}"
            )
        step_shape = tuple(spikes.shape[1:])
        if target.step_shape is None:
            target.step_shape = step_shape
        elif step_shape != target.step_shape:
            raise SpikeShapeError(
                f"layer {target.name!r}: call after step {target.steps} gave spikes of shape "
                f"{step_shape} per step, earlier steps gave {target.step_shape}. Batch or input "
                "size changed without sam.reset(), or the layer's step mode is not what it seems "
                f"(read as {target.adapter.step_mode(target.module)!r}-step)"
            )
        target.steps += spikes.shape[0]
        # Value checks stay on the device; verify() reads them once at the end.
        if target.graded:
            bad = ~torch.isfinite(spikes).all() if spikes.is_floating_point() else None
        else:
            bad = ((spikes != 0) & (spikes != 1)).any()
        if bad is not None:
            target.bad_values = bad if target.bad_values is None else target.bad_values | bad
            low, high = torch.aminmax(spikes.float())
            target.low = low if target.low is None else torch.minimum(target.low, low)
            target.high = high if target.high is None else torch.maximum(target.high, high)

    def verify(self) -> None:
        """Raise if a layer emitted non-spikes or the layers' step counts disagree."""
        for target in self.targets:
            if target.bad_values is not None and bool(target.bad_values):
                expected = "finite values (graded spikes)" if target.graded else "values in {0, 1}"
                raise NotSpikesError(
                    f"layer {target.name!r} ({type(target.module).__name__}) does not emit spikes: "
                    f"expected {expected}, found values from {float(target.low):g} to "
                    f"{float(target.high):g}. Record the neuron module itself rather than the "
                    "layer before it, or pass graded=True if it emits graded spikes."
                )
        counts = {t.name: t.steps for t in self.targets if t.steps}
        if len(set(counts.values())) > 1:
            raise SpikeShapeError(
                f"the recorded layers saw different numbers of time steps: {counts}. A layer read "
                "as single-step may in fact be multi-step (or the reverse): check step_mode."
            )
