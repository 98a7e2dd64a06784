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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from . import __version__
from .outputs import class_scores
from .render import (
    as_array,
    frame_image,
    safe_name,
    save_animation,
    save_image_grid,
    show_sam_on_image,
    to_uint8,
)
from .result import SAMResult

Draw = Callable[[Any], np.ndarray]
"""draw(frame [C, H, W]) -> RGB [H, W, 3] in [0, 1]: how an input frame is shown."""


def _png_uri(rgb: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(to_uint8(rgb)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _profile_svg(result: SAMResult, sample: int) -> str:
    """Inline SVG: each layer's SAM mass per step for one sample, scaled to its peak."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 2.4))
    for name in result:
        profile = as_array(result[name].profile[:, sample]).astype(float)
        peak = profile.max()
        ax.plot(profile / peak if peak > 0 else profile, marker="o", ms=3, label=result[name].label)
    ax.set_xlabel("time step")
    ax.set_ylabel("SAM mass / peak")
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _check_frames(frames: Tensor | np.ndarray, result: SAMResult) -> np.ndarray:
    x = as_array(frames)
    if x.ndim != 5 or x.shape[:2] != (result.steps, result.batch_size):
        raise ValueError(
            f"frames must be [T, N, C, H, W] with T={result.steps} steps and N="
            f"{result.batch_size} samples as in the result, found shape {x.shape}"
        )
    return x


def _overlays(x: np.ndarray, result: SAMResult, draw: Draw) -> list[dict[str, list[np.ndarray]]]:
    """Per sample, the RGB images [H, W, 3] shown at each step: "input", and each mapped
    layer's heat map (upsampled to the frames' size) over the input."""
    steps, samples, size = x.shape[0], x.shape[1], tuple(x.shape[-2:])
    heat = {
        name: as_array(result.heatmap(name, size=size))
        for name in result
        if result[name].maps is not None and result[name].maps.dim() == 4  # 2-D maps drawn here
    }
    shown = []
    for n in range(samples):
        inputs = [draw(x[t, n]) for t in range(steps)]
        images = {"input": inputs}
        for name, h in heat.items():
            images[name] = [show_sam_on_image(inputs[t], h[t, n]) for t in range(steps)]
        shown.append(images)
    return shown


def write_report(
    path: str | Path,
    frames: Tensor | np.ndarray,
    result: SAMResult,
    titles: list[str] | None = None,
    draw: Draw = frame_image,
) -> Path:
    """One self-contained HTML file (images inlined, no network needed): per sample its title
    (e.g. label and prediction), the input and every mapped layer's heat map with a time-step
    slider and a play button, and the temporal profile of each layer.

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
    steps = result.steps
    data, sections = [], []
    for n, images in enumerate(shown):
        uris = {key: [_png_uri(img) for img in frames] for key, frames in images.items()}
        data.append(uris)
        figures = "".join(
            f'<figure><img data-key="{html.escape(key)}" src="{srcs[0]}" alt="{html.escape(key)}">'
            f"<figcaption>{'input' if key == 'input' else html.escape(result[key].label)}"
            "</figcaption></figure>"
            for key, srcs in uris.items()
        )
        title = html.escape(titles[n] if titles else f"sample {n}")
        sections.append(
            f'<section class="sample" data-sample="{n}"><h2>{title}</h2>'
            f'<div class="controls"><button class="play">play</button>'
            f'<input type="range" class="step" min="0" max="{steps - 1}" value="0" '
            f'aria-label="time step"><span class="t">t = 0 / {steps - 1}</span></div>'
            f'<div class="row">{figures}</div>'
            f'<div class="profile">{_profile_svg(result, n)}</div></section>'
        )
    layers = ", ".join(
        html.escape(result[name].label.removeprefix("layer "))
        + (
            ""
            if result[name].maps is not None and result[name].maps.dim() == 4
            else " (no map: no spatial layout; see the profile)"
        )
        for name in result
    )
    page = _PAGE.format(
        version=__version__,
        steps=steps,
        settings=html.escape(_settings(result)),
        layers=layers,
        sections="".join(sections),
        data=_script_json(data),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


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
        predicted = class_scores(outputs).argmax(-1).tolist()
    except ValueError:
        predicted = None
    titles = []
    for n in range(batch):
        parts = [f"sample {n}"]
        if labels is not None:
            parts.append(f"label {int(labels[n])}")
        if predicted is not None:
            parts.append(f"predicted {predicted[n]}")
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
    for n, images in enumerate(shown):
        layers = [name for name in images if name != "input"]
        if layers:  # a model of Linear layers only has no 2-D map to draw here
            paths.append(
                save_image_grid(
                    folder / f"sample_{n}.png",
                    [images[name] for name in layers],
                    [f"t={t}" for t in range(result.steps)],
                    [result[name].label for name in layers],
                    titles[n] if titles else f"sample {n}",
                )
            )
        for name in layers:
            path = folder / f"sample_{n}_layer_{safe_name(name)}.gif"
            last = result.steps - 1
            captions = [f"{result[name].label} t={t}/{last}" for t in range(result.steps)]
            paths.append(save_animation(path, np.stack(images[name]), captions=captions))
    return paths


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Spike Activation Maps</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
section.sample {{ border-top: 1px solid #ccc; padding: .5em 0 1em; }}
.row {{ display: flex; flex-wrap: wrap; gap: .8em; }}
figure {{ margin: 0; text-align: center; font-size: .85em; }}
figure img {{ width: 136px; height: 136px; image-rendering: pixelated; }}
.controls {{ margin: .4em 0; display: flex; gap: .6em; align-items: center; }}
.profile svg {{ max-width: 420px; height: auto; }}
</style></head><body>
<h1>Spike Activation Maps</h1>
<p>SAM (Kim &amp; Panda, Scientific Reports 2021) per time step, computed from the forward spikes
alone. {steps} time steps, {settings}, layers: {layers}. Each map is min-max normalised
per step; the profile is each layer's total SAM per step, scaled to its peak.
Made by sam-plugins {version}.</p>
{sections}
<script>
const FRAMES = {data};
document.querySelectorAll("section.sample").forEach((section) => {{
  const images = FRAMES[Number(section.dataset.sample)];
  const slider = section.querySelector("input.step");
  const label = section.querySelector(".t");
  const button = section.querySelector("button.play");
  let timer = null;
  const show = (t) => {{
    slider.value = t;
    label.textContent = "t = " + t + " / " + slider.max;
    section.querySelectorAll("img[data-key]").forEach((img) => {{
      img.src = images[img.dataset.key][t];
    }});
  }};
  slider.addEventListener("input", () => show(Number(slider.value)));
  button.addEventListener("click", () => {{
    if (timer) {{ clearInterval(timer); timer = null; button.textContent = "play"; return; }}
    button.textContent = "pause";
    timer = setInterval(() => show((Number(slider.value) + 1) % (Number(slider.max) + 1)), 400);
  }});
}});
</script>
</body></html>
"""
