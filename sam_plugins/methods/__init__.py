"""Map methods, one per file, all with one call shape:
``Method(model, layers=None, ...).attribute(inputs, target=None) -> SAMResult``."""

from .base import MapMethod, NoteWarning, SilentLayerWarning, SpikeMapMethod, warnings_as_notes
from .captum import CaptumMethod
from .grad_cam import SNNGradCAM
from .random import RandomMap
from .sam import SpikeActivationMap, explain
from .spike_count import SpikeCount
from .tsa import TemporalSpikeAttribution

__all__ = [
    "CaptumMethod",
    "MapMethod",
    "RandomMap",
    "NoteWarning",
    "SNNGradCAM",
    "SilentLayerWarning",
    "SpikeActivationMap",
    "SpikeCount",
    "SpikeMapMethod",
    "TemporalSpikeAttribution",
    "explain",
    "warnings_as_notes",
]
