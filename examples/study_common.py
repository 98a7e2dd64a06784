"""What the three paper studies (study_*.py) share: the same results from the same command
(`reproducible`), the event digits as frames, a seeded fixed-epoch training loop, accuracy, the
markdown tables they print (docs/studies/*.md are copies of them) and the two figures (maps
side by side, temporal profiles), written byte for byte the same when nothing changed."""

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
from sam_plugins.metrics import pointing_game  # noqa: E402
from sam_plugins.render import image_grid_figure, show_sam_on_image  # noqa: E402

Forward = Callable[[nn.Module, Tensor], Tensor]  # (model, inputs [T, B, ...]) -> outputs
THREADS = 1  # float sums are split over threads: their order, and so the last bits, depend on it


def reproducible(seed: int = 0) -> None:
    """The same command on the same machine prints the same table: seeded, deterministic
    kernels only, and a fixed thread count."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(THREADS)


def percent(x: float | Tensor) -> str:
    return f"{100 * float(x):.1f} %"


def print_table(header: list[str], rows: list[list[object]]) -> None:
    """A markdown table on stdout, as the study pages show it."""
    for cells in (header, ["---"] * len(header), *rows):
        print("| " + " | ".join(str(c) for c in cells) + " |")


def chance(maps: Tensor, masks: Tensor) -> Tensor:
    """The pointing game of seeded random maps of the shape of `maps` [..., h, w] against
    `masks` [..., H, W]: what a map that knows nothing scores."""
    noise = torch.rand(maps.shape, generator=torch.Generator().manual_seed(0))
    return pointing_game(noise, masks).mean()


def save_png(fig, path: Path, dpi: int) -> Path:
    """`fig` as a PNG without the matplotlib version in it: the same figure, the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return path


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
    backgrounds = [polarity_image(f) for f in per_step]
    cells = [[show_sam_on_image(backgrounds[t], maps[t].cpu()) for t in range(steps)]
             for maps in rows.values()]  # fmt: skip
    fig = image_grid_figure(cells, [f"t={t}" for t in range(steps)], list(rows), title)
    return save_png(fig, path, dpi=100)


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
    return save_png(fig, path, dpi=110)
