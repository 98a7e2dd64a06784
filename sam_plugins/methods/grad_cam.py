"""SNN-crafted Grad-CAM, the comparison method of Kim & Panda (2021).

Gradients of the class score (output summed over time) flow through the neurons' surrogate
gradients to each layer's spikes; a channel's weight is its gradient averaged over space and
time; the map of step t is ReLU(sum_k weight_k * S[t, k]).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..engine import has_spatial_layout
from ..outputs import class_scores
from ..recorder import Target
from ..result import SAMResult
from .base import MapMethod, check_label_range, map_layer, maps_result, spike_counts


class SNNGradCAM(MapMethod):
    """SNN Grad-CAM maps [T, B, h, w] per layer (raw; `SAMResult.heatmap` normalises).

    ``attribute(inputs, target)``: `target` [B] are the classes to explain, default the
    predicted ones (largest summed output). The model's parameters are not changed and get no
    .grad; gradients flow from a copy of the inputs through the neurons' surrogate gradients.
    """

    method = "SNN Grad-CAM"

    def _attribute(self, inputs: Tensor, target: Tensor | None) -> SAMResult:
        # the spike tensors exactly as the model passes them on (a reshaped view would carry no
        # gradient), with whether the call was one step ([B, ...]) or all of them ([T, B, ...])
        captured: dict[str, list[tuple[Tensor, bool]]] = {t.name: [] for t in self.targets}

        def hook_for(t: Target):
            def hook(module, args, output):
                spikes = t.adapter.spike_output(module, output)
                captured[t.name].append((spikes, t.adapter.step_mode(module) == "multi"))

            return hook

        handles = [t.module.register_forward_hook(hook_for(t)) for t in self.targets]
        try:
            with torch.enable_grad():
                outputs = self._forward(inputs.detach().clone().requires_grad_(True))
                scores = class_scores(outputs)
                if target is None:
                    target = scores.argmax(1)
                check_label_range(target, scores)
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
            self.runner.reset(self.model)  # the neurons' state must not keep the graph alive
        layers = {}
        for t in self.targets:
            parts = captured[t.name]
            layer_grads, grads = grads[: len(parts)], grads[len(parts) :]
            s = _over_time([x.detach() for x, _ in parts], parts)
            if not has_spatial_layout(s):
                continue  # Linear layers have no map, as with SAM
            pairs = zip(parts, layer_grads, strict=True)
            g = _over_time([torch.zeros_like(x) if d is None else d for (x, _), d in pairs], parts)
            weights = g.mean(dim=(0, *range(3, g.dim())))  # [B, C]: over time and space
            weighted = (s * weights.view(1, *weights.shape, *([1] * (s.dim() - 3)))).sum(2)
            layers[t.name] = map_layer(t, F.relu(weighted), spike_counts(s))
        return maps_result(layers, self.method, _detach(outputs))


def _over_time(xs: list[Tensor], parts: list[tuple[Tensor, bool]]) -> Tensor:
    """[T, B, ...] from the calls' [B, ...] (single-step) or [T, B, ...] (multi-step)."""
    return torch.cat([x if multi else x[None] for x, (_, multi) in zip(xs, parts, strict=True)])


def _detach(outputs: Any) -> Any:
    if isinstance(outputs, Tensor):
        return outputs.detach()
    if isinstance(outputs, (tuple, list)):
        return type(outputs)(_detach(o) for o in outputs)
    return outputs
