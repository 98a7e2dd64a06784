"""``live --save DIR``: the session written as ``explain --bin`` writes a recording, with its
sinks (`sam_plugins.stream`): ``maps.h5`` (the steps run; ``time_us`` says which, dropped steps
are missing), ``sam.mp4`` (or ``sam.gif``), ``timeline.png``, ``region.png`` and
``report.html``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..stream import MapsFile, Timeline, video_path
from ..stream.page import region_caption, write_timeline_page
from ..stream.sinks import LazyVideo


class SessionFiles:
    """The sinks of a saved session (`sinks`, written block by block while it runs) and the
    report written by `finish`."""

    def __init__(
        self, out: Path, settings: dict[str, Any], t0, bin_us: int, layers: list[str], draw
    ) -> None:
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.bin_us = bin_us
        self.video = video_path(self.out)
        self.settings = settings
        self.maps = MapsFile(self.out / "maps.h5", settings, t0, bin_us)
        self.timeline = Timeline()
        labels = [(name, f"layer {name}") for name in layers]
        self.sinks = [self.maps, self.timeline, LazyVideo(self.video, labels, draw, 25.0, bin_us)]

    def finish(
        self,
        summary: str,
        window_us: int,
        counts: np.ndarray | None,
        transform,
        steps_run: int,
    ) -> list[Path]:
        """Close the sinks and write the report; the files written."""
        for sink in self.sinks:
            sink.close()
        paths = [self.out / "maps.h5"]
        if not steps_run:
            return paths
        full = transform.full_size
        region = self.out / "region.png"
        picture = np.zeros(full[1::-1], np.int64) if counts is None else counts.reshape(full[1::-1])
        write_timeline_page(
            self.out / "report.html",
            timeline=self.timeline,
            bin_us=self.bin_us,
            window_us=window_us,
            settings=self.settings,
            figure_path=self.out / "timeline.png",
            sensor_counts=picture,
            crop_region=transform.region,
            region_path=region,
            video=self.video.name,
            summary=summary,
            region=region_caption(full, transform.region, transform.factor, transform.sensor_size),
        )
        return [*paths, self.video, self.out / "timeline.png", region, self.out / "report.html"]
