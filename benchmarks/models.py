"""Conv SNNs in plain torch for the benchmarks (the neuron is tests/plain_snn.PlainLIF)."""

from __future__ import annotations

import sys
from pathlib import Path

from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from plain_snn import ConvSNN, PlainLIF  # noqa: E402

__all__ = ["ConvSNN", "PlainLIF", "dvs_vgg"]


def dvs_vgg(
    in_channels: int = 2,
    size: int = 32,
    widths=(32, 64, 128),
    classes: int = 10,
    neuron=lambda: PlainLIF(0.8, 1.0),
):
    """The usual event-camera conv SNN (as in SpikingJelly's DVS examples), single-step:
    [conv3x3 -> BatchNorm -> LIF -> MaxPool2] x 3 -> Linear -> LIF; `neuron()` makes the LIF."""
    layers: list[nn.Module] = []
    cin = in_channels
    for width in widths:
        layers += [
            nn.Conv2d(cin, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            neuron(),
            nn.MaxPool2d(2),
        ]
        cin = width
    feat = cin * (size // 2 ** len(widths)) ** 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(feat, classes), neuron())
