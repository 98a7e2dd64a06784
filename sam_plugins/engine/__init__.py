"""Where SAM is computed: the streaming engine (`streaming`), its kernels (`backend`), and the
per-layer buffers a recording fills (`buffers`). Pure torch; imports no SNN framework."""

from .streaming import (
    DEFAULT_GAMMA,
    WINDOWS,
    StreamingSAM,
    as_places,
    check_window,
    has_spatial_layout,
    neuronal_contribution,
    score_dtype,
    spike_activation_map,
)

__all__ = [
    "DEFAULT_GAMMA",
    "WINDOWS",
    "StreamingSAM",
    "as_places",
    "check_window",
    "has_spatial_layout",
    "neuronal_contribution",
    "score_dtype",
    "spike_activation_map",
]
