"""Where pixels are drawn, kept under its old name: the drawing lives in `sam_plugins.viewer`
(`viewer.pixels`: colours, frames, blends, animations; `viewer.plot`: image grids and figures;
`viewer.rasters`: maps [T, B, N] as neuron x time rasters). Every name imported from here before
still is.
"""

from __future__ import annotations

from .viewer.panels import image_layers, raster_layers
from .viewer.pixels import (
    as_array,
    colored,
    frame_image,
    png_uri,
    safe_name,
    save_animation,
    show_sam_on_image,
    to_uint8,
)
from .viewer.plot import (
    COLORBAR,
    image_grid_figure,
    integer_ticks,
    save_figure,
    save_image_grid,
    save_layer_grids,
    save_overlay_grid,
)
from .viewer.rasters import is_raster, raster_rows

__all__ = [
    "COLORBAR",
    "as_array",
    "colored",
    "frame_image",
    "image_grid_figure",
    "image_layers",
    "integer_ticks",
    "is_raster",
    "png_uri",
    "raster_layers",
    "raster_rows",
    "safe_name",
    "save_animation",
    "save_figure",
    "save_image_grid",
    "save_layer_grids",
    "save_overlay_grid",
    "show_sam_on_image",
    "to_uint8",
]
