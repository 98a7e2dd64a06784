"""What the three paper studies (study_*.py) share: the event digits as frames, a seeded
fixed-epoch training loop, accuracy, and the two figures (maps side by side, temporal profiles)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from sam_plugins_demo import EmulatedDigits  # noqa: E402
from sam_plugins_tonic import polarity_image  # noqa: E402
from sam_plugins_tonic.events import to_frames  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from sam_plugins import SAMResult, class_scores  # noqa: E402
from sam_plugins.analysis import collate_frames  # noqa: E402
from sam_plugins.render import save_overlay_grid  # noqa: E402

Forward = Callable[[nn.Module, Tensor], Tensor]  # (model, inputs [T, B, ...]) -> outputs


def event_digits(data: Path, train: bool, limit: int | None, bins: int = 10):
    """(frames [bins, N, 2, 34, 34], labels [N], the dataset) of the emulated event digits."""
    dataset = EmulatedDigits(
        data,
        train=train,
        limit=limit,
        transform=to_frames(EmulatedDigits.sensor_size, bins),
    )
    frames, labels, _ = collate_frames([dataset[i] for i in range(len(dataset))])
    return frames, labels, dataset


def save_maps(path: Path, frames: Tensor, rows: dict[str, Tensor], title: str) -> Path:
    """PNG of one sample: a row per entry of `rows` (label -> maps [T, H, W] in [0, 1]), a
    column per step, over the sample's frames [T, C, H, W] (or one frame [C, H, W])."""
    steps = next(iter(rows.values())).shape[0]
    per_step = frames if frames.dim() == 4 else frames.expand(steps, *frames.shape)
    backgrounds = torch.stack([torch.from_numpy(polarity_image(f)) for f in per_step])[None]
    heat = torch.stack([maps.cpu() for maps in rows.values()])
    return save_overlay_grid(path, backgrounds, heat, list(rows), title)


def train(net: nn.Module, x: Tensor, y: Tensor, forward: Forward, epochs: int) -> int:
    """Adam on cross-entropy of the outputs summed over time, for `epochs`; returns epochs."""
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    net.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(y)).split(64):
            loss = nn.functional.cross_entropy(class_scores(forward(net, x[:, idx])), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    net.eval()
    return epochs


def accuracy(net: nn.Module, x: Tensor, y: Tensor, forward: Forward) -> float:
    with torch.no_grad():
        return (class_scores(forward(net, x)).argmax(1) == y).float().mean().item()


def profile(result: SAMResult, layer: str) -> Tensor:
    """The layer's SAM mass per step averaged over samples, scaled to its peak, [T]."""
    mass = result[layer].profile.mean(1)
    return mass / mass.max().clamp_min(1e-12)


def plot_profiles(path: Path, curves: dict[str, Tensor], title: str) -> Path:
    fig, ax = plt.subplots(figsize=(4.5, 2.8))
    for label, curve in curves.items():
        ax.plot(curve.numpy(), marker="o", ms=3, label=label)
    ax.set_xlabel("time step")
    ax.set_ylabel("mean SAM mass / peak")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
