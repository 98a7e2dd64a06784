"""Study: leak. The same SpikingJelly conv SNN with IF neurons (no leak) and with LIF neurons
(tau = 2), trained the same way on the emulated event digits; SAM over time side by side.

    python examples/study_leak.py [--epochs 10] [--out examples/output/studies]

Prints accuracy, firing rate, when the SAM mass peaks and the pointing game (the map's maximum
on the digit, per time bin) for both; writes leak_maps.png and leak_profile.png.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from spikingjelly.activation_based import functional, layer, neuron, surrogate
from study_common import accuracy, event_digits, plot_profiles, profile, save_maps, train
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
    train_x, train_y, _ = event_digits(args.data, True, args.limit, BINS)
    test_x, test_y, test_set = event_digits(args.data, False, args.limit, BINS)
    masks = test_set.object_masks(BINS)
    maps, curves = {}, {}
    print(f"{'neuron':>6} {'acc.':>6} {'layer':>5} {'rate':>6} {'peak bin':>8} {'pointing':>9}")
    for name, node in NODES.items():
        torch.manual_seed(0)
        net = make_net(node)
        epochs = train(net, train_x, train_y, forward, args.epochs)
        acc = accuracy(net, test_x, test_y, forward)
        result = explain(net, test_x, keep_spikes=True)
        for layer_name in ("1", "3"):
            rate = result[layer_name].spikes.float().mean()
            curve = profile(result, layer_name)
            hits = pointing_game(result.maps(layer_name)[1:], masks[1:]).mean()
            print(
                f"{name:>6} {acc:>6.1%} {layer_name:>5} {rate:>6.3f} {int(curve.argmax()):>8} "
                f"{hits:>9.1%}"
            )
            curves[f"{name} layer {layer_name}"] = curve
            maps[f"{name}, layer {layer_name}"] = result.heatmap(layer_name, size=(34, 34))
        print(f"       ({name}: {epochs} epochs)")
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
