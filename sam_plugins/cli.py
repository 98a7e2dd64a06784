"""The ``sam-plugins`` command line.

``sam-plugins explain`` is the core's; plugins add commands (the tonic plugin: ``demo`` and
``analyze``) by registering a function ``add(subparsers)`` under the entry-point group
``sam_plugins.commands``. Each command sets ``func(args)`` on its parser; errors a user can fix
are raised as `CLIError` and printed as one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .adapter import installed_adapters
from .engine import DEFAULT_GAMMA
from .result import class_scores

COMMANDS_GROUP = "sam_plugins.commands"
FRAME_SUFFIXES = (".npy", ".npz", ".pt")


class CLIError(Exception):
    """A problem with the command's input, reported as one line without a traceback."""


# --- building blocks shared by the commands -------------------------------------------------
def load_factory(spec: str) -> Callable[..., Any]:
    """The callable named by ``package.module:name``."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise CLIError(f"model must be given as package.module:factory, found {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CLIError(f"cannot import {module_name!r} (from {spec!r}): {exc}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise CLIError(f"{module_name!r} has no callable {attr!r} (from {spec!r})")
    return factory


def build_model(spec: str, weights: str | Path | None, device: str = "cpu") -> nn.Module:
    """``factory()`` from `spec`, with the state dict in `weights` loaded strictly, in eval
    mode on `device`."""
    model = load_factory(spec)()
    if not isinstance(model, nn.Module):
        raise CLIError(f"{spec} returned {type(model).__name__}, expected a torch.nn.Module")
    if weights is not None:
        path = _existing(weights, "weights file")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise CLIError(f"cannot read weights file {path}: {exc}") from None
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise CLIError(f"weights file {path} holds {type(state).__name__}, not a state dict")
        problems = _state_mismatch(model.state_dict(), state)
        if problems:
            more = f" (and {len(problems) - 2} more)" if len(problems) > 2 else ""
            raise CLIError(f"weights {path} do not fit {spec}: {'; '.join(problems[:2])}{more}")
        model.load_state_dict(state)
    return model.to(device).eval()


def _state_mismatch(expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """What keeps `found` from loading into a model whose state dict is `expected`."""
    problems = [f"missing {key}" for key in expected if key not in found]
    problems += [f"unexpected {key}" for key in found if key not in expected]
    for key, value in found.items():
        want = expected.get(key)
        if isinstance(want, Tensor) and isinstance(value, Tensor) and want.shape != value.shape:
            problems.append(
                f"{key} is {list(value.shape)} in the file, {list(want.shape)} in the model"
            )
    return problems


def _existing(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise CLIError(f"{what} not found: {path}")
    return path


def read_input(
    path: str | Path, time_bins: int = 10, sensor_size: tuple[int, int, int] | None = None
) -> tuple[Tensor, Tensor | None]:
    """Frames [T, B, C, H, W] and labels [B] (or None) from an input file.

    .npy / .npz / .pt files hold frames [T, C, H, W] (one sample) or [T, B, C, H, W]; an .npz
    may name them ``frames`` and add ``labels``. Anything else (event recordings) is read by
    the first installed adapter whose ``read_input`` knows the file.
    """
    path = _existing(path, "input file")
    frames, labels = None, None
    if path.suffix == ".pt":
        frames = torch.load(path, map_location="cpu", weights_only=True)
    elif path.suffix in (".npy", ".npz"):
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            names = data.files
            key = "frames" if "frames" in names else names[0] if len(names) == 1 else None
            if key is None:
                raise CLIError(f"{path} holds {names}: name the frames array 'frames'")
            labels = torch.as_tensor(data["labels"]) if "labels" in names else None
            data = data[key]
        if data.dtype.names is None:  # structured arrays are events: the adapters read them
            frames = torch.from_numpy(data)
    if frames is None:
        for adapter in installed_adapters():
            frames = adapter.read_input(path, time_bins=time_bins, sensor_size=sensor_size)
            if frames is not None:
                break
        else:
            raise CLIError(
                f"cannot read {path}: expected frames [T, C, H, W] or [T, B, C, H, W] in "
                f"{'/'.join(FRAME_SUFFIXES)}, or an event recording an installed adapter reads "
                "(sam-plugins-tonic: N-MNIST .bin, event .npy with fields x, y, t, p)"
            )
    if not isinstance(frames, Tensor) or frames.dim() not in (4, 5):
        found = tuple(frames.shape) if isinstance(frames, Tensor) else type(frames).__name__
        raise CLIError(f"{path}: expected frames [T, C, H, W] or [T, B, C, H, W], found {found}")
    frames = frames.float()
    return (frames.unsqueeze(1) if frames.dim() == 4 else frames), labels


def titles_for(outputs: Any, labels: Tensor | None, batch: int) -> list[str]:
    """ "label L, predicted P" per sample, as far as the outputs and labels tell."""
    try:
        predicted = class_scores(outputs).argmax(-1).tolist()
    except ValueError:
        predicted = None
    titles = []
    for n in range(batch):
        parts = [f"sample {n}"]
        if labels is not None:
            parts.append(f"label {int(labels[n])}")
        if predicted is not None:
            parts.append(f"predicted {predicted[n]}")
        titles.append(", ".join(parts))
    return titles


def explain_to_folder(
    model: nn.Module,
    frames: Tensor,
    out: Path,
    labels: Tensor | None = None,
    layers: Sequence[str] | None = None,
    gamma: float = DEFAULT_GAMMA,
    **options: Any,
) -> list[Path]:
    """Run SAM on `frames` [T, B, C, H, W] and write the report, PNGs and GIFs to `out`."""
    from .explainer import explain
    from .report import save_outputs

    device = next(iter(model.parameters()), torch.empty(0)).device
    try:
        result = explain(model, frames.to(device), layers or None, gamma, **options)
    except LookupError as exc:
        raise CLIError(f"{exc} On the command line: --layers NAME [NAME ...]") from None
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    except RuntimeError as exc:  # e.g. frames of another size than the model was built for
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CLIError(
            f"the model failed on frames of shape {tuple(frames.shape)} ([T, B, C, H, W]): {first}"
        ) from None
    if not any(result[name].maps is not None for name in result):
        raise CLIError(
            f"none of the layers {list(result)} has a spatial layout, so there are no maps to "
            "draw; name convolutional neuron layers with --layers"
        )
    titles = titles_for(result.outputs, labels, frames.shape[1])
    return save_outputs(out, frames.cpu(), result, titles)


def add_model_arguments(parser: argparse.ArgumentParser, model_default: str | None) -> None:
    """The model options shared by the commands that load one."""
    parser.add_argument(
        "model",
        nargs=None if model_default is None else "?",
        default=model_default,
        help="the model as package.module:factory, a callable with no arguments that returns "
        "the torch.nn.Module" + (f" (default {model_default})" if model_default else ""),
    )
    parser.add_argument("--weights", type=Path, help="state dict to load (torch.save file)")
    parser.add_argument("--layers", nargs="+", help="neuron layers by name (default: all found)")
    parser.add_argument("--gamma", type=float, default=DEFAULT_GAMMA, help="SAM decay")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")


# --- commands ------------------------------------------------------------------------------
def _sensor_size(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    if len(parts) != 3 or not all(part.strip().isdigit() for part in parts):
        raise argparse.ArgumentTypeError(f"must be W,H,P (three whole numbers), found {text!r}")
    return tuple(int(part) for part in parts)


def _explain(args: argparse.Namespace) -> None:
    frames, labels = read_input(args.input, args.time_bins, args.sensor_size)
    model = build_model(args.model, args.weights, args.device)
    paths = explain_to_folder(
        model, frames, args.out, labels, args.layers, args.gamma, step_mode=args.step_mode
    )
    print(f"wrote {len(paths)} files to {args.out}/ (open {paths[0]})")


def _add_explain(subparsers) -> None:
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
        "an installed adapter reads (tonic: N-MNIST .bin, event .npy)",
    )
    parser.add_argument("--out", type=Path, default=Path("sam-report"), help="output folder")
    parser.add_argument("--time-bins", type=int, default=10, help="frames per event recording")
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
    parser = argparse.ArgumentParser(
        prog="sam-plugins",
        description="Spike Activation Maps (Kim & Panda 2021) for already-trained SNNs.",
        epilog="Plugins add commands: sam-plugins-tonic adds 'demo' and 'analyze'.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_explain(subparsers)
    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            ep.load()(subparsers)
        except Exception as exc:  # a broken plugin must not take the other commands down
            warnings.warn(
                f"sam-plugins command {ep.name!r} could not be loaded: {exc}", stacklevel=2
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except CLIError as exc:
        print(f"sam-plugins: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
