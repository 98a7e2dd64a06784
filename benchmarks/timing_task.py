"""A task where only spike timing carries the class, and its rate-coded twin (issue 32).

Frames [T, N, 1, 16, 16] of 0/1 spikes, T = 12. Every background pixel fires `spikes` times
(default once) at random steps. A 4 x 4 patch at a random place holds the evidence; the class
says whether the patch is made of columns (0) or of rows (1):

- ``code="timing"``: each line (column or row) of the patch fires `spikes` times, all its
  pixels at the same steps; the lines at their own random steps. Every pixel of every
  recording, patch or background, fires exactly `spikes` times: the counts say nothing about
  the class, only which pixels fire together (synchrony) does.
- ``code="rate"``: every other line fires 2 x `spikes` times, the others never; every pixel at
  its own random steps. The class is in which pixels fire more; the times say nothing.

`train_patch_net` trains a small snnTorch SNN on either (seeded, deterministic).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

CLASSES = ("columns", "rows")
GAIN = 3.0
TRAIN = 1600  # training recordings per code


def patch_task(
    count: int,
    code: str,
    seed: int,
    size: int = 16,
    steps: int = 12,
    patch: int = 4,
    spikes: int = 1,
) -> tuple[Tensor, Tensor, Tensor]:
    """(frames [steps, count, 1, size, size] float32 0/1, labels [count] in 0..1 (balanced),
    patch masks [count, size, size] bool), the same for the same arguments."""
    if code not in ("timing", "rate"):
        raise ValueError(f"code must be 'timing' or 'rate', found {code!r}")
    generator = torch.Generator().manual_seed(seed)

    def randint(high: int) -> int:
        return int(torch.randint(high, (), generator=generator))

    def random_steps(shape: tuple[int, ...], k: int) -> Tensor:
        """[steps, *shape] 0/1: k distinct random steps per place."""
        order = torch.rand(*shape, steps, generator=generator).argsort(-1).argsort(-1)
        return (order < k).movedim(-1, 0).float()

    labels = torch.randperm(count, generator=generator) % len(CLASSES)
    frames = random_steps((count, 1, size, size), spikes)  # the background
    masks = torch.zeros(count, size, size, dtype=torch.bool)
    for n, label in enumerate(labels.tolist()):
        top, left = randint(size - patch + 1), randint(size - patch + 1)
        masks[n, top : top + patch, left : left + patch] = True
        if code == "timing":  # each line's pixels fire together, at the line's own steps
            area = random_steps((patch, 1), spikes).expand(-1, -1, patch)
        else:  # every other line fires twice, the others not; each pixel at its own steps
            twice = (torch.arange(patch) % 2 == randint(2)).view(patch, 1)
            area = random_steps((patch, patch), 2 * spikes) * twice
        if label == 0:  # lines are columns
            area = area.transpose(1, 2)
        frames[:, n, 0, top : top + patch, left : left + patch] = area
    return frames, labels, masks


def shuffle_times(frames: Tensor, seed: int) -> Tensor:
    """frames [T, ...] with each place's values put in a random order over time (seeded): the
    counts per place stay, the timing goes."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.rand(frames.shape, generator=generator).argsort(0)
    return frames.gather(0, order)


def patch_net() -> nn.Module:
    """conv3x3 (8) -> Leaky -> conv3x3/2 (16) -> Leaky -> sum over the 8 x 8 places -> fc (2)
    -> Leaky, single-step, input [B, 1, 16, 16] per step; neuron layers "1", "3", "7". Weights
    of the convolutions and the fc are PyTorch's initialisation times `GAIN` (otherwise the
    sparse layers stay silent)."""
    import snntorch as snn

    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        snn.Leaky(beta=0.7, init_hidden=True),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),  # 16 -> 8
        snn.Leaky(beta=0.7, init_hidden=True),
        nn.AvgPool2d(8, divisor_override=1),  # the sum: where the patch is does not matter
        nn.Flatten(),
        nn.Linear(16, len(CLASSES)),
        snn.Leaky(beta=0.7, init_hidden=True, output=True),
    )
    with torch.no_grad():
        for module in net:
            if isinstance(module, nn.Conv2d | nn.Linear):
                module.weight.mul_(GAIN)
    return net


def train_patch_net(frames: Tensor, labels: Tensor, epochs: int, seed: int = 0) -> nn.Module:
    """`patch_net()` trained on frames [T, N, 1, 16, 16] with labels [N] (Adam, snnTorch's
    mean-square error of output spike counts, batches of 32), seeded: the same weights every
    time (the caller sets one thread and deterministic algorithms). Returned in eval mode."""
    from snntorch import functional as SF
    from snntorch import utils

    def forward(net: nn.Module, x: Tensor) -> Tensor:
        utils.reset(net)
        return torch.stack([net(step)[0] for step in x])

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = patch_net()
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
        loss_fn = SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)
        for _ in range(epochs):
            for idx in torch.randperm(len(labels)).split(32):
                loss = loss_fn(forward(net, frames[:, idx]), labels[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    utils.reset(net)
    return net.eval()
