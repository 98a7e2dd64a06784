"""One live session: events in (a receiver thread), steps through a bounded queue, the model
with SAM over them (the caller's thread), the latest step kept for the page.

- `Framing` (the receiver's side): events -> `StepFramer` -> one `QueuedStep` per completed
  step into the `StepQueue`, with the arrival time of the packet that held its last event.
- `StepQueue`: at most `size` steps. Live, a full queue drops its oldest step (counted: the
  model is slower than the events; memory stays flat); a replay at full speed waits instead.
- `LiveSession.run_model`: takes the queued steps, runs them with `StreamRunner` (the model's
  state and SAM's carried; reset every `reset_every` steps of the stream), writes them to the
  sinks, and keeps the latest step, the prediction over a trailing window and the latencies.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..io.events import EventTransform
from ..stream.framing import StepFramer

LATENCIES_KEPT = 10_000
TIMELINE_SECONDS = 5.0
TIMELINE_MOST = 1000


@dataclass
class QueuedStep:
    """A completed step waiting for the model: its index in the stream (from 0), its frame
    [P, H, W], its events, and when the packet holding its last event arrived."""

    index: int
    frame: np.ndarray
    events: int
    arrived: float


class StepQueue:
    """A queue of at most `size` steps between the receiver and the model."""

    def __init__(self, size: int) -> None:
        self.size = int(size)
        self.items: collections.deque[QueuedStep] = collections.deque()
        self.ready = threading.Condition()
        self.dropped = 0
        self.most = 0  # the longest the queue has been

    def put(self, step: QueuedStep, wait: bool = False, stop: threading.Event | None = None):
        """Add `step`; when full, drop the oldest (counted) or, with `wait`, wait for room."""
        with self.ready:
            while wait and len(self.items) >= self.size and not (stop and stop.is_set()):
                self.ready.wait(0.05)
            if len(self.items) >= self.size:
                self.items.popleft()
                self.dropped += 1
            self.items.append(step)
            self.most = max(self.most, len(self.items))
            self.ready.notify_all()

    def take(self, most: int, timeout: float) -> list[QueuedStep]:
        """Up to `most` steps, waiting up to `timeout` s for the first."""
        with self.ready:
            if not self.items:
                self.ready.wait(timeout)
            taken = [self.items.popleft() for _ in range(min(most, len(self.items)))]
            self.ready.notify_all()
            return taken

    def __len__(self) -> int:
        return len(self.items)


class Framing:
    """The receiver's side: `push(events, arrived)` crops / downsamples the events
    (`transform`), frames them into steps of `bin_us` and puts each completed step in `queue`.
    Also counts the events (before the crop), keeps the events per step of the last seconds
    (the time line) and, when `sensor_counts` is asked, the events per pixel of the full
    sensor (the report's region picture)."""

    def __init__(
        self,
        transform: EventTransform,
        bin_us: int,
        queue: StepQueue,
        wait: bool = False,
        sensor_counts: bool = False,
    ) -> None:
        self.transform, self.queue, self.wait = transform, queue, wait
        self.framer = StepFramer(transform.sensor_size, bin_us)
        self.bin_us = bin_us
        self.events = 0
        self.steps = 0  # steps framed
        self.packets: collections.deque[tuple[int, float]] = collections.deque()
        kept = min(TIMELINE_MOST, max(1, round(TIMELINE_SECONDS * 1e6 / bin_us)))
        self.timeline: collections.deque[tuple[int, int]] = collections.deque(maxlen=kept)
        width, height = transform.full_size[:2]
        self.counts = np.zeros(width * height, np.int64) if sensor_counts else None
        self.lock = threading.Lock()
        self.last: tuple[int, float] | None = None  # the latest event's time, its arrival
        self.advanced: int | None = None  # the time `idle` said has passed
        self.late_events = 0

    def push(self, events: np.ndarray, arrived: float, stop: threading.Event | None = None):
        if not len(events):
            return
        if self.counts is not None:
            pixel = events["y"].astype(np.int64) * self.transform.full_size[0] + events["x"]
            self.counts += np.bincount(pixel, minlength=self.counts.size)
        with self.lock:
            self.events += len(events)
        self.last = (int(events["t"][-1]), arrived)
        seen = self.transform(events)
        if self.advanced is not None and len(seen) and seen["t"][0] < self.advanced:
            late = seen["t"] < self.advanced  # in steps already run as quiet
            self.late_events += int(late.sum())
            seen = seen[~late]
        if not len(seen):
            return
        self.packets.append((int(seen["t"][0]), arrived))
        self._queue(self.framer.push(seen), stop)

    def idle(self, now: float, quiet: float = 0.2) -> None:
        """No packet has come for a while (a live source): the steps that end by the events'
        clock now, the latest event's time plus the wall time since its packet came less
        `quiet` seconds (for packets still on their way), are complete and queued (empty steps
        show the maps fading). Events that still come from before that time are dropped and
        counted (`late_events`). Nothing before the first event."""
        if self.last is None or self.framer.t0 is None:
            return
        t_last, arrived = self.last
        if now - arrived <= quiet:
            return
        until = t_last + int((now - arrived - quiet) * 1e6)
        if self.advanced is not None and until <= self.advanced:
            return
        self.advanced = until
        self.framer.advance(until)
        self._queue(self.framer.take(), None, now)  # their latency: from now
        self.packets.append((until, now))  # a step after `until` with no event: known since now

    def _queue(
        self, frames: np.ndarray, stop: threading.Event | None, completed: float | None = None
    ) -> None:
        """Put each frame in the queue as a step, with the arrival of the packet holding its
        last event (or `completed`)."""
        for frame in frames:
            index = self.steps
            end = self.framer.t0 + (index + 1) * self.bin_us
            while len(self.packets) > 1 and self.packets[1][0] < end:
                self.packets.popleft()  # the packet at [0] holds this step's last event
            count = int(frame.sum())
            with self.lock:
                self.timeline.append((index, count))
            arrived = self.packets[0][1] if completed is None else completed
            self.queue.put(QueuedStep(index, frame, count, arrived), self.wait, stop)
            self.steps += 1

    def timeline_until(self, step: int) -> list[float]:
        """Events per step of the kept steps up to `step` (contiguous, the last one `step`)."""
        with self.lock:
            return [float(n) for i, n in self.timeline if i <= step]


@dataclass
class Latest:
    """What the page shows: the latest step run, its frame [P, H, W], each layer's raw map of
    that step ([h, w] or [N]) and the prediction then."""

    step: int
    frame: np.ndarray
    maps: dict[str, np.ndarray]
    prediction: dict[str, Any] | None


class LiveSession:
    """The model's side of a session; the numbers `state()` gives are what /state.json says.

    Args:
        runner: a `sam_plugins.stream.StreamRunner` entered (hooks attached), whose own
            `reset_every` is None: resets follow the stream's step index here, so that a
            dropped step does not shift them.
        framing: the receiver's `Framing` (its queue is read here).
        reset_every: steps of the stream between resets (None: never).
        window_steps: the prediction sums the class scores of this many trailing steps.
        sinks: objects with ``write(steps, frames)`` (`sam_plugins.stream` sinks), fed each
            contiguous block of steps run.
    """

    def __init__(
        self,
        runner: Any,
        framing: Framing,
        reset_every: int | None = None,
        window_steps: int = 30,
        sinks: Sequence[Any] = (),
        block: int = 64,
    ) -> None:
        self.runner, self.framing, self.queue = runner, framing, framing.queue
        self.reset_every, self.window_steps = reset_every, max(1, int(window_steps))
        self.sinks, self.block = list(sinks), block
        self.steps = 0  # steps run
        self.last_index: int | None = None
        self.latest: Latest | None = None
        self.latencies: collections.deque[float] = collections.deque(maxlen=LATENCIES_KEPT)
        self.scores: collections.deque[tuple[int, np.ndarray]] = collections.deque()
        self.seconds = {"model": 0.0, "write": 0.0}
        self.bad: Callable[[], dict[str, int]] = dict
        self.finished = False

    def run_model(self, stop: threading.Event, source_done: threading.Event) -> None:
        """Run the queued steps until `stop` is set, or the source is done and the queue
        empty."""
        while not stop.is_set():
            taken = self.queue.take(self.block, 0.1)
            if not taken:
                if source_done.is_set() and not len(self.queue):
                    break
                continue
            for part in self._parts(taken):
                self._run(part)
        self.finished = True

    def _parts(self, taken: list[QueuedStep]) -> Iterable[list[QueuedStep]]:
        """`taken` cut where a step was dropped and at every reset."""
        part: list[QueuedStep] = []
        for step in taken:
            if part and (step.index != part[-1].index + 1 or self._resets_at(step.index)):
                yield part
                part = []
            part.append(step)
        if part:
            yield part

    def _resets_at(self, index: int) -> bool:
        return bool(self.reset_every) and index % self.reset_every == 0

    def _run(self, part: list[QueuedStep]) -> None:
        import torch

        from ..stream.runner import Steps

        first = part[0].index
        every = self.reset_every
        if self.last_index is not None and every and first // every != self.last_index // every:
            self.runner.reset()
        began = time.perf_counter()
        frames = np.stack([s.frame for s in part])  # [n, P, H, W]
        done = self.runner.run(torch.from_numpy(frames)[:, None])  # [n, B=1, P, H, W]
        steps = Steps(first, done.outputs, done.maps)
        ran = time.perf_counter()
        for sink in self.sinks:
            sink.write(steps, frames)
        self.seconds["model"] += ran - began
        self.seconds["write"] += time.perf_counter() - ran
        scores = steps.scores()
        if scores is not None:
            for k, s in enumerate(part):
                self.scores.append((s.index, scores[k, 0].double().numpy()))
        last = part[-1].index
        while self.scores and self.scores[0][0] <= last - self.window_steps:
            self.scores.popleft()
        maps = {name: m[-1, 0].float().numpy() for name, m in steps.maps.items()}
        self.latest = Latest(last, part[-1].frame, maps, self._prediction())
        now = time.perf_counter()
        self.latencies.extend(now - s.arrived for s in part)
        self.steps += len(part)
        self.last_index = last

    def _prediction(self) -> dict[str, Any] | None:
        """The class whose scores summed over the trailing window are largest, and its
        confidence: its share of the summed scores when they are counts (>= 0), else the
        softmax of the sums; None without scores or when they sum to 0."""
        if not self.scores:
            return None
        total = np.sum([s for _, s in self.scores], axis=0)
        if not np.abs(total).max() > 0:
            return None
        top = int(total.argmax())
        if (total >= 0).all():
            confidence = float(total[top] / total.sum())
        else:
            e = np.exp(total - total.max())
            confidence = float(e[top] / e.sum())
        return {"class": top, "confidence": round(confidence, 4)}

    def latency_ms(self) -> dict[str, float | None]:
        if not self.latencies:
            return {"p50": None, "p99": None}
        p50, p99 = np.percentile(np.fromiter(self.latencies, float), [50, 99]) * 1000
        return {"p50": round(float(p50), 3), "p99": round(float(p99), 3)}

    def state(self) -> dict[str, Any]:
        """What /state.json says."""
        latest = self.latest
        return {
            "steps": self.steps,
            "events": self.framing.events,
            "dropped_steps": self.queue.dropped,
            "prediction": None if latest is None else latest.prediction,
            "latency_ms": self.latency_ms(),
            "step": None if latest is None else latest.step,
            "steps_framed": self.framing.steps,
            "queue": {"length": len(self.queue), "size": self.queue.size, "most": self.queue.most},
            "bad_packets": self.bad(),
            "late_events": self.framing.late_events,
            "bin_us": self.framing.bin_us,
            "layers": list(self.runner.layers),
            "finished": self.finished,
        }

    def summary(self) -> str:
        """One line: steps, events, dropped steps, latency, and bad packets if any."""
        lat = self.latency_ms()
        said = (
            "no step run"
            if lat["p50"] is None
            else (f"latency p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms")
        )
        bad = sum(self.bad().values())
        line = (
            f"live: {self.steps} steps of {self.framing.bin_us} us run, {self.framing.events} "
            f"events, {self.queue.dropped} steps dropped, {said}"
        )
        return line + (f", {bad} bad packets skipped" if bad else "")
