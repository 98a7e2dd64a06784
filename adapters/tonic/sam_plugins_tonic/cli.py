"""``sam-plugins analyze``, added to the core's command line through the entry-point group
``sam_plugins.commands``."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.utils.data import Subset

from sam_plugins.cli import CLIError, add_model_arguments
from sam_plugins.io import build_model, load_factory

from .events import EventError


def _analyze(args: argparse.Namespace) -> None:
    from .analysis import analyze_dataset
    from .readers import TonicReader

    dataset_class = load_factory(args.dataset)
    try:
        dataset = TonicReader().open_dataset(
            dataset_class, args.data, args.split == "train", args.time_bins
        )
    except Exception as exc:  # download refused, files missing, ...
        raise CLIError(f"cannot open {args.dataset} in {args.data}: {exc}") from None
    if dataset is None:
        raise CLIError(f"{args.dataset} has no sensor_size: expected a tonic dataset class")
    if args.limit is not None:
        dataset = Subset(dataset, range(min(args.limit, len(dataset))))
    model = build_model(args.model, args.weights, args.device)
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
    add_model_arguments(parser, "sam_plugins_demo:trained_demo_net")
    parser.add_argument(
        "--dataset",
        default="sam_plugins_demo:EmulatedDigits",
        help="tonic dataset class as package.module:Class, e.g. tonic.datasets:NMNIST "
        "(default: the demo's emulated digits, made on first use)",
    )
    parser.add_argument("--data", type=Path, default=Path("sam-data"), help="dataset folder")
    parser.add_argument("--split", choices=("train", "test"), default="test")
    parser.add_argument("--limit", type=int, help="only the first N recordings")
    parser.add_argument("--time-bins", type=int, default=10, help="frames per recording")
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("sam-analysis.h5"), help="HDF5 file")
    parser.add_argument("--restart", action="store_true", help="start over, do not resume")
    parser.set_defaults(func=_analyze)
