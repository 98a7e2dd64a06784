"""Where the steps of a stream go, block by block: `MapsFile` (HDF5, every layer's maps),
`VideoSink` (the input with SAM over it, MP4 or GIF), `Timeline` (a few numbers per step for the
report). Each has ``write(steps, frames)`` and ``close()``; none holds more than one block."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..render import show_sam_on_image, to_uint8
from ..result import normalize_maps
from .runner import Steps

Draw = Callable[[np.ndarray], np.ndarray]
"""draw(frame [C, H, W]) -> RGB [H, W, 3] in [0, 1]."""


class MapsFile:
    """``maps.h5``: per layer a dataset ``layer_<name>`` [T, 1, ...] (SAM's raw maps, float32),
    ``outputs`` [T, 1, classes] (the class scores per step, when the model gives them) and
    ``time_us`` [T] (each step's start in the recording's microseconds), grown block by block
    (resizable datasets); the settings as a JSON string in the attribute ``settings``."""

    def __init__(self, path: Path, settings: dict[str, Any], t0: Callable[[], int], bin_us: int):
        import h5py

        self.path = Path(path)
        self.file = h5py.File(self.path, "w")
        self.file.attrs["settings"] = json.dumps(settings)
        self._t0, self.bin_us = t0, bin_us

    def _append(self, name: str, block: np.ndarray) -> None:
        if name not in self.file:
            self.file.create_dataset(
                name,
                shape=(0, *block.shape[1:]),
                maxshape=(None, *block.shape[1:]),
                dtype=block.dtype,
                chunks=(max(1, min(64, 2**20 // max(block[0].nbytes, 1))), *block.shape[1:]),
            )
        data = self.file[name]
        start = data.shape[0]
        data.resize(start + len(block), axis=0)
        data[start:] = block

    def write(self, steps: Steps, frames: np.ndarray) -> None:
        for name, maps in steps.maps.items():
            self._append(f"layer_{name}", maps.numpy().astype(np.float32, copy=False))
        scores = steps.scores()
        if scores is not None:
            self._append("outputs", scores.float().numpy())
        first = self._t0() + steps.start * self.bin_us
        self._append("time_us", first + self.bin_us * np.arange(steps.count, dtype=np.int64))

    def close(self) -> None:
        self.file.close()


def video_path(folder: Path) -> Path:
    """``folder/sam.mp4`` where an MP4 encoder is installed (imageio-ffmpeg), else
    ``folder/sam.gif``."""
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return Path(folder) / "sam.gif"
    return Path(folder) / "sam.mp4"


class VideoSink:
    """A video of the steps: per step, the input frame beside each image layer's SAM over it
    (min-max per step, as the report draws it), captioned with the time; one step per video
    frame at `fps`. Written frame by frame (an MP4 through imageio-ffmpeg, else a GIF), so the
    video is never held in memory. Layers whose maps are not images ([T, B, N]) are left out.

    Args:
        path: ``.mp4`` or ``.gif``.
        layers: the layers to draw, (name, label) pairs.
        draw: how a frame [C, H, W] is drawn.
        bin_us: a step's length, for the captions.
    """

    def __init__(
        self,
        path: Path,
        layers: list[tuple[str, str]],
        draw: Draw,
        fps: float,
        bin_us: int,
    ) -> None:
        import imageio.v2 as imageio

        self.path, self.layers, self.draw, self.bin_us = Path(path), layers, draw, bin_us
        if self.path.suffix == ".mp4":
            self.writer = imageio.get_writer(
                self.path, format="FFMPEG", fps=fps, codec="libx264", macro_block_size=16
            )
        else:
            self.writer = GifStream(self.path, fps)
        self.frames = 0

    def write(self, steps: Steps, frames: np.ndarray) -> None:
        size = frames.shape[-2:]
        heats = {
            name: normalize_maps(steps.maps[name][:, :1].float(), size=tuple(size))[:, 0].numpy()
            for name, _ in self.layers
            if steps.maps[name].dim() == 4
        }
        for i, frame in enumerate(frames):
            image = self.draw(frame)
            panels = [(image, "input")]
            panels += [(show_sam_on_image(image, heats[n][i]), label) for n, label in self.layers]
            seconds = (steps.start + i) * self.bin_us / 1e6
            self.writer.append_data(_panel_row(panels, f"t = {seconds:.3f} s"))
            self.frames += 1

    def close(self) -> None:
        self.writer.close()


class GifStream:
    """An animated GIF (looping) written frame by frame with Pillow's GIF encoder, each frame
    with its own palette, so that the video is never held in memory (Pillow's and imageio's
    GIF writers keep every frame until the file is closed)."""

    def __init__(self, path: Path, fps: float) -> None:
        self.file = open(path, "wb")  # noqa: SIM115 (closed by close())
        self.milliseconds = max(1, round(1000 / fps))
        self.frames = 0

    def append_data(self, rgb: np.ndarray) -> None:
        """Add one frame, uint8 RGB [H, W, 3] (every frame the size of the first)."""
        from PIL import GifImagePlugin, Image

        image = Image.fromarray(rgb).quantize(256)
        if not self.frames:
            info = {"loop": 0, "duration": self.milliseconds}
            self.file.write(b"".join(GifImagePlugin.getheader(image, info=info)[0]))
        self.file.write(b"".join(GifImagePlugin.getdata(image, duration=self.milliseconds)))
        self.frames += 1

    def close(self) -> None:
        if not self.file.closed:
            self.file.write(b";")  # the GIF trailer
            self.file.close()


def _panel_row(panels: list[tuple[np.ndarray, str]], caption: str) -> np.ndarray:
    """RGB panels [H, W, 3] in [0, 1] side by side, each enlarged (nearest) to at least 128 px
    and titled, with `caption` below; uint8 [H', W', 3], both sides multiples of 16 (video
    encoders want them)."""
    from PIL import Image, ImageDraw

    height, width = panels[0][0].shape[:2]
    scale = max(1, -(-128 // min(height, width)))
    h, w = height * scale, width * scale
    row = Image.new("RGB", (len(panels) * (w + 4), h + 28))
    pen = ImageDraw.Draw(row)
    for k, (rgb, title) in enumerate(panels):
        big = to_uint8(rgb).repeat(scale, axis=0).repeat(scale, axis=1)
        row.paste(Image.fromarray(big), (k * (w + 4), 14))
        pen.text((k * (w + 4) + 2, 1), title, fill=(255, 255, 255))
    pen.text((2, h + 15), caption, fill=(255, 255, 255))
    out = np.asarray(row)
    pad = (-out.shape[0] % 16, -out.shape[1] % 16)
    return np.pad(out, ((0, pad[0]), (0, pad[1]), (0, 0)))


class Timeline:
    """A few numbers per step for the report's time line: events per step, SAM's mass (the sum
    of a layer's raw map) per layer, and the class scores. O(T) numbers, not maps."""

    def __init__(self) -> None:
        self.events: list[np.ndarray] = []
        self.mass: dict[str, list[np.ndarray]] = {}
        self.scores: list[np.ndarray] = []

    def write(self, steps: Steps, frames: np.ndarray) -> None:
        self.events.append(frames.reshape(len(frames), -1).sum(1))
        for name, maps in steps.maps.items():
            mass = maps[:, 0].flatten(1).sum(1, dtype=torch.float64).numpy()
            self.mass.setdefault(name, []).append(mass)
        scores = steps.scores()
        if scores is not None:
            self.scores.append(scores[:, 0].double().numpy())

    def close(self) -> None:
        pass

    def arrays(self) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
        """(events per step [T], SAM mass per layer {name: [T]}, class scores [T, K] or None)."""
        mass = {name: np.concatenate(parts) for name, parts in self.mass.items()}
        scores = np.concatenate(self.scores) if self.scores else None
        return np.concatenate(self.events), mass, scores


class LazyVideo:
    """A `VideoSink` opened at the first block (its encoder is started only once a step
    exists), for the layers of `layers` ((name, label) pairs) whose maps are images: which they
    are is known then."""

    def __init__(self, path: Path, layers: list[tuple[str, str]], draw, fps: float, bin_us: int):
        self.args = (path, layers, draw, fps, bin_us)
        self.sink: VideoSink | None = None

    def write(self, steps, frames) -> None:
        if self.sink is None:
            path, layers, draw, fps, bin_us = self.args
            images = [(n, label) for n, label in layers if steps.maps[n].dim() == 4]
            self.sink = VideoSink(path, images, draw, fps, bin_us)
        self.sink.write(steps, frames)

    def close(self) -> None:
        if self.sink is not None:
            self.sink.close()
