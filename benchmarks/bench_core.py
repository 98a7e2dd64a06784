"""Core benchmark (not a test): engine vs the literal double sum, and the cost of attaching SAM.

    python benchmarks/bench_core.py [--device cpu|cuda] [--repeats 21] [--runs 5]

Prints, from one run on one machine:
  1. streaming engine vs literal O(T^2) sum at T = 8, 32, 128 (layer [B=8, C=16, 16, 16]);
  2. conv SNNs at T = 32, batch 32, input 2x32x32: wall time of the plain forward and of the
     same forward with SpikeActivationMap attached to all neuron layers, and their ratio.
     Each repeat times the two back to back, in alternating order, and the ratio of a run is the
     median of those paired ratios: drift in machine load between repeats hits both sides of a
     pair alike. `--runs` such runs (fresh model and data each) are made per model; the figure
     is their median.
     - dvs_vgg: [conv3x3-BN-LIF-maxpool] x 3 (32/64/128 channels) -> fc -> LIF, the usual
       event-camera SNN;
     - minimal: conv(16)-LIF-avgpool-conv(32)-LIF-avgpool-fc-LIF, almost no compute besides
       the neurons: the worst case for any per-neuron recording;
     - snn_vgg: dvs_vgg with snnTorch Leaky neurons (when snnTorch is installed), the same
       network as users run it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import ConvSNN, PlainLIF, dvs_vgg  # noqa: E402

from sam_plugins import SpikeActivationMap, spike_activation_map  # noqa: E402
from sam_plugins.engine import backend  # noqa: E402
from sam_plugins.testing.reference import literal_spike_activation_map  # noqa: E402


def timed(fn, device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def median_time(fn, device: str, repeats: int) -> float:
    fn()  # warm-up
    return statistics.median(timed(fn, device) for _ in range(repeats))


def bench_engine(device: str, repeats: int) -> None:
    print("engine: streaming vs literal double sum, spikes [T, 8, 16, 16, 16]")
    print(f"{'T':>5} {'streaming ms':>13} {'literal ms':>11} {'speed-up':>9}")
    for steps in (8, 32, 128):
        spikes = (torch.rand(steps, 8, 16, 16, 16, device=device) < 0.2).float()
        fast = median_time(lambda s=spikes: spike_activation_map(s, 0.5), device, repeats)
        slow = median_time(
            lambda s=spikes: literal_spike_activation_map(s, 0.5), device, max(1, repeats // 3)
        )
        print(f"{steps:>5} {fast * 1e3:>13.2f} {slow * 1e3:>11.2f} {slow / fast:>8.1f}x")


def bench_attached(
    make, device: str, repeats: int, steps: int = 32, batch: int = 32, with_ratios: bool = False
):
    """One run: (median plain seconds, median attached seconds, median paired ratio, layers),
    and the paired ratios themselves if `with_ratios`."""
    net = make().to(device).eval()
    plain_neurons = [m for m in net.modules() if isinstance(m, PlainLIF)]
    sam = SpikeActivationMap(net, layers=[PlainLIF] if plain_neurons else None)
    x = (torch.rand(steps, batch, 2, 32, 32, device=device) < 0.3).float() * 2

    def forward():
        for m in plain_neurons:
            m.reset()
        sam.runner.reset(net)  # the framework's reset (snnTorch); nothing for plain torch
        with torch.no_grad():
            for xt in x:
                net(xt)

    def forward_with_sam():
        sam.reset()
        with sam:
            forward()
        sam.result()

    plain_times, sam_times = [], []
    forward(), forward_with_sam()  # warm-up
    for i in range(repeats):
        if i % 2:
            sam_times.append(timed(forward_with_sam, device))
            plain_times.append(timed(forward, device))
        else:
            plain_times.append(timed(forward, device))
            sam_times.append(timed(forward_with_sam, device))
    ratios = [s / p for s, p in zip(sam_times, plain_times, strict=True)]
    result = (
        statistics.median(plain_times),
        statistics.median(sam_times),
        statistics.median(ratios),
        len(sam.layers),
    )
    return (*result, ratios) if with_ratios else result


def report_attached(name, make, device: str, repeats: int, runs: int) -> None:
    results = [bench_attached(make, device, repeats) for _ in range(runs)]
    plain = statistics.median(r[0] for r in results)
    attached = statistics.median(r[1] for r in results)
    ratios = [r[2] for r in results]
    each = " ".join(f"{r:.3f}" for r in ratios)
    print(
        f"{name:>8} {results[0][3]:>7} {plain * 1e3:>10.1f} {attached * 1e3:>10.1f} "
        f"{statistics.median(ratios):>7.3f}x   {each}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=21, help="paired timings per run")
    parser.add_argument("--runs", type=int, default=5, help="runs per model")
    args = parser.parse_args()
    step = f"{backend.current().name} backend"
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {args.device}, "
        f"SAM step: {step}\n"
    )
    bench_engine(args.device, args.repeats)
    print(
        f"\nSAM attached vs plain forward, T=32, batch=32, input 2x32x32: {args.runs} runs of "
        f"{args.repeats} paired timings; ms are medians, ratio the median of the runs' ratios"
    )
    print(
        f"{'model':>8} {'neurons':>7} {'plain ms':>10} {'+SAM ms':>10} {'ratio':>8}   "
        "ratio of each run"
    )
    report_attached("dvs_vgg", dvs_vgg, args.device, args.repeats, args.runs)
    report_attached(
        "minimal", lambda: ConvSNN(size=32, width=16), args.device, args.repeats, args.runs
    )
    try:
        import snntorch as snn
    except ImportError:
        return
    leaky = lambda: snn.Leaky(beta=0.8, init_hidden=True)  # noqa: E731
    report_attached("snn_vgg", lambda: dvs_vgg(neuron=leaky), args.device, args.repeats, args.runs)


if __name__ == "__main__":
    main()
