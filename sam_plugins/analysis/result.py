"""`AnalysisResult`: an analysis file read back, as means (the file keeps sums)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .store import FORMAT, AnalysisError


class AnalysisResult:
    """An analysis file (made by `analyze_dataset` or ``sam-plugins analyze``) as numpy arrays.

    Per-sample arrays are in dataset order; per-class ones are means over the class's samples
    that reached a time bin (NaN where none did). Layers are named as in the model.

    Attributes:
        path: the file.
        identity: the settings that made it (dataset, layers, gamma, weights fingerprint, ...).
        num_classes: number of classes; `class_names` their names.
        layers: the layers' names, in model order.
        targets: labels [N]; `predictions`, `lengths`, `indices` (dataset positions) alike.
        count: samples per class that reached each time bin [C, T].
    """

    def __init__(self, path: str | Path) -> None:
        import h5py

        self.path = Path(path)
        try:
            f = h5py.File(self.path, "r")
        except OSError as exc:
            raise AnalysisError(f"cannot read {self.path} as HDF5: {exc}") from None
        with f:
            if f.attrs.get("format") != FORMAT:
                raise AnalysisError(f"{self.path} is not a sam-plugins analysis file ({FORMAT})")
            self.identity: dict[str, Any] = json.loads(f.attrs["identity"])
            self.num_classes = int(self.identity["num_classes"])
            self.gamma = float(self.identity["gamma"])
            self.class_names: list[str] = self.identity.get("class_names") or [
                str(c) for c in range(self.num_classes)
            ]
            self.layers: list[str] = json.loads(f.attrs["layer_names"])
            samples = f["samples"]
            self.indices, self.targets, self.predictions, self.lengths = (
                samples[k][()] for k in ("index", "target", "prediction", "length")
            )
            self.count: np.ndarray = f["classes/count"][()]
            self._data = {
                (name, key): f[f"layers/{i}/{key}"][()]
                for i, name in enumerate(self.layers)
                for key in ("profile", "rate", "mass", "profile_sum", "rate_sum", "isi_hist")
                + ("map_sum",) * (f"layers/{i}/map_sum" in f)
            }
            self._kinds = [f[f"layers/{i}"].attrs["kind"] for i in range(len(self.layers))]
            self._has_maps = [f"layers/{i}/maps" in f for i in range(len(self.layers))]

    def _key(self, layer: str) -> int:
        if layer not in self.layers:
            raise KeyError(f"no layer {layer!r} in {self.path}; its layers are {self.layers}")
        return self.layers.index(layer)

    def _get(self, layer: str, key: str) -> np.ndarray:
        self._key(layer)
        if (layer, key) not in self._data:
            raise KeyError(f"layer {layer!r} has no maps in {self.path}")
        return self._data[(layer, key)]

    def _mean(self, total: np.ndarray) -> np.ndarray:
        count = self.count.reshape(*self.count.shape, *[1] * (total.ndim - 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    @property
    def done(self) -> int:
        return len(self.targets)

    @property
    def accuracy(self) -> float:
        return float((self.predictions == self.targets).mean())

    def kind(self, layer: str) -> str:
        return str(self._kinds[self._key(layer)])

    def has_maps(self, layer: str) -> bool:
        """Whether the file has the layer's mean maps per class (every layer's, in files made
        since layers without a layout have maps [T, B, N])."""
        self._key(layer)
        return (layer, "map_sum") in self._data

    def mean_maps(self, layer: str) -> np.ndarray:
        """Mean raw SAM map per class and time bin (NaN where no sample): [C, T, h, w] for 2-D
        layers, [C, T, L] for 1-D ones, [C, T, N] for layers without a layout (per neuron)."""
        return self._mean(self._get(layer, "map_sum"))

    def profile(self, layer: str) -> np.ndarray:
        """Mean SAM mass per class and time bin [C, T]: when the model looks."""
        return self._mean(self._get(layer, "profile_sum"))

    def firing_rate(self, layer: str) -> np.ndarray:
        """Mean fraction of the layer's neurons that fire, per class and time bin [C, T]."""
        return self._mean(self._get(layer, "rate_sum"))

    def mean_rate(self, layer: str) -> float:
        """Mean firing rate of the layer over all samples (each over its own bins)."""
        return float(self._get(layer, "rate").mean())

    def isi_histogram(self, layer: str) -> np.ndarray:
        """Inter-spike intervals [isi_bins + 1]: entry k counts intervals of k time bins (k >= 1);
        the last entry also holds every longer one."""
        return self._get(layer, "isi_hist")

    def sample_profiles(self, layer: str) -> np.ndarray:
        """SAM mass per sample and time bin [N, T] (zero after a sample's length)."""
        return self._get(layer, "profile")

    def sample_rates(self, layer: str) -> np.ndarray:
        """Mean firing rate of each sample over its valid bins [N]."""
        return self._get(layer, "rate")

    def sample_mass(self, layer: str) -> np.ndarray:
        """SAM mass of each sample, summed over its bins [N]."""
        return self._get(layer, "mass")

    def sample_maps(self, layer: str, samples: Any = slice(None)) -> np.ndarray:
        """Time-summed raw SAM maps of the given samples [n, h, w] (float32), from a file made
        with save_maps=True (``--save-maps``); read on demand."""
        import h5py

        i = self._key(layer)
        if not self._has_maps[i]:
            raise KeyError(f"{self.path} has no per-sample maps of layer {layer!r} (--save-maps)")
        with h5py.File(self.path, "r") as f:
            maps = f[f"layers/{i}/maps"]
            if isinstance(samples, slice):
                return maps[samples].astype(np.float32)
            order = [int(s) for s in np.asarray(samples).reshape(-1)]
            out = np.zeros((len(order), *maps.shape[1:]), dtype=np.float32)
            for row, s in enumerate(order):
                out[row] = maps[s]
            return out

    def has_sample_maps(self, layer: str) -> bool:
        return self._has_maps[self._key(layer)]

    def _repr_html_(self) -> str:
        """The report's body in a notebook (`sam_plugins.viewer.analysis.analysis_html`):
        accuracy, confusion matrix, per layer the per-class maps, profile, rates, ISIs."""
        from ..viewer.analysis import analysis_html

        return analysis_html(self)

    def confusion_matrix(self) -> np.ndarray:
        """Samples per (label, prediction) [C, C] (int64)."""
        c = self.num_classes
        valid = (self.predictions >= 0) & (self.predictions < c)
        flat = self.targets[valid] * c + self.predictions[valid]
        return np.bincount(flat, minlength=c * c).reshape(c, c)
