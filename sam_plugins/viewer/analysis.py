"""The analysis report drawn: one self-contained HTML page (its images inside as data URIs, as the
explain report), made from the file; the PNGs beside it only on request (``pngs=True``,
``--pngs``). `AnalysisResult._repr_html_` shows the same body in a notebook.

Per layer: the mean SAM map per class and time bin (class x time grid, one colour bar; for
layers with maps [T, B, N], a neuron or position x time raster per class), the temporal profile
per class, the firing rate per class and bin, the ISI histogram; the confusion matrix; and the
samples that stand out (misclassified, most and least SAM mass), with their time-summed maps
when the file has them (``--save-maps``). Every name from the model or the dataset is escaped
in the HTML; PNG names are the layer names the page shows, made safe (`safe_name`).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .pixels import safe_name
from .plot import integer_ticks

if TYPE_CHECKING:
    from ..analysis.result import AnalysisResult

STANDOUT = 4  # samples per kind: misclassified, most SAM mass, least SAM mass


def _figure(width: float, height: float, layout: str | None = None):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout=layout)


class _Images:
    """Where figures go: always a data URI for the page; with `folder`, also a PNG there."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.written: list[Path] = []

    def __call__(self, fig, name: str) -> str:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        data = buffer.getvalue()
        if self.folder is not None:
            path = self.folder / name
            path.write_bytes(data)
            self.written.append(path)
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _first_bin_empty(result: AnalysisResult, layer: str) -> bool:
    """Whether every class's mean map is zero at time bin 0 (SAM's window t' < t: no earlier
    spikes yet)."""
    first = np.nan_to_num(result.mean_maps(layer)[:, 0])
    return result.identity.get("window", "previous") != "inclusive" and not first.any()


def _mosaic(maps: np.ndarray, gap: int = 1) -> np.ndarray:
    """[rows, cols, h, w] -> one image [rows * (h + gap), cols * (w + gap)] (gaps NaN)."""
    rows, cols, h, w = maps.shape
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for r in range(rows):
        for c in range(cols):
            out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = maps[r, c]
    return out


def _class_grid(result: AnalysisResult, layer: str, save: _Images, name: str) -> str:
    maps = result.mean_maps(layer)  # [C, T, h, w], or [C, T, N] (a raster per class)
    if maps.ndim == 3:
        return _class_rasters(result, layer, maps, save, name)
    classes, steps, h, w = maps.shape
    fig = _figure(min(2 + 0.9 * steps, 18), min(1 + 0.9 * classes, 24))
    ax = fig.add_subplot()
    image = ax.imshow(_mosaic(maps), cmap="inferno", interpolation="nearest")
    ax.set_xticks([t * (w + 1) + w / 2 for t in range(steps)], [str(t) for t in range(steps)])
    ax.set_yticks([c * (h + 1) + h / 2 for c in range(classes)], result.class_names)
    ax.set_xlabel("time bin")
    ax.set_ylabel("class")
    ax.set_title(f"mean SAM map per class and time bin ({layer})", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8, label="raw SAM (mean over the class)")
    return save(fig, name)


def _class_rasters(
    result: AnalysisResult, layer: str, maps: np.ndarray, save: _Images, name: str
) -> str:
    """Mean maps [C, T, N] of a layer without a 2-D layout: per class a neuron (or position)
    x time raster, one colour scale."""
    classes, steps, neurons = maps.shape
    columns = min(classes, 4)
    rows = -(-classes // columns)
    fig = _figure(min(2 + 2.6 * columns, 18), min(0.8 + 2.4 * rows, 30), "constrained")
    axes = fig.subplots(rows, columns, squeeze=False, sharey=True)
    top = np.nanmax(maps) if np.isfinite(maps).any() else 1.0
    for c in range(rows * columns):
        ax = axes[c // columns][c % columns]
        if c >= classes:
            ax.set_axis_off()
            continue
        image = ax.imshow(
            maps[c].T, cmap="inferno", aspect="auto", interpolation="nearest", vmin=0,
            vmax=top or 1.0,
        )  # fmt: skip
        ax.set_title(result.class_names[c], fontsize=8)
        integer_ticks(ax)
        ax.tick_params(labelsize=7)
        if c % columns == 0:
            ax.set_ylabel("neuron / position", fontsize=7)
        if c + columns >= classes:  # no panel below: this one says what its x axis is
            ax.set_xlabel("time bin", fontsize=7)
    fig.suptitle(f"mean SAM per class: neuron x time ({layer})", fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.8, label="raw SAM (mean over the class)")
    return save(fig, name)


def _per_class_lines(
    values: np.ndarray, names: list[str], ylabel: str, title: str, save: _Images, name: str
) -> str:
    fig = _figure(6, 3.2)
    ax = fig.add_subplot()
    for c, label in enumerate(names):
        if np.isfinite(values[c]).any():
            ax.plot(values[c], marker=".", label=label)
    integer_ticks(ax, y=False)
    ax.set_xlabel("time bin")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    # beside the axes, never over the lines (the page's PNG is cut to fit it: bbox "tight")
    ax.legend(
        fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
        title="class", title_fontsize=7, ncol=1 + (len(names) > 16),
    )  # fmt: skip
    return save(fig, name)


def _rate_grid(result: AnalysisResult, layer: str, save: _Images, name: str) -> str:
    fig = _figure(6, 0.6 + 0.3 * result.num_classes)
    ax = fig.add_subplot()
    image = ax.imshow(result.firing_rate(layer), cmap="viridis", aspect="auto")
    integer_ticks(ax, y=False)
    ax.set_yticks(range(result.num_classes), result.class_names)
    ax.set_xlabel("time bin")
    ax.set_ylabel("class")
    ax.set_title(f"firing rate per class and time bin ({layer})", fontsize=9)
    fig.colorbar(image, ax=ax, label="fraction of neurons firing")
    return save(fig, name)


def _isi(result: AnalysisResult, layer: str, save: _Images, name: str) -> str:
    """Bars for the intervals that can occur: 1 .. T-1 time bins (T: the longest recording),
    the last bar holding the longer ones only where the file's histogram lumps them; counts on
    a log axis."""
    hist = result.isi_histogram(layer)
    longest = max(int(result.count.shape[1]) - 1, 1)
    last = min(len(hist) - 1, longest)
    fig = _figure(min(2 + 0.35 * last, 10), 2.6)
    ax = fig.add_subplot()
    ax.bar(np.arange(1, last + 1), hist[1 : last + 1], width=0.9)
    ax.set_xlim(0.4, last + 0.6)
    integer_ticks(ax, y=False)
    # counts span decades (short intervals are common): on a linear axis the rare long ones
    # are invisible beside the tallest bar; an empty bin stays empty (log of 0 is not drawn)
    if hist[1 : last + 1].any():
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")  # ticks as plain numbers (the report turns TeX off: names)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.set_ylabel("intervals (log scale)")
    else:
        ax.set_yticks([0])
        ax.set_ylabel("intervals")
        ax.text(0.5, 0.5, "no intervals: no neuron spiked twice", ha="center",
                transform=ax.transAxes)  # fmt: skip
    lumped = f"; the last bar: {last} or more" if last < longest else ""
    ax.set_xlabel(f"inter-spike interval (time bins, at most {longest}{lumped})")
    ax.set_title(f"ISI histogram ({layer})", fontsize=9)
    return save(fig, name)


def _confusion(result: AnalysisResult, save: _Images) -> str:
    matrix = result.confusion_matrix()
    c = result.num_classes
    fig = _figure(1.5 + 0.45 * c, 1.2 + 0.45 * c)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        if value:
            ax.text(j, i, str(value), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(c), result.class_names, rotation=90)
    ax.set_yticks(range(c), result.class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("label")
    ax.set_title(f"confusion matrix (accuracy {result.accuracy:.1%})", fontsize=9)
    from matplotlib.ticker import MaxNLocator

    counts = MaxNLocator(integer=True)  # samples are counted: no 0.25 on the bar
    fig.colorbar(image, ax=ax, shrink=0.8, label="samples", ticks=counts)
    return save(fig, "confusion.png")


def standout_samples(result: AnalysisResult, layer: str) -> dict[str, list[int]]:
    """Positions (in the file's sample order) of the misclassified samples and of those with
    the most and the least SAM mass in `layer`, at most STANDOUT each."""
    mass = result.sample_mass(layer)
    order = np.argsort(mass, kind="stable")
    wrong = np.flatnonzero(result.predictions != result.targets)
    return {
        "misclassified": wrong[np.argsort(-mass[wrong], kind="stable")][:STANDOUT].tolist(),
        "most SAM mass": order[::-1][:STANDOUT].tolist(),
        "least SAM mass": order[:STANDOUT].tolist(),
    }


def _sample_maps(
    result: AnalysisResult, layer: str, samples: list[int], save: _Images, name: str
) -> str:
    """The samples' time-summed maps, on one colour scale: images [n, h, w], or rows of a
    raster [n, N] for a layer without a 2-D layout."""
    maps = result.sample_maps(layer, samples)
    top = float(maps.max()) or 1.0
    if maps.ndim == 2:
        fig = _figure(7, 0.8 + 0.35 * len(samples))
        ax = fig.add_subplot()
        image = ax.imshow(maps, cmap="inferno", aspect="auto", interpolation="nearest", vmin=0)
        ax.set_yticks(range(len(samples)), [f"#{result.indices[s]}" for s in samples])
        ax.set_xlabel("neuron / position")
        ax.xaxis.get_major_locator().set_params(integer=True)
        axes = [ax]
    else:
        fig = _figure(1.8 * len(samples) + 1.2, 2.2)
        axes = fig.subplots(1, len(samples), squeeze=False)[0]
        for ax, s, one in zip(axes, samples, maps, strict=True):
            image = ax.imshow(one, cmap="inferno", vmin=0, vmax=top)
            ax.set_axis_off()
            ax.set_title(f"#{result.indices[s]}", fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.8, label="raw SAM, time-summed")
    return save(fig, name)


STYLE = """.sam-analysis{font-family:sans-serif;max-width:1100px;margin:1em auto;color:#222}
.sam-analysis img{max-width:100%;border:1px solid #ddd;margin:4px 0}
.sam-analysis table{border-collapse:collapse}
.sam-analysis td,.sam-analysis th{border:1px solid #ccc;padding:2px 8px;font-size:13px}
.sam-analysis section{margin-bottom:2em}.sam-analysis .note{color:#666;font-size:13px}"""


def write_analysis_page(
    result: AnalysisResult, folder: str | Path, title: str | None = None, pngs: bool = False
) -> Path:
    """Write ``report.html`` into `folder` from a read analysis file; return the page. The
    page is one self-contained file (its images inside as data URIs, nothing fetched). With
    `pngs`, every figure is also written beside it as a PNG named after the layer the page
    shows (``layer-<name>-maps.png``, ``confusion.png``, ...)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    title = title or f"SAM analysis of {result.path.name}"
    body = analysis_html(result, title, _Images(folder if pngs else None))
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body>{body}</body></html>"
    )
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def analysis_html(
    result: AnalysisResult, title: str | None = None, save: _Images | None = None
) -> str:
    """The report's body, one fragment ``<div class="sam-analysis">`` (the page's, and the
    notebook's `AnalysisResult._repr_html_`)."""
    import matplotlib

    save = save or _Images(None)
    title = title or f"SAM analysis of {result.path.name}"
    with matplotlib.rc_context({"text.parse_math": False}):  # names are text, never TeX
        return _body(result, title, save)


def _png_names(layers: list[str]) -> list[str]:
    """File-name parts per layer: its name made safe, numbered where two come out alike."""
    names = [safe_name(layer) for layer in layers]
    return [n if names.count(n) == 1 else f"{n}-{i}" for i, n in enumerate(names)]


def _body(result: AnalysisResult, title: str, save: _Images) -> str:
    """`analysis_html` with the results read."""
    e = html.escape
    names = result.class_names
    settings = ", ".join(f"{k} = {v}" for k, v in result.identity.items() if k != "class_names")
    body = [
        f"<style>{STYLE}</style><h1>{e(title)}</h1>",
        f"<p>{result.done} samples, {result.num_classes} classes, accuracy "
        f"{result.accuracy:.1%}, gamma {result.gamma:g}.</p>",
        f"<p class='note'>settings: {e(settings)}</p>",
        "<section id='confusion'><h2>Confusion matrix</h2>"
        f"<img src='{_confusion(result, save)}' alt='confusion matrix'></section>",
    ]
    for i, (layer, stem) in enumerate(zip(result.layers, _png_names(result.layers), strict=True)):
        label = e(f"layer {layer} ({result.kind(layer)})")
        stem = f"layer-{stem}"
        parts = [f"<section class='layer' id='layer-{i}'><h2>{label}</h2>"]
        parts.append(f"<p>mean firing rate {result.mean_rate(layer):.4f}</p>")
        if result.has_maps(layer):
            uri = _class_grid(result, layer, save, f"{stem}-maps.png")
            parts.append(f"<h3>Mean SAM map per class and time bin</h3><img src='{uri}' alt=''>")
            if _first_bin_empty(result, layer):
                parts.append(
                    "<p class='note'>time bin 0 is empty: SAM counts a neuron's earlier spikes "
                    "(window t' &lt; t), and there are none yet.</p>"
                )
        uri = _per_class_lines(
            result.profile(layer), names, "SAM mass", f"temporal profile ({layer})",
            save, f"{stem}-profile.png",
        )  # fmt: skip
        parts.append(f"<h3>Temporal profile per class</h3><img src='{uri}' alt=''>")
        uri = _rate_grid(result, layer, save, f"{stem}-rate.png")
        parts.append(f"<h3>Firing rate per class and time bin</h3><img src='{uri}' alt=''>")
        uri = _isi(result, layer, save, f"{stem}-isi.png")
        parts.append(f"<h3>Inter-spike intervals</h3><img src='{uri}' alt=''>")
        parts.append(_standouts(result, layer, stem, save))
        parts.append("</section>")
        body.append("".join(parts))
    return f"<div class='sam-analysis'>{''.join(body)}</div>"


def _standouts(result: AnalysisResult, layer: str, stem: str, save: _Images) -> str:
    e = html.escape
    names, mass = result.class_names, result.sample_mass(layer)
    parts = ["<h3>Samples that stand out</h3>"]
    for k, (kind, samples) in enumerate(standout_samples(result, layer).items()):
        if not samples:
            parts.append(f"<p class='note'>{e(kind)}: none</p>")
            continue
        rows = "".join(
            f"<tr><td>{result.indices[s]}</td><td>{e(names[result.targets[s]])}</td>"
            f"<td>{e(_class_name(names, result.predictions[s]))}</td><td>{mass[s]:.4g}</td></tr>"
            for s in samples
        )
        parts.append(
            f"<h4>{e(kind)}</h4><table class='standout' data-kind='{e(kind)}'><tr><th>sample"
            f"</th><th>label</th><th>prediction</th><th>SAM mass</th></tr>{rows}</table>"
        )
        if result.has_maps(layer) and result.has_sample_maps(layer):
            uri = _sample_maps(result, layer, samples, save, f"{stem}-standout{k}.png")
            parts.append(f"<img src='{uri}' alt='time-summed SAM maps'>")
        elif result.has_maps(layer):
            parts.append(
                "<p class='note'>their maps: analyse with --save-maps (save_maps=True)</p>"
            )
    return "".join(parts)


def _class_name(names: list[str], c: int) -> str:
    return names[c] if 0 <= c < len(names) else str(c)
