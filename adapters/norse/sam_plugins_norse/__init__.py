"""Norse adapter for sam-plugins.

Norse modules keep no state between calls: each returns ``(spikes, state)`` and the model threads
the state (a ``SequentialState``, a graph imported from NIR, or the user's own ``forward`` with a
time loop). So this adapter reads the spikes as the first element of every call's output, knows
which modules take one step ([B, ...]) and which the whole sequence ([T, B, ...]), has nothing to
reset, and runs a model the way Norse users do: one call with the whole sequence when the model
handles time itself, else one call per step with the state handed back each time.

Supported (Norse 1.1.0), one call per step: every ``SNNCell`` and ``SNNRecurrentCell`` that emits
spikes (LIFCell, LIFBoxCell, IAFCell, LIFAdExCell, LIFAdExRefracCell, LIFExCell, LIFRefracCell,
LSNNCell, IzhikevichCell and their ``*RecurrentCell`` forms, LIFMCRecurrentCell,
LIFMCRefracRecurrentCell), CobaLIFCell and LIFCorrelation; cells wrapped in ``Lift`` are recorded
at each step. One call for the whole sequence: every ``SNN`` and ``SNNRecurrent`` (LIF, IAF,
LIFAdEx, LIFEx, LSNN, Izhikevich, LIFRecurrent, LIFAdExRecurrent, LIFAdExRefracRecurrent,
LIFExRecurrent, LIFRefracRecurrent, LSNNRecurrent, IzhikevichRecurrent).

Left out: the leaky integrators LI, LICell, LIBoxCell and LILinearCell (they return a voltage,
not spikes); the input encoders (PoissonEncoder, SpikeLatencyEncoder, ... encode the input rather
than being the network's neurons; record them with ``layers=[...]`` and ``step_mode``);
RegularizationCell (it passes its input through). Norse 1.1.0 has no multi-step LIFBox, LIFRefrac
or LIFAdExRefrac module; their cells are supported.

NIR: ``import_nir`` uses ``norse.torch.from_nir`` for graphs of Input, Output, Affine, Linear,
Conv2d, IF, LIF, CubaLIF and SumPool2d nodes. Graphs with Flatten are refused: Norse 1.1.0 builds
``torch.nn.Flatten`` from the node's start_dim without the batch axis, so the model flattens the
batch too and fails. Other node types are refused too (Norse would drop them silently).
"""

from __future__ import annotations

import warnings
from typing import Any

from torch import Tensor, nn

from sam_plugins import Adapter
from sam_plugins.nir import node_kinds
from sam_plugins.plugins import run_with_state, takes_state

with warnings.catch_warnings():  # norse 1.1 scripts functions with the deprecated torch.jit.script
    warnings.simplefilter("ignore", FutureWarning)
    from norse.torch.module.coba_lif import CobaLIFCell
    from norse.torch.module.leaky_integrator import LI, LICell
    from norse.torch.module.leaky_integrator_box import LIBoxCell
    from norse.torch.module.lif_correlation import LIFCorrelation
    from norse.torch.module.lift import Lift
    from norse.torch.module.snn import SNN, SNNCell, SNNRecurrent, SNNRecurrentCell

SINGLE_STEP = (SNNCell, SNNRecurrentCell, CobaLIFCell, LIFCorrelation)
MULTI_STEP = (SNN, SNNRecurrent)
NOT_SPIKING = (LI, LICell, LIBoxCell)  # SNN / SNNCell subclasses that return a voltage
# nir node types norse.torch.from_nir maps (others would be dropped from the graph silently)
NIR_NODES = ("Input", "Output", "Affine", "Linear", "Conv2d", "IF", "LIF", "CubaLIF", "SumPool2d")

__all__ = ["NorseAdapter"]


class NorseAdapter(Adapter):
    """Adapter for Norse 1.1 neurons (see the module docstring for the list)."""

    name = "norse"

    def owns(self, module: nn.Module) -> bool:
        return isinstance(module, SINGLE_STEP + MULTI_STEP) and not isinstance(module, NOT_SPIKING)

    def step_mode(self, module: nn.Module) -> str:
        return "multi" if isinstance(module, MULTI_STEP) else "single"

    def reset(self, model: nn.Module) -> None:
        """Nothing to do: Norse modules hold no state; a run starts from state None."""

    def run(self, model: nn.Module, inputs: Tensor) -> Any:
        """The Norse way: one call with the whole sequence [T, B, ...] when the model handles time
        itself (it holds SNN / SNNRecurrent modules or Lift, or its forward takes no state and so
        loops over time inside, as cells keep nothing between calls); else one call per step,
        ``out, state = model(x_t, state)`` from state None, returning (outputs stacked along a
        new dim 0, the last state)."""
        whole_sequence = any(isinstance(m, MULTI_STEP + (Lift,)) for m in model.modules())
        if whole_sequence or not takes_state(model):
            return model(inputs)
        return run_with_state(model, inputs)

    def import_nir(self, graph: Any) -> nn.Module:
        """A Norse model (``norse.torch.from_nir``) of `graph`; raises NotImplementedError naming
        the nodes Norse 1.1.0 cannot import faithfully."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            import norse.torch as norse_torch

        kinds = node_kinds(graph)
        if "Flatten" in kinds:
            raise NotImplementedError(
                "Norse 1.1.0 imports nir.Flatten without the batch axis (the model would flatten "
                "the batch too)"
            )
        unknown = sorted(kinds - set(NIR_NODES))
        if unknown:
            raise NotImplementedError(f"Norse 1.1.0 cannot import NIR nodes {unknown}")
        with warnings.catch_warnings():  # nirtorch deprecates the loader Norse 1.1 calls
            warnings.simplefilter("ignore", DeprecationWarning)
            return norse_torch.from_nir(graph)
