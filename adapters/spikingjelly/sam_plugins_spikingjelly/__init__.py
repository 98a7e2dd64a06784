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

NIR: ``import_nir`` uses ``nir_exchange.import_from_nir`` (multi-step, or single-step for graphs
with cycles). Its model calls each neuron through a wrapper that runs the neuron's functional
forward (so the neuron's own hooks never fire) and returns ``(spikes, state)``: the wrapper is
recorded in its place, and single-step imported models are run with the state handed back at
every step, as SpikingJelly documents.
"""

from __future__ import annotations

from typing import Any

from spikingjelly.activation_based import base, functional
from spikingjelly.activation_based import neuron as sj
from torch import Tensor, nn

from sam_plugins import Adapter
from sam_plugins.plugins import run_with_state, takes_state

try:  # the wrapper of neurons in models imported from NIR (needs nir and nirtorch)
    from spikingjelly.activation_based.nir_exchange.from_nir import _NIRStatefulModule

    NIR_WRAPPER: tuple[type, ...] = (_NIRStatefulModule,)
except ImportError:
    NIR_WRAPPER = ()

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
        if isinstance(module, NIR_WRAPPER):  # a neuron of a model imported from NIR
            return self.owns(module.module)
        return isinstance(module, SPIKING) and not isinstance(module, NOT_SPIKING)

    def neuron_modules(self, model: nn.Module) -> list[tuple[str, nn.Module]]:
        """The neurons, each NIR wrapper in place of the neuron it calls without hooks."""
        found = [(n, m) for n, m in model.named_modules() if n and self.owns(m)]
        wrapped = {f"{n}.module" for n, m in found if isinstance(m, NIR_WRAPPER)}
        return [(n, m) for n, m in found if n not in wrapped]

    def step_mode(self, module: nn.Module) -> str:
        """Read at every call, so functional.set_step_mode between runs is followed."""
        if isinstance(module, NIR_WRAPPER):
            return self.step_mode(module.module)
        if isinstance(module, base.MultiStepModule):  # PSN: always the whole sequence
            return "multi"
        return "multi" if getattr(module, "step_mode", "s") == "m" else "single"

    def graded(self, module: nn.Module) -> bool:
        if isinstance(module, NIR_WRAPPER):
            return self.graded(module.module)
        return isinstance(module, GRADED)

    def reset(self, model: nn.Module) -> None:
        functional.reset_net(model)

    def run(self, model: nn.Module, inputs: Tensor) -> Any:
        """One call with the whole sequence when any part of the model is multi-step (a module
        in step_mode 'm', or a multi-step container such as SeqToANNContainer); else one call
        per step along dim 0, as SpikingJelly's single-step examples do (handing the state back
        at every step when the forward takes one: a single-step model imported from NIR)."""
        multi = any(
            isinstance(m, base.MultiStepModule) or getattr(m, "step_mode", None) == "m"
            for m in model.modules()
        )
        if multi:
            return model(inputs)
        if takes_state(model):
            return run_with_state(model, inputs)
        return super().run(model, inputs)

    def import_nir(self, graph: Any) -> nn.Module:
        """A SpikingJelly model of `graph` (``nir_exchange.import_from_nir``), multi-step unless
        the graph has cycles; SpikingJelly's errors (e.g. parameters it cannot discretise)
        propagate."""
        from spikingjelly.activation_based.nir_exchange import from_nir

        step_mode = "s" if from_nir._has_cycle(graph) else "m"
        return from_nir.import_from_nir(graph, step_mode=step_mode)
