"""The user-facing API: `SpikeActivationMap` (context manager) and `explain` (one call)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .adapter import (
    Adapter,
    GenericAdapter,
    StepMode,
    adapter_for_model,
    installed_adapters,
    owner_of,
)
from .engine import DEFAULT_GAMMA, StreamingSAM, has_spatial_layout, score_dtype
from .layers import LayerSpec, resolve_layers
from .recorder import SpikeRecorder, Target
from .result import LayerSAM, SAMResult


class SpikeActivationMap:
    """Spike Activation Maps of a model's neuron layers, recorded while the user's code runs.

    Example::

        with SpikeActivationMap(net, layers=["lif1", "lif2"]) as sam:
            for x in inputs:            # the user's own forward code, unchanged
                net(x)
        result = sam.result()
        heat = result.heatmap("lif1", size=(34, 34))   # [T, B, 34, 34] in [0, 1]

    Args:
        model: any torch.nn.Module. Its code and parameters are not changed.
        layers: which modules to record: names, types, modules, a predicate (name, module) ->
            bool, or a list of these. None asks the installed framework adapters (entry-point
            group ``sam_plugins.adapters``) for the model's spiking neurons.
        gamma: decay of the temporal contribution exp(-gamma |t - t'|); default 0.5.
        step_mode: for modules no adapter knows: 'single' (one call per time step, output
            [B, ...]) or 'multi' (one call, output [T, B, ...]). Adapters know their own.
        graded: accept graded spikes (any finite value; non-zero counts as a spike) from
            modules no adapter marks as graded. Otherwise values must be 0 or 1.
        keep_spikes: also keep the raw spikes [T, B, ...] of each layer (memory grows with T).
    """

    def __init__(
        self,
        model: nn.Module,
        layers: LayerSpec | Sequence[LayerSpec] | None = None,
        gamma: float = DEFAULT_GAMMA,
        *,
        step_mode: StepMode = "single",
        graded: bool = False,
        keep_spikes: bool = False,
    ) -> None:
        self.model = model
        self.gamma = StreamingSAM(gamma).gamma  # validates gamma before anything is attached
        self.keep_spikes = keep_spikes
        generic = GenericAdapter(step_mode)
        adapters = installed_adapters()
        if layers is None:
            pairs = _neurons_from_adapters(model, adapters)
        else:
            pairs = [
                (n, m, owner_of(m, adapters, generic)) for n, m in resolve_layers(model, layers)
            ]
        self.runner: Adapter = adapter_for_model(model, adapters, generic)
        targets = [Target(n, m, a, graded=graded or a.graded(m)) for n, m, a in pairs]
        self.recorder = SpikeRecorder(targets)
        self.recorder.consumers.append(self._consume)
        self._streams = {t.name: StreamingSAM(self.gamma) for t in targets}
        self._steps_before: dict[str, int] = {}
        self._filled: dict[str, int] = {}
        self.reset()

    @property
    def layers(self) -> list[str]:
        """Names of the recorded layers, in model order."""
        return [t.name for t in self.recorder.targets]

    # --- attaching -----------------------------------------------------------------------
    def attach(self) -> SpikeActivationMap:
        """Add the forward hooks (prefer the `with` block, which always removes them)."""
        self.recorder.attach()
        return self

    def detach(self) -> None:
        """Remove every hook this object added; the model is as it was."""
        self.recorder.detach()

    def __enter__(self) -> SpikeActivationMap:
        return self.attach()

    def __exit__(self, *exc_info: Any) -> None:
        self.detach()

    # --- recording -----------------------------------------------------------------------
    def reset(self) -> None:
        """Forget what was recorded, to start a new sequence (e.g. the next batch)."""
        self.recorder.reset()
        for stream in self._streams.values():
            stream.reset()
        # per layer: maps (or the per-step profile, for layers without spatial axes) of the steps
        # so far, with room to grow; per-neuron scores for layers without spatial axes
        self._steps_before.update(self._filled)  # the first guess of the room needed
        self._maps: dict[str, Tensor] = {}
        self._filled: dict[str, int] = {}
        self._scores: dict[str, Tensor] = {}
        self._spikes: dict[str, list[Tensor]] = {name: [] for name in self._streams}

    def _consume(self, target: Target, spikes: Tensor) -> None:
        name = target.name
        scores = None
        if not has_spatial_layout(spikes):
            scores = self._scores.get(name)
            if scores is None:
                scores = self._scores[name] = spikes.new_zeros(
                    spikes.shape[1:], dtype=score_dtype(spikes.dtype)
                )
        out = self._room(name, spikes)
        self._streams[name].update(spikes, not target.graded, out, scores)
        if self.keep_spikes:
            self._spikes[name].append(spikes.clone())

    def _room(self, name: str, spikes: Tensor) -> Tensor:
        """Room for this call's steps in the layer's buffer, which grows by doubling: one
        allocation for many steps instead of one per step."""
        maps, filled = self._maps.get(name), self._filled.get(name, 0)
        need = filled + spikes.shape[0]
        if maps is None or need > maps.shape[0]:
            room = max(need, 2 * filled, self._steps_before.get(name, 16))
            shape = (room, spikes.shape[1], *spikes.shape[3:])
            grown = spikes.new_empty(shape, dtype=score_dtype(spikes.dtype))
            if filled:
                grown[:filled] = maps[:filled]
            self._maps[name] = maps = grown
        self._filled[name] = need
        return maps[filled:need]

    def result(self) -> SAMResult:
        """The SAM of everything recorded since the last reset.

        Raises if a layer emitted non-spikes, if the layers' step counts disagree, or if nothing
        was recorded (the model was not run inside the block, or the layers are never called).
        """
        self.recorder.verify()
        if not self._maps:
            raise RuntimeError(
                f"nothing was recorded from layers {self.layers}: run the model inside the "
                "`with SpikeActivationMap(...)` block (or after attach()) before result()"
            )
        layers = {}
        for target in self.recorder.targets:
            name = target.name
            if name not in self._maps:
                raise RuntimeError(f"layer {name!r} was never called while recording")
            # handed out as they are; the buffer is cut to the steps filled, so that recording
            # on (without reset) moves to a new buffer instead of writing into this one
            stacked = self._maps[name] = self._maps[name][: self._filled[name]]
            scores = self._scores.get(name)
            layers[name] = LayerSAM(
                name=name,
                maps=stacked if scores is None else None,
                scores=None if scores is None else scores.clone(),
                profile=stacked.flatten(2).sum(dim=2) if scores is None else stacked,
                spikes=torch.cat(self._spikes[name]) if self.keep_spikes else None,
                kind=type(target.module).__name__,
            )
        return SAMResult(layers, self.gamma)

    def attribute(
        self, inputs: Tensor, run: Callable[[nn.Module, Tensor], Any] | None = None
    ) -> SAMResult:
        """Reset the model and SAM, run the model over `inputs` [T, B, ...] (no gradients) and
        return the result with `outputs` set.

        `run(model, inputs)` replaces the adapter's default runner, for models that need their
        own call (extra arguments, a different time layout)."""
        if not isinstance(inputs, Tensor) or inputs.dim() < 2:
            raise ValueError(
                "inputs must be a tensor shaped [T, B, ...] (time first), found "
                f"{tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__}"
            )
        was_attached = self.recorder.attached
        if not was_attached:
            self.attach()
        try:
            self.runner.reset(self.model)
            self.reset()
            with torch.no_grad():
                outputs = (run or self.runner.run)(self.model, inputs)
            result = self.result()
        finally:
            if not was_attached:
                self.detach()
        result.outputs = outputs
        return result


def explain(
    model: nn.Module,
    inputs: Tensor,
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    gamma: float = DEFAULT_GAMMA,
    run: Callable[[nn.Module, Tensor], Any] | None = None,
    **options: Any,
) -> SAMResult:
    """SAM for `inputs` [T, B, ...] in one call: reset the model the framework's way, run it
    over time with the framework's default runner (or `run(model, inputs)`), return the result
    (its `outputs` holds what the model returned). Options are those of `SpikeActivationMap`."""
    return SpikeActivationMap(model, layers, gamma, **options).attribute(inputs, run)


def _neurons_from_adapters(
    model: nn.Module, adapters: Sequence[Adapter]
) -> list[tuple[str, nn.Module, Adapter]]:
    found: dict[int, tuple[str, nn.Module, Adapter]] = {}
    for adapter in adapters:
        for name, module in adapter.neuron_modules(model):
            found.setdefault(id(module), (name, module, adapter))
    if not found:
        names = ", ".join(a.name for a in adapters) or "none installed"
        raise LookupError(
            f"no spiking neuron modules found in {type(model).__name__} by the installed adapters "
            f"({names}). Install the adapter of your framework (sam-plugins-snntorch, "
            "sam-plugins-spikingjelly) or pass layers=[...] (module names, types or a predicate)."
        )
    order = {id(m): i for i, (_, m) in enumerate(model.named_modules())}
    return sorted(found.values(), key=lambda t: order[id(t[1])])
