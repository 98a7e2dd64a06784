"""Rendering helpers: blend a heat map over an image, write a sample x time grid; the viewer's
one direction (results call it, it never imports them) and its live-page fragment."""

import ast
import base64
import io
import re
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

import sam_plugins.viewer
from sam_plugins import LayerSAM, SAMResult
from sam_plugins.render import (
    frame_image,
    safe_name,
    save_animation,
    save_image_grid,
    save_layer_grids,
    save_overlay_grid,
    show_sam_on_image,
    to_uint8,
)


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


def test_overlay_grid_is_written_as_a_png(tmp_path):
    images = torch.rand(2, 8, 8, 3)
    heat = torch.rand(2, 6, 8, 8)
    path = save_overlay_grid(tmp_path / "sub" / "grid.png", images, heat, ["a", "b"], step_stride=2)
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


def test_frame_image_draws_grey_rgb_and_channel_sums():
    grey = frame_image(torch.arange(4.0).reshape(1, 2, 2))
    np.testing.assert_allclose(grey[..., 1], [[0, 1 / 3], [2 / 3, 1]], atol=1e-6)
    two = torch.zeros(2, 2, 2)
    two[1, 0, 0], two[0, 1, 1] = 4, 2  # any channel count but 1 and 3: activity in grey
    np.testing.assert_allclose(frame_image(two)[..., 0], [[1, 0], [0, 0.5]])
    colour = torch.rand(3, 5, 6)
    assert frame_image(colour).shape == (5, 6, 3)
    with pytest.raises(ValueError, match=r"\[C, H, W\], found shape \(2, 4, 5, 5\)"):
        frame_image(torch.zeros(2, 4, 5, 5))


def test_safe_name_keeps_files_inside_their_folder():
    assert safe_name("../../../x") == "_.._.._x"
    assert safe_name("conv.1") == "conv.1" and safe_name("..") == "_" and safe_name("") == "_"
    assert "/" not in safe_name("a/b\\c") and "<" not in safe_name("</script>")


def test_gif_holds_every_step_enlarged(tmp_path):
    frames = np.zeros((5, 8, 8, 3))
    for t in range(5):
        frames[t, t, t] = 1.0  # a white pixel walking down the diagonal
    path = save_animation(tmp_path / "walk.gif", frames, fps=5)
    video = iio.imread(path, index=None)
    assert video.shape == (5, 128, 128, 3)  # 8 px enlarged 16x
    for t in range(5):
        assert video[t, 16 * t + 8, 16 * t + 8].min() > 200  # the white pixel, at step t
        assert video[t].sum() < 255 * 3 * 16 * 16 * 1.1  # and nothing else lit
    with pytest.raises(ValueError, match=r"\[T, H, W, 3\]"):
        save_animation(tmp_path / "bad.gif", np.zeros((5, 8, 8)))


def test_overlay_grid_has_a_row_per_row_of_maps(tmp_path):
    frames = torch.rand(1, 4, 6, 6, 3)  # one background per step, shared by the rows
    maps = torch.rand(3, 4, 6, 6)
    two = Image.open(save_overlay_grid(tmp_path / "two.png", frames, maps[:2], ["a", "b"]))
    three = Image.open(save_overlay_grid(tmp_path / "three.png", frames, maps, title="x"))
    assert three.size[0] == two.size[0] and three.size[1] > two.size[1]


def test_mp4_needs_imageio_ffmpeg_and_says_so(tmp_path):
    frames = np.random.default_rng(0).random((4, 8, 8, 3))
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install imageio-ffmpeg"):
            save_animation(tmp_path / "a.mp4", frames)
        assert not (tmp_path / "a.mp4").exists()
    else:
        video = iio.imread(save_animation(tmp_path / "a.mp4", frames), index=None)
        assert video.shape[0] == 4


def test_gif_frames_carry_their_caption(tmp_path):
    frames = np.zeros((3, 8, 8, 3))
    path = save_animation(tmp_path / "c.gif", frames, captions=["layer a t=0/2", "t=1", "t=2"])
    video = iio.imread(path, index=None)
    assert video.shape == (3, 128 + 14, 128, 3)  # a caption band below the enlarged frame
    band = video[:, 128:]
    assert band.max() > 200  # white text on black
    assert not np.array_equal(band[0], band[1])  # each frame its own caption
    with pytest.raises(ValueError, match="3 frames but 2 captions"):
        save_animation(tmp_path / "d.gif", frames, captions=["a", "b"])


def test_grids_have_a_colour_bar_unless_asked_not_to(tmp_path):
    cells = [[np.zeros((8, 8, 3))] * 3]
    with_bar = Image.open(save_image_grid(tmp_path / "a.png", cells, ["0", "1", "2"]))
    without = Image.open(save_image_grid(tmp_path / "b.png", cells, ["0", "1", "2"], colorbar=None))
    assert with_bar.size[0] > without.size[0]
    pixels = np.asarray(with_bar.convert("RGB"))[:, -without.size[0] // 4 :]
    assert (pixels[..., 0] > 200).any() and (pixels[..., 2] > 200).any()  # jet's red and blue


VIEWER = Path(sam_plugins.viewer.__file__).parent
RESULTS = ("sam_plugins.result", "sam_plugins.analysis.result")


def run_time_imports(path: Path) -> set[str]:
    """The modules a file imports when it runs (anywhere, in functions too), as absolute
    names; imports under ``if TYPE_CHECKING:`` are type hints only and left out."""
    package = "sam_plugins." + ".".join(path.relative_to(VIEWER.parent).with_suffix("").parts)
    package = package.rsplit(".", 1)[0] if path.name != "__init__.py" else package[:-9]
    found = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = package.split(".")
                base = base[: len(base) - child.level + 1] if child.level else []
                module = ".".join([*base, *([child.module] if child.module else [])])
                found.add(module)
                found.update(f"{module}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def test_the_viewer_never_imports_the_results_at_run_time():
    """Results call the viewer, never the other way round (xarray's formatting_html.py draws a
    Dataset it imports for type hints only): read from the source, and seen in sys.modules of
    a fresh interpreter that imports every viewer module."""
    modules = sorted(VIEWER.glob("*.py"))
    assert {m.stem for m in modules} >= {"html", "plot", "rasters", "live", "analysis"}
    for path in modules:
        imported = run_time_imports(path)
        assert not {m for m in imported if m.startswith(RESULTS)}, path.name
    assert "sam_plugins.viewer.heat" in run_time_imports(VIEWER / "panels.py")  # it does see
    names = [f"sam_plugins.viewer.{m.stem}" for m in modules if m.stem != "__init__"]
    script = (
        f"import sys, importlib\nfor m in {names!r}: importlib.import_module(m)\n"
        f"print(sorted(m for m in sys.modules if m in {RESULTS!r}))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    # and the results import their pictures from the viewer, not from the old report modules
    for path in ("result.py", "analysis/result.py"):
        imported = run_time_imports(VIEWER.parent / path)
        assert not {m for m in imported if m.endswith(".report")}, path
        assert any(m.startswith("sam_plugins.viewer") for m in imported), path


def test_frame_html_draws_one_step_of_a_stream_for_a_live_page():
    """As the live page calls it, on a real SNN's maps of step 3 of 6: the input, each layer's
    map over it (the 2-D layers) or as a row of cells (the Linear layer), the prediction, the
    step and a time line; names escaped."""
    from plain_snn import ConvSNN

    from sam_plugins import explain
    from sam_plugins.viewer import frame_html

    torch.manual_seed(0)
    frames = (torch.rand(6, 1, 2, 16, 16) < 0.4).float()
    result = explain(ConvSNN(size=16), frames, ["lif1", "lif3"])
    hostile = "<b>lif3</b>"
    maps = {"lif1": result["lif1"].maps[3, 0], hostile: result["lif3"].maps[3, 0]}
    mass = result["lif1"].profile[:4, 0].tolist()
    fragment = frame_html(frames[3, 0], maps, 3, "predicted <7>", mass, steps=6)

    assert fragment.startswith('<div class="sam-live" data-step="3">')
    assert "<b>" not in fragment and "&lt;b&gt;lif3&lt;/b&gt;" in fragment
    assert '<p class="prediction">predicted &lt;7&gt;</p>' in fragment
    assert '<p class="t">t = 3 / 5</p>' in fragment
    uris = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]*)"', fragment)
    images = {alt: np.asarray(Image.open(io.BytesIO(base64.b64decode(u)))) for u, alt in uris}
    assert list(images) == ["input", "lif1", "&lt;b&gt;lif3&lt;/b&gt;"]
    input_rgb = frame_image(frames[3, 0])
    assert images["input"].shape == (16, 16, 3)
    over = show_sam_on_image(input_rgb, result.heatmap("lif1", size=(16, 16))[3, 0])
    np.testing.assert_array_equal(images["lif1"], to_uint8(over))  # the report's overlay
    assert images["&lt;b&gt;lif3&lt;/b&gt;"].shape == (1, result["lif3"].maps.shape[2], 3)
    (points,) = re.findall(r'<polyline points="([^"]+)"', fragment)
    assert len(points.split()) == 4  # one point per step so far

    plain = frame_html(frames[0, 0], {"lif1": result["lif1"].maps[0, 0]}, 0)  # the defaults
    assert '<p class="prediction">' not in plain and '<p class="t">t = 0</p>' in plain
    assert "<polyline" not in plain  # no values, no line; the step is still marked
    with pytest.raises(ValueError, match=r"must be \[h, w\] or \[N\] \(one step\), found"):
        frame_html(frames[0, 0], {"lif1": result["lif1"].maps[:, 0]}, 0)
    with pytest.raises(ValueError, match="steps must be an int > step"):
        frame_html(frames[0, 0], maps, 6, steps=6)


def test_the_old_modules_still_give_every_name_they_gave():
    """`sam_plugins.render`, `.report` and `.analysis.report` re-export the viewer's objects
    (examples, plugins and users import them from there)."""
    import importlib

    import sam_plugins.viewer.analysis as analysis
    from sam_plugins import report
    from sam_plugins.analysis import report as analysis_report
    from sam_plugins.result import normalize_maps
    from sam_plugins.viewer.heat import normalize_maps as viewer_normalize

    for module, names in (
        ("sam_plugins.render", ["frame_image", "save_layer_grids", "save_overlay_grid",
                                "image_grid_figure", "as_array", "to_uint8", "raster_rows"]),
        ("sam_plugins.report", ["save_explanation", "write_report", "view_html", "SAMView",
                                "sample_titles", "plot_result", "MAX_BYTES"]),
    ):  # fmt: skip
        old = importlib.import_module(module)
        assert set(names) <= set(old.__all__)
        for name in old.__all__:  # the very objects the viewer holds
            home = next(
                m for m in ("pixels", "plot", "rasters", "panels", "html", "files")
                if hasattr(importlib.import_module(f"sam_plugins.viewer.{m}"), name)
            )  # fmt: skip
            assert getattr(old, name) is getattr(
                importlib.import_module(f"sam_plugins.viewer.{home}"), name
            ), (module, name)
    assert report.save_explanation.__module__ == "sam_plugins.viewer.files"
    assert analysis_report.analysis_html is analysis.analysis_html
    assert normalize_maps is viewer_normalize
