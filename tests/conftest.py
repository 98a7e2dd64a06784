import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def record_spikes(modules: dict, run, to_spikes=lambda out: out):
    """Record the outputs of `modules` with plain forward hooks, independently of the library.

    Returns {name: [T, B, ...]} with calls concatenated along time (single-step outputs get a
    time axis first). `to_spikes` picks the spike tensor out of an output.
    """
    seen = {name: [] for name in modules}
    handles = [
        module.register_forward_hook(
            lambda m, a, out, name=name: seen[name].append(to_spikes(out).detach().clone())
        )
        for name, module in modules.items()
    ]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return seen


def hook_count(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def assert_matches_reference(layer, spikes: torch.Tensor, gamma: float) -> None:
    """A LayerSAM against the paper's literal formula on independently recorded spikes."""
    from sam_plugins.reference import literal_neuronal_contribution, literal_spike_activation_map

    assert spikes.abs().sum() > 0, f"layer {layer.name} never spiked: the test proves nothing"
    if spikes.dim() >= 4:
        torch.testing.assert_close(layer.maps, literal_spike_activation_map(spikes, gamma))
    else:
        n = literal_neuronal_contribution(spikes, gamma)
        torch.testing.assert_close(layer.scores, (n * spikes).sum(0))
        torch.testing.assert_close(layer.profile, (n * spikes).flatten(2).sum(2))


def assert_same_outputs(a, b) -> None:
    """Bit-identical outputs, tensors or nested tuples of tensors."""
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same_outputs(x, y)
    else:
        assert torch.equal(a, b)
