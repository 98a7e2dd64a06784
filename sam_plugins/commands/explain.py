"""``sam-plugins explain``: SAM of a model on an input file, as an HTML report, PNGs and GIFs."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import (
    add_model_arguments,
    explain_errors,
    load_model,
    positive_int,
    writable_folder,
)


def sensor_size(text: str) -> tuple[int, int, int]:
    """An argparse type: W,H,P of an event sensor."""
    parts = text.split(",")
    if len(parts) != 3 or not all(part.strip().isdigit() for part in parts):
        raise argparse.ArgumentTypeError(f"must be W,H,P (three whole numbers), found {text!r}")
    return tuple(int(part) for part in parts)


def run(args: argparse.Namespace) -> None:
    """Read the input, load the model, explain, write the report (the output checked first)."""
    from sam_plugins.explanation import explain_frames, write_explanation
    from sam_plugins.io import read_input
    from sam_plugins.methods import warnings_as_notes

    writable_folder(args.out)
    with warnings_as_notes():  # e.g. a layer that never spiked, a sensor read from events
        inputs = read_input(args.input, args.time_bins, args.sensor_size)  # LoadError: one line
        model = load_model(args, inputs=inputs.frames)
        with explain_errors():
            result = explain_frames(model, inputs.frames, args.layers, args.gamma, args.step_mode)
            paths = write_explanation(args.out, inputs.frames, result, inputs.labels, inputs.draw)
    print(f"wrote {len(paths)} files to {args.out}/ (open {paths[0]})")


def add(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="SAM of a model on an input file: HTML report, PNGs, GIFs",
        description="Run a model on an input file with SAM attached and write report.html, a "
        "step x layer PNG and a GIF per layer for each sample.",
    )
    add_model_arguments(parser, None)
    parser.add_argument(
        "--input",
        required=True,
        type=Path,
        help="frames [T, C, H, W] or [T, B, C, H, W] in .npy/.npz/.pt, or an event recording "
        "an installed reader reads (tonic: N-MNIST .bin, event .npy)",
    )
    parser.add_argument("--out", type=Path, default=Path("sam-report"), help="output folder")
    parser.add_argument(
        "--time-bins", type=positive_int, default=10, help="frames per event recording"
    )
    parser.add_argument(
        "--sensor-size",
        type=sensor_size,
        metavar="W,H,P",
        help="sensor size of event recordings (default: read from the file)",
    )
    parser.add_argument(
        "--step-mode",
        choices=("single", "multi"),
        default="single",
        help="for modules no adapter knows: one call per step, or one call for all steps",
    )
    parser.add_argument(
        "--framework",
        metavar="NAME",
        help="for a NIR graph: the framework adapter that imports it (default: the first "
        "installed one that imports every node faithfully and runs the input; see docs/nir.md)",
    )
    parser.set_defaults(func=run)
