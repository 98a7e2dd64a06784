"""What SAM costs beside the floor of any recording hook, and how far the measurement itself
spreads: six arms side by side in one process, on the net of `shared/tools/overhead.py`.

    python benchmarks/bench_floor.py [--pairs 15]

Arms, timed in rotating order each round, reversed every other cycle of rounds (T=32, batch 32,
a new `SpikeActivationMap` per run, plus result()):
- `plain`: the plain forward; every other arm is divided by the `plain` run of its round;
- `plain again`: the same plain forward once more (an A/A test): its ratios spread as far as
  the measurement does, with no difference between the arms;
- `read once`: a forward hook on the two recorded layers that reads each step's spikes once
  in one compiled pass (counts them and checks them, `_numba.spike_census`) and keeps
  nothing: what any recorder that looks at every spike costs, at the least;
- `SAM`: SpikeActivationMap attached to the same layers;
- `SAM, packing only` and `SAM, block only`: SAM with one of its two kernels left out, to see
  what each costs where it runs, beside the model: the block pass replaced by zeroing the maps
  (the steps are packed as bits, their maps never computed), or the packing skipped (the block
  pass runs on the bits the last run left). Their maps are wrong; only their time counts.
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

    def without(kernel: str, stand_in):
        """SAM with `_numba.<kernel>` replaced by `stand_in` (the backend looks it up at each
        call); raises if the stand-in was never called: the arm would time SAM whole."""

        def arm():
            kept, calls = getattr(_numba, kernel), [0]

            def counted(*args):
                calls[0] += 1
                return stand_in(*args)

            setattr(_numba, kernel, counted)
            try:
                attached()
            finally:
                setattr(_numba, kernel, kept)
            if not calls[0]:
                raise RuntimeError(f"SAM never called _numba.{kernel}: nothing was left out")

        return arm

    arms = {
        "plain": forward,
        "plain again": forward,
        "read once": read_once,
        "SAM": attached,
        "SAM, packing only": without("sam_block", lambda state, planes, maps, *_: maps.zero_()),
        "SAM, block only": without("pack_step", lambda *_: 0),
    }
    load, memory = os.getloadavg()[0], free_memory()
    with torch.no_grad():
        ratios, faults = timed_rounds(arms, args.pairs)
    if not seen[0]:  # the hook read nothing: the floor would be no floor
        raise RuntimeError(f"layers {LAYERS} emitted no spike: the read-once arm timed nothing")
    after = os.getloadavg()[0]
    print(
        f"overhead.py's net, T=32, batch 32, {torch.get_num_threads()} threads, {args.pairs} rounds"
    )
    print(f"  {'plain:':<18} page faults per run: median {statistics.median(faults['plain']):.0f}")
    for name, values in ratios.items():
        print(
            f"  {name + ':':<18} {ratio_text(values)}; page faults per run: median "
            f"{statistics.median(faults[name]):.0f}"
        )
    print(f"{load_text(load, after)}; at the start {memory}")


if __name__ == "__main__":
    main()
