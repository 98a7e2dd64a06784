"""The parts of `sam-plugins live` in one process: faery's UDP packets decoded (both formats,
the 32-bit clock's wrap), the bounded step queue, and the server (only its three answers, names
escaped, a content security policy)."""

from __future__ import annotations

import json
import re
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path

import faery
import numpy as np

from sam_plugins.commands.live import Fragments
from sam_plugins.io.events import EventTransform
from sam_plugins.live.server import LiveServer, is_loopback
from sam_plugins.live.session import Framing, Latest, QueuedStep, StepQueue
from sam_plugins.live.sources import EVENTS, PacketDecoder


def faery_packets(events: np.ndarray, fmt: str) -> list[bytes]:
    """The UDP packets faery sends for `events` in format `fmt` (caught on a local socket)."""
    catcher = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    catcher.bind(("127.0.0.1", 0))
    catcher.settimeout(2)
    stream = faery.events_stream_from_array(events, (34, 34))
    stream.to_udp(catcher.getsockname(), events_per_packet=40, format=fmt)
    packets = []
    try:
        while True:
            packets.append(catcher.recv(65536))
    except TimeoutError:
        pass
    catcher.close()
    return packets


def events_of(n: int, t0: int = 0) -> np.ndarray:
    rng = np.random.default_rng(n)
    events = np.zeros(n, faery.EVENTS_DTYPE)
    events["t"] = t0 + np.sort(rng.integers(0, 50_000, n))
    events["x"], events["y"] = rng.integers(0, 34, n), rng.integers(0, 34, n)
    events["on"] = rng.integers(0, 2, n).astype(bool)
    return events


def test_faery_packets_decoded_in_both_formats():
    events = events_of(100)
    for fmt in ("t64_x16_y16_on8", "t32_x16_y15_on1"):
        decode = PacketDecoder(fmt, (34, 34, 2))
        packets = faery_packets(events, fmt)
        assert len(packets) == 3  # 40 + 40 + 20 events
        got = np.concatenate([decode(p) for p in packets])
        for ours, theirs in (("t", "t"), ("x", "x"), ("y", "y"), ("p", "on")):
            np.testing.assert_array_equal(got[ours], events[theirs].astype(np.int64), fmt)
        assert decode.bad == {"short": 0, "size": 0, "backwards": 0, "outside": 0}


def test_the_32_bit_clock_wraps_and_bad_packets_are_counted():
    decode = PacketDecoder("t32_x16_y15_on1", (34, 34, 2))
    before, after = events_of(10, 2**32 - 60_000), events_of(10, 2**32 + 10_000)
    first = np.concatenate([decode(p) for p in faery_packets(before, "t32_x16_y15_on1")])
    second = np.concatenate([decode(p) for p in faery_packets(after, "t32_x16_y15_on1")])
    np.testing.assert_array_equal(first["t"], before["t"].astype(np.int64))
    np.testing.assert_array_equal(second["t"], after["t"].astype(np.int64))  # read past 2**32
    packet = faery_packets(events_of(10), "t32_x16_y15_on1")[0]
    assert decode(packet[:5]) is None and decode(packet + b"x") is None
    assert decode(packet) is None  # its times, 2**32 us ago
    assert decode.bad == {"short": 1, "size": 1, "backwards": 1, "outside": 0}
    wide = PacketDecoder("t64_x16_y16_on8", (20, 34, 2))
    assert wide(faery_packets(events_of(10), "t64_x16_y16_on8")[0]) is None
    assert wide.bad["outside"] == 1


def test_the_queue_drops_the_oldest_step_or_waits():
    queue = StepQueue(3)
    frame = np.zeros((2, 4, 4), np.float32)
    for index in range(5):
        queue.put(QueuedStep(index, frame, 0, 0.0))
    assert (queue.dropped, queue.most, len(queue)) == (2, 3, 3)
    assert [s.index for s in queue.take(10, 0.1)] == [2, 3, 4]
    waiting = StepQueue(1)
    waiting.put(QueuedStep(0, frame, 0, 0.0))
    later = threading.Thread(target=waiting.put, args=(QueuedStep(1, frame, 0, 0.0), True))
    later.start()
    later.join(0.3)
    assert later.is_alive() and waiting.dropped == 0  # it waits for room
    assert [s.index for s in waiting.take(1, 0.1)] == [0]
    later.join(2)
    assert [s.index for s in waiting.take(1, 1.0)] == [1] and waiting.dropped == 0


def test_the_server_answers_its_page_state_and_frame_only_names_escaped():
    evil = '<img src=x onerror="alert(1)">'
    framing = Framing(EventTransform((8, 8, 2)), 1000, StepQueue(4))
    holder = type("Holder", (), {})()
    holder.latest = None
    fragments = Fragments(holder, framing)
    server = LiveServer("127.0.0.1", 0, lambda: {"layers": [evil], "steps": 1}, fragments)
    server.start()
    try:

        def get(path: str) -> tuple[int, dict, bytes]:
            try:
                with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=10) as r:
                    return r.status, dict(r.headers), r.read()
            except urllib.error.HTTPError as exc:
                return exc.code, dict(exc.headers), exc.read()

        code, headers, page = get("/")
        assert code == 200 and "script-src 'nonce-" in headers["Content-Security-Policy"]
        assert b"waiting for the first step" in get("/frame.html")[2]
        holder.latest = Latest(
            3, np.ones((2, 8, 8), np.float32), {evil: np.ones((4, 4), np.float32)}, None
        )
        frame = get("/frame.html")[2].decode()
        assert evil not in frame and "&lt;img src=x" in frame
        assert json.loads(get("/state.json")[2])["layers"] == [evil]  # JSON, set as text
        for path in ("/x", "/state.json/", "/../etc/passwd", "/frame.html/../x", "/index.html"):
            assert get(path)[0] == 404, path
    finally:
        server.close()
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def test_quiet_time_completes_steps_and_late_events_are_dropped():
    """A live source that goes quiet: `idle` completes the steps its clock has passed (less
    0.2 s for packets on their way); an event that then comes from before that time is dropped
    and counted, never fed to the framer out of order."""
    queue = StepQueue(100)
    framing = Framing(EventTransform((8, 8, 2)), 10_000, queue)
    events = np.zeros(3, EVENTS)
    events["t"] = [0, 5_000, 25_000]
    framing.push(events, 100.0)
    assert framing.steps == 2  # the event at 25 ms completes steps 0 and 1
    framing.idle(100.1)
    assert framing.steps == 2  # within 0.2 s of the last packet: still waiting
    framing.idle(100.5)  # 0.3 s past the last event: steps up to 325 ms
    assert framing.steps == 32
    late = np.zeros(2, EVENTS)
    late["t"] = [300_000, 330_000]
    framing.push(late, 100.6)
    assert (framing.late_events, framing.events, framing.steps) == (1, 5, 33)
    steps = queue.take(100, 0.1)
    assert [s.index for s in steps] == list(range(33))
    assert [s.events for s in steps[:3]] == [2, 0, 1] and steps[32].events == 0
    assert steps[2].arrived == 100.5 and steps[32].arrived == 100.5


def test_quiet_time_with_no_event_left_to_frame():
    """Every event framed, then quiet: the steps time completes are empty frames."""
    queue = StepQueue(100)
    framing = Framing(EventTransform((8, 8, 2)), 10_000, queue)
    events = np.zeros(2, EVENTS)
    events["t"] = [0, 10_000]  # completes step 0; the event at 10 ms stays pending
    framing.push(events, 50.0)
    framing.idle(50.5)  # to 310 ms: steps 1..30, step 1 holding the pending event
    framing.idle(51.0)  # to 810 ms: no event left to frame
    steps = queue.take(100, 0.1)
    assert [s.index for s in steps] == list(range(81))
    assert [s.events for s in steps[:3]] == [1, 1, 0] and sum(s.events for s in steps) == 2
    assert all(s.frame.shape == (2, 8, 8) and s.frame.dtype == np.float32 for s in steps)


def test_refused_arguments_are_one_line_and_exit_2(capsys):
    """What the command refuses before any work, and a model that does not take the frames
    (found on one empty step, before any event)."""
    import sam_plugins_demo as demo

    from sam_plugins.cli import main

    base = ["live", demo.FACTORY, "--http", "127.0.0.1:0"]
    cases = [
        (["--udp", "127.0.0.1:0"], "--udp needs --sensor-size W,H,P"),
        (["--udp", "127.0.0.1"], "expected HOST:PORT"),
        (["--udp", "127.0.0.1:0", "--sensor-size", "34,34,2", "--reset-every", "15ms"],
         "--reset-every (15000 us) must be a whole number of steps of --bin (10000 us)"),
        (["--replay", "x.npy", "--speed", "-1"], "expected a speed >= 0"),
        (["--udp", "127.0.0.1:0", "--sensor-size", "34,34,2", "--crop", "0,0,40,40"],
         "--crop 0,0,40,40 is not inside the sensor of 34x34"),
        (["--udp", "127.0.0.1:0", "--sensor-size", "40,40,2"],
         "the model failed on frames of shape (8, 1, 2, 40, 40)"),
    ]  # fmt: skip
    for flags, said in cases:
        assert main([*base, *flags]) == 2, flags
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1 and "error:" in err, err


def test_live_help_as_typed_imports_no_torch_and_says_each_default_once():
    """`sam-plugins live --help` as typed: no torch or framework imported, every option with
    help, each default said at most once (as tests/test_cli.py checks the other commands)."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from sam_plugins.cli import build_parser

    exe = shutil.which("sam-plugins", path=str(Path(sys.executable).parent))
    done = subprocess.run(
        [exe, "live", "--help"], env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in lines}
    assert "sam_plugins" in imported and not imported & {"torch", "numba", "h5py", "snntorch"}
    shown = " ".join(done.stdout.split())
    assert shown.startswith("usage: sam-plugins live ") and "--udp HOST:PORT" in shown
    assert "default: 10ms)" in shown and "default: 127.0.0.1:8765" in shown
    parser = build_parser("live")._subparsers._group_actions[0].choices["live"]
    formatter = parser._get_formatter()
    for action in parser._actions:
        said = formatter._expand_help(action) if action.help else ""
        assert action.help, action.option_strings or action.dest
        assert said.count("default") <= 1 and "(default: None)" not in said, said
    listed = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert re.search(r"^ +live +SAM live", listed.stdout, re.M), listed.stdout


def test_a_model_that_does_not_carry_its_state_is_refused(monkeypatch, capsys):
    """A Norse model called with its state from None at every call would start over at every
    step: refused before any event, in one line."""
    from sam_plugins.cli import main

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "adapters"))
    argv = ["live", "framework_models:norse_net", "--udp", "127.0.0.1:0", "--sensor-size",
            "8,8,2", "--http", "127.0.0.1:0"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "does not carry its state from one call to the next" in err, err
    assert err.count("\n") == 1 and "needs a model that carries its state" in err
