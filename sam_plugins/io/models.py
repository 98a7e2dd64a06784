"""Models named on the command line: ``package.module:factory`` plus a weights file, or a NIR
file (``model.nir``) imported through an installed framework adapter."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn


class LoadError(ValueError):
    """A file or name the user gave cannot be loaded; the message says what was expected and
    what was found (the command line prints it as one line)."""


def existing_file(path: str | Path, what: str) -> Path:
    """`path` if it is a file, else LoadError naming `what` it should have been."""
    path = Path(path)
    if not path.is_file():
        raise LoadError(f"{what} not found: {path}")
    return path


def load_factory(spec: str) -> Callable[..., Any]:
    """The callable named by ``package.module:name``."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise LoadError(f"model must be given as package.module:factory, found {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LoadError(f"cannot import {module_name!r} (from {spec!r}): {exc}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise LoadError(f"{module_name!r} has no callable {attr!r} (from {spec!r})")
    return factory


def build_model(spec: str, weights: str | Path | None, device: str = "cpu") -> nn.Module:
    """``factory()`` from `spec`, with the state dict in `weights` loaded strictly, in eval
    mode on `device`. Weights are read with ``weights_only=True``: nothing is unpickled.
    A `spec` ending in ``.nir`` is a NIR file, imported by `sam_plugins.nir.load_nir`."""
    if spec.endswith(".nir"):
        return _nir_model(spec, weights).to(device).eval()
    model = load_factory(spec)()
    if not isinstance(model, nn.Module):
        raise LoadError(f"{spec} returned {type(model).__name__}, expected a torch.nn.Module")
    if weights is not None:
        path = existing_file(weights, "weights file")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise LoadError(f"cannot read weights file {path}: {first_line(exc)}") from None
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise LoadError(f"weights file {path} holds {type(state).__name__}, not a state dict")
        problems = _state_mismatch(model.state_dict(), state)
        if problems:
            more = f" (and {len(problems) - 2} more)" if len(problems) > 2 else ""
            raise LoadError(f"weights {path} do not fit {spec}: {'; '.join(problems[:2])}{more}")
        model.load_state_dict(state)
    return model.to(device).eval()


def _nir_model(spec: str, weights: str | Path | None) -> nn.Module:
    return load_nir_model(spec, weights)[0]


def load_nir_model(
    spec: str | Path,
    weights: str | Path | None = None,
    framework: str | None = None,
    inputs: Tensor | None = None,
) -> tuple[nn.Module, str]:
    """The model of the NIR file `spec` and the framework that imported it
    (`sam_plugins.nir.load_nir`: `framework`, or the first faithful one whose model runs
    `inputs` [T, B, ...]); LoadError for what cannot be used."""
    from ..nir import load_nir

    path = existing_file(spec, "NIR file")
    if weights is not None:
        raise LoadError(f"{path} is a NIR file, which holds its own weights: drop --weights")
    try:
        return load_nir(path, framework, inputs=inputs)
    except (LookupError, ValueError, ImportError) as exc:
        raise LoadError(f"cannot import {path}: {first_line(exc)}") from None


def first_line(exc: Exception) -> str:
    """The first line of an exception's message (its type when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
