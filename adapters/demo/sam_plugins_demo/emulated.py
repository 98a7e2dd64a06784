"""`EmulatedDigits`: the demo's digits recorded by the tonic plugin's emulator, stored as
N-MNIST binary files and read back through tonic's own reader, as a tonic dataset."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock, Timeout
from sam_plugins_tonic.emulator import SaccadeEmulator
from sam_plugins_tonic.events import EventError, check_events
from sam_plugins_tonic.formats import EVENT_DTYPE, read_nmnist_bin, write_nmnist_bin
from tonic.dataset import Dataset
from tqdm.auto import tqdm

from .digits import TRAIN, load_digits

DIGIT_SIZE = 26  # 8x8 digits upsampled; the saccades move them 7 px over the 34x34 sensor


class EmulatedDigits(Dataset):
    """Event-camera digits made like N-MNIST, with N-MNIST's sensor, format and layout.

    Files are ``save_to/EmulatedDigits/{Train,Test}/<label>/<index>.bin``, read with
    ``tonic.io.read_mnist_file``. Missing files are generated (deterministically: sample i
    always gets the same events) when `generate` is true. Items are ``(events, label)``, or what
    the transforms make of them, exactly as with ``tonic.datasets.NMNIST``.

    Args:
        save_to: root folder.
        train: the 1500 training digits, or the 297 test digits.
        limit: only the first `limit` digits of the split (small test sets).
        generate: write missing files with the emulator.
        transform: applied to the events, as in tonic (e.g. ``ToFrame``).
        target_transform: applied to the label.
        transforms: applied to (events, label) together.
    """

    sensor_size = (34, 34, 2)
    dtype = EVENT_DTYPE
    ordering = dtype.names
    classes = [str(i) for i in range(10)]

    def __init__(
        self,
        save_to: str | Path,
        train: bool = True,
        limit: int | None = None,
        generate: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        transforms: Callable | None = None,
    ) -> None:
        super().__init__(
            str(save_to),
            transform=transform,
            target_transform=target_transform,
            transforms=transforms,
        )
        self.folder_name = "Train" if train else "Test"
        images, labels = load_digits(size=DIGIT_SIZE)
        first, stop = (0, TRAIN) if train else (TRAIN, len(labels))
        stop = stop if limit is None else min(stop, first + limit)
        folder = Path(self.location_on_system, self.folder_name)
        self.data = [folder / str(int(labels[i])) / f"{i:05d}.bin" for i in range(first, stop)]
        self.targets = [int(labels[i]) for i in range(first, stop)]
        self.indices = range(first, stop)  # positions in load_digits()
        missing = self._missing()
        if missing and not generate:
            raise FileNotFoundError(
                f"{len(missing)} of {len(self.data)} event files missing under {folder}, e.g. "
                f"{missing[0][1]}; pass generate=True to make them"
            )
        if missing:  # one process emulates; others (ranks, machines) wait for it
            Path(self.location_on_system).mkdir(parents=True, exist_ok=True)
            lock = FileLock(Path(self.location_on_system, ".emulating.lock"))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                print(f"waiting for another process that emulates into {folder}/", file=sys.stderr)
                lock.acquire()
            try:
                self._emulate(images)
            finally:
                lock.release()
        else:
            self._check_settings()

    def _missing(self) -> list[tuple[int, Path]]:
        """(index in load_digits(), path) of the split's recordings not made yet."""
        return [(i, p) for i, p in zip(self.indices, self.data, strict=True) if not p.exists()]

    def _check_settings(self) -> str:
        """The emulator's settings as JSON, after checking that the folder's files were made
        with them (ValueError if not)."""
        settings = Path(self.location_on_system, "emulator.json")
        wanted = json.dumps(asdict(SaccadeEmulator(self.sensor_size)), sort_keys=True)
        if settings.exists() and settings.read_text() != wanted:
            raise ValueError(
                f"{settings.parent} was made with other emulator settings ({settings.read_text()}"
                f"; now {wanted}): delete the folder to regenerate it"
            )
        return wanted

    def _emulate(self, images: torch.Tensor) -> None:
        """Write the missing recordings (each under a temporary name, then renamed: a stop
        leaves whole files only); on Ctrl-C, a note says what was kept."""
        wanted = self._check_settings()
        missing = self._missing()  # another process may have made them meanwhile
        if not missing:
            return
        Path(self.location_on_system, "emulator.json").write_text(wanted)
        folder = Path(self.location_on_system, self.folder_name)
        emulator = SaccadeEmulator(self.sensor_size)
        print(  # said also where no bar is drawn (not a terminal)
            f"emulating {len(missing)} {self.folder_name.lower()} recordings into {folder}/ "
            "(once: later runs read them)",
            file=sys.stderr,
        )
        part = None
        try:
            for i, path in tqdm(missing, desc="emulating", unit="recording", disable=None):
                part = path.with_name(path.name + ".part")
                write_nmnist_bin(part, emulator(images[i, 0].numpy(), seed=i))
                os.replace(part, path)
        except KeyboardInterrupt as exc:
            if part is not None:
                part.unlink(missing_ok=True)
            have = len(self.data) - len(self._missing())
            exc.add_note(
                f"emulating stopped at {have} of {len(self.data)} {self.folder_name.lower()} "
                f"recordings, kept in {folder}/ (the rest are made when the dataset is opened "
                "again)"
            )
            raise

    def __getitem__(self, index: int):
        path = Path(self.data[index])
        events = read_nmnist_bin(path)
        try:
            check_events(events, self.sensor_size)
        except EventError as exc:
            raise EventError(f"{path}: {exc}") from None
        target = self.targets[index]
        if self.transform is not None:
            events = self.transform(events)
        if self.target_transform is not None:
            target = self.target_transform(target)
        if self.transforms is not None:
            events, target = self.transforms(events, target)
        return events, target

    def object_masks(self, n_time_bins: int) -> torch.Tensor:
        """Where each recording's digit is, [n_time_bins, N, H, W] bool: its footprint
        (`SaccadeEmulator.footprint`) in each of `n_time_bins` equal spans of the 300 ms
        recording, the bins `ToFrame(n_time_bins=...)` makes up to the first and last event.
        The ground truth of the pointing game."""
        images = load_digits(size=DIGIT_SIZE)[0][list(self.indices), 0].numpy()
        emulator = SaccadeEmulator(self.sensor_size)
        edges = np.linspace(0, 3 * emulator.saccade_us, n_time_bins + 1)
        masks = [
            [emulator.footprint(image, a, b) for image in images]
            for a, b in zip(edges[:-1], edges[1:], strict=True)
        ]
        return torch.from_numpy(np.array(masks))

    def __len__(self) -> int:
        return len(self.data)

    def _check_exists(self) -> bool:
        return all(Path(p).exists() for p in self.data)
