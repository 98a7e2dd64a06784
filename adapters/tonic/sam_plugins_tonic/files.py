"""One's own recordings as a dataset: ``sam-plugins analyze --dataset files --data DIR``.

DIR holds one folder per class, each with recordings in any format an installed reader opens
(event .npy, N-MNIST .bin; .aedat4, .raw, .dat, .es, .csv with sam-plugins-faery):
DIR/<class>/<recording>. The classes are the folder names, sorted; label i is the i-th. Each
recording is read as an event stream (`sam_plugins.io.inputs.open_events`), cropped and
downsampled (`EventTransform`) and framed into `time_bins` frames like every other dataset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sam_plugins.io.events import EventStream, EventTransform, checked_chunks, transformed

from .events import EventError


class EventFiles:
    """A torch-style Dataset of (frames [T, P, H, W] float32, label) from DIR/<class>/<file>.

    Every recording is read once when the dataset is opened (`_checked`): an unknown suffix,
    a file that cannot be read, an event outside its sensor, an empty recording or one shorter
    than `time_bins` microseconds, or recordings of different sensors are refused then, before
    any work is done or written.
    """

    def __init__(
        self,
        root: Path,
        time_bins: int,
        reader,
        sensor_size: tuple[int, int, int] | None = None,
        crop: tuple[int, int, int, int] | None = None,
        downsample: float | None = None,
    ) -> None:
        from sam_plugins.io.inputs import event_suffixes, open_events

        root = Path(root)
        if not root.is_dir():
            raise EventError(f"{root}/ is not a folder: expected DIR/<class>/<recording> files")
        self.classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        if not self.classes:
            raise EventError(
                f"{root}/ holds no class folders: expected DIR/<class>/<recording> files"
            )
        read = event_suffixes()
        self.samples: list[tuple[Path, int]] = []
        for label, name in enumerate(self.classes):
            files = sorted(p for p in (root / name).iterdir() if p.is_file())
            if not files:
                raise EventError(f"{root / name}/ holds no recordings")
            for path in files:
                if path.suffix.lower() not in read:
                    raise EventError(
                        f"{path}: {path.suffix or 'no suffix'} is not an event file an installed "
                        f"reader reads (read: {' '.join(read)})"
                    )
                self.samples.append((path, label))
        self.time_bins, self.reader, self.given = time_bins, reader, sensor_size
        self.options = {"crop": crop, "downsample": downsample}
        first: tuple[Path, tuple[int, int, int]] | None = None
        for path, _ in self.samples:
            sensor = _checked(open_events(path, sensor_size), time_bins)
            first = first or (path, sensor)
            if sensor != first[1]:
                raise EventError(
                    f"{path} is a recording of a {_size(sensor)} sensor, {first[0]} of a "
                    f"{_size(first[1])} one: the recordings of a dataset share one sensor "
                    "(--crop X,Y,W,H and --sensor-size W,H,P apply to all)"
                )
        assert first is not None
        self.sensor_size = EventTransform(first[1], crop, downsample).sensor_size
        self.open_events = open_events

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        path, label = self.samples[index]
        stream: EventStream = self.open_events(path, self.given)
        transform = EventTransform(stream.sensor_size, **self.options)
        frames = self.reader.frame_stream(transformed(stream, transform), self.time_bins)
        return frames.numpy(), label

    def __repr__(self) -> str:
        return f"EventFiles({len(self)} recordings, classes {self.classes})"


def _checked(stream: EventStream, time_bins: int) -> tuple[int, int, int]:
    """The stream's sensor, once all its events are read and checked (`checked_chunks`: inside
    the sensor, in time order, not empty) and it lasts at least one microsecond a bin."""
    first = last = count = 0
    for chunk in checked_chunks(stream.chunks, stream.sensor_size, stream.path):
        if not count:
            first = int(chunk["t"][0])
        last, count = int(chunk["t"][-1]), count + len(chunk)
    if last - first < time_bins:
        raise EventError(
            f"{stream.path}: the recording lasts {last - first} us ({count} events from "
            f"t={first}), shorter than {time_bins} time bins of at least 1 us each: give fewer "
            "--time-bins or leave the recording out"
        )
    return stream.sensor_size


def _size(sensor: tuple[int, int, int]) -> str:
    return "x".join(str(v) for v in sensor)
