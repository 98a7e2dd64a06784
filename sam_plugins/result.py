"""SAM results: raw maps, display heat maps, per-neuron scores and temporal profiles per layer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from .viewer.heat import AUTHORS_SIZE, STYLES, normalize_maps

__all__ = ["AUTHORS_SIZE", "STYLES", "LayerSAM", "SAMResult", "normalize_maps"]


@dataclass(frozen=True)
class LayerSAM:
    """SAM of one layer over T recorded steps and B samples.

    Attributes:
        name: the layer's qualified name in the model.
        maps: raw maps M [T, B, *spatial]: [T, B, H, W] for 2-D layers (per-step output
            [B, C, H, W], summed over channels), [T, B, L] for 1-D ones ([B, C, L]), and
            [T, B, N] for layers without a layout (per-step output [B, N], fed by Linear or a
            recurrent cell): each neuron its own place, its N * S per step. None where a
            method makes no map of the layer (Grad-CAM and Captum skip [B, N] layers).
        scores: per-neuron scores sum_t N * S, [B, N], for layers without a layout (the time
            sum of their maps); None for layers with channels.
        profile: SAM mass per step, sum over neurons of N * S, [T, B]: when the layer looks.
        spikes: the raw spikes [T, B, ...] when recorded with keep_spikes=True, else None.
        kind: the recorded module's class name (e.g. "Leaky", "LIFNode"), for labels.
        spike_count: spikes (non-zero values) per sample over every step and neuron, [B]
            int64; 0 for a sample marks a silent layer (its maps are all zero). None where
            the method saw no spikes (Captum's input maps).
    """

    name: str
    maps: Tensor | None
    scores: Tensor | None
    profile: Tensor
    spikes: Tensor | None = None
    kind: str = ""
    spike_count: Tensor | None = None

    def silent(self, sample: int | None = None) -> bool:
        """Whether the layer emitted no spike for `sample` (None: for any sample of the
        batch); False when the spikes were not counted."""
        if self.spike_count is None:
            return False
        counts = self.spike_count if sample is None else self.spike_count[sample]
        return not bool(counts.any())

    @property
    def label(self) -> str:
        """ "layer <name>", with the module's class when known: "layer 1 (Leaky)"."""
        return f"layer {self.name}" + (f" ({self.kind})" if self.kind else "")

    @property
    def steps(self) -> int:
        return self.profile.shape[0]


class SAMResult(Mapping[str, LayerSAM]):
    """Per-layer maps of one run, read like a dict: ``result["conv1"].maps``. The one result
    type of every map method (`method` says which made it).

    Attributes:
        gamma: SAM's decay, None for other methods.
        outputs: what the model returned, when the method ran it (`attribute`, `explain`).
        method: the method's name: "SAM", "SNN Grad-CAM", "spike count", "random".
        window: SAM's window: "previous" (N sums spikes at t' < t, the paper's formula) or
            "inclusive" (t' <= t, the authors' code); None for other methods.
    """

    def __init__(
        self,
        layers: dict[str, LayerSAM],
        gamma: float | None,
        outputs: Any = None,
        method: str = "SAM",
        window: str | None = None,
    ) -> None:
        self._layers = layers
        self.gamma = gamma
        self.outputs = outputs
        self.method = method
        self.window = window

    def __getitem__(self, name: str) -> LayerSAM:
        try:
            return self._layers[name]
        except KeyError:
            raise KeyError(
                f"no layer {name!r} in this result; layers: {list(self._layers)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    @property
    def steps(self) -> int:
        """Number of time steps recorded (the same for every layer)."""
        return next(iter(self._layers.values())).steps if self._layers else 0

    @property
    def batch_size(self) -> int:
        """Number of samples in the recorded batch."""
        return next(iter(self._layers.values())).profile.shape[1] if self._layers else 0

    def maps(self, layer: str) -> Tensor:
        """Raw maps of `layer`: [T, B, H, W] (2-D layers), [T, B, L] (1-D) or [T, B, N]
        (layers without a layout, each neuron its own place)."""
        maps = self[layer].maps
        if maps is None:
            raise ValueError(
                f"the {self.method} result has no map of layer {layer!r} (its spikes have no "
                f"channels: [T, B, N]); read result[{layer!r}].profile instead, or explain it "
                "with SAM, which maps every layer"
            )
        return maps

    def heatmap(
        self, layer: str, size: tuple[int, int] | None = None, style: str = "minmax"
    ) -> Tensor:
        """Display heat maps of `layer`, [T, B, H, W] in [0, 1] (see `normalize_maps`;
        ``style="authors"`` draws them as the paper authors' code does); [T, B, N] maps
        (1-D layers, layers without a layout) normalised per sample and step, not resized
        (`size` must then be None)."""
        return normalize_maps(self.maps(layer), size, style)

    # --- display (drawn by sam_plugins.viewer: one viewer for reports, notebooks, live) -----
    def view(
        self,
        inputs: Any = None,
        samples: list[int] | None = None,
        titles: list[str] | None = None,
        order: str = "layer",
        **options: Any,
    ) -> Any:
        """The result as a `sam_plugins.viewer.html.SAMView`: shown inline by Jupyter, VS Code and
        Colab (one self-contained HTML fragment: sample picker, step slider with play/pause, a
        panel per layer, colour bar), and ``.save(path)`` as a page. `inputs`: the frames
        [T, B, C, H, W] (or images [B, C, H, W]) the maps are drawn over and shown beside;
        `order`: raster rows of [T, B, N] maps in layer order or by total ("score"). Options
        (`max_bytes`, `draw`): see `sam_plugins.viewer.html.view_html`."""
        from .viewer.html import SAMView, view_html

        return SAMView(view_html(self, inputs, samples, titles, order, **options))

    def _repr_html_(self) -> str | None:
        """The notebook view (`view()` without inputs); None (the plain repr) without the
        ``plot`` extra or layers."""
        try:
            return self.view()._repr_html_() if self._layers else None
        except ImportError:
            return None

    def plot(
        self,
        sample: int = 0,
        layers: list[str] | None = None,
        steps: list[int] | None = None,
        **options: Any,
    ) -> Any:
        """One sample as the report's grid, a ``matplotlib.figure.Figure`` (a row per layer, a
        column per step, rasters for [T, B, N] maps, a colour bar). Options (`inputs`, `order`,
        `title`, `max_columns`): see `sam_plugins.viewer.plot.plot_result`."""
        from .viewer.plot import plot_result

        return plot_result(self, sample, layers, steps, **options)

    def __repr__(self) -> str:
        shapes = {
            name: tuple((sam.maps if sam.maps is not None else sam.scores).shape)
            for name, sam in self._layers.items()
        }
        gamma = "" if self.gamma is None else f", gamma={self.gamma}"
        gamma += "" if self.window is None else f", window={self.window!r}"
        return f"SAMResult({self.method}{gamma}, steps={self.steps}, layers={shapes})"
