"""The commands of ``sam-plugins``: one table of name -> where the command lives and a one-line
summary (as pip keeps one), so that ``sam-plugins --help`` lists every command without importing
any; a command's module is imported when it runs (or shows its ``--help``).

The core's commands (`explain`, `analyze`, `report`) are listed in `CORE`; plugins add theirs
under the entry-point group ``sam_plugins.commands``, and both are registered the same way::

    [project.entry-points."sam_plugins.commands"]
    mycommand = "my_package.command:add"

where ``add(subparsers)`` adds the command's parser (``subparsers.add_parser("mycommand", ...)``)
and sets ``func(args)`` on it. The first line of that module's docstring is the command's
summary in ``sam-plugins --help`` (read from the source, not imported). Keep the module's
imports light (argparse and `sam_plugins.commands.arguments`, which has the shared options and
`CLIError`), and import the work inside ``func``.
"""

from __future__ import annotations

import ast
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

COMMANDS_GROUP = "sam_plugins.commands"


@dataclass(frozen=True)
class Command:
    """One row of the table: `target` is ``module:function``, the ``add(subparsers)`` that
    adds the command; `origin` names the plugin distribution that registers it (None: core)."""

    name: str
    target: str
    summary: str
    origin: str | None = None

    def load(self) -> Callable[[Any], None]:
        """The command's ``add(subparsers)``, its module imported now."""
        module, _, attr = self.target.partition(":")
        return getattr(import_module(module), attr)


CORE = {
    command.name: command
    for command in (
        Command(
            "explain",
            "sam_plugins.commands.explain:add",
            "SAM of a model on an input file: HTML report, PNGs, GIFs",
        ),
        Command(
            "analyze",
            "sam_plugins.commands.analyze:add",
            "SAM statistics over a dataset into one HDF5 file and an HTML report; resumable, "
            "in several processes with --nproc or torchrun",
        ),
        Command(
            "report",
            "sam_plugins.commands.report:add",
            "the HTML report of an analysis file made by analyze",
        ),
        Command("live", "sam_plugins.commands.live:add", "SAM live from UDP events or a replay"),
    )
}


def command_table() -> dict[str, Command]:
    """The core's commands, then the installed plugins' by name; nothing is imported. A plugin
    command that takes a core command's name is left out with a warning."""
    table = dict(CORE)
    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        origin = ep.dist.name if ep.dist is not None else "a plugin"
        if ep.name in table:
            warnings.warn(
                f"sam-plugins command {ep.name!r} of {origin} ({ep.value}) is left out: "
                "the name is taken",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        try:
            summary = _docstring_line(ep.value.partition(":")[0].strip())
        except ModuleNotFoundError as exc:
            warnings.warn(
                f"sam-plugins command {ep.name!r} of {origin} ({ep.value}) is left out: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        table[ep.name] = Command(ep.name, ep.value, summary or f"(from {origin})", origin)
    return table


def _docstring_line(module: str) -> str | None:
    """The first line of `module`'s docstring, read from its source file without importing
    it (or its packages); None if it has no readable source; ModuleNotFoundError if there is
    no such module."""
    parts, search = module.split("."), None
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        spec = None
        for finder in sys.meta_path:  # as the import system looks, without executing anything
            find = getattr(finder, "find_spec", None)
            spec = find(name, search) if find is not None else None
            if spec is not None:
                break
        if spec is None:
            raise ModuleNotFoundError(f"no module named {name!r}")
        search = spec.submodule_search_locations
    if spec.origin is None or not spec.origin.endswith(".py"):
        return None
    try:
        doc = ast.get_docstring(ast.parse(Path(spec.origin).read_text(encoding="utf-8")))
    except (OSError, SyntaxError, ValueError):
        return None
    return doc.strip().splitlines()[0].strip() if doc and doc.strip() else None
