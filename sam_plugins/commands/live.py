"""SAM live while an event camera records (UDP) or a recording replays, on a page in the browser.

``sam-plugins live MODEL --udp 127.0.0.1:7777 --sensor-size 34,34,2`` or ``--replay FILE``:
events binned by their own timestamps into steps of ``--bin``, the model's state and SAM's
carried, the latest step, its maps per layer, the prediction and a time line on
``--http 127.0.0.1:8765``; Ctrl-C ends it with one summary line (``--save DIR``: maps.h5, the
video and a report, as ``explain --bin`` writes them). See docs/live.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io.events import add_event_arguments
from .arguments import (
    CLIError,
    add_model_arguments,
    add_run_arguments,
    does_not_fit,
    duration,
    load_model,
    positive_int,
    writable_folder,
)

UDP_FORMATS = ("t64_x16_y16_on8", "t32_x16_y15_on1")
PROBE_STEPS = 8


def address(text: str) -> tuple[str, int]:
    """An argparse type: HOST:PORT (IPv4 or a name; port 0..65535, 0: a free one)."""
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(
            f"expected HOST:PORT (e.g. 127.0.0.1:8765; port 0 picks a free one), found {text!r}"
        )
    return host, int(port)


def speed(text: str) -> float:
    """An argparse type: a replay speed >= 0 (0: as fast as the model goes)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected a speed >= 0 (1: the recording's own pace, 0: as fast as the model "
            f"runs, no step dropped), found {text!r}"
        )
    return value


def add(subparsers) -> None:
    parser = subparsers.add_parser(
        "live",
        help="SAM live while an event camera records (UDP) or a recording replays, in the browser",
        description="Explain events as they come: from UDP packets (faery, aestream) or a "
        "replayed recording, binned by their own timestamps into steps, the model's state "
        "carried and SAM streamed; the latest step, SAM per layer, the prediction and a time "
        "line shown on a page (--http). A model slower than the events drops whole steps "
        "(counted). Ctrl-C ends it with one summary line.",
    )
    add_model_arguments(parser, None)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--udp", type=address, metavar="HOST:PORT", help="receive events in UDP packets here"
    )
    source.add_argument(
        "--replay",
        type=Path,
        metavar="FILE",
        help="replay a recording an installed reader reads (camera files, event .npy)",
    )
    parser.add_argument(
        "--udp-format",
        choices=UDP_FORMATS,
        default=UDP_FORMATS[0],
        help="the packets' event format (faery's and aestream's names)",
    )
    parser.add_argument(
        "--speed",
        type=speed,
        default=1.0,
        help="with --replay: times the recording's own pace (0: as fast as the model runs, "
        "waiting for it instead of dropping steps)",
    )
    add_event_arguments(
        parser,
        sensor_help="the sensor's size: needed with --udp; with --replay, for files that do not "
        "say it (CSV, RAW without a header)",
    )
    parser.add_argument(
        "--bin", type=duration, default=10_000, metavar="DURATION",
        help="the length of a step (e.g. 10ms, 1ms, 500us; default: 10ms)",
    )  # fmt: skip
    parser.add_argument(
        "--reset-every",
        type=duration,
        metavar="DURATION",
        help="reset the model's state and SAM's every DURATION of the stream, a whole number "
        "of bins (default: never)",
    )
    parser.add_argument(
        "--window",
        type=duration,
        default=300_000,
        metavar="DURATION",
        help="the prediction sums the outputs over this trailing window (default: 300ms)",
    )
    parser.add_argument(
        "--http",
        type=address,
        default=("127.0.0.1", 8765),
        metavar="HOST:PORT",
        help="serve the page here (default: 127.0.0.1:8765, this machine only; another "
        "address serves it to others, without authentication)",
    )
    parser.add_argument(
        "--queue",
        type=positive_int,
        metavar="STEPS",
        help="the most steps waiting for the model; more are dropped, oldest first (default: "
        "200 ms of steps, at least 16)",
    )
    add_run_arguments(parser)
    parser.add_argument(
        "--save",
        type=Path,
        metavar="DIR",
        help="on exit, write the session here: maps.h5, the video and report.html",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """Check the arguments, bind the sockets, load the model, run until Ctrl-C (or the end of
    a replay), print the summary line."""
    from sam_plugins.methods import warnings_as_notes

    if args.replay is None and args.sensor_size is None:
        raise CLIError("--udp needs --sensor-size W,H,P: UDP packets do not say the sensor's size")
    if args.replay is not None and args.udp_format != UDP_FORMATS[0]:
        raise CLIError("--udp-format applies to --udp, not to --replay")
    if args.reset_every is not None and args.reset_every % args.bin:
        raise CLIError(
            f"--reset-every ({args.reset_every} us) must be a whole number of steps of --bin "
            f"({args.bin} us)"
        )
    if args.save is not None:
        writable_folder(args.save, "--save")
    with warnings_as_notes():
        Live(args).run()


class Live:
    """The parts of one session, opened in order so that a bad argument fails before any
    work, and closed in any case."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.closing: list = []
        self.session = None
        self.fragments = None

    def _state(self) -> dict:
        return {"starting": True} if self.session is None else self.session.state()

    def _fragment(self) -> str | None:
        return None if self.fragments is None else self.fragments()

    def run(self) -> None:
        try:
            self._run()
        finally:
            for close in reversed(self.closing):
                close()

    def _run(self) -> None:
        import signal
        import threading

        import torch

        from sam_plugins.io.events import EventTransform, checked_chunks
        from sam_plugins.io.inputs import open_events
        from sam_plugins.live.server import LiveServer, is_loopback
        from sam_plugins.live.session import Framing, LiveSession, StepQueue
        from sam_plugins.live.sources import PacketDecoder, UdpSource, replay
        from sam_plugins.stream import StreamRunner, reader_draw

        args = self.args
        stream = None
        if args.replay is not None:
            stream = open_events(args.replay, args.sensor_size)  # LoadError: one line
            sensor = stream.sensor_size
        else:
            sensor = tuple(args.sensor_size)
        try:
            transform = EventTransform(sensor, args.crop, args.downsample)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        udp = None
        if args.udp is not None:
            host, port = args.udp
            try:
                udp = UdpSource(host, port, PacketDecoder(args.udp_format, sensor))
            except OSError as exc:
                raise CLIError(
                    f"--udp {host}:{port}: cannot listen there: {_reason(exc)}"
                ) from None
            self.closing.append(udp.close)
        host, port = args.http
        try:  # bound before the model loads: a port in use fails at once
            server = LiveServer(host, port, self._state, self._fragment)
        except OSError as exc:
            raise CLIError(f"--http {host}:{port}: cannot serve there: {_reason(exc)}") from None
        self.closing.append(server.close)
        if not is_loopback(host):
            print(
                f"warning: the page is served to every machine that reaches {host}:{port}, "
                "without authentication",
                file=sys.stderr,
            )
        width, height, polarities = transform.sensor_size
        model = load_model(args, inputs=torch.zeros(2, 1, polarities, height, width))
        runner = StreamRunner(model, args.layers, args.gamma, step_mode=args.step_mode)
        try:
            runner.__enter__()
        except LookupError as exc:
            raise CLIError(f"{exc} On the command line: --layers NAME [NAME ...]") from None
        self.closing.append(runner.__exit__)
        from sam_plugins.stream import StateNotCarried

        # the model on a few steps of a probe (0 to 8 events per pixel and step, the same at
        # every start), before any event: a model that does not take the frames, or that does
        # not carry its state from one call to the next (StreamRunner's check on its first
        # block), is refused now, not live
        probe = torch.rand(
            (PROBE_STEPS, 1, polarities, height, width), generator=torch.Generator().manual_seed(0)
        )
        probe = (probe * 8).floor()
        try:
            runner.run(probe)
        except StateNotCarried as exc:
            raise CLIError(
                str(exc).split(", so it")[0] + ": live runs one step at a time and needs a "
                "model that carries its state"
            ) from None
        except RuntimeError as exc:
            from sam_plugins.io.models import first_line

            shape = tuple(probe.shape)
            message = f"the model failed on frames of shape {shape} ([T, B, C, H, W]): "
            raise CLIError(
                does_not_fit(
                    message + first_line(exc), model, sensor, bool(stream and
                    stream.sensor_from_events), transform.sensor_size,
                )
            ) from None  # fmt: skip
        runner.reset()

        args.queue = args.queue or max(16, 200_000 // args.bin)
        queue = StepQueue(args.queue)
        wait = args.replay is not None and args.speed == 0
        framing = Framing(transform, args.bin, queue, wait, sensor_counts=args.save is not None)
        files = None
        if args.save is not None:
            from sam_plugins.live.save import SessionFiles

            files = SessionFiles(
                args.save, self._settings(runner, sensor, transform), lambda: framing.framer.t0,
                args.bin, runner.layers, reader_draw,
            )  # fmt: skip
        session = LiveSession(
            runner,
            framing,
            None if args.reset_every is None else args.reset_every // args.bin,
            max(1, round(args.window / args.bin)),
            [] if files is None else files.sinks,
        )
        if udp is not None:
            session.bad = lambda: dict(udp.decoder.bad)
        self.fragments = Fragments(session, framing)
        self.session = session
        server.start()

        stop, source_done = threading.Event(), threading.Event()
        if udp is not None:
            packets = udp.packets(stop)
            said = f"listening for UDP events ({args.udp_format}) on {udp.host}:{udp.port}"
        else:
            chunks = checked_chunks(stream.chunks, stream.sensor_size, stream.path)
            packets = replay(chunks, args.speed, stop)
            said = f"replaying {args.replay} at speed {args.speed:g}"
        failure: list[BaseException] = []

        def receive() -> None:
            try:
                for events, arrived in packets:
                    if len(events):
                        framing.push(events, arrived, stop)
                    elif udp is not None:  # quiet: the steps that time has completed
                        framing.idle(arrived)
            except Exception as exc:  # a corrupt file: said by the main thread
                failure.append(exc)
            finally:
                source_done.set()

        receiver = threading.Thread(target=receive, daemon=True)
        print(f"{said}; the page: {server.url} (Ctrl-C ends)", flush=True)

        def interrupted(signum, frame) -> None:
            stop.set()
            signal.signal(signal.SIGINT, signal.default_int_handler)  # twice: at once

        previous = signal.signal(signal.SIGINT, interrupted)
        try:
            receiver.start()
            try:
                session.run_model(stop, source_done)
            except RuntimeError as exc:
                from sam_plugins.io.models import first_line

                raise CLIError(f"the model failed on a step: {first_line(exc)}") from None
        finally:
            stop.set()
            signal.signal(signal.SIGINT, previous)
            receiver.join(timeout=2)
        if failure:
            from sam_plugins.io.models import first_line

            print(session.summary(), flush=True)
            raise CLIError(first_line(failure[0]))
        summary = session.summary()
        if files is not None:
            self.closing.remove(runner.__exit__)
            runner.__exit__(None, None, None)
            paths = files.finish(summary, args.window, framing.counts, transform, session.steps)
            print(f"wrote {len(paths)} files to {args.save}/", flush=True)
        print(summary, flush=True)

    def _settings(self, runner, sensor, transform) -> dict:
        from sam_plugins import __version__

        a = self.args
        return {
            "version": __version__,
            "model": str(a.model),
            "weights": None if a.weights is None else str(a.weights),
            "input": str(a.replay) if a.replay is not None else f"udp {a.udp[0]}:{a.udp[1]}",
            "gamma": runner.sam.gamma,
            "window": runner.sam.window,
            "bin_us": a.bin,
            "layers": runner.layers,
            "sensor_size": list(sensor),
            "model_sensor": list(transform.sensor_size),
            "crop": a.crop,
            "downsample": a.downsample,
            "reset_every_us": a.reset_every,
            "window_us": a.window,
            "speed": a.speed if a.replay is not None else None,
            "queue": a.queue,
            "step_mode": a.step_mode,
        }


class Fragments:
    """The latest step as HTML (`sam_plugins.viewer.live.frame_html`), drawn once per step when
    the page asks for it (in the server's thread, not the model's)."""

    def __init__(self, session, framing) -> None:
        import threading

        self.session, self.framing = session, framing
        self.lock = threading.Lock()
        self.step: int | None = None
        self.html: str | None = None

    def __call__(self) -> str | None:
        from sam_plugins.stream import reader_draw
        from sam_plugins.viewer.live import frame_html

        latest = self.session.latest
        if latest is None:
            return None
        with self.lock:
            if self.step != latest.step:
                p = latest.prediction
                said = (
                    None
                    if p is None
                    else (
                        f"predicted class {int(p['class'])} ({100 * float(p['confidence']):.0f} %)"
                    )
                )
                self.html = frame_html(
                    latest.frame, {f"layer {k}": v for k, v in latest.maps.items()},
                    latest.step, said, self.framing.timeline_until(latest.step), draw=reader_draw,
                )  # fmt: skip
                self.step = latest.step
            return self.html


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
