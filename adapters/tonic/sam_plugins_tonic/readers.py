"""The plugin's input reader (entry-point group ``sam_plugins.readers``): event recordings for
``sam-plugins explain`` (N-MNIST .bin through tonic's reader, event .npy), tonic datasets for
``sam-plugins analyze`` (framed with tonic's ToFrame), and event frames drawn by polarity."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from sam_plugins import InputReader

from .events import EventError, frame_events, to_frames
from .formats import read_nmnist_bin
from .render import polarity_image

NMNIST_SENSOR = (34, 34, 2)


class TonicReader(InputReader):
    """Reads event recordings and tonic datasets; draws event frames by polarity."""

    name = "tonic"

    def read(
        self, path: Path, time_bins: int, sensor_size: tuple[int, int, int] | None
    ) -> Tensor | None:
        if path.suffix == ".bin":
            events = read_nmnist_bin(path)
            sensor = sensor_size or NMNIST_SENSOR
        elif path.suffix == ".npy":
            events = np.load(path, allow_pickle=False)
            if events.dtype.names is None:
                return None
            missing = {"x", "y", "p"} - set(events.dtype.names)
            if missing or not len(events):
                raise EventError(
                    f"{path}: expected a non-empty event array with fields x, y, t, p, found "
                    f"fields {events.dtype.names} and {len(events)} events"
                )
            sensor = sensor_size or (
                int(events["x"].max()) + 1,
                int(events["y"].max()) + 1,
                max(2, int(events["p"].max()) + 1),
            )
        else:
            return None
        try:
            return frame_events(events, sensor, n_time_bins=time_bins).frames
        except EventError as exc:
            raise EventError(f"{path}: {exc}") from None

    def open_dataset(
        self, factory: Callable[..., Any], root: Path, train: bool, time_bins: int
    ) -> Any | None:
        """A tonic dataset class (one with a ``sensor_size``) opened under `root` with
        ``transform=ToFrame(sensor_size, n_time_bins=time_bins)``."""
        sensor = getattr(factory, "sensor_size", None)
        if sensor is None:
            return None
        return factory(str(root), train=train, transform=to_frames(sensor, time_bins))

    def frame_image(self, frame: Tensor | np.ndarray) -> np.ndarray | None:
        return polarity_image(frame) if np.ndim(frame) == 3 and frame.shape[0] == 2 else None
