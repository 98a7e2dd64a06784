"""Events in, frames out: validation of tonic event arrays and framing with tonic's slicers,
keeping each frame's time span so SAM maps can be put back on the recording's time axis.

Frames are counted here rather than by tonic's ToFrame, which loses events two ways: with
``n_time_bins`` its bins are (t_last - t0) // n wide and stop before the last timestamp, so the
events at and after t0 + n * width are dropped (all of them when a recording has one timestamp);
and it counts in int16, which wraps past 32767 events at one pixel. `TimeBinFrames` cuts the
same bins as tonic but lets the last one run to the last event; every count is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from tonic import slicers

REQUIRED = ("x", "y", "t", "p")
MAX_FRAME_BYTES = 4 * 2**30
"""Frames of more than this (float32) are refused before they are allocated: a sensor size
read from a corrupt file (an event at x = 100000) would otherwise ask for hundreds of GiB."""
MAX_ABS_TIME = 2**53
"""Timestamps beyond +-2**53 us (285 years) are refused: the slicers' arithmetic would overflow."""


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
    if events.ndim != 1:
        raise EventError(f"events must be a 1-D array of events, found shape {events.shape}")
    if len(events) == 0:
        raise EventError("the event stream is empty: there is nothing to frame")
    t = events["t"]
    first, last = int(t.min()), int(t.max())
    if max(-first, last) >= MAX_ABS_TIME:
        raise EventError(
            f"timestamps must be within +-2**53 us, found {first}..{last}: the file is corrupt "
            "or its times are not in microseconds"
        )
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
            bad = (events[f] < 0) | (events[f] >= size)
            first = int(np.argmax(bad))
            x, y, t = (int(events[k][first]) for k in ("x", "y", "t"))
            if f in "xy":
                where = (
                    f"event {first} (x={x}, y={y}, t={t}) is outside the sensor of "
                    f"{width}x{height} (W x H), and {int(bad.sum()) - 1} more"
                )
            else:
                where = f"event {first} has polarity {int(events['p'][first])}"
            raise EventError(
                f"{where}: event field {f!r} must be in [0, {size}) for sensor_size "
                f"{tuple(sensor_size)}, found {low}..{high}: events "
                + ("outside the sensor" if f in "xy" else "not a polarity of the sensor")
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
    """Check `events` and frame them (exactly one of n_time_bins, time_window [us] or
    event_count), recording each frame's time span. The frames are tonic's ToFrame's, with
    exact counts, and with n_time_bins the last bin runs to the last event (`TimeBinFrames`);
    with time_window or event_count, what tonic's slicers leave out (the incomplete last
    window unless include_incomplete) is left out."""
    check_events(events, sensor_size)
    options = {"n_time_bins": n_time_bins, "time_window": time_window, "event_count": event_count}
    chosen = {k: v for k, v in options.items() if v is not None}
    if len(chosen) != 1:
        raise EventError(f"give exactly one of {list(options)}, found {chosen or 'none'}")
    if time_window is not None and not (_number(time_window) and time_window > 0):
        raise EventError(f"time_window must be a number of microseconds > 0, found {time_window!r}")
    if event_count is not None and not (_whole(event_count) and event_count >= 1):
        raise EventError(f"event_count must be an int >= 1, found {event_count!r}")
    window = time_window if time_window is not None else event_count
    if window is not None and not (_number(overlap) and 0 <= overlap < window):
        name = "time_window" if time_window is not None else "event_count"
        raise EventError(
            f"overlap must be >= 0 and smaller than {name} ({window:g}), found {overlap!r}"
        )
    if n_time_bins is not None:
        bounds = TimeBinFrames(sensor_size, n_time_bins, overlap).slices(events)
    else:
        if time_window is not None:
            slicer = slicers.SliceByTime(
                time_window=time_window, overlap=overlap, include_incomplete=include_incomplete
            )
        else:
            slicer = slicers.SliceByEventCount(
                event_count=event_count, overlap=int(overlap), include_incomplete=include_incomplete
            )
        bounds = np.array(slicer.get_slice_metadata(events, 0), dtype=np.int64).reshape(-1, 2)
        if not len(bounds):
            span = int(events["t"][-1]) - int(events["t"][0])
            size = (
                f"time_window {time_window:g} us" if time_window else f"event_count {event_count}"
            )
            raise EventError(
                f"no frames (T = 0): the recording ({len(events)} events over {span} us) is "
                f"shorter than one window ({size}); pass include_incomplete=True to keep the "
                "incomplete window, or a smaller window"
            )
    frames = count_events(events, bounds, sensor_size)
    t = events["t"]
    spans = np.array(
        [(t[a], t[b - 1]) if b > a else (-1, -1) for a, b in bounds], dtype=np.int64
    ).reshape(-1, 2)
    return EventFrames(torch.from_numpy(frames), spans, tuple(sensor_size))


def count_events(
    events: np.ndarray, bounds: np.ndarray, sensor_size: tuple[int, int, int]
) -> np.ndarray:
    """Frames [len(bounds), P, H, W] float32: frame i counts events[start:end] of bounds[i] at
    (p, y, x), exactly (no int16 wrap-around). Events must be checked (`check_events`)."""
    width, height, polarities = (int(v) for v in sensor_size)
    size = len(bounds) * polarities * height * width
    if 4 * size > MAX_FRAME_BYTES:
        raise EventError(
            f"{len(bounds)} frames on a sensor of {width}x{height}x{polarities} (W, H, P) would "
            f"take {4 * size / 2**30:.1f} GiB, over the {MAX_FRAME_BYTES / 2**30:.0f} GiB "
            "allowed: give the right sensor size (--sensor-size W,H,P) or fewer frames"
        )
    frames = np.zeros((len(bounds), polarities * height * width), dtype=np.float32)
    pixel = (events["p"].astype(np.int64) * height + events["y"]) * width + events["x"]
    for frame, (start, end) in zip(frames, bounds, strict=True):
        if end > start:
            frame += np.bincount(pixel[start:end], minlength=frame.size)
    return frames.reshape(len(bounds), polarities, height, width)


def _number(value: object) -> bool:
    """A real number, not a bool, not NaN."""
    return isinstance(value, Real) and not isinstance(value, bool) and value == value


def _whole(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


class TimeBinFrames:
    """Dataset transform: a recording's events -> frames [n_time_bins, P, H, W] float32 counts.

    The bins are those of tonic's ``ToFrame(sensor_size, n_time_bins=n)`` (width
    (t_last - t0) // n from the first event, enlarged by `overlap` as tonic does), except the
    last, which runs to the last event: tonic's drops the events at or after t0 + n * width,
    the last timestamp's always and all of a recording with one timestamp. Counts are exact
    (tonic's are int16). Events are checked first (`check_events`).
    """

    def __init__(
        self, sensor_size: tuple[int, int, int], n_time_bins: int, overlap: float = 0.0
    ) -> None:
        if not _whole(n_time_bins) or n_time_bins < 1:
            raise EventError(f"n_time_bins must be an int >= 1, found {n_time_bins!r}")
        self.sensor_size = tuple(sensor_size)
        self.n_time_bins = n_time_bins
        self.overlap = overlap

    def slices(self, events: np.ndarray) -> np.ndarray:
        """[n_time_bins, 2] (start, end) event indices of each bin, for checked events."""
        slicer = slicers.SliceByTimeBins(bin_count=self.n_time_bins, overlap=self.overlap)
        bounds = np.array(slicer.get_slice_metadata(events, 0), dtype=np.int64).reshape(-1, 2)
        bounds[-1, 1] = len(events)  # the last bin keeps what tonic's leaves out
        bounds[-1, 0] = min(bounds[-1, 0], len(events))
        return bounds

    def __call__(self, events: np.ndarray) -> np.ndarray:
        check_events(events, self.sensor_size)
        return count_events(events, self.slices(events), self.sensor_size)

    def __repr__(self) -> str:
        return f"TimeBinFrames(sensor_size={self.sensor_size}, n_time_bins={self.n_time_bins})"


def to_frames(sensor_size: tuple[int, int, int], n_time_bins: int) -> TimeBinFrames:
    """The transform that frames a recording into `n_time_bins` frames [T, P, H, W], as
    datasets use it (``transform=to_frames(...)``); every framing of this plugin goes through
    it. tonic's ToFrame with every event counted (`TimeBinFrames`)."""
    return TimeBinFrames(sensor_size, n_time_bins)
