"""Models given as NIR graphs (Neuromorphic Intermediate Representation): imported through
whichever installed framework adapter can import them, then explained like any other model.

    model, framework = load_nir("model.nir")          # e.g. (GraphExecutor(...), "norse")
    result, framework = explain_nir("model.nir", inputs)

The adapters are asked in the order of ``installed_adapters()`` (by entry-point name), or only the
one named by ``framework=``; the first whose ``import_nir`` returns a model wins. An adapter that
cannot import NIR at all returns None; one that cannot import this graph raises, and its reason
is reported if no adapter succeeds. This module imports no SNN framework, and ``nir`` only when
called. Which framework imports what faithfully: docs/nir.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from .engine import DEFAULT_GAMMA
from .layers import LayerSpec
from .plugins import Adapter, installed_adapters
from .result import SAMResult

__all__ = ["NIRImportError", "explain_nir", "load_nir", "node_kinds", "read_nir"]


class NIRImportError(LookupError):
    """No installed framework adapter could import the graph (the message says why each failed)."""


def node_kinds(graph: Any) -> set[str]:
    """The class names of every node in a NIR graph, sub-graphs included (not the graphs), for
    adapters to say which nodes their framework imports faithfully."""
    import nir

    kinds = set()
    for node in graph.nodes.values():
        kinds |= node_kinds(node) if isinstance(node, nir.NIRGraph) else {type(node).__name__}
    return kinds


def read_nir(graph: Any) -> Any:
    """A ``nir.NIRGraph`` from a graph object or a path to a NIR (HDF5) file."""
    try:
        import nir
    except ImportError as exc:
        raise ImportError("reading NIR graphs needs the nir package: pip install nir") from exc
    if isinstance(graph, (str, Path)):
        path = Path(graph)
        if not path.is_file():
            raise FileNotFoundError(f"NIR file not found: {path}")
        try:
            return nir.read(path)
        except Exception as exc:  # h5py / nir errors: say which file and what was expected
            raise ValueError(f"{path} is not a readable NIR file: {exc}") from exc
    if not isinstance(graph, nir.NIRNode):
        raise TypeError(
            f"expected a nir.NIRGraph (or a path to a .nir file), found {type(graph).__name__}"
        )
    if not isinstance(graph, nir.NIRGraph):  # a single node: a graph of one
        graph = nir.NIRGraph.from_list(graph)
    return graph


def load_nir(
    graph: Any, framework: str | None = None, adapters: Sequence[Adapter] | None = None
) -> tuple[nn.Module, str]:
    """Import a NIR graph (object or file) as a torch model: (model in eval mode, name of the
    adapter that imported it).

    Args:
        graph: a ``nir.NIRGraph`` or node, or the path to a NIR file.
        framework: the adapter to use (e.g. "norse", "spikingjelly"); None: the first installed
            adapter that can import the graph.
        adapters: the adapters to ask, in order; None: ``installed_adapters()``.

    Raises NIRImportError naming each adapter's reason when none could import the graph.
    """
    graph = read_nir(graph)
    candidates = list(installed_adapters() if adapters is None else adapters)
    if framework is not None:
        chosen = [a for a in candidates if a.name == framework]
        if not chosen:
            names = ", ".join(a.name for a in candidates) or "none"
            raise NIRImportError(f"no installed adapter named {framework!r} (installed: {names})")
        candidates = chosen
    reasons = []
    for adapter in candidates:
        try:
            model = adapter.import_nir(graph)
        except Exception as exc:  # this framework cannot import this graph: try the next
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            reasons.append(f"{adapter.name}: {type(exc).__name__}: {first}")
            continue
        if model is None:
            reasons.append(f"{adapter.name}: cannot import NIR")
            continue
        return model.eval(), adapter.name
    kinds = sorted({type(n).__name__ for n in graph.nodes.values()})
    raise NIRImportError(
        f"no installed framework could import this NIR graph (nodes: {', '.join(kinds)}): "
        + ("; ".join(reasons) or "no adapter installed")
        + ". Install the adapter of a framework that imports it (see docs/nir.md)."
    )


def explain_nir(
    graph: Any,
    inputs: Tensor,
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    gamma: float = DEFAULT_GAMMA,
    framework: str | None = None,
    **options: Any,
) -> tuple[SAMResult, str]:
    """SAM of a NIR graph (object or file) on `inputs` [T, B, ...]: the graph is imported by
    `load_nir` and run by that framework's default runner. Returns (result, name of the
    framework that imported and ran it). Options are those of `explain`."""
    from .methods import explain

    model, name = load_nir(graph, framework)
    return explain(model, inputs, layers, gamma, **options), name
