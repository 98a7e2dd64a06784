"""Turning the user's `layers` argument into the (name, module) pairs to record."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

from torch import nn

LayerSpec = str | type | nn.Module | Callable[[str, nn.Module], bool]
"""A module name, a module type, a module object, or a predicate (name, module) -> bool."""


def resolve_layers(
    model: nn.Module, layers: LayerSpec | Sequence[LayerSpec]
) -> list[tuple[str, nn.Module]]:
    """The (qualified name, module) pairs of `model` that `layers` selects, in model order.

    Raises ValueError naming what was asked for and what the model has, when a name does not
    exist, or a type, object or predicate selects nothing.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, found {type(model).__name__}")
    specs = [layers] if isinstance(layers, (str, type, nn.Module)) or callable(layers) else layers
    specs = list(specs)
    if not specs:
        raise ValueError("layers is empty: give module names, types, modules or a predicate")
    named = [(name, module) for name, module in model.named_modules() if name]
    by_name = dict(named)
    chosen: dict[int, tuple[str, nn.Module]] = {}
    for spec in specs:
        if isinstance(spec, str):
            if spec not in by_name:
                close = difflib.get_close_matches(spec, by_name, n=3)
                hint = f"; did you mean {close}?" if close else ""
                raise ValueError(
                    f"no module named {spec!r} in {type(model).__name__}{hint} "
                    f"Modules: {_preview(by_name)}"
                )
            hits = [(spec, by_name[spec])]
        elif isinstance(spec, type):
            hits = [(n, m) for n, m in named if isinstance(m, spec)]
            what = f"no module of type {spec.__name__}"
        elif isinstance(spec, nn.Module):
            hits = [(n, m) for n, m in named if m is spec]
            what = f"the given {type(spec).__name__} module is not"
        elif callable(spec):
            hits = [(n, m) for n, m in named if spec(n, m)]
            what = "the predicate selects no module"
        else:
            raise TypeError(
                "each entry of layers must be a module name, a module type, a module or a "
                f"predicate (name, module) -> bool, found {type(spec).__name__}"
            )
        if not hits:
            raise ValueError(f"{what} in {type(model).__name__}. Modules: {_preview(by_name)}")
        for name, module in hits:
            chosen.setdefault(id(module), (name, module))
    order = {id(m): i for i, (_, m) in enumerate(named)}
    return sorted(chosen.values(), key=lambda nm: order[id(nm[1])])


def _preview(by_name: dict[str, nn.Module], limit: int = 12) -> str:
    items = [f"{n} ({type(m).__name__})" for n, m in by_name.items()]
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
