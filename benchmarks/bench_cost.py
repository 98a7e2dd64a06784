"""Cost benchmark (not a test): time and peak memory of SAM and SNN Grad-CAM against the plain
forward, at T = 8, 32, 128, on a conv SNN from snnTorch and from SpikingJelly.

    python benchmarks/bench_cost.py [--repeats 7] [--batch 8]

Time: median of interleaved runs of the methods on one model (reversed order every other
repeat); a ratio is the median of the method's time over the plain forward's in the same
repeat. SAM is `sam.attribute(x)` with a `SpikeActivationMap` made once (explaining batch after
batch); `explain()`, the one-call form that finds the neuron layers and sets everything up
each time, is given as a ratio too.
Peak memory: each (framework, method, T) in a fresh process, the growth of the process's peak
resident set (Linux VmHWM, reset before the run) while the method runs once, after a run on one
step of one sample that pays the one-time costs (CPU), or torch's peak allocation (CUDA).
Model: [conv3x3(2->16) -> LIF -> maxpool2] -> [conv3x3(16->32) -> LIF -> maxpool2] -> fc -> LIF,
input 2x32x32, batch 8; SAM over all LIF layers (raw spikes not kept), Grad-CAM over the two
conv LIF layers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn


def snntorch_net():
    import snntorch as snn

    return nn.Sequential(
        nn.Conv2d(2, 16, 3, padding=1),
        snn.Leaky(beta=0.8, init_hidden=True),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        snn.Leaky(beta=0.8, init_hidden=True),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 8 * 8, 10),
        snn.Leaky(beta=0.8, init_hidden=True, output=True),
    )


def spikingjelly_net():
    from spikingjelly.activation_based import functional, layer, neuron

    net = nn.Sequential(
        layer.Conv2d(2, 16, 3, padding=1),
        neuron.LIFNode(),
        layer.MaxPool2d(2),
        layer.Conv2d(16, 32, 3, padding=1),
        neuron.LIFNode(),
        layer.MaxPool2d(2),
        layer.Flatten(),
        layer.Linear(32 * 8 * 8, 10),
        neuron.LIFNode(),
    )
    functional.set_step_mode(net, "m")
    return net


def methods(framework: str, steps: int, batch: int, device: str) -> dict:
    """The three ways to run the model, as zero-argument callables, on one fresh model."""
    from sam_plugins import SNNGradCAM, SpikeActivationMap, explain

    torch.manual_seed(0)
    net = (snntorch_net if framework == "snntorch" else spikingjelly_net)().to(device).eval()
    x = ((torch.rand(steps, batch, 2, 32, 32) < 0.3).float() * 2).to(device)
    sam = SpikeActivationMap(net)  # made once, as for a stream of batches
    runner = sam.runner  # the framework's reset and time loop

    def plain():
        runner.reset(net)
        with torch.no_grad():
            runner.run(net, x)

    return {
        "plain": plain,
        "SAM": lambda: sam.attribute(x),
        "explain()": lambda: explain(net, x),
        "Grad-CAM": lambda: SNNGradCAM(net).attribute(x),
    }


def peak_memory(framework: str, method: str, steps: int, batch: int, device: str) -> float:
    """MiB the method adds at its peak, run once in this (fresh) process."""
    methods(framework, 1, 1, device)[method]()  # one-time costs (imports, numba's compiling)
    run = methods(framework, steps, batch, device)[method]
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    # VmHWM (peak resident set) belongs to this process image; ru_maxrss would include the
    # parent's peak from before exec. Writing 5 to clear_refs resets the peak to the current.
    Path("/proc/self/clear_refs").write_text("5")
    base = _status_kib("VmRSS")
    run()
    return (_status_kib("VmHWM") - base) / 1024


def _status_kib(field: str) -> int:
    line = next(
        x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(field)
    )
    return int(line.split()[1])


def times(framework: str, steps: int, batch: int, repeats: int, device: str) -> dict:
    """Per method: median seconds, and the median of its ratios to the plain forward timed in
    the same repeat. The methods are interleaved, in reversed order every other repeat, so that
    drift in machine load and the order hit all alike."""
    runs = methods(framework, steps, batch, device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    seen: dict[str, list[float]] = {name: [] for name in runs}
    for name in runs:  # warm-up
        runs[name]()
    for i in range(repeats):
        for name in list(runs)[:: -1 if i % 2 else 1]:
            sync()
            start = time.perf_counter()
            runs[name]()
            sync()
            seen[name].append(time.perf_counter() - start)
    plain = seen["plain"]
    return {
        name: (
            statistics.median(values),
            statistics.median(v / p for v, p in zip(values, plain, strict=True)),
        )
        for name, values in seen.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # framework,method,steps: child mode
    args = parser.parse_args()
    if args.one:
        framework, method, steps = args.one.split(",")
        print(json.dumps(peak_memory(framework, method, int(steps), args.batch, args.device)))
        return
    print(
        f"torch {torch.__version__}, device {args.device}, batch {args.batch}, time: median of "
        f"{args.repeats} interleaved runs, ratios: median of the ratios to the plain forward of "
        "the same repeat; memory: peak growth while the method runs once (after a 1-step run "
        "that pays one-time costs)"
    )
    print(
        f"{'framework':>12} {'T':>4} {'plain ms':>9} {'SAM ms':>9} {'SAM x':>6} "
        f"{'explain() x':>11} {'Grad-CAM ms':>12} {'G-C x':>6} {'plain MiB':>10} "
        f"{'SAM MiB':>8} {'G-C MiB':>8}"
    )
    for framework in ("snntorch", "spikingjelly"):
        for steps in (8, 32, 128):
            secs = times(framework, steps, args.batch, args.repeats, args.device)
            mib = {}
            for method in ("plain", "SAM", "Grad-CAM"):
                child = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--one",
                        f"{framework},{method},{steps}",
                        "--batch",
                        str(args.batch),
                        "--device",
                        args.device,
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                mib[method] = json.loads(child.stdout.strip().splitlines()[-1])
            (plain, _), (sam, sam_x), (cam, cam_x) = (secs[m] for m in ("plain", "SAM", "Grad-CAM"))
            print(
                f"{framework:>12} {steps:>4} {plain * 1e3:>9.1f} {sam * 1e3:>9.1f} "
                f"{sam_x:>5.2f}x {secs['explain()'][1]:>10.2f}x "
                f"{cam * 1e3:>12.1f} {cam_x:>5.2f}x "
                f"{mib['plain']:>10.1f} {mib['SAM']:>8.1f} {mib['Grad-CAM']:>8.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
