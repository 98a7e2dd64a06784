"""Emulated DVSGesture recordings in tonic's own on-disk layout, so that
``tonic.datasets.DVSGesture(save_to, train=...)`` reads them offline (tonic 1.7).

tonic's DVSGesture expects, under ``save_to/DVSGesture/``:

- the archive it would have downloaded, ``ibmGestureTrain.tar.gz`` / ``ibmGestureTest.tar.gz``
  (only its presence is checked: ``check_integrity`` with no md5), and
- at least 100 ``.npy`` files below ``ibmGestureTrain/`` / ``ibmGestureTest/``, one folder per
  user and lighting, ``user<NN>_<lighting>/<label>.npy``; each file holds an unstructured
  array [N, 4] with columns x, y, p, t, t in milliseconds (tonic multiplies it by 1000).

The emulated sensor is DVSGesture's, 128 x 128 with 2 polarities, 11 classes. A "hand" is a
disk moving along a class-specific path (waves, circles cw/ccw, claps, drums, ...); a pixel
emits an ON event when the disk's edge arrives and an OFF event when it leaves, thinned at
random, plus background noise. Recordings last 1 to 3 s (tonic's real ones about 6 s), so
that framed recordings have different lengths under ``ToFrame(time_window=...)``.

    python -m sam_plugins_tonic.gestures ROOT     # writes ROOT/DVSGesture (both splits)
"""

from __future__ import annotations

import argparse
import io
import tarfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

SENSOR_SIZE = (128, 128, 2)
CLASSES = 11
USERS = {True: range(1, 11), False: range(11, 21)}  # 10 folders x 11 classes per split
LIGHTING = ("fluorescent", "led", "natural", "lab")
STEP_MS = 10


def _path(label: int, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Centres of the hands [T, hands, 2] (x, y in pixels) at times `t` [T] in seconds."""
    phase = rng.uniform(0, 2 * np.pi)
    speed = rng.uniform(0.8, 1.2)
    w = 2 * np.pi * speed * t[:, None]
    c, s = np.cos(w + phase), np.sin(w + phase)
    side = 88.0 if label in (1, 3, 4) else 40.0
    if label == 0:  # clapping: two hands meet in the middle
        gap = 12 + 20 * (1 + np.cos(2 * w[:, 0] + phase))
        hands = [(64 - gap, 70 + 0 * gap), (64 + gap, 70 + 0 * gap)]
    elif label in (1, 2):  # hand wave on one side
        hands = [(side + 18 * np.sin(3 * w[:, 0] + phase), 40 + 0 * t)]
    elif label in (3, 4, 5, 6):  # arm circles, clockwise or counter-clockwise
        sign = 1 if label in (3, 5) else -1
        hands = [(side + 22 * c[:, 0], 64 + sign * 22 * s[:, 0])]
    elif label == 7:  # arm roll: two hands circling each other
        hands = [(64 + 14 * c[:, 0], 64 + 14 * s[:, 0]), (64 - 14 * c[:, 0], 64 - 14 * s[:, 0])]
    elif label == 8:  # air drums: hands up and down in turn
        hands = [(44 + 0 * t, 80 + 16 * s[:, 0]), (84 + 0 * t, 80 - 16 * s[:, 0])]
    elif label == 9:  # air guitar: one strumming hand, one still
        hands = [(80 + 0 * t, 76 + 14 * np.sin(4 * w[:, 0])), (38 + 0 * t, 58 + 0 * t)]
    else:  # other gestures: a random walk
        walk = np.cumsum(rng.normal(0, 2.5, (len(t), 2)), axis=0)
        hands = [(64 + np.clip(walk[:, 0], -40, 40), 64 + np.clip(walk[:, 1], -40, 40))]
    return np.stack([np.stack(h, -1) for h in hands], 1)


def emulate_gesture(label: int, seed: int, duration_ms: int | None = None) -> np.ndarray:
    """One emulated recording of class `label` in [0, 11): int32 [N, 4] with columns x, y, p,
    t (t in ms, sorted), as in tonic's DVSGesture files. The duration is 1 to 3 s (from
    `seed`) unless given."""
    if not 0 <= label < CLASSES:
        raise ValueError(f"label must be in [0, {CLASSES}), found {label}")
    rng = np.random.default_rng(seed)
    duration_ms = int(rng.integers(1000, 3001)) if duration_ms is None else duration_ms
    width, height, _ = SENSOR_SIZE
    times = np.arange(0, duration_ms, STEP_MS)
    centres = _path(label, times / 1000, rng)  # [T, hands, 2]
    radius = rng.uniform(7, 10)
    ys, xs = np.mgrid[:height, :width]
    before = np.zeros((height, width), bool)
    parts = []
    for t, hands in zip(times, centres, strict=True):
        now = np.zeros((height, width), bool)
        for x, y in hands:
            now |= (xs - x) ** 2 + (ys - y) ** 2 <= radius**2
        for polarity, changed in ((1, now & ~before), (0, before & ~now)):
            py, px = np.nonzero(changed & (rng.random((height, width)) < 0.5))
            parts.append(np.stack([px, py, np.full_like(px, polarity), t + 0 * px], 1))
        before = now
    noise = rng.poisson(0.2 * duration_ms)
    parts.append(
        np.stack(
            [
                rng.integers(0, width, noise),
                rng.integers(0, height, noise),
                rng.integers(0, 2, noise),
                rng.integers(0, duration_ms, noise),
            ],
            1,
        )
    )
    events = np.concatenate(parts).astype(np.int32)
    return events[np.argsort(events[:, 3], kind="stable")]


def write_gestures(save_to: str | Path, train: bool = False) -> Path:
    """Write one split of emulated DVSGesture into ``save_to/DVSGesture`` (110 recordings, a
    few seconds; existing files are kept); return the split's folder. Afterwards
    ``tonic.datasets.DVSGesture(save_to, train=train)`` reads it without downloading."""
    root = Path(save_to, "DVSGesture")
    folder = root / ("ibmGestureTrain" if train else "ibmGestureTest")
    for user in USERS[train]:
        lighting = LIGHTING[user % len(LIGHTING)]
        for label in range(CLASSES):
            path = folder / f"user{user:02d}_{lighting}" / f"{label}.npy"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, emulate_gesture(label, seed=1000 * user + label))
    archive = root / f"{folder.name}.tar.gz"
    if not archive.exists():  # tonic checks that the archive it would download is there
        with tarfile.open(archive, "w:gz") as tar:
            note = b"emulated by sam_plugins_tonic.gestures; the recordings are beside this file\n"
            info = tarfile.TarInfo("EMULATED.txt")
            info.size = len(note)
            tar.addfile(info, io.BytesIO(note))
    return folder


def gesture_net() -> nn.Module:
    """A small snnTorch conv SNN for DVSGesture frames [B, 2, 128, 128] per step (single-step):
    avgpool 4 -> conv3x3 (8) -> Leaky -> maxpool 2 -> conv3x3 (16) -> Leaky -> maxpool 2 ->
    fc (11) -> Leaky. Untrained: the weights are torch's default initialisation of the seed."""
    import snntorch as snn

    return nn.Sequential(
        nn.AvgPool2d(4),  # 128 -> 32
        nn.Conv2d(2, 8, 3, padding=1),
        snn.Leaky(beta=0.8, threshold=0.5, init_hidden=True),
        nn.MaxPool2d(2),  # 32 -> 16
        nn.Conv2d(8, 16, 3, padding=1),
        snn.Leaky(beta=0.8, threshold=0.5, init_hidden=True),
        nn.MaxPool2d(2),  # 16 -> 8
        nn.Flatten(),
        nn.Linear(16 * 8 * 8, CLASSES),
        snn.Leaky(beta=0.8, threshold=0.5, init_hidden=True, output=True),
    )


def seeded_gesture_net(seed: int = 0) -> nn.Module:
    """`gesture_net()` initialised from torch seed `seed`, in eval mode (for the command line:
    ``sam-plugins analyze sam_plugins_tonic.gestures:seeded_gesture_net``)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return gesture_net().eval()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="write emulated DVSGesture (both splits)")
    parser.add_argument("root", type=Path, help="folder to write DVSGesture/ into")
    args = parser.parse_args(argv)
    for train in (True, False):
        print(f"wrote {write_gestures(args.root, train)}")


if __name__ == "__main__":
    main()
