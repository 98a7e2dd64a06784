"""Temporal Spike Attribution (TSA; Nguyen, Decker, Jung, Seifert & Schlötterer, "Explainable
AI for time series classification with spiking neural networks", 2023; code:
github.com/ElisaNguyen/tsa-explanations, ``experiments/ExplanationCreation.py``, ``tsa()``).

For a fully connected SNN, input x -> W_0 -> spiking layer 1 -> W_1 -> ... -> W_{L-1} -> output
layer, run for T steps, TSA attributes class c's confidence at the end (step T) to each input
feature i and step t:

    TSA[t, i] = (D_0(t) W_0 D_1(t) W_1 ... D_{L-1}(t) W_{L-1})[i, c] * p_c

where W_l is layer l's weight as [in, out], p the softmax of the class scores, and D_l(t) the
diagonal of the spike contributions N_l(t) of the layer feeding W_l (the input for l = 0):
a neuron that spiked at t counts decay^(T - t) (SAM's temporal contribution, with the neurons'
membrane decay beta as the base); a silent one counts 0 (variant "s") or
-decay^(T - t) / n_l (variant "ns": silence is evidence too, spread over the layer's n_l
neurons). Unlike SAM, TSA weighs the spikes by the weights to the class explained: it is
class-discriminative.

Here the product runs from the output back to the input, one matrix-vector product per layer
and step (the authors build the [n_in, n_out] matrix per step); `sam_plugins.testing.reference
.authors_tsa` transcribes their loop and the tests check the two agree. Biases are ignored, as in
the authors' models (which have none).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..layers import LayerSpec
from ..outputs import class_scores
from ..plugins import Runner, StepMode
from ..result import LayerSAM, SAMResult
from .base import MapMethod

VARIANTS = ("s", "ns")


class TemporalSpikeAttribution(MapMethod):
    """TSA maps [T, B, n_in] of the input of a chain of Linear and spiking layers: for each
    sample, step and input feature, its share in the confidence of the class explained.

    Example::

        tsa = TemporalSpikeAttribution(net, variant="ns")
        result = tsa.attribute(bins)          # bins [T, B, 700]; target: the predicted classes
        result["input"].maps                  # [T, B, 700]

    Args:
        model: a chain ``Linear -> spiking layer -> ... -> Linear -> spiking layer`` (Flatten,
            Dropout and other modules without parameters may sit between), in any adapter's
            framework; anything else with weights (convolutions, recurrent weights) is refused.
        layers: the spiking layers (see `MapMethod`); None: the adapters' neurons.
        variant: "s" (spikes only) or "ns" (silent steps count negatively).
        decay: the base of the temporal contribution decay^(T - t); None reads the neurons'
            membrane decay (snnTorch ``beta``, SpikingJelly ``1 - 1/tau``; 1 for IF neurons).
        scores: ``scores(outputs) -> [B, classes]``, whose softmax gives the confidences;
            default `class_scores` (output spikes summed over time). The authors' models
            classify on the output membrane potential at the last step.
        step_mode, graded, run: as in every map method (`MapMethod`).
    """

    method = "TSA"

    def __init__(
        self,
        model: nn.Module,
        layers: LayerSpec | Sequence[LayerSpec] | None = None,
        *,
        variant: str = "s",
        decay: float | None = None,
        scores: Callable[[Any], Tensor] = class_scores,
        step_mode: StepMode = "single",
        graded: bool = False,
        run: Runner | None = None,
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {list(VARIANTS)}, found {variant!r}")
        if decay is not None and not (math.isfinite(decay) and 0 < decay <= 1):
            raise ValueError(f"decay must be a number in (0, 1], found {decay!r}")
        super().__init__(model, layers, step_mode=step_mode, graded=graded, run=run)
        self.variant, self.scores = variant, scores
        self.linears = _chain(model, [t.module for t in self.targets])
        self.decay = _decay(self.targets[0].module) if decay is None else float(decay)
        self.method = f"TSA ({variant})"

    def _attribute(self, inputs: Tensor, target: Tensor | None) -> SAMResult:
        seen: dict[str, list[Tensor]] = {t.name: [] for t in self.targets}
        outputs = self._record(inputs, lambda t, spikes: seen[t.name].append(spikes.clone()))
        spikes = [inputs.flatten(2)]
        for t in self.targets[:-1]:  # the layers feeding a weight; the output layer's are not
            if not seen[t.name]:
                raise RuntimeError(f"layer {t.name!r} was never called while the model ran")
            spikes.append(torch.cat(seen[t.name]).flatten(2))
        for k, (s, linear) in enumerate(zip(spikes, self.linears, strict=True)):
            if s.shape[2] != linear.in_features:
                what = "the input" if k == 0 else f"layer {self.targets[k - 1].name!r}"
                raise ValueError(
                    f"TSA needs a chain of Linear and spiking layers: {what} has {s.shape[2]} "
                    f"values per step, but the Linear layer after it takes {linear.in_features}"
                )
        probs = torch.softmax(self.scores(outputs).double(), dim=-1)  # [B, classes]
        if target is None:
            target = probs.argmax(-1)
        target = torch.as_tensor(target, device=probs.device).reshape(-1).expand(len(probs))
        weights = [linear.weight.detach() for linear in self.linears]
        maps = tsa_maps(spikes, weights, probs, target, self.decay, self.variant)
        maps = maps.to(torch.float64 if inputs.dtype == torch.float64 else torch.float32)
        layer = LayerSAM("input", maps, maps.sum(0), maps.sum(2), kind="input")
        return SAMResult({"input": layer}, gamma=None, outputs=outputs, method=self.method)


def tsa_maps(
    spikes: Sequence[Tensor],
    weights: Sequence[Tensor],
    probs: Tensor,
    target: Tensor,
    decay: float,
    variant: str = "s",
) -> Tensor:
    """TSA of the input for class `target`, from the recorded spikes.

    Args:
        spikes: [T, B, n_l] per weight layer l: the input first, then each spiking layer that
            feeds a weight (not the output layer); any non-zero value is a spike.
        weights: [n_{l+1}, n_l] per layer (nn.Linear's layout).
        probs: [B, classes] confidences at the last step.
        target: [B] the class explained per sample.
        decay: base of the temporal contribution decay^(T - t).
        variant: "s" or "ns".

    Returns:
        [T, B, n_0] float64: ``(D_0(t) W_0 ... D_{L-1}(t) W_{L-1})[i, c] * p_c`` (see the
        module docstring).
    """
    steps = spikes[0].shape[0]
    device = probs.device
    time_weight = decay ** (steps - torch.arange(steps, dtype=torch.float64, device=device))

    def contribution(s: Tensor) -> Tensor:  # N_l(t) [T, B, n_l]
        fired = (s != 0).to(torch.float64)
        if variant == "ns":
            fired = fired - (1 - fired) / s.shape[2]
        return fired * time_weight[:, None, None]

    rows = torch.arange(len(target), device=device)
    v = weights[-1].to(torch.float64)[target] * probs[rows, target][:, None]  # [B, n_{L-1}]
    v = contribution(spikes[-1]) * v  # [T, B, n_{L-1}]
    for k in range(len(weights) - 2, -1, -1):
        v = contribution(spikes[k]) * (v @ weights[k].to(torch.float64))  # [T, B, n_k]
    return v


def _chain(model: nn.Module, neurons: list[nn.Module]) -> list[nn.Linear]:
    """The model's Linear layers, one before each spiking layer, in order; ValueError naming
    what breaks the chain (a module with weights that is neither, a recurrent weight inside a
    spiking layer, or Linear and spiking layers that do not alternate)."""
    inside = {id(m) for n in neurons for m in n.modules() if m is not n}
    order: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        if id(module) in inside:
            if isinstance(module, nn.Linear) or any(True for _ in module.parameters(False)):
                raise ValueError(
                    f"TSA needs a chain of Linear and spiking layers; the spiking layer holding "
                    f"{name!r} ({type(module).__name__}) has weights of its own (recurrent), "
                    "which TSA does not follow"
                )
            continue
        if isinstance(module, nn.Linear) or any(module is n for n in neurons):
            order.append((name, module))
        elif any(True for _ in module.parameters(False)):
            raise ValueError(
                f"TSA needs a chain of Linear and spiking layers; {name!r} is a "
                f"{type(module).__name__} with weights. Use SAM for other architectures"
            )
    kinds = ["linear" if isinstance(m, nn.Linear) else "spiking" for _, m in order]
    if not kinds or kinds != ["linear", "spiking"] * (len(kinds) // 2) or len(kinds) % 2:
        raise ValueError(
            "TSA needs a chain Linear -> spiking layer -> ... -> Linear -> spiking layer, found "
            + " -> ".join(f"{name or 'model'} ({type(m).__name__})" for name, m in order)
        )
    return [m for m in (m for _, m in order) if isinstance(m, nn.Linear)]


def _decay(neuron: nn.Module) -> float:
    """The membrane decay of a spiking layer: snnTorch's beta, SpikingJelly's 1 - 1/tau, or 1
    for IF neurons (SpikingJelly IFNode, snnTorch Lapicque is not read)."""
    beta = getattr(neuron, "beta", None)
    tau = getattr(neuron, "tau", None)
    if beta is not None:
        value = torch.as_tensor(beta, dtype=torch.float64)
    elif tau is not None:
        value = 1 - 1 / torch.as_tensor(tau, dtype=torch.float64)
    elif type(neuron).__name__ == "IFNode":
        return 1.0
    else:
        value = None
    if value is None or value.numel() != 1 or not 0 < float(value) <= 1:
        raise ValueError(
            f"cannot read one membrane decay in (0, 1] from {type(neuron).__name__} (beta or "
            "tau); pass decay= to TemporalSpikeAttribution"
        )
    return float(value)
