"""The one call shape of every map method, as in Captum and pytorch-grad-cam: an object made
from the model and the layers to explain, then ``attribute(inputs, target=None)``, which returns
a `SAMResult` (maps [T, B, *spatial] per spatial layer).

A method is a small subclass that overrides one hook: `MapMethod._attribute` (SAM, Grad-CAM),
or `SpikeMapMethod.layer_maps` for maps made from the recorded spikes (spike count, random).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..engine import as_places
from ..layers import LayerSpec, resolve_layers
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
        raise ValueError(
            "inputs must have at least one time step and one sample ([T, B, ...] with T, B >= 1), "
            f"found shape {tuple(inputs.shape)}"
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

    def attribute(self, inputs: Tensor, target: Tensor | None = None) -> SAMResult:
        """Maps of `inputs` [T, B, ...] (time first): reset the model the framework's way, run
        it over the steps and return the result, its `outputs` holding what the model returned.

        Args:
            target: [B] classes to explain, for methods that need one (Grad-CAM); default the
                predicted classes. SAM and the spike maps need no label and ignore it.
        """
        result = self._attribute(check_inputs(inputs), target)
        self._check_axes(result, inputs)
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
            layers[t.name] = map_layer(t, self.layer_maps(as_places(spikes)))
        return maps_result(layers, self.method, outputs)


def map_layer(target: Target, maps: Tensor) -> LayerSAM:
    """A layer's result from its maps [T, B, *spatial] ([T, B, N] for a layer without a
    layout, whose scores are then their time sum)."""
    return LayerSAM(
        name=target.name,
        maps=maps,
        scores=maps.sum(0) if len(target.step_shape or ()) == 2 else None,
        profile=maps.flatten(2).sum(dim=2),
        kind=type(target.module).__name__,
    )


def maps_result(layers: dict[str, LayerSAM], method: str, outputs: Any) -> SAMResult:
    """The result of a method that makes maps of spatial layers only."""
    if not layers:
        raise ValueError(
            "none of the explained layers has a spatial layout ([T, B, C, H, W] spikes), so "
            "there is no map to make; choose convolutional neuron layers"
        )
    return SAMResult(layers, gamma=None, outputs=outputs, method=method)
