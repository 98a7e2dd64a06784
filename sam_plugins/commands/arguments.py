"""What command plugins share with the core's commands: argument types and options, loading the
model a command line names, checking an output place before the work starts, and `CLIError`,
the error that ``sam-plugins`` prints as one line with exit status 2.

This module imports no torch (``sam-plugins <command> --help`` must answer at once); what needs
torch imports it when called. A command plugin's module should do the same: import its work
inside the function that runs it.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor, nn

# the engine's default (sam_plugins.engine.DEFAULT_GAMMA, tested equal), without importing torch
DEFAULT_GAMMA = 0.5


class CLIError(Exception):
    """A problem with the command's input, reported as one line without a traceback."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's help with each option's default shown once: not for required options, flags,
    options without a default, or help texts that already say theirs."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            action.required
            or action.nargs == 0  # store_true, store_const: no value to default
            or action.default in (None, argparse.SUPPRESS)
            or "default" in text
        ):
            return text
        return super()._get_help_string(action)


def add_model_arguments(parser: argparse.ArgumentParser, model_default: str | None) -> None:
    """The model options of the commands that load one: the model (required when
    `model_default` is None), --weights, --layers, --gamma and --device."""
    parser.add_argument(
        "model",
        nargs=None if model_default is None else "?",
        default=model_default,
        help="the model: package.module:factory (a callable with no arguments that returns the "
        "torch.nn.Module), or a NIR graph file (.nir) that an installed framework imports",
    )
    parser.add_argument(
        "--weights", type=Path, help="state dict to load into the model (a torch.save file)"
    )
    parser.add_argument(
        "--layers",
        nargs="+",
        metavar="NAME",
        help="the neuron layers to explain, by module name (default: every one found)",
    )
    parser.add_argument(
        "--gamma",
        type=float,
        default=DEFAULT_GAMMA,
        help="SAM's decay: an earlier spike counts exp(-gamma * steps ago)",
    )
    parser.add_argument(
        "--device", type=device_argument, default="cpu", help="torch device to run on"
    )


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """--step-mode and --framework: how a model no adapter knows, or a NIR graph, is run
    (explain and live alike)."""
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


def device_argument(text: str) -> str:
    """An argparse type: a torch device that exists on this machine."""
    if text == "cpu":
        return text
    import torch

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


DURATION_UNITS = {"us": 1, "ms": 1_000, "s": 1_000_000}


def duration(text: str) -> int:
    """An argparse type: a duration with its unit, us, ms or s (``10ms``, ``0.5s``, ``250us``),
    as a whole number of microseconds >= 1."""
    number = text.strip()
    unit = next((u for u in ("us", "ms", "s") if number.endswith(u)), None)
    try:
        value = float(number[: -len(unit)]) * DURATION_UNITS[unit] if unit else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 1 or value != round(value):
        raise argparse.ArgumentTypeError(
            "expected a duration of at least 1 us, a whole number of microseconds, with its "
            f"unit: us, ms or s (e.g. 10ms, 0.5s, 250us), found {text!r}"
        )
    return int(round(value))


def first_layer_shape(model: nn.Module) -> str:
    """What the model's first layer with weights takes, in words: ``'0' (Conv2d) takes
    [B, 2, H, W]``, ``'fc' (Linear) takes [B, 2312]``."""
    from torch import nn

    said = []
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.conv._ConvNd) and not said:
            space = {1: "L", 2: "H, W", 3: "D, H, W"}[len(module.kernel_size)]
            said.append(f"[B, {module.in_channels}, {space}]")
        elif isinstance(module, nn.Linear):
            flat = f"[B, {module.in_features}]"
            said.append(f"{flat} (C * H * W values)" if not said else f"its first Linear {flat}")
        else:
            continue
        if len(said) == 1:
            first = f"the model's first layer {name!r} ({type(module).__name__}) takes {said[0]}"
        if len(said) == 2 or isinstance(module, nn.Linear):
            break
    if not said:
        return "the model has no convolution or linear layer to read its input shape from"
    return first + (f", {said[1]}" if len(said) == 2 else "")


def does_not_fit(
    message: str,
    model: nn.Module,
    sensor_size: tuple[int, int, int] | None,
    from_events: bool,
    model_sensor: tuple[int, int, int] | None = None,
) -> str:
    """One line for a model that failed on the framed input: `message` (the failure and the
    frames' shape), the sensor size (and that it was read from the events, naming
    --sensor-size), what the first layer takes, and the flags that fit an input to a model."""
    parts = [message.rstrip(".")]
    if sensor_size is not None:
        width, height, polarities = sensor_size
        said = f"the sensor is {width}x{height}x{polarities} (W, H, P)"
        if from_events:
            said += (
                ", read from the events as far as they reach (the file does not say its size): "
                "give the real one with --sensor-size W,H,P"
            )
        if model_sensor is not None and tuple(model_sensor) != tuple(sensor_size):
            said += f"; cropped and downsampled to {model_sensor[0]}x{model_sensor[1]}"
        parts.append(said)
    parts.append(first_layer_shape(model))
    parts.append(
        "fit the input to the model with --sensor-size W,H,P, --crop X,Y,W,H and "
        "--downsample FACTOR"
    )
    return "; ".join(parts)


def load_model(
    args: argparse.Namespace,
    device: str | None = None,
    note: bool = True,
    inputs: Tensor | None = None,
) -> nn.Module:
    """The model the command line names (``args.model``, ``args.weights``, on `device` or
    ``args.device``); a factory that raises is a one-line CLIError. With `note`, says so when no
    weights file is given and the factory does not declare the weights it loads (a factory
    declares them with an attribute ``trained_weights``: the file, as the demo's does).

    A NIR graph (``*.nir``) is imported by ``args.framework`` (if the command has that option)
    or by the first installed framework that imports its nodes faithfully and whose model runs
    `inputs` [T, B, ...]; which one is said on stderr."""
    from sam_plugins.io import LoadError, build_model, load_factory
    from sam_plugins.io.models import first_line

    if str(args.model).endswith(".nir"):  # a graph holds its weights: no note
        from sam_plugins.io.models import load_nir_model
        from sam_plugins.nir import NIRImportWarning

        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always", NIRImportWarning)
            model, framework = load_nir_model(
                args.model, args.weights, getattr(args, "framework", None), inputs
            )
        print(f"{args.model}: imported by {framework}", file=sys.stderr)
        for warning in said:  # what the importer printed, in one line
            print(f"note: {warning.message}", file=sys.stderr)
        return model.to(device or args.device)
    try:
        model = build_model(args.model, args.weights, device or args.device)
    except LoadError:
        raise
    except Exception as exc:  # the user's factory raised
        raise CLIError(f"{args.model} failed to build the model: {first_line(exc)}") from None
    declared = getattr(load_factory(args.model), "trained_weights", None) is not None
    if note and args.weights is None and not declared:
        print(
            f"note: no --weights given; {args.model} runs with the weights its factory gives "
            "it, which may be random (a factory that loads trained weights can say so: "
            "factory.trained_weights = 'file.pt')"
        )
    return model


@contextlib.contextmanager
def explain_errors() -> Iterator[None]:
    """Errors of `sam_plugins.explanation.explain_frames` (and of a model run) as one-line
    CLIErrors that name the command-line options."""
    try:
        yield
    except LookupError as exc:  # no neuron layers found, or a name that is not one
        raise CLIError(f"{exc} On the command line: --layers NAME [NAME ...]") from None
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def writable_folder(path: Path, option: str = "--out", shown: Path | None = None) -> Path:
    """`path` if it is, or can be made, a folder that can be written; else a one-line CLIError
    naming `option`. Checked before the work starts, so that a long run does not fail at its
    end; nothing is made here (a command that then fails on its input leaves nothing behind).
    `shown`: the path to name in the message (a file in `path`)."""
    path = Path(path)
    if shown is None and path.exists() and not path.is_dir():
        raise CLIError(f"{option} {path}: expected a folder, found a file")
    shown = path if shown is None else shown
    existing = path
    while not existing.exists():  # the nearest part of the path that exists
        existing = existing.parent
    if not existing.is_dir():
        raise CLIError(f"{option} {shown}: cannot create the folder {path}: {existing} is a file")
    # create and remove a file: the one test every file system answers truly (os.access says
    # yes to root on read-only mounts and under /proc)
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".sam-plugins-probe-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CLIError(f"{option} {shown}: cannot write in {existing}: {reason}") from None
    return path


def writable_file(path: Path, option: str = "--out") -> Path:
    """`path` if a file can be written there; else a one-line CLIError naming `option`. Makes
    nothing."""
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"{option} {path} is a directory; expected a file name")
    writable_folder(path.parent, option, shown=path)
    return path
