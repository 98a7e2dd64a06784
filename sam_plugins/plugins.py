"""The plugin kinds, one abstract base and one entry-point group each, and their discovery.

- Framework adapters (`Adapter`, group ``sam_plugins.adapters``): which modules of a model are
  its spiking neurons, how one call's output becomes spikes shaped [steps, batch, ...], how to
  reset the model's state and run it over an input sequence, and how to import a NIR graph.
- Input readers (`InputReader`, group ``sam_plugins.readers``): input files the core does not
  read itself (event recordings), datasets named on the command line, and how to draw a frame.
- Commands (group ``sam_plugins.commands``): a function ``add(subparsers)`` that adds a
  subcommand to ``sam-plugins``.

Plugins register a class (or a zero-argument factory)::

    [project.entry-points."sam_plugins.adapters"]
    myframework = "my_package:MyAdapter"

The core never imports a framework: it loads whatever is registered. A plugin that fails to
load is skipped with a warning, so one broken plugin never stops the others.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

ENTRY_POINT_GROUP = "sam_plugins.adapters"
READERS_GROUP = "sam_plugins.readers"
StepMode = Literal["single", "multi"]
Runner = Callable[[nn.Module, Tensor], Any]
"""run(model, inputs [T, B, ...]) -> outputs: how a model is run over a sequence."""


class Adapter:
    """Base class of framework adapters; the defaults are the generic, framework-free behaviour.

    Subclasses override what their framework does differently. Every method gets real modules
    and real outputs; none may change them.
    """

    name: str = "generic"

    def owns(self, module: nn.Module) -> bool:
        """Whether `module` is a neuron module of this adapter's framework (the one thing a
        framework adapter must say)."""
        return False

    def neuron_modules(self, model: nn.Module) -> list[tuple[str, nn.Module]]:
        """The (qualified name, module) pairs of the spiking neurons in `model`, in order: the
        modules this adapter `owns`."""
        return [(name, m) for name, m in model.named_modules() if name and self.owns(m)]

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

    def import_nir(self, graph: Any) -> nn.Module | None:
        """A model of this framework built from a NIR graph, or None if it cannot import one."""
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


class InputReader:
    """Base class of input readers: files and datasets the core does not read itself.

    Every method answers None for what the reader does not know, so the next reader is asked.
    """

    name: str = "reader"
    suffixes: tuple[str, ...] = ()
    """The suffixes of the event files this reader opens (``.raw``, ...), for messages."""

    def read(
        self, path: Path, time_bins: int, sensor_size: tuple[int, int, int] | None
    ) -> Tensor | None:
        """Frames [T, C, H, W] (or [T, B, C, H, W]) from an input file this reader knows (an
        event recording: `time_bins` frames on a sensor of (W, H, P), None: from the file), or
        None for files it does not know. Used by ``sam-plugins explain``."""
        return None

    def open_events(self, path: Path, sensor_size: tuple[int, int, int] | None) -> Any | None:
        """The event recording `path` as a `sam_plugins.io.events.EventStream` (its sensor
        from the file's header, else `sensor_size` (W, H, P), else guessed from the events),
        read in chunks as they are iterated; None for files this reader does not know."""
        return None

    def frame_stream(self, stream: Any, time_bins: int) -> Tensor | None:
        """Frames [time_bins, P, H, W] (float32 event counts) of an `EventStream`'s events on
        its sensor (W, H, P), or None if this reader does not frame events."""
        return None

    def open_dataset(
        self,
        factory: Callable[..., Any] | str,
        root: Path,
        train: bool,
        time_bins: int,
        sensor_size: tuple[int, int, int] | None = None,
        crop: tuple[int, int, int, int] | None = None,
        downsample: float | None = None,
    ) -> Any | None:
        """A torch Dataset of (frames [T, C, H, W], label) items from the dataset class
        `factory` (e.g. ``tonic.datasets.NMNIST``; or ``"files"``: root/<class>/<recording>)
        stored under `root`, events cropped and downsampled (`sam_plugins.io.events.
        EventTransform`), or None if this reader does not know that kind of dataset. Used by
        ``sam-plugins analyze`` (which passes sensor_size, crop, downsample only when given)."""
        return None

    def frame_image(self, frame: Tensor | np.ndarray) -> np.ndarray | None:
        """One frame [C, H, W] of what `read` returned as RGB [H, W, 3] in [0, 1], for drawing
        maps over it; None leaves it to the core's `sam_plugins.render.frame_image`."""
        return None


def stack_outputs(outputs: list[Any]) -> Any:
    """Stack per-step outputs along a new dim 0: tensors directly, tuples element-wise."""
    first = outputs[0]
    if isinstance(first, Tensor):
        return torch.stack(outputs)
    if isinstance(first, (tuple, list)):
        return type(first)(stack_outputs(list(parts)) for parts in zip(*outputs, strict=True))
    return outputs


def _load(group: str, kind: type) -> tuple[Any, ...]:
    """Instances of every plugin registered under `group`, by name order; one that fails to
    load (its framework missing or broken) or is not a `kind` is skipped with a warning."""
    found = []
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            plugin = ep.load()()
        except Exception as exc:  # a broken plugin must not break the rest
            warnings.warn(
                f"sam-plugins plugin {ep.name!r} ({ep.value}) could not be loaded: {exc}",
                RuntimeWarning,
                stacklevel=3,
            )
            continue
        if not isinstance(plugin, kind):
            warnings.warn(
                f"sam-plugins plugin {ep.name!r} ({ep.value}) in {group} is not a "
                f"sam_plugins.{kind.__name__}",
                RuntimeWarning,
                stacklevel=3,
            )
            continue
        found.append(plugin)
    return tuple(found)


def takes_state(model: nn.Module) -> bool:
    """Whether `model.forward` takes a ``state`` argument (a model that hands its state back)."""
    try:
        return "state" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def run_with_state(model: nn.Module, inputs: Tensor) -> tuple[Any, Any]:
    """``out, state = model(x_t, state)`` for each step of `inputs` [T, B, ...], from state None:
    (the outputs stacked along a new dim 0, the last state)."""
    state, outputs = None, []
    for x in inputs:
        out, state = model(x, state)
        outputs.append(out)
    return stack_outputs(outputs), state


@cache
def installed_adapters() -> tuple[Adapter, ...]:
    """The framework adapters registered under ``sam_plugins.adapters``, by name order."""
    return _load(ENTRY_POINT_GROUP, Adapter)


@cache
def installed_readers() -> tuple[InputReader, ...]:
    """The input readers registered under ``sam_plugins.readers``, by name order."""
    return _load(READERS_GROUP, InputReader)


def adapter_distributions() -> list[str]:
    """ "name (distribution)" of each registered framework adapter, for messages."""
    found = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        found.append(f"{ep.name} ({ep.dist.name})" if ep.dist is not None else ep.name)
    return found


def owner_of(module: nn.Module, adapters: Sequence[Adapter], fallback: Adapter) -> Adapter:
    """The adapter whose framework `module` belongs to, else `fallback`."""
    return next((a for a in adapters if a.owns(module)), fallback)


def adapter_for_model(model: nn.Module, adapters: Sequence[Adapter], fallback: Adapter) -> Adapter:
    """The adapter that owns the most neuron modules of `model`, else `fallback`."""
    counts = [(len(a.neuron_modules(model)), i) for i, a in enumerate(adapters)]
    best = max(counts, default=(0, -1))
    return adapters[best[1]] if best[0] > 0 else fallback


def neurons_from_adapters(
    model: nn.Module, adapters: Sequence[Adapter]
) -> list[tuple[str, nn.Module, Adapter]]:
    """(name, module, adapter) of every neuron module the adapters find in `model`, in model
    order; LookupError naming the installed adapters when there is none."""
    found: dict[int, tuple[str, nn.Module, Adapter]] = {}
    for adapter in adapters:
        for name, module in adapter.neuron_modules(model):
            found.setdefault(id(module), (name, module, adapter))
    if not found:
        names = ", ".join(adapter_distributions()) or "none"
        raise LookupError(
            f"no spiking neuron modules found in {type(model).__name__} by the installed "
            f"framework adapters (installed: {names}). Install the sam-plugins adapter of the "
            "model's framework, or name the neuron layers: layers=[...] (module names, types or "
            "a predicate)."
        )
    order = {id(m): i for i, (_, m) in enumerate(model.named_modules())}
    return sorted(found.values(), key=lambda t: order[id(t[1])])
