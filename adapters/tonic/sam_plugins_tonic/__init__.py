"""Event-camera data for sam-plugins through tonic.

- `events`: `frame_events` / `check_events` / `to_frames`, tonic event arrays checked and
  framed on tonic's slicing (every event counted: tonic's ToFrame drops the last timestamp's),
  with each frame's time span; `explain_events`: SAM of one recording on the sensor.
- `formats`: `write_nmnist_bin` / `read_nmnist_bin`, N-MNIST's file format (read in linear time,
  equal to tonic's reader).
- `emulator`: `SaccadeEmulator`, event recordings made offline from still images.
- `readers`: `TonicReader`, the input reader for ``sam-plugins explain`` and ``analyze``.
- `render`: `polarity_image`, `show_sam_on_events`: event frames drawn by polarity.
- `gestures`: emulated DVSGesture recordings in tonic's own layout, and a small SNN for them.

The dataset analysis is the core's (`sam_plugins.analysis`); this plugin opens tonic datasets
for it (`TonicReader.open_dataset`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from sam_plugins import DEFAULT_GAMMA, SAMResult, explain

from .emulator import SaccadeEmulator
from .events import EventError, EventFrames, check_events, frame_events
from .formats import EVENT_DTYPE, read_nmnist_bin, write_nmnist_bin
from .readers import TonicReader
from .render import polarity_image, show_sam_on_events

__all__ = [
    "EVENT_DTYPE",
    "EventError",
    "EventExplanation",
    "EventFrames",
    "SaccadeEmulator",
    "TonicReader",
    "check_events",
    "explain_events",
    "frame_events",
    "polarity_image",
    "read_nmnist_bin",
    "show_sam_on_events",
    "write_nmnist_bin",
]


@dataclass
class EventExplanation:
    """SAM of one event recording: the frames it saw, the SAM result (batch of one) and, per
    frame, the time span of its events (`frames.spans`, microseconds)."""

    frames: EventFrames
    result: SAMResult

    def heatmap(self, layer: str) -> Tensor:
        """[T, H, W] in [0, 1] on the sensor's pixel grid, one map per frame."""
        width, height, _ = self.frames.sensor_size
        return self.result.heatmap(layer, size=(height, width))[:, 0]


def explain_events(
    model: nn.Module,
    events: np.ndarray,
    sensor_size: tuple[int, int, int],
    *,
    layers=None,
    gamma: float = DEFAULT_GAMMA,
    run=None,
    device: str | torch.device | None = None,
    n_time_bins: int | None = None,
    time_window: float | None = None,
    event_count: int | None = None,
    step_mode: str = "single",
    graded: bool = False,
) -> EventExplanation:
    """Frame one recording with tonic (exactly one of n_time_bins, time_window [us],
    event_count), run the model on [T, 1, P, H, W] and return SAM aligned with the frames."""
    framed = frame_events(
        events,
        sensor_size,
        n_time_bins=n_time_bins,
        time_window=time_window,
        event_count=event_count,
    )
    inputs = framed.frames.unsqueeze(1)
    if device is not None:
        inputs = inputs.to(device)
    result = explain(model, inputs, layers, gamma, run=run, step_mode=step_mode, graded=graded)
    return EventExplanation(framed, result)
