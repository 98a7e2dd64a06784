"""snnTorch adapter for sam-plugins.

Finds snnTorch's spiking neurons, reads the spikes out of each call (the output itself with
``init_hidden=True``, the first element of ``(spk, mem)`` / ``(spk, syn, mem)`` tuples otherwise),
knows which neurons take the whole sequence in one call, and resets hidden state the snnTorch way.

Supported (snnTorch 1.0): Leaky, Synaptic, Alpha, Lapicque, RLeaky, RSynaptic, SConv2dLSTM,
SLSTM, DeltaLeaky (one call per step); LeakyParallel, and StateLeaky / LinearLeaky with
``output=True`` (one call for the whole [T, B, ...] sequence). Left out: StateLeaky /
LinearLeaky with ``output=False`` (they return the membrane, no spikes) and AssociativeLeaky (it
returns a learned projection of its spikes, not the spikes).

NIR: ``import_nir`` uses ``snntorch.import_nir.import_from_nir``. Graphs with nir.IF are refused:
snnTorch 1.0 imports them as a Leaky with beta 0.9 and init_hidden=False, whose (spk, mem) output
breaks the next layer.
"""

from __future__ import annotations

from typing import Any

import torch
from snntorch import _neurons as sn
from torch import Tensor, nn

from sam_plugins import Adapter
from sam_plugins.nir import node_kinds

SINGLE_STEP = (
    sn.Leaky,
    sn.Synaptic,
    sn.Alpha,
    sn.Lapicque,
    sn.RLeaky,
    sn.RSynaptic,
    sn.SConv2dLSTM,
    sn.SLSTM,
    sn.DeltaLeaky,
)
MULTI_STEP_ALWAYS_SPIKING = (sn.LeakyParallel,)
MULTI_STEP_IF_OUTPUT = (sn.StateLeaky,)  # LinearLeaky is a StateLeaky
UNSUPPORTED = (sn.AssociativeLeaky,)

__all__ = ["SnnTorchAdapter"]


class SnnTorchAdapter(Adapter):
    """Adapter for snnTorch 1.0 neurons (see the module docstring for the list)."""

    name = "snntorch"

    def owns(self, module: nn.Module) -> bool:
        if isinstance(module, MULTI_STEP_IF_OUTPUT):
            return bool(module.output)  # without output=True it returns the membrane only
        return isinstance(module, SINGLE_STEP + MULTI_STEP_ALWAYS_SPIKING)

    def step_mode(self, module: nn.Module) -> str:
        multi = MULTI_STEP_ALWAYS_SPIKING + MULTI_STEP_IF_OUTPUT
        return "multi" if isinstance(module, multi) else "single"

    def graded(self, module: nn.Module) -> bool:
        factor = getattr(module, "graded_spikes_factor", None)
        if factor is None:
            return False
        return isinstance(factor, nn.Parameter) or not bool(torch.all(factor == 1))

    def reset(self, model: nn.Module) -> None:
        """Zero the hidden state of every neuron in `model` (nested ones too), as
        snntorch.utils.reset does for top-level ones. init_hidden=False neurons keep state too:
        called without it (``spk, mem = lif(x)``), snnTorch 1.0 goes on from what the neuron
        kept, so two identical runs would differ without this."""
        for _, module in self.neuron_modules(model):
            if hasattr(module, "reset_mem"):
                module.reset_mem()
                for state in ("mem", "syn", "spk"):
                    value = getattr(module, state, None)
                    if isinstance(value, Tensor):
                        setattr(module, state, value.detach())

    def run(self, model: nn.Module, inputs: Tensor) -> Any:
        """One call with the whole sequence when the model handles time itself (it has neurons
        that take [T, B, ...], or neurons with init_hidden=False, whose state only the model's
        own forward can thread through its time loop); else one call per step along dim 0."""
        neurons = [m for _, m in self.neuron_modules(model)]
        handles_time = any(self.step_mode(m) == "multi" for m in neurons) or any(
            not getattr(m, "init_hidden", True) for m in neurons
        )
        return model(inputs) if handles_time else super().run(model, inputs)

    def import_nir(self, graph: Any) -> nn.Module:
        """An snnTorch model of `graph` (``snntorch.import_nir.import_from_nir``); raises
        NotImplementedError for graphs snnTorch 1.0 imports wrongly (nir.IF)."""
        from snntorch.import_nir import import_from_nir

        if "IF" in node_kinds(graph):
            raise NotImplementedError(
                "snnTorch 1.0 imports nir.IF as a Leaky (beta 0.9) that returns (spk, mem) into "
                "the next layer"
            )
        return import_from_nir(graph)
