"""Camera files: events per second read (sam-plugins-faery, in chunks) and read + framed (the
tonic plugin's bins, `read_input`) per format, on two recordings written by faery: N-MNIST's
34x34 sensor at 20 k events/s and a DAVIS346's 346x260 at 200 k events/s, 5 s each.

    .venv/bin/python benchmarks/bench_cameras.py [--seconds 5] [--repeats 3] [--time-bins 10]

Run it on a quiet machine: the figures are wall-clock times (best of --repeats).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import faery
import numpy as np
from bench_event_files import best_of  # the script's folder is on sys.path
from sam_plugins_faery import FaeryReader

from sam_plugins.io import read_input

SENSORS = {"34x34 @ 20 k/s": ((34, 34), 20_000), "346x260 @ 200 k/s": ((346, 260), 200_000)}
FORMATS = {  # file name: faery's to_file options
    "aedat4": ("rec.aedat4", {}),
    "raw EVT2": ("rec_evt2.raw", {"version": "evt2"}),
    "raw EVT3": ("rec_evt3.raw", {"version": "evt3"}),
    "dat": ("rec.dat", {}),
    "es": ("rec.es", {}),
    "csv": ("rec.csv", {}),
}


def recording(size: tuple[int, int], rate: int, seconds: float) -> np.ndarray:
    """Random events (faery's dtype) at `rate` events/s for `seconds`, sorted by time."""
    rng = np.random.default_rng(0)
    n = int(rate * seconds)
    events = np.zeros(n, dtype=faery.EVENTS_DTYPE)
    events["t"] = np.sort(rng.integers(0, int(seconds * 1e6), n))
    events["x"] = rng.integers(0, size[0], n)
    events["y"] = rng.integers(0, size[1], n)
    events["on"] = rng.integers(0, 2, n).astype(bool)
    return events


def read_all(path: Path, sensor: tuple[int, int, int]) -> int:
    """Every event of `path` read in chunks (nothing kept): how many."""
    stream = FaeryReader().open_events(path, sensor)
    return sum(len(chunk) for chunk in stream.chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each recording")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-bins", type=int, default=10)
    args = parser.parse_args()
    print(f"{'recording':<18} {'format':<9} {'events':>9} {'MB':>7} {'read ev/s':>11} "
          f"{'framed ev/s':>12}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for label, (size, rate) in SENSORS.items():
            events = recording(size, rate, args.seconds)
            sensor = (*size, 2)
            for name, (file, options) in FORMATS.items():
                path = Path(folder) / file
                faery.events_stream_from_array(events, dimensions=size).to_file(path, **options)
                assert read_all(path, sensor) == len(events)
                read = best_of(lambda p=path, s=sensor: read_all(p, s), args.repeats)
                framed = best_of(
                    lambda p=path, s=sensor: read_input(p, args.time_bins, s), args.repeats
                )
                megabytes = path.stat().st_size / 1e6
                print(
                    f"{label:<18} {name:<9} {len(events):>9} {megabytes:>7.1f} "
                    f"{len(events) / read:>11.3g} {len(events) / framed:>12.3g}"
                )
                path.unlink()


if __name__ == "__main__":
    main()
