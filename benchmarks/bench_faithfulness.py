"""Faithfulness benchmark (not a test): SAM against SNN Grad-CAM, spike-count and random maps.

    python benchmarks/bench_faithfulness.py [--samples 100] [--data benchmarks/output/data]

The shipped demo model (snnTorch, sam_plugins_tonic.demo) on the first N emulated test digits
(N-MNIST-style recordings, 10 time bins of 30 ms), its two convolutional Leaky layers:
  - deletion / insertion AUC (Petsiuk et al. 2018) of the class probability (softmax of output
    spike counts) for the predicted class, pixels ranked by the maps summed over time;
  - pointing game (tolerance 1 px) per time bin against where the digit is in that bin
    (`SaccadeEmulator.footprint`), on the layer's raw maps, over bins 1..9: SAM has no map at
    bin 0 by definition;
  - randomisation check (Adebayo et al. 2018): Spearman correlation between the time-summed
    maps of the trained model and of a re-initialised copy (lower: the maps depend on what was
    learned), over the samples where both maps vary; "const." is the share where one does not
    (the re-initialised layer is silent).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import sam_plugins_demo as demo
import tonic.transforms as tt
import torch
from sam_plugins_demo import EmulatedDigits
from sam_plugins_tonic import collate_frames

from sam_plugins import RandomMap, SNNGradCAM, SpikeCount, class_scores, explain
from sam_plugins.metrics import (
    deletion_insertion,
    pointing_game,
    randomization_check,
    time_saliency,
)

METHODS = {
    "SAM": lambda m, x: explain(m, x),
    "Grad-CAM": lambda m, x: SNNGradCAM(m).attribute(x),
    "spike count": lambda m, x: SpikeCount(m).attribute(x),
    "random": lambda m, x: RandomMap(m).attribute(x),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--data", type=Path, default=Path("benchmarks/output/data"))
    args = parser.parse_args()
    torch.manual_seed(0)
    net = demo.trained_demo_net()
    to_frames = tt.ToFrame(EmulatedDigits.sensor_size, n_time_bins=demo.BINS)
    data = EmulatedDigits(args.data, train=False, limit=args.samples, transform=to_frames)
    frames, labels, _ = collate_frames([data[i] for i in range(len(data))])
    masks = data.object_masks(demo.BINS)
    predicted = class_scores(explain(net, frames).outputs).argmax(1)
    grown = torch.nn.functional.max_pool2d(masks[1:].flatten(0, 1)[:, None].float(), 3, 1, 1)
    print(
        f"demo model, {len(labels)} emulated test recordings, accuracy "
        f"{(predicted == labels).float().mean():.1%}; the object, grown by the 1 px tolerance, "
        f"covers {grown.mean():.0%} of the sensor per bin (about the pointing game's chance level)"
    )
    print(
        f"{'layer':>5} {'method':>12} {'deletion AUC':>13} {'insertion AUC':>14} "
        f"{'pointing':>9} {'rand. corr.':>12} {'const.':>7} {'s':>5}"
    )
    for layer in ("1", "3"):
        for name, method in METHODS.items():
            start = time.perf_counter()
            result = method(net, frames)
            saliency = time_saliency(result, layer, (34, 34))
            _, deletion = deletion_insertion(net, frames, saliency, predicted, "deletion")
            _, insertion = deletion_insertion(net, frames, saliency, predicted, "insertion")
            hits = pointing_game(result.maps(layer)[1:], masks[1:]).mean()
            correlation = randomization_check(method, net, frames, layer)
            silent = correlation.isnan().float().mean()
            print(
                f"{layer:>5} {name:>12} {deletion.mean():>13.3f} {insertion.mean():>14.3f} "
                f"{hits:>9.1%} {correlation.nanmean():>12.2f} {silent:>7.0%} "
                f"{time.perf_counter() - start:>5.1f}"
            )


if __name__ == "__main__":
    main()
