"""What SAM attached costs now, per network of bench_core.py, in under 30 s: run before each stop.

    python benchmarks/check_overhead.py [--pairs 9] [--device cpu|cuda]

For each network of `bench_core.py` (dvs_vgg, minimal, snn_vgg when snnTorch is installed; T=32,
batch 32, input 2x32x32, SAM on every neuron layer): `--pairs` paired timings of the plain
forward and the forward with SpikeActivationMap attached (plus result()), in alternating order;
prints the median of the paired ratios with their range, and the machine's load before and
after. The docs' target is a median <= 1.10 on dvs_vgg; a figure taken at a load above 0.5 (on
a 2-core machine) is not a result, and the script says so.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import bench_attached  # noqa: E402
from models import ConvSNN, dvs_vgg  # noqa: E402

from sam_plugins.engine import backend  # noqa: E402
from sam_plugins.methods import SilentLayerWarning  # noqa: E402

TARGET = 1.10
QUIET = 0.5


def free_memory() -> str:
    """The machine's free memory and page cache, from /proc/meminfo (Linux; "" elsewhere): with
    the page cache filling memory (a fresh venv just installed, as CI does) page faults cost
    more, and the plain forward takes thousands per run (see benchmarks/README.md)."""
    try:
        with open("/proc/meminfo") as meminfo:
            kib = {line.split(":")[0]: int(line.split()[1]) for line in meminfo}
    except (OSError, ValueError, IndexError):
        return ""
    gib = {key: kib.get(key, 0) / 2**20 for key in ("MemTotal", "MemFree", "Cached")}
    return (
        f"{gib['MemFree']:.1f} of {gib['MemTotal']:.1f} GiB free, "
        f"{gib['Cached']:.1f} GiB page cache"
    )


def networks() -> dict:
    nets = {"dvs_vgg": dvs_vgg, "minimal": lambda: ConvSNN(size=32, width=16)}
    try:
        import snntorch as snn
    except ImportError:
        return nets
    leaky = lambda: snn.Leaky(beta=0.8, init_hidden=True)  # noqa: E731
    nets["snn_vgg"] = lambda: dvs_vgg(neuron=leaky)
    return nets


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=9, help="paired timings per network")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    warnings.simplefilter("ignore", SilentLayerWarning)  # untrained nets: an idle output layer
    load = os.getloadavg()[0]
    start = time.perf_counter()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}, "
        f"SAM step: {backend.current().name}; load {load:.2f}; {free_memory()}"
    )
    print(
        f"{'network':>8} {'plain ms':>9} {'+SAM ms':>9} {'median':>7}  range of {args.pairs} pairs"
    )
    for name, make in networks().items():
        plain, attached, ratio, _, ratios = bench_attached(
            make, args.device, args.pairs, with_ratios=True
        )
        print(
            f"{name:>8} {plain * 1e3:>9.1f} {attached * 1e3:>9.1f} {ratio:>6.3f}x  "
            f"{min(ratios):.3f}-{max(ratios):.3f}",
            flush=True,
        )
    after = os.getloadavg()[0]
    verdict = (
        f"load above {QUIET}: not a result, rerun on a quiet machine"
        if max(load, after) > QUIET
        else f"quiet (target: median <= {TARGET:.2f}x)"
    )
    print(f"load {load:.2f} -> {after:.2f}, {time.perf_counter() - start:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
