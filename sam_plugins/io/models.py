"""Models named on the command line: ``package.module:factory`` plus a weights file, or a NIR
file (``model.nir``) imported through an installed framework adapter."""

from __future__ import annotations

import importlib
import re
import warnings
import zipfile
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
        state = read_state_dict(path)
        problems = _state_mismatch(model.state_dict(), state)
        if problems:
            more = f" (and {len(problems) - 2} more)" if len(problems) > 2 else ""
            raise LoadError(f"weights {path} do not fit {spec}: {'; '.join(problems[:2])}{more}")
        model.load_state_dict(state)
    return model.to(device).eval()


EXPECTED_WEIGHTS = (
    "expected a state dict saved by torch.save(model.state_dict(), PATH) (or a checkpoint "
    "dict with one under 'state_dict'), which is read as tensors only: no code in it is run"
)
TORCH_LEGACY = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"  # torch.save's pre-zip format


def read_state_dict(path: Path) -> dict[str, Any]:
    """The state dict in the `torch.save` file `path`, read with ``weights_only=True`` (tensors
    and plain containers only: nothing is unpickled that could run code); a checkpoint dict's
    ``state_dict`` entry if it has one. LoadError saying what the file is instead."""
    what = _not_torch(path)
    if what is not None:
        raise LoadError(
            f"cannot read weights file {path}: it is {what}; {EXPECTED_WEIGHTS}"
        ) from None
    try:
        with warnings.catch_warnings():  # e.g. torch's note on the pickle protocol
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found:  # e.g. a whole model saved by torch.save(model)
            what = f"a torch.save file holding a pickled {found[1]} (objects are not read)"
        else:  # torch's reason, unless it advises weights_only=False (running the file's code)
            why = "" if "weights only" in str(exc).lower() else f" ({first_line(exc)})"
            what = f"not a file torch.save wrote, or a damaged one{why}"
        raise LoadError(
            f"cannot read weights file {path}: it is {what}; {EXPECTED_WEIGHTS}"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise LoadError(
            f"weights file {path} holds a {type(state).__name__}, not a state dict; "
            f"{EXPECTED_WEIGHTS}"
        )
    return state


def _not_torch(path: Path) -> str | None:
    """What `path` is, from its first bytes, if it is surely not a `torch.save` file: a text
    file, HDF5, NumPy, a plain pickle or a zip archive torch did not write; else None."""
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return "a damaged zip archive"
        if any(name.endswith("/data.pkl") for name in names):
            return None  # torch's own format
        if names and all(name.endswith(".npy") for name in names):
            return "a NumPy .npz archive"
        return f"a zip archive torch.save did not write (it holds {', '.join(names[:3])})"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "an HDF5 file (e.g. Keras or h5py weights)"
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy array"
    if head[:1] == b"\x80" and not head.startswith(TORCH_LEGACY):
        return "a pickle that torch.save did not write (pickles are not read: they can run code)"
    if not head:
        return "an empty file"
    try:
        text = head.decode()
    except UnicodeDecodeError:
        return None
    if text.isprintable() or all(c.isprintable() or c.isspace() for c in text):
        first = text.strip().splitlines()[0][:30] if text.strip() else ""
        return f"a text file (it begins {first!r})"
    return None


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
