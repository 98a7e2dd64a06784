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
