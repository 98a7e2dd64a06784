"""Captum's attribution methods on spiking networks, in the call shape of every map method.

Captum wants one forward ``f(inputs) -> [B, classes]`` with the batch first. `CaptumMethod`
gives it one: the inputs [T, B, ...] are handed to Captum as [B, T, ...]; every forward Captum
makes resets the model the adapter's way, runs the time loop (the adapter's runner, or `run`) on
them turned back to [T, B, ...], and returns the class scores (outputs summed over time, as
`sam_plugins.class_scores`).

- Input attributions (Saliency, IntegratedGradients, Occlusion, ... any Captum class that is not
  a layer method): maps [T, B, H, W] of the input, summed over its channels, in one pseudo-layer
  "input".
- Layer methods (LayerGradCam, ...): Captum hooks one module call per forward, while a neuron
  layer is called once per step (or once for all steps). So each step t is explained by its own
  Captum call, through an identity module that carries the layer's spikes of step t only; the
  maps [T, B, h, w] are those per-step attributions summed over channels. LayerGradCam thus
  weights each step's channels by that step's gradients (SNNGradCAM averages them over time).

Captum is optional: ``pip install "sam-plugins[captum]"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..layers import LayerSpec
from ..outputs import class_scores
from ..plugins import Runner, StepMode
from ..recorder import Target
from ..result import LayerSAM, SAMResult
from .base import MapMethod, check_label_range, map_layer, maps_result, spike_counts


def captum_attr() -> Any:
    """The ``captum.attr`` module, or an ImportError that says how to install it."""
    try:
        import captum.attr
    except ModuleNotFoundError as exc:
        raise ImportError(
            'Captum is not installed; install it with: pip install "sam-plugins[captum]"'
        ) from exc
    return captum.attr


class _Tap(nn.Module):
    """Identity: the module Captum's layer methods hook, carrying one step's spikes."""

    def forward(self, x: Tensor) -> Tensor:
        return x


class CaptumMethod(MapMethod):
    """A Captum attribution method as a map method.

    Args:
        model: any torch.nn.Module the adapters (or `run`) can run; not changed.
        layers: for layer methods, the neuron layers to explain (see `MapMethod`; None: the
            adapters' neurons; layers without a spatial layout are skipped). Input methods
            explain the input and take no layers.
        algorithm: a Captum class, or its name in ``captum.attr`` ("Saliency",
            "IntegratedGradients", "Occlusion", "LayerGradCam", ...).
        attribute_kwargs: extra arguments of the algorithm's ``attribute`` (e.g. ``n_steps``,
            ``sliding_window_shapes``). Captum sees the inputs batch first, so per-sample shapes
            are (T, C, H, W). LayerGradCam gets ``relu_attributions=True`` (Grad-CAM's ReLU)
            unless given.
        step_mode, graded, run: as for every map method (`MapMethod`).

    ``attribute(inputs [T, B, ...], target=None)``: `target` [B] are the classes to explain,
    default the predicted ones. The model's parameters get no .grad; its state is reset after.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: LayerSpec | Sequence[LayerSpec] | None = None,
        *,
        algorithm: str | type,
        attribute_kwargs: dict[str, Any] | None = None,
        step_mode: StepMode = "single",
        graded: bool = False,
        run: Runner | None = None,
    ) -> None:
        attr = captum_attr()
        if isinstance(algorithm, str):
            if not isinstance(getattr(attr, algorithm, None), type):
                raise ValueError(f"captum.attr has no attribution method {algorithm!r}")
            algorithm = getattr(attr, algorithm)
        self.algorithm = algorithm
        self.layer_method = issubclass(algorithm, attr.LayerAttribution)
        if not self.layer_method and layers is not None:
            raise ValueError(
                f"{algorithm.__name__} attributes to the input and takes no layers; use a "
                "Captum layer method (e.g. LayerGradCam) to explain layers"
            )
        super().__init__(model, layers, step_mode=step_mode, graded=graded, run=run)
        self.method = f"Captum {algorithm.__name__}"
        self.attribute_kwargs = dict(attribute_kwargs or {})
        if algorithm is getattr(attr, "LayerGradCam", None):
            self.attribute_kwargs.setdefault("relu_attributions", True)

    def _scores(self, batch_first: Tensor) -> Tensor:
        """The forward Captum sees: [B, T, ...] -> class scores [B, classes], from a reset
        model."""
        self.runner.reset(self.model)
        return class_scores(self.run(self.model, batch_first.transpose(0, 1)))

    def _attribute(self, inputs: Tensor, target: Tensor | None) -> SAMResult:
        shapes: dict[str, tuple[int, ...]] = {}  # per layer: spikes [T, B, ...] of the run
        counts: dict[str, Tensor] = {}  # per layer: spikes per sample [B]

        def note(t: Target, spikes: Tensor) -> None:
            steps = shapes.get(t.name, (0,))[0] + spikes.shape[0]
            shapes[t.name] = (steps, *spikes.shape[1:])
            counts[t.name] = counts.get(t.name, 0) + spike_counts(spikes)

        outputs = self._record(inputs, note, self.targets if self.layer_method else [])
        scores = class_scores(outputs)
        target = scores.argmax(1) if target is None else target.to(scores.device)
        check_label_range(target, scores)
        batch_first = inputs.detach().transpose(0, 1)
        try:
            if self.layer_method:
                layers = self._layers(batch_first, target, shapes, counts)
            else:
                layers = {"input": self._input(batch_first, target)}
        finally:
            self.runner.reset(self.model)  # no neuron state keeps Captum's graph alive
        return maps_result(layers, self.method, outputs)

    def _input(self, batch_first: Tensor, target: Tensor) -> LayerSAM:
        explainer = self.algorithm(self._scores)
        found = explainer.attribute(batch_first, target=target, **self.attribute_kwargs)
        maps = found.detach().transpose(0, 1)  # [T, B, ...]
        if maps.dim() == 5:
            maps = maps.sum(2)  # over the input's channels
        if maps.dim() != 4:
            raise ValueError(
                "input maps need inputs shaped [T, B, C, H, W] or [T, B, H, W], found "
                f"{tuple(batch_first.transpose(0, 1).shape)}"
            )
        return LayerSAM(
            name="input", maps=maps, scores=None, profile=maps.flatten(2).sum(2), kind="input"
        )

    def _layers(
        self,
        batch_first: Tensor,
        target: Tensor,
        shapes: dict[str, tuple[int, ...]],
        counts: dict[str, Tensor],
    ) -> dict[str, LayerSAM]:
        layers = {}
        for t in self.targets:
            if t.name not in shapes:
                raise RuntimeError(f"layer {t.name!r} was never called while the model ran")
            if len(shapes[t.name]) < 4:
                continue  # no spatial layout (Linear): no map, as with SAM
            steps = [self._step(t, step, batch_first, target) for step in range(shapes[t.name][0])]
            layers[t.name] = map_layer(t, torch.stack(steps), counts[t.name])
        return layers

    def _step(self, t: Target, step: int, batch_first: Tensor, target: Tensor) -> Tensor:
        """Attributions of layer `t` at `step`, summed over channels: [B, h, w]."""
        tap, seen = _Tap(), [0]  # seen: steps the layer has emitted in this forward

        def hook(module: nn.Module, args: Any, output: Any) -> Any:
            spikes = t.adapter.spike_output(module, output)
            if t.adapter.step_mode(module) == "multi":
                first, seen[0] = seen[0], seen[0] + spikes.shape[0]
                if not first <= step < seen[0]:
                    return None
                i = step - first
                parts = (spikes[:i], tap(spikes[i])[None], spikes[i + 1 :])
                spikes = torch.cat(parts)
            else:
                seen[0] += 1
                if seen[0] - 1 != step:
                    return None
                spikes = tap(spikes)
            return (spikes, *output[1:]) if isinstance(output, tuple) else spikes

        def forward(x: Tensor) -> Tensor:
            seen[0] = 0
            return self._scores(x)

        handle = t.module.register_forward_hook(hook)
        try:
            found = self.algorithm(forward, tap).attribute(
                batch_first, target=target, **self.attribute_kwargs
            )
        finally:
            handle.remove()
        return found.detach().sum(1)
