"""Study: adversarial inputs. FGSM and PGD perturbations (L-infinity, in events per pixel and
bin) of the emulated event recordings, against the shipped demo SNN (snnTorch): how accuracy,
the SAM maps and their pointing game change with epsilon, next to Grad-CAM's.

    python examples/study_adversarial.py [--samples 297] [--out examples/output/studies]

Gradients flow through the neurons' surrogate gradients. Prints, as a markdown table
(docs/studies/adversarial.md is a copy), per attack and epsilon, the accuracy, the pointing
game of SAM and of Grad-CAM on the first conv layer (map maximum on the digit, bins 1..9) and
how much each method's maps moved (1 - rank correlation with the clean maps); writes
adversarial_maps.png and adversarial_pointing.png. Deterministic, one thread: the same command
prints the same table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import sam_plugins_demo as demo
import torch
from snntorch import utils
from study_common import (
    chance,
    event_digits,
    percent,
    print_table,
    reproducible,
    save_maps,
    save_png,
)
from torch import nn

from sam_plugins import SAMResult, SNNGradCAM, class_scores, explain
from sam_plugins.metrics import pointing_game, rank_correlation, time_saliency

EPSILONS = (0.0, 0.02, 0.05, 0.1, 0.2)
LAYER = "1"  # the first conv Leaky layer of the demo model


def loss_gradient(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d(cross-entropy of the summed output spikes)/d(frames), through surrogate gradients."""
    x = x.detach().requires_grad_(True)
    utils.reset(net)
    with torch.enable_grad():
        outputs = torch.stack([net(xt)[0] for xt in x])
        loss = nn.functional.cross_entropy(class_scores(outputs), y)
        (grad,) = torch.autograd.grad(loss, x)
    utils.reset(net)
    return grad


def fgsm(net, x, y, eps):
    return (x + eps * loss_gradient(net, x, y).sign()).clamp_min(0)


def pgd(net, x, y, eps, steps=10):
    """Projected gradient ascent in the L-infinity ball of radius eps (frames stay >= 0)."""
    adv = x.clone()
    for _ in range(steps):
        adv = adv + eps / 4 * loss_gradient(net, adv, y).sign()
        adv = torch.maximum(torch.minimum(adv, x + eps), x - eps).clamp_min(0)
    return adv


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument(
        "--samples", type=int, default=297, help="test recordings (default: %(default)s)"
    )
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
    net = demo.trained_demo_net()
    x, y, dataset = event_digits(args.data, False, args.samples, demo.BINS)
    masks = dataset.object_masks(demo.BINS)[1:]

    def explained(frames: torch.Tensor) -> dict[str, SAMResult]:
        return {
            "SAM": explain(net, frames),
            "Grad-CAM": SNNGradCAM(net).attribute(frames, target=y),
        }

    clean = explained(x)
    clean_maps = {k: time_saliency(r, LAYER, (34, 34)) for k, r in clean.items()}
    print(
        f"{len(y)} test recordings, on average {x.mean():.3f} events per pixel and bin; random "
        f"maps of layer {LAYER} score {percent(chance(clean['SAM'].maps(LAYER)[1:], masks))} in "
        "the pointing game."
    )
    rows, curves, shown = [], {}, {}
    for attack in (None, fgsm, pgd):
        for eps in EPSILONS[1:] if attack else EPSILONS[:1]:
            results = explained(attack(net, x, y, eps)) if attack else clean
            acc = (class_scores(results["SAM"].outputs).argmax(1) == y).float().mean()
            hits = {k: pointing_game(r.maps(LAYER)[1:], masks).mean() for k, r in results.items()}
            moved = {
                k: (
                    1 - rank_correlation(time_saliency(r, LAYER, (34, 34)), clean_maps[k]).nanmean()
                ).abs()
                for k, r in results.items()
            }
            name = attack.__name__.upper() if attack else "none"
            rows.append([
                name, f"{eps:g}", percent(acc), percent(hits["SAM"]), percent(hits["Grad-CAM"]),
                f"{moved['SAM']:.2f}", f"{moved['Grad-CAM']:.2f}",
            ])  # fmt: skip
            for label in ("FGSM", "PGD") if not attack else (name,):
                for key, value in (("accuracy", acc), *hits.items()):
                    curves.setdefault(f"{label} {key}", []).append(float(value))
            if attack in (None, pgd) and eps in (0.0, 0.05, 0.2):
                shown[f"SAM, eps {eps:g}"] = results["SAM"].heatmap(LAYER, size=(34, 34))[:, 0]
                shown[f"Grad-CAM, eps {eps:g}"] = results["Grad-CAM"].heatmap(LAYER, (34, 34))[:, 0]
    header = ["attack", "eps", "accuracy", "SAM pointing", "Grad-CAM pointing", "SAM moved"]
    print_table([*header, "Grad-CAM moved"], rows)
    path = save_maps(
        args.out / "adversarial_maps.png",
        x[:, 0],
        shown,
        f"PGD on test recording 0 (label {int(y[0])}), layer {LAYER}: maps over the clean frames",
    )
    print(f"wrote {path}")
    fig, ax = plt.subplots(figsize=(5, 3))
    for label, values in curves.items():
        style = "--" if label.startswith("PGD") else "-"
        ax.plot(EPSILONS, values, style, marker="o", ms=3, label=label)
    ax.set_xlabel("epsilon (events per pixel and bin)")
    ax.set_ylabel("accuracy / pointing game")
    ax.legend(fontsize=6)
    fig.tight_layout()
    print(f"wrote {save_png(fig, args.out / 'adversarial_pointing.png', dpi=110)}")


if __name__ == "__main__":
    main()
