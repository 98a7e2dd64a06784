"""The analysis report of a file: `write_analysis_report` reads it (`AnalysisResult`) and has
`sam_plugins.viewer.analysis` draw it: one self-contained HTML page, its PNGs beside it only on
request (``pngs=True``, ``--pngs``). `AnalysisResult._repr_html_` shows the same body in a
notebook.
"""

from __future__ import annotations

from pathlib import Path

from ..viewer.analysis import STANDOUT, analysis_html, standout_samples, write_analysis_page
from .result import AnalysisResult

__all__ = ["STANDOUT", "analysis_html", "standout_samples", "write_analysis_report"]


def write_analysis_report(
    result: AnalysisResult | str | Path,
    folder: str | Path,
    title: str | None = None,
    pngs: bool = False,
) -> Path:
    """Write ``report.html`` into `folder` from an analysis file (or its `AnalysisResult`);
    return the page. The page is one self-contained file (its images inside as data URIs,
    nothing fetched). With `pngs`, every figure is also written beside it as a PNG named after
    the layer the page shows (``layer-<name>-maps.png``, ``confusion.png``, ...)."""
    if not isinstance(result, AnalysisResult):
        result = AnalysisResult(result)
    return write_analysis_page(result, folder, title, pngs)
