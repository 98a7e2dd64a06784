"""The ``sam-plugins`` command line: it parses arguments and prints; the work is done by the
library (`sam_plugins.io` reads, `sam_plugins.methods` explains, `sam_plugins.report` writes).

``sam-plugins explain`` is the core's; plugins add commands (the demo plugin: ``demo``) by
registering a function ``add(subparsers)`` under the entry-point group ``sam_plugins.commands``.
Each command sets ``func(args)`` on its parser; errors a user can fix are raised as `CLIError`
(or `sam_plugins.io.LoadError`) and printed as one line, exit status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from . import __version__
from .engine import DEFAULT_GAMMA
from .io import LoadError, build_model, read_input
from .io.models import first_line
from .methods import explain
from .plugins import COMMANDS_GROUP
from .render import frame_image
from .report import sample_titles, save_explanation
from .result import SAMResult


class CLIError(Exception):
    """A problem with the command's input, reported as one line without a traceback."""


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line (with where to find help), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"sam-plugins: error: {message} (see {self.prog} --help)\n")


# --- helpers for commands (the core's and plugins') ------------------------------------------
def add_model_arguments(parser: argparse.ArgumentParser, model_default: str | None) -> None:
    """The model options shared by the commands that load one."""
    parser.add_argument(
        "model",
        nargs=None if model_default is None else "?",
        default=model_default,
        help="the model as package.module:factory, a callable with no arguments that returns "
        "the torch.nn.Module, or a NIR graph file (.nir), imported by an installed framework"
        + (f" (default {model_default})" if model_default else ""),
    )
    parser.add_argument("--weights", type=Path, help="state dict to load (torch.save file)")
    parser.add_argument("--layers", nargs="+", help="neuron layers by name (default: all found)")
    parser.add_argument("--gamma", type=float, default=DEFAULT_GAMMA, help="SAM decay")
    parser.add_argument("--device", type=device_argument, default="cpu", help="torch device")


def device_argument(text: str) -> str:
    """An argparse type: a torch device that exists on this machine."""
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"not a torch device: {text!r} (e.g. cpu, cuda:0)"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: no CUDA GPU is available on this machine")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has {count} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: MPS is not available on this machine")
    return text


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, found {value}")
    return value


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, found {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, found {text}")
    return value


def load_model(args: argparse.Namespace, device: str | None = None, note: bool = True) -> nn.Module:
    """The model the command line names (``args.model``, ``args.weights``, on `device` or
    ``args.device``); a factory that raises is a one-line CLIError. With `note`, says so when no
    weights file is given: the factory's own weights are used."""
    try:
        model = build_model(args.model, args.weights, device or args.device)
    except LoadError:
        raise
    except Exception as exc:  # the user's factory raised
        raise CLIError(f"{args.model} failed to build the model: {first_line(exc)}") from None
    if note and args.weights is None and not str(args.model).endswith(".nir"):  # graphs hold them
        print(
            f"note: no --weights given; {args.model} runs with the weights its factory gives "
            "it (random ones, unless the factory loads trained weights)"
        )
    return model


def explain_frames(
    model: nn.Module,
    frames: Tensor,
    layers: Sequence[str] | None,
    gamma: float,
    step_mode: str = "single",
) -> SAMResult:
    """`explain` on frames [T, B, C, H, W], its errors turned into one-line CLIErrors that name
    the command-line options."""
    device = next(iter(model.parameters()), torch.empty(0)).device
    try:
        result = explain(model, frames.to(device), layers or None, gamma, step_mode=step_mode)
    except LookupError as exc:
        raise CLIError(f"{exc} On the command line: --layers NAME [NAME ...]") from None
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    except RuntimeError as exc:  # e.g. frames of another size than the model was built for
        raise CLIError(
            f"the model failed on frames of shape {tuple(frames.shape)} ([T, B, C, H, W]): "
            f"{first_line(exc)}"
        ) from None
    return result


def write_explanation(
    out: Path,
    frames: Tensor,
    result: SAMResult,
    labels: Tensor | None = None,
    draw: Callable[[Tensor], np.ndarray] = frame_image,
) -> list[Path]:
    """The report, PNGs and GIFs of `result` in `out`, with titles from labels and outputs."""
    titles = sample_titles(result.outputs, labels, frames.shape[1])
    return save_explanation(out, frames.cpu(), result, titles, draw)


# --- the explain command ---------------------------------------------------------------------
def _sensor_size(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    if len(parts) != 3 or not all(part.strip().isdigit() for part in parts):
        raise argparse.ArgumentTypeError(f"must be W,H,P (three whole numbers), found {text!r}")
    return tuple(int(part) for part in parts)


def _explain(args: argparse.Namespace) -> None:
    inputs = read_input(args.input, args.time_bins, args.sensor_size)  # LoadError: one line
    model = load_model(args)
    result = explain_frames(model, inputs.frames, args.layers, args.gamma, args.step_mode)
    paths = write_explanation(args.out, inputs.frames, result, inputs.labels, inputs.draw)
    print(f"wrote {len(paths)} files to {args.out}/ (open {paths[0]})")


def _add_explain(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="SAM of a model on an input file: HTML report, PNGs, GIFs",
        description="Run a model on an input file with SAM attached and write report.html, a "
        "step x layer PNG and a GIF per layer for each sample.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
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
        "--sensor-size", type=_sensor_size, help="W,H,P of event recordings (default: from file)"
    )
    parser.add_argument(
        "--step-mode",
        choices=("single", "multi"),
        default="single",
        help="for modules no adapter knows: one call per step, or one call for all steps",
    )
    parser.set_defaults(func=_explain)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sam-plugins",
        description="Spike Activation Maps (Kim & Panda 2021) for already-trained SNNs.",
        epilog="Plugins add commands (group sam_plugins.commands).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_explain(subparsers)
    from .analysis.command import add_analyze, add_report  # imports no h5py until run

    add_analyze(subparsers)
    add_report(subparsers)
    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            ep.load()(subparsers)
        except Exception as exc:  # a broken plugin must not take the other commands down
            warnings.warn(
                f"sam-plugins command {ep.name!r} could not be loaded: {exc}", stacklevel=2
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # like `python -m`, find models in the current directory (package.module:factory)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        args.func(args)
    except (CLIError, LoadError) as exc:
        print(f"sam-plugins: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
