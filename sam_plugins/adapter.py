"""The adapter protocol that framework plugins implement, the generic adapter, and discovery.

An adapter knows one SNN framework: which modules are its spiking neurons, how to turn one call's
output into spikes shaped [steps, batch, ...], how to reset the model's state and how to run a
model over an input sequence when the user has no loop of their own. Plugins register a class
(or a zero-argument factory) under the entry-point group ``sam_plugins.adapters``::

    [project.entry-points."sam_plugins.adapters"]
    myframework = "my_package:MyAdapter"

The core never imports a framework: it loads whatever is registered.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

ENTRY_POINT_GROUP = "sam_plugins.adapters"
StepMode = Literal["single", "multi"]


class Adapter:
    """Base class of framework adapters; the defaults are the generic, framework-free behaviour.

    Subclasses override what their framework does differently. Every method gets real modules
    and real outputs; none may change them.
    """

    name: str = "generic"

    def neuron_modules(self, model: nn.Module) -> list[tuple[str, nn.Module]]:
        """The (qualified name, module) pairs of the spiking neurons in `model`, in order."""
        return []

    def owns(self, module: nn.Module) -> bool:
        """Whether `module` is a neuron module of this adapter's framework."""
        return False

    def step_mode(self, module: nn.Module) -> StepMode:
        """'single': each call is one time step, output [B, ...]; 'multi': output [T, B, ...]."""
        return "single"

    def spike_output(self, module: nn.Module, output: Any) -> Tensor:
        """The spike tensor in one call's output (the output itself, or its first element)."""
        if isinstance(output, Tensor):
            return output
        if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
            return output[0]
        raise TypeError(
            f"{type(module).__name__} returned {type(output).__name__}; expected a spike tensor "
            "or a tuple whose first element is the spike tensor"
        )

    def to_spikes(self, module: nn.Module, output: Any) -> Tensor:
        """One call's output as spikes shaped [steps, B, ...]."""
        spikes = self.spike_output(module, output)
        return spikes if self.step_mode(module) == "multi" else spikes.unsqueeze(0)

    def graded(self, module: nn.Module) -> bool:
        """Whether the module may emit graded spikes (values other than 0 and 1)."""
        return False

    def reset(self, model: nn.Module) -> None:
        """Reset the model's neuron state before a new sequence (nothing for plain torch)."""

    def read_input(
        self, path: Path, time_bins: int, sensor_size: tuple[int, int, int] | None
    ) -> Tensor | None:
        """Frames [T, C, H, W] (or [T, B, C, H, W]) from an input file this adapter knows (an
        event recording: `time_bins` frames on a sensor of (W, H, P), None: from the file), or
        None for files it does not know. Used by ``sam-plugins explain``."""
        return None

    def run(self, model: nn.Module, inputs: Tensor) -> Any:
        """Run `model` over `inputs` [T, B, ...]: one call per step along dim 0, outputs stacked
        along a new time axis (tuples of outputs element by element)."""
        return stack_outputs([model(x) for x in inputs])


class GenericAdapter(Adapter):
    """For any nn.Module whose output is a spike tensor; the step mode is the user's to say."""

    def __init__(self, step_mode: StepMode = "single") -> None:
        if step_mode not in ("single", "multi"):
            raise ValueError(f"step_mode must be 'single' or 'multi', found {step_mode!r}")
        self._step_mode: StepMode = step_mode

    def step_mode(self, module: nn.Module) -> StepMode:
        return self._step_mode

    def run(self, model: nn.Module, inputs: Tensor) -> Any:
        return model(inputs) if self._step_mode == "multi" else super().run(model, inputs)


def stack_outputs(outputs: list[Any]) -> Any:
    """Stack per-step outputs along a new dim 0: tensors directly, tuples element-wise."""
    first = outputs[0]
    if isinstance(first, Tensor):
        return torch.stack(outputs)
    if isinstance(first, (tuple, list)):
        return type(first)(stack_outputs(list(parts)) for parts in zip(*outputs, strict=True))
    return outputs


@cache
def installed_adapters() -> tuple[Adapter, ...]:
    """Instances of every adapter registered under the entry-point group, by name order.

    An adapter that fails to load (its framework missing or broken) is skipped with a warning,
    so one broken plugin never stops the others or the generic path.
    """
    found = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            adapter = ep.load()()
        except Exception as exc:  # a broken plugin must not break the rest
            warnings.warn(
                f"sam-plugins adapter {ep.name!r} ({ep.value}) could not be loaded: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        if not isinstance(adapter, Adapter):
            warnings.warn(
                f"sam-plugins adapter {ep.name!r} ({ep.value}) is not a sam_plugins.Adapter",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        found.append(adapter)
    return tuple(found)


def owner_of(module: nn.Module, adapters: Sequence[Adapter], fallback: Adapter) -> Adapter:
    """The adapter whose framework `module` belongs to, else `fallback`."""
    return next((a for a in adapters if a.owns(module)), fallback)


def adapter_for_model(model: nn.Module, adapters: Sequence[Adapter], fallback: Adapter) -> Adapter:
    """The adapter that owns the most neuron modules of `model`, else `fallback`."""
    counts = [(len(a.neuron_modules(model)), i) for i, a in enumerate(adapters)]
    best = max(counts, default=(0, -1))
    return adapters[best[1]] if best[0] > 0 else fallback
