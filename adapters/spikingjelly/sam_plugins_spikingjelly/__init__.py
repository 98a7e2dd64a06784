"""SpikingJelly adapter for sam-plugins.

Finds SpikingJelly's spiking neurons (``spikingjelly.activation_based.neuron``), reads each
call's spikes in the neuron's current ``step_mode`` ('s': one step [N, ...], 'm': the whole
sequence [T, N, ...]), resets state with ``functional.reset_net`` and runs a model in one call
when it is multi-step, else with a loop over time.

Supported (SpikingJelly 2.0): every ``BaseNode`` subclass that emits spikes (IF, LIF,
ParametricLIF, QIF, EIF, Izhikevich, KLIF, RAF, HalfThresholdIF, ComplementaryLIF, CUBALIF,
MPBNLIF, OTTTLIF, SLTTLIF; ILIF and TernaryIF/TernaryLIF as graded spikes, since they emit
counts or -1), the ``SimpleBaseNode`` family (SimpleIF, SimpleLIF), GatedLIF, ActivationAwareIF
and the parallel spiking neurons PSN, MaskedPSN, SlidingPSN. Left out: LIAFNode (analog
output), the NonSpiking* nodes (they return membrane potentials), the ANN-to-SNN quantisation
nodes (FewSpike, HG, OutlierAwareThreshold, STBIF), the DSR nodes (their output is a rate, not
spikes), the reinforcement-learning ILC* / Noisy* nodes and FlexSN (a user-defined core). Any of
them can still be recorded through ``layers=[...]`` with ``graded=True``.
"""

from __future__ import annotations

from typing import Any

from spikingjelly.activation_based import base, functional
from spikingjelly.activation_based import neuron as sj
from torch import Tensor, nn

from sam_plugins import Adapter

SPIKING = (
    sj.BaseNode,
    sj.SimpleBaseNode,
    sj.GatedLIFNode,
    sj.ActivationAwareIFNode,
    sj.PSN,
    sj.MaskedPSN,
    sj.SlidingPSN,
)
NOT_SPIKING = (sj.LIAFNode,)  # a BaseNode whose output is an analog activation
GRADED = (sj.ILIFNode, sj.TernaryIFNode, sj.TernaryLIFNode)

__all__ = ["SpikingJellyAdapter"]


class SpikingJellyAdapter(Adapter):
    """Adapter for SpikingJelly 2.0 neurons (see the module docstring for the list)."""

    name = "spikingjelly"

    def owns(self, module: nn.Module) -> bool:
        return isinstance(module, SPIKING) and not isinstance(module, NOT_SPIKING)

    def step_mode(self, module: nn.Module) -> str:
        """Read at every call, so functional.set_step_mode between runs is followed."""
        if isinstance(module, base.MultiStepModule):  # PSN: always the whole sequence
            return "multi"
        return "multi" if getattr(module, "step_mode", "s") == "m" else "single"

    def graded(self, module: nn.Module) -> bool:
        return isinstance(module, GRADED)

    def reset(self, model: nn.Module) -> None:
        functional.reset_net(model)

    def run(self, model: nn.Module, inputs: Tensor) -> Any:
        """One call with the whole sequence when any part of the model is multi-step (a module
        in step_mode 'm', or a multi-step container such as SeqToANNContainer); else one call
        per step along dim 0, as SpikingJelly's single-step examples do."""
        multi = any(
            isinstance(m, base.MultiStepModule) or getattr(m, "step_mode", None) == "m"
            for m in model.modules()
        )
        return model(inputs) if multi else super().run(model, inputs)
