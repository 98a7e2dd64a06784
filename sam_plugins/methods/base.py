"""The one call shape of every map method, as in Captum and pytorch-grad-cam: an object made
from the model and the layers to explain, then ``attribute(inputs, target=None)``, which returns
a `SAMResult` (maps [T, B, *spatial] per spatial layer).

A method is a small subclass that overrides one hook: `MapMethod._attribute` (SAM, Grad-CAM),
or `SpikeMapMethod.layer_maps` for maps made from the recorded spikes (spike count, random).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from numbers import Integral
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..engine import as_places
from ..layers import LayerSpec, resolve_layers
from ..outputs import class_scores
from ..plugins import (
    GenericAdapter,
    Runner,
    StepMode,
    adapter_for_model,
    installed_adapters,
    neurons_from_adapters,
    owner_of,
)
from ..recorder import Consumer, SpikeRecorder, SpikeShapeError, Target
from ..result import LayerSAM, SAMResult


def check_inputs(inputs: Any) -> Tensor:
    """`inputs` if it is a tensor [T, B, ...] with at least one step and one sample and only
    finite values."""
    if not isinstance(inputs, Tensor) or inputs.dim() < 2:
        raise ValueError(
            "inputs must be a tensor shaped [T, B, ...] (time first), found "
            f"{tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__}"
        )
    if inputs.shape[0] == 0 or inputs.shape[1] == 0:
        empty = "T = 0 (no time steps)" if inputs.shape[0] == 0 else "B = 0 (no samples)"
        raise ValueError(
            f"inputs have {empty}: shape {tuple(inputs.shape)}; expected [T, B, ...] with at "
            "least one time step and one sample"
        )
    # one sum decides (a NaN or infinite value makes it non-finite); counted only then
    if (inputs.is_floating_point() or inputs.is_complex()) and not torch.isfinite(inputs.sum()):
        bad = int((~torch.isfinite(inputs)).sum())
        if bad:  # a NaN input silences threshold neurons: zero maps, not an error, otherwise
            raise ValueError(
                f"inputs must be finite, found {bad} value{'s' if bad > 1 else ''} NaN or "
                f"infinite in inputs of shape {tuple(inputs.shape)}"
            )
    return inputs


class NoteWarning(UserWarning):
    """A warning the command line prints as one ``note: ...`` line (`warnings_as_notes`);
    plugins subclass it for theirs (e.g. a sensor size read from the events)."""


class SilentLayerWarning(NoteWarning):
    """A layer emitted no spike over the whole input: its maps are all zero."""


def silent_layer_messages(result: SAMResult) -> list[str]:
    """One message per layer of `result` that emitted no spike for any sample."""
    return [
        f"layer {layer.name!r}"
        + (f" ({layer.kind})" if layer.kind else "")
        + f" emitted no spike over the whole input (T={result.steps}, B={result.batch_size}): "
        + f"its {'maps' if layer.maps is not None else 'scores'} are all zero"
        for layer in result.values()
        if layer.silent()
    ]


def warn_silent_layers(result: SAMResult) -> None:
    """A `SilentLayerWarning` per silent layer of `result`, attributed to the user's call."""
    for message in silent_layer_messages(result):
        warnings.warn(message, SilentLayerWarning, stacklevel=3)


@contextmanager
def warnings_as_notes() -> Iterator[None]:
    """Inside the block, each `NoteWarning` (a silent layer, ...) is printed once as one
    ``note: ...`` line on stdout (the command line's way) instead of Python's warning; other
    warnings are unchanged."""
    printed: set[str] = set()
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, NoteWarning):
                shown(message, category, filename, lineno, file, line)
            elif str(message) not in printed:
                printed.add(str(message))
                print(f"note: {message}", file=sys.stdout)

        warnings.showwarning = show
        warnings.simplefilter("always", NoteWarning)
        yield


def spike_counts(spikes: Tensor) -> Tensor:
    """Spikes (non-zero values) per sample, [B] int64, of spikes [T, B, ...]."""
    return (spikes != 0).flatten(2).sum(2).sum(0)


LABELS = "an int, a sequence of ints or an integer tensor [B], or None"


def check_target(target: Any, batch: int) -> Tensor | None:
    """`target` as int64 labels [B] (an int is every sample's label), None as None; TypeError
    for anything that is not labels, ValueError for a number of labels other than `batch`."""
    if target is None:
        return None
    labels = _as_labels(target)
    if labels.dim() == 0:
        return labels.expand(batch).clone()
    if len(labels) != batch:
        raise ValueError(
            f"target must hold one label per sample: found {len(labels)} labels for a batch of "
            f"{batch} samples"
        )
    return labels


def _as_labels(target: Any) -> Tensor:
    """int64 labels [] or [n] from `target`, or a TypeError saying what `attribute` takes."""
    if isinstance(target, Integral) and not isinstance(target, (bool, np.bool_)):
        return torch.tensor(int(target))
    if isinstance(target, np.ndarray):
        target = torch.from_numpy(target) if target.dtype.kind in "iu" else target
    if isinstance(target, Tensor):
        ok = not target.is_floating_point() and not target.is_complex()
        if ok and target.dtype != torch.bool and target.dim() <= 1:
            return target.long()
        found = f"a tensor of {target.dtype}, shape {tuple(target.shape)}"
        if target.dim() > 1:
            found = f"a tensor of shape {tuple(target.shape)}"
    elif isinstance(target, Sequence) and not isinstance(target, (str, bytes)):
        wrong = [v for v in target if not isinstance(v, Integral) or isinstance(v, bool)]
        if not wrong:
            return torch.tensor([int(v) for v in target], dtype=torch.long)
        found = f"a {type(target).__name__} holding {type(wrong[0]).__name__} {wrong[0]!r}"
    elif callable(target):
        name = getattr(target, "__name__", type(target).__name__)
        found = f"a function ({name}); a runner is passed as run= when the method is made"
    else:
        found = f"{type(target).__name__} {target!r}"
    raise TypeError(f"target must be class labels ({LABELS}); found {found}")


def check_label_range(labels: Tensor, scores: Tensor) -> None:
    """ValueError unless every label [B] is a class of the scores [B, classes]."""
    classes = scores.shape[-1]
    bad = labels[(labels < 0) | (labels >= classes)]
    if len(bad):
        raise ValueError(
            f"target label {int(bad[0])} is out of range: the model's outputs have {classes} "
            f"classes (0 to {classes - 1})"
        )


class MapMethod:
    """Base of every map method.

    Args:
        model: any torch.nn.Module; its code and parameters are not changed.
        layers: which modules to explain: names, types, modules, a predicate (name, module) ->
            bool, or a list of these. None asks the installed framework adapters (entry-point
            group ``sam_plugins.adapters``) for the model's spiking neurons.
        step_mode: for modules no adapter knows: 'single' (one call per time step, output
            [B, ...]) or 'multi' (one call, output [T, B, ...]). Adapters know their own.
        graded: accept graded spikes (any finite value; non-zero counts as a spike) from
            modules no adapter marks as graded. Otherwise values must be 0 or 1.
        run: ``run(model, inputs)`` replaces the adapter's default runner (a loop over time, or
            one call for multi-step models), for models that need their own call.
    """

    method = "map"

    def __init__(
        self,
        model: nn.Module,
        layers: LayerSpec | Sequence[LayerSpec] | None = None,
        *,
        step_mode: StepMode = "single",
        graded: bool = False,
        run: Runner | None = None,
    ) -> None:
        self.model = model
        generic = GenericAdapter(step_mode)
        adapters = installed_adapters()
        if layers is None:
            pairs = neurons_from_adapters(model, adapters)
        else:
            pairs = [
                (n, m, owner_of(m, adapters, generic)) for n, m in resolve_layers(model, layers)
            ]
        self.runner = adapter_for_model(model, adapters, generic)
        self.run: Runner = run or self.runner.run
        self._default_run = run is None
        self.targets = [Target(n, m, a, graded=graded or a.graded(m)) for n, m, a in pairs]

    @property
    def layers(self) -> list[str]:
        """Names of the explained layers, in model order."""
        return [t.name for t in self.targets]

    def attribute(self, inputs: Tensor, target: Any = None) -> SAMResult:
        """Maps of `inputs` [T, B, ...] (time first): reset the model the framework's way, run
        it over the steps and return the result, its `outputs` holding what the model returned.

        Args:
            target: the classes to explain, for methods that need one (Grad-CAM, Captum): an
                int (every sample's), a sequence of ints or an integer tensor [B]; default
                (None) the predicted classes. SAM and the spike maps need no label: theirs is
                checked (TypeError if it is not labels, ValueError if it is out of the
                outputs' range or not one per sample) and not used.
        """
        labels = check_target(target, check_inputs(inputs).shape[1])
        result = self._attribute(inputs, labels)
        self._check_axes(result, inputs)
        if labels is not None and result.outputs is not None:
            check_label_range(labels, class_scores(result.outputs))
        warn_silent_layers(result)
        return result

    def _attribute(self, inputs: Tensor, target: Tensor | None) -> SAMResult:
        raise NotImplementedError

    def _record(
        self, inputs: Tensor, consume: Consumer, targets: list[Target] | None = None
    ) -> Any:
        """Run the model over `inputs` without gradients, each call's spikes of `targets`
        (default: every explained layer) streamed to `consume`; the hooks are removed after,
        also when the model raises. Returns the model's outputs."""
        recorder = SpikeRecorder(self.targets if targets is None else targets)
        recorder.consumers.append(consume)
        recorder.attach()
        try:
            with torch.no_grad():
                outputs = self._forward(inputs)
        finally:
            recorder.detach()
        recorder.verify()
        return outputs

    def _forward(self, inputs: Tensor) -> Any:
        """Reset the model's state and run it over `inputs`; an error raised while the default
        runner ran it gets a note on how it was run and what to pass instead."""
        self.runner.reset(self.model)
        try:
            return self.run(self.model, inputs)
        except Exception as exc:
            if self._default_run:
                exc.add_note(self._how_to_run(inputs))
            raise

    def _how_to_run(self, inputs: Tensor) -> str:
        return (
            f"sam-plugins ran the model on inputs [T={inputs.shape[0]}, B={inputs.shape[1]}, "
            f"...] with the {self.runner.name} adapter's default runner: one call per time "
            "step, or one call with the whole sequence when the adapter sees that the model "
            "handles time itself. If forward loops over time itself, pass "
            "run=lambda model, x: model(x) (for a static input repeated inside forward: "
            "run=lambda model, x: model(x[0])); if it takes one step per call, pass "
            "run=lambda model, x: [model(xt) for xt in x]. Modules no adapter knows also need "
            "step_mode='multi' if they take [T, B, ...] in one call."
        )

    def _check_axes(self, result: SAMResult, inputs: Tensor) -> None:
        """SpikeShapeError unless the result has the inputs' batch and (under the default
        runner) their number of steps: otherwise the model's time axis was read wrongly (it
        loops over time inside forward, or takes one step per call while run as a whole)."""
        steps, batch = inputs.shape[:2]
        if result.batch_size == batch and (result.steps == steps or not self._default_run):
            return
        raise SpikeShapeError(
            f"the recorded spikes have {result.steps} step(s) of batch {result.batch_size}, "
            f"but the inputs are [T={steps}, B={batch}, ...]: the layers' time and batch axes "
            "were not read as the model runs, and the maps would be wrong. "
            + (self._how_to_run(inputs) if self._default_run else "Check what run= does.")
        )


class SpikeMapMethod(MapMethod):
    """A method whose maps are made from each layer's recorded spikes by `layer_maps`."""

    def layer_maps(self, spikes: Tensor) -> Tensor:
        """Maps [T, B, *spatial] of one layer from its spikes [T, B, C, *spatial] (a layer
        without a layout comes as [T, B, 1, N]: each neuron its own place)."""
        raise NotImplementedError

    def _attribute(self, inputs: Tensor, target: Tensor | None) -> SAMResult:
        seen: dict[str, list[Tensor]] = {t.name: [] for t in self.targets}
        outputs = self._record(inputs, lambda t, spikes: seen[t.name].append(spikes.clone()))
        layers = {}
        for t in self.targets:
            if not seen[t.name]:
                raise RuntimeError(f"layer {t.name!r} was never called while the model ran")
            spikes = torch.cat(seen[t.name])
            t.check_values(spikes)  # the recorder checked only until a call had spikes
            layers[t.name] = map_layer(
                t, self.layer_maps(as_places(spikes)), spike_counts(spikes)
            )
        return maps_result(layers, self.method, outputs)


def map_layer(target: Target, maps: Tensor, spike_count: Tensor | None = None) -> LayerSAM:
    """A layer's result from its maps [T, B, *spatial] ([T, B, N] for a layer without a
    layout, whose scores are then their time sum) and its spikes per sample [B]."""
    return LayerSAM(
        name=target.name,
        maps=maps,
        scores=maps.sum(0) if len(target.step_shape or ()) == 2 else None,
        profile=maps.flatten(2).sum(dim=2),
        kind=type(target.module).__name__,
        spike_count=spike_count,
    )


def maps_result(layers: dict[str, LayerSAM], method: str, outputs: Any) -> SAMResult:
    """The result of a method that makes maps of spatial layers only."""
    if not layers:
        raise ValueError(
            "none of the explained layers has a spatial layout ([T, B, C, H, W] spikes), so "
            "there is no map to make; choose convolutional neuron layers"
        )
    return SAMResult(layers, gamma=None, outputs=outputs, method=method)
