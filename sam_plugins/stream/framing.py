"""Events in, steps out: `StepFramer` cuts a stream of events into time steps of a fixed bin
and counts each step's events into a frame [P, H, W], as tonic's
``ToFrame(sensor_size, time_window=bin)`` does (numpy only)."""

from __future__ import annotations

import numpy as np


class StepFramer:
    """Frames of fixed time steps from events given a few at a time.

    Step k holds the events with ``t0 + k * bin_us <= t < t0 + (k + 1) * bin_us`` (t0: the
    first event's time unless given), counted per (polarity, y, x) in float32, exactly as
    ``tonic.transforms.ToFrame(sensor_size, time_window=bin_us)``. A step is complete once an
    event at or after its end has been fed (or `advance` says that time has passed), so a
    recording of duration D = t_last - t0 gives floor(D / bin_us) steps, as tonic's does: the
    events of the last, incomplete step are left out.

    Memory: the events fed and not yet framed (at most what one `feed` gave plus one step's
    worth) and the frames one `take` returns; never the recording.

    Example (a live source: packets as they arrive)::

        framer = StepFramer((34, 34, 2), bin_us=10_000)
        for packet in packets:               # structured arrays with fields t, x, y, p
            frames = framer.push(packet)     # [n, 2, 34, 34], n >= 0 completed steps

    or, to bound the frames held at once, ``framer.feed(chunk)`` then ``framer.take(64)``
    until it returns no step.

    Args:
        sensor_size: (W, H, P) of the frames (after any crop / downsample of the events).
        bin_us: the step's length in microseconds, >= 1.
        t0: the start of step 0 in microseconds; default the first event's time.
    """

    def __init__(
        self, sensor_size: tuple[int, int, int], bin_us: int, t0: int | None = None
    ) -> None:
        if int(bin_us) != bin_us or bin_us < 1:
            raise ValueError(f"bin_us must be a whole number of microseconds >= 1, found {bin_us}")
        self.width, self.height, self.polarities = (int(v) for v in sensor_size)
        self.bin_us = int(bin_us)
        self.t0 = None if t0 is None else int(t0)
        self.taken = 0  # steps handed out by take()
        self.events_fed = 0
        self.events_framed = 0
        self._latest: int | None = None  # the latest time seen (events or advance)
        self._pending: list[np.ndarray] = []  # fed, not yet framed: pixel and time per event

    @property
    def size(self) -> int:
        """Values in one frame: P * H * W."""
        return self.polarities * self.height * self.width

    @property
    def pending_events(self) -> int:
        """Events fed and not yet framed (held in memory)."""
        return sum(part.shape[1] for part in self._pending)

    @property
    def ready(self) -> int:
        """Completed steps not yet taken."""
        if self.t0 is None or self._latest is None:
            return 0
        return max((self._latest - self.t0) // self.bin_us - self.taken, 0)

    def feed(self, events: np.ndarray) -> None:
        """Add events (a structured array with fields t, x, y, p, sorted by t, inside the
        sensor) that come after those fed before; ValueError otherwise."""
        if not len(events):
            return
        t = events["t"].astype(np.int64)
        if np.any(np.diff(t) < 0) or (self._latest is not None and t[0] < self._latest):
            raise ValueError("events must be fed in time order (sorted by t)")
        x, y, p = (events[f].astype(np.int64) for f in ("x", "y", "p"))
        outside = (x < 0) | (x >= self.width) | (y < 0) | (y >= self.height)
        outside |= (p < 0) | (p >= self.polarities)
        if outside.any():
            i = int(np.argmax(outside))
            raise ValueError(
                f"event (x={x[i]}, y={y[i]}, p={p[i]}, t={t[i]}) is outside the frames of "
                f"{self.width}x{self.height}x{self.polarities} (W, H, P)"
            )
        if self.t0 is None:
            self.t0 = int(t[0])
        if t[0] < self.t0 + self.taken * self.bin_us:
            raise ValueError(f"events at t={t[0]} belong to a step already taken")
        pixel = (p * self.height + y) * self.width + x
        self._pending.append(np.stack([pixel, t]))
        self._latest = int(t[-1])
        self.events_fed += len(events)

    def advance(self, t_us: int) -> None:
        """Say that time `t_us` has passed without more events (a live source): the steps that
        end by then are complete. No effect before the first event."""
        if self._latest is not None:
            self._latest = max(self._latest, int(t_us))

    def take(self, max_steps: int | None = None) -> np.ndarray:
        """Frames [n, P, H, W] (float32 event counts) of the next n completed steps, n at most
        `max_steps` (default: all completed); [0, P, H, W] when none is complete."""
        n = self.ready if max_steps is None else min(self.ready, int(max_steps))
        frames = np.zeros((n, self.size), np.float32)
        if n == 0:
            return frames.reshape(0, self.polarities, self.height, self.width)
        if not self._pending:  # time passed without events (`advance`): empty steps
            self.taken += n
            return frames.reshape(n, self.polarities, self.height, self.width)
        pending = np.concatenate(self._pending, axis=1) if len(self._pending) > 1 else None
        pending = self._pending[0] if pending is None else pending
        start = self.t0 + self.taken * self.bin_us
        end = np.searchsorted(pending[1], start + n * self.bin_us)  # the first event after
        pixel, t = pending[0, :end], pending[1, :end]
        index = (t - start) // self.bin_us * self.size + pixel
        frames += np.bincount(index, minlength=n * self.size).reshape(n, self.size)
        self._pending = [pending[:, end:]] if end < pending.shape[1] else []
        self.taken += n
        self.events_framed += int(end)
        return frames.reshape(n, self.polarities, self.height, self.width)

    def push(self, events: np.ndarray) -> np.ndarray:
        """`feed` the events, then `take` every step they complete: frames [n, P, H, W]."""
        self.feed(events)
        return self.take()
