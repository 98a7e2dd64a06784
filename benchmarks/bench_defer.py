"""How many one-step calls SAM keeps as bits before one pass runs them (`engine.streaming.DEFER`):
the cost of SAM attached with blocks of 16 and of 32 steps, side by side in one process.

    python benchmarks/bench_defer.py [--net overhead|dvs_vgg] [--pairs 15] [--steps 32]

Nets (`--net`): `overhead`, the conv SNN of `shared/tools/overhead.py` (2->32->64 channels on
32x32, AvgPool, its own LIF; SAM on its two conv LIF layers), or `dvs_vgg` with two conv stages
(BatchNorm, MaxPool, PlainLIF; SAM on its three neuron layers); batch 32, single-step, a new
`SpikeActivationMap` per run (plus result()). Each round times the plain forward and the
forward with SAM for each block size, in rotating order (reversed every other cycle); prints
each block size's median ratio to the plain run of its round. All arms run in one process, so
that they share its allocator and cache conditions, which differ more from one process to the
next than the two block sizes do. Quiet machine only (load under 0.5).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
import warnings

import torch
from check_overhead import QUIET
from models import PlainLIF, dvs_vgg
from torch import nn

from sam_plugins import SpikeActivationMap
from sam_plugins.engine import streaming
from sam_plugins.methods import SilentLayerWarning


class LIF(nn.Module):
    """`shared/tools/overhead.py`'s neuron: v = 0.9 v + x, a spike where v > 1, v minus it."""

    def __init__(self) -> None:
        super().__init__()
        self.v = None

    def forward(self, x):
        self.v = x if self.v is None else 0.9 * self.v + x
        out = (self.v > 1).float()
        self.v = self.v - out
        return out

    def reset(self) -> None:
        self.v = None


def overhead_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 32, 3, padding=1), LIF(), nn.AvgPool2d(2), nn.Conv2d(32, 64, 3, padding=1),
        LIF(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64 * 8 * 8, 10), LIF(),
    )  # fmt: skip


def forward_of(net: nn.Module, neurons: type, x: torch.Tensor):
    """The plain forward of `net` over `x` [T, ...], one call per step, its `neurons` reset."""

    def forward():
        for module in net.modules():
            if isinstance(module, neurons):
                module.reset()
        for step in x:
            net(step)

    return forward


def timed_rounds(arms: dict, rounds: int) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
    """Each arm run once untimed (a warm-up: kernels compiled, buffers in the pool), then once per
    round, in rotating order, reversed every other cycle of rounds (so that no arm always runs
    right after the same one). Returns, per arm but "plain", its time over the "plain" arm's of
    the same round, and per arm its runs' minor page faults."""
    for run in arms.values():
        run()
    names = list(arms)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    faults: dict[str, list[int]] = {name: [] for name in names}
    for i in range(rounds):
        order = names[i % len(names) :] + names[: i % len(names)]
        if (i // len(names)) % 2:
            order.reverse()
        for name in order:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            arms[name]()
            seconds[name].append(time.perf_counter() - start)
            faults[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    plain = seconds.pop("plain")
    ratios = {
        name: [t / p for t, p in zip(times, plain, strict=True)] for name, times in seconds.items()
    }
    return ratios, faults


def ratio_text(ratios: list[float]) -> str:
    """A median of ratios to the plain forward, with their range."""
    return (
        f"median {statistics.median(ratios):.3f}x the plain forward "
        f"({min(ratios):.3f}-{max(ratios):.3f})"
    )


def load_text(load: float, after: float) -> str:
    """The load before and after a run, and whether it was too high for the run to count."""
    quiet = "" if max(load, after) <= QUIET else ": too loaded to count"
    return f"load {load:.2f} -> {after:.2f}{quiet}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", choices=["overhead", "dvs_vgg"], default="overhead")
    parser.add_argument("--pairs", type=int, default=15, help="rounds of timings")
    parser.add_argument("--steps", type=int, default=32, help="time steps T")
    args = parser.parse_args(argv)
    torch.manual_seed(3)
    warnings.simplefilter("ignore", SilentLayerWarning)  # untrained nets: an idle output layer
    if args.net == "overhead":
        net, neurons, layers = overhead_net().eval(), LIF, ["1", "4"]
    else:
        net, neurons, layers = dvs_vgg(widths=(32, 64)).eval(), PlainLIF, PlainLIF
    forward = forward_of(net, neurons, (torch.rand(args.steps, 32, 2, 32, 32) < 0.3).float() * 2)

    def attached(defer: int):
        streaming.DEFER = defer  # read as each block of steps begins
        with SpikeActivationMap(net, layers=layers) as sam:
            forward()
        planes = [stream._planes for stream in sam._streams.values()]
        if any(p is None or len(p) != defer for p in planes):  # not timing what it says
            raise RuntimeError(f"SAM's layers did not keep blocks of {defer} steps as bits")
        sam.result()

    arms = {"plain": forward, "DEFER=16": lambda: attached(16), "DEFER=32": lambda: attached(32)}
    kept = streaming.DEFER
    load = os.getloadavg()[0]
    try:
        with torch.no_grad():
            ratios, _ = timed_rounds(arms, args.pairs)
    finally:
        streaming.DEFER = kept
    after = os.getloadavg()[0]
    threads = torch.get_num_threads()
    print(f"{args.net}, T={args.steps}, batch 32, {threads} threads, {args.pairs} rounds")
    for name, values in ratios.items():
        print(f"  SAM attached, {name}: {ratio_text(values)}")
    print(load_text(load, after))


if __name__ == "__main__":
    main()
