"""Event files: N-MNIST's binary format, written here and read through tonic's own reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tonic.io import read_mnist_file

from .events import EventError

# tonic's N-MNIST event layout
EVENT_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])


def write_nmnist_bin(path: str | Path, events: np.ndarray) -> None:
    """Write events in N-MNIST's binary format, which tonic.io.read_mnist_file reads: 5 bytes
    per event, x, y, then polarity in bit 7 and a 23-bit timestamp in microseconds."""
    x, y, t, p = (np.asarray(events[f]) for f in ("x", "y", "t", "p"))
    if len(t) and (t.min() < 0 or t.max() >= 2**23):
        raise ValueError(f"N-MNIST timestamps must be in [0, 2**23) us, found {t.min()}..{t.max()}")
    if len(x) and (x.min() < 0 or x.max() > 255 or y.min() < 0 or y.max() > 239):
        raise ValueError("N-MNIST coordinates must be x in [0, 255], y in [0, 239]")
    raw = np.empty((len(x), 5), dtype=np.uint8)
    raw[:, 0], raw[:, 1] = x, y
    raw[:, 2] = (np.asarray(p, dtype=np.uint32) & 1) << 7 | (t >> 16) & 0x7F
    raw[:, 3], raw[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(raw.tobytes())


def read_nmnist_bin(path: str | Path) -> np.ndarray:
    """Events of a file in N-MNIST's binary format, read by tonic.io.read_mnist_file; a file
    whose size is not a whole number of 5-byte events is reported as corrupt."""
    size = Path(path).stat().st_size
    if size % 5:
        raise EventError(
            f"{path} is corrupt: N-MNIST files hold 5 bytes per event, found {size} bytes"
        )
    return read_mnist_file(str(path), dtype=EVENT_DTYPE)
