"""Event recordings as streams of event arrays, and the crop / downsample transform of events.

Events are 1-D numpy structured arrays with at least the fields t (microseconds, int), x, y
(ints) and p (0/1 or bool), sorted by t (`EVENT_FIELDS`). A reader opens a recording as an
`EventStream`: the file's sensor size and the events in chunks of bounded length, so a long
recording is never loaded at once. `EventTransform` crops a region of the sensor and
downsamples it, in that order, as ``--crop X,Y,W,H`` and ``--downsample FACTOR`` ask.

numpy only: no framework and no reader is imported here.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EVENT_FIELDS = ("t", "x", "y", "p")
CHUNK_EVENTS = 1_000_000
"""The most events a reader puts in one chunk of an `EventStream`."""


@dataclass
class EventStream:
    """One recording: `sensor_size` (W, H, P) of the file's sensor (from its header, or from
    ``--sensor-size``, or guessed from the events: then `sensor_from_events`), and `chunks`,
    event arrays [N_i] in time order, each of at most `CHUNK_EVENTS` events."""

    sensor_size: tuple[int, int, int]
    sensor_from_events: bool
    chunks: Iterable[np.ndarray]
    path: Path


def _parts(text: str) -> list[str]:
    """The comma-separated parts of `text`, spaces and parentheses dropped ("(1, 2)" is how a
    tuple prints: the command line is written again for torchrun's processes)."""
    return text.replace(" ", "").strip("()").split(",")


def parse_sensor_size(text: str) -> tuple[int, int, int]:
    """``W,H,P`` (whole numbers >= 1) -> (W, H, P): the argparse type of ``--sensor-size``."""
    try:
        values = tuple(int(v) for v in _parts(text))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"expected W,H,P (three whole numbers >= 1: the sensor's width, height and "
            f"polarities), found {text!r}"
        )
    return values  # type: ignore[return-value]


def parse_crop(text: str) -> tuple[int, int, int, int]:
    """``X,Y,W,H`` (ints, X and Y >= 0, W and H >= 1) -> (X, Y, W, H): the argparse type of
    ``--crop``."""
    parts = _parts(text)
    try:
        values = tuple(int(v) for v in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or min(values[:2]) < 0 or min(values[2:]) < 1:
        raise argparse.ArgumentTypeError(
            f"expected X,Y,W,H (four whole numbers, X and Y >= 0, W and H >= 1: the region's "
            f"corner and size in sensor pixels), found {text!r}"
        )
    return values  # type: ignore[return-value]


def parse_downsample(text: str) -> float:
    """``FACTOR`` (a number in (0, 1]) -> float: the argparse type of ``--downsample``."""
    try:
        factor = float(text)
    except ValueError:
        factor = math.nan
    if not 0 < factor <= 1:
        raise argparse.ArgumentTypeError(
            f"expected a factor in (0, 1] (pixel coordinates are multiplied by it and rounded "
            f"down, e.g. 0.5 halves the sensor), found {text!r}"
        )
    return factor


SENSOR_HELP = (
    "sensor size of event recordings whose files do not say it (CSV, RAW without a header; "
    "default: read from the file)"
)


def add_event_arguments(
    parser: argparse.ArgumentParser, sensor_size: bool = True, sensor_help: str = SENSOR_HELP
) -> None:
    """``--sensor-size W,H,P`` (unless `sensor_size` is False; `sensor_help` says what it is
    for in this command), ``--crop X,Y,W,H`` and ``--downsample FACTOR``: how event recordings
    are read, for a command's `parser` (explain, analyze, live)."""
    if sensor_size:
        parser.add_argument(
            "--sensor-size", type=parse_sensor_size, metavar="W,H,P", help=sensor_help
        )
    parser.add_argument(
        "--crop",
        type=parse_crop,
        metavar="X,Y,W,H",
        help="event recordings: keep the events of this region of the sensor (pixels), shifted "
        "to start at 0,0 (before --downsample)",
    )
    parser.add_argument(
        "--downsample",
        type=parse_downsample,
        metavar="FACTOR",
        help="event recordings: x, y = floor(x * FACTOR), floor(y * FACTOR) (0 < FACTOR <= 1; "
        "tonic's Downsample), after --crop",
    )


class EventTransform:
    """Crop then downsample events of a sensor of `sensor_size` (W, H, P).

    crop (X, Y, W, H): keep the events with X <= x < X + W and Y <= y < Y + H, shifted by
    (X, Y); downsample `factor`: x = floor(x * factor), y = floor(y * factor), as
    ``tonic.transforms.Downsample(spatial_factor=factor)`` does. `sensor_size` is then the
    (W', H', P) the model sees; `region` the cropped (X, Y, W, H) on the full sensor.
    """

    def __init__(
        self,
        sensor_size: tuple[int, int, int],
        crop: tuple[int, int, int, int] | None = None,
        downsample: float | None = None,
    ) -> None:
        width, height, polarities = (int(v) for v in sensor_size)
        self.full_size = (width, height, polarities)
        if crop is not None:
            x, y, w, h = (int(v) for v in crop)
            if x < 0 or y < 0 or w < 1 or h < 1 or x + w > width or y + h > height:
                raise ValueError(
                    f"--crop {x},{y},{w},{h} is not inside the sensor of {width}x{height} "
                    f"(W x H): the region must end by x = {width}, y = {height}"
                )
        self.region = (x, y, w, h) if crop is not None else (0, 0, width, height)
        if downsample is not None and not 0 < downsample <= 1:
            raise ValueError(f"--downsample must be in (0, 1], found {downsample!r}")
        self.factor = 1.0 if downsample is None else float(downsample)
        w, h = self.region[2:]
        self.sensor_size = (self._scale_size(w), self._scale_size(h), polarities)

    def _scale_size(self, side: int) -> int:
        """Pixels of a side of `side` pixels once downsampled: the largest coordinate + 1."""
        return int(np.floor((side - 1) * self.factor)) + 1

    @property
    def identity(self) -> bool:
        """Whether the transform keeps every event as it is."""
        return self.region == (0, 0, *self.full_size[:2]) and self.factor == 1.0

    def __call__(self, events: np.ndarray) -> np.ndarray:
        """The events [N] cropped and downsampled (a new array, same dtype; [M <= N])."""
        if self.identity:
            return events
        x0, y0, w, h = self.region
        x, y = events["x"].astype(np.int64), events["y"].astype(np.int64)
        keep = (x >= x0) & (x < x0 + w) & (y >= y0) & (y < y0 + h)
        out = events[keep]
        x, y = x[keep] - x0, y[keep] - y0
        if self.factor != 1.0:
            x = np.floor(x * self.factor)
            y = np.floor(y * self.factor)
        out["x"], out["y"] = x, y
        return out

    def __repr__(self) -> str:
        return (
            f"EventTransform(sensor_size={self.full_size}, region={self.region}, "
            f"factor={self.factor:g})"
        )


class EventFileError(ValueError):
    """An event file that cannot be read as it is (corrupt, outside its sensor, empty...)."""


def checked_chunks(
    chunks: Iterable[np.ndarray], sensor_size: tuple[int, int, int], path: Path
) -> Iterable[np.ndarray]:
    """`chunks` as they come, each checked: EventFileError naming `path` and the first event
    outside the sensor (W, H, P) or out of time order, or an empty recording."""
    width, height, polarities = sensor_size
    last, index = None, 0
    for chunk in chunks:
        if not len(chunk):
            continue
        x, y, t = (chunk[f].astype(np.int64) for f in ("x", "y", "t"))
        p = chunk["p"].astype(np.int64)
        bad = (x < 0) | (x >= width) | (y < 0) | (y >= height) | (p < 0) | (p >= polarities)
        if bad.any():
            i = int(np.argmax(bad))
            raise EventFileError(
                f"{path}: event {index + i} (x={x[i]}, y={y[i]}, p={p[i]}, t={t[i]}) is outside "
                f"the sensor of {width}x{height}x{polarities} (W, H, P) the file names, and "
                f"{int(bad.sum()) - 1} more in its first {index + len(chunk)} events: the file "
                "is corrupt or its header wrong"
            )
        back = np.diff(t if last is None else np.concatenate(([last], t))) < 0
        if back.any():
            i = int(np.argmax(back)) + (1 if last is None else 0)
            raise EventFileError(
                f"{path}: event {index + i} (t={t[i]}) comes before the event ahead of it: "
                "timestamps must be in time order (the file is corrupt?)"
            )
        last, index = int(t[-1]), index + len(chunk)
        yield chunk
    if not index:
        raise EventFileError(f"{path}: the recording holds no events: there is nothing to frame")


def transformed(stream: EventStream, transform: EventTransform) -> EventStream:
    """`stream` with `transform` applied to each chunk, on the transform's sensor."""
    if transform.identity:
        return stream
    chunks = (transform(chunk) for chunk in stream.chunks)
    return EventStream(transform.sensor_size, stream.sensor_from_events, chunks, stream.path)
