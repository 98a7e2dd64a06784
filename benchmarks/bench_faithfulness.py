"""Faithfulness benchmark (not a test): SAM against SNN Grad-CAM, spike-count, random maps and
Captum's Saliency, IntegratedGradients, Occlusion (input maps) and LayerGradCam (per step).

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
import functools
import time
from pathlib import Path

import sam_plugins_demo as demo
import torch
from sam_plugins_demo import EmulatedDigits
from sam_plugins_tonic.events import to_frames

from sam_plugins import CaptumMethod, RandomMap, SNNGradCAM, SpikeCount, class_scores, explain
from sam_plugins.analysis import collate_frames
from sam_plugins.metrics import (
    deletion_insertion,
    pointing_game,
    randomization_check,
    time_saliency,
)
from sam_plugins.plugins import GenericAdapter, adapter_for_model, installed_adapters

METHODS = {
    "SAM": lambda m, x, layer: explain(m, x),
    "Grad-CAM": lambda m, x, layer: SNNGradCAM(m).attribute(x),
    "spike count": lambda m, x, layer: SpikeCount(m).attribute(x),
    "random": lambda m, x, layer: RandomMap(m).attribute(x),
    "LayerGradCam": lambda m, x, layer: CaptumMethod(
        m, [layer], algorithm="LayerGradCam"
    ).attribute(x),
}
OCCLUSION = {"size": 4, "stride": 3}
INPUT_METHODS = {
    "Saliency": {},
    "IntegratedGradients": {"n_steps": 8, "internal_batch_size": 400},
    "Occlusion": {"perturbations_per_eval": 4},
}


def input_method(name: str):
    def method(m, x, layer):
        kwargs = dict(INPUT_METHODS[name])
        if name == "Occlusion":  # a square of pixels in every bin and both polarities
            size, stride = OCCLUSION["size"], OCCLUSION["stride"]
            kwargs["sliding_window_shapes"] = (x.shape[0], x.shape[2], size, size)
            kwargs["strides"] = (x.shape[0], x.shape[2], stride, stride)
        return CaptumMethod(m, algorithm=name, attribute_kwargs=kwargs).attribute(x)

    return method


def infidelity(net, frames, result, layer, target) -> torch.Tensor:
    """captum.metrics.infidelity [B] of the layer's display maps, upsampled to the input."""
    from captum.metrics import infidelity as captum_infidelity

    size = tuple(frames.shape[-2:])
    heat = result.heatmap(layer, size=size)  # [T, B, H, W]
    attributions = heat.transpose(0, 1)[:, :, None].expand(-1, -1, frames.shape[2], -1, -1)
    generator = torch.Generator().manual_seed(0)

    def perturb(x):  # remove the events of a random quarter of the pixels, all bins
        drop = torch.rand(x.shape[0], 1, 1, *x.shape[-2:], generator=generator) < 0.25
        removed = x * drop
        return removed, x - removed

    adapter = adapter_for_model(net, installed_adapters(), GenericAdapter())

    def forward(x):  # batch first, as Captum wants; the model reset before each run
        adapter.reset(net)
        return class_scores(adapter.run(net, x.transpose(0, 1)))

    return captum_infidelity(
        forward,
        perturb,
        frames.transpose(0, 1).contiguous(),
        attributions.contiguous(),
        target=target,
        n_perturb_samples=10,
        normalize=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--data", type=Path, default=Path("benchmarks/output/data"))
    args = parser.parse_args()
    torch.manual_seed(0)
    net = demo.trained_demo_net()
    framing = to_frames(EmulatedDigits.sensor_size, demo.BINS)
    data = EmulatedDigits(args.data, train=False, limit=args.samples, transform=framing)
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
        f"{'layer':>5} {'method':>19} {'deletion AUC':>13} {'insertion AUC':>14} "
        f"{'pointing':>9} {'rand. corr.':>12} {'const.':>7} {'infidelity':>11} {'s':>6}"
    )
    rows = [(layer, name, method) for layer in ("1", "3") for name, method in METHODS.items()]
    rows += [("input", name, input_method(name)) for name in INPUT_METHODS]
    for layer, name, method in rows:
        start = time.perf_counter()
        result = method(net, frames, layer)
        saliency = time_saliency(result, layer, (34, 34))
        _, deletion = deletion_insertion(net, frames, saliency, predicted, "deletion")
        _, insertion = deletion_insertion(net, frames, saliency, predicted, "insertion")
        hits = pointing_game(result.maps(layer)[1:], masks[1:]).mean()
        explain_layer = functools.partial(lambda m, x, f, name: f(m, x, name), f=method, name=layer)
        correlation = randomization_check(explain_layer, net, frames, layer)
        silent = correlation.isnan().float().mean()
        infid = infidelity(net, frames, result, layer, predicted)
        print(
            f"{layer:>5} {name:>19} {deletion.mean():>13.3f} {insertion.mean():>14.3f} "
            f"{hits:>9.1%} {correlation.nanmean():>12.2f} {silent:>7.0%} "
            f"{infid.mean():>11.3g} {time.perf_counter() - start:>6.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
