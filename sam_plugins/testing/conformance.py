"""Conformance suite for framework adapters: what every adapter must do, as pytest tests.

Each adapter's test module subclasses `AdapterConformance`, gives it the adapter and a few small
models with inputs (`Case`), and pytest runs every ``test_*`` method below on every case: the
entry point is registered, `neuron_modules` finds the expected modules with the expected step
modes, the maps equal the paper's literal formula on independently recorded spikes, the model's
outputs are bit-identical with and without SAM attached, no hook or buffer is left behind (also
when the user's code or the model raises), two identical `explain` calls give identical results
(the adapter's reset works) and the adapter's default runner gives what the framework's users'
own loop gives.

A third party runs it on its own adapter the same way (the adapter installed, so that its entry
point is registered)::

    # tests/test_conformance.py of the package my-sam-adapter
    import torch
    from my_sam_adapter import MyAdapter          # registered as "myframework" under
    from my_framework import MyNeuron            # [project.entry-points."sam_plugins.adapters"]

    from sam_plugins.testing.conformance import AdapterConformance, Case


    def conv_net():
        return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), MyNeuron())


    def loop(net, x):                            # how the framework's users run it: [T, B, ...]
        return torch.stack([net(xt) for xt in x])


    class TestMyAdapter(AdapterConformance):     # the name must start with "Test"
        adapter = MyAdapter()
        entry_point = "myframework"

        def cases(self):
            return [Case("conv", conv_net, torch.rand(6, 2, 1, 8, 8) * 3, {"1": "single"}, loop)]

Then ``pytest tests/test_conformance.py`` (this module needs pytest). Models should be small
and their inputs strong enough that every expected layer spikes (a silent layer proves nothing,
and the suite says so).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from sam_plugins import SpikeActivationMap, explain
from sam_plugins.plugins import ENTRY_POINT_GROUP, Adapter, installed_adapters
from sam_plugins.testing.reference import (
    literal_neuronal_contribution,
    literal_spike_activation_map,
)

GAMMA = 0.5

__all__ = ["AdapterConformance", "Case", "assert_same", "hook_count"]


@dataclass
class Case:
    """One model for the suite.

    Args:
        name: shown in failures.
        model: a zero-argument factory of the model (a fresh, small model with random weights).
        inputs: [T, B, ...], strong enough that every layer in `layers` spikes.
        layers: the neuron modules the adapter must find, in model order: {qualified name:
            expected step mode, "single" or "multi"}.
        run: ``run(model, inputs)`` the way the framework's users run the model, returning what
            the adapter's default runner must return (time first); None: the adapter's runner
            (then the runner is only checked for its step count and determinism).
        spikes: ``spikes(module, output) -> [steps, B, ...]`` reading one call's spikes without
            the adapter, to check its ``to_spikes`` too; None: the adapter's ``to_spikes``.
    """

    name: str
    model: Callable[[], nn.Module]
    inputs: Tensor
    layers: dict[str, str]
    run: Callable[[nn.Module, Tensor], Any] | None = None
    spikes: Callable[[nn.Module, Any], Tensor] | None = field(default=None, repr=False)


class AdapterConformance:
    """Base class of an adapter's conformance tests: set `adapter` and `entry_point`, implement
    `cases()`. Not collected itself (its name does not start with "Test")."""

    adapter: Adapter
    entry_point: str

    def cases(self) -> list[Case]:
        raise NotImplementedError("return the Case list of this adapter's small models")

    # --- helpers -------------------------------------------------------------------------
    def _run(self, case: Case, model: nn.Module, inputs: Tensor | None = None) -> Any:
        """Reset the model the adapter's way, then run it the users' way (fixed seed, no grad)."""
        self.adapter.reset(model)
        torch.manual_seed(0)
        with torch.no_grad():
            return (case.run or self.adapter.run)(model, case.inputs if inputs is None else inputs)

    def _explain(self, case: Case, model: nn.Module, run: Any = None):
        torch.manual_seed(0)
        return explain(model, case.inputs, gamma=GAMMA, run=run)

    # --- the tests -----------------------------------------------------------------------
    def test_entry_point_is_registered(self):
        found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        assert self.entry_point in found, (
            f"no entry point {self.entry_point!r} in group {ENTRY_POINT_GROUP!r} (found "
            f"{sorted(found)}): is the adapter's package installed?"
        )
        loaded = found[self.entry_point].load()()
        assert type(loaded) is type(self.adapter)
        assert any(type(a) is type(self.adapter) for a in installed_adapters())

    def test_discovery_finds_the_neuron_modules(self):
        for case in self.cases():
            model = case.model()
            found = self.adapter.neuron_modules(model)
            assert [n for n, _ in found] == list(case.layers), f"case {case.name}"
            assert all(self.adapter.owns(m) for _, m in found), f"case {case.name}"
            modules = dict(model.named_modules())
            assert all(found_m is modules[n] for n, found_m in found), f"case {case.name}"

    def test_step_modes(self):
        for case in self.cases():
            model = case.model()
            modes = {n: self.adapter.step_mode(m) for n, m in self.adapter.neuron_modules(model)}
            assert modes == case.layers, f"case {case.name}"

    def test_maps_equal_the_reference_formula(self):
        for case in self.cases():
            model = case.model()
            neurons = dict(self.adapter.neuron_modules(model))
            read = case.spikes or self.adapter.to_spikes
            calls: dict[str, list[Tensor]] = {name: [] for name in neurons}
            handles = [
                module.register_forward_hook(
                    lambda m, args, out, name=name, calls=calls, read=read: calls[name].append(
                        read(m, out).detach().clone()
                    )
                )
                for name, module in neurons.items()
            ]
            try:
                self._run(case, model)
            finally:
                for handle in handles:
                    handle.remove()
            result = self._explain(case, model, case.run)
            assert list(result) == list(neurons), f"case {case.name}"
            steps = case.inputs.shape[0]
            for name, recorded in calls.items():
                assert recorded, f"case {case.name}: layer {name} was never called"
                spikes = torch.cat(recorded)
                assert spikes.shape[0] == steps, (
                    f"case {case.name}: layer {name} gave {spikes.shape[0]} steps, expected {steps}"
                )
                assert spikes.any(), (
                    f"case {case.name}: layer {name} never spiked, so the check proves nothing: "
                    "give inputs that make it spike"
                )
                _assert_matches_reference(result[name], spikes, f"case {case.name}, layer {name}")

    def test_outputs_are_bit_identical_with_sam_attached(self):
        for case in self.cases():
            model = case.model()
            plain = self._run(case, model)
            with SpikeActivationMap(model, gamma=GAMMA):
                attached = self._run(case, model)
            assert_same(plain, attached, f"case {case.name}: outputs")
            assert_same(plain, self._explain(case, model, case.run).outputs, f"case {case.name}")

    def test_no_hook_or_buffer_is_left_behind(self):
        for case in self.cases():
            model = case.model()
            before = (hook_count(model), _state_names(model))
            self._explain(case, model)
            assert (hook_count(model), _state_names(model)) == before, f"case {case.name}"

            def user_code_fails(net, x, run=case.run or self.adapter.run):
                run(net, x)
                raise RuntimeError("the user's code failed")

            with pytest.raises(RuntimeError, match="the user's code failed"):
                self._explain(case, model, user_code_fails)
            assert hook_count(model) == before[0], f"case {case.name}: hooks left after a raise"

            def model_fails(module, args, output):
                raise ValueError("the model failed")

            name, neuron = self.adapter.neuron_modules(model)[-1]
            own = neuron.register_forward_hook(model_fails)
            try:
                with pytest.raises(ValueError, match="the model failed"):
                    self._explain(case, model, case.run)
            finally:
                own.remove()
            assert hook_count(model) == before[0], f"case {case.name}: hooks left after {name}"

    def test_two_identical_explain_calls_give_identical_results(self):
        for case in self.cases():
            model = case.model()
            for run in (case.run, None):  # the users' loop and the adapter's default runner
                first, second = (self._explain(case, model, run) for _ in range(2))
                assert list(first) == list(second), f"case {case.name}"
                for name in first:
                    a, b = first[name], second[name]
                    assert_same((a.maps, a.scores, a.profile), (b.maps, b.scores, b.profile), name)
                assert_same(first.outputs, second.outputs, f"case {case.name}: outputs")

    def test_default_runner(self):
        for case in self.cases():
            model = case.model()
            result = self._explain(case, model)
            assert result.steps == case.inputs.shape[0], f"case {case.name}"
            if case.run is not None:
                expected = self._run(case, model)
                assert_same(result.outputs, expected, f"case {case.name}: default runner outputs")


def hook_count(model: nn.Module) -> int:
    """Forward hooks and pre-hooks on all of `model`'s modules."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _state_names(model: nn.Module) -> tuple[list[str], list[str]]:
    return [n for n, _ in model.named_buffers()], [n for n, _ in model.named_parameters()]


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Bit-identical: tensors equal in shape, dtype and every value; tuples, lists, dicts and
    objects with attributes (framework state objects) compared member by member."""
    if isinstance(a, Tensor):
        assert isinstance(b, Tensor), f"{where}: tensor vs {type(b).__name__}"
        assert a.shape == b.shape and a.dtype == b.dtype, f"{where}: {a.shape} vs {b.shape}"
        assert torch.equal(a, b), f"{where}: values differ"
    elif isinstance(a, Mapping):
        assert isinstance(b, Mapping) and list(a) == list(b), f"{where}: keys differ"
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), f"{where}: {type(a)} vs {type(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif hasattr(a, "__dict__") and not isinstance(a, nn.Module) and not callable(a):
        assert type(a) is type(b), f"{where}: {type(a)} vs {type(b)}"
        assert_same(vars(a), vars(b), where)
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def _assert_matches_reference(layer: Any, spikes: Tensor, where: str) -> None:
    """A LayerSAM against the literal formula on spikes [T, B, ...] recorded without the library."""
    if spikes.dim() >= 4:
        torch.testing.assert_close(
            layer.maps, literal_spike_activation_map(spikes, GAMMA), msg=lambda m: f"{where}: {m}"
        )
    else:
        contribution = literal_neuronal_contribution(spikes, GAMMA) * spikes
        torch.testing.assert_close(layer.maps, contribution, msg=lambda m: f"{where}: {m}")
        torch.testing.assert_close(layer.scores, contribution.sum(0), msg=lambda m: f"{where}: {m}")
        torch.testing.assert_close(
            layer.profile, contribution.flatten(2).sum(2), msg=lambda m: f"{where}: {m}"
        )
