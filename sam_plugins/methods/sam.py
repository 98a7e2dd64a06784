"""The Spike Activation Map: `SpikeActivationMap` (a map method that is also a context manager
around the user's own forward code) and `explain` (one call)."""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..engine import DEFAULT_GAMMA, StreamingSAM, as_places
from ..engine.buffers import LayerBuffer
from ..engine.streaming import _frozen
from ..layers import LayerSpec
from ..plugins import Runner, StepMode
from ..recorder import NotSpikesError, SpikeRecorder, Target
from ..result import LayerSAM, SAMResult
from .base import MapMethod, warn_silent_layers


class SpikeActivationMap(MapMethod):
    """Spike Activation Maps of a model's neuron layers, recorded while the user's code runs.

    Example::

        with SpikeActivationMap(net, layers=["lif1", "lif2"]) as sam:
            for x in inputs:            # the user's own forward code, unchanged
                net(x)
        result = sam.result()
        heat = result.heatmap("lif1", size=(34, 34))   # [T, B, 34, 34] in [0, 1]

    or ``SpikeActivationMap(net).attribute(inputs)`` to reset and run the model in one call.

    Args:
        model: any torch.nn.Module; its code and parameters are not changed.
        layers: which modules to record (see `MapMethod`); None: the adapters' neurons.
        gamma: decay of the temporal contribution exp(-gamma |t - t'|); default 0.5.
        window: "previous" (N sums spikes at t' < t, the paper's formula) or "inclusive"
            (t' <= t, as the authors' code; step 0 then has a map): see docs/paper.md.
        step_mode: for modules no adapter knows: 'single' or 'multi' (see `MapMethod`).
        graded: accept graded spikes from modules no adapter marks as graded.
        keep_spikes: also keep the raw spikes [T, B, ...] of each layer (memory grows with T).
        run: ``run(model, inputs)`` instead of the adapter's default runner in `attribute`.
    """

    method = "SAM"

    def __init__(
        self,
        model: nn.Module,
        layers: LayerSpec | Sequence[LayerSpec] | None = None,
        gamma: float = DEFAULT_GAMMA,
        *,
        window: str = "previous",
        step_mode: StepMode = "single",
        graded: bool = False,
        keep_spikes: bool = False,
        run: Runner | None = None,
    ) -> None:
        checked = StreamingSAM(gamma, window)  # validates both before anything is attached
        self.gamma, self.window = checked.gamma, checked.window
        super().__init__(model, layers, step_mode=step_mode, graded=graded, run=run)
        self.keep_spikes = keep_spikes
        self.recorder = SpikeRecorder(self.targets, check_values=False)  # `_consume` checks
        self.recorder.consumers.append(_weakly(self._consume))
        self._streams = {  # their buffers go to the next SAM when this one is dropped
            t.name: StreamingSAM(self.gamma, window, recycle=True) for t in self.targets
        }
        self._buffers = {t.name: LayerBuffer(keep_spikes) for t in self.targets}
        self._counts: dict[str, Tensor] = {}  # per layer: spikes per sample [B]
        self.fired: dict[str, Tensor] = {}
        """Per layer, the spikes per step and sample [steps, B] (int64) of its latest call, as
        SAM's pass counted them: other consumers of the recorder that run after SAM's (added
        to ``recorder.consumers`` later) read them instead of counting the spikes again."""
        self.step_words: Callable[[Target, Tensor], tuple[Any, Any]] | None = None
        """Asked before each call's pass over the spikes: (words, marks) for
        `StreamingSAM.update`, so that the pass also marks each firing neuron's step (the
        dataset analysis' interval statistics), or (None, None)."""
        self.marked: dict[str, bool] = {}  # per layer: whether its latest call was marked

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
        for buffer in self._buffers.values():
            buffer.reset()
        self._counts.clear()

    def _consume(self, target: Target, spikes: Tensor) -> None:
        name = target.name
        fired = self.fired.get(name)  # reused while calls keep their shape (one alloc less)
        if (
            fired is None
            or fired.shape != spikes.shape[:2]
            or fired.device != spikes.device
            or _frozen(fired)  # made under inference_mode, written outside it now
        ):
            fired = self.fired[name] = spikes.new_empty(spikes.shape[:2], dtype=torch.int64)
        words, marks = (None, None) if self.step_words is None else self.step_words(target, spikes)
        stream = self._streams[name]
        places = as_places(spikes)
        if not (target.graded or self.keep_spikes) and stream.defer(places, fired, words, marks):
            if not target.checked:  # packed as bits: every value is 0 or 1
                target.checked = bool(fired.any())  # checked once a call holds a spike
            if stream.full:  # one pass over the layer's state for a block of steps
                self._flush(name)  # (the stream counted the spikes: `_spike_count`)
        else:
            if not target.checked and spikes.dtype != torch.bool:  # the recorder's check,
                target.checked = target.check_values(spikes)  # left to this pass (above)
            self._flush(name)
            out = self._buffers[name].room(spikes)
            stream.update(places, not target.graded, out, fired=fired, words=words, marks=marks)
            count = fired.sum(0)  # spikes per sample, counted by the pass that made the maps
            total = self._counts.get(name)
            self._counts[name] = count if total is None else total + count  # not in place: a
            # result handed out keeps its counts while recording goes on
        self.marked[name] = stream.marked

    def flush(self) -> None:
        """Run now the steps each layer keeps as bits (up to 16 one-step calls on the CPU), so
        that what their pass writes for other consumers (the spike statistics' firing steps) is
        complete. `result()` and `take_maps()` flush by themselves."""
        for name in self._streams:
            self._flush(name)

    def _flush(self, name: str) -> None:
        """Run the steps layer `name`'s stream deferred, into the layer's map buffer."""
        stream = self._streams[name]
        if stream.pending:
            state = stream.state  # [B, C, *spatial]: maps [B, *spatial] per step
            shape = (state.shape[0], *state.shape[2:])
            stream.flush(self._buffers[name].rows(stream.pending, shape, state.dtype, state.device))

    def result(self) -> SAMResult:
        """The SAM of everything recorded since the last reset; a `SilentLayerWarning` names
        each layer that emitted no spike.

        Raises if a layer emitted non-spikes, if the layers' step counts disagree, or if nothing
        was recorded (the model was not run inside the block, or the layers are never called).
        Every layer's maps are checked here (one pass over the maps, not the spikes): a NaN or
        infinite spike at any step makes them non-finite (`NotSpikesError`), and for 0/1 layers
        maps outside the range 0/1 spikes allow show values that are not spikes.
        """
        result = self._result()
        warn_silent_layers(result)
        return result

    def _result(self) -> SAMResult:
        self.recorder.verify()
        self.flush()
        if not any(b.recorded for b in self._buffers.values()):
            raise RuntimeError(
                f"nothing was recorded from layers {self.layers}: run the model inside the "
                "`with SpikeActivationMap(...)` block (or after attach()) before result()"
            )
        layers = {}
        for target in self.targets:
            buffer = self._buffers[target.name]
            if not buffer.recorded:
                raise RuntimeError(f"layer {target.name!r} was never called while recording")
            maps, spikes = buffer.take()
            self._check_maps(target, maps)
            if spikes is not None:  # kept: then every value is checked
                target.check_values(spikes)
            flat = len(target.step_shape) == 2  # [B, N] per step: each neuron its own place
            layers[target.name] = LayerSAM(
                name=target.name,
                maps=maps,
                scores=maps.sum(dim=0) if flat else None,
                profile=maps.flatten(2).sum(dim=2),
                spikes=spikes,
                kind=type(target.module).__name__,
                spike_count=self._spike_count(target.name),
            )
        return SAMResult(layers, self.gamma, method=self.method, window=self.window)

    def _spike_count(self, name: str) -> Tensor | None:
        """Spikes per sample [B] of layer `name` since the last reset: those counted by
        `update` plus those counted by `defer` (a copy: recording may go on)."""
        total, deferred = self._counts.get(name), self._streams[name].counts
        if deferred is None:
            return total
        deferred = torch.from_numpy(deferred.copy())
        return deferred if total is None else total + deferred

    def take_maps(self) -> dict[str, Tensor]:
        """The maps [steps, B, ...] of each layer for the steps recorded since the last
        `take_maps` (or `reset`), handed over and forgotten here; the streaming state (each
        neuron's contribution N) is kept, so the next steps' maps go on from these: a long
        recording explained chunk by chunk holds one chunk's maps at a time
        (`sam_plugins.stream`). Checked as `result` checks its maps; raises if a layer recorded
        nothing since the last take."""
        self.recorder.verify()
        maps = {}
        self.flush()
        for target in self.targets:
            buffer = self._buffers[target.name]
            if not buffer.recorded:
                raise RuntimeError(f"layer {target.name!r} was not called since the last take")
            taken, _ = buffer.take()
            self._check_maps(target, taken, steps=self._streams[target.name].steps)
            maps[target.name] = taken
            buffer.reset()
        return maps

    def _check_maps(self, target: Target, maps: Tensor, steps: int | None = None) -> None:
        """NotSpikesError if a layer's maps (or per-step profile) [T, B, ...] show spikes that
        the recorder's fast path did not look at (it checks a layer's calls in full only until
        one with spikes in it passes).

        Non-finite spikes always show: N * S is NaN or infinite at their step. For 0/1 spikes a
        step's map lies in [0, neurons * sum_{d<T} exp(-gamma d)] (N <= that sum whichever
        window counts the spikes); values outside it are not 0/1 spikes. That bound catches
        negative values where they dominate their pixel and large ones where N is large, not
        every value other than 0 and 1."""
        low, high = (float(v) for v in torch.aminmax(maps))
        if not (math.isfinite(low) and math.isfinite(high)):
            step = int((~torch.isfinite(maps)).flatten(1).any(1).nonzero()[0])
            raise NotSpikesError(
                f"layer {target.name!r} ({type(target.module).__name__}) emitted spikes that are "
                f"not finite (NaN or infinite), first at step {step}: its SAM maps there are "
                "NaN or infinite. A layer is value-checked in full until a call with spikes "
                "passes; later calls show non-finite values through the maps."
            )
        if target.graded:
            return
        # neurons summed into one place: the channels, or 1 where each neuron is its own place
        steps = maps.shape[0] if steps is None else steps  # since the sequence began
        neurons = target.step_shape[1] if len(target.step_shape) > 2 else 1
        decay = math.exp(-self.gamma)
        per_neuron = steps if decay == 1 else (1 - decay**steps) / (1 - decay)
        bound = neurons * per_neuron * (1 + 1e-4) + 1e-6  # float rounding of the sums
        if low < 0 or high > bound:
            raise NotSpikesError(
                f"layer {target.name!r} ({type(target.module).__name__}) emitted values that "
                f"are not spikes at some step: expected values in {{0, 1}}, and its SAM maps "
                f"range from {low:g} to {high:g}, outside [0, {bound:g}] that 0/1 spikes allow. "
                "Pass graded=True if it emits graded spikes."
            )

    def _attribute(self, inputs: Tensor, target: Tensor | None) -> SAMResult:
        was_attached = self.recorder.attached
        if not was_attached:
            self.attach()
        try:
            self.reset()
            if self._default_run:  # one call or one call per step: T steps in all
                for buffer in self._buffers.values():
                    buffer.expect(inputs.shape[0])
            with torch.no_grad():
                outputs = self._forward(inputs)
            result = self._result()  # attribute warns of silent layers
        finally:
            if not was_attached:
                self.detach()
        result.outputs = outputs
        return result


def _weakly(method: Callable[..., None]) -> Callable[..., None]:
    """`method` of an object, called through a weak reference (a no-op once the object is
    gone): the recorder that the SAM holds then holds nothing back, so that a SAM dropped by
    its user is freed at once, not at the next cyclic garbage collection, and its streams give
    their buffers to the next SAM (`sam_plugins.engine.pool`)."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> None:
        bound = ref()
        if bound is not None:
            bound(*args)

    return call


def explain(
    model: nn.Module,
    inputs: Tensor,
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    gamma: float = DEFAULT_GAMMA,
    *,
    window: str = "previous",
    run: Runner | None = None,
    step_mode: StepMode = "single",
    graded: bool = False,
    keep_spikes: bool = False,
) -> SAMResult:
    """SAM for `inputs` [T, B, ...] in one call: reset the model the framework's way, run it
    over time with the framework's default runner (or `run(model, inputs)`), return the result
    (its `outputs` holds what the model returned). The arguments are those of
    `SpikeActivationMap`."""
    sam = SpikeActivationMap(
        model,
        layers,
        gamma,
        window=window,
        step_mode=step_mode,
        graded=graded,
        keep_spikes=keep_spikes,
        run=run,
    )
    return sam.attribute(inputs)
