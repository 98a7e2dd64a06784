"""Baseline maps to compare SAM with, in the same result type (`SAMResult`, maps [T, B, h, w]):

- `grad_cam`: SNN-crafted Grad-CAM, the comparison method of Kim & Panda (2021): gradients of
  the class score (output summed over time) through the surrogate gradient w.r.t. each layer's
  spikes; channel weights are those gradients averaged over space and time; the map of step t
  is ReLU(sum_k weight_k * S[t, k]).
- `spike_count_maps`: spikes per location and step, summed over channels (firing rate).
- `random_maps`: uniform noise of the same shape (chance level for the metrics).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .engine import has_spatial_layout
from .explainer import SpikeActivationMap
from .layers import LayerSpec
from .result import LayerSAM, SAMResult, class_scores

Runner = Callable[[nn.Module, Tensor], Any]


def _result(maps: dict[str, Tensor], outputs: Any, kinds: dict[str, str]) -> SAMResult:
    if not maps:
        raise ValueError(
            "none of the recorded layers has a spatial layout ([T, B, C, H, W] spikes), so "
            "there is no map to make; choose convolutional neuron layers"
        )
    layers = {
        name: LayerSAM(name, m, None, m.flatten(2).sum(dim=2), None, kinds.get(name, ""))
        for name, m in maps.items()
    }
    return SAMResult(layers, gamma=float("nan"), outputs=outputs)


def grad_cam(
    model: nn.Module,
    inputs: Tensor,
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    target: Tensor | None = None,
    run: Runner | None = None,
    **options: Any,
) -> SAMResult:
    """SNN Grad-CAM maps [T, B, h, w] per layer (not normalised; `heatmap` normalises).

    Args:
        inputs: [T, B, ...] as for `explain`.
        target: [B] classes to explain; default the predicted ones (largest summed output).
        options: as for `SpikeActivationMap` (step_mode, graded) to find and read the layers.

    The model's parameters are not changed and get no .grad; gradients flow from the inputs
    (a copy that requires grad) through the surrogate gradients of the neurons.
    """
    sam = SpikeActivationMap(model, layers, **options)
    # the spike tensors exactly as the model passes them on (a reshaped view would carry no
    # gradient), with whether the call was one step ([B, ...]) or all of them ([T, B, ...])
    captured: dict[str, list[tuple[Tensor, bool]]] = {t.name: [] for t in sam.recorder.targets}

    def hook_for(target_):
        def hook(module, args, output):
            spikes = target_.adapter.spike_output(module, output)
            captured[target_.name].append((spikes, target_.adapter.step_mode(module) == "multi"))

        return hook

    handles = [t.module.register_forward_hook(hook_for(t)) for t in sam.recorder.targets]
    try:
        sam.runner.reset(model)
        with torch.enable_grad():
            outputs = (run or sam.runner.run)(model, inputs.detach().clone().requires_grad_(True))
            scores = class_scores(outputs)
            if target is None:
                target = scores.argmax(1)
            chosen = scores.gather(1, target.to(scores.device).view(-1, 1)).sum()
            tensors = [t for parts in captured.values() for t, _ in parts]
            if not tensors or not all(t.requires_grad for t in tensors):
                raise ValueError(
                    "the recorded spikes carry no gradient: Grad-CAM needs neurons with a "
                    "surrogate gradient (the model's own training path)"
                )
            grads = list(torch.autograd.grad(chosen, tensors, allow_unused=True))
    finally:
        for handle in handles:
            handle.remove()
        sam.runner.reset(model)  # the neurons' state must not keep the graph alive
    maps = {}
    for name, parts in captured.items():
        layer_grads, grads = grads[: len(parts)], grads[len(parts) :]

        def over_time(xs, parts=parts):  # [T, B, ...] from the calls' [B, ...] or [T, B, ...]
            pairs = zip(xs, parts, strict=True)
            return torch.cat([x if multi else x[None] for x, (_, multi) in pairs])

        s = over_time([t.detach() for t, _ in parts])
        if not has_spatial_layout(s):
            continue  # Linear layers have no map, as with SAM
        pairs = zip(parts, layer_grads, strict=True)
        g = over_time([torch.zeros_like(t) if d is None else d for (t, _), d in pairs])
        weights = g.mean(dim=(0, *range(3, g.dim())))  # [B, C]: over time and space
        weighted = (s * weights.view(1, *weights.shape, *([1] * (s.dim() - 3)))).sum(2)
        maps[name] = F.relu(weighted)
    kinds = {t.name: type(t.module).__name__ for t in sam.recorder.targets}
    return _result(maps, _detach(outputs), kinds)


def _detach(outputs: Any) -> Any:
    if isinstance(outputs, Tensor):
        return outputs.detach()
    if isinstance(outputs, (tuple, list)):
        return type(outputs)(_detach(o) for o in outputs)
    return outputs


def spike_count_maps(
    model: nn.Module,
    inputs: Tensor,
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    run: Runner | None = None,
    **options: Any,
) -> SAMResult:
    """Spikes per location and step summed over channels, [T, B, h, w] per layer."""
    sam = SpikeActivationMap(model, layers, keep_spikes=True, **options)
    result = sam.attribute(inputs, run)
    maps = {
        name: (result[name].spikes != 0).sum(2).float()
        for name in result
        if result[name].maps is not None
    }
    return _result(maps, result.outputs, {name: result[name].kind for name in result})


def random_maps(like: SAMResult, seed: int = 0) -> SAMResult:
    """Uniform noise maps with the shapes of `like`'s maps."""
    generator = torch.Generator().manual_seed(seed)
    maps = {
        name: torch.rand(like[name].maps.shape, generator=generator)
        for name in like
        if like[name].maps is not None
    }
    return _result(maps, like.outputs, {name: like[name].kind for name in like})
