"""Time as a stream of steps: events in, frames of fixed time steps, the model run over them with
its state carried, SAM streamed, the results written as they come. Memory does not grow with the
length of the recording (one chunk of events and one block of steps at a time).

The pieces, for ``sam-plugins explain --bin`` and for a live source (UDP packets, a replayed
file) alike:

- `StepFramer` (numpy): ``push(events) -> frames [n, P, H, W]`` of the steps the events
  complete (or ``feed(events)`` then ``take(max_steps)`` to bound how many at once;
  ``advance(t_us)`` when time passes without events). Steps are ``bin_us`` long from the first
  event, counted as tonic's ``ToFrame(sensor_size, time_window=bin_us)`` counts them.
- `StreamRunner` (a context manager): ``run(frames [n, B, C, H, W]) -> Steps`` with
  ``outputs`` [n, B, ...] and ``maps`` {layer: [n, B, ...]} of those steps, the model's state
  and SAM's carried from the steps before (``reset_every`` steps: a new sequence).
- `run_stream(chunks, framer, runner, sinks)`: the loop; a sink has ``write(steps, frames)`` and
  ``close()``: `MapsFile` (maps.h5), `VideoSink` (MP4 / GIF), `Timeline` (numbers per step).
- `explain_recording(model, stream, out, bin_us, ...)`: the loop on an opened recording
  (`sam_plugins.io.inputs.open_events`), writing maps.h5, the video and the time-line page.

Example::

    from sam_plugins.stream import StepFramer, StreamRunner

    framer = StepFramer((34, 34, 2), bin_us=10_000)
    with StreamRunner(net) as runner:
        for packet in packets:
            frames = framer.push(packet)
            if len(frames):
                steps = runner.run(torch.from_numpy(frames)[:, None])   # B = 1
                steps.maps["1"]     # [n, 1, 17, 17]: SAM of layer "1" at these steps

The maps equal those of the same frames explained at once (`sam_plugins.explain`).
"""

from .framing import StepFramer
from .recording import (
    CHUNK_STEPS,
    DoesNotFit,
    RecordingResult,
    StreamStats,
    explain_recording,
    rates,
    reader_draw,
    run_stream,
    sensor_region,
)
from .runner import StateNotCarried, Steps, StreamRunner
from .sinks import MapsFile, Timeline, VideoSink, video_path

__all__ = [
    "CHUNK_STEPS",
    "DoesNotFit",
    "MapsFile",
    "RecordingResult",
    "StepFramer",
    "StateNotCarried",
    "Steps",
    "StreamRunner",
    "StreamStats",
    "Timeline",
    "VideoSink",
    "explain_recording",
    "rates",
    "reader_draw",
    "run_stream",
    "sensor_region",
    "video_path",
]
