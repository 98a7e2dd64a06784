"""sam-plugins: Spike Activation Maps (Kim & Panda 2021) for already-trained SNNs.

The core imports no SNN framework; framework adapters are found through the entry-point group
``sam_plugins.adapters``.
"""

from .adapter import ENTRY_POINT_GROUP, Adapter, GenericAdapter, installed_adapters
from .engine import DEFAULT_GAMMA, StreamingSAM, neuronal_contribution, spike_activation_map
from .explainer import SpikeActivationMap, explain
from .recorder import NotSpikesError, SpikeRecorder, SpikeShapeError
from .result import LayerSAM, SAMResult, normalize_maps

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_GAMMA",
    "ENTRY_POINT_GROUP",
    "Adapter",
    "GenericAdapter",
    "LayerSAM",
    "NotSpikesError",
    "SAMResult",
    "SpikeActivationMap",
    "SpikeRecorder",
    "SpikeShapeError",
    "StreamingSAM",
    "explain",
    "installed_adapters",
    "neuronal_contribution",
    "normalize_maps",
    "spike_activation_map",
]
