"""Events in, frames out: validation of tonic event arrays and framing with tonic's ToFrame,
keeping each frame's time span so SAM maps can be put back on the recording's time axis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tonic import slicers
from tonic.transforms import ToFrame

REQUIRED = ("x", "y", "t", "p")


class EventError(ValueError):
    """Events that cannot be framed as given."""


def check_events(events: np.ndarray, sensor_size: tuple[int, int, int]) -> None:
    """Raise EventError unless `events` is a non-empty structured array with integer fields
    x, y, t, p, timestamps sorted, coordinates inside `sensor_size` = (W, H, P) and polarities
    in [0, P)."""
    if not isinstance(events, np.ndarray) or events.dtype.names is None:
        raise EventError(
            "events must be a numpy structured array with fields x, y, t, p (tonic's format); "
            f"found {type(events).__name__}"
            + (f" of dtype {events.dtype}" if isinstance(events, np.ndarray) else "")
        )
    missing = [f for f in REQUIRED if f not in events.dtype.names]
    if missing:
        raise EventError(f"events lack field(s) {missing}; found fields {events.dtype.names}")
    for f in REQUIRED:
        kind = events.dtype[f].kind
        if kind not in "iub":
            raise EventError(
                f"event field {f!r} must be integer (or bool), found {events.dtype[f]}"
            )
    if len(events) == 0:
        raise EventError("the event stream is empty: there is nothing to frame")
    t = events["t"]
    if np.any(np.diff(t) < 0):
        first = int(np.argmax(np.diff(t) < 0)) + 1
        raise EventError(
            f"timestamps must be sorted; event {first} has t={t[first]} after t={t[first - 1]}. "
            "Sort with events[np.argsort(events['t'], kind='stable')]"
        )
    width, height, polarities = sensor_size
    for f, size in (("x", width), ("y", height), ("p", polarities)):
        low, high = int(events[f].min()), int(events[f].max())
        if low < 0 or high >= size:
            raise EventError(
                f"event field {f!r} must be in [0, {size}) for sensor_size {tuple(sensor_size)}, "
                f"found {low}..{high}"
            )


@dataclass
class EventFrames:
    """Frames [T, P, H, W] (float32 event counts) and each frame's time span in microseconds
    (`spans` [T, 2]: first and last event time in the frame, -1 for a frame with no events)."""

    frames: torch.Tensor
    spans: np.ndarray
    sensor_size: tuple[int, int, int]


def frame_events(
    events: np.ndarray,
    sensor_size: tuple[int, int, int],
    *,
    n_time_bins: int | None = None,
    time_window: float | None = None,
    event_count: int | None = None,
    overlap: float = 0.0,
    include_incomplete: bool = False,
) -> EventFrames:
    """Check `events` and frame them with tonic's ToFrame (exactly one of n_time_bins,
    time_window [us] or event_count), recording each frame's time span."""
    check_events(events, sensor_size)
    options = {"n_time_bins": n_time_bins, "time_window": time_window, "event_count": event_count}
    chosen = {k: v for k, v in options.items() if v is not None}
    if len(chosen) != 1:
        raise ValueError(f"give exactly one of {list(options)}, found {chosen or 'none'}")
    frames = ToFrame(sensor_size, overlap=overlap, include_incomplete=include_incomplete, **chosen)(
        events
    )
    if n_time_bins is not None:
        slicer = slicers.SliceByTimeBins(bin_count=n_time_bins, overlap=overlap)
    elif time_window is not None:
        slicer = slicers.SliceByTime(
            time_window=time_window, overlap=overlap, include_incomplete=include_incomplete
        )
    else:
        slicer = slicers.SliceByEventCount(
            event_count=event_count, overlap=int(overlap), include_incomplete=include_incomplete
        )
    t = events["t"]
    spans = np.array(
        [(t[a], t[b - 1]) if b > a else (-1, -1) for a, b in slicer.get_slice_metadata(events, 0)],
        dtype=np.int64,
    ).reshape(-1, 2)
    assert len(spans) == len(frames), "tonic's slicer and ToFrame disagree on the frame count"
    return EventFrames(torch.from_numpy(frames.astype(np.float32)), spans, tuple(sensor_size))


def to_frames(sensor_size: tuple[int, int, int], n_time_bins: int):
    """The transform that frames a recording into `n_time_bins` frames [T, P, H, W], as
    datasets use it (``transform=to_frames(...)``); every framing of this plugin goes through
    it."""
    return ToFrame(sensor_size, n_time_bins=n_time_bins)
