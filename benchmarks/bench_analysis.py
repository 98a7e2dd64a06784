"""Dataset analysis throughput: against plain inference in one process, and over processes.

    python benchmarks/bench_analysis.py [--data examples/output/data] [--repeats 9]
    python benchmarks/bench_analysis.py --scale [--repeats 3]
    python benchmarks/bench_analysis.py --split [--repeats 5]

Data: the emulated test digits (297 N-MNIST-style recordings, read by tonic and framed with
ToFrame into 10 bins of 2x34x34). Model: dvs_vgg (3x conv-BN-LIF-pool, 32/64/128 channels),
single-step, one call per bin, batch 32.

Default: plain inference (the model under no_grad over the same DataLoader) and analyze_dataset
(SAM of all 4 neuron layers, firing rates, ISI histograms, the commits and the HDF5 merge), timed
in pairs in alternating order; the ratio of each pair, their median and range are printed.

--scale: the analysis alone, each run a fresh process timed from inside (after imports and
model set-up, until the HDF5 file is merged): one process at 1 thread, one at 2 threads, and
2 processes of 1 thread each under torchrun (gloo), in alternating order.

--split: where the analysis' time goes, in one process: plain inference, SAM attached
(`attribute` per batch, nothing else), SAM with the firing and ISI statistics, and the full
analysis, in rotating order; each one's throughput relative to the plain run of its round.

OMP_WAIT_POLICY=PASSIVE is the default here (see below); OMP_NUM_THREADS sets the threads.
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared machine (this VM's 2 cores are used
# by other jobs too) spinning threads of torch and of numba's pool slow every run ~10x.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# numba's pool as wide as torch's (numba's OpenMP layer sets the thread count torch sees too)
if "OMP_NUM_THREADS" in os.environ:
    os.environ.setdefault("NUMBA_NUM_THREADS", os.environ["OMP_NUM_THREADS"])

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from models import PlainLIF, dvs_vgg  # noqa: E402
from sam_plugins_demo import EmulatedDigits  # noqa: E402
from sam_plugins_tonic.events import to_frames  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from sam_plugins import SpikeActivationMap  # noqa: E402
from sam_plugins.analysis import analyze_dataset, collate_frames  # noqa: E402
from sam_plugins.analysis.stats import SpikeStats  # noqa: E402
from sam_plugins.methods import SilentLayerWarning  # noqa: E402


def run(net, frames):
    """Reset the plain-torch neurons, then one call per time bin: outputs [T, B, 10]."""
    for module in net.modules():
        if isinstance(module, PlainLIF):
            module.reset()
    return torch.stack([net(x) for x in frames])


def setup(data_folder: Path):
    torch.manual_seed(0)
    frames = to_frames((34, 34, 2), 10)
    return dvs_vgg(size=34).eval(), EmulatedDigits(data_folder, train=False, transform=frames)


def plain(net, data, batch_size, out):
    with torch.no_grad():
        for frames, _, _ in DataLoader(data, batch_size=batch_size, collate_fn=collate_frames):
            run(net, frames)


def analyse(net, data, batch_size, out):
    analyze_dataset(
        net, data, out, num_classes=10, batch_size=batch_size, layers=PlainLIF, run=run,
        resume=False, progress=False,
    )  # fmt: skip


def sam_only(net, data, batch_size, statistics_too=False):
    """What the analysis runs per batch before its aggregation: SAM of every neuron layer (and
    the spike statistics), without the per-class sums, commits or the HDF5 file."""
    sam = SpikeActivationMap(net, PlainLIF, run=run)
    stats = SpikeStats(sam=sam if statistics_too else None)  # as analyze_dataset does
    if statistics_too:
        sam.recorder.consumers.append(stats)
    for frames, _, lengths in DataLoader(data, batch_size=batch_size, collate_fn=collate_frames):
        stats.reset(lengths)
        result = sam.attribute(frames)
        if statistics_too:
            for name in result:
                stats.finish(name)


def split(args) -> None:
    net, data = setup(args.data)
    jobs = {
        "plain inference": lambda: plain(net, data, args.batch_size, None),
        "SAM attached": lambda: sam_only(net, data, args.batch_size),
        "+ statistics": lambda: sam_only(net, data, args.batch_size, statistics_too=True),
        "full analysis": None,
    }
    ratios: dict[str, list[float]] = {name: [] for name in jobs}
    with tempfile.TemporaryDirectory() as folder:
        jobs["full analysis"] = lambda: analyse(net, data, args.batch_size, Path(folder) / "a.h5")
        for job in jobs.values():
            job()  # warm-up
        names = list(jobs)
        for i in range(args.repeats):
            order = names[i % len(names) :] + names[: i % len(names)]
            seconds = {}
            for name in order:
                start = time.perf_counter()
                jobs[name]()
                seconds[name] = time.perf_counter() - start
            for name in names:
                ratios[name].append(seconds["plain inference"] / seconds[name])
    print(f"{len(data)} recordings, {torch.get_num_threads()} threads, {args.repeats} rounds")
    for name, values in list(ratios.items())[1:]:
        values.sort()
        print(
            f"  {name:16s} throughput / plain: median {statistics.median(values):.3f}, "
            f"range {values[0]:.3f}-{values[-1]:.3f}"
        )


def compare(args) -> None:
    net, data = setup(args.data)
    times = {"plain inference": [], "analyze_dataset": []}
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "a.h5"
        analyse(net, data, args.batch_size, out)  # warm-up: files cached, kernels compiled
        for i in range(args.repeats):  # alternating order, so drift hits both alike
            jobs = [("plain inference", plain), ("analyze_dataset", analyse)]
            pair = {}
            for name, job in jobs if i % 2 == 0 else jobs[::-1]:
                start = time.perf_counter()
                job(net, data, args.batch_size, out)
                pair[name] = time.perf_counter() - start
                times[name].append(pair[name])
            ratios.append(pair["plain inference"] / pair["analyze_dataset"])
    print(f"{len(data)} recordings, {torch.get_num_threads()} threads, {args.repeats} pairs")
    for name, seconds in times.items():
        rates = sorted(len(data) / s for s in seconds)
        median = statistics.median(rates)
        print(f"  {name:16s} {median:7.1f} samples/s  ({rates[0]:.1f}-{rates[-1]:.1f})")
    ratios.sort()
    print(
        f"  analysis / plain throughput: median {statistics.median(ratios):.3f}, range "
        f"{ratios[0]:.3f}-{ratios[-1]:.3f}, pairs: {' '.join(f'{r:.3f}' for r in ratios)}"
    )


def worker(args) -> None:
    """One timed analysis; under torchrun, one rank of it."""
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        dist.init_process_group("gloo")
    net, data = setup(args.data)
    if distributed:
        dist.barrier()
    start = time.perf_counter()
    analyse(net, data, args.batch_size, args.worker)
    seconds = time.perf_counter() - start
    if not distributed or dist.get_rank() == 0:
        print(f"seconds {seconds:.4f} threads {torch.get_num_threads()}")
    if distributed:
        dist.destroy_process_group()


def scale(args) -> None:
    me = [str(Path(__file__).resolve()), "--data", str(args.data)]
    me += ["--batch-size", str(args.batch_size)]
    setups = {
        "1 process, 1 thread": (1, 1),
        "1 process, 2 threads": (1, 2),
        "2 processes, 1 thread each": (2, 1),
    }
    times: dict[str, list[float]] = {name: [] for name in setups}
    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.repeats):
            order = list(setups.items())
            for name, (nproc, threads) in order if i % 2 == 0 else order[::-1]:
                env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
                env["NUMBA_NUM_THREADS"] = str(threads)
                out = str(Path(folder) / f"{nproc}-{threads}.h5")
                launcher = [sys.executable]
                if nproc > 1:
                    launcher += ["-m", "torch.distributed.run", "--standalone"]
                    launcher += [f"--nproc-per-node={nproc}"]
                done = subprocess.run(
                    [*launcher, *me, "--worker", out],
                    env=env, capture_output=True, text=True, timeout=600, check=True,
                )  # fmt: skip
                line = next(x for x in done.stdout.splitlines() if x.startswith("seconds"))
                times[name].append(float(line.split()[1]))
    base = {k: statistics.median(v) for k, v in times.items()}
    for name, seconds in times.items():
        each = " ".join(f"{s:.2f}" for s in seconds)
        print(f"  {name:28s} median {base[name]:6.2f} s   runs: {each}")
    two = times["2 processes, 1 thread each"]
    for name in ("1 process, 1 thread", "1 process, 2 threads"):
        speedups = sorted(a / b for a, b in zip(times[name], two, strict=True))
        print(
            f"  speed-up of 2 processes over {name}: median "
            f"{statistics.median(speedups):.2f}x, range {speedups[0]:.2f}-{speedups[-1]:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("examples/output/data"))
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--scale", action="store_true", help="1 and 2 processes")
    parser.add_argument("--split", action="store_true", help="where the time goes")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.simplefilter("ignore", SilentLayerWarning)  # untrained: an idle output layer
    if args.worker:
        worker(args)
    elif args.scale:
        scale(args)
    elif args.split:
        split(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
