"""Event-camera files for sam-plugins, read with faery (entry-point group ``sam_plugins.readers``).

The files as cameras write them: ``.aedat4`` (iniVation DV), ``.raw`` (Prophesee EVT2, EVT2.1,
EVT3), ``.dat`` (Prophesee DAT), ``.es`` (Event Stream) and ``.csv`` (one event per line,
columns t, x, y, p: microseconds, pixel, polarity 0/1; a first line of names is skipped). The
sensor's width and height come from the file's header (``.aedat4`` track, ``.raw`` ``% format``
/ ``% geometry``, ``.dat`` ``% Width`` / ``% Height``, ``.es`` header), two polarities; a file
without them (CSV, a ``.raw`` or ``.dat`` without header) needs ``--sensor-size W,H,P``.

Events are read in chunks as faery decodes them (`FaeryReader.open_events`), checked against
the sensor (`sam_plugins.io.events.checked_chunks`), and framed by the tonic plugin (tonic's
bins, every event counted), so a file gives the frames its events give as an event ``.npy``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sam_plugins import InputReader
from sam_plugins.io.events import CHUNK_EVENTS, EventFileError, EventStream, checked_chunks

__all__ = ["EVENT_DTYPE", "FILE_TYPES", "FaeryReader", "read_events"]

FILE_TYPES = {".aedat4": "aedat", ".raw": "evt", ".dat": "dat", ".es": "es", ".csv": "csv"}
"""The suffixes read here and faery's name of their file type."""
EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])
"""Events as this reader gives them: t in microseconds, x, y, p (0 off, 1 on)."""
NO_SIZE = (1, 1)
"""faery's dimensions_fallback here: a file whose header gives no size reads as 1 x 1."""
WORD_BYTES = {"evt2": 4, "evt2.1": 8, "evt3": 2, "dat": 8}


class FaeryReader(InputReader):
    """Opens camera files (`FILE_TYPES`) as event streams; the tonic plugin frames them."""

    name = "faery"
    suffixes = tuple(FILE_TYPES)

    def open_events(
        self, path: Path, sensor_size: tuple[int, int, int] | None
    ) -> EventStream | None:
        """The recording as an `EventStream` on the header's sensor (W, H, 2), or on
        `sensor_size` for files that do not say it; EventFileError (one line naming the file)
        for a file that cannot be read."""
        kind = FILE_TYPES.get(path.suffix.lower())
        if kind is None:
            return None
        if path.stat().st_size == 0:
            raise EventFileError(f"{path} is empty (0 bytes): it holds no recording")
        _check_raw(path, kind)
        decoder = _decoder(path, kind, NO_SIZE)
        header = tuple(decoder.dimensions())
        if header == NO_SIZE or kind == "csv":
            if sensor_size is None:
                what = "CSV files do not say it" if kind == "csv" else "its header does not say it"
                raise EventFileError(
                    f"{path}: give the sensor size with --sensor-size W,H,P ({what}, e.g. "
                    "--sensor-size 346,260,2)"
                )
            sensor = tuple(int(v) for v in sensor_size)
            decoder = _decoder(path, kind, sensor[:2])
        else:
            sensor = (*header, 2)
        chunks = checked_chunks(_chunks(decoder, path), sensor, path)
        return EventStream(sensor, False, chunks, path)


def read_events(path: str | Path, sensor_size: tuple[int, int, int] | None = None) -> np.ndarray:
    """All the events [N] (`EVENT_DTYPE`) of a camera file, at once (small files, tests)."""
    stream = FaeryReader().open_events(Path(path), sensor_size)
    if stream is None:
        raise EventFileError(f"{path}: not a file faery reads ({', '.join(FILE_TYPES)})")
    return np.concatenate(list(stream.chunks))


def _decoder(path: Path, kind: str, size: tuple[int, int]):
    """faery's decoder of `path` (its header read), EventFileError if faery cannot read it."""
    import faery

    options = {}
    if kind == "csv":
        options["csv_properties"] = _csv_properties(path)
    try:
        return faery.events_stream_from_file(
            path, dimensions_fallback=tuple(size), file_type=kind, **options
        )
    except BaseException as exc:
        raise _faery_error(path, exc) from None


def _csv_properties(path: Path):
    """faery's CSV settings for columns t, x, y, p, with or without a first line of names."""
    import faery

    with open(path, "rb") as file:
        first = file.readline().split(b",")
    try:
        [float(v) for v in first]
        names = False
    except ValueError:
        names = True
    properties = faery.CsvProperties.default()
    properties.has_header = names
    return properties


def _chunks(decoder, path: Path) -> Iterator[np.ndarray]:
    """faery's packets as `EVENT_DTYPE` arrays of at most CHUNK_EVENTS events, read as
    iterated; EventFileError naming the file when faery finds it corrupt."""
    packets = iter(decoder)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except BaseException as exc:
            raise _faery_error(path, exc) from None
        for start in range(0, len(packet), CHUNK_EVENTS):
            part = packet[start : start + CHUNK_EVENTS]
            events = np.empty(len(part), EVENT_DTYPE)
            events["t"], events["x"], events["y"] = part["t"], part["x"], part["y"]
            events["p"] = part["on"]
            yield events


def _faery_error(path: Path, exc: BaseException) -> BaseException:
    """What faery raised (RuntimeError, Exception, or pyo3's PanicException, a BaseException,
    for what its Rust code has not implemented) as an EventFileError naming `path`; an
    interruption (KeyboardInterrupt, SystemExit) as it is."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
        return exc
    return EventFileError(_unreadable(path, exc))


def _unreadable(path: Path, exc: BaseException) -> str:
    """One line: what faery found wrong with `path`."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = "".join(c if c.isprintable() else "?" for c in text)
    if "overflow" in text:  # faery checks coordinates against the header's size
        return (
            f"{path}: an event is outside the sensor the file names (faery: {text}): the file "
            "is corrupt or its header wrong"
        )
    return f"{path} is truncated or corrupt: faery cannot read it ({text})"


def _raw_version(path: Path, kind: str) -> tuple[str, int]:
    """The version of a .raw or .dat file as its header names it (faery's fallback, EVT3 or
    DAT2, when it does not) and where its events start (bytes)."""
    with open(path, "rb") as file:
        head = file.read(1 << 16)
    end = 0
    while head.startswith(b"%", end):
        line_end = head.find(b"\n", end)
        end = len(head) if line_end < 0 else line_end + 1
    text = head[:end].decode("latin-1").lower().replace(" ", "")
    if kind == "dat":
        return "dat", end + 2  # DAT: the event type and size bytes after the header
    if "evt2.1" in text or "evt21" in text:
        return "evt2.1", end
    return ("evt2" if "evt2" in text else "evt3"), end


def _check_raw(path: Path, kind: str) -> None:
    """EventFileError if a .raw or .dat file ends in the middle of an event word (cut off), or
    is EVT 2.1, which faery 0.7.1 does not decode."""
    if kind not in ("evt", "dat"):
        return
    version, end = _raw_version(path, kind)
    if version == "evt2.1":
        raise EventFileError(
            f"{path} is an EVT 2.1 recording, which faery 0.7.1 does not decode yet: record or "
            "convert it to EVT 3 or EVT 2 (e.g. with Metavision's metavision_file_to_raw)"
        )
    body, word = path.stat().st_size - end, WORD_BYTES[version]
    if body <= 0:
        raise EventFileError(f"{path}: the recording holds no events (its header only)")
    if body % word:
        raise EventFileError(
            f"{path} is truncated: {body} bytes of events after its header, not a whole number "
            f"of {word}-byte {version.upper()} words (the file was cut off)"
        )
