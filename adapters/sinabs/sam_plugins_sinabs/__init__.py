"""sinabs adapter for sam-plugins.

sinabs layers take the whole sequence in one call with the batch first: [B, T, ...] in and out.
Their ``*Squeeze`` variants take batch and time folded into one axis, [B*T, ...] (batch-major, as
``SqueezeMixin`` folds them), so that they sit between Conv2d and pooling layers; this adapter
unfolds them with the layer's own ``batch_size`` / ``num_timesteps`` (one of them may be unset,
-1, and is inferred). Spikes are handed on as [T, B, ...].

A layer whose ``spike_fn`` can emit more than one spike per time bin (sinabs's default
``MultiSpike``, or ``MaxSpike`` with ``max_num_spikes_per_bin`` > 1 or None) is read as graded:
its values are spike counts, kept as they are in the maps. ``SingleSpike`` and ``MaxSpike(1)``
layers must emit 0 or 1.

Supported (sinabs 3.1.3): IAF, IAFRecurrent, IAFSqueeze, LIF, LIFRecurrent, LIFSqueeze, ALIF,
ALIFRecurrent, ALIFSqueeze. Left out: ExpLeak and ExpLeakSqueeze (leaky integrators without a
threshold: they return a voltage), SpikingMaxPooling2dLayer and SumPool2d (pooling, not neurons),
Img2SpikeLayer and Sig2SpikeLayer (input encoders), NeuromorphicReLU (an ANN activation).

Reset is ``reset_states()`` on every stateful layer, the recurrent ones included (the helper
``sinabs.reset_states(model)`` skips a stateful layer that has children, such as LIFRecurrent).
The default runner calls the model once with the inputs [T, B, ...] turned into the layout its
layers take ([B, T, ...], or [B*T, ...] when it has Squeeze layers) and turns the output back to
[T, B, ...], so that outputs read the same as with every other adapter.

NIR: ``import_nir`` uses ``sinabs.from_nir`` (Squeeze layers made for ``batch_size=1`` unless
given) for graphs of Input, Output, Affine, Conv2d, Flatten, IF, LIF, LI and SumPool2d nodes. Note
that sinabs reads nir.IF as its IAF: several spikes per bin, reset by subtraction, membrane
clipped at -threshold, which is not the hard-reset IF of other frameworks.
"""

from __future__ import annotations

import warnings
from typing import Any

import sinabs.layers as sl
from sinabs.activation import MaxSpike, SingleSpike
from torch import Tensor, nn

from sam_plugins import Adapter
from sam_plugins.nir import node_kinds

SPIKING = (sl.IAF, sl.LIF, sl.ALIF)  # IAF*, LIF* and ALIF* variants are subclasses
NOT_SPIKING = (sl.ExpLeak,)  # a LIF subclass without threshold
# nir node types sinabs.from_nir maps (others would be dropped from the graph silently);
# Conv1d is left out: sinabs 3.1.3 reads its weights as torch tensors, files hold numpy arrays
NIR_NODES = ("Input", "Output", "Affine", "Conv2d", "Flatten", "IF", "LIF", "LI", "SumPool2d")

__all__ = ["SinabsAdapter"]


class SinabsAdapter(Adapter):
    """Adapter for sinabs 3.1 spiking layers (see the module docstring for the list)."""

    name = "sinabs"

    def owns(self, module: nn.Module) -> bool:
        return isinstance(module, SPIKING) and not isinstance(module, NOT_SPIKING)

    def step_mode(self, module: nn.Module) -> str:
        return "multi"

    def to_spikes(self, module: nn.Module, output: Any) -> Tensor:
        """[B, T, ...] (or [B*T, ...] for Squeeze layers) as [T, B, ...]."""
        spikes = self.spike_output(module, output)
        if isinstance(module, sl.SqueezeMixin):
            spikes = spikes.reshape(module.batch_size, module.num_timesteps, *spikes.shape[1:])
        return spikes.movedim(1, 0)

    def graded(self, module: nn.Module) -> bool:
        spike_fn = getattr(module, "spike_fn", None)
        if spike_fn is SingleSpike:
            return False
        if isinstance(spike_fn, MaxSpike):
            return spike_fn.max_num_spikes_per_bin is None or spike_fn.max_num_spikes_per_bin > 1
        return True  # MultiSpike (the default) or a custom spike_fn: counts

    def reset(self, model: nn.Module) -> None:
        for module in model.modules():
            if isinstance(module, sl.StatefulLayer):
                module.reset_states()

    def run(self, model: nn.Module, inputs: Tensor) -> Any:
        """One call with `inputs` [T, B, ...] as [B, T, ...], or folded to [B*T, ...] when the
        model has Squeeze layers (each layer's batch_size / num_timesteps must fit the inputs);
        the output (or the first element of a tuple output) back as [T, B, ...]."""
        steps, batch = inputs.shape[:2]
        squeezed = [(n, m) for n, m in self.neuron_modules(model) if isinstance(m, sl.SqueezeMixin)]
        for name, layer in squeezed:
            if layer.batch_size not in (-1, batch) or layer.num_timesteps not in (-1, steps):
                raise ValueError(
                    f"sinabs layer {name!r} ({type(layer).__name__}) folds batch and time with "
                    f"batch_size={layer.batch_size}, num_timesteps={layer.num_timesteps} (-1: "
                    f"inferred), but the inputs have batch {batch} and {steps} time steps "
                    "([T, B, ...])"
                )
        if squeezed:
            output = model(inputs.transpose(0, 1).reshape(batch * steps, *inputs.shape[2:]))
        else:
            output = model(inputs.transpose(0, 1))
        return _time_first(output, batch, steps, folded=bool(squeezed))

    def import_nir(self, graph: Any, *, batch_size: int = 1, num_timesteps: int | None = None):
        """A sinabs model (``sinabs.from_nir``) of `graph`, its Squeeze layers made for
        `batch_size` (default 1) or `num_timesteps`; raises NotImplementedError naming the nodes
        sinabs 3.1.3 cannot import."""
        import sinabs

        unknown = sorted(node_kinds(graph) - set(NIR_NODES))
        if unknown:
            raise NotImplementedError(f"sinabs 3.1.3 cannot import NIR nodes {unknown}")
        if num_timesteps is not None:
            batch_size = None
        with warnings.catch_warnings():  # nirtorch deprecates the loader sinabs 3.1 calls
            warnings.simplefilter("ignore", DeprecationWarning)
            return sinabs.from_nir(graph, batch_size=batch_size, num_timesteps=num_timesteps)


def _time_first(output: Any, batch: int, steps: int, folded: bool) -> Any:
    """A sinabs output [B, T, ...] (folded: [B*T, ...]) as [T, B, ...]; the first element of a
    tuple (a graph imported from NIR returns (output, state)); anything else as it is."""
    if isinstance(output, tuple) and output and isinstance(output[0], Tensor):
        return (_time_first(output[0], batch, steps, folded), *output[1:])
    if not isinstance(output, Tensor):
        return output
    if folded and output.dim() >= 1 and output.shape[0] == batch * steps:
        return output.reshape(batch, steps, *output.shape[1:]).transpose(0, 1)
    if not folded and output.dim() >= 2 and output.shape[:2] == (batch, steps):
        return output.transpose(0, 1)
    return output
