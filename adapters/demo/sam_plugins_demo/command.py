"""explain the shipped event-camera SNN on a few emulated test recordings

``sam-plugins demo`` (added to the core's command line through the entry-point group
``sam_plugins.commands``; the line above is its summary in ``sam-plugins --help``). Its work is
imported when it runs, so ``sam-plugins demo --help`` imports no torch or tonic.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sam_plugins.commands.arguments import (
    add_model_arguments,
    explain_errors,
    load_model,
    positive_int,
    writable_folder,
)

from .model import BINS, FACTORY


def _demo(args: argparse.Namespace) -> None:
    from sam_plugins_tonic import polarity_image
    from sam_plugins_tonic.events import to_frames

    from sam_plugins.analysis import collate_frames
    from sam_plugins.explanation import explain_frames, write_explanation

    from .emulated import EmulatedDigits

    start = time.perf_counter()
    writable_folder(args.out)
    model = load_model(args)
    # A few test recordings, emulated and written in N-MNIST's format, read back through tonic
    # and framed with tonic's ToFrame: the same path as a real event-camera dataset.
    frames_of = to_frames(EmulatedDigits.sensor_size, BINS)
    recordings = EmulatedDigits(args.out / "data", train=False, limit=args.samples)
    frames, labels, _ = collate_frames([(frames_of(ev), label) for ev, label in recordings])
    with explain_errors():
        result = explain_frames(model, frames, args.layers, args.gamma)
    paths = write_explanation(args.out, frames, result, labels, polarity_image)
    print(f"explained {len(recordings)} test recordings with {args.model}")
    print(f"wrote {len(paths)} files to {args.out}/ in {time.perf_counter() - start:.1f} s")
    print(f"open {paths[0]}")
    print(
        f"explain one recording yourself: sam-plugins explain {FACTORY} "
        f"--input {recordings.data[0]} --out sam-report-explain"
    )


def add_demo(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="explain the shipped event-camera SNN on a few emulated recordings",
        description="Explain the shipped snnTorch SNN (trained on the emulated event digits) on "
        "a few test recordings; write report.html, PNGs and GIFs to the output folder.",
    )
    add_model_arguments(parser, FACTORY)
    parser.add_argument("--out", type=Path, default=Path("sam-report"), help="output folder")
    parser.add_argument(
        "--samples", type=positive_int, default=6, help="test recordings to explain"
    )
    parser.set_defaults(func=_demo)
