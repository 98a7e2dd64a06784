"""Faithfulness benchmark (not a test): SAM against SNN Grad-CAM, spike-count, random maps and
Captum's Saliency, IntegratedGradients, Occlusion (input maps) and LayerGradCam (per step).

    python benchmarks/bench_faithfulness.py [--samples 100] [--data benchmarks/output/data]
    python benchmarks/bench_faithfulness.py --dataset shd [--samples 100] [--epochs 4]
    python benchmarks/bench_faithfulness.py --dataset timing [--samples 100] [--epochs 12]

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

With ``--dataset shd``: a fully connected snnTorch SNN (700 -> 128 -> 20, `sam_plugins_tonic.audio`)
trained for a few seeded epochs on emulated SHD (tonic's own layout, 40 bins), explained on the
input channels of the first N test recordings: Temporal Spike Attribution ("s", "ns") for the
predicted class, SAM and spike count of the input spike trains (class-agnostic), random maps,
Captum's Saliency and IntegratedGradients. Deletion / insertion of input channels (all bins),
ranked by each map summed over time; the randomisation check as above; and class sensitivity:
the Spearman correlation between the maps for the predicted class and for the runner-up (1 for
a method that ignores the class).

With ``--dataset timing`` (issue 32: when does SAM add over a spike count?): the two-class patch
task of `timing_task.py` twice, once with the class in spike timing only (every pixel fires
exactly once; the class is which pixels fire together) and once in spike counts only; a small
snnTorch SNN trained on each (seeded, one thread, deterministic algorithms). SAM (both windows),
spike count, SNN Grad-CAM and random maps of the two convolutional layers, the input's spike
count and Captum's IntegratedGradients (through `CaptumMethod`), for the predicted class:
deletion / insertion AUC, pointing game (the time-summed raw map's maximum on the patch,
tolerance 1 px) and the randomisation check. Prints a markdown table: the same numbers every run.
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

from sam_plugins import (
    CaptumMethod,
    LayerSAM,
    RandomMap,
    SAMResult,
    SNNGradCAM,
    SpikeCount,
    TemporalSpikeAttribution,
    class_scores,
    explain,
    spike_activation_map,
)
from sam_plugins.analysis import collate_frames
from sam_plugins.metrics import (
    deletion_insertion,
    pointing_game,
    randomization_check,
    randomized_copy,
    rank_correlation,
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


AUDIO_METHODS = {
    "TSA (s)": lambda m, x, target: TemporalSpikeAttribution(m, variant="s").attribute(x, target),
    "TSA (ns)": lambda m, x, target: TemporalSpikeAttribution(m, variant="ns").attribute(x, target),
    "SAM (input spikes)": lambda m, x, target: _input_result(spike_activation_map(x), "SAM"),
    "spike count (input)": lambda m, x, target: _input_result((x != 0).float().sum(2), "count"),
    "random": lambda m, x, target: _input_result(
        torch.rand(x.shape[:2] + x.shape[3:], generator=torch.Generator().manual_seed(0)), "random"
    ),
    "Saliency": lambda m, x, target: CaptumMethod(m, algorithm="Saliency").attribute(x, target),
    "IntegratedGradients": lambda m, x, target: CaptumMethod(
        m, algorithm="IntegratedGradients", attribute_kwargs={"n_steps": 8}
    ).attribute(x, target),
}


def _input_result(maps: torch.Tensor, method: str) -> SAMResult:
    """A result whose one layer "input" holds `maps` [T, B, ...]."""
    layer = LayerSAM("input", maps, None, maps.flatten(2).sum(2), kind="input")
    return SAMResult({"input": layer}, gamma=None, method=method)


def channel_saliency(result: SAMResult) -> torch.Tensor:
    """[B, 1, channels]: the input map summed over time (signed: TSA's negative evidence ranks
    last), as `deletion_insertion` takes it for inputs [T, B, 1, 1, channels]."""
    maps = result.maps("input")
    return maps.reshape(maps.shape[0], maps.shape[1], 1, -1).sum(0)


def audio_main(args: argparse.Namespace) -> None:
    import tonic
    from sam_plugins_tonic.audio import SENSOR_SIZE, ChannelFrames, train_audio_net, write_shd

    for train in (True, False):
        write_shd(args.data, train=train)
    framing = ChannelFrames(SENSOR_SIZE, 40)
    train = tonic.datasets.SHD(str(args.data), train=True, transform=framing)
    test = tonic.datasets.SHD(str(args.data), train=False, transform=framing)
    train_x, train_y, _ = collate_frames([train[i] for i in range(len(train))])
    start = time.perf_counter()
    net = train_audio_net(train_x, train_y, args.epochs)
    count = min(args.samples, len(test))
    frames, labels, _ = collate_frames([test[i] for i in range(count)])
    frames = frames[:, :, None, None]  # [T, B, 1, 1, 700]: one row of channels
    scores = class_scores(explain(net, frames).outputs)
    predicted, runner_up = scores.topk(2, dim=1).indices.T
    print(
        f"fully connected SNN (700-128-20), {args.epochs} epochs on {len(train_y)} emulated SHD "
        f"recordings in {time.perf_counter() - start:.0f} s; {count} test recordings, accuracy "
        f"{(predicted == labels).float().mean():.1%}"
    )
    print(
        f"{'method':>20} {'deletion AUC':>13} {'insertion AUC':>14} {'rand. corr.':>12} "
        f"{'const.':>7} {'class corr.':>12} {'s':>6}"
    )
    shuffled = randomized_copy(net)
    for name, method in AUDIO_METHODS.items():
        start = time.perf_counter()
        saliency = channel_saliency(method(net, frames, predicted))
        _, deletion = deletion_insertion(net, frames, saliency, predicted, "deletion")
        _, insertion = deletion_insertion(net, frames, saliency, predicted, "insertion")
        correlation = rank_correlation(
            saliency, channel_saliency(method(shuffled, frames, predicted))
        )
        other = rank_correlation(saliency, channel_saliency(method(net, frames, runner_up)))
        print(
            f"{name:>20} {deletion.mean():>13.3f} {insertion.mean():>14.3f} "
            f"{correlation.nanmean():>12.2f} {correlation.isnan().float().mean():>7.0%} "
            f"{other.nanmean():>12.2f} {time.perf_counter() - start:>6.1f}",
            flush=True,
        )


TIMING_METHODS = {
    "SAM (previous)": lambda m, x, layer: explain(m, x, window="previous"),
    "SAM (inclusive)": lambda m, x, layer: explain(m, x, window="inclusive"),
    "spike count": lambda m, x, layer: SpikeCount(m).attribute(x),
    "SNN Grad-CAM": lambda m, x, layer: SNNGradCAM(m).attribute(x),
    "random": lambda m, x, layer: RandomMap(m).attribute(x),
}
TIMING_INPUT_METHODS = {
    "spike count": lambda m, x, layer: _input_result((x != 0).float().sum(2), "count"),
    "Captum IG (8 steps)": lambda m, x, layer: CaptumMethod(
        m, algorithm="IntegratedGradients", attribute_kwargs={"n_steps": 8}
    ).attribute(x),
}


def timing_scores(net, frames, masks, predicted, layer, method, chunk: int = 20) -> list[float]:
    """[deletion AUC, insertion AUC, pointing game, randomisation correlation, share of constant
    maps in it] of one method (`method(model, frames, layer)` -> SAMResult) for the predicted
    classes, means over the samples (run `chunk` samples at a time: small batches stay in the
    CPU's cache); the pointing game on the layer's raw maps summed over time, against the
    patch."""
    explain_layer = functools.partial(lambda m, x, f, name: f(m, x, name), f=method, name=layer)
    parts = []
    for start in range(0, frames.shape[1], chunk):
        x, target = frames[:, start : start + chunk], predicted[start : start + chunk]
        result = method(net, x, layer)
        saliency = time_saliency(result, layer, tuple(x.shape[-2:]))
        _, deletion = deletion_insertion(net, x, saliency, target, "deletion")
        _, insertion = deletion_insertion(net, x, saliency, target, "insertion")
        hits = pointing_game(result.maps(layer).sum(0), masks[start : start + chunk])
        correlation = randomization_check(explain_layer, net, x, layer)
        parts.append(torch.stack([deletion, insertion, hits.float(), correlation]))
    deletion, insertion, hits, correlation = torch.cat(parts, 1)
    return [
        deletion.mean(),
        insertion.mean(),
        hits.mean(),
        correlation.nanmean(),
        correlation.isnan().float().mean(),
    ]


def timing_main(args: argparse.Namespace) -> None:
    """Issue 32: the patch task twice (timing_task.py), class in spike timing only and
    class in spike counts only; one seeded markdown report, the same numbers every run."""
    import warnings

    from timing_task import CLASSES, TRAIN, patch_task, shuffle_times, train_patch_net

    from sam_plugins.methods import SilentLayerWarning

    torch.set_num_threads(1)  # one thread and deterministic kernels: the same numbers again
    torch.use_deterministic_algorithms(True)
    # a re-initialised copy's layers may be silent (the randomisation check's "const."); the
    # trained models' layers are checked below
    warnings.simplefilter("ignore", SilentLayerWarning)
    rows: dict[tuple[str, str], list[list[float]]] = {}
    print(f"Two-class patch task ({', '.join(CLASSES)}), {TRAIN} training and "
          f"{args.samples} test recordings per code, {args.epochs} epochs:\n")  # fmt: skip
    for code in ("rate", "timing"):
        train_x, train_y, _ = patch_task(TRAIN, code, seed=1)
        frames, labels, masks = patch_task(args.samples, code, seed=2)
        net = train_patch_net(train_x, train_y, args.epochs)
        result = explain(net, frames)
        predicted = class_scores(result.outputs).argmax(1)
        shuffled = class_scores(explain(net, shuffle_times(frames, seed=3)).outputs).argmax(1)
        rates = {name: result[name].spike_count.double().mean() / result.steps for name in result}
        if not all(rates.values()):
            raise SystemExit(f"error: a layer of the {code} model is silent: {rates}")
        firing = ", ".join(f"{name} {rate:.2f}" for name, rate in rates.items())
        grown = torch.nn.functional.max_pool2d(masks[:, None].float(), 3, 1, 1).mean()
        print(
            f"- {code}: accuracy {(predicted == labels).float().mean():.1%}; with each pixel's "
            f"spike times shuffled {(shuffled == labels).float().mean():.1%}; spikes per "
            f"recording and step in layers {firing}; the patch, grown by 1 px, covers "
            f"{grown:.0%} of the frame (the pointing game's chance level)"
        )
        methods = [(layer, name, f) for layer in ("1", "3") for name, f in TIMING_METHODS.items()]
        methods += [("input", name, f) for name, f in TIMING_INPUT_METHODS.items()]
        for layer, name, method in methods:
            scores = timing_scores(net, frames, masks, predicted, layer, method)
            rows.setdefault((layer, name), []).append(scores)
    print(
        "\n| layer | method | deletion AUC (lower better) rate / timing | insertion AUC "
        "(higher better) rate / timing | pointing game rate / timing | rand. corr. rate / "
        "timing | const. rate / timing |\n|---|---|---|---|---|---|---|"
    )
    for (layer, name), (rate, timing) in rows.items():
        cells = [f"{a:.3f} / {b:.3f}" for a, b in zip(rate[:2], timing[:2], strict=True)]
        cells.append(f"{rate[2]:.0%} / {timing[2]:.0%}")
        cells.append(f"{rate[3]:.2f} / {timing[3]:.2f}")
        cells.append(f"{rate[4]:.0%} / {timing[4]:.0%}")
        print(f"| {layer} | {name} | {' | '.join(cells)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("digits", "shd", "timing"), default="digits")
    parser.add_argument("--samples", type=int, default=None, help="test recordings (100)")
    parser.add_argument("--data", type=Path, default=None, help="default benchmarks/output/data")
    parser.add_argument(
        "--epochs", type=int, default=None, help="SHD, timing: training epochs (4, 12; seeded)"
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    args.samples = args.samples or 100
    if args.dataset == "timing":
        args.epochs = args.epochs or 12
        return timing_main(args)
    args.epochs = args.epochs or 4
    if args.dataset == "shd":
        args.data = args.data or Path("benchmarks/output/shd-data")
        return audio_main(args)
    args.data = args.data or Path("benchmarks/output/data")
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
