"""Where files come in: models named ``package.module:factory`` with their weights
(`models`), input files, frames or event recordings (`inputs`), and event recordings as
streams with their crop / downsample transform (`events`, numpy only).

The names are imported when first used, so that ``sam_plugins.io.events`` (the command line's
argument types) is read without torch."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "Inputs": ".inputs",
    "read_input": ".inputs",
    "open_events": ".inputs",
    "LoadError": ".models",
    "build_model": ".models",
    "load_factory": ".models",
}

__all__ = ["Inputs", "LoadError", "build_model", "load_factory", "open_events", "read_input"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
