"""Dataset analysis: SAM statistics over a whole (event) dataset, streamed to an HDF5 file.

Per layer it gathers, per class and time bin, the mean SAM map (spatial layers), the SAM mass
(the temporal profile: when does the model look) and the firing rate, and over the whole set
the inter-spike-interval histogram; per sample it stores the label, prediction, length, SAM
profile and firing rate. Only one batch and the class aggregates are ever in memory. After
each batch the file is committed (samples done, aggregates in the slot the header points at),
so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from sam_plugins import DEFAULT_GAMMA, SpikeActivationMap, class_scores
from sam_plugins.recorder import Target

FORMAT = "sam-plugins-analysis/1"


def collate_frames(items: Sequence[tuple[Any, Any]]) -> tuple[Tensor, Tensor, Tensor]:
    """(frames [T, P, H, W], label) items -> frames [T_max, B, P, H, W] zero-padded at the end,
    labels [B], lengths [B]."""
    frames, labels = [], []
    for i, (x, y) in enumerate(items):
        if isinstance(x, np.ndarray) and x.dtype.names is not None:
            raise TypeError(
                "dataset items must be frames [T, P, H, W]; found a structured event array. "
                "Frame the events in the dataset, e.g. transform=tonic.transforms.ToFrame("
                "sensor_size, n_time_bins=16)"
            )
        x = torch.as_tensor(x).float()
        expected = frames[0].shape[1:] if frames else x.shape[1:]
        if x.dim() < 2 or x.shape[1:] != expected:
            raise ValueError(
                f"item {i} of the batch has frames of shape {tuple(x.shape)}; expected "
                f"[T, ...] with the per-step shape of the batch's first item {tuple(expected)}"
            )
        frames.append(x)
        labels.append(int(y))
    lengths = torch.tensor([len(f) for f in frames])
    return pad_sequence(frames), torch.tensor(labels), lengths


def default_predict(outputs: Any, lengths: Tensor) -> Tensor:
    """Class per sample from the model's outputs (`sam_plugins.class_scores`): spike
    counts over the valid steps of [T, B, classes] outputs (first element of a tuple), or the
    argmax of [B, classes]."""
    out = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
    if isinstance(out, Tensor) and out.dim() == 3:  # padded steps count nowhere
        steps = torch.arange(out.shape[0], device=out.device)[:, None]
        out = out * (steps < lengths.to(out.device)[None]).unsqueeze(-1)
    try:
        return class_scores(out).argmax(-1)
    except ValueError as exc:
        raise ValueError(f"{exc}; pass predict=callable(outputs, lengths) -> [B] classes") from None


NEVER = -(2**30)  # "last spike time" of a neuron that has not fired yet


class _SpikeStats:
    """Recorder consumer: per layer, spikes per (step, sample) and the ISI histogram."""

    def __init__(self, isi_bins: int) -> None:
        self.isi_bins = isi_bins

    def reset(self, lengths: Tensor) -> None:
        self.lengths, self.shortest = lengths, int(lengths.min())
        self.step: dict[str, int] = {}
        self.last: dict[str, Tensor] = {}
        self.counts: dict[str, list[Tensor]] = {}
        self.isi: dict[str, Tensor] = {}
        self.neurons: dict[str, int] = {}

    def __call__(self, target: Target, spikes: Tensor) -> None:
        name = target.name
        if name not in self.step:
            self.step[name] = 0
            self.last[name] = torch.full(
                spikes.shape[1:], NEVER, dtype=torch.int32, device=spikes.device
            )
            self.counts[name] = []
            self.isi[name] = torch.zeros(self.isi_bins + 2, dtype=torch.long, device=spikes.device)
            self.neurons[name] = spikes[0, 0].numel()
        last, bins = self.last[name], self.isi_bins
        for step in spikes:
            t = self.step[name]
            fired = step != 0
            if t >= self.shortest:  # padded samples from here on: their steps count nowhere
                valid = t < self.lengths.to(step.device)
                fired &= valid.view(-1, *[1] * (step.dim() - 1))
            self.counts[name].append(fired.flatten(1).sum(1))
            # interval since each neuron's last spike; 0 where silent; first spikes and
            # intervals over `bins` share bin bins + 1, split apart in histogram()
            isi = (t - last).clamp_(max=bins + 1).masked_fill_(~fired, 0)
            self.isi[name] += torch.bincount(isi.flatten(), minlength=bins + 2)
            last.masked_fill_(fired, t)
            self.step[name] = t + 1

    def histogram(self, name: str) -> Tensor:
        """ISI counts [bins + 1]: index k holds ISIs of k steps, the last one all longer ISIs."""
        counts = self.isi[name].cpu()
        first_spikes = int((self.last[name] != NEVER).sum())  # each neuron that fired once
        histogram = counts[: self.isi_bins + 1].clone()
        histogram[0] = 0
        histogram[-1] += counts[-1] - first_spikes
        return histogram


def analyze_dataset(
    model: nn.Module,
    dataset: Dataset,
    path: str | Path,
    *,
    num_classes: int,
    layers=None,
    gamma: float = DEFAULT_GAMMA,
    batch_size: int = 32,
    run: Callable[[nn.Module, Tensor], Any] | None = None,
    predict: Callable[[Any, Tensor], Tensor] = default_predict,
    isi_bins: int = 64,
    device: str | torch.device | None = None,
    resume: bool = True,
    progress: bool = True,
    num_workers: int = 0,
    **options: Any,
) -> AnalysisResult:
    """Analyse `model` over every item of `dataset` ((frames [T, P, H, W], label) pairs, e.g. a
    tonic dataset with transform=ToFrame(...)), writing the statistics to HDF5 at `path`.

    Recordings of different lengths are padded per batch; padded steps count nowhere. With
    `resume` an existing file made with the same settings is continued from its last committed
    batch; otherwise it is replaced. The model is run as it is (put it in eval mode first).
    ISIs longer than `isi_bins` steps land in the last bin. Options go to SpikeActivationMap.

    Returns the AnalysisResult read back from the file.
    """
    path = Path(path)
    sam = SpikeActivationMap(model, layers, gamma, run=run, **options)
    config = {
        "format": FORMAT,
        "num_classes": num_classes,
        "gamma": sam.gamma,
        "layers": json.dumps(sam.layers),
        "dataset_len": len(dataset),
        "isi_bins": isi_bins,
    }
    store = _Store.open(path, config, resume)
    stats = _SpikeStats(isi_bins)
    sam.recorder.consumers.append(stats)
    loader = DataLoader(
        Subset(dataset, range(store.done, len(dataset))),
        batch_size=batch_size,
        collate_fn=collate_frames,
        num_workers=num_workers,
    )
    bar = tqdm(total=len(dataset), initial=store.done, unit="sample", disable=not progress or None)
    try:
        for frames, labels, lengths in loader:
            if labels.min() < 0 or labels.max() >= num_classes:
                raise ValueError(
                    f"labels must be in [0, {num_classes}), found {labels.min()}..{labels.max()}"
                )
            if device is not None:
                frames = frames.to(device)
            stats.reset(lengths)
            result = sam.attribute(frames)
            store.add(result, stats, labels, lengths, predict(result.outputs, lengths).cpu())
            bar.update(len(labels))
    finally:
        bar.close()
        store.close()
    return AnalysisResult(path)


def _put(group: h5py.Group, name: str, value: np.ndarray) -> None:
    """Write `value` to dataset `name`, resizing it in place (no space leaks on rewrite)."""
    if name in group:
        group[name].resize(value.shape)
        group[name][...] = value
    else:
        group.create_dataset(name, data=value, maxshape=(None,) * value.ndim, chunks=True)


def _grow(array: np.ndarray, length: int, axis: int) -> np.ndarray:
    if array.shape[axis] >= length:
        return array
    pad = [(0, 0)] * array.ndim
    pad[axis] = (0, length - array.shape[axis])
    return np.pad(array, pad)


class _Store:
    """The HDF5 file: per-sample rows, and class aggregates in two slots, the header's `slot`
    naming the one that matches `done` (a crash while writing the other loses nothing)."""

    def __init__(self, file: h5py.File) -> None:
        self.file = file
        self.done = int(file.attrs["done"])
        self.slot = int(file.attrs["slot"])
        self.agg: dict[str, np.ndarray] = {}
        if self.done:
            group = file[f"aggregates/{self.slot}"]
            self.agg = {key: group[key][()] for key in _walk(group)}
            for name in ("target", "prediction", "length"):
                file["samples"][name].resize((self.done,))
            for layer in file["layers"].values():
                for item in layer.values():
                    item.resize((self.done, *item.shape[1:]))

    @classmethod
    def open(cls, path: Path, config: dict, resume: bool) -> _Store:
        if resume and path.exists():
            file = h5py.File(path, "a")
            found = {k: file.attrs.get(k) for k in config}
            if found != config:
                file.close()
                diff = {k: (found[k], v) for k, v in config.items() if found[k] != v}
                raise ValueError(
                    f"{path} holds an analysis with other settings (found, now): {diff}; "
                    "delete it, choose another path, or pass resume=False to replace it"
                )
            return cls(file)
        path.parent.mkdir(parents=True, exist_ok=True)
        file = h5py.File(path, "w")
        file.attrs.update(config)
        file.attrs.update(done=0, slot=0)
        for name in ("target", "prediction", "length"):
            file.create_dataset(f"samples/{name}", shape=(0,), maxshape=(None,), dtype="i8")
        file.create_group("layers")
        return cls(file)

    def add(self, result, stats: _SpikeStats, labels, lengths, predictions) -> None:
        batch, steps = len(labels), result.steps
        start, stop = self.done, self.done + batch
        num_classes = int(self.file.attrs["num_classes"])
        steps_valid = (torch.arange(steps)[:, None] < lengths[None]).float()  # [T, B]
        onehot = torch.nn.functional.one_hot(labels, num_classes).float()  # [B, C]
        t_max = max(steps, self.agg["count"].shape[1] if "count" in self.agg else 0)

        def accumulate(key: str, per_class: Tensor) -> None:  # per_class [C, T, ...]
            value = _grow(per_class.numpy().astype(np.float64), t_max, 1)
            old = _grow(self.agg[key], t_max, 1) if key in self.agg else np.zeros_like(value)
            self.agg[key] = old + value

        accumulate("count", onehot.T @ steps_valid.T)
        samples = self.file["samples"]
        for name, value in (("target", labels), ("prediction", predictions), ("length", lengths)):
            samples[name].resize((stop,))
            samples[name][start:stop] = value.numpy()
        for name, layer in result.items():
            group = self.file.require_group(f"layers/{name}")
            profile = (layer.profile.cpu().double() * steps_valid).T  # [B, T]
            counts = torch.stack(stats.counts[name]).cpu().double()  # [T, B], padding excluded
            rate = counts.sum(0) / (stats.neurons[name] * lengths)  # [B]
            for key, rows in (("profile", profile.float().numpy()), ("rate", rate.numpy())):
                if key not in group:
                    group.create_dataset(
                        key,
                        shape=(0, *rows.shape[1:]),
                        maxshape=(None,) * rows.ndim,
                        dtype="f4",
                        chunks=True,
                    )
                data = group[key]
                data.resize((stop, *np.maximum(rows.shape[1:], data.shape[1:])))
                data[start:stop] = _grow(rows, data.shape[1], 1) if rows.ndim > 1 else rows
            accumulate(f"{name}/profile_sum", torch.einsum("bc,bt->ct", onehot.double(), profile))
            rate_t = counts / stats.neurons[name]  # [T, B]
            accumulate(f"{name}/rate_sum", torch.einsum("bc,tb->ct", onehot.double(), rate_t))
            isi = stats.histogram(name).numpy().astype(np.float64)
            self.agg[f"{name}/isi_hist"] = self.agg.get(f"{name}/isi_hist", 0) + isi
            if layer.maps is not None:
                maps = layer.maps.cpu().double() * steps_valid[..., None, None]  # [T, B, h, w]
                accumulate(f"{name}/map_sum", torch.einsum("bc,tbhw->cthw", onehot.double(), maps))
        slot = 1 - self.slot
        group = self.file.require_group(f"aggregates/{slot}")
        for key, value in self.agg.items():
            _put(group, key, value)
        self.file.flush()
        self.file.attrs.update(done=stop, slot=slot)  # the commit: one small header write
        self.file.flush()
        self.done, self.slot = stop, slot

    def close(self) -> None:
        self.file.close()


def _walk(group: h5py.Group) -> list[str]:
    keys: list[str] = []
    group.visititems(lambda k, v: keys.append(k) if isinstance(v, h5py.Dataset) else None)
    return keys


class AnalysisResult:
    """An analysis file read back as numpy arrays (``torch.from_numpy`` makes tensors).

    Attributes: `targets`, `predictions`, `lengths` [N] for the `done` samples analysed so far,
    `layers` (names), `num_classes`, `gamma`, `complete` (all of the dataset analysed).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with h5py.File(self.path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise ValueError(f"{self.path} is not a sam-plugins analysis file ({FORMAT})")
            self.done = int(f.attrs["done"])
            self.complete = self.done == int(f.attrs["dataset_len"])
            self.num_classes = int(f.attrs["num_classes"])
            self.gamma = float(f.attrs["gamma"])
            self.layers: list[str] = json.loads(f.attrs["layers"])
            self.isi_bins = int(f.attrs["isi_bins"])
            self.targets, self.predictions, self.lengths = (
                f["samples"][k][: self.done] for k in ("target", "prediction", "length")
            )
            group = f[f"aggregates/{int(f.attrs['slot'])}"] if self.done else None
            self._agg = {k: group[k][()] for k in _walk(group)} if group else {}
            self._rows = {
                (n, k): f[f"layers/{n}/{k}"][: self.done]
                for n in f["layers"]
                for k in ("profile", "rate")
            }

    @property
    def accuracy(self) -> float:
        return float((self.predictions == self.targets).mean())

    @property
    def count(self) -> np.ndarray:
        """Samples per class and time bin that reached that bin [C, T]."""
        return self._agg["count"]

    def _mean(self, key: str) -> np.ndarray:
        total = self._agg[key]
        count = self.count.reshape(*self.count.shape, *[1] * (total.ndim - 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def mean_maps(self, layer: str) -> np.ndarray:
        """Mean raw SAM map per class and time bin [C, T, h, w] (NaN where no sample)."""
        if f"{layer}/map_sum" not in self._agg:
            raise KeyError(f"layer {layer!r} has no maps (no spatial layout, or not analysed)")
        return self._mean(f"{layer}/map_sum")

    def profile(self, layer: str) -> np.ndarray:
        """Mean SAM mass per class and time bin [C, T]: when the model looks."""
        return self._mean(f"{layer}/profile_sum")

    def firing_rate(self, layer: str) -> np.ndarray:
        """Mean fraction of the layer's neurons that fire, per class and time bin [C, T]."""
        return self._mean(f"{layer}/rate_sum")

    def isi_histogram(self, layer: str) -> np.ndarray:
        """Inter-spike intervals of the layer's neurons [isi_bins + 1]: entry k counts ISIs of
        k steps (k >= 1); the last entry also holds every longer one."""
        return self._agg[f"{layer}/isi_hist"]

    def sample_profiles(self, layer: str) -> np.ndarray:
        """SAM mass per sample and time bin [N, T] (zero after a sample's length)."""
        return self._rows[(layer, "profile")]

    def sample_rates(self, layer: str) -> np.ndarray:
        """Mean firing rate of each sample over its valid steps [N]."""
        return self._rows[(layer, "rate")]
