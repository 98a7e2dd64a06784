"""Small models and frame datasets for the analysis tests (plain torch, no tonic)."""

from __future__ import annotations

import torch
from plain_snn import ConvSNN

from sam_plugins.analysis import analyze_dataset

LAYERS = ["lif1", "lif2", "lif3"]


def net(seed: int = 0, size: int = 16) -> ConvSNN:
    torch.manual_seed(seed)
    model = ConvSNN(size=size, classes=4).eval()
    with torch.no_grad():
        model.fc.weight.mul_(50)  # enough output spikes for predictions that differ
    return model


def run(model, frames):
    """Reset, then one call per step: outputs [T, B, classes]."""
    model.reset()
    return torch.stack([model(x) for x in frames])


class Frames(torch.utils.data.Dataset):
    """`n` random spike-frame recordings [5..9, 2, size, size] (with `first` > 5: [first ..
    first + 12] in steps of 3) with labels i % 4; item i is the same whenever it is read."""

    def __init__(self, n: int = 11, size: int = 16, classes: int = 4, first: int = 5) -> None:
        self.n, self.size, self.classes, self.first = n, size, classes, first

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        if not 0 <= i < self.n:
            raise IndexError(i)
        g = torch.Generator().manual_seed(1000 + i)
        steps = self.first + 3 * (i % 5) if self.first > 5 else 5 + i % 5
        return (torch.rand(steps, 2, self.size, self.size, generator=g) < 0.3).float(), (
            i % self.classes
        )


class Interrupting(Frames):
    """Raises KeyboardInterrupt when item `at` is read, like a user's Ctrl-C."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def __getitem__(self, i):
        if i == self.at:
            raise KeyboardInterrupt
        return super().__getitem__(i)


def analyse(data, path, **options):
    options = {
        "num_classes": 4, "run": run, "batch_size": 3, "progress": False, "commit_every": 0,
        **options,
    }  # fmt: skip
    options.setdefault("layers", LAYERS)
    return analyze_dataset(net(), data, path, **options)


def quiet_net() -> ConvSNN:
    """`net()` whose layers are silent on all-zero frames (no positive bias) and whose last
    layer, lif3, never fires (its weights are zero)."""
    model = net()
    with torch.no_grad():
        for layer in (model.conv1, model.conv2):
            layer.bias.clamp_(max=0)
        model.fc.weight.zero_()
        model.fc.bias.fill_(-1)
    return model


class QuietEvens(Frames):
    """`Frames` whose even items are all-zero frames: no layer of `quiet_net` fires on them."""

    def __getitem__(self, i: int):
        frames, label = super().__getitem__(i)
        return (frames * (i % 2), label)
