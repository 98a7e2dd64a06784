"""Dataset analysis throughput against plain inference over the same event data, in one run.

    python benchmarks/bench_analysis.py [--data examples/output/data] [--repeats 3]

Data: the emulated test digits (297 N-MNIST-style recordings, read by tonic and framed with
ToFrame into 10 bins of 2x34x34). Model: dvs_vgg (3x conv-BN-LIF-pool, 32/64/128 channels),
single-step, one call per bin. Both sides read, frame and batch the same files with the same
DataLoader settings (batch 32); plain inference runs the model under no_grad, the analysis runs
analyze_dataset (SAM of all 4 neuron layers, firing rates, ISI histograms, HDF5 writes).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import tonic.transforms as tt
import torch
from models import PlainLIF, dvs_vgg
from sam_plugins_tonic import EmulatedDigits, analyze_dataset, collate_frames
from torch.utils.data import DataLoader


def run(net, frames):
    """Reset the plain-torch neurons, then one call per time bin: outputs [T, B, 10]."""
    for module in net.modules():
        if isinstance(module, PlainLIF):
            module.reset()
    return torch.stack([net(x) for x in frames])


def plain(net, data, batch_size):
    with torch.no_grad():
        for frames, _, _ in DataLoader(data, batch_size=batch_size, collate_fn=collate_frames):
            run(net, frames)


def analyse(net, data, batch_size, folder):
    analyze_dataset(
        net,
        data,
        Path(folder) / "a.h5",
        num_classes=10,
        batch_size=batch_size,
        layers=PlainLIF,
        run=run,
        resume=False,
        progress=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("examples/output/data"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    torch.manual_seed(0)
    data = EmulatedDigits(args.data, train=False, transform=tt.ToFrame((34, 34, 2), n_time_bins=10))
    net = dvs_vgg(size=34).eval()
    times = {"plain inference": [], "analyze_dataset": []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):  # interleaved, so drift hits both alike
            for name, job in (("plain inference", plain), ("analyze_dataset", analyse)):
                start = time.perf_counter()
                job(net, data, args.batch_size) if job is plain else job(
                    net, data, args.batch_size, folder
                )
                times[name].append(time.perf_counter() - start)
    print(f"{len(data)} recordings, {torch.get_num_threads()} threads, repeats {args.repeats}")
    rates = {k: len(data) / statistics.median(v) for k, v in times.items()}
    for name, rate in rates.items():
        print(f"  {name:16s} {rate:8.1f} samples/s  (median of {args.repeats})")
    print(
        f"  analysis / plain throughput: {rates['analyze_dataset'] / rates['plain inference']:.2f}"
    )


if __name__ == "__main__":
    main()
