"""The demo model: a small snnTorch SNN for the emulated event digits (2 x 34 x 34 frames,
10 time bins), trained by ``examples/event_camera.py --save``; its weights ship with the package."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported when a model is made (`sam-plugins demo --help` needs none)
    from torch import nn

BINS = 10
WEIGHTS = Path(__file__).parent / "data" / "demo_net.pt"
FACTORY = "sam_plugins_demo:trained_demo_net"


def demo_net() -> nn.Module:
    """conv5x5/2 (8) -> Leaky -> conv3x3/2 (16) -> Leaky -> fc (10) -> Leaky, single-step,
    input [B, 2, 34, 34] per step. Weights are not loaded: see `WEIGHTS`."""
    from torch import nn

    try:
        import snntorch as snn
    except ImportError:
        raise ImportError(
            "the demo model is an snnTorch SNN: pip install snntorch sam-plugins-snntorch"
        ) from None
    return nn.Sequential(
        nn.Conv2d(2, 8, 5, stride=2, padding=2),  # 34 -> 17
        snn.Leaky(beta=0.8, init_hidden=True),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),  # 17 -> 9
        snn.Leaky(beta=0.8, init_hidden=True),
        nn.Flatten(),
        nn.Linear(16 * 9 * 9, 10),
        snn.Leaky(beta=0.8, init_hidden=True, output=True),
    )


def trained_demo_net() -> nn.Module:
    """`demo_net()` with the shipped weights loaded, in eval mode."""
    import torch

    net = demo_net()
    net.load_state_dict(torch.load(WEIGHTS, weights_only=True))
    return net.eval()


trained_demo_net.trained_weights = WEIGHTS  # says so to `sam-plugins`: no random weights
