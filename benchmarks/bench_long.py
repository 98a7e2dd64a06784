"""Long recordings: steps/s, events/s and peak memory of ``sam-plugins explain --bin 10ms`` on
5 s and 50 s recordings, and the share of the time spent reading and framing the events.

Cases (issue 34):

- ``nmnist``: a 34x34 sensor at 20 k events/s, the demo model (sam_plugins_demo).
- ``davis``: a 346x260 sensor (DAVIS346) at 200 k events/s, cropped to 256x256 and downsampled
  by 0.5 to a DVSGesture-sized 128x128 model (sam_plugins_tonic.gestures:seeded_gesture_net).

Each recording is an event .npy (written here, chunk by chunk, once; the tonic reader reads it
memory-mapped, in chunks) of a blob circling on the sensor with uniform background noise, or
(``--format aedat4|es|raw``) the same events written by faery as a camera file. Each run
is the command as typed, in a process of its own (``--one`` runs it in-process and reports the
process's peak RSS, ``ru_maxrss``), so the 5 s and 50 s runs are measured alike. Passing means
the 50 s run's peak RSS is within 1.3x of the 5 s run's.

    .venv/bin/python benchmarks/bench_long.py                 # both cases, 5 s and 50 s
    .venv/bin/python benchmarks/bench_long.py --seconds 1 5   # quicker
    .venv/bin/python benchmarks/bench_long.py --cases nmnist --json long.json

Run it on a quiet machine: the figures are timings.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CASES = {
    "nmnist": {
        "sensor": (34, 34),
        "rate": 20_000,
        "model": "sam_plugins_demo:trained_demo_net",
        "flags": [],
    },
    "davis": {
        "sensor": (346, 260),
        "rate": 200_000,
        "model": "sam_plugins_tonic.gestures:seeded_gesture_net",
        "flags": ["--crop", "45,2,256,256", "--downsample", "0.5"],
    },
}
EVENT = [("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "<i1")]
BLOCK = 1_000_000


def write_recording(path: Path, sensor: tuple[int, int], rate: int, seconds: float) -> Path:
    """An event .npy of `seconds` at `rate` events/s on a sensor (W, H): 80 % of the events
    around a blob circling once a second, 20 % uniform noise; written in blocks of BLOCK
    events (memory-mapped), so the writer never holds the recording."""
    width, height = sensor
    total = int(rate * seconds)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=EVENT, shape=(total,))
    rng = np.random.default_rng(0)
    span = seconds * 1e6 / total  # microseconds per event
    for start in range(0, total, BLOCK):
        n = min(BLOCK, total - start)
        t = ((start + np.arange(n)) * span).astype(np.int64)
        phase = t / 1e6 * 2 * np.pi
        x = width / 2 + width / 4 * np.cos(phase) + rng.normal(0, width / 20, n)
        y = height / 2 + height / 4 * np.sin(phase) + rng.normal(0, height / 20, n)
        noise = rng.random(n) < 0.2
        x[noise], y[noise] = rng.random(noise.sum()) * width, rng.random(noise.sum()) * height
        block = out[start : start + n]
        block["t"], block["p"] = t, rng.integers(0, 2, n)
        block["x"] = np.clip(np.floor(x), 0, width - 1)
        block["y"] = np.clip(np.floor(y), 0, height - 1)
    out.flush()
    del out
    return path


def convert(npy: Path, suffix: str, sensor: tuple[int, int]) -> Path:
    """The recording `npy` written by faery as a camera file (.aedat4, .es, .raw: EVT3)."""
    import faery

    events = np.load(npy, mmap_mode="r")
    array = np.zeros(len(events), faery.EVENTS_DTYPE)
    array["t"], array["x"], array["y"] = events["t"], events["x"], events["y"]
    array["on"] = events["p"] == 1
    path = npy.with_suffix(suffix)
    options = {"version": "evt3"} if suffix == ".raw" else {}
    faery.events_stream_from_array(array, dimensions=sensor).to_file(path, **options)
    return path


def run_one(case: str, recording: Path, out: Path) -> dict:
    """`sam-plugins explain MODEL --input REC --bin 10ms [flags]` in this process; what it
    printed, parsed, and this process's peak RSS."""
    from sam_plugins.cli import main

    spec = CASES[case]
    width, height = spec["sensor"]
    argv = ["explain", spec["model"], "--input", str(recording), "--bin", "10ms"]
    argv += ["--sensor-size", f"{width},{height},2", *spec["flags"], "--out", str(out)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(argv)
    text = printed.getvalue()
    if code != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({code}):\n{text}")
    found = re.search(
        r"explained (\d+) steps of \d+ us \((\d+) events\) in ([\d.]+) s: ([\d.]+) steps/s, "
        r"([\d.]+) events/s; reading and framing ([\d.]+) % of that time.*; ([\d.]+) s in all",
        text,
    )
    return {
        "case": case,
        "steps": int(found[1]),
        "events": int(found[2]),
        "stream_s": float(found[3]),
        "steps_per_s": float(found[4]),
        "events_per_s": float(found[5]),
        "read_frame_share": float(found[6]) / 100,
        "wall_s": float(found[7]),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=sorted(CASES))
    parser.add_argument("--seconds", nargs=2, type=float, default=(5.0, 50.0), metavar=("S", "L"))
    parser.add_argument("--data", type=Path, help="where the recordings are kept (default: temp)")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument(
        "--format",
        choices=("npy", "aedat4", "es", "raw"),
        default="npy",
        help="the recordings' file format (camera formats written by faery from the .npy)",
    )
    parser.add_argument(
        "--one", nargs=3, metavar=("CASE", "RECORDING", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.one:
        case, recording, out = args.one
        print(json.dumps(run_one(case, Path(recording), Path(out)) | {"file": recording}))
        return 0
    results, failed = [], False
    with tempfile.TemporaryDirectory() as scratch:
        data = args.data or Path(scratch)
        data.mkdir(parents=True, exist_ok=True)
        for case in args.cases:
            spec = CASES[case]
            rows = []
            for seconds in args.seconds:
                path = data / f"{case}_{seconds:g}s.npy"
                if not path.exists():
                    write_recording(path, spec["sensor"], spec["rate"], seconds)
                if args.format != "npy":
                    camera = path.with_suffix(f".{args.format}")
                    path = (
                        camera if camera.exists() else convert(path, camera.suffix, spec["sensor"])
                    )
                done = subprocess.run(
                    [sys.executable, __file__, "--one", case, str(path), f"{scratch}/{case}"],
                    capture_output=True,
                    text=True,
                    env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
                )
                if done.returncode:
                    print(done.stdout, done.stderr, file=sys.stderr)
                    return 1
                row = json.loads(done.stdout.strip().splitlines()[-1]) | {"seconds_long": seconds}
                rows.append(row)
                print(
                    f"{case:7s} {seconds:5g} s: {row['steps']:6d} steps, {row['events']:9d} "
                    f"events, {row['steps_per_s']:8.1f} steps/s, {row['events_per_s']:10.0f} "
                    f"events/s, reading+framing {100 * row['read_frame_share']:4.1f} % of the "
                    f"time, peak RSS {row['peak_rss_mib']:7.1f} MiB",
                    flush=True,
                )
            ratio = rows[-1]["peak_rss_mib"] / rows[0]["peak_rss_mib"]
            ok = ratio <= 1.3
            failed |= not ok
            print(f"{case}: peak RSS {ratio:.2f}x from the short to the long recording (<= 1.3x: "
                  f"{'yes' if ok else 'NO'})")  # fmt: skip
            results.extend(rows)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
