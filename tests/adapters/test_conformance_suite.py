"""The conformance suite itself: it must fail on adapters that break each promise."""

import importlib.util
from pathlib import Path

import pytest
import torch
from sam_plugins_norse import NorseAdapter
from sam_plugins_sinabs import SinabsAdapter
from sam_plugins_snntorch import SnnTorchAdapter

from sam_plugins.recorder import SpikeRecorder


def suite_of(test_file: str, name: str):
    """The conformance class `name` of a sibling test module (tests import as files here),
    bound below to a name pytest does not collect again."""
    spec = importlib.util.spec_from_file_location(test_file, Path(__file__).with_name(test_file))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


snntorch_suite = suite_of("test_conformance_snntorch.py", "TestSnnTorchConformance")
norse_suite = suite_of("test_norse.py", "TestNorseConformance")
sinabs_suite = suite_of("test_sinabs.py", "TestSinabsConformance")


def test_a_reset_that_does_nothing_is_caught(monkeypatch):
    monkeypatch.setattr(SnnTorchAdapter, "reset", lambda self, model: None)
    with pytest.raises(AssertionError):
        snntorch_suite().test_two_identical_explain_calls_give_identical_results()


def test_spikes_left_batch_first_are_caught(monkeypatch):
    monkeypatch.setattr(SinabsAdapter, "to_spikes", lambda self, module, out: out)
    # the squeezed case trips the library's own shape check, the batch-first one the suite's
    with pytest.raises((AssertionError, ValueError)):
        sinabs_suite().test_maps_equal_the_reference_formula()


def test_a_runner_that_drops_the_state_is_caught(monkeypatch):
    def forgetful(self, model, inputs):
        outs = [model(x)[0] for x in inputs]  # a fresh state at every step
        return torch.stack(outs), None

    monkeypatch.setattr(NorseAdapter, "run", forgetful)
    with pytest.raises(AssertionError):
        norse_suite().test_default_runner()


def test_hooks_left_behind_are_caught(monkeypatch):
    monkeypatch.setattr(SpikeRecorder, "detach", lambda self: self._handles.clear())
    with pytest.raises(AssertionError):
        norse_suite().test_no_hook_or_buffer_is_left_behind()


def test_a_wrong_step_mode_is_caught(monkeypatch):
    monkeypatch.setattr(NorseAdapter, "step_mode", lambda self, module: "single")
    with pytest.raises(AssertionError):
        norse_suite().test_step_modes()


def test_a_module_found_twice_is_caught(monkeypatch):
    monkeypatch.setattr(NorseAdapter, "owns", lambda self, module: True)
    with pytest.raises(AssertionError):
        norse_suite().test_discovery_finds_the_neuron_modules()
