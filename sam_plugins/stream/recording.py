"""A whole recording explained as one stream of steps (``sam-plugins explain --bin``): the loop
`run_stream` (event chunks -> `StepFramer` -> `StreamRunner` -> sinks) and `explain_recording`,
which runs it on an opened recording and writes maps.h5, the video and the time-line page."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io.events import EventStream, EventTransform, checked_chunks
from ..io.models import first_line
from ..render import frame_image
from .framing import StepFramer
from .page import region_caption, region_figure, write_timeline_page
from .runner import StreamRunner
from .sinks import LazyVideo, MapsFile, Timeline, video_path

CHUNK_STEPS = 64
"""Steps framed, run and written at once: what a long recording holds in memory at a time."""


@dataclass
class StreamStats:
    """What `run_stream` did: steps run, events read (before any crop), the most steps held at
    once, and the seconds spent reading (reading the file, cropping, feeding the framer),
    framing, running the model with SAM, and writing (the sinks)."""

    steps: int = 0
    events: int = 0
    largest_block: int = 0
    seconds: dict[str, float] = field(
        default_factory=lambda: {"read": 0.0, "frame": 0.0, "model": 0.0, "write": 0.0}
    )


def run_stream(
    chunks: Iterable[np.ndarray],
    framer: StepFramer,
    runner: StreamRunner,
    sinks: Sequence[Any] = (),
    chunk_steps: int = CHUNK_STEPS,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    watch: Callable[[np.ndarray], None] | None = None,
    progress: Any = None,
) -> StreamStats:
    """Explain a stream of event chunks step by step: each chunk is cropped / downsampled
    (`transform`), fed to `framer`, and every completed step is run by `runner` (inside its
    `with` block) in blocks of at most `chunk_steps` steps, each block written to every sink
    (``sink.write(steps, frames)``: `Steps` and the frames [n, P, H, W]). `watch(chunk)` sees
    each chunk as read (before the transform); `progress.update(n)` is called per block (a tqdm
    bar). Memory: one chunk of events and one block of steps."""
    stats, clock = StreamStats(), time.perf_counter
    chunks = iter(chunks)
    while True:
        began = clock()
        chunk = next(chunks, None)
        if chunk is None:
            stats.seconds["read"] += clock() - began
            break
        stats.events += len(chunk)
        if watch is not None:
            watch(chunk)
        framer.feed(chunk if transform is None else transform(chunk))
        stats.seconds["read"] += clock() - began
        while True:
            began = clock()
            frames = framer.take(chunk_steps)
            framed = clock()
            stats.seconds["frame"] += framed - began
            if not len(frames):
                break
            steps = runner.run(torch.from_numpy(frames)[:, None])  # [n, B=1, P, H, W]
            ran = clock()
            stats.seconds["model"] += ran - framed
            for sink in sinks:
                sink.write(steps, frames)
            stats.seconds["write"] += clock() - ran
            stats.steps += len(frames)
            stats.largest_block = max(stats.largest_block, len(frames))
            if progress is not None:
                progress.update(len(frames))
    return stats


def reader_draw(frame: np.ndarray) -> np.ndarray:
    """A frame [C, H, W] drawn by the first installed input reader that draws it (the tonic
    plugin colours event polarities), else by the core's `frame_image`."""
    from ..plugins import installed_readers

    for reader in installed_readers():
        image = reader.frame_image(frame)
        if image is not None:
            return image
    return frame_image(frame)


class _SensorCounts:
    """Events per pixel of the full sensor over the whole recording (before any crop): the
    picture the report draws the model's region on."""

    def __init__(self, sensor_size: tuple[int, int, int]) -> None:
        self.width, self.height = int(sensor_size[0]), int(sensor_size[1])
        self.counts = np.zeros(self.width * self.height, np.int64)

    def __call__(self, chunk: np.ndarray) -> None:
        pixel = chunk["y"].astype(np.int64) * self.width + chunk["x"].astype(np.int64)
        self.counts += np.bincount(pixel, minlength=self.counts.size)

    def image(self) -> np.ndarray:
        return self.counts.reshape(self.height, self.width)


def sensor_region(
    stream: EventStream,
    crop: tuple[int, int, int, int] | None,
    downsample: float | None,
    folder: Path,
) -> Path:
    """``folder/region.png``: the full sensor's events per pixel over the recording `stream`,
    with the region (`crop`) the model saw drawn on it and said in its title (a clip explained
    with --crop / --downsample)."""
    counts = _SensorCounts(stream.sensor_size)
    for chunk in stream.chunks:
        counts(chunk)
    transform = EventTransform(stream.sensor_size, crop, downsample)
    said = region_caption(
        stream.sensor_size, transform.region, transform.factor, transform.sensor_size
    )
    return region_figure(counts.image(), transform.region, Path(folder) / "region.png", said)


@dataclass
class RecordingResult:
    """What `explain_recording` wrote and measured."""

    paths: list[Path]
    stats: StreamStats
    sensor_size: tuple[int, int, int]
    model_sensor: tuple[int, int, int]
    wall_seconds: float


class DoesNotFit(ValueError):
    """The model failed on the framed steps (e.g. frames of another size than it takes)."""


def explain_recording(
    model: torch.nn.Module,
    stream: EventStream,
    out: Path,
    bin_us: int,
    *,
    crop: tuple[int, int, int, int] | None = None,
    downsample: float | None = None,
    layers: Sequence[str] | None = None,
    gamma: float | None = None,
    step_mode: str = "single",
    reset_every_us: int | None = None,
    window_us: int = 300_000,
    fps: float = 25.0,
    chunk_steps: int = CHUNK_STEPS,
    settings: dict[str, Any] | None = None,
    progress: bool = True,
) -> RecordingResult:
    """Explain the recording `stream` as one sample of T = duration // bin_us steps, the model's
    state carried from step to step (reset every `reset_every_us` if given, a whole number of
    bins), SAM streamed; writes into `out`: ``maps.h5`` (`MapsFile`), ``sam.mp4`` (or
    ``sam.gif`` without an MP4 encoder: `VideoSink`), ``timeline.png``, ``region.png`` and
    ``report.html`` (`write_timeline_page`). Nothing is left in `out` when it fails.

    Raises ValueError for bad arguments, a recording shorter than one step, or events that
    cannot be read (the reader's error); `DoesNotFit` when the model fails on the frames."""
    from tqdm import tqdm

    from ..engine import DEFAULT_GAMMA

    if reset_every_us is not None and reset_every_us % bin_us:
        raise ValueError(
            f"--reset-every ({reset_every_us} us) must be a whole number of steps of --bin "
            f"({bin_us} us)"
        )
    began = time.perf_counter()
    transform = EventTransform(stream.sensor_size, crop, downsample)
    framer = StepFramer(transform.sensor_size, bin_us)
    runner = StreamRunner(
        model,
        layers,
        DEFAULT_GAMMA if gamma is None else gamma,
        step_mode=step_mode,
        reset_every=None if reset_every_us is None else reset_every_us // bin_us,
    )
    out = Path(out)
    made_folder = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "maps.h5", video_path(out), out / "timeline.png", out / "region.png"]
    written.append(out / "report.html")
    labels = [(name, f"layer {name}") for name in runner.layers]
    settings = {**(settings or {}), "bin_us": bin_us, "layers": runner.layers}
    settings |= {
        "sensor_size": list(stream.sensor_size),
        "model_sensor": list(transform.sensor_size),
    }
    settings["sensor_from_events"] = stream.sensor_from_events
    settings |= {"gamma": runner.sam.gamma, "window": runner.sam.window, "chunk_steps": chunk_steps}
    counts = _SensorCounts(stream.sensor_size)
    sinks: list[Any] = []
    try:
        maps_file = MapsFile(written[0], settings, lambda: framer.t0, bin_us)
        sinks.append(maps_file)
        timeline = Timeline()
        sinks.append(timeline)
        video = LazyVideo(written[1], labels, reader_draw, fps, bin_us)
        sinks.append(video)
        bar = tqdm(unit="step", desc="explaining", disable=not progress, leave=False)
        with bar, runner:
            try:
                chunks = checked_chunks(stream.chunks, stream.sensor_size, stream.path)
                stats = run_stream(
                    chunks, framer, runner, sinks, chunk_steps, transform, counts, bar
                )
            except RuntimeError as exc:  # the model failed on the frames
                shape = (min(chunk_steps, max(framer.taken, 1)), 1, *_chw(transform))
                raise DoesNotFit(
                    f"the model failed on frames of shape {shape} ([T, B, C, H, W]): "
                    f"{first_line(exc)}"
                ) from None
        for sink in sinks:
            sink.close()
        if stats.steps == 0:
            span = "" if framer.t0 is None else f" over {framer._latest - framer.t0} us"
            raise ValueError(
                f"{stream.path}: the recording ({stats.events} events{span}) is shorter than one "
                f"step of --bin {bin_us} us: there is nothing to explain; give a shorter --bin"
            )
        write_timeline_page(
            written[4],
            timeline=timeline,
            bin_us=bin_us,
            window_us=window_us,
            settings=settings,
            figure_path=written[2],
            sensor_counts=counts.image(),  # the page says the region in words
            crop_region=transform.region,
            region_path=written[3],
            video=written[1].name,
            summary=rates(stats, bin_us),
            region=region_caption(
                stream.sensor_size, transform.region, transform.factor, transform.sensor_size
            ),
        )
    except BaseException:
        for sink in sinks:
            with contextlib.suppress(Exception):
                sink.close()
        for path in written:
            path.unlink(missing_ok=True)
        if made_folder and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
    wall = time.perf_counter() - began
    return RecordingResult(written, stats, stream.sensor_size, transform.sensor_size, wall)


def _chw(transform: EventTransform) -> tuple[int, int, int]:
    width, height, polarities = transform.sensor_size
    return polarities, height, width


def rates(stats: StreamStats, bin_us: int) -> str:
    """One line: the steps and events explained, steps/s and events/s over the stream (reading,
    framing, the model with SAM, writing; not the start-up or the report), and the shares."""
    total = max(sum(stats.seconds.values()), 1e-9)
    share = {k: 100 * v / total for k, v in stats.seconds.items()}
    return (
        f"explained {stats.steps} steps of {bin_us} us ({stats.events} events) in {total:.1f} s: "
        f"{stats.steps / total:.1f} steps/s, {stats.events / total:.0f} events/s; reading and "
        f"framing {share['read'] + share['frame']:.1f} % of that time, the model and SAM "
        f"{share['model']:.1f} %, writing maps and video {share['write']:.1f} %"
    )


def settings_json(settings: dict[str, Any]) -> str:
    """The settings as the JSON string maps.npz and maps.h5 keep."""
    return json.dumps(settings, default=str)


__all__ = [
    "CHUNK_STEPS",
    "DoesNotFit",
    "RecordingResult",
    "StreamStats",
    "explain_recording",
    "reader_draw",
    "rates",
    "run_stream",
    "sensor_region",
]
