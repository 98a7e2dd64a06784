"""Emulated N-MNIST in tonic's own on-disk layout, so that ``tonic.datasets.NMNIST(save_to,
train=...)`` reads it offline (tonic 1.7), e.g. for ``sam-plugins analyze --dataset
tonic.datasets:NMNIST``.

tonic's NMNIST expects, under ``save_to/NMNIST/``:

- the archive it would have downloaded, ``train.zip`` / ``test.zip`` (only its presence is
  checked: ``check_integrity`` with no md5), and
- at least 10000 ``.bin`` files below ``Train/`` / ``Test/``, one folder per label (tonic takes
  the label from the folder name's last character), in N-MNIST's binary format.

The recordings are made like N-MNIST's (three saccades along a triangle, 100 ms each, 34 x 34
sensor, 2 polarities) from digits 0-9 drawn with Pillow's built-in font, shifted and scaled at
random per recording. The sensor moves in whole pixels every 10 ms: an ON event where a pixel
gets brighter by a threshold, OFF where it gets darker, thinned at random, plus background noise.
All recordings of a split are made at once (numpy over [recordings, 34, 34]): 10000 in seconds.

    python -m sam_plugins_tonic.nmnist ROOT          # writes ROOT/NMNIST (the test split)
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import numpy as np

from .emulator import TRIANGLE
from .formats import EVENT_DTYPE, write_nmnist_bin

SENSOR_SIZE = (34, 34, 2)
RECORDINGS = {True: 60000, False: 10000}  # N-MNIST's split sizes; tonic wants >= 10000 files
STEP_US = 10_000
SACCADE_US = 100_000


def _glyphs(size: int = 20) -> np.ndarray:
    """Digits 0-9 drawn with Pillow's built-in font, [10, size, size] in [0, 1]."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=size)
    glyphs = []
    for digit in range(10):
        image = Image.new("L", (size, size))
        ImageDraw.Draw(image).text(
            (size / 2, size / 2), str(digit), fill=255, font=font, anchor="mm"
        )
        glyphs.append(np.asarray(image, dtype=np.float32) / 255)
    return np.stack(glyphs)


def _images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One 34 x 34 image per label [N, 34, 34]: the label's glyph at a random place and size."""
    width, height, _ = SENSOR_SIZE
    images = np.zeros((len(labels), height + 8, width + 8), np.float32)  # room for the saccades
    for size in (16, 18, 20, 22):
        glyphs = _glyphs(size)
        chosen = np.flatnonzero(rng.integers(0, 4, len(labels)) == (size - 16) // 2)
        dx, dy = rng.integers(0, width - size + 1, (2, len(chosen)))
        for i, x, y in zip(chosen, dx, dy, strict=True):
            images[i, y : y + size, x : x + size] = glyphs[labels[i]]
    return images


def emulate_nmnist(labels: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """Recordings of digits `labels` [N]: one event array per label (tonic's N-MNIST dtype,
    x, y, t in us, p), 300 ms each, sorted by time."""
    rng = np.random.default_rng(seed)
    images = _images(np.asarray(labels), rng)
    width, height, _ = SENSOR_SIZE
    steps = np.arange(0, 3 * SACCADE_US + 1, STEP_US)
    corners = np.array(TRIANGLE)
    # the sensor's offset at each step, in whole pixels along the saccade triangle
    where = np.interp(steps / SACCADE_US, np.arange(4), np.arange(4))
    offsets = np.rint(
        np.stack([np.interp(where, np.arange(4), corners[:, k]) for k in (0, 1)], 1)
    ).astype(int)
    parts = []  # [events, 5]: recording, x, y, t, p
    frame = (
        slice(offsets[0, 1], offsets[0, 1] + height),
        slice(offsets[0, 0], offsets[0, 0] + width),
    )
    before = images[:, frame[0], frame[1]]
    for t, (x, y) in zip(steps[1:], offsets[1:], strict=True):
        now = images[:, y : y + height, x : x + width]
        change = now - before
        for polarity, fired in ((1, change > 0.25), (0, change < -0.25)):
            n, py, px = np.nonzero(fired & (rng.random(fired.shape) < 0.7))
            time = t - rng.integers(0, STEP_US, len(n))
            parts.append(np.stack([n, px, py, time, np.full_like(n, polarity)], 1))
        before = now
    noise = len(labels) * 10  # background: 10 events per recording, anywhere, any time
    parts.append(
        np.stack(
            [
                rng.integers(0, len(labels), noise),
                rng.integers(0, width, noise),
                rng.integers(0, height, noise),
                rng.integers(0, 3 * SACCADE_US, noise),
                rng.integers(0, 2, noise),
            ],
            1,
        )
    )
    rows = np.concatenate(parts)
    rows = rows[np.lexsort((rows[:, 3], rows[:, 0]))]  # by recording, then time
    recordings = []
    for columns in np.split(rows, np.searchsorted(rows[:, 0], np.arange(1, len(labels)))):
        recording = np.empty(len(columns), EVENT_DTYPE)
        for k, name in enumerate(("x", "y", "t", "p"), start=1):
            recording[name] = columns[:, k]
        recordings.append(recording)
    return recordings


def write_nmnist(save_to: str | Path, train: bool = False, count: int | None = None) -> Path:
    """Write one split of emulated N-MNIST into ``save_to/NMNIST`` (`count` recordings, by
    default N-MNIST's: 10000 test, 60000 train; labels in turn 0, 1, ..., 9, 0, ...; existing
    files are kept); return the split's folder. Afterwards ``tonic.datasets.NMNIST(save_to,
    train=train)`` reads it without downloading (it needs at least 10000 files)."""
    root = Path(save_to, "NMNIST")
    folder = root / ("Train" if train else "Test")
    count = RECORDINGS[train] if count is None else count
    labels = np.arange(count) % 10
    paths = [folder / str(label) / f"{i:05d}.bin" for i, label in enumerate(labels)]
    todo = [i for i, path in enumerate(paths) if not path.exists()]
    if todo:
        for i, events in zip(todo, emulate_nmnist(labels[todo], seed=int(train)), strict=True):
            write_nmnist_bin(paths[i], events)
    archive = root / ("train.zip" if train else "test.zip")
    if not archive.exists():  # tonic checks that the archive it would download is there
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("EMULATED.txt", "emulated by sam_plugins_tonic.nmnist; see the folder\n")
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="write emulated N-MNIST in tonic's layout")
    parser.add_argument("root", type=Path, help="folder to write NMNIST/ into")
    parser.add_argument("--train", action="store_true", help="the training split (60000)")
    args = parser.parse_args(argv)
    print(f"wrote {write_nmnist(args.root, args.train)}")


if __name__ == "__main__":
    main()
