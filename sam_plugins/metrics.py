"""Faithfulness metrics that need no human labels, for maps over spike and event inputs.

- `deletion_insertion` (Petsiuk et al. 2018, RISE): remove (or add) input pixels, in every
  channel and time step, in the order of the map's importance and follow the class probability
  (softmax of the outputs summed over time). Deletion AUC: lower is better; insertion: higher.
  For event frames removing a pixel removes its events.
- `pointing_game` (Zhang et al. 2018): does the map's maximum fall on the object (within a
  tolerance)? Evaluated at the map's own resolution; needs the object's location, e.g.
  `SaccadeEmulator.footprint` for the emulated event digits.
- `randomization_check` (Adebayo et al. 2018): maps of the model with re-initialised
  parameters should differ from the trained model's; reported as Spearman rank correlation.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .outputs import class_scores
from .plugins import GenericAdapter, Runner, adapter_for_model, installed_adapters
from .result import SAMResult


def class_probability(
    model: nn.Module, inputs: Tensor, target: Tensor, run: Runner | None = None
) -> Tensor:
    """Softmax probability of class `target` [B] for inputs [T, B, ...], the model reset and
    run the framework's way (or by `run`)."""
    adapter = adapter_for_model(model, installed_adapters(), GenericAdapter())
    adapter.reset(model)
    with torch.no_grad():
        scores = class_scores((run or adapter.run)(model, inputs))
    return scores.float().softmax(1).gather(1, target.view(-1, 1).to(scores.device))[:, 0]


def _auc(curve: Tensor) -> Tensor:
    """Area under curves [points, B] sampled evenly on [0, 1] (trapezoid rule)."""
    return torch.trapezoid(curve, dx=1.0 / (curve.shape[0] - 1), dim=0)


def deletion_insertion(
    model: nn.Module,
    inputs: Tensor,
    saliency: Tensor,
    target: Tensor,
    mode: str = "deletion",
    points: int = 21,
    run: Runner | None = None,
    batch_size: int = 64,
) -> tuple[Tensor, Tensor]:
    """Class probability while pixels are removed ("deletion") from, or added ("insertion") to,
    `inputs` [T, B, C, H, W] in order of `saliency` [B, H, W] (larger first; ties in pixel
    order); inserting starts from all-zero input.

    Returns (curve [points, B] at fractions 0, 1/(points-1), ..., 1 of the pixels, AUC [B]).
    """
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion', found {mode!r}")
    if inputs.dim() != 5:
        raise ValueError(f"inputs must be [T, B, C, H, W], found shape {tuple(inputs.shape)}")
    steps, batch, channels, height, width = inputs.shape
    if saliency.shape != (batch, height, width):
        raise ValueError(
            f"saliency must be [B, H, W] = {(batch, height, width)} for inputs of shape "
            f"{tuple(inputs.shape)}, found {tuple(saliency.shape)}; upsample and sum the maps "
            "over time first (see `time_saliency`)"
        )
    order = (
        saliency.to(inputs.device).reshape(batch, -1).argsort(dim=1, descending=True, stable=True)
    )
    positions = torch.arange(order.shape[1], device=order.device).expand_as(order)
    rank = torch.empty_like(order).scatter_(1, order, positions)  # importance rank per pixel
    counts = torch.linspace(0, height * width, points, device=order.device).round().long()
    curve = torch.empty(points, batch)
    for start in range(0, points, max(1, batch_size // batch)):
        chosen = counts[start : start + max(1, batch_size // batch)]
        top = (rank[None] < chosen[:, None, None]).reshape(len(chosen), batch, 1, height, width)
        keep = ~top if mode == "deletion" else top
        masked = (inputs.unsqueeze(1) * keep.to(inputs.dtype)).reshape(
            steps, len(chosen) * batch, channels, height, width
        )
        probs = class_probability(model, masked, target.repeat(len(chosen)), run)
        curve[start : start + len(chosen)] = probs.view(len(chosen), batch).cpu()
    return curve, _auc(curve)


def time_saliency(result: SAMResult, layer: str, size: tuple[int, int]) -> Tensor:
    """One map per sample, [B, H, W]: the layer's display heat maps summed over time."""
    return result.heatmap(layer, size=size).sum(0)


def pointing_game(maps: Tensor, masks: Tensor, tolerance: int = 1) -> Tensor:
    """Pointing-game score per map: 1 where the map's maximum lies on the object (within
    `tolerance` pixels of its mask), else 0; tied maxima score the fraction of them that hit
    (the expected hit under a random tie-break). A constant map (no maximum) scores 0.

    Args:
        maps: [..., h, w] at any resolution (e.g. raw layer maps); a map cell stands for the
            mask pixel under its centre, so no upsampling biases where the maximum falls.
        masks: [..., H, W] bool object masks at the input's resolution.

    Returns:
        [...] scores in [0, 1]; their mean is the pointing-game accuracy.
    """
    if maps.shape[:-2] != masks.shape[:-2]:
        raise ValueError(
            f"maps {tuple(maps.shape)} and masks {tuple(masks.shape)} must have the same "
            "leading shape"
        )
    lead, (h, w), (height, width) = maps.shape[:-2], maps.shape[-2:], masks.shape[-2:]
    grown = F.max_pool2d(
        masks.to(maps.device).reshape(-1, 1, height, width).float(), 2 * tolerance + 1, 1, tolerance
    )[:, 0]
    rows = ((torch.arange(h, device=maps.device) + 0.5) * height / h).long()
    cols = ((torch.arange(w, device=maps.device) + 0.5) * width / w).long()
    on_object = grown[:, rows][:, :, cols].reshape(-1, h * w) > 0
    flat = maps.reshape(-1, h * w)
    peak = flat == flat.amax(1, keepdim=True)
    score = (peak & on_object).sum(1) / peak.sum(1)
    return torch.where(flat.amax(1) > flat.amin(1), score, 0.0).reshape(lead)


def rank_correlation(a: Tensor, b: Tensor) -> Tensor:
    """Spearman rank correlation of maps a and b [N, ...] per map (flattened), [N]; NaN where
    a map is constant (no ranking to compare)."""
    ranks = [x.reshape(x.shape[0], -1).argsort(1).argsort(1).float() for x in (a, b)]
    ra, rb = (r - r.mean(1, keepdim=True) for r in ranks)
    denominator = (ra.norm(dim=1) * rb.norm(dim=1)).clamp_min(1e-12)
    constant = (a.reshape(a.shape[0], -1).std(1) == 0) | (b.reshape(b.shape[0], -1).std(1) == 0)
    return torch.where(constant, float("nan"), (ra * rb).sum(1) / denominator)


def randomized_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A deep copy of `model` with every parameter re-initialised by its module's own
    `reset_parameters` (the trained model is not touched)."""
    adapter_for_model(model, installed_adapters(), GenericAdapter()).reset(model)
    clone = copy.deepcopy(model)  # after the reset, no neuron state holds a graph
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
        torch.manual_seed(seed)
        for module in clone.modules():
            owns = next(module.parameters(recurse=False), None) is not None
            if owns and hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return clone


def randomization_check(
    method: Callable[[nn.Module, Tensor], SAMResult],
    model: nn.Module,
    inputs: Tensor,
    layer: str,
    seed: int = 0,
) -> Tensor:
    """Spearman correlation [B] between each sample's time-summed maps of `layer` from the
    trained model and from `randomized_copy(model)`, both by `method(model, inputs)`. Near 1
    means the maps do not depend on what the model learned (Adebayo et al. 2018); NaN where
    either map is constant (e.g. the re-initialised layer is silent)."""
    size = tuple(inputs.shape[-2:])
    trained = time_saliency(method(model, inputs), layer, size)
    random = time_saliency(method(randomized_copy(model, seed), inputs), layer, size)
    return rank_correlation(trained, random)
