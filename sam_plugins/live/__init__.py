"""SAM while the camera records (``sam-plugins live``): events from UDP packets or a replayed
recording, binned by their own timestamps into steps, run by the model with its state and SAM's
carried (`sam_plugins.stream`), the latest step shown on a page over HTTP.

- `sources`: `UdpSource` and `PacketDecoder` (faery's / aestream's packet formats, bad packets
  counted and skipped), `replay` (a recording at its own pace, or as fast as it is taken).
- `session`: `Framing` (events -> steps, in the receiver thread), `StepQueue` (bounded: a model
  slower than the events drops whole steps, counted), `LiveSession` (the model's loop, the
  prediction, the latencies, what ``/state.json`` says).
- `server`: `LiveServer`, the page, ``/state.json`` and ``/frame.html`` (the viewer's
  `frame_html`), nothing else.
- `save`: ``--save DIR`` with the sinks of ``explain --bin``.

Submodules are imported by the command when it runs.
"""
