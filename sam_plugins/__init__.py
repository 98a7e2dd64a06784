"""sam-plugins: Spike Activation Maps (Kim & Panda 2021) for already-trained SNNs.

The public face: the map methods (`SpikeActivationMap` and `explain`, `SNNGradCAM`,
`SpikeCount`, `RandomMap`, `TemporalSpikeAttribution`, Captum's methods through
`CaptumMethod`; one call shape,
``attribute(inputs, target=None)``), their one result type (`SAMResult`, `LayerSAM`), SAM's
functional form (`neuronal_contribution`, `spike_activation_map`), reading outputs
(`class_scores`) and the plugin bases (`Adapter`, `InputReader`). The core imports no SNN
framework; framework adapters are found through the entry-point group ``sam_plugins.adapters``.
"""

__version__ = "0.2.0"

import importlib

# what each public name is imported from: on first use, so that `import sam_plugins` (and the
# command line's --version and --help) do not import torch
_EXPORTS = {
    "DEFAULT_GAMMA": ".engine",
    "neuronal_contribution": ".engine",
    "spike_activation_map": ".engine",
    "CaptumMethod": ".methods",
    "MapMethod": ".methods",
    "RandomMap": ".methods",
    "SNNGradCAM": ".methods",
    "SpikeActivationMap": ".methods",
    "SpikeCount": ".methods",
    "TemporalSpikeAttribution": ".methods",
    "explain": ".methods",
    "class_scores": ".outputs",
    "Adapter": ".plugins",
    "GenericAdapter": ".plugins",
    "InputReader": ".plugins",
    "installed_adapters": ".plugins",
    "installed_readers": ".plugins",
    "NotSpikesError": ".recorder",
    "SpikeShapeError": ".recorder",
    "LayerSAM": ".result",
    "SAMResult": ".result",
    "normalize_maps": ".result",
}

__all__ = [
    "DEFAULT_GAMMA",
    "CaptumMethod",
    "Adapter",
    "GenericAdapter",
    "InputReader",
    "LayerSAM",
    "MapMethod",
    "NotSpikesError",
    "RandomMap",
    "SAMResult",
    "SNNGradCAM",
    "SpikeActivationMap",
    "SpikeCount",
    "SpikeShapeError",
    "TemporalSpikeAttribution",
    "class_scores",
    "explain",
    "installed_adapters",
    "installed_readers",
    "neuronal_contribution",
    "normalize_maps",
    "spike_activation_map",
]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sam_plugins' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
