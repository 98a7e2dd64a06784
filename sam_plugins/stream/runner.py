"""Steps in, outputs and maps out: `StreamRunner` runs a model over frames given a few steps at
a time, the model's state and SAM's carried from one call to the next."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..engine import DEFAULT_GAMMA
from ..layers import LayerSpec
from ..methods import SpikeActivationMap
from ..plugins import StepMode, stack_outputs


class StateNotCarried(ValueError):
    """The model starts from a fresh state at every call: it cannot be run in blocks."""


@dataclass
class Steps:
    """What `StreamRunner.run` gives for a block of steps: `start` (the index of its first step
    in the whole stream), `outputs` (what the model returned, [n, B, ...] or a tuple of such),
    and `maps` (per layer, SAM's raw maps [n, B, *spatial] or [n, B, N], on the CPU)."""

    start: int
    outputs: Any
    maps: dict[str, Tensor]

    @property
    def count(self) -> int:
        """The number of steps, n."""
        return next(iter(self.maps.values())).shape[0]

    def scores(self) -> Tensor | None:
        """The class scores per step [n, B, classes] (the first element of a tuple such as
        snnTorch's (spikes, membrane)), None for outputs of another shape."""
        out = self.outputs[0] if isinstance(self.outputs, (tuple, list)) else self.outputs
        return out.detach().cpu() if isinstance(out, Tensor) and out.dim() == 3 else None


class StreamRunner:
    """Runs `model` over a stream of steps given in blocks, carrying the model's state and SAM's
    (each neuron's contribution N) from block to block, so that the maps of a stream run in
    blocks equal those of the whole sequence run at once (`sam_plugins.explain`).

    Use it as a context manager (the hooks are attached inside and always removed)::

        with StreamRunner(net) as runner:
            for frames in blocks:             # [n, B, C, H, W], n steps each
                steps = runner.run(frames)    # outputs [n, B, ...], maps {layer: [n, B, ...]}

    The model's state is reset the framework's way (the adapter's ``reset``) on entering, and
    every `reset_every` steps when given: then both the model and SAM start a new sequence, as
    if each span of `reset_every` steps were explained as its own sample. The state is carried
    by the model's own modules between calls (snnTorch ``init_hidden=True``, SpikingJelly's
    memory modules, sinabs, plain torch modules that keep state); a model whose forward starts
    from a fresh state at every call cannot be carried this way, which the first block checks
    (`check_carry`).

    Args:
        model: the model (its parameters' device is where the frames go).
        layers: which modules to record, as for `sam_plugins.SpikeActivationMap`.
        gamma: SAM's decay, as there.
        window: "previous" or "inclusive", as there.
        step_mode: for modules no adapter knows, as there.
        reset_every: steps between resets (None: never after the first).
        check_carry: before the first block (of two steps or more) is run, run its steps once
            in one call and once in two and compare the maps: `StateNotCarried` if they differ
            (the model's state is not carried between calls). It costs that block twice more.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: LayerSpec | Sequence[LayerSpec] | None = None,
        gamma: float = DEFAULT_GAMMA,
        *,
        window: str = "previous",
        step_mode: StepMode = "single",
        reset_every: int | None = None,
        check_carry: bool = True,
    ) -> None:
        if reset_every is not None and (int(reset_every) != reset_every or reset_every < 1):
            raise ValueError(
                f"reset_every must be a whole number of steps >= 1, found {reset_every}"
            )
        self.model = model
        self.sam = SpikeActivationMap(model, layers, gamma, window=window, step_mode=step_mode)
        self.reset_every = reset_every
        self.check_carry = check_carry
        self._carry_checked = False
        self.device = next(iter(model.parameters()), torch.empty(0)).device
        self.steps = 0  # steps run so far

    @property
    def layers(self) -> list[str]:
        return self.sam.layers

    def __enter__(self) -> StreamRunner:
        self.sam.attach()
        self.reset()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.sam.detach()

    def reset(self) -> None:
        """Start a new sequence: the model's state reset by its framework's adapter, SAM's
        state forgotten."""
        self.sam.runner.reset(self.model)
        self.sam.reset()

    def run(self, frames: Tensor) -> Steps:
        """Run the model over `frames` [n, B, ...] (n >= 1 steps, time first), the state carried
        from the steps before; raises what the model raises (e.g. frames of a shape it does not
        take)."""
        if not self.sam.recorder.attached:
            raise RuntimeError("use StreamRunner inside a `with` block (it attaches SAM's hooks)")
        if self.check_carry and self.steps == 0 and not self._carry_checked:
            self._check_carry(frames)
        start, parts = self.steps, []
        for first, block in self._blocks(frames):
            if first > 0 and self.reset_every and first % self.reset_every == 0:
                self.reset()
            with torch.no_grad():
                outputs = self.sam.run(self.model, block.to(self.device))
            maps = {name: m.cpu() for name, m in self.sam.take_maps().items()}
            for name, m in maps.items():
                if m.shape[0] != len(block):
                    raise ValueError(
                        f"layer {name!r} gave maps of {m.shape[0]} steps for {len(block)} input "
                        "steps: the model's time axis is not read as it runs (see step_mode)"
                    )
            parts.append((outputs, maps))
            self.steps = first + len(block)
        if len(parts) == 1:
            outputs, maps = parts[0]
        else:
            outputs = _cat([p[0] for p in parts])
            maps = {name: torch.cat([p[1][name] for p in parts]) for name in parts[0][1]}
        return Steps(start, outputs, maps)

    def _check_carry(self, frames: Tensor) -> None:
        """`StateNotCarried` unless the model's maps over the first steps of `frames` (up to the
        first reset) are the same run in one call and in two; then back to a fresh state."""
        n = len(frames) if not self.reset_every else min(len(frames), self.reset_every)
        if n < 2:
            return  # checked on the first block of two steps or more
        self._carry_checked = True
        with torch.no_grad():
            self.sam.run(self.model, frames[:n].to(self.device))
            whole = self.sam.take_maps()
            self.reset()
            half = n // 2
            for part in (frames[:half], frames[half:n]):
                self.sam.run(self.model, part.to(self.device))
            split = self.sam.take_maps()
        self.reset()
        for name, maps in whole.items():
            if not torch.allclose(maps, split[name], rtol=1e-5, atol=1e-6):
                raise StateNotCarried(
                    f"the model does not carry its state from one call to the next: layer "
                    f"{name!r}'s maps over the first {n} steps differ when they are run in two "
                    "calls instead of one (its forward starts from a fresh state at every call, "
                    "as Norse modules called without their state or snnTorch neurons with "
                    "init_hidden=False do), so it cannot be explained step block by step block: "
                    "explain its recordings as clips (without --bin)"
                )

    def _blocks(self, frames: Tensor):
        """(first step index, frames) of the parts of `frames` between resets."""
        first, at = self.steps, 0
        while at < len(frames):
            n = len(frames) - at
            if self.reset_every:
                n = min(n, self.reset_every - first % self.reset_every)
            yield first, frames[at : at + n]
            first, at = first + n, at + n


def _cat(outputs: list[Any]) -> Any:
    """Outputs of consecutive blocks joined along time (dim 0), tuples element by element."""
    first = outputs[0]
    if isinstance(first, Tensor):
        return torch.cat(outputs)
    if isinstance(first, (tuple, list)):
        return type(first)(_cat(list(parts)) for parts in zip(*outputs, strict=True))
    return stack_outputs(outputs)
