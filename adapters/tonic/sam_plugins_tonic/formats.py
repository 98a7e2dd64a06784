"""Event files: N-MNIST's binary format, written and read here in linear time, in the layout of
tonic's own reader (``tonic.io.read_mnist_file``), which it equals on every file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .events import EventError

# tonic's N-MNIST event layout
EVENT_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
OVERFLOW_Y = 240
"""An event with y == 240 is a timestamp overflow marker: every later timestamp grows by 2**13
(as tonic reads it); the marker itself is not an event."""
OVERFLOW_US = 2**13


def write_nmnist_bin(path: str | Path, events: np.ndarray) -> None:
    """Write events in N-MNIST's binary format, which tonic.io.read_mnist_file reads: 5 bytes
    per event, x, y, then polarity in bit 7 and a 23-bit timestamp in microseconds.

    Raises EventError, writing nothing, for what the format cannot hold: x outside [0, 255],
    y outside [0, 239] (240 marks a timestamp overflow), polarities other than 0 and 1,
    timestamps outside [0, 2**23) us, non-integer fields."""
    names = getattr(getattr(events, "dtype", None), "names", None) or ()
    missing = [f for f in ("x", "y", "t", "p") if f not in names]
    if missing:
        raise EventError(f"events lack field(s) {missing}; found fields {names}")
    x, y, t, p = (np.asarray(events[f]) for f in ("x", "y", "t", "p"))
    for name, values in (("x", x), ("y", y), ("t", t), ("p", p)):
        if values.dtype.kind not in "iub":
            raise EventError(f"event field {name!r} must be integer, found {values.dtype}")
    if len(t):
        _within("timestamps must be in [0, 2**23) us", t, 0, 2**23 - 1)
        _within("N-MNIST coordinates must be x in [0, 255]", x, 0, 255)
        _within("N-MNIST coordinates must be y in [0, 239]", y, 0, OVERFLOW_Y - 1)
        _within("N-MNIST polarities must be 0 or 1", p, 0, 1)
    t = t.astype(np.int64)
    raw = np.empty((len(x), 5), dtype=np.uint8)
    raw[:, 0], raw[:, 1] = x, y
    raw[:, 2] = p.astype(np.uint8) << 7 | (t >> 16) & 0x7F
    raw[:, 3], raw[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(raw.tobytes())


def _within(expected: str, values: np.ndarray, low: int, high: int) -> None:
    found_low, found_high = int(values.min()), int(values.max())
    if found_low < low or found_high > high:
        raise EventError(f"{expected}, found {found_low}..{found_high}")


def read_nmnist_bin(path: str | Path) -> np.ndarray:
    """Events [N] (EVENT_DTYPE) of a file in N-MNIST's binary format, equal to what
    tonic.io.read_mnist_file reads, in linear time (tonic's adds the overflow increment to
    every later timestamp once per marker: quadratic on corrupt or random files). A file whose
    size is not a whole number of 5-byte events is reported as corrupt."""
    size = Path(path).stat().st_size
    if size % 5:
        raise EventError(
            f"{path} is corrupt: N-MNIST files hold 5 bytes per event, found {size} bytes"
        )
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 5)
    t = (raw[:, 2] & 0x7F).astype(np.uint32) << 16
    t |= raw[:, 3].astype(np.uint32) << 8
    t |= raw[:, 4]
    overflow = raw[:, 1] == OVERFLOW_Y
    if overflow.any():  # tonic's uint32 arithmetic, wrap-around included
        t += np.cumsum(overflow, dtype=np.uint32) * np.uint32(OVERFLOW_US)
        kept = ~overflow
        raw, t = raw[kept], t[kept]
    events = np.empty(len(raw), dtype=EVENT_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = raw[:, 0], raw[:, 1], t, raw[:, 2] >> 7
    return events
