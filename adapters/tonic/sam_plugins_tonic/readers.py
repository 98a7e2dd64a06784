"""The plugin's entry in ``sam_plugins.adapters``: it finds no neurons, it reads event
recordings for ``sam-plugins explain`` (N-MNIST .bin through tonic's reader, event .npy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor

from sam_plugins import Adapter

from .emulator import read_nmnist_bin
from .frames import EventError, frame_events

NMNIST_SENSOR = (34, 34, 2)


class TonicInputs(Adapter):
    """Reads event recordings; knows no neuron modules."""

    name = "tonic"

    def read_input(
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
