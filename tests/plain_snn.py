"""A small conv SNN in plain torch (no SNN framework), for the generic path and benchmarks."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class PlainLIF(nn.Module):
    """Leaky integrate-and-fire in plain torch, reset by subtraction.

    Single-step (default): one call per time step, input [B, ...], state kept between calls.
    Multi-step: one call with input [T, B, ...], output [T, B, ...].
    """

    def __init__(self, beta: float = 0.8, threshold: float = 1.0, multi_step: bool = False):
        super().__init__()
        self.beta, self.threshold, self.multi_step = beta, threshold, multi_step
        self.mem: Tensor | None = None

    def reset(self) -> None:
        self.mem = None

    def step(self, x: Tensor) -> Tensor:
        mem = x if self.mem is None else self.beta * self.mem + x
        spk = (mem >= self.threshold).to(x.dtype)
        self.mem = mem - spk * self.threshold
        return spk

    def forward(self, x: Tensor) -> Tensor:
        if self.multi_step:
            return torch.stack([self.step(xt) for xt in x])
        return self.step(x)


class ConvSNN(nn.Module):
    """conv -> LIF -> pool -> conv -> LIF -> pool -> linear -> LIF, input [B, C, H, W] per step
    (single-step) or [T, B, C, H, W] (multi-step: the stateless layers fold time into batch)."""

    def __init__(
        self,
        in_channels: int = 2,
        size: int = 16,
        classes: int = 10,
        multi_step: bool = False,
        width: int = 8,
    ):
        super().__init__()
        self.multi_step = multi_step
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.lif1 = PlainLIF(0.8, 0.5, multi_step)
        self.pool1 = nn.AvgPool2d(2)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.lif2 = PlainLIF(0.8, 0.5, multi_step)
        self.pool2 = nn.AvgPool2d(2)
        self.fc = nn.Linear(2 * width * (size // 4) ** 2, classes)
        self.lif3 = PlainLIF(0.8, 0.5, multi_step)

    def reset(self) -> None:
        for m in (self.lif1, self.lif2, self.lif3):
            m.reset()

    def _fold(self, layer: nn.Module, x: Tensor) -> Tensor:
        if not self.multi_step:
            return layer(x)
        y = layer(x.flatten(0, 1))
        return y.reshape(*x.shape[:2], *y.shape[1:])

    def forward(self, x: Tensor) -> Tensor:
        x = self.lif1(self._fold(self.conv1, x))
        x = self.lif2(self._fold(self.conv2, self._fold(self.pool1, x)))
        x = self._fold(self.pool2, x)
        x = x.flatten(2) if self.multi_step else x.flatten(1)
        return self.lif3(self._fold(self.fc, x))


def broken_factory() -> nn.Module:
    """A model factory that fails, as a user's may (for the CLI's error tests)."""
    raise RuntimeError("CUDA error: out of memory\nmore lines that must not be printed")
