"""Live: the real-time factor, the latency and the highest event rate held without a dropped
step of ``sam-plugins live`` (issue 35 item 3), each case the command as typed in a process of
its own, its numbers read from its ``/state.json``.

Cases:

- ``demo-10ms``, ``demo-1ms``: the demo model (sam_plugins_demo, 34x34x2) at 10 ms and 1 ms bins.
- ``gesture-10ms``: a DVSGesture-sized model at 128x128x2
  (sam_plugins_tonic.gestures:seeded_gesture_net), 10 ms bins.

For each case:

1. real-time factor: a recording (a blob circling the sensor, 20 % uniform noise, at the
   case's rate) replayed with ``--replay REC --speed 0`` (as fast as the model runs, no step
   dropped); the steps run per second of wall time, times the bin: > 1 is faster than the
   camera.
2. latency: the same events sent over UDP by faery in real time (10 ms packets, paced by the
   wall clock) to ``--udp``; p50 and p99 from a step's last packet arriving to its maps being
   ready to serve, and the steps dropped.
3. the highest event rate without a dropped step: 3 s recordings at rates doubling from the
   case's rate, each replayed at its own pace (``--speed 1``) in a process of its own, until a
   rate drops steps (halving instead when the case's rate already drops); the last rate held,
   within a factor 2.

    .venv/bin/python benchmarks/bench_live.py                       # every case
    .venv/bin/python benchmarks/bench_live.py --cases demo-10ms --seconds 2 --json live.json

Run it on a quiet machine: the figures are timings. It prints the machine (CPU, cores) and the
date with the figures, for docs/live.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

CASES = {
    "demo-10ms": {"sensor": (34, 34), "bin": "10ms", "rate": 20_000,
                  "model": "sam_plugins_demo:trained_demo_net"},
    "demo-1ms": {"sensor": (34, 34), "bin": "1ms", "rate": 20_000,
                 "model": "sam_plugins_demo:trained_demo_net"},
    "gesture-10ms": {"sensor": (128, 128), "bin": "10ms", "rate": 100_000,
                     "model": "sam_plugins_tonic.gestures:seeded_gesture_net"},
}  # fmt: skip
EVENT = [("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "<i1")]
BIN = Path(sys.executable).parent


def events_at(sensor: tuple[int, int], rate: float, seconds: float, t0: int = 0) -> np.ndarray:
    """`seconds` of events at `rate` per second from `t0` (us): 80 % around a blob circling once
    a second, 20 % uniform noise."""
    width, height = sensor
    n = int(rate * seconds)
    rng = np.random.default_rng(n)
    t = t0 + (np.arange(n) * (seconds * 1e6 / n)).astype(np.int64)
    phase = t / 1e6 * 2 * np.pi
    x = width / 2 + width / 4 * np.cos(phase) + rng.normal(0, width / 20, n)
    y = height / 2 + height / 4 * np.sin(phase) + rng.normal(0, height / 20, n)
    noise = rng.random(n) < 0.2
    x[noise], y[noise] = rng.random(noise.sum()) * width, rng.random(noise.sum()) * height
    events = np.zeros(n, EVENT)
    events["t"], events["p"] = t, rng.integers(0, 2, n)
    events["x"] = np.clip(np.floor(x), 0, width - 1)
    events["y"] = np.clip(np.floor(y), 0, height - 1)
    events["x"][0], events["y"][0] = width - 1, height - 1  # the sensor, read from the events
    return events


class Live:
    """``sam-plugins live ...`` in a process of its own; its UDP port and page read from its
    first line."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        self.process = subprocess.Popen(
            ["sam-plugins", "live", *argv, "--http", "127.0.0.1:0"], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        first, found = "", None
        while not found:  # notes may come first
            line = self.process.stdout.readline()
            if not line:
                break
            first += line
            found = re.search(r"the page: (http://\S+/)", line)
        if not found:
            raise SystemExit(
                f"sam-plugins live did not start:\n{first}{self.process.stderr.read()}"
            )
        self.url = found.group(1)
        port = re.search(r"on 127\.0\.0\.1:(\d+)", line)
        self.udp = ("127.0.0.1", int(port.group(1))) if port else None

    def state(self) -> dict | None:
        try:
            with urllib.request.urlopen(self.url + "state.json", timeout=10) as answer:
                return json.loads(answer.read())
        except OSError:
            return None

    def stop(self) -> str:
        self.process.send_signal(2)  # SIGINT: Ctrl-C
        out, _ = self.process.communicate(timeout=120)
        return out.strip().splitlines()[-1] if out.strip() else ""


def send(events: np.ndarray, address: tuple[str, int], sensor: tuple[int, int]) -> float:
    """`events` sent by faery over UDP in 10 ms packets paced by the wall clock; the seconds by
    which the sender fell behind the events' own time at the end."""
    import faery

    array = np.zeros(len(events), faery.EVENTS_DTYPE)
    for field in ("t", "x", "y"):
        array[field] = events[field]
    array["on"] = events["p"] == 1
    began, sent = time.perf_counter(), [0]

    def pace(_state) -> None:
        sent[0] += 1
        time.sleep(max(0.0, began + sent[0] * 0.01 - time.perf_counter()))

    stream = faery.events_stream_from_array(array, sensor)
    stream.regularize(frequency_hz=100).to_udp(address, on_progress=pace)
    return time.perf_counter() - began - (int(events["t"][-1]) - int(events["t"][0])) / 1e6


def real_time_factor(spec: dict, seconds: float, folder: Path) -> dict:
    """Steps run per wall second at --speed 0, times the bin."""
    path = folder / "rec.npy"
    np.save(path, events_at(spec["sensor"], spec["rate"], seconds))
    live = Live(
        [spec["model"], "--replay", str(path), "--speed", "0", "--bin", spec["bin"]], folder
    )
    samples = []
    while live.process.poll() is None:
        state = live.state()
        if state is not None and "steps" in state:
            samples.append((time.perf_counter(), state["steps"]))
        time.sleep(0.05)
    live.process.communicate()
    moving = [(t, s) for t, s in samples if s > 0]
    if len(moving) < 2 or moving[-1][1] == moving[0][1]:
        return {"steps_per_s": None, "real_time_factor": None}
    (t1, s1), (t2, s2) = moving[0], moving[-1]
    per_s = (s2 - s1) / (t2 - t1)
    bin_s = int(re.match(r"\d+", spec["bin"]).group()) / (1000 if spec["bin"].endswith("ms") else 1)
    return {"steps_per_s": round(per_s, 1), "real_time_factor": round(per_s * bin_s, 3)}


def over_udp(spec: dict, seconds: float, folder: Path) -> dict:
    """Latency and dropped steps at the case's rate, the events sent over UDP in real time."""
    width, height = spec["sensor"]
    live = Live(
        [spec["model"], "--udp", "127.0.0.1:0", "--sensor-size", f"{width},{height},2",
         "--bin", spec["bin"]], folder,
    )  # fmt: skip
    try:
        events = events_at(spec["sensor"], spec["rate"], seconds)
        send(events, live.udp, spec["sensor"])
        time.sleep(0.3)  # the last packets framed and run (then quiet time makes empty steps)
        state = live.state()
        result = {
            "rate": spec["rate"],
            "latency_ms": state["latency_ms"],
            "dropped_steps": state["dropped_steps"],
            "steps": state["steps"],
        }
        result["summary"] = live.stop()
        return result
    finally:
        if live.process.poll() is None:
            live.process.kill()


SUMMARY = re.compile(r"live: (\d+) steps of \d+ us run, (\d+) events, (\d+) steps dropped")


def highest_rate(spec: dict, folder: Path, seconds: float = 3.0) -> dict:
    """The highest event rate a replay at its own pace (``--speed 1``) runs without a dropped
    step: rates doubling from the case's (halving when it already drops), each a recording of
    `seconds` in a process of its own; within a factor 2."""
    width, height = spec["sensor"]
    held, failed, rate, tried = None, None, spec["rate"], {}
    while 1_000 <= rate <= 10_000_000 and (held is None or failed is None):
        path = folder / f"rate{rate}.npy"
        np.save(path, events_at(spec["sensor"], rate, seconds))
        argv = [spec["model"], "--replay", str(path), "--bin", spec["bin"]]
        live = Live([*argv, "--sensor-size", f"{width},{height},2"], folder)
        out, _ = live.process.communicate(timeout=600)
        found = SUMMARY.search(out)
        dropped = int(found.group(3)) if found else None
        tried[rate] = dropped
        if dropped == 0:
            held = rate
        else:
            failed = rate
        rate = rate * 2 if dropped == 0 else rate // 2
    return {"highest_rate_without_drops": held, "dropped_per_rate": tried}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} cores, load {load:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=sorted(CASES))
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of events per run")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    results = {"machine": machine(), "date": datetime.date.today().isoformat(), "cases": {}}
    print(f"{results['machine']}, {results['date']}", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        for case in args.cases:
            spec = CASES[case]
            row = real_time_factor(spec, args.seconds, Path(scratch))
            row |= over_udp(spec, args.seconds, Path(scratch))
            row |= highest_rate(spec, Path(scratch))
            results["cases"][case] = row
            lat = row["latency_ms"]
            print(
                f"{case}: real-time factor {row['real_time_factor']} ({row['steps_per_s']} "
                f"steps/s); at {row['rate']} events/s over UDP latency p50 {lat['p50']} ms, "
                f"p99 {lat['p99']} ms, {row['dropped_steps']} steps dropped; highest rate "
                f"without drops {row['highest_rate_without_drops']} events/s",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
