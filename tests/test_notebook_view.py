"""The notebook view (`SAMResult._repr_html_`, `view`), `plot`, and rasters of maps [T, B, N]."""

import json
import re

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image
from plain_snn import ConvSNN, PlainLIF

from sam_plugins import LayerSAM, SAMResult, explain
from sam_plugins.viewer.files import save_explanation
from sam_plugins.viewer.rasters import raster_rows

SCRIPT = "</script><script>alert(1)</script>"


@pytest.fixture(scope="module")
def conv():
    torch.manual_seed(0)
    frames = (torch.rand(5, 3, 2, 16, 16) < 0.4).float()
    return frames, explain(ConvSNN(size=16), frames, ["lif1", "lif2"])


def conv1d_result(signal=None):
    """A real Conv1d SNN: its layers' maps are [T, B, L]."""
    torch.manual_seed(1)
    net = torch.nn.Sequential(
        torch.nn.Conv1d(2, 6, 3, padding=1),
        PlainLIF(0.8, 0.5),
        torch.nn.Conv1d(6, 4, 3, padding=1),
        PlainLIF(0.8, 0.5),
    )
    signal = (torch.rand(6, 2, 2, 20) < 0.5).float() if signal is None else signal
    return explain(net, signal, ["1", "3"])


def dense_result(name="fc", steps=6, batch=2, neurons=30):
    """A result built directly with maps [T, B, N], as layers without a layout have them."""
    maps = torch.rand(steps, batch, neurons) * (torch.rand(steps, batch, neurons) < 0.4)
    maps[0] = 0
    layer = LayerSAM(name, maps, maps.sum(0), maps.sum(-1), kind="Leaky")
    return SAMResult({name: layer}, 0.5, window="previous")


def frames_of(html: str) -> list[dict[str, list[str]]]:
    return json.loads(re.search(r"const FRAMES = (.*);\n", html).group(1))


def test_repr_html_is_one_self_contained_fragment(conv):
    _, result = conv
    html = result._repr_html_()
    assert html.startswith('<div class="sam-view" id="sam-view-') and html.endswith("</div>")
    assert html.count("<script>") == 1 and "document.getElementById" in html
    assert not re.search(r"(src|href)=[\"']?(https?:|//)", html)  # nothing fetched
    data = frames_of(html)
    assert len(data) == 3 and set(data[0]) == {"lif1", "lif2"}  # no inputs given: maps alone
    assert all(len(uris) == 5 for uris in data[0].values())
    assert html.count('<option value="') == 3  # a sample picker for B = 3
    # titled as the report titles samples (an all-zero output predicts nothing)
    assert re.search(
        r'<option value="2">sample 2, (predicted \d|no prediction \(all outputs zero\))</option>',
        html,
    )
    assert 'class="cbar"' in html and "no earlier spikes" in html
    other = result._repr_html_()
    ids = [re.search(r'id="(sam-view-\w+)"', h).group(1) for h in (html, other)]
    assert ids[0] != ids[1]  # two views in one notebook never share an element id


def test_view_draws_the_maps_over_the_given_inputs(conv, tmp_path):
    frames, result = conv
    view = result.view(frames)
    data = frames_of(view._repr_html_())
    assert set(data[0]) == {"input", "lif1", "lif2"}
    page = view.save(tmp_path / "v.html")
    assert page.read_text().count('class="sam-view"') == 1
    static = result.view(frames[0])  # images [B, C, H, W]: the same input at every step
    assert set(frames_of(static.html)[0]) == {"input", "lif1", "lif2"}
    with pytest.raises(ValueError, match=r"\[T, N, C, H, W\] with T=5 steps"):
        result.view(frames[:, :2])
    with pytest.raises(ValueError, match=r"samples must be in 0\.\.2, found \[3\]"):
        result.view(samples=[3])


def test_a_model_supplied_name_is_text_in_the_view():
    result = dense_result(SCRIPT)
    html = result._repr_html_()
    assert SCRIPT not in html and "<script>alert" not in html
    assert html.count("<script>") == 1 and html.count("</script>") == 1
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_large_result_is_bounded_and_says_what_was_left_out(conv):
    frames, result = conv
    whole = result.view(frames, max_bytes=None).html
    bound = len(whole) // 2
    html = result.view(frames, max_bytes=bound).html
    assert len(html) < len(whole) and len(frames_of(html)) < 3
    assert re.search(r"samples [\d, ]+ left out", html)
    tiny = result.view(frames, max_bytes=5_000).html  # not even one sample's steps fit
    assert re.search(r"one step in \d+ shown \(\d of 5", tiny)
    assert len(frames_of(tiny)[0]["lif1"]) < 5


def test_plot_is_the_reports_grid(conv):
    frames, result = conv
    fig = result.plot()
    assert isinstance(fig, Figure)
    # 2 layers x 5 steps, and the colour bar
    assert len(fig.axes) == 2 * 5 + 1
    assert fig.axes[0].get_title() == "t=0" and fig.axes[0].get_ylabel() == "layer lif1 (PlainLIF)"
    assert "heat map" in fig.axes[-1].get_ylabel()
    two = result.plot(sample=2, layers=["lif2"], steps=[1, 4], inputs=frames)
    assert [ax.get_title() for ax in two.axes[:2]] == ["t=1", "t=4"] and len(two.axes) == 3
    assert two._suptitle.get_text() == "sample 2"
    with pytest.raises(ValueError, match=r"steps must be in 0\.\.4"):
        result.plot(steps=[7])
    with pytest.raises(KeyError, match="no layer 'nope'"):
        result.plot(layers=["nope"])


def test_raster_rows_normalise_each_step_and_order_by_score():
    maps = torch.tensor([[0.0, 0.0, 0.0], [1.0, 3.0, 2.0], [4.0, 0.0, 2.0]])  # [T=3, N=3]
    rows = raster_rows(maps)
    assert rows.shape == (3, 3)  # [N, T]
    np.testing.assert_allclose(rows[:, 0], 0)  # an all-zero step stays zero
    np.testing.assert_allclose(rows[:, 1], [0, 1, 0.5])
    np.testing.assert_allclose(rows[:, 2], [1, 0, 0.5])
    by_score = raster_rows(maps, order="score")  # totals 5, 3, 4
    np.testing.assert_allclose(by_score, rows[[0, 2, 1]])
    with pytest.raises(ValueError, match="order must be 'layer' or 'score'"):
        raster_rows(maps, order="x")


def test_maps_of_neurons_and_positions_are_drawn_as_rasters(tmp_path):
    for result, what in ((conv1d_result(), "positions"), (dense_result(), "neurons")):
        name = next(iter(result))
        html = result._repr_html_()
        assert 'class="raster"' in html and f"{what} (in layer order)" in html
        assert "marker" in html
        fig = result.plot()
        raster = fig.axes[0]
        assert raster.get_xlabel() == "time step" and raster.get_ylabel() == what
        steps, neurons = result[name].maps.shape[0], result[name].maps.shape[2]
        assert raster.images[0].get_array().shape[:2] == (neurons, steps)
        assert "by total score" in result.view(order="score").html
    # in the explain report's PNG too, beside the image layers
    frames = (torch.rand(4, 1, 2, 16, 16) < 0.4).float()
    spatial = explain(ConvSNN(size=16), frames, ["lif1"])
    mixed = SAMResult({**spatial, "fc": dense_result(steps=4, batch=1)["fc"]}, 0.5)
    paths = save_explanation(tmp_path, frames, mixed)
    html = (tmp_path / "report.html").read_text()
    assert "30 neurons (in layer order) x 4 steps" in html and "fc (Leaky) (neuron x time" in html
    with Image.open(tmp_path / "sample_0.png") as png:
        wide = png.size
    alone = save_explanation(tmp_path / "alone", frames, spatial)
    with Image.open(alone[1]) as png:
        assert png.size[1] < wide[1]  # the raster row adds height
    assert tmp_path / "sample_0.png" in paths


def test_a_signal_input_is_shown_as_its_own_raster():
    signal = (torch.rand(6, 2, 2, 20) < 0.5).float()  # [T, B, C, L]
    result = conv1d_result(signal)
    html = result.view(signal).html
    assert "input<br>40 channels x 6 steps" in html and html.count('class="raster"') == 2 * 3
    fig = result.plot(inputs=signal)
    assert fig.axes[0].get_title() == "input: channels x time"
    assert fig.axes[0].images[0].get_array().shape[:2] == (40, 6)
    with pytest.raises(ValueError, match=r"a signal must be \[T, B, \.\.\.\] with T=6"):
        result.view(signal[:, :1, 0])


def whole_numbers(ax, axis: str = "x") -> list[str]:
    """The texts of an axis's tick labels in its view (a drawn figure), checked to be there
    and to be whole numbers ("2", never "2.5")."""
    low, high = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    ticks = ax.get_xticks() if axis == "x" else ax.get_yticks()
    texts = [
        t.get_text().replace("\u2212", "-")
        for t, v in zip(labels, ticks, strict=True)
        if low <= v <= high
    ]
    assert texts and all(re.fullmatch(r"-?\d+", t) for t in texts), texts
    return texts


def test_pictures_number_steps_and_neurons_and_keep_the_legend_off_the_lines():
    """On a real 3-step result (where matplotlib's own ticks are 0.0, 0.5, ...): the
    profile's steps, the rasters' steps and neurons are whole numbers; the legend lies beside
    the profile's axes, never over its lines."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from sam_plugins.viewer.plot import profile_figure, raster_figure

    torch.manual_seed(0)
    frames = (torch.rand(3, 2, 2, 16, 16) < 0.4).float()
    result = explain(ConvSNN(size=16), frames, ["lif1", "lif2", "lif3"])  # lif3: Linear-fed
    assert result["lif3"].maps.dim() == 3

    profile = profile_figure(result, 1)
    renderer = FigureCanvasAgg(profile).get_renderer()
    profile.draw(renderer)
    (ax,) = profile.axes
    assert whole_numbers(ax)[0] == "0"
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [result[n].label for n in result]
    assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))

    rows = raster_rows(result["lif3"].maps[:, 1])  # the view's raster of sample 1
    raster = raster_figure(rows, "neurons")
    FigureCanvasAgg(raster).draw()
    (ax,) = raster.axes
    assert ax.get_xlabel() == "time step" and ax.get_ylabel() == "neurons"
    assert whole_numbers(ax, "x") and whole_numbers(ax, "y")
    assert ax.images[0].get_array().shape[:2] == rows.shape  # a row per neuron

    grid = result.plot(sample=1)  # the report's PNG grid: its raster row numbered too
    FigureCanvasAgg(grid).draw()
    (raster,) = [ax for ax in grid.axes if ax.get_title().startswith("layer lif3")]
    assert whole_numbers(raster, "x") and whole_numbers(raster, "y")
