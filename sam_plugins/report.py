"""An explanation as files and HTML, kept under its old name: the viewer lives in
`sam_plugins.viewer` (`viewer.html`: the page, the notebook view's fragment and `SAMView`;
`viewer.files`: `save_explanation`; `viewer.plot`: `plot_result`, `SAMResult.plot`). Every name
imported from here before still is.
"""

from __future__ import annotations

from .viewer.files import save_explanation
from .viewer.html import MAX_BYTES, STRIP_STEPS, SAMView, page, view_html, write_report
from .viewer.panels import Draw, sample_titles
from .viewer.plot import plot_result, profile_figure, raster_figure

__all__ = [
    "MAX_BYTES",
    "STRIP_STEPS",
    "Draw",
    "SAMView",
    "page",
    "plot_result",
    "profile_figure",
    "raster_figure",
    "sample_titles",
    "save_explanation",
    "view_html",
    "write_report",
]
