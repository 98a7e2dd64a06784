"""``sam-plugins report``: the HTML report of an analysis file made by ``sam-plugins analyze``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import CLIError, writable_folder


def run(args: argparse.Namespace) -> None:
    """Write the report of ``args.file`` to ``args.out``."""
    from sam_plugins.analysis.report import write_analysis_report
    from sam_plugins.analysis.result import AnalysisResult
    from sam_plugins.analysis.store import AnalysisError

    if not args.file.is_file():
        raise CLIError(f"analysis file not found: {args.file}")
    writable_folder(args.out)
    try:
        page = write_analysis_report(AnalysisResult(args.file), args.out, pngs=args.pngs)
    except AnalysisError as exc:
        raise CLIError(exc.cli) from None
    print(f"report: {page}")


def add(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="the HTML report of an analysis file made by analyze",
        description="Write report.html (one self-contained file) from a file made by "
        "`sam-plugins analyze`.",
    )
    parser.add_argument("file", type=Path, help="analysis file (.h5) made by sam-plugins analyze")
    parser.add_argument(
        "--out", type=Path, default=Path("sam-analysis"), help="folder for the report"
    )
    parser.add_argument(
        "--pngs", action="store_true", help="also write the report's figures as PNGs beside it"
    )
    parser.set_defaults(func=run)
