"""Study: optimisation. An SNN trained with surrogate gradients against the same architecture
trained as an ANN (ReLU) and converted to an SNN by SpikingJelly's ann2snn (IF neurons,
thresholds from 99.9th-percentile activations); both see a digit as constant input current
for T steps. How does SAM differ?

    python examples/study_ann2snn.py [--epochs 8] [--steps 16] [--out examples/output/studies]

Prints, as a markdown table and sentences (docs/studies/ann2snn.md is a copy), accuracy,
firing rate, when the SAM mass peaks, the pointing game (map maximum on the digit's ink) with
that of random maps (chance), and how alike the two models' maps are; writes
ann2snn_maps_{0,1}.png and ann2snn_profile.png. Seeded, deterministic, one thread: the same
command prints the same results.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch
from sam_plugins_demo import load_digits, split
from spikingjelly.activation_based import ann2snn, functional, layer, neuron, surrogate
from study_common import (
    accuracy,
    chance,
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
from sam_plugins.metrics import pointing_game, rank_correlation, time_saliency


def ann() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),  # 16 -> 8
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),  # 8 -> 4
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 10),
    )


def surrogate_snn() -> nn.Module:
    """The ANN's architecture with LIF neurons after each conv and at the output."""
    node = lambda: neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True)  # noqa: E731
    net = nn.Sequential(
        layer.Conv2d(1, 16, 3, padding=1),
        node(),
        layer.AvgPool2d(2),
        layer.Conv2d(16, 32, 3, padding=1),
        node(),
        layer.AvgPool2d(2),
        layer.Flatten(),
        layer.Linear(32 * 4 * 4, 10),
        node(),
    )
    functional.set_step_mode(net, "m")
    return net


def run_snn(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Multi-step SNN (surrogate) or single-step converted SNN over x [T, B, ...]."""
    functional.reset_net(net)
    if any(getattr(m, "step_mode", "s") == "m" for m in net.modules()):
        return net(x)
    return torch.stack([net(xt) for xt in x])


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--epochs", type=int, default=8, help="training epochs per model")
    parser.add_argument("--steps", type=int, default=16, help="time steps T")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("examples/output/studies"),
        help="output folder (default: %(default)s)",
    )
    args = parser.parse_args()
    reproducible()
    train_x, train_y, test_x, test_y = split(*load_digits(size=16))
    ink = (test_x[:, 0] >= 0.3).expand(args.steps - 1, -1, -1, -1)  # where the digit is

    def repeat(x):  # constant input current for T steps: [T, N, 1, 16, 16]
        return x.unsqueeze(0).expand(args.steps, *x.shape)

    torch.manual_seed(0)
    model = ann()
    train(model, train_x.unsqueeze(0), train_y, lambda m, x: m(x[0]), args.epochs)
    ann_acc = accuracy(model, test_x.unsqueeze(0), test_y, lambda m, x: m(x[0]))
    calibration = torch.utils.data.DataLoader(list(zip(train_x, train_y, strict=True)), 100)
    recipe = ann2snn.RateCodingRecipe(dataloader=calibration, mode="99.9%")
    converted = ann2snn.FXConverter(recipe=recipe, device="cpu").convert(copy.deepcopy(model))
    converted.eval()

    torch.manual_seed(0)
    trained = surrogate_snn()
    train(trained, repeat(train_x), train_y, run_snn, args.epochs)
    models = {"surrogate-trained": trained, "converted": converted}
    rows = [["ANN", percent(ann_acc), "", "", "", "", ""]]
    curves, maps, summed = {}, {}, {}
    for name, net in models.items():
        acc = accuracy(net, repeat(test_x), test_y, run_snn)
        result = explain(net, repeat(test_x), run=run_snn, keep_spikes=True)
        # the two conv layers' neurons: the layers with maps [T, B, H, W] (the output layer's
        # are [T, B, classes])
        conv_layers = [n for n in result if getattr(result[n].maps, "ndim", 0) == 4]
        assert len(conv_layers) == 2, f"expected 2 conv layers with maps, found {conv_layers}"
        for depth, layer_name in enumerate(conv_layers, 1):
            rate = result[layer_name].spikes.float().mean()
            curve = profile(result, layer_name)
            layer_maps = result.maps(layer_name)[1:]
            rows.append([
                f"{name} SNN", percent(acc), f"conv {depth}", f"{rate:.3f}", int(curve.argmax()),
                percent(pointing_game(layer_maps, ink).mean()), percent(chance(layer_maps, ink)),
            ])  # fmt: skip
            curves[f"{name} conv {depth}"] = curve
            maps[f"{name.split('-')[0]}, conv {depth}"] = result.heatmap(layer_name, size=(16, 16))
            summed[(name, depth)] = time_saliency(result, layer_name, (16, 16))
    header = ["model", "test accuracy", "layer", "firing rate", "SAM mass peaks at step"]
    print_table([*header, "pointing game", "chance"], rows)
    longer = accuracy(converted, test_x.unsqueeze(0).expand(64, *test_x.shape), test_y, run_snn)
    print(f"With 64 steps instead of {args.steps} the converted SNN reaches {percent(longer)}.")
    alike = [
        rank_correlation(summed[("surrogate-trained", d)], summed[("converted", d)]).nanmean()
        for d in (1, 2)
    ]
    print(
        f"The two models' time-summed maps rank-correlate at {alike[0]:.2f} (conv 1) and "
        f"{alike[1]:.2f} (conv 2)."
    )
    for sample in (0, 1):
        rows = {
            key: heat[:, sample] for key, heat in sorted(maps.items(), key=lambda kv: kv[0][-1])
        }
        path = save_maps(
            args.out / f"ann2snn_maps_{sample}.png",
            test_x[sample],
            rows,
            f"surrogate-trained vs converted, test digit {sample} (label {int(test_y[sample])})",
        )
        print(f"wrote {path}")
    title = "surrogate-trained vs converted: when SAM looks"
    print(f"wrote {plot_profiles(args.out / 'ann2snn_profile.png', curves, title)}")


if __name__ == "__main__":
    main()
