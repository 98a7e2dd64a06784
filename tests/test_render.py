"""Rendering helpers: blend a heat map over an image, write a sample x time grid."""

import numpy as np
import pytest
import torch
from PIL import Image

from sam_plugins import LayerSAM, SAMResult
from sam_plugins.render import save_layer_grids, save_time_grid, show_sam_on_image


def test_overlay_blends_heat_over_the_scaled_image():
    image = torch.linspace(0, 10, 16).reshape(4, 4)
    heat = torch.zeros(4, 4)
    heat[0, 0] = 1.0
    out = show_sam_on_image(image, heat, alpha=0.5)
    assert out.shape == (4, 4, 3)
    assert out.min() >= 0 and out.max() <= 1
    # alpha=0 gives the min-max scaled grey image back
    grey = show_sam_on_image(image, heat, alpha=0.0)
    np.testing.assert_allclose(grey[..., 0], (image / 10).numpy(), atol=1e-6)
    # the hot pixel gets a different colour from a cold pixel of the same image value
    hot = show_sam_on_image(torch.ones(4, 4), heat)
    assert not np.allclose(hot[0, 0], hot[1, 1])


def test_overlay_refuses_a_map_of_another_size():
    with pytest.raises(ValueError, match=r"image is \(8, 8\) but heat map is \(4, 4\)"):
        show_sam_on_image(np.zeros((8, 8)), np.zeros((4, 4)))


def test_time_grid_is_written_as_a_png(tmp_path):
    images = torch.rand(2, 8, 8)
    heat = torch.rand(6, 2, 8, 8)
    path = save_time_grid(tmp_path / "sub" / "grid.png", images, heat, ["a", "b"], step_stride=2)
    with Image.open(path) as png:
        assert png.format == "PNG"
        width, height = png.size
    assert width > height  # three step columns, two sample rows


def test_layer_grids_one_png_per_layer_with_maps(tmp_path):
    conv = LayerSAM(name="conv", maps=torch.rand(4, 2, 4, 4), scores=None, profile=None)
    fc = LayerSAM(name="fc", maps=None, scores=torch.rand(2, 5), profile=torch.rand(4, 2))
    paths = save_layer_grids(
        tmp_path, torch.rand(2, 8, 8), SAMResult({"conv": conv, "fc": fc}, 0.5)
    )
    assert [p.name for p in paths] == ["sam_layer_conv.png"]
    with Image.open(paths[0]) as png:
        assert png.format == "PNG"
