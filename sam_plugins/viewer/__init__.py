"""The one viewer: every picture of SAM is drawn here, for the explain report, the analysis
report, the notebook view and the live page alike.

Modules (each small, one job):

- `heat`: raw maps as display heat maps in [0, 1] (`normalize_maps`).
- `pixels`: colours, input frames, blends, PNG data URIs, file names, animations.
- `rasters`: maps [T, B, N] as neuron (or position) x time rasters.
- `panels`: what one sample shows at chosen steps, read from a result.
- `plot`: matplotlib figures (grids, rasters, profile; `plot_result`).
- `html`: the HTML fragment and page (`view_html`, `SAMView`, `write_report`, `page`).
- `files`: an explanation as files (`save_explanation`).
- `live`: one frame with its overlays, prediction and time line (`frame_html`), for a page
  redrawn as a stream goes on.
- `analysis`: the analysis report of a dataset (`analysis_html`).

Direction: results call the viewer (`SAMResult.view`, `.plot`, `._repr_html_`,
`AnalysisResult._repr_html_`); the viewer reads them by their attributes and never imports
`sam_plugins.result` or `sam_plugins.analysis.result` at run time (type hints only, as xarray's
``core/formatting_html.py`` draws a ``Dataset``). Importing this package imports no submodule:
each public name below is loaded on first use.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "normalize_maps": ".heat",
    "frame_image": ".pixels",
    "show_sam_on_image": ".pixels",
    "plot_result": ".plot",
    "SAMView": ".html",
    "page": ".html",
    "view_html": ".html",
    "write_report": ".html",
    "save_explanation": ".files",
    "frame_html": ".live",
    "analysis_html": ".analysis",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sam_plugins.viewer' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
