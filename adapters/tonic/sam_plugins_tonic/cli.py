"""``sam-plugins demo`` and ``sam-plugins analyze``, added to the core's command line through
the entry-point group ``sam_plugins.commands``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch.utils.data import Subset

from sam_plugins.cli import (
    CLIError,
    add_model_arguments,
    build_model,
    explain_to_folder,
    load_factory,
)

from . import demo
from .analysis import collate_frames
from .dataset import EmulatedDigits
from .frames import EventError


def _model(args: argparse.Namespace):
    """The model of the command line; the demo model comes with its shipped weights."""
    weights = args.weights
    if weights is None and args.model == demo.FACTORY:
        weights = demo.WEIGHTS
    try:
        return build_model(args.model, weights, args.device)
    except ImportError as exc:  # the demo model's framework is missing
        raise CLIError(str(exc)) from None


def _demo(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    if args.samples < 1:
        raise CLIError(f"--samples must be at least 1, found {args.samples}")
    model = _model(args)
    # A few test recordings, emulated and written in N-MNIST's format, read back through tonic
    # and framed with tonic's ToFrame: the same path as a real event-camera dataset.
    import tonic.transforms as tt

    to_frames = tt.ToFrame(EmulatedDigits.sensor_size, n_time_bins=demo.BINS)
    recordings = EmulatedDigits(args.out / "data", train=False, limit=args.samples)
    frames, labels, _ = collate_frames([(to_frames(events), label) for events, label in recordings])
    paths = explain_to_folder(model, frames, args.out, labels, args.layers, args.gamma)
    print(f"explained {args.samples} test recordings with {args.model}")
    print(f"wrote {len(paths)} files to {args.out}/ in {time.perf_counter() - start:.1f} s")
    print(f"open {paths[0]}")
    print(
        f"explain one recording yourself: sam-plugins explain {demo.FACTORY} "
        f"--weights {demo.WEIGHTS} --input {recordings.data[0]}"
    )


def add_demo(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="explain the shipped event-camera SNN on a few emulated recordings",
        description="Explain the shipped snnTorch SNN (trained on the emulated event digits) on "
        "a few test recordings; write report.html, PNGs and GIFs to the output folder.",
    )
    add_model_arguments(parser, demo.FACTORY)
    parser.add_argument("--out", type=Path, default=Path("sam-report"), help="output folder")
    parser.add_argument("--samples", type=int, default=6, help="test recordings to explain")
    parser.set_defaults(func=_demo)


def _analyze(args: argparse.Namespace) -> None:
    import tonic.transforms as tt

    from .analysis import analyze_dataset

    dataset_class = load_factory(args.dataset)
    sensor = getattr(dataset_class, "sensor_size", None)
    if sensor is None:
        raise CLIError(f"{args.dataset} has no sensor_size: expected a tonic dataset class")
    to_frames = tt.ToFrame(sensor, n_time_bins=args.time_bins)
    try:
        dataset = dataset_class(str(args.data), train=args.split == "train", transform=to_frames)
    except Exception as exc:  # download refused, files missing, ...
        raise CLIError(f"cannot open {args.dataset} in {args.data}: {exc}") from None
    if args.limit is not None:
        dataset = Subset(dataset, range(min(args.limit, len(dataset))))
    model = _model(args)
    try:
        analysis = analyze_dataset(
            model,
            dataset,
            args.out,
            num_classes=args.num_classes,
            layers=args.layers,
            gamma=args.gamma,
            batch_size=args.batch_size,
            device=args.device,
            resume=not args.restart,
        )
    except (EventError, LookupError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    print(f"analysed {analysis.done} recordings, accuracy {analysis.accuracy:.1%}: {analysis.path}")
    for layer in analysis.layers:
        profile = analysis.profile(layer).mean(0)
        rate = analysis.firing_rate(layer).mean()
        print(
            f"  layer {layer}: SAM mass peaks at bin {int(torch.as_tensor(profile).argmax())}"
            f"/{args.time_bins}, mean firing rate {rate:.3f}"
        )


def add_analyze(subparsers) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="SAM statistics over an event dataset, streamed to HDF5 (resumable)",
        description="Run the model over a tonic dataset with SAM attached; write per class the "
        "mean maps, temporal profiles and firing rates, and ISI histograms, to HDF5. An "
        "interrupted run continues where it stopped.",
    )
    add_model_arguments(parser, demo.FACTORY)
    parser.add_argument(
        "--dataset",
        default="sam_plugins_tonic:EmulatedDigits",
        help="tonic dataset class as package.module:Class, e.g. tonic.datasets:NMNIST "
        "(default: the emulated digits, made on first use)",
    )
    parser.add_argument("--data", type=Path, default=Path("sam-data"), help="dataset folder")
    parser.add_argument("--split", choices=("train", "test"), default="test")
    parser.add_argument("--limit", type=int, help="only the first N recordings")
    parser.add_argument("--time-bins", type=int, default=demo.BINS, help="frames per recording")
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("sam-analysis.h5"), help="HDF5 file")
    parser.add_argument("--restart", action="store_true", help="start over, do not resume")
    parser.set_defaults(func=_analyze)
