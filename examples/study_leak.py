"""Study: leak. The same SpikingJelly conv SNN with IF neurons (no leak) and with LIF neurons
(tau = 2), trained the same way on the emulated event digits; SAM over time side by side.

    python examples/study_leak.py [--epochs 10] [--limit N] [--out examples/output/studies]

Prints, as a markdown table (docs/studies/leak.md is a copy), accuracy, firing rate, when the
SAM mass peaks and the pointing game (the map's maximum on the digit, per time bin) for both,
with the pointing game of random maps (chance); writes leak_maps_{0,1}.png and
leak_profile.png. Seeded, deterministic, one thread: the same command prints the same table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from spikingjelly.activation_based import functional, layer, neuron, surrogate
from study_common import (
    accuracy,
    chance,
    event_digits,
    percent,
    plot_profiles,
    print_table,
    profile,
    reproducible,
    save_maps,
    train,
)
from torch import nn

from sam_plugins import explain
from sam_plugins.metrics import pointing_game

BINS = 10
NODES = {
    "IF": lambda: neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True),
    "LIF": lambda: neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True),
}


def make_net(node) -> nn.Module:
    net = nn.Sequential(
        layer.Conv2d(2, 8, 5, stride=2, padding=2),  # 34 -> 17
        node(),
        layer.Conv2d(8, 16, 3, stride=2, padding=1),  # 17 -> 9
        node(),
        layer.Flatten(),
        layer.Linear(16 * 9 * 9, 10),
        node(),
    )
    functional.set_step_mode(net, "m")
    return net


def forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    functional.reset_net(net)
    return net(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--epochs", type=int, default=10, help="training epochs per model")
    parser.add_argument("--limit", type=int, default=None, help="recordings per split")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("examples/output/data"),
        help="folder of the emulated recordings (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("examples/output/studies"),
        help="output folder (default: %(default)s)",
    )
    args = parser.parse_args()
    reproducible()
    train_x, train_y, _ = event_digits(args.data, True, args.limit, BINS)
    test_x, test_y, test_set = event_digits(args.data, False, args.limit, BINS)
    masks = test_set.object_masks(BINS)
    maps, curves = {}, {}
    rows = []
    for name, node in NODES.items():
        torch.manual_seed(0)
        net = make_net(node)
        train(net, train_x, train_y, forward, args.epochs)
        acc = accuracy(net, test_x, test_y, forward)
        result = explain(net, test_x, keep_spikes=True)
        for depth, layer_name in enumerate(("1", "3"), 1):
            rate = result[layer_name].spikes.float().mean()
            curve = profile(result, layer_name)
            layer_maps = result.maps(layer_name)[1:]
            rows.append([
                name, percent(acc), f"conv {depth}", f"{rate:.3f}", int(curve.argmax()),
                percent(pointing_game(layer_maps, masks[1:]).mean()),
                percent(chance(layer_maps, masks[1:])),
            ])  # fmt: skip
            curves[f"{name} conv {depth}"] = curve
            maps[f"{name}, conv {depth}"] = result.heatmap(layer_name, size=(34, 34))
    header = ["neuron", "test accuracy", "layer", "firing rate", "SAM mass peaks at bin"]
    print_table([*header, "pointing game", "chance"], rows)
    for sample in (0, 1):
        path = save_maps(
            args.out / f"leak_maps_{sample}.png",
            test_x[:, sample],
            {key: heat[:, sample] for key, heat in sorted(maps.items(), key=lambda kv: kv[0][-1])},
            f"IF vs LIF, test recording {sample} (label {int(test_y[sample])})",
        )
        print(f"wrote {path}")
    print(
        f"wrote {plot_profiles(args.out / 'leak_profile.png', curves, 'IF vs LIF: when SAM looks')}"
    )


if __name__ == "__main__":
    main()
