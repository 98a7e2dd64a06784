"""``sam-plugins explain``: SAM of a model on an input file, as an HTML report, PNGs, GIFs and
maps.npz; with ``--bin``, a whole event recording as one stream of steps (maps.h5, a video and a
time-line report: `sam_plugins.stream`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io.events import add_event_arguments
from .arguments import (
    CLIError,
    add_model_arguments,
    add_run_arguments,
    does_not_fit,
    duration,
    explain_errors,
    load_model,
    positive_int,
    writable_folder,
)


def frames_per_second(text: str) -> float:
    """An argparse type: a number of frames per second > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be a number of frames per second > 0, found {text!r}"
        )
    return value


def settings(args: argparse.Namespace, **more) -> dict:
    """What made the maps, for maps.npz / maps.h5 (``settings``, a JSON string)."""
    from sam_plugins import __version__

    return {
        "version": __version__,
        "model": str(args.model),
        "weights": None if args.weights is None else str(args.weights),
        "input": str(args.input),
        "gamma": args.gamma,
        "window": "previous",
        "step_mode": args.step_mode,
        "sensor_size": args.sensor_size,
        "crop": args.crop,
        "downsample": args.downsample,
        **more,
    }


def run(args: argparse.Namespace) -> None:
    """Read the input, load the model, explain, write the report (the output checked first)."""
    from sam_plugins.methods import warnings_as_notes

    for flag, value in (("--reset-every", args.reset_every), ("--fps", args.fps)):
        if value is not None and args.bin is None:
            raise CLIError(f"{flag} applies to a recording explained as a stream: give --bin too")
    writable_folder(args.out)
    with warnings_as_notes():  # e.g. a layer that never spiked, a sensor read from events
        if args.bin is not None:
            explain_stream(args)
        else:
            explain_clip(args)


def explain_clip(args: argparse.Namespace) -> None:
    """The input as frames [T, B, C, H, W] (an event recording framed into --time-bins):
    report.html, PNGs, GIFs and maps.npz."""
    from sam_plugins.explanation import explain_frames, write_explanation, write_maps
    from sam_plugins.io import read_input

    inputs = read_input(  # LoadError: one line
        args.input, args.time_bins, args.sensor_size, args.crop, args.downsample
    )
    model = load_model(args, inputs=inputs.frames)
    with explain_errors():
        try:
            result = explain_frames(model, inputs.frames, args.layers, args.gamma, args.step_mode)
        except ValueError as exc:
            if "the model failed on frames" not in str(exc):
                raise
            raise CLIError(
                does_not_fit(str(exc), model, inputs.sensor_size, inputs.sensor_from_events)
            ) from None
        region, before = None, ""
        if args.crop is not None or args.downsample is not None:  # where the input came from
            from sam_plugins.io.inputs import open_events
            from sam_plugins.stream import sensor_region
            from sam_plugins.viewer.html import image_figure

            stream = open_events(args.input, args.sensor_size)
            args.out.mkdir(parents=True, exist_ok=True)  # the model ran: the report follows
            region = sensor_region(stream, args.crop, args.downsample, args.out)
            before = image_figure(region, "The region of the sensor the model saw (red)")
        paths = write_explanation(
            args.out, inputs.frames, result, inputs.labels, inputs.draw, before
        )
        used = settings(args, layers=list(result), time_bins=args.time_bins)
        used["frames_shape"] = list(inputs.frames.shape)
        if inputs.sensor_size is not None:  # an event recording: the sensor it was read on
            used["sensor_size"] = list(inputs.sensor_size)
            used["sensor_from_events"] = inputs.sensor_from_events
        paths.append(write_maps(args.out / "maps.npz", inputs.frames, result, inputs.labels, used))
    if region is not None:
        paths.append(region)
    print(f"wrote {len(paths)} files to {args.out}/ (open {paths[0]})")


def explain_stream(args: argparse.Namespace) -> None:
    """The recording as one sample of T = duration / --bin steps, state carried: maps.h5, the
    video, the time-line report; steps/s and events/s printed at the end."""
    from sam_plugins.io.inputs import open_events
    from sam_plugins.io.models import LoadError
    from sam_plugins.stream import DoesNotFit, explain_recording, rates

    if _holds_frames(args.input):
        raise CLIError(
            f"--bin explains an event recording step by step; {args.input} holds frames "
            "(.npy/.npz/.pt): explain it without --bin"
        )
    stream = open_events(args.input, args.sensor_size)  # LoadError: one line
    model = load_model(args)
    used = settings(args, reset_every_us=args.reset_every, window_us=args.window)
    try:
        done = explain_recording(
            model,
            stream,
            args.out,
            args.bin,
            crop=args.crop,
            downsample=args.downsample,
            layers=args.layers,
            gamma=args.gamma,
            step_mode=args.step_mode,
            reset_every_us=args.reset_every,
            window_us=args.window,
            fps=25.0 if args.fps is None else args.fps,
            settings=used,
            progress=sys.stderr.isatty(),
        )
    except DoesNotFit as exc:
        from sam_plugins.io.events import EventTransform

        seen = EventTransform(stream.sensor_size, args.crop, args.downsample).sensor_size
        raise CLIError(
            does_not_fit(str(exc), model, stream.sensor_size, stream.sensor_from_events, seen)
        ) from None
    except LookupError as exc:  # no neuron layers found, or a name that is not one
        raise CLIError(f"{exc} On the command line: --layers NAME [NAME ...]") from None
    except (ValueError, OSError) as exc:  # the events, the arguments, the output files
        if isinstance(exc, LoadError):
            raise
        from sam_plugins.io.models import first_line

        raise CLIError(first_line(exc)) from None
    print(rates(done.stats, args.bin) + f"; {done.wall_seconds:.1f} s in all")
    print(f"wrote {len(done.paths)} files to {args.out}/ (open {done.paths[-1]})")


def _holds_frames(path: Path) -> bool:
    """Whether `path` is a frames file (.npz, .pt, or an .npy of numbers, not of events)."""
    if path.suffix in (".npz", ".pt"):
        return True
    if path.suffix != ".npy" or not path.is_file():
        return False
    import numpy as np

    try:
        return np.load(path, mmap_mode="r", allow_pickle=False).dtype.names is None
    except (ValueError, OSError):
        return False  # the reader says what is wrong with it


def add(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="SAM of a model on an input file: HTML report, PNGs, GIFs, maps.npz",
        description="Run a model on an input file with SAM attached and write report.html, a "
        "step x layer PNG and a GIF per layer for each sample, and maps.npz (the frames, "
        "outputs and every layer's maps, for scripts). With --bin, an event recording of any "
        "length is explained as one stream of steps: maps.h5, sam.mp4 and a time-line report.",
    )
    add_model_arguments(parser, None)
    parser.add_argument(
        "--input",
        required=True,
        type=Path,
        help="frames [T, C, H, W] or [T, B, C, H, W] in .npy/.npz/.pt, or an event recording "
        "an installed reader reads (tonic: N-MNIST .bin, event .npy; faery: camera files)",
    )
    parser.add_argument("--out", type=Path, default=Path("sam-report"), help="output folder")
    parser.add_argument(
        "--time-bins", type=positive_int, default=10, help="frames per event recording"
    )
    add_event_arguments(parser)
    parser.add_argument(
        "--bin",
        type=duration,
        metavar="DURATION",
        help="explain the whole recording as one stream of steps of this length (e.g. 10ms, "
        "500us, 0.1s), the model's state carried from step to step (default: --time-bins "
        "frames of one sample)",
    )
    parser.add_argument(
        "--reset-every",
        type=duration,
        metavar="DURATION",
        help="with --bin: reset the model's state (the framework's reset) and SAM's every "
        "DURATION, a whole number of bins (default: never)",
    )
    parser.add_argument(
        "--window",
        type=duration,
        default=300_000,
        metavar="DURATION",
        help="with --bin: the report's prediction sums the outputs over this trailing window "
        "(default: 300ms)",
    )
    parser.add_argument(
        "--fps",
        type=frames_per_second,
        metavar="N",
        help="with --bin: frames per second of the video, one step per frame (default: 25)",
    )
    add_run_arguments(parser)
    parser.set_defaults(func=run)
