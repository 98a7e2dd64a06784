"""An event-camera emulator and N-MNIST's binary file format, to make event data offline.

The emulator follows how N-MNIST was recorded (Orchard et al. 2015): a static image is moved
in front of a DVS by three saccades along a triangle, 100 ms each, and every pixel emits an
event whenever its log intensity moves a contrast threshold away from the level at its last
event. Thresholds vary per pixel, a pixel is silent for a refractory period after each event,
and pixels also fire at random (background activity).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage
from tonic.io import read_mnist_file

from .frames import EventError

# tonic's N-MNIST event layout
EVENT_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
# the saccade triangle of N-MNIST in pixels (x, y), as in tonic.datasets.nmnist.stabilize
TRIANGLE = ((0.0, 0.0), (3.5, 7.0), (7.0, 0.0), (0.0, 0.0))


@dataclass(frozen=True)
class SaccadeEmulator:
    """Turns a still image into a DVS recording made by moving the sensor over it.

    Args:
        sensor_size: (width, height, polarities) as tonic writes it.
        contrast: mean log-intensity change that makes an event.
        contrast_sigma: per-pixel spread of the threshold (fixed pattern noise).
        refractory_us: time a pixel stays silent after an event.
        noise_hz: background events per pixel and second, random polarity.
        saccade_us: duration of each of the three saccades.
        step_us: time resolution of the simulation.
        background: screen intensity where the image is 0 (log of 0 is undefined).
    """

    sensor_size: tuple[int, int, int] = (34, 34, 2)
    contrast: float = 0.5
    contrast_sigma: float = 0.03
    refractory_us: int = 1000
    noise_hz: float = 0.5
    saccade_us: int = 100_000
    step_us: int = 1000
    background: float = 0.05

    def __call__(self, image: np.ndarray, seed: int = 0) -> np.ndarray:
        """Events (structured array x, y, t [us], p in {0: OFF, 1: ON}, sorted by t) for an
        image [h, w] in [0, 1] that fits the sensor together with the saccade's 7 px travel."""
        width, height, _ = self.sensor_size
        h, w = image.shape
        if h + 7 > height or w + 7 > width or image.min() < 0 or image.max() > 1:
            raise ValueError(
                f"image must be [h, w] in [0, 1] with h, w <= sensor size - 7 = "
                f"{height - 7}x{width - 7}; found {h}x{w}, values {image.min():g}..{image.max():g}"
            )
        rng = np.random.default_rng(seed)
        canvas = np.zeros((height, width))
        canvas[:h, :w] = image
        log = np.log(self.background + (1 - self.background) * canvas)
        threshold = np.maximum(
            self.contrast + self.contrast_sigma * rng.standard_normal((2, height, width)), 0.05
        )
        reference = log.copy()
        last = np.full((height, width), -(10**9))
        found = []
        for t in range(0, 3 * self.saccade_us, self.step_us):
            dx, dy = self.position(t)
            now = ndimage.shift(log, (dy, dx), order=1, mode="nearest")
            delta = now - reference
            ready = t - last >= self.refractory_us
            on = ready & (delta >= threshold[1])
            off = ready & (delta <= -threshold[0])
            for polarity, fired in ((1, on), (0, off)):
                ys, xs = np.nonzero(fired)
                times = t + rng.integers(0, self.step_us, len(xs))
                found.append((xs, ys, times, np.full(len(xs), polarity)))
            reference[on] += threshold[1][on]
            reference[off] -= threshold[0][off]
            last[on | off] = t
        n_noise = rng.poisson(self.noise_hz * width * height * 3 * self.saccade_us * 1e-6)
        found.append(
            (
                rng.integers(0, width, n_noise),
                rng.integers(0, height, n_noise),
                rng.integers(0, 3 * self.saccade_us, n_noise),
                rng.integers(0, 2, n_noise),
            )
        )
        xs, ys, ts, ps = (np.concatenate(parts) for parts in zip(*found, strict=True))
        events = np.empty(len(xs), dtype=EVENT_DTYPE)
        events["x"], events["y"], events["t"], events["p"] = xs, ys, ts, ps
        return events[np.argsort(events["t"], kind="stable")]

    def position(self, t_us: float) -> tuple[float, float]:
        """(dx, dy) in pixels by which the image is shifted at time `t_us` (the saccades)."""
        leg, phase = divmod(min(max(t_us, 0), 3 * self.saccade_us - 1), self.saccade_us)
        (x0, y0), (x1, y1) = TRIANGLE[int(leg)], TRIANGLE[int(leg) + 1]
        frac = (phase + self.step_us) / self.saccade_us
        return x0 + (x1 - x0) * frac, y0 + (y1 - y0) * frac

    def footprint(
        self, image: np.ndarray, start_us: float, stop_us: float, level: float = 0.1
    ) -> np.ndarray:
        """Where the object is between two times: bool [H, W] on the sensor, the pixels the
        image's ink (values >= `level`) covers at any simulation step in [start_us, stop_us].
        The ground truth for the pointing game on emulated recordings."""
        width, height, _ = self.sensor_size
        canvas = np.zeros((height, width))
        canvas[: image.shape[0], : image.shape[1]] = image
        mask = np.zeros((height, width), dtype=bool)
        for t in np.arange(start_us, stop_us + 1, self.step_us):
            dx, dy = self.position(t)
            mask |= ndimage.shift(canvas, (dy, dx), order=1, mode="constant") >= level
        return mask


def write_nmnist_bin(path: str | Path, events: np.ndarray) -> None:
    """Write events in N-MNIST's binary format, which tonic.io.read_mnist_file reads: 5 bytes
    per event, x, y, then polarity in bit 7 and a 23-bit timestamp in microseconds."""
    x, y, t, p = (np.asarray(events[f]) for f in ("x", "y", "t", "p"))
    if len(t) and (t.min() < 0 or t.max() >= 2**23):
        raise ValueError(f"N-MNIST timestamps must be in [0, 2**23) us, found {t.min()}..{t.max()}")
    if len(x) and (x.min() < 0 or x.max() > 255 or y.min() < 0 or y.max() > 239):
        raise ValueError("N-MNIST coordinates must be x in [0, 255], y in [0, 239]")
    raw = np.empty((len(x), 5), dtype=np.uint8)
    raw[:, 0], raw[:, 1] = x, y
    raw[:, 2] = (np.asarray(p, dtype=np.uint32) & 1) << 7 | (t >> 16) & 0x7F
    raw[:, 3], raw[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(raw.tobytes())


def read_nmnist_bin(path: str | Path) -> np.ndarray:
    """Events of a file in N-MNIST's binary format, read by tonic.io.read_mnist_file; a file
    whose size is not a whole number of 5-byte events is reported as corrupt."""
    size = Path(path).stat().st_size
    if size % 5:
        raise EventError(
            f"{path} is corrupt: N-MNIST files hold 5 bytes per event, found {size} bytes"
        )
    return read_mnist_file(str(path), dtype=EVENT_DTYPE)
