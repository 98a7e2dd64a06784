"""The viewer as HTML: one self-contained fragment (`view_html`, shown by notebooks through
`SAMView`) and the page that holds it (`write_report`, `page`). Its script touches only its own
element, so several views live in one page; every name is escaped.
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

from .. import __version__
from .panels import (
    Draw,
    caption,
    check_frames,
    overlays,
    raster_layers,
    sample_images,
    sample_titles,
    split_inputs,
)
from .pixels import colored, frame_image, png_uri
from .plot import COLORBAR, profile_figure, raster_figure
from .rasters import RASTER_AXES, is_raster, raster_rows, rows_are

if TYPE_CHECKING:
    from ..result import SAMResult


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
        path.write_text(page(self.html), encoding="utf-8")
        return path


def page(fragment: str) -> str:
    """A whole HTML page (doctype, title, a heading, the version) holding `fragment` (one made
    here: `view_html`, `frame_html`); it needs nothing else."""
    return PAGE.format(version=__version__, view=fragment)


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
    x, signal = split_inputs(inputs, result)
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
        first = sample_images(result, samples[0], x, draw, [0])
        per_step = sum(len(png_uri(images[0])) for images in first.values())
        stride = -(-per_step * len(steps) // max(max_bytes // 2, 1))
        steps = steps[:: max(stride, 1)]
    return _fragment(
        result,
        samples,
        lambda n, shown: sample_images(result, n, x, draw, shown),
        titles,
        picker=True,
        steps=steps,
        order=order,
        max_bytes=max_bytes,
        signal=signal,
    )


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
        draw: how a frame [C, H, W] is drawn (default `sam_plugins.viewer.pixels.frame_image`).
    """
    shown = overlays(check_frames(frames, result), result, draw)
    return write_page(Path(path), shown, result, titles)


def write_page(
    path: Path,
    shown: list[dict[str, list[np.ndarray]]],
    result: SAMResult,
    titles: list[str] | None,
    before: str = "",
) -> Path:
    """The page of samples whose images `shown` (per sample, per panel, one per step) are
    made: the explain report's ``report.html`` at `path`; `before` (HTML made here, e.g.
    `image_figure`) comes above the samples."""
    fragment = _fragment(
        result, list(range(len(shown))), lambda n, steps: shown[n], titles, picker=False
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(before + fragment), encoding="utf-8")
    return path


def image_figure(png: Path, caption: str) -> str:
    """A PNG file inlined as a figure with its `caption` (escaped here), for a page that must
    need nothing beside it."""
    uri = "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode("ascii")
    text = html.escape(caption)
    return f'<figure><img src="{uri}" alt="{text}"><figcaption>{text}</figcaption></figure>\n'


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
    rasters = raster_layers(result)
    data, sections, used, left_out = [], [], 0, []
    for k, n in enumerate(samples):
        uris = {key: [png_uri(img) for img in frames] for key, frames in images(n, steps).items()}
        figures = "".join(
            f'<figure><img data-key="{e(key)}" src="{srcs[0]}" alt="{e(key)}">'
            f"<figcaption>{'input' if key == 'input' else e(caption(result, key, n))}"
            "</figcaption></figure>"
            for key, srcs in uris.items()
        )
        if signal is not None:
            figures = raster_html(raster_rows(signal[:, n]), "input", "channels") + figures
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
            else f" ({rows_are(result[name]).removesuffix('s')} x time raster)"
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
    return raster_html(rows, caption(result, name, n), f"{rows_are(sam)} ({ordered})")


def _profile_svg(result: SAMResult, sample: int) -> str:
    """`profile_figure` as inline SVG (cut to hold the legend beside the axes)."""
    buffer = io.StringIO()
    profile_figure(result, sample).savefig(buffer, format="svg", bbox_inches="tight")
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _colorbar_figure() -> str:
    global _COLORBAR_URI
    if _COLORBAR_URI is None:
        ramp = colored(np.linspace(1, 0, 128)[:, None].repeat(12, 1))
        _COLORBAR_URI = png_uri(ramp)
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

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Spike Activation Maps</title>
<style>body {{ margin: 1.5em; }}</style></head><body>
<h1>Spike Activation Maps</h1>
<p>SAM (Kim &amp; Panda, Scientific Reports 2021). Made by sam-plugins {version}.</p>
{view}
</body></html>
"""


def raster_html(rows: np.ndarray, label: str, what: str) -> str:
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
