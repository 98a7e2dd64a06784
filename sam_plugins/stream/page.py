"""The report of a recording explained as a stream (``explain --bin``): one self-contained HTML
page with the time line (events per step, the prediction over a trailing window, SAM's mass per
layer) as a PNG, the region of the sensor the model saw, the settings and the files written."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import numpy as np


def trailing_predictions(scores: np.ndarray, window_steps: int) -> np.ndarray:
    """The class with the largest score summed over the trailing `window_steps` steps (the
    step itself and those before it), per step of `scores` [T, K]; -1 where those sums are all
    zero (no prediction). Returns [T] int64."""
    total = np.cumsum(np.asarray(scores, np.float64), axis=0)
    before = np.zeros_like(total)
    before[window_steps:] = total[:-window_steps]
    trailing = total - before
    predicted = trailing.argmax(axis=1)
    return np.where(np.abs(trailing).max(axis=1) > 0, predicted, -1)


def region_caption(
    full: tuple[int, int, int],
    region: tuple[int, int, int, int],
    factor: float,
    seen: tuple[int, int, int],
) -> str:
    """In words: the region (X, Y, W, H) of the `full` sensor (W, H, P) the model saw, and the
    size `seen` it was downsampled to by `factor`."""
    x, y, w, h = region
    said = f"the model saw x {x}..{x + w - 1}, y {y}..{y + h - 1} of the {full[0]}x{full[1]} sensor"
    if factor != 1:
        said += f", downsampled by {factor:g} to {seen[0]}x{seen[1]}"
    return said


def region_figure(
    counts: np.ndarray, region: tuple[int, int, int, int], path: Path, caption: str = ""
) -> Path:
    """A PNG of the full sensor's events per pixel [H, W] (log scale) with the region (X, Y, W,
    H) the model saw drawn as a rectangle, `caption` below."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    height, width = counts.shape
    fig = Figure(figsize=(min(8.0, 3.0 + width / 60), min(6.0, 2.5 + height / 60)))
    ax = fig.add_subplot()
    ax.imshow(np.log1p(counts), cmap="gray", interpolation="nearest")
    x, y, w, h = region
    ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor="red", linewidth=1.5))
    ax.set_title(f"sensor {width}x{height}, the model's region in red", fontsize=9)
    ax.tick_params(labelsize=7)
    if caption:
        ax.set_xlabel(caption, fontsize=7, wrap=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def timeline_figure(
    events: np.ndarray,
    mass: dict[str, np.ndarray],
    predicted: np.ndarray | None,
    bin_us: int,
    window_us: int,
    path: Path,
) -> Path:
    """The time line as a PNG: events per step; the predicted class over the trailing window
    (if the model gives class scores); each layer's SAM mass per step, divided by its largest
    value (the legend says it)."""
    from matplotlib.figure import Figure

    seconds = np.arange(len(events)) * bin_us / 1e6
    rows = 3 if predicted is not None else 2
    fig = Figure(figsize=(10, 2.2 * rows), layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True)
    axes[0].plot(seconds, events, lw=0.8, color="black")
    axes[0].set_ylabel("events per step")
    if predicted is not None:
        shown = predicted >= 0
        axes[1].scatter(seconds[shown], predicted[shown], s=4, c=predicted[shown], cmap="tab10")
        axes[1].set_ylabel("predicted class")
        axes[1].set_title(f"prediction over the trailing {window_us / 1000:g} ms", fontsize=9)
        top = int(predicted.max()) if shown.any() else 0
        axes[1].set_yticks(range(0, top + 1))
    for name, values in mass.items():
        peak = float(values.max())
        axes[-1].plot(
            seconds,
            values / peak if peak > 0 else values,
            lw=0.8,
            label=f"{name} (peak {peak:.3g})",
        )
    axes[-1].set_ylabel("SAM mass / peak")
    axes[-1].set_xlabel("time in the recording (s)")
    axes[-1].legend(  # beside the axes, never over the lines
        fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), title="layer", title_fontsize=7
    )
    fig.savefig(path, dpi=100)
    return path


def _video_element(name: str) -> str:
    """The video beside the page, shown in it (an MP4 in a video element, a GIF as an image)."""
    src = html.escape(name)
    if name.endswith(".mp4"):
        return f'<video controls loop muted src="{src}" style="max-width:100%"></video>'
    return f'<img alt="the input with SAM over it per layer" src="{src}">'


def _png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


def write_timeline_page(
    path: Path,
    *,
    timeline: Any,
    bin_us: int,
    window_us: int,
    settings: dict[str, Any],
    figure_path: Path,
    sensor_counts: np.ndarray,
    crop_region: tuple[int, int, int, int],
    region_path: Path,
    video: str,
    summary: str,
    region: str = "",
) -> Path:
    """``report.html``: the time line of the `timeline` sink's numbers (`timeline_figure`, the
    prediction over the trailing `window_us`; written to `figure_path` and embedded), the full
    sensor's events per pixel `sensor_counts` [H, W] with `crop_region` drawn (`region_figure`,
    written to `region_path` and embedded) and `region` (in words), `summary`, the settings, and
    links to the video file `video` and maps.h5 beside it. Everything a name could carry is
    escaped."""
    events, mass, scores = timeline.arrays()
    window_steps = max(1, round(window_us / bin_us))
    predicted = None if scores is None else trailing_predictions(scores, window_steps)
    region_figure(sensor_counts, crop_region, region_path)
    timeline_figure(events, mass, predicted, bin_us, window_us, figure_path)
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in settings.items()
    )
    video_name = html.escape(video)
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>SAM over a recording</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:1100px}}
img{{max-width:100%}}th{{text-align:left;padding-right:1em}}td,th{{font-size:90%}}</style>
</head><body>
<h1>SAM over a recording, step by step</h1>
<p>{html.escape(summary)}</p>
<h2>Time line</h2>
<img alt="events per step, prediction over the trailing window, SAM mass per layer"
 src="{_png(figure_path)}">
<h2>What the model saw</h2>
<p>{html.escape(region)} (the red rectangle; events per pixel over the whole recording)</p>
<img alt="the full sensor with the region the model saw" src="{_png(region_path)}">
<h2>Files</h2>
{_video_element(video)}
<ul><li><a href="{video_name}">{video_name}</a>: the input with SAM over it per layer, one
frame per step</li>
<li>maps.h5: every layer's maps [T, 1, ...] (<code>layer_NAME</code>), <code>outputs</code>,
<code>time_us</code>, the settings (attribute <code>settings</code>)</li></ul>
<h2>Settings</h2>
<table>{rows}</table>
</body></html>
"""
    Path(path).write_text(page, encoding="utf-8")
    return Path(path)
