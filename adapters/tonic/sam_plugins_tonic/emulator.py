"""An event-camera emulator, to make event data offline (stored by `formats`).

The emulator follows how N-MNIST was recorded (Orchard et al. 2015): a static image is moved
in front of a DVS by three saccades along a triangle, 100 ms each, and every pixel emits an
event whenever its log intensity moves a contrast threshold away from the level at its last
event. Thresholds vary per pixel, a pixel is silent for a refractory period after each event,
and pixels also fire at random (background activity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .formats import EVENT_DTYPE

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
