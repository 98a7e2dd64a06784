"""Adapter discovery through the entry-point group, as a third-party plugin would register."""

import textwrap

import pytest
import torch
from plain_snn import ConvSNN

from sam_plugins import SpikeActivationMap, explain, installed_adapters

PLUGIN = """
from sam_plugins import Adapter
from plain_snn import PlainLIF


class PlainAdapter(Adapter):
    name = "plain"
    resets = 0

    def owns(self, module):
        return isinstance(module, PlainLIF)

    def neuron_modules(self, model):
        return [(n, m) for n, m in model.named_modules() if self.owns(m)]

    def reset(self, model):
        PlainAdapter.resets += 1
        model.reset()


def broken():
    raise ImportError("framework not installed")
"""


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    (tmp_path / "fake_sam_plugin.py").write_text(PLUGIN)
    info = tmp_path / "fake_sam_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-sam-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent("""
        [sam_plugins.adapters]
        plain = fake_sam_plugin:PlainAdapter
        zz_broken = fake_sam_plugin:broken
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    installed_adapters.cache_clear()
    yield
    installed_adapters.cache_clear()


def test_registered_adapter_finds_neurons_and_a_broken_one_only_warns(plugin):
    with pytest.warns(RuntimeWarning, match="zz_broken.*framework not installed"):
        adapters = installed_adapters()
    assert "plain" in [a.name for a in adapters]
    sam = SpikeActivationMap(ConvSNN())
    assert sam.layers == ["lif1", "lif2", "lif3"]
    assert sam.runner.name == "plain"


def test_explain_uses_the_adapters_reset(plugin):
    import fake_sam_plugin

    net = ConvSNN()
    x = (torch.rand(5, 2, 2, 16, 16) < 0.4).float() * 2
    with pytest.warns(RuntimeWarning):
        first = explain(net, x)
    second = explain(net, x)  # same result only because the adapter reset the state in between
    assert fake_sam_plugin.PlainAdapter.resets == 2
    torch.testing.assert_close(first["lif1"].maps, second["lif1"].maps)
    assert first.steps == 5
