"""`sam-plugins live`: events over UDP sent by faery in real time, /state.json advancing, the
page in Chromium, bad packets counted, a slow model dropping whole steps with a bounded queue,
Ctrl-C's summary line, --replay as typed, and a replay equal to `explain --bin`."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import faery
import h5py
import numpy as np
import pytest
import sam_plugins_demo as demo
from analysis.typed import shell_env, typed
from conftest import BROWSER_MISSING

from sam_plugins.cli import main

SENSOR = (34, 34, 2)
EVENT = [("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "<i1")]
SUMMARY = re.compile(
    r"^live: (\d+) steps of (\d+) us run, (\d+) events, (\d+) steps dropped, latency p50 "
    r"([\d.]+) ms, p99 ([\d.]+) ms"
)


def recording(seconds: float, rate: float = 8_000, seed: int = 0) -> np.ndarray:
    """A blob circling on the 34 x 34 sensor, `rate` events/s, the first at t = 0 and one at
    the sensor's far corner (so the size read from the events is the sensor's)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.sort(rng.integers(0, int(seconds * 1e6), n))
    t[0] = 0
    phase = t / 1e6 * 2 * np.pi / 0.6
    x = 17 + 8.5 * np.cos(phase) + rng.normal(0, 3.4, n)
    y = 17 + 8.5 * np.sin(phase) + rng.normal(0, 3.4, n)
    events = np.zeros(n, EVENT)
    events["t"], events["p"] = t, rng.integers(0, 2, n)
    events["x"], events["y"] = np.clip(x.round(), 0, 33), np.clip(y.round(), 0, 33)
    events["x"][n // 2], events["y"][n // 3] = 33, 33
    return events


class Live:
    """`command` (a `sam-plugins live` line) started as typed in a shell; `udp` and `url` read
    from its first line."""

    def __init__(self, command: str, cwd) -> None:
        self.process = subprocess.Popen(
            f"exec {command}", shell=True, cwd=cwd, env=shell_env(), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        first, found = "", None
        while not found:  # notes may come first
            line = self.process.stdout.readline()
            assert line, first + self.process.stderr.read()
            first += line
            found = re.search(r"the page: (http://[\d.]+:\d+/)", line)
        self.url = found.group(1)
        port = re.search(r"on 127\.0\.0\.1:(\d+)", line)
        self.udp = ("127.0.0.1", int(port.group(1))) if port else None

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url.rstrip("/") + path, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def state(self) -> dict:
        return json.loads(self.get("/state.json")[1])

    def interrupt(self) -> tuple[int, str, str]:
        """Ctrl-C: SIGINT, then the exit status and what it printed."""
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def send_in_real_time(
    events: np.ndarray, address: tuple[str, int], fmt: str = "t64_x16_y16_on8"
) -> None:
    """The events sent by faery over UDP (format `fmt`) in 10 ms packets, each when its time
    comes."""
    began = time.perf_counter()
    sent = [0]

    def pace(_state) -> None:  # after each 10 ms packet: wait for the wall clock
        sent[0] += 1
        time.sleep(max(0.0, began + sent[0] * 0.01 - time.perf_counter()))

    stream = faery.events_stream_from_array(events.astype(faery.EVENTS_DTYPE), SENSOR[:2])
    stream.regularize(frequency_hz=100).to_udp(address, format=fmt, on_progress=pace)


def test_udp_in_real_time_the_page_bad_packets_and_ctrl_c(tmp_path, request):
    """3 s of events sent by faery in real time: /state.json advances, Chromium sees the step
    counter and the picture change; short, wrongly sized, backwards and out-of-sensor packets
    are counted and skipped; only the page, its state and its frame are served; Ctrl-C gives
    exit 0 and the summary line."""
    live = Live(
        f"sam-plugins live {demo.FACTORY} --udp 127.0.0.1:0 --sensor-size 34,34,2 "
        "--http 127.0.0.1:0",
        tmp_path,
    )
    request.addfinalizer(live.kill)
    events = recording(3.0)
    sender = threading.Thread(target=send_in_real_time, args=(events, live.udp))
    sender.start()
    seen = []
    while sender.is_alive():
        seen.append(live.state())
        time.sleep(0.25)
    sender.join()
    steps = [s["steps"] for s in seen]
    assert steps == sorted(steps) and steps[-1] > steps[0], steps
    assert seen[-1]["events"] > seen[0]["events"]
    assert {"steps", "events", "dropped_steps", "prediction", "latency_ms"} <= set(seen[-1])

    if not BROWSER_MISSING:  # the page: the counter and the picture change
        browser = request.getfixturevalue("browser")
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        browser.get(live.url)
        wait = WebDriverWait(browser, 20)
        counter = browser.find_element(By.ID, "steps")
        # the layer's picture, read in one script (the page replaces it at each new step)
        script = "const i = document.querySelector('div.sam-live img[alt=\"layer 1\"]'); "
        script += "return i ? i.src : null;"
        wait.until(lambda b: b.execute_script(script))
        shown = (counter.text, browser.execute_script(script))
        # the times restart at 0: faery's packets now go backwards, so shift them past the end
        later = recording(1.0, seed=1)
        later["t"] += events["t"][-1] + 1
        more = threading.Thread(target=send_in_real_time, args=(later, live.udp))
        more.start()
        wait.until(lambda b: counter.text != shown[0])
        wait.until(lambda b: b.execute_script(script) not in (None, shown[1]))
        more.join()
        events = np.concatenate([events, later])

    before = live.state()
    bad = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    good = np.zeros(3, faery.EVENTS_DTYPE)
    good["t"] = int(events["t"][-1]) + 1
    backwards = good.copy()
    backwards["t"] = 0
    outside = good.copy()
    outside["x"] = 34
    for packet in (b"12345", good.tobytes() + b"xy", backwards.tobytes(), outside.tobytes()):
        bad.sendto(packet, live.udp)
    deadline = time.time() + 30
    after = live.state()
    while time.time() < deadline and sum(after["bad_packets"].values()) < 4:
        time.sleep(0.1)
        after = live.state()
    assert after["bad_packets"] == {"short": 1, "size": 1, "backwards": 1, "outside": 1}
    assert after["events"] == before["events"] == len(events)  # none of them counted

    assert live.get("/state.json")[0] == 200 and live.get("/")[0] == 200
    for path in ("/etc/passwd", "/../README.md", "/favicon.ico", "/state.json/.."):
        assert live.get(path)[0] == 404, path

    code, out, err = live.interrupt()
    assert code == 0, err
    last = out.strip().splitlines()[-1]
    found = SUMMARY.match(last)
    assert found, out
    run, bin_us, counted, dropped = (int(v) for v in found.groups()[:4])
    assert (bin_us, counted) == (10_000, len(events))
    # quiet time goes on completing (empty) steps after the last event
    assert run >= after["steps"] and dropped >= after["dropped_steps"]
    assert after["steps"] + after["dropped_steps"] <= after["steps_framed"]
    assert "4 bad packets skipped" in last
    assert "Traceback" not in err


SLOW_MODEL = '''
import time
from torch import nn
import sam_plugins_demo


class Slow(nn.Module):
    """The demo model, 50 ms slower per step."""

    def __init__(self):
        super().__init__()
        self.net = sam_plugins_demo.trained_demo_net()

    def forward(self, x):
        time.sleep(0.05)
        return self.net(x)


def slow():
    return Slow()
'''


def test_a_slow_model_drops_whole_steps_with_a_bounded_queue(tmp_path, request):
    """A model slower than the events (a 50 ms sleep per 10 ms step), the events in aestream's
    32-bit format: steps are dropped and counted, the queue never holds more than --queue
    steps (memory flat), the page says so; --save keeps the steps run, their times saying
    which."""
    (tmp_path / "slow_model.py").write_text(SLOW_MODEL)
    live = Live(
        "sam-plugins live slow_model:slow --udp 127.0.0.1:0 --sensor-size 34,34,2 "
        "--http 127.0.0.1:0 --queue 4 --udp-format t32_x16_y15_on1 --save saved",
        tmp_path,
    )
    request.addfinalizer(live.kill)
    send_in_real_time(recording(1.5), live.udp, "t32_x16_y15_on1")
    time.sleep(0.5)
    state = live.state()
    assert state["dropped_steps"] > 0
    assert state["queue"]["size"] == 4 and state["queue"]["most"] <= 4
    assert (
        state["steps"] + state["dropped_steps"] + state["queue"]["length"]
        <= (state["steps_framed"])
    )
    if not BROWSER_MISSING:  # the page says so
        browser = request.getfixturevalue("browser")
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        browser.get(live.url)
        behind = browser.find_element(By.ID, "behind")
        WebDriverWait(browser, 20).until(lambda _: behind.is_displayed())
        assert "steps dropped: the model is slower than the events" in behind.text
    code, out, err = live.interrupt()
    assert code == 0, err
    found = SUMMARY.match(out.strip().splitlines()[-1])
    run, dropped = int(found.group(1)), int(found.group(4))
    assert dropped > 0
    with h5py.File(tmp_path / "saved" / "maps.h5") as saved:  # the steps run, and which
        time_us = saved["time_us"][()]
        assert len(time_us) == len(saved["layer_net.1"]) == len(saved["outputs"]) == run
    assert (np.diff(time_us) % 10_000 == 0).all() and np.diff(time_us).max() > 10_000


def test_replay_as_typed_and_equal_to_explain_bin(tmp_path):
    """`live --replay rec.npy` with its defaults ends with the recording and says its summary;
    `--speed 0 --save DIR` drops nothing and writes the maps `explain --bin` writes."""
    np.save(tmp_path / "rec.npy", recording(0.5))
    done = typed(f"sam-plugins live {demo.FACTORY} --replay rec.npy --http 127.0.0.1:0", tmp_path)
    assert done.returncode == 0, done.stderr
    found = SUMMARY.match(done.stdout.strip().splitlines()[-1])
    assert found and int(found.group(3)) == 4000, done.stdout
    assert int(found.group(1)) + int(found.group(4)) == 49  # every whole 10 ms step

    done = typed(
        f"sam-plugins live {demo.FACTORY} --replay rec.npy --speed 0 --save live "
        "--http 127.0.0.1:0",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert SUMMARY.match(done.stdout.strip().splitlines()[-1]).group(1, 4) == ("49", "0")
    assert {p.name for p in (tmp_path / "live").iterdir()} >= {"maps.h5", "report.html"}
    offline = ["explain", demo.FACTORY, "--input", str(tmp_path / "rec.npy"), "--bin", "10ms"]
    assert main([*offline, "--out", str(tmp_path / "sam-report")]) == 0
    with (
        h5py.File(tmp_path / "live" / "maps.h5") as a,
        h5py.File(tmp_path / "sam-report" / "maps.h5") as b,
    ):
        assert sorted(a) == sorted(b) == ["layer_1", "layer_3", "layer_6", "outputs", "time_us"]
        for name in b:
            assert b[name][()].any() or name == "time_us"
            np.testing.assert_array_equal(a[name][()], b[name][()], err_msg=name)


def test_replay_with_reset_crop_downsample_layers_equals_explain_bin(tmp_path):
    """--reset-every, --crop, --downsample, --layers and --window as for `explain --bin`: the
    same maps, the settings saved; the page served to other machines says so once."""
    events = recording(0.4, seed=2)
    events["x"], events["y"] = events["x"] * 2 + 10, events["y"] * 2 + 4  # on a 80 x 72 sensor
    np.save(tmp_path / "big.npy", events)
    flags = (
        "--sensor-size 80,72,2 --crop 10,4,68,68 --downsample 0.5 --bin 10ms "
        "--reset-every 50ms --layers 1 3"
    )
    done = typed(
        f"sam-plugins live {demo.FACTORY} --replay big.npy --speed 0 --save live {flags} "
        "--window 100ms --http 0.0.0.0:0",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and "without authentication" in warned[0]  # not 127.0.0.1
    offline = ["explain", demo.FACTORY, "--input", str(tmp_path / "big.npy"), *flags.split()]
    assert main([*offline, "--out", str(tmp_path / "sam-report")]) == 0
    saved, offline = tmp_path / "live" / "maps.h5", tmp_path / "sam-report" / "maps.h5"
    with h5py.File(saved) as a, h5py.File(offline) as b:
        assert sorted(a) == sorted(b) == ["layer_1", "layer_3", "outputs", "time_us"]
        assert len(a["time_us"]) == 39
        for name in b:
            np.testing.assert_array_equal(a[name][()], b[name][()], err_msg=name)
        used = json.loads(a.attrs["settings"])
    assert used["model_sensor"] == [34, 34, 2] and used["reset_every_us"] == 50_000
    assert used["window_us"] == 100_000 and used["layers"] == ["1", "3"]


@pytest.mark.parametrize("flag", ["--http", "--udp"])
def test_a_port_in_use_is_one_line_and_exit_2(tmp_path, flag):
    """A port taken by another program: one line `error: ...`, exit 2, nothing else."""
    kind = socket.SOCK_STREAM if flag == "--http" else socket.SOCK_DGRAM
    taken = socket.socket(socket.AF_INET, kind)
    taken.bind(("127.0.0.1", 0))
    if kind == socket.SOCK_STREAM:
        taken.listen()
    port = taken.getsockname()[1]
    address = {"--http": f"--http 127.0.0.1:{port} --udp 127.0.0.1:0",
               "--udp": f"--udp 127.0.0.1:{port} --http 127.0.0.1:0"}[flag]  # fmt: skip
    done = typed(f"sam-plugins live {demo.FACTORY} {address} --sensor-size 34,34,2", tmp_path)
    taken.close()
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "error:" in done.stderr, done.stderr
    assert f"{flag} 127.0.0.1:{port}" in done.stderr
