"""The plugin's input reader (entry-point group ``sam_plugins.readers``): event recordings for
``sam-plugins explain`` (N-MNIST .bin, event .npy), tonic datasets for ``sam-plugins analyze``
(framed by `events.to_frames`: tonic's ToFrame bins, every event counted), and event frames
drawn by polarity."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.error import URLError

import numpy as np
from tonic.transforms import Compose
from torch import Tensor

from sam_plugins import InputReader
from sam_plugins.io.events import CHUNK_EVENTS, EventStream, EventTransform
from sam_plugins.io.models import first_line
from sam_plugins.methods import NoteWarning

from .events import EventError, frame_events, to_frames
from .formats import read_nmnist_bin
from .render import polarity_image

NMNIST_SENSOR = (34, 34, 2)
MAX_SENSOR_SIDE = 4096
"""The largest sensor side read from a file's events without --sensor-size: the largest event
cameras have 1280 x 960 pixels; an event beyond this is a corrupt file or another format."""


class SensorSizeWarning(NoteWarning):
    """The sensor size of an event file was read from its events (no --sensor-size given)."""


class TonicReader(InputReader):
    """Reads event recordings and tonic datasets; draws event frames by polarity."""

    name = "tonic"

    suffixes = (".bin", ".npy")

    def open_events(
        self, path: Path, sensor_size: tuple[int, int, int] | None
    ) -> EventStream | None:
        """N-MNIST .bin files (on N-MNIST's 34x34x2 sensor unless `sensor_size` says
        otherwise) and event .npy files (structured arrays with fields t, x, y, p: the sensor
        read from the events unless given; or t, x, p: audio events on SHD's 700 channels).
        The events are checked when framed (`frame_stream`: `check_events`)."""
        if path.suffix == ".bin":
            events = read_nmnist_bin(path)
            return EventStream(tuple(sensor_size or NMNIST_SENSOR), False, [events], path)
        if path.suffix != ".npy":
            return None
        events = np.load(path, mmap_mode="r", allow_pickle=False)
        if events.dtype.names is None:
            return None  # frames: the core reads them
        names = set(events.dtype.names)
        if "y" not in names and {"t", "x", "p"} <= names and events.ndim == 1:
            from .audio import SENSOR_SIZE, is_audio_sensor, with_row

            sensor = sensor_size or SENSOR_SIZE
            _check_audio(path, events, sensor, is_audio_sensor)
            return EventStream(tuple(sensor), False, _chunks(events, with_row), path)
        missing = {"x", "y", "t", "p"} - names
        if missing or events.ndim != 1 or not len(events):
            raise EventError(
                f"{path}: expected a non-empty 1-D event array with fields x, y, t, p, found "
                f"fields {events.dtype.names} and shape {events.shape}"
            )
        sensor = sensor_size or _sensor_of(path, events)
        return EventStream(tuple(sensor), sensor_size is None, _chunks(events), path)

    def frame_stream(self, stream: EventStream, time_bins: int) -> Tensor:
        """Frames [time_bins, P, H, W] of the stream's events on its sensor (`frame_events`:
        tonic's bins, every event counted), all chunks read (the bins span the recording)."""
        chunks = list(stream.chunks)
        events = np.concatenate(chunks) if len(chunks) != 1 else chunks[0]
        if len(events) and events.dtype["t"].kind in "iu":
            span = int(events["t"][-1]) - int(events["t"][0])
            if span < time_bins:  # bins of 0 us: every event would land in the last
                raise EventError(
                    f"{stream.path}: the recording lasts {span} us ({len(events)} events from "
                    f"t={int(events['t'][0])}), shorter than {time_bins} time bins of at least "
                    "1 us each: give fewer --time-bins or a longer recording"
                )
        try:
            return frame_events(events, stream.sensor_size, n_time_bins=time_bins).frames
        except EventError as exc:
            flag = "outside the sensor" in str(exc) and "--sensor-size" not in str(exc)
            flag_text = " (give the sensor with --sensor-size W,H,P, or sensor_size=)"
            raise EventError(f"{stream.path}: {exc}{flag_text if flag else ''}") from None

    def read(
        self, path: Path, time_bins: int, sensor_size: tuple[int, int, int] | None
    ) -> Tensor | None:
        stream = self.open_events(path, sensor_size)
        return None if stream is None else self.frame_stream(stream, time_bins)

    def open_dataset(
        self,
        factory: Callable[..., Any] | str,
        root: Path,
        train: bool,
        time_bins: int,
        sensor_size: tuple[int, int, int] | None = None,
        crop: tuple[int, int, int, int] | None = None,
        downsample: float | None = None,
    ) -> Any | None:
        """``"files"``: the recordings under `root` (root/<class>/<file>, `files.EventFiles`);
        a tonic dataset class (one with a ``sensor_size``): opened under `root` with
        ``transform=`` crop / downsample (`EventTransform`) then ``to_frames(sensor, time_bins)``.
        """
        if factory == "files":
            from .files import EventFiles

            return EventFiles(root, time_bins, self, sensor_size, crop, downsample)
        sensor = getattr(factory, "sensor_size", None)
        if sensor is None:
            return None
        from .audio import ChannelFrames, is_audio_sensor  # (python -m ...audio runs it)

        if is_audio_sensor(sensor):  # SHD, SSC: bins [T, channels]
            if crop is not None or downsample is not None:
                raise EventError("--crop and --downsample apply to camera events, not audio")
            split = {"split": "train" if train else "test"}  # SSC has train/test/valid splits
            split = split if "split" in inspect.signature(factory).parameters else {"train": train}
            return factory(str(root), **split, transform=ChannelFrames(sensor, time_bins))
        transform = EventTransform(sensor, crop, downsample)
        frames = to_frames(transform.sensor_size, time_bins)
        framing = frames if transform.identity else Compose([transform, frames])
        with _not_downloaded(factory, Path(root), train):
            return factory(str(root), train=train, transform=framing)

    def frame_image(self, frame: Tensor | np.ndarray) -> np.ndarray | None:
        return polarity_image(frame) if np.ndim(frame) == 3 and frame.shape[0] == 2 else None


@contextmanager
def _not_downloaded(factory: Callable[..., Any], root: Path, train: bool) -> Iterator[None]:
    """A tonic dataset opened where its files are not: tonic tries to download them, and
    without network fails with a bare URLError. Say instead that the folder does not hold the
    dataset, where tonic expects its files and how to get them, and remove the folders tonic
    made for the download."""
    name = getattr(factory, "__name__", str(factory))
    folder = root / name
    made = [p for p in (root, folder) if not p.exists()]
    try:
        yield
    except (URLError, OSError) as exc:
        for path in reversed(made):
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        if not isinstance(exc, URLError) and "urlopen" not in str(exc):
            raise
        split = "train" if train else "test"
        file = getattr(factory, f"{split}_filename", None) or getattr(factory, "filename", None)
        files = f" ({file} and what it unpacks to)" if isinstance(file, str) else ""
        module = getattr(factory, "__module__", "tonic.datasets").split(".")[0]
        raise EventError(
            f"{root}/ does not hold the {split} split of {name}: tonic expects its files in "
            f"{folder}/{files} and tried to download them ({first_line(exc)}); where there is "
            f'network, tonic downloads them there itself (e.g. python -c "import {module}; '
            f"{factory.__module__}.{name}('{root}', train={train})\"), or copy them there"
        ) from None


def _check_audio(path: Path, events: np.ndarray, sensor, is_audio_sensor) -> None:
    """EventError unless audio events (fields t, x, p) fit a sensor of one row (C, 1, 1)."""
    if not is_audio_sensor(sensor):
        raise EventError(
            f"{path}: audio events (fields t, x, p) need a sensor of one row and one polarity, "
            f"(channels, 1, 1); found --sensor-size {tuple(sensor)}"
        )
    if events.dtype["x"].kind in "iu" and len(events) and int(events["x"].max()) >= sensor[0]:
        raise EventError(
            f"{path}: audio events reach channel {int(events['x'].max())}, beyond the "
            f"{sensor[0]} channels of the sensor {tuple(sensor)}: give --sensor-size C,1,1"
        )


def _chunks(events: np.ndarray, convert=None) -> Iterator[np.ndarray]:
    """The events (a memory-mapped array) in chunks of at most CHUNK_EVENTS, read as iterated."""
    for start in range(0, max(len(events), 1), CHUNK_EVENTS):
        chunk = np.array(events[start : start + CHUNK_EVENTS])
        yield chunk if convert is None else convert(chunk)


def _sensor_of(path: Path, events: np.ndarray) -> tuple[int, int, int]:
    """(W, H, P) from the events themselves: their largest x and y, two polarities; EventError
    naming --sensor-size when that would be beyond a real sensor (or polarities are not 0/1)."""
    for field in ("x", "y", "p"):
        if events.dtype[field].kind not in "iub":
            raise EventError(
                f"{path}: event field {field!r} must be integer, found {events.dtype[field]}"
            )
    x, y = int(events["x"].max()), int(events["y"].max())
    if max(x, y) >= MAX_SENSOR_SIDE:
        raise EventError(
            f"{path}: events reach x up to {x}, y up to {y}: a sensor read from them would be "
            f"beyond the largest event cameras ({MAX_SENSOR_SIDE} pixels a side). Give the "
            "sensor size (--sensor-size W,H,P, or sensor_size=) or check the file"
        )
    low, high = int(events["p"].min()), int(events["p"].max())
    if low < 0 or high > 1:
        raise EventError(
            f"{path}: polarities must be 0 or 1 to read the sensor from the events, found "
            f"{low}..{high}; give the sensor size (--sensor-size W,H,P) for other polarities"
        )
    far_x, far_y = int(np.argmax(events["x"])), int(np.argmax(events["y"]))
    reach = ", ".join(
        f"event {i} (x={int(events['x'][i])}, y={int(events['y'][i])}, t={int(events['t'][i])})"
        for i in dict.fromkeys((far_x, far_y))
    )
    warnings.warn(
        SensorSizeWarning(
            f"sensor size {x + 1}x{y + 1}x2 (W, H, P) was read from the events of {path}, as far "
            f"as they reach: {reach}; an event outside the real sensor makes the frames too "
            "large: give the sensor size with --sensor-size W,H,P (or sensor_size=)"
        ),
        stacklevel=4,
    )
    return x + 1, y + 1, 2
