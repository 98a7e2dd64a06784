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

from .engine import DEFAULT_GAMMA, neuronal_contribution, spike_activation_map  # noqa: E402
from .methods import (  # noqa: E402
    CaptumMethod,
    MapMethod,
    RandomMap,
    SNNGradCAM,
    SpikeActivationMap,
    SpikeCount,
    TemporalSpikeAttribution,
    explain,
)
from .outputs import class_scores  # noqa: E402
from .plugins import (  # noqa: E402
    Adapter,
    GenericAdapter,
    InputReader,
    installed_adapters,
    installed_readers,
)
from .recorder import NotSpikesError, SpikeShapeError  # noqa: E402
from .result import LayerSAM, SAMResult, normalize_maps  # noqa: E402

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
