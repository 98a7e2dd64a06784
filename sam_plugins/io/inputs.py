"""Input files: frames (.npy / .npz / .pt) read here, anything else (event recordings) by the
installed input readers (entry-point group ``sam_plugins.readers``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..plugins import installed_readers
from ..render import frame_image
from .events import EventStream, EventTransform, transformed
from .models import LoadError, existing_file, first_line

FRAME_SUFFIXES = (".npy", ".npz", ".pt")


@dataclass
class Inputs:
    """What an input file holds: frames [T, B, C, H, W] (float32), labels [B] or None, and how
    to draw one frame [C, H, W] as RGB (the reader's way for event recordings). For an event
    recording also the (W, H, P) of the file's sensor (before --crop / --downsample) and
    whether it was guessed from the events (no header, no --sensor-size)."""

    frames: Tensor
    labels: Tensor | None
    draw: Callable[[Tensor], np.ndarray] = frame_image
    sensor_size: tuple[int, int, int] | None = None
    sensor_from_events: bool = False


def event_suffixes() -> list[str]:
    """The suffixes of the event files the installed readers open, sorted."""
    return sorted({s for reader in installed_readers() for s in reader.suffixes})


def open_events(path: str | Path, sensor_size: tuple[int, int, int] | None = None) -> EventStream:
    """The event recording `path` as an `EventStream` (chunks read as they are iterated), from
    the first installed reader that knows it; LoadError listing the suffixes read otherwise.
    Iterating the chunks may raise `sam_plugins.io.events.EventFileError` (a ValueError) for a
    corrupt file or events outside the sensor."""
    path = existing_file(path, "event file")
    stream = _opened(path, sensor_size)
    if stream is not None:
        return stream
    raise LoadError(
        f"cannot read {path}: {path.suffix or 'a file without a suffix'} is not an event file an "
        f"installed reader reads (event files read: {' '.join(event_suffixes()) or 'none'})"
    )


class _one_line:
    """Context manager: a reader's ValueError (tonic's EventError, EventFileError, ...) as a
    LoadError of one line naming the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or isinstance(exc, LoadError) or not isinstance(exc, ValueError):
            return False
        message = first_line(exc)
        raise LoadError(
            message if str(self.path) in message else f"{self.path}: {message}"
        ) from exc


def read_input(
    path: str | Path,
    time_bins: int = 10,
    sensor_size: tuple[int, int, int] | None = None,
    crop: tuple[int, int, int, int] | None = None,
    downsample: float | None = None,
) -> Inputs:
    """Frames and labels from an input file.

    .npy / .npz / .pt files hold frames [T, C, H, W] (one sample) or [T, B, C, H, W]; an .npz
    may name them ``frames`` and add ``labels``. .pt files are read with ``weights_only=True``.
    Anything else (event recordings: `time_bins` frames on a sensor of (W, H, P), cropped to
    `crop` (X, Y, W, H) then downsampled by `downsample`, see `EventTransform`) is opened by the
    first installed reader that knows the file (`open_events`) and framed by the first that
    frames events, or read by the first whose `read` knows it.
    """
    path = existing_file(path, "input file")
    frames, labels, draw = None, None, frame_image
    sensor, guessed = None, False
    if path.suffix == ".pt":
        try:
            frames = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise LoadError(f"cannot read {path} as a tensor file: {first_line(exc)}") from None
    elif path.suffix in (".npy", ".npz"):
        data = _numpy_array(path, lambda: np.load(path, allow_pickle=False), "the array")
        if isinstance(data, np.lib.npyio.NpzFile):
            names = data.files
            key = "frames" if "frames" in names else names[0] if len(names) == 1 else None
            if key is None:
                raise LoadError(f"{path} holds {names}: name the frames array 'frames'")
            if "labels" in names:
                labels = torch.as_tensor(_numpy_array(path, lambda: data["labels"], "'labels'"))
            data = _numpy_array(path, lambda: data[key], repr(key))
        if data.dtype.names is None:  # structured arrays are events: the readers read them
            if data.dtype.kind not in "biuf" or data.dtype.itemsize > 8:
                kind = "real numbers" if data.dtype.kind == "c" else "numbers"
                raise LoadError(f"{path}: frames must be {kind}, found {data.dtype}")
            frames = torch.from_numpy(data)
    if frames is None:
        stream = _opened(path, sensor_size)
        if stream is not None:
            sensor, guessed = stream.sensor_size, stream.sensor_from_events
            frames, draw = _framed(path, stream, time_bins, crop, downsample)
    if frames is None:
        if crop is not None or downsample is not None:
            raise LoadError(f"{path}: --crop and --downsample apply to event recordings only")
        for reader in installed_readers():
            try:
                frames = reader.read(path, time_bins=time_bins, sensor_size=sensor_size)
            except LoadError:
                raise
            except ValueError as exc:  # e.g. tonic's EventError: one line on the command line
                message = first_line(exc)
                raise LoadError(message if str(path) in message else f"{path}: {message}") from exc
            if frames is not None:
                draw = _drawer(reader)
                break
        else:
            raise LoadError(
                f"cannot read {path}: expected frames [T, C, H, W] or [T, B, C, H, W] in "
                f"{'/'.join(FRAME_SUFFIXES)}, or an event recording an installed reader reads "
                f"(event files: {' '.join(event_suffixes()) or 'none'}; installed: "
                f"{', '.join(r.name for r in installed_readers()) or 'none'})"
            )
    if not isinstance(frames, Tensor) or frames.dim() not in (4, 5):
        found = tuple(frames.shape) if isinstance(frames, Tensor) else type(frames).__name__
        raise LoadError(f"{path}: expected frames [T, C, H, W] or [T, B, C, H, W], found {found}")
    frames = _finite_frames(path, frames)
    frames = frames.unsqueeze(1) if frames.dim() == 4 else frames
    labels = _checked_labels(path, labels, frames.shape[1])
    return Inputs(frames, labels, draw, sensor, guessed)


def _opened(path: Path, sensor_size: tuple[int, int, int] | None) -> EventStream | None:
    """The event stream of `path` from the first reader that opens it, None if none does."""
    for reader in installed_readers():
        with _one_line(path):
            stream = reader.open_events(path, sensor_size)
        if stream is not None:
            return stream
    return None


def _framed(
    path: Path,
    stream: EventStream,
    time_bins: int,
    crop: tuple[int, int, int, int] | None,
    downsample: float | None,
) -> tuple[Tensor | None, Callable[[Tensor], np.ndarray]]:
    """Frames [T, P, H, W] of `stream` cropped and downsampled, by the first reader that frames
    events, and that reader's way of drawing them."""
    with _one_line(path):
        stream = transformed(stream, EventTransform(stream.sensor_size, crop, downsample))
        for reader in installed_readers():
            frames = reader.frame_stream(stream, time_bins)
            if frames is not None:
                return frames, _drawer(reader)
    raise LoadError(f"{path}: no installed reader frames events (pip install sam-plugins-tonic)")


def _numpy_array(path: Path, load: Callable[[], Any], what: str) -> Any:
    """`load()` (np.load of `path`, or one array of an .npz, which loads it), a LoadError if it
    fails; an array of Python objects is refused, never unpickled (that can run code)."""
    try:
        return load()
    except Exception as exc:
        if isinstance(exc, ValueError) and "allow_pickle" in str(exc):
            raise LoadError(
                f"{path}: {what} holds Python objects (dtype object), which are never unpickled "
                "(that could run code): save numbers, e.g. array.astype(np.float32)"
            ) from None
        raise LoadError(f"cannot read {path} as a numpy file: {first_line(exc)}") from None


def _finite_frames(path: Path, frames: Tensor) -> Tensor:
    """`frames` as float32 if they hold at least one value and every value is a finite real
    number (also once made float32), else LoadError saying what was found."""
    if frames.is_complex():
        dtype = str(frames.dtype).removeprefix("torch.")
        raise LoadError(f"{path}: frames must be real numbers, found {dtype}")
    if frames.numel() == 0:
        axes = "TCHW" if frames.dim() == 4 else "TBCHW"
        empty = ", ".join(f"{a} = 0" for a, n in zip(axes, frames.shape, strict=True) if not n)
        named = {"T = 0": "T = 0 (no time steps)", "B = 0": "B = 0 (no samples)"}
        raise LoadError(
            f"{path}: frames hold no values, {named.get(empty, empty)}: shape "
            f"{tuple(frames.shape)} ([T, C, H, W] or [T, B, C, H, W] with every size at least 1)"
        )
    frames = frames.float()
    bad = ~torch.isfinite(frames)
    if bad.any():
        first = bad.nonzero()[0].tolist()
        step, sample = first[0], first[1] if frames.dim() == 5 else 0
        raise LoadError(
            f"{path}: frames must be finite numbers, found NaN or infinite: {int(bad.sum())} of "
            f"{frames.numel()} values, first in frame {step} of sample {sample}"
        )
    return frames


def _drawer(reader) -> Callable[[Tensor], np.ndarray]:
    """The reader's way of drawing a frame, the core's where the reader has none."""

    def draw(frame: Tensor) -> np.ndarray:
        image = reader.frame_image(frame)
        return frame_image(frame) if image is None else image

    return draw


def _checked_labels(path: Path, labels: Tensor | None, batch: int) -> Tensor | None:
    """`labels` as int64 [batch] if they are whole numbers >= 0, one per sample."""
    if labels is None:
        return None
    if labels.dim() != 1 or len(labels) != batch:
        raise LoadError(
            f"{path}: 'labels' must hold one label per sample ({batch}), found shape "
            f"{tuple(labels.shape)}"
        )
    if labels.is_floating_point():
        if not bool(torch.isfinite(labels).all()) or bool((labels != labels.round()).any()):
            raise LoadError(f"{path}: 'labels' must be whole numbers, found {labels.tolist()}")
    elif labels.dtype == torch.bool or labels.is_complex():
        raise LoadError(f"{path}: 'labels' must be whole numbers, found dtype {labels.dtype}")
    if bool((labels < 0).any()):
        raise LoadError(f"{path}: 'labels' must be >= 0, found {labels.tolist()}")
    return labels.long()
