"""Models given as NIR graphs (Neuromorphic Intermediate Representation): imported through
whichever installed framework adapter can import them, then explained like any other model.

    model, framework = load_nir("model.nir")          # e.g. (GraphExecutor(...), "norse")
    result, framework = explain_nir("model.nir", inputs)

The adapters are asked in the order of ``installed_adapters()`` (by entry-point name), or only the
one named by ``framework=``; by default, adapters whose framework does not reproduce one of the
graph's node kinds (`UNFAITHFUL`) are passed over, and the first whose ``import_nir`` returns a
model (that explains two samples of `inputs`, when given: a one-sample input is doubled, so
that a model that drops the batch axis is passed over) wins. An adapter that cannot import NIR
at all returns None; one that cannot import this graph raises, and its reason is reported if no
adapter succeeds. This module imports no SNN framework, and ``nir`` only when called. Which
framework imports what faithfully: docs/nir.md.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .engine import DEFAULT_GAMMA
from .layers import LayerSpec
from .plugins import Adapter, installed_adapters
from .result import SAMResult

__all__ = [
    "UNFAITHFUL",
    "NIRImportError",
    "NIRImportWarning",
    "explain_nir",
    "load_nir",
    "node_kinds",
    "read_nir",
]


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


# Node kinds each framework's importer runs but does not reproduce (docs/nir.md, checked against
# the exporting SpikingJelly model in tests/adapters/test_nir.py): by default a graph with such
# a node goes to another framework; framework= (--framework) uses it anyway.
UNFAITHFUL = {
    "norse": {
        "LIF": "Norse 1.1.0 integrates LIF with dt = 1 ms, not the graph's time constants",
        "CubaLIF": "Norse 1.1.0 integrates CubaLIF with dt = 1 ms, not the graph's time constants",
    },
    "sinabs": {"IF": "sinabs imports IF as its IAF: several spikes per step, reset by subtraction"},
}


class NIRImportWarning(UserWarning):
    """What an importer printed or warned while importing a graph, in one message."""


def load_nir(
    graph: Any,
    framework: str | None = None,
    adapters: Sequence[Adapter] | None = None,
    *,
    inputs: Tensor | None = None,
) -> tuple[nn.Module, str]:
    """Import a NIR graph (object or file) as a torch model: (model in eval mode, name of the
    adapter that imported it).

    Args:
        graph: a ``nir.NIRGraph`` or node, or the path to a NIR file.
        framework: the adapter to use (e.g. "norse", "spikingjelly"); None: the first installed
            adapter whose framework imports the graph's nodes faithfully (`UNFAITHFUL`) and,
            when `inputs` are given, whose model runs them.
        adapters: the adapters to ask, in order; None: ``installed_adapters()``.
        inputs: a sample input [T, B, ...]; each imported model is explained on two samples
            (the first two, or the first one twice when B is 1): a model that drops the batch
            axis fails with two, so it is passed over even for a one-sample input.

    What the importers print or warn is gathered into one `NIRImportWarning`. Raises
    NIRImportError naming each adapter's reason when none could import the graph.
    """
    graph = read_nir(graph)
    candidates = list(installed_adapters() if adapters is None else adapters)
    if framework is not None:
        chosen = [a for a in candidates if a.name == framework]
        if not chosen:
            names = ", ".join(a.name for a in candidates) or "none"
            raise NIRImportError(f"no installed adapter named {framework!r} (installed: {names})")
        candidates = chosen
    kinds = node_kinds(graph)
    reasons = []
    for adapter in candidates:
        unfaithful = [
            why for kind, why in UNFAITHFUL.get(adapter.name, {}).items() if kind in kinds
        ]
        if unfaithful and framework is None:
            reasons.append(
                f"{adapter.name}: not faithful ({unfaithful[0]}; --framework "
                f"{adapter.name} uses it anyway)"
            )
            continue
        said: list[str] = []
        try:
            with _gathered(said):
                model = adapter.import_nir(graph)
            if model is not None and inputs is not None:
                _probe(adapter, model.eval(), inputs)
        except Exception as exc:  # this framework cannot import (or run) this graph: next
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            reasons.append(f"{adapter.name}: {type(exc).__name__}: {first}")
            continue
        if model is None:
            reasons.append(f"{adapter.name}: cannot import NIR")
            continue
        if said:
            more = f" (and {len(said) - 1} more lines)" if len(said) > 1 else ""
            warnings.warn(
                f"{adapter.name}'s NIR importer said: {said[0][:200]}{more}",
                NIRImportWarning,
                stacklevel=2,
            )
        return model.eval(), adapter.name
    raise NIRImportError(
        f"no installed framework could import this NIR graph (nodes: {', '.join(sorted(kinds))}): "
        + ("; ".join(reasons) or "no adapter installed")
        + ". Install the adapter of a framework that imports it (see docs/nir.md)."
    )


@contextlib.contextmanager
def _gathered(said: list[str]) -> Iterator[None]:
    """Gather what the code inside prints (stdout, stderr) and warns into `said`, one entry per
    distinct line, instead of showing it."""
    text = io.StringIO()
    with (
        contextlib.redirect_stdout(text),
        contextlib.redirect_stderr(text),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        try:
            yield
        finally:
            lines = [line.strip() for line in text.getvalue().splitlines()]
            lines += [str(w.message).strip().split("\n")[0] for w in caught]
            said += [line for line in dict.fromkeys(lines) if line]


def _probe(adapter: Adapter, model: nn.Module, inputs: Tensor) -> None:
    """Explain two samples of `inputs` [T, B, ...] with `model` as `explain` will (the first
    two, or the first one twice when B is 1); raises if it cannot. An importer that drops the
    batch axis (e.g. flattens it with the features) may run one sample and then fail on every
    layout with a batch; with two, its model fails here (a shape mismatch, or spikes without a
    batch axis). What the model prints or warns here is hidden; its state is reset before and
    after."""
    from .methods import explain

    device = next(iter(model.parameters()), inputs).device
    two = inputs[:, :2] if inputs.shape[1] >= 2 else torch.cat([inputs[:, :1]] * 2, 1)
    adapter.reset(model)
    try:
        with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            explain(model, two.to(device))
    finally:
        adapter.reset(model)


def explain_nir(
    graph: Any,
    inputs: Tensor,
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    gamma: float = DEFAULT_GAMMA,
    framework: str | None = None,
    **options: Any,
) -> tuple[SAMResult, str]:
    """SAM of a NIR graph (object or file) on `inputs` [T, B, ...]: the graph is imported by
    `load_nir` (the first faithful framework whose model runs `inputs`, or `framework`) and run
    by that framework's default runner. Returns (result, name of the framework that imported
    and ran it). Options are those of `explain`."""
    from .methods import explain

    model, name = load_nir(graph, framework, inputs=inputs)
    return explain(model, inputs, layers, gamma, **options), name
