"""The analysis report: one HTML page with PNGs beside it (matplotlib), made from the file.

Per layer: the mean SAM map per class and time bin (class x time grid, one colour bar), the
temporal profile per class, the firing rate per class and bin, the ISI histogram; the confusion
matrix; and the samples that stand out (misclassified, most and least SAM mass), with their
time-summed maps when the file has them (``--save-maps``). Every name from the model or the
dataset is escaped in the HTML; PNG names are made from layer positions, never from names.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from .result import AnalysisResult

STANDOUT = 4  # samples per kind: misclassified, most SAM mass, least SAM mass


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(width, height), dpi=100)


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path.name


def _mosaic(maps: np.ndarray, gap: int = 1) -> np.ndarray:
    """[rows, cols, h, w] -> one image [rows * (h + gap), cols * (w + gap)] (gaps NaN)."""
    rows, cols, h, w = maps.shape
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for r in range(rows):
        for c in range(cols):
            out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = maps[r, c]
    return out


def _class_grid(result: AnalysisResult, layer: str, path: Path) -> str:
    maps = result.mean_maps(layer)  # [C, T, h, w]
    classes, steps, h, w = maps.shape
    fig = _figure(min(2 + 0.9 * steps, 18), min(1 + 0.9 * classes, 24))
    ax = fig.add_subplot()
    image = ax.imshow(_mosaic(maps), cmap="inferno", interpolation="nearest")
    ax.set_xticks([t * (w + 1) + w / 2 for t in range(steps)], [str(t) for t in range(steps)])
    ax.set_yticks([c * (h + 1) + h / 2 for c in range(classes)], result.class_names)
    ax.set_xlabel("time bin")
    ax.set_title(f"mean SAM map per class and time bin ({layer})", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8, label="raw SAM (mean over the class)")
    return _save(fig, path)


def _per_class_lines(values: np.ndarray, names: list[str], ylabel: str, title: str, path: Path):
    fig = _figure(6, 3.2)
    ax = fig.add_subplot()
    for c, name in enumerate(names):
        if np.isfinite(values[c]).any():
            ax.plot(values[c], marker=".", label=name)
    ax.set_xlabel("time bin")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, ncol=2, loc="best")
    return _save(fig, path)


def _rate_grid(result: AnalysisResult, layer: str, path: Path) -> str:
    fig = _figure(6, 0.6 + 0.3 * result.num_classes)
    ax = fig.add_subplot()
    image = ax.imshow(result.firing_rate(layer), cmap="viridis", aspect="auto")
    ax.set_yticks(range(result.num_classes), result.class_names)
    ax.set_xlabel("time bin")
    ax.set_title(f"firing rate per class and time bin ({layer})", fontsize=9)
    fig.colorbar(image, ax=ax, label="fraction of neurons firing")
    return _save(fig, path)


def _isi(result: AnalysisResult, layer: str, path: Path) -> str:
    hist = result.isi_histogram(layer)
    fig = _figure(6, 2.6)
    ax = fig.add_subplot()
    ax.bar(np.arange(1, len(hist)), hist[1:], width=0.9)
    ax.set_xlabel(f"inter-spike interval (time bins; the last bar: {len(hist) - 1} or more)")
    ax.set_ylabel("intervals")
    ax.set_title(f"ISI histogram ({layer})", fontsize=9)
    return _save(fig, path)


def _confusion(result: AnalysisResult, path: Path) -> str:
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
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _save(fig, path)


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


def _sample_maps(result: AnalysisResult, layer: str, samples: list[int], path: Path) -> str:
    maps = result.sample_maps(layer, samples)
    fig = _figure(1.8 * len(samples), 2.2)
    for k, (s, image) in enumerate(zip(samples, maps, strict=True)):
        ax = fig.add_subplot(1, len(samples), k + 1)
        ax.imshow(image, cmap="inferno")
        ax.set_axis_off()
        ax.set_title(f"#{result.indices[s]}", fontsize=8)
    return _save(fig, path)


STYLE = """body{font-family:sans-serif;max-width:1100px;margin:1em auto;color:#222}
img{max-width:100%;border:1px solid #ddd;margin:4px 0}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px}section{margin-bottom:2em}
.note{color:#666;font-size:13px}"""


def write_analysis_report(
    result: AnalysisResult | str | Path, folder: str | Path, title: str | None = None
) -> Path:
    """Write ``report.html`` and its PNGs into `folder` from an analysis file; return the page.

    The page refers to the PNGs by relative names only: the folder is self-contained."""
    import matplotlib

    if not isinstance(result, AnalysisResult):
        result = AnalysisResult(result)
    with matplotlib.rc_context({"text.parse_math": False}):  # names are text, never TeX
        return _write(result, Path(folder), title)


def _write(result: AnalysisResult, folder: Path, title: str | None) -> Path:
    """`write_analysis_report` with the results read."""
    folder.mkdir(parents=True, exist_ok=True)
    e = html.escape
    names = result.class_names
    title = title or f"SAM analysis of {result.path.name}"
    settings = ", ".join(f"{k} = {v}" for k, v in result.identity.items() if k != "class_names")
    body = [
        f"<h1>{e(title)}</h1>",
        f"<p>{result.done} samples, {result.num_classes} classes, accuracy "
        f"{result.accuracy:.1%}, gamma {result.gamma:g}.</p>",
        f"<p class='note'>settings: {e(settings)}</p>",
        "<section id='confusion'><h2>Confusion matrix</h2>"
        f"<img src='{_confusion(result, folder / 'confusion.png')}' alt='confusion matrix'>"
        "</section>",
    ]
    for i, layer in enumerate(result.layers):
        label = e(f"layer {layer} ({result.kind(layer)})")
        parts = [f"<section class='layer' id='layer-{i}'><h2>{label}</h2>"]
        parts.append(f"<p>mean firing rate {result.mean_rate(layer):.4f}</p>")
        if _image_maps(result, layer):
            png = _class_grid(result, layer, folder / f"layer{i}-maps.png")
            parts.append(f"<h3>Mean SAM map per class and time bin</h3><img src='{png}' alt=''>")
        png = _per_class_lines(
            result.profile(layer), names, "SAM mass", f"temporal profile ({layer})",
            folder / f"layer{i}-profile.png",
        )  # fmt: skip
        parts.append(f"<h3>Temporal profile per class</h3><img src='{png}' alt=''>")
        png = _rate_grid(result, layer, folder / f"layer{i}-rate.png")
        parts.append(f"<h3>Firing rate per class and time bin</h3><img src='{png}' alt=''>")
        png = _isi(result, layer, folder / f"layer{i}-isi.png")
        parts.append(f"<h3>Inter-spike intervals</h3><img src='{png}' alt=''>")
        parts.append(_standouts(result, layer, i, folder))
        parts.append("</section>")
        body.append("".join(parts))
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>"
    )
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _standouts(result: AnalysisResult, layer: str, i: int, folder: Path) -> str:
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
        if _image_maps(result, layer) and result.has_sample_maps(layer):
            png = _sample_maps(result, layer, samples, folder / f"layer{i}-standout{k}.png")
            parts.append(f"<img src='{png}' alt='time-summed SAM maps'>")
        elif _image_maps(result, layer):
            parts.append(
                "<p class='note'>their maps: analyse with --save-maps (save_maps=True)</p>"
            )
    return "".join(parts)


def _image_maps(result: AnalysisResult, layer: str) -> bool:
    """Whether the layer's maps are 2-D ([C, T, h, w] class means), drawn as images here; the
    [C, T, N] maps of 1-D layers and layers without a layout are not."""
    return result.has_maps(layer) and result.mean_maps(layer).ndim == 4


def _class_name(names: list[str], c: int) -> str:
    return names[c] if 0 <= c < len(names) else str(c)
