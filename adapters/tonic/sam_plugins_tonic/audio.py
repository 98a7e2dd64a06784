"""Audio event data through tonic: the Spiking Heidelberg Digits (SHD) and Spiking Speech
Commands (SSC), emulated offline in tonic's own on-disk layout, framed into [T, channels] bins,
and a small fully connected SNN for them.

tonic's ``SHD(save_to, train=...)`` / ``SSC(save_to, split=...)`` (tonic 1.7, tonic.datasets.hsd)
read ``save_to/SHD/shd_{train,test}.h5`` / ``save_to/SSC/ssc_{train,test,valid}.h5`` once the
archive they would download (``shd_test.h5.zip``, ...) is beside it (only its presence is
checked, no md5). Each HDF5 file holds, per recording, ``spikes/times`` (seconds, variable
length) and ``spikes/units`` (channel 0..699 of the cochlea model), ``labels``, and
``extra/keys`` (class names) and ``extra/speaker``. tonic returns events with fields t (us),
x (channel), p (always 1) on the sensor (700, 1, 1).

The emulated utterances: each class has three "formants", bands of channels that glide from one
place to another over the utterance, at class-specific places; a channel fires as a Poisson
process the closer it is to a formant, plus background. Utterances last 0.5 to 1.0 s and vary
in pitch (a shift of the bands) and speed, as spoken digits do.

    python -m sam_plugins_tonic.audio ROOT [--ssc]   # writes ROOT/SHD (both splits) [and SSC]
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .events import TimeBinFrames, check_events, count_events

CHANNELS = 700
SENSOR_SIZE = (CHANNELS, 1, 1)
"""tonic's sensor size of SHD and SSC: 700 cochlea channels, one row, one polarity."""
SHD_KEYS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "null",
    "eins",
    "zwei",
    "drei",
    "vier",
    "fuenf",
    "sechs",
    "sieben",
    "acht",
    "neun",
]
SSC_KEYS = [
    "yes",
    "no",
    "up",
    "down",
    "left",
    "right",
    "on",
    "off",
    "stop",
    "go",
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "bed",
    "bird",
    "cat",
    "dog",
    "happy",
    "house",
    "marvin",
    "sheila",
    "tree",
    "wow",
    "backward",
    "forward",
    "follow",
    "learn",
    "visual",
]
STEP_S = 0.004  # the emulator's time resolution (4 ms)


def _formants(label: int, classes: int) -> np.ndarray:
    """The class's three formants: [3, 2] start and end channel, fixed per class."""
    rng = np.random.default_rng(7919 * classes + label)
    starts = np.sort(rng.uniform(60, 640, 3))
    return np.stack([starts, np.clip(starts + rng.uniform(-120, 120, 3), 20, 680)], 1)


def emulate_utterance(
    label: int, seed: int, classes: int = len(SHD_KEYS)
) -> tuple[np.ndarray, np.ndarray]:
    """One emulated recording of class `label`: spike times [N] (seconds, float32, sorted) and
    channels [N] (uint16, 0..699), as SHD's ``spikes/times`` and ``spikes/units`` rows."""
    if not 0 <= label < classes:
        raise ValueError(f"label must be in [0, {classes}), found {label}")
    rng = np.random.default_rng(seed)
    duration = rng.uniform(0.5, 1.0)
    t = np.arange(0, duration, STEP_S)
    shift = rng.normal(0, 15)  # the speaker's pitch
    bands = _formants(label, classes) + shift  # [3, 2]
    phase = (t / duration) ** rng.uniform(0.8, 1.25)  # speed varies along the utterance
    centres = bands[:, :1] + (bands[:, 1:] - bands[:, :1]) * phase  # [3, T]
    channel = np.arange(CHANNELS)
    distance = channel[None, None, :] - centres[:, :, None]  # [3, T, C]
    envelope = np.sin(np.pi * t / duration) ** 0.5  # loudness: on, held, off
    rate = 180.0 * np.exp(-0.5 * (distance / 6.0) ** 2).sum(0) * envelope[:, None] + 0.5  # Hz
    counts = rng.poisson(rate * STEP_S)  # [T, C]
    step, unit = np.nonzero(counts)
    times = t[step] + rng.uniform(0, STEP_S, len(step))
    order = np.argsort(times, kind="stable")
    return times[order].astype(np.float32), unit[order].astype(np.uint16)


def _write(path: Path, keys: list[str], per_class: int, seed: int) -> None:
    import h5py

    classes = len(keys)
    labels = np.repeat(np.arange(classes), per_class)
    rng = np.random.default_rng(seed)
    labels = labels[rng.permutation(len(labels))]  # recordings in no particular order
    times, units = zip(
        *(emulate_utterance(int(c), seed * 100_000 + i, classes) for i, c in enumerate(labels)),
        strict=True,
    )
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("spikes/times", data=np.array(times, dtype=object),
                         dtype=h5py.vlen_dtype(np.float32))  # fmt: skip
        f.create_dataset("spikes/units", data=np.array(units, dtype=object),
                         dtype=h5py.vlen_dtype(np.uint16))  # fmt: skip
        f.create_dataset("labels", data=labels.astype(np.uint16))
        f.create_dataset("extra/keys", data=np.array([k.encode() for k in keys]))
        f.create_dataset("extra/speaker", data=(np.arange(len(labels)) % 10).astype(np.uint16))
    tmp.replace(path)


def _archive(path: Path) -> None:
    """The archive tonic would download, beside the file (tonic checks that it is there)."""
    archive = path.with_name(path.name + ".zip")
    if not archive.exists():
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("EMULATED.txt", f"emulated by sam_plugins_tonic.audio; see {path.name}\n")


def write_shd(save_to: str | Path, train: bool = False, per_class: int = 5) -> Path:
    """Write one split of emulated SHD, `per_class` recordings of each of the 20 classes, into
    ``save_to/SHD`` (an existing file is kept); return the HDF5 file. Afterwards
    ``tonic.datasets.SHD(save_to, train=train)`` reads it without downloading."""
    path = Path(save_to, "SHD", f"shd_{'train' if train else 'test'}.h5")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _write(path, SHD_KEYS, per_class, seed=1 if train else 2)
    _archive(path)
    return path


def write_ssc(save_to: str | Path, split: str = "test", per_class: int = 3) -> Path:
    """Write one split ("train", "test" or "valid") of emulated SSC (35 classes, the same file
    format as SHD) into ``save_to/SSC``; ``tonic.datasets.SSC(save_to, split=split)`` reads it."""
    if split not in ("train", "test", "valid"):
        raise ValueError(f"split must be 'train', 'test' or 'valid', found {split!r}")
    path = Path(save_to, "SSC", f"ssc_{split}.h5")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _write(path, SSC_KEYS, per_class, seed={"train": 3, "test": 4, "valid": 5}[split])
    _archive(path)
    return path


def is_audio_sensor(sensor_size: tuple[int, ...]) -> bool:
    """Whether a tonic sensor size is a row of channels with one polarity, (C, 1, 1): SHD's,
    SSC's, and other audio event sensors."""
    return len(sensor_size) == 3 and sensor_size[1] == 1 and sensor_size[2] == 1


class ChannelFrames(TimeBinFrames):
    """Dataset transform: audio events (fields t, x, p; tonic's SHD/SSC) -> bins [T, channels]
    float32: the spikes of each channel in each of `n_time_bins` bins, cut as tonic's ToFrame
    cuts them (`TimeBinFrames`: every event counted)."""

    def __call__(self, events: np.ndarray) -> np.ndarray:
        events = with_row(events)
        check_events(events, self.sensor_size)
        frames = count_events(events, self.slices(events), self.sensor_size)
        return frames.reshape(len(frames), -1)

    def __repr__(self) -> str:
        return f"ChannelFrames(sensor_size={self.sensor_size}, n_time_bins={self.n_time_bins})"


def with_row(events: np.ndarray) -> np.ndarray:
    """Audio events with fields t, x, p (no y) as camera events of one polarity on one row:
    y = 0 added, p = 0 (tonic's SHD and SSC give every spike the polarity 1 on a sensor of one
    polarity). Other arrays are returned as they are (and checked by the framing)."""
    names = events.dtype.names if isinstance(events, np.ndarray) else None
    if names is None or "y" in names or not {"t", "x", "p"} <= set(names):
        return events
    out = np.zeros(events.shape, dtype=[*[(n, events.dtype[n]) for n in names], ("y", np.int64)])
    for name in names:
        out[name] = events[name]
    out["p"] = 0
    return out


def audio_net(classes: int = len(SHD_KEYS), hidden: int = 128) -> nn.Module:
    """A small fully connected snnTorch SNN for audio bins (single-step, one call per bin):
    flatten ([B, 700] or [B, 1, 1, 700]) -> fc (hidden) -> Leaky -> fc (classes) -> Leaky."""
    import snntorch as snn

    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(CHANNELS, hidden),
        snn.Leaky(beta=0.9, init_hidden=True),
        nn.Linear(hidden, classes),
        snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )


def train_audio_net(
    bins: torch.Tensor, labels: torch.Tensor, epochs: int, classes: int = len(SHD_KEYS)
) -> nn.Module:
    """`audio_net(classes)` trained on bins [T, N, 700] with labels [N] for `epochs` epochs
    (Adam, snnTorch's cross-entropy of output spike counts, batches of 32), seeded: the same
    weights every time. Returned in eval mode."""
    from snntorch import functional as SF
    from snntorch import utils

    def forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        utils.reset(net)
        return torch.stack([net(step)[0] for step in x])

    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = audio_net(classes)
        optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
        loss_fn = SF.ce_rate_loss()
        for _ in range(epochs):
            for idx in torch.randperm(len(labels)).split(32):
                loss = loss_fn(forward(net, bins[:, idx]), labels[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    utils.reset(net)
    return net.eval()


def seeded_audio_net(seed: int = 0) -> nn.Module:
    """`audio_net()` for SHD initialised from torch seed `seed`, in eval mode (for the command
    line: ``sam-plugins analyze sam_plugins_tonic.audio:seeded_audio_net --weights W.pt``)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return audio_net().eval()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="write emulated SHD (both splits)")
    parser.add_argument("root", type=Path, help="folder to write SHD/ (and SSC/) into")
    parser.add_argument("--ssc", action="store_true", help="also write SSC (three splits)")
    args = parser.parse_args(argv)
    for train in (True, False):
        print(f"wrote {write_shd(args.root, train)}")
    for split in ("train", "test", "valid") if args.ssc else ():
        print(f"wrote {write_ssc(args.root, split)}")


if __name__ == "__main__":
    main()
