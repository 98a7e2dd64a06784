"""What SAM costs beside the floor of any recording hook, and how far the measurement itself
spreads: four arms side by side in one process, on the net of `shared/tools/overhead.py`.

    python benchmarks/bench_floor.py [--pairs 15]

Arms, timed in rotating order each round, reversed every other cycle of rounds (T=32, batch 32,
a new `SpikeActivationMap` per run, plus result()):
- `plain`: the plain forward; every other arm is divided by the `plain` run of its round;
- `plain again`: the same plain forward once more (an A/A test): its ratios spread as far as
  the measurement does, with no difference between the arms;
- `read once`: a forward hook on the two recorded layers that reads each step's spikes once
  in one compiled pass (counts them and checks them, `_numba.spike_census`) and keeps
  nothing: what any recorder that looks at every spike costs, at the least;
- `SAM`: SpikeActivationMap attached to the same layers.
Each arm's line also gives its median minor page faults per run: on a CPU the plain forward
faults in fresh heap pages as the allocator trims and regrows its heap around the model's
temporaries, by a different amount from process to process and from arm to arm, and a run's
ratio moves with its faults (about a microsecond and a half each here).
Quiet machine only (load under 0.5); the last line also gives the free memory and page cache at
the start (a page cache filling memory makes page faults dearer). Needs the numba backend.
"""

from __future__ import annotations

import argparse
import os
import statistics
import warnings

import torch
from bench_defer import LIF, forward_of, load_text, overhead_net, ratio_text, timed_rounds
from check_overhead import free_memory

from sam_plugins import SpikeActivationMap
from sam_plugins.engine import _numba
from sam_plugins.methods import SilentLayerWarning

LAYERS = ["1", "4"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15, help="rounds of timings")
    args = parser.parse_args(argv)
    torch.manual_seed(3)
    warnings.simplefilter("ignore", SilentLayerWarning)  # untrained: an idle output layer
    net = overhead_net().eval()
    forward = forward_of(net, LIF, (torch.rand(32, 32, 2, 32, 32) < 0.3).float() * 2)
    layers = [net.get_submodule(name) for name in LAYERS]
    seen = [0]

    def read(module, inputs, spikes):
        seen[0] += _numba.spike_census(spikes, False)[0]

    def read_once():
        hooks = [layer.register_forward_hook(read) for layer in layers]
        try:
            forward()
        finally:
            for hook in hooks:
                hook.remove()

    def attached():
        with SpikeActivationMap(net, layers=LAYERS) as sam:
            forward()
        sam.result()

    arms = {"plain": forward, "plain again": forward, "read once": read_once, "SAM": attached}
    load, memory = os.getloadavg()[0], free_memory()
    with torch.no_grad():
        ratios, faults = timed_rounds(arms, args.pairs)
    if not seen[0]:  # the hook read nothing: the floor would be no floor
        raise RuntimeError(f"layers {LAYERS} emitted no spike: the read-once arm timed nothing")
    after = os.getloadavg()[0]
    print(
        f"overhead.py's net, T=32, batch 32, {torch.get_num_threads()} threads, {args.pairs} rounds"
    )
    print(f"  {'plain:':<12} page faults per run: median {statistics.median(faults['plain']):.0f}")
    for name, values in ratios.items():
        print(
            f"  {name + ':':<12} {ratio_text(values)}; page faults per run: median "
            f"{statistics.median(faults[name]):.0f}"
        )
    print(f"{load_text(load, after)}; at the start {memory}")


if __name__ == "__main__":
    main()
