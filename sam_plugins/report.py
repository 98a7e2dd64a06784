"""An explanation as files: a self-contained HTML report with a time-step slider, a step x layer
PNG grid and an animated GIF per layer for each sample (`save_explanation`, what
``sam-plugins explain`` and ``demo`` write). Pixels come from `sam_plugins.render`.

Needs the ``plot`` extra (matplotlib, Pillow, imageio).
"""

from __future__ import annotations

import base64
import html
import io
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import Tensor

from . import __version__
from .outputs import predictions
from .render import (
    COLORBAR,
    as_array,
    colored,
    frame_image,
    image_grid_figure,
    integer_ticks,
    is_raster,
    raster_rows,
    safe_name,
    save_animation,
    save_figure,
    show_sam_on_image,
    to_uint8,
)
from .result import SAMResult, normalize_maps

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Draw = Callable[[Any], np.ndarray]
"""draw(frame [C, H, W]) -> RGB [H, W, 3] in [0, 1]: how an input frame is shown."""


def _png_uri(rgb: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(to_uint8(rgb)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def profile_figure(result: SAMResult, sample: int) -> Figure:
    """Each layer's SAM mass per step for one sample, scaled to its peak: a matplotlib figure
    with the legend beside the axes (never over the lines) and steps as whole numbers."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 2.4))
    ax = fig.add_subplot()
    for name in result:
        profile = as_array(result[name].profile[:, sample]).astype(float)
        peak = profile.max()
        ax.plot(profile / peak if peak > 0 else profile, marker="o", ms=3, label=result[name].label)
    ax.set_xlabel("time step")
    ax.set_ylabel("SAM mass / peak")
    integer_ticks(ax, y=False)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return fig


def _profile_svg(result: SAMResult, sample: int) -> str:
    """`profile_figure` as inline SVG (cut to hold the legend beside the axes)."""
    buffer = io.StringIO()
    profile_figure(result, sample).savefig(buffer, format="svg", bbox_inches="tight")
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _check_frames(frames: Tensor | np.ndarray, result: SAMResult) -> np.ndarray:
    x = as_array(frames)
    if x.ndim == 4 and x.shape[0] == result.batch_size:  # static images [N, C, H, W]
        x = np.broadcast_to(x[None], (result.steps, *x.shape))
    if x.ndim != 5 or x.shape[:2] != (result.steps, result.batch_size):
        raise ValueError(
            f"frames must be [T, N, C, H, W] with T={result.steps} steps and N="
            f"{result.batch_size} samples as in the result (or images [N, C, H, W]), found "
            f"shape {x.shape}"
        )
    return x


def _image_layers(result: SAMResult, layers: list[str] | None = None) -> list[str]:
    """The layers drawn as images (maps [T, B, H, W]), in result order."""
    names = list(result) if layers is None else layers
    return [n for n in names if result[n].maps is not None and result[n].maps.dim() == 4]


def _raster_layers(result: SAMResult, layers: list[str] | None = None) -> list[str]:
    """The layers drawn as neuron (or position) x time rasters (maps [T, B, N])."""
    return [n for n in (list(result) if layers is None else layers) if is_raster(result[n].maps)]


def _rows_are(sam: Any) -> str:
    """What a raster's rows are: a Linear layer's neurons, or a Conv1d layer's positions."""
    return "neurons" if sam.scores is not None else "positions"


def _sample_images(
    result: SAMResult,
    n: int,
    x: np.ndarray | None,
    draw: Draw,
    steps: list[int],
    layers: list[str] | None = None,
) -> dict[str, list[np.ndarray]]:
    """The RGB images [H, W, 3] shown for sample `n` at each of `steps`: "input" (when frames
    `x` [T, N, C, H, W] are given) and each image layer's heat map, over the input upsampled
    to its size, or alone in colour at the layer's own size."""
    images: dict[str, list[np.ndarray]] = {}
    size = None if x is None else tuple(x.shape[-2:])
    if x is not None:
        images["input"] = [draw(x[t, n]) for t in steps]
    for name in _image_layers(result, layers):
        heat = as_array(normalize_maps(result[name].maps[steps][:, n : n + 1], size))[:, 0]
        if x is None:
            images[name] = list(colored(heat))
        else:
            images[name] = [
                show_sam_on_image(i, h) for i, h in zip(images["input"], heat, strict=True)
            ]
    return images


def _overlays(x: np.ndarray, result: SAMResult, draw: Draw) -> list[dict[str, list[np.ndarray]]]:
    """Per sample, the RGB images [H, W, 3] shown at each step: "input", and each image
    layer's heat map (upsampled to the frames' size) over the input."""
    steps = list(range(result.steps))
    return [_sample_images(result, n, x, draw, steps) for n in range(x.shape[1])]


def write_report(
    path: str | Path,
    frames: Tensor | np.ndarray,
    result: SAMResult,
    titles: list[str] | None = None,
    draw: Draw = frame_image,
) -> Path:
    """One self-contained HTML file (images inlined, no network needed): per sample its title
    (e.g. label and prediction), the input and every mapped layer's heat map with a time-step
    slider, a play button and all steps side by side, a colour bar, rasters of layers with maps
    [T, B, N], and the temporal profile of each layer (the page holds `view_html`'s fragment).

    Args:
        frames: the inputs [T, N, C, H, W] the result was computed from (see `frame_image`).
        result: SAM of those N samples.
        titles: N headings, e.g. "label 3, predicted 3".
        draw: how a frame [C, H, W] is drawn (default `sam_plugins.render.frame_image`).
    """
    shown = _overlays(_check_frames(frames, result), result, draw)
    return _write_page(Path(path), shown, result, titles)


def _write_page(
    path: Path,
    shown: list[dict[str, list[np.ndarray]]],
    result: SAMResult,
    titles: list[str] | None,
) -> Path:
    fragment = _fragment(
        result, list(range(len(shown))), lambda n, steps: shown[n], titles, picker=False
    )
    page = _PAGE.format(version=__version__, view=fragment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


MAX_BYTES = 4_000_000
"""What a notebook view holds at most (its images, as data URIs): samples and steps beyond it
are left out, and the view says which."""


class SAMView:
    """A result drawn as one self-contained HTML fragment (`html`), shown by Jupyter, VS Code
    and Colab through `_repr_html_`. Made by `SAMResult.view` (see `view_html`)."""

    def __init__(self, html: str) -> None:
        self.html = html

    def _repr_html_(self) -> str:
        return self.html

    def save(self, path: str | Path) -> Path:
        """The fragment as a whole HTML page at `path` (it needs nothing else)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_PAGE.format(version=__version__, view=self.html), encoding="utf-8")
        return path


def view_html(
    result: SAMResult,
    inputs: Tensor | np.ndarray | None = None,
    samples: list[int] | None = None,
    titles: list[str] | None = None,
    order: str = "layer",
    draw: Draw = frame_image,
    max_bytes: int | None = MAX_BYTES,
) -> str:
    """The viewer as an HTML fragment ``<div class="sam-view" id="sam-view-...">``, the same
    one the explain report holds: a sample picker, a time-step slider with play/pause, a panel
    per layer (the input's too when `inputs` are given), all steps side by side, a colour bar,
    a raster per layer with maps [T, B, N], the temporal profile. Its script touches only its
    own element, so several views live in one page; every name is escaped.

    Args:
        inputs: the frames [T, B, C, H, W] (or images [B, C, H, W]) the result was computed
            from: maps are drawn over them; None draws the maps alone at their own size. A
            signal [T, B, F] or [T, B, C, L] is shown as its own channel x time raster.
        samples: which samples (default all, as far as `max_bytes` allows).
        titles: a heading per sample in `samples` (default: number and prediction).
        order: raster rows in the layer's order ("layer") or by total score ("score").
        max_bytes: bound on the images' size; samples (then steps) beyond it are left out and
            the view says so. None: no bound.
    """
    x, signal = _split_inputs(inputs, result)
    batch = result.batch_size
    samples = list(range(batch)) if samples is None else [int(n) for n in samples]
    bad = [n for n in samples if not 0 <= n < batch]
    if bad or not samples:
        raise ValueError(f"samples must be in 0..{batch - 1}, found {samples}")
    if titles is None:  # "sample n, predicted P" when the result holds the outputs
        every = sample_titles(result.outputs, None, batch)
        titles = [every[n] for n in samples]
    elif len(titles) != len(samples):
        raise ValueError(f"{len(samples)} samples but {len(titles)} titles")
    steps = list(range(result.steps))
    if max_bytes is not None and steps:
        first = _sample_images(result, samples[0], x, draw, [0])
        per_step = sum(len(_png_uri(images[0])) for images in first.values())
        stride = -(-per_step * len(steps) // max(max_bytes // 2, 1))
        steps = steps[:: max(stride, 1)]
    return _fragment(
        result,
        samples,
        lambda n, shown: _sample_images(result, n, x, draw, shown),
        titles,
        picker=True,
        steps=steps,
        order=order,
        max_bytes=max_bytes,
        signal=signal,
    )


def _fragment(
    result: SAMResult,
    samples: list[int],
    images: Callable[[int, list[int]], dict[str, list[np.ndarray]]],
    titles: list[str] | None,
    picker: bool,
    steps: list[int] | None = None,
    order: str = "layer",
    max_bytes: int | None = None,
    signal: np.ndarray | None = None,
) -> str:
    """The one viewer (see `view_html`); `images(n, steps)` gives sample n's panels; a
    `signal` [T, B, F] is drawn as the input's raster."""
    e = html.escape
    steps = list(range(result.steps)) if steps is None else steps
    last = result.steps - 1
    uid = "sam-view-" + uuid.uuid4().hex[:12]
    rasters = _raster_layers(result)
    data, sections, used, left_out = [], [], 0, []
    for k, n in enumerate(samples):
        uris = {key: [_png_uri(img) for img in frames] for key, frames in images(n, steps).items()}
        figures = "".join(
            f'<figure><img data-key="{e(key)}" src="{srcs[0]}" alt="{e(key)}">'
            f"<figcaption>{'input' if key == 'input' else e(_caption(result, key, n))}"
            "</figcaption></figure>"
            for key, srcs in uris.items()
        )
        if signal is not None:
            figures = _raster_html(raster_rows(signal[:, n]), "input", "channels") + figures
        figures += "".join(_raster_figure(result, name, n, order) for name in rasters)
        if uris or rasters or signal is not None:
            figures += _colorbar_figure()
        strip = _strip(uris, result, steps)
        profile = _profile_svg(result, n)
        cost = sum(len(u) for srcs in uris.values() for u in srcs) + len(figures) + len(profile)
        if max_bytes is not None and data and used + cost > max_bytes:
            left_out = samples[k:]
            break
        used += cost
        data.append(uris)
        title = e(titles[k] if titles else f"sample {n}")
        hidden = " hidden" if picker and k else ""
        sections.append(
            f'<section class="sample" data-sample="{n}" data-index="{k}"{hidden}><h2>{title}</h2>'
            f'<div class="controls"><button class="play">play</button>'
            f'<input type="range" class="step" min="0" max="{len(steps) - 1}" value="0" '
            f'aria-label="time step"><span class="t">t = {steps[0]} / {last}</span>'
            f'<span class="why"{_why_hidden(result, steps[0])}>{e(_why_empty(result))}</span>'
            f'</div><div class="row">{figures}</div>{strip}'
            f'<div class="profile">{profile}</div></section>'
        )
    notes = []
    if len(steps) < result.steps:
        stride = steps[1] - steps[0] if len(steps) > 1 else result.steps
        notes.append(
            f"one step in {stride} shown ({len(steps)} of {result.steps}; the view is bounded "
            f"to {max_bytes / 1e6:g} MB): choose steps with result.plot(steps=[...])"
        )
    if left_out:
        notes.append(
            f"samples {', '.join(map(str, left_out))} left out (the view is bounded to "
            f"{max_bytes / 1e6:g} MB): choose them with result.view(samples=[...])"
        )
    shown = samples[: len(data)]
    pick = ""
    if picker and len(shown) > 1:
        options = "".join(
            f'<option value="{n}">{e(titles[k] if titles else f"sample {n}")}</option>'
            for k, n in enumerate(shown)
        )
        pick = f'<label class="pick">sample <select class="sample-pick">{options}</select></label>'
    script = _SCRIPT.format(
        uid=json.dumps(uid),
        data=_script_json(data),
        steps=json.dumps(steps),
        last=last,
        empty_first=json.dumps(_why_empty(result) != ""),
    )
    return (
        f'<div class="sam-view" id="{uid}">{_STYLE}<p class="about">{_about(result)}</p>'
        + "".join(f'<p class="left-out">{e(note)}</p>' for note in notes)
        + f"{pick}{''.join(sections)}<script>{script}</script></div>"
    )


def _about(result: SAMResult) -> str:
    """What the view says about the maps: method, steps, settings, layers (escaped HTML)."""
    layers = ", ".join(
        html.escape(result[name].label.removeprefix("layer "))
        + (
            " (no map: no spatial layout; see the profile)"
            if result[name].maps is None
            else f" ({_rows_are(result[name]).removesuffix('s')} x time raster)"
            if is_raster(result[name].maps)
            else ""
        )
        for name in result
    )
    return (
        f"{html.escape(result.method)} per time step, computed from the forward spikes. "
        f"{result.steps} time steps, {html.escape(_settings(result))}, layers: {layers}. "
        "Each map is min-max normalised per step; the profile is each layer's total per step, "
        "scaled to its peak."
    )


def _why_empty(result: SAMResult) -> str:
    """Why step 0's maps are empty, when they are by construction (SAM's t' < t window)."""
    if result.gamma is not None and result.window != "inclusive":
        return "t = 0: every map is empty, as there are no earlier spikes (window t' < t)"
    return ""


def _why_hidden(result: SAMResult, step: int) -> str:
    return "" if _why_empty(result) and step == 0 else " hidden"


def _raster_figure(result: SAMResult, name: str, n: int, order: str) -> str:
    """A layer with maps [T, B, N] as a neuron (or position) x time raster of sample n."""
    sam = result[name]
    rows = raster_rows(sam.maps[:, n].reshape(sam.maps.shape[0], -1), order)
    ordered = "by total score" if order == "score" else "in layer order"
    return _raster_html(rows, _caption(result, name, n), f"{_rows_are(sam)} ({ordered})")


def _caption(result: SAMResult, name: str, n: int) -> str:
    """A layer's panel caption for sample n: its label, and "no spikes" when it was silent."""
    return result[name].label + (", no spikes" if result[name].silent(n) else "")


RASTER_AXES = (0.2, 0.17, 0.76, 0.75)
"""Where a raster's image lies in its picture (left, bottom, width, height, as fractions): the
step marker is placed over it by the script."""


def raster_figure(rows: np.ndarray, what: str) -> Figure:
    """A raster [N, T] in [0, 1] drawn as a matplotlib figure: a row per neuron (position,
    channel; `what` names them), a column per step, both numbered with whole numbers, the
    image at `RASTER_AXES` (fixed, so that a marker can be drawn over step t)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.6, 2.6), dpi=100)
    ax = fig.add_axes(RASTER_AXES)
    neurons, steps = rows.shape
    ax.imshow(
        colored(rows), aspect="auto", interpolation="nearest",
        extent=(-0.5, steps - 0.5, neurons - 0.5, -0.5),
    )  # fmt: skip
    integer_ticks(ax)
    ax.set_xlabel("time step", fontsize=8)
    ax.set_ylabel(what, fontsize=8)
    ax.tick_params(labelsize=7)
    return fig


def _raster_html(rows: np.ndarray, label: str, what: str) -> str:
    """A raster [N, T] in [0, 1] as a figure (`raster_figure`) with a frame around the current
    step (moved by the script); `label` and `what` (the rows) escaped here."""
    e = html.escape
    buffer = io.BytesIO()
    raster_figure(rows, what).savefig(buffer, format="png")  # no "tight": the axes stay put
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    left, bottom, width, height = RASTER_AXES
    steps = rows.shape[1]
    marker = (
        f'<div class="marker" data-x0="{left * 100:.4f}" data-dx="{width * 100 / steps:.4f}" '
        f'style="top: {(1 - bottom - height) * 100:.4f}%; height: {height * 100:.4f}%; '
        f'left: {left * 100:.4f}%; width: {width * 100 / steps:.4f}%"></div>'
    )
    return (
        f'<figure class="raster"><div class="rwrap"><img src="{uri}" alt="{e(label)} raster">'
        f"{marker}</div><figcaption>{e(label)}<br>{rows.shape[0]} {e(what)} x {steps} steps"
        "</figcaption></figure>"
    )


def _split_inputs(
    inputs: Tensor | np.ndarray | None, result: SAMResult
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """`inputs` as (frames, signal): frames [T, B, C, H, W] (or images [B, C, H, W]) that maps
    are drawn over, or a signal [T, B, F] (inputs [T, B, F] or [T, B, C, L], e.g. audio
    channels or a Conv1d model's input) drawn as its own channel x time raster."""
    if inputs is None:
        return None, None
    a = as_array(inputs)
    steps, batch = result.steps, result.batch_size
    if a.ndim == 3 or (a.ndim == 4 and a.shape[:2] == (steps, batch) and a.shape[0] != batch):
        if a.shape[:2] != (steps, batch):
            raise ValueError(
                f"a signal must be [T, B, ...] with T={steps} steps and B={batch} samples as in "
                f"the result, found shape {a.shape}"
            )
        return None, a.reshape(steps, batch, -1)
    return _check_frames(a, result), None


def _colorbar_figure() -> str:
    global _COLORBAR_URI
    if _COLORBAR_URI is None:
        ramp = colored(np.linspace(1, 0, 128)[:, None].repeat(12, 1))
        _COLORBAR_URI = _png_uri(ramp)
    return (
        f'<figure class="cbar"><div><span>1</span><img src="{_COLORBAR_URI}" alt="colour bar">'
        f"<span>0</span></div><figcaption>{COLORBAR}</figcaption></figure>"
    )


_COLORBAR_URI: str | None = None


STRIP_STEPS = 10
"""Steps per row of the strip of all steps: longer recordings wrap onto more rows, so that
every step is in sight at a notebook's width."""


def _strip(uris: dict[str, list[str]], result: SAMResult, steps: list[int]) -> str:
    """All steps side by side: a row of thumbnails per panel (filled by the script from the
    same images; a click selects the step), `STRIP_STEPS` steps to a table, the tables one
    under the other."""
    if not uris:
        return ""
    tables = []
    for start in range(0, len(steps), STRIP_STEPS):
        shown = list(enumerate(steps))[start : start + STRIP_STEPS]
        head = "".join(f"<th>{t}</th>" for _, t in shown)
        rows = "".join(
            f"<tr><th>{html.escape('input' if key == 'input' else result[key].label)}</th>"
            + "".join(
                f'<td><img data-thumb="{html.escape(key)}" data-i="{i}" alt="t={t}"></td>'
                for i, t in shown
            )
            + "</tr>"
            for key in uris
        )
        tables.append(f"<table><tr><th>t</th>{head}</tr>{rows}</table>")
    return f'<div class="strip">{"".join(tables)}</div>'


def _settings(result: SAMResult) -> str:
    """What the page says about how the maps were made."""
    if result.gamma is None:
        return result.method
    if result.window == "inclusive":
        return (
            f"gamma = {result.gamma:g}, window t' <= t (a neuron's own spike at t counts, as in "
            "the paper authors' code)"
        )
    return (
        f"gamma = {result.gamma:g}, window t' < t (the paper's formula: a neuron's contribution "
        "counts its earlier spikes, so step 0 has no map)"
    )


def _script_json(value: Any) -> str:
    """JSON safe inside an HTML <script> element: '<', '>' and '&' escaped, so that no name
    (a layer's, a file's) can close the element or start markup."""
    text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def sample_titles(outputs: Any, labels: Tensor | None, batch: int) -> list[str]:
    """ "sample n, label L, predicted P" per sample, as far as the outputs and labels tell."""
    try:
        predicted = predictions(outputs)
    except ValueError:
        predicted = None
    titles = []
    for n in range(batch):
        parts = [f"sample {n}"]
        if labels is not None:
            parts.append(f"label {int(labels[n])}")
        if predicted is not None:
            none = predicted[n] is None
            parts.append(
                "no prediction (all outputs zero)" if none else f"predicted {predicted[n]}"
            )
        titles.append(", ".join(parts))
    return titles


def save_explanation(
    folder: str | Path,
    frames: Tensor | np.ndarray,
    result: SAMResult,
    titles: list[str] | None = None,
    draw: Draw = frame_image,
) -> list[Path]:
    """Everything for N samples in `folder`: ``report.html``; per sample ``sample_<n>.png``
    (steps x layers) and per mapped layer ``sample_<n>_layer_<name>.gif`` (the name made safe
    for a file name, see `sam_plugins.render.safe_name`). Returns the paths. The overlays are
    made once and serve all three.

    Args:
        frames: the inputs [T, N, C, H, W] the result was computed from.
        result: maps of those N samples (any method).
        titles: N headings; default from `sample_titles` (the predictions in `result.outputs`).
        draw: how a frame [C, H, W] is drawn.
    """
    folder = Path(folder)
    x = _check_frames(frames, result)
    if titles is None:
        titles = sample_titles(result.outputs, None, result.batch_size)
    shown = _overlays(x, result, draw)
    paths = [_write_page(folder / "report.html", shown, result, titles)]
    steps = list(range(result.steps))
    for n, images in enumerate(shown):
        title = titles[n] if titles else f"sample {n}"
        figure = _grid_figure(result, n, images, steps, title)
        paths.append(save_figure(figure, folder / f"sample_{n}.png"))
        for name in (key for key in images if key != "input"):
            path = folder / f"sample_{n}_layer_{safe_name(name)}.gif"
            last = result.steps - 1
            captions = [f"{result[name].label} t={t}/{last}" for t in range(result.steps)]
            paths.append(save_animation(path, np.stack(images[name]), captions=captions))
    return paths


def _grid_figure(
    result: SAMResult,
    n: int,
    images: dict[str, list[np.ndarray]],
    steps: list[int],
    title: str,
    layers: list[str] | None = None,
    order: str = "layer",
    signal: np.ndarray | None = None,
) -> Figure:
    """The grid of sample n: a row per image layer (`images`, at `steps`), a column per step,
    then a full-width raster per layer with maps [T, B, N] (after the input's, for a
    `signal` [T, B, F]); one colour bar."""
    rows = [key for key in images if key != "input"]
    rasters = []
    if signal is not None:
        rasters.append(("input: channels x time", colored(raster_rows(signal[:, n])), "channels"))
    for name in _raster_layers(result, layers):
        sam = result[name]
        image = colored(raster_rows(sam.maps[:, n].reshape(sam.maps.shape[0], -1), order))
        ordered = " (by total score)" if order == "score" else ""
        rasters.append((f"{sam.label}: {_rows_are(sam)} x time", image, _rows_are(sam) + ordered))
    return image_grid_figure(
        [images[key] for key in rows],
        [f"t={t}" for t in steps] if rows else [],
        [result[key].label for key in rows],
        title,
        rasters=rasters,
    )


def plot_result(
    result: SAMResult,
    sample: int = 0,
    layers: list[str] | None = None,
    steps: list[int] | None = None,
    inputs: Tensor | np.ndarray | None = None,
    draw: Draw = frame_image,
    order: str = "layer",
    title: str | None = None,
    max_columns: int = 20,
) -> Figure:
    """`SAMResult.plot`: one sample as the report's grid, a matplotlib figure: a row per layer
    with image maps, a column per step (heat maps over `inputs` [T, B, C, H, W] when given,
    else alone), a neuron x time raster per layer with maps [T, B, N], one colour bar.

    Args:
        layers: which layers (default all with maps).
        steps: which steps (default all, or `max_columns` evenly spaced ones when there are
            more; the title says so).
        order: raster rows in layer order ("layer") or by total score ("score").
    """
    if not 0 <= sample < result.batch_size:
        raise ValueError(f"sample must be in 0..{result.batch_size - 1}, found {sample}")
    if layers is not None:
        for name in layers:
            result[name]  # KeyError naming the layers there are
    x, signal = _split_inputs(inputs, result)
    title = f"sample {sample}" if title is None else title
    if steps is None:
        stride = max(1, -(-result.steps // max_columns))
        steps = list(range(0, result.steps, stride))
        if stride > 1:
            title += f" (every {stride}th of {result.steps} steps)"
    else:
        steps = [int(t) for t in steps]
        if not steps or not all(0 <= t < result.steps for t in steps):
            raise ValueError(f"steps must be in 0..{result.steps - 1}, found {steps}")
    images = _sample_images(result, sample, x, draw, steps, layers)
    images.pop("input", None)
    if not images and not _raster_layers(result, layers):
        raise ValueError(f"none of the layers {layers or list(result)} has maps to draw")
    return _grid_figure(result, sample, images, steps, title, layers, order, signal)


_STYLE = """<style>
.sam-view { font-family: system-ui, sans-serif; color: #222; }
.sam-view section.sample { border-top: 1px solid #ccc; padding: .5em 0 1em; }
.sam-view section.sample[hidden] { display: none; }
.sam-view .row { display: flex; flex-wrap: wrap; gap: .8em; align-items: flex-start; }
.sam-view figure { margin: 0; text-align: center; font-size: .85em; }
.sam-view figure img[data-key] { width: 240px; height: 240px; image-rendering: pixelated; }
.sam-view .rwrap { position: relative; display: inline-block; }
.sam-view .raster img { width: 360px; height: 260px; display: block; }
.sam-view .marker { position: absolute; box-sizing: border-box; border: 1px solid #fff;
  box-shadow: 0 0 0 1px #000; pointer-events: none; }
.sam-view .cbar div { display: flex; flex-direction: column; align-items: center;
  font-size: .8em; }
.sam-view .cbar img { width: 14px; height: 200px; border: 1px solid #888; }
.sam-view .cbar figcaption { width: 5.5em; }
.sam-view .controls { margin: .4em 0; display: flex; gap: .6em; align-items: center; }
.sam-view .why, .sam-view .left-out { color: #a33; font-size: .9em; }
.sam-view .strip { overflow-x: auto; margin: .5em 0; }
.sam-view .strip table + table { margin-top: .4em; }
.sam-view .strip th { font-size: .75em; font-weight: normal; text-align: right; }
.sam-view .strip td { padding: 1px; }
.sam-view .strip img { width: 56px; height: 56px; image-rendering: pixelated; cursor: pointer;
  border: 2px solid transparent; display: block; }
.sam-view .strip img.now { border-color: #000; }
.sam-view .profile svg { max-width: 560px; height: auto; }
</style>"""

_SCRIPT = """(() => {{
const root = document.getElementById({uid});
const FRAMES = {data};
const STEPS = {steps}, LAST = {last}, EMPTY_FIRST = {empty_first};
root.querySelectorAll("section.sample").forEach((section) => {{
  const images = FRAMES[Number(section.dataset.index)];
  const slider = section.querySelector("input.step");
  const label = section.querySelector(".t");
  const why = section.querySelector(".why");
  const button = section.querySelector("button.play");
  const thumbs = section.querySelectorAll("img[data-thumb]");
  thumbs.forEach((img) => {{
    img.src = images[img.dataset.thumb][Number(img.dataset.i)];
    img.addEventListener("click", () => show(Number(img.dataset.i)));
  }});
  let timer = null;
  const show = (i) => {{
    const t = STEPS[i];
    slider.value = i;
    label.textContent = "t = " + t + " / " + LAST;
    why.hidden = !(EMPTY_FIRST && t === 0);
    section.querySelectorAll("img[data-key]").forEach((img) => {{
      img.src = images[img.dataset.key][i];
    }});
    section.querySelectorAll(".marker").forEach((m) => {{
      m.style.left = Number(m.dataset.x0) + Number(m.dataset.dx) * t + "%";
    }});
    thumbs.forEach((img) => img.classList.toggle("now", Number(img.dataset.i) === i));
  }};
  slider.addEventListener("input", () => show(Number(slider.value)));
  button.addEventListener("click", () => {{
    if (timer) {{ clearInterval(timer); timer = null; button.textContent = "play"; return; }}
    button.textContent = "pause";
    timer = setInterval(() => show((Number(slider.value) + 1) % (Number(slider.max) + 1)), 400);
  }});
  show(0);
}});
const pick = root.querySelector("select.sample-pick");
if (pick) pick.addEventListener("change", () => {{
  root.querySelectorAll("section.sample").forEach((s) => {{
    s.hidden = s.dataset.sample !== pick.value;
  }});
}});
}})();"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Spike Activation Maps</title>
<style>body {{ margin: 1.5em; }}</style></head><body>
<h1>Spike Activation Maps</h1>
<p>SAM (Kim &amp; Panda, Scientific Reports 2021). Made by sam-plugins {version}.</p>
{view}
</body></html>
"""
