"""The analysis report: one file, its PNGs on request, escaping of names, rasters of layers
without a 2-D layout, and the page in headless Chromium."""

import base64
import io
import re

import pytest
import torch
from analysis_data import Frames, analyse
from conftest import needs_browser
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image
from plain_snn import PlainLIF

from sam_plugins.analysis import analyze_dataset
from sam_plugins.analysis.report import analysis_html, standout_samples, write_analysis_report
from sam_plugins.viewer.analysis import _Images

EVIL = ['<img src=x onerror="document.title=1">', r"$\frac{1$", "../two", "three & <b>3</b>"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    result = analyse(Frames(n=14), folder / "a.h5", save_maps=True, class_names=EVIL)
    return result, write_analysis_report(result, folder / "out", title="<script>x()</script>")


def png(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_the_page_is_one_file_and_escapes_names(report):
    result, page = report
    text = page.read_text()
    assert "<script>" not in text and "&lt;script&gt;x()&lt;/script&gt;" in text
    assert "onerror=" not in text.replace("onerror=&quot;", "")
    assert "three &amp; &lt;b&gt;3&lt;/b&gt;" in text
    images = re.findall(r"src='([^']+)'", text)
    assert all(png(uri).format == "PNG" for uri in images)  # every image inside the page
    assert [p.name for p in page.parent.iterdir()] == ["report.html"]  # no PNGs unasked
    # per layer: maps (lif3, a Linear layer, as a neuron x time raster), profile, rate, ISI,
    # and the standouts' own maps; the confusion matrix
    assert len(images) == 3 + 3 * 3 + 3 * 3 + 1
    assert "time bin 0 is empty: SAM counts a neuron's earlier spikes" in text


def test_pngs_on_request_are_named_as_the_page_names_the_layers(tmp_path):
    result = analyse(Frames(n=6), tmp_path / "a.h5", layers=["lif1", "lif3"])
    page = write_analysis_report(result, tmp_path / "out", pngs=True)
    names = sorted(p.name for p in page.parent.glob("*.png"))
    assert names == sorted(
        ["confusion.png"]
        + [
            f"layer-{n}-{k}.png"
            for n in ("lif1", "lif3")
            for k in ("maps", "profile", "rate", "isi")
        ]
    )
    uris = re.findall(r"src='([^']+)'", page.read_text())
    assert (
        base64.b64decode(uris[0].split(",", 1)[1]) == (page.parent / "confusion.png").read_bytes()
    )


def test_isi_bars_span_the_intervals_that_can_occur(report, monkeypatch):
    from matplotlib.axes import Axes

    result, _ = report
    steps = result.count.shape[1]  # the longest recording: 9 bins
    bars = []
    real = Axes.bar
    monkeypatch.setattr(
        Axes, "bar", lambda ax, x, h, **kw: bars.append(list(x)) or real(ax, x, h, **kw)
    )
    write_analysis_report(result, report[1].parent / "again")
    assert bars and all(x == list(range(1, steps)) for x in bars)  # 1 .. T-1, not 64 bins


def test_standouts_are_the_extremes(report):
    result, _ = report
    chosen = standout_samples(result, "lif1")
    mass = result.sample_mass("lif1")
    assert mass[chosen["most SAM mass"][0]] == mass.max()
    assert mass[chosen["least SAM mass"][0]] == mass.min()
    wrong = set((result.predictions != result.targets).nonzero()[0].tolist())
    assert set(chosen["misclassified"]) <= wrong and len(chosen["misclassified"]) == min(
        4, len(wrong)
    )


@needs_browser
def test_the_page_in_headless_chromium(report, browser):
    from selenium.webdriver.common.by import By

    _, page = report
    browser.get(page.as_uri())
    assert browser.title == "<script>x()</script>"  # shown as text, not run
    images = browser.find_elements(By.TAG_NAME, "img")
    assert len(images) > 10
    for image in images:  # every image inside the page, decoded
        assert browser.execute_script("return arguments[0].naturalWidth", image) > 100
    layers = browser.find_elements(By.CSS_SELECTOR, "section.layer h2")
    assert [h.text for h in layers] == [f"layer lif{i} (PlainLIF)" for i in (1, 2, 3)]
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "table.standout td")]
    assert "three & <b>3</b>" in cells or EVIL[0] in cells
    assert not browser.find_elements(By.CSS_SELECTOR, "td b, td img")  # nothing injected


class Signals(torch.utils.data.Dataset):
    """`n` random spike recordings [8, 2, 20] of 1-D signals (channels x positions)."""

    def __init__(self, n=8):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        g = torch.Generator().manual_seed(i)
        return (torch.rand(8, 2, 20, generator=g) < 0.4).float(), i % 2


def test_a_conv1d_layer_gets_a_raster_per_class(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv1d(2, 4, 3, padding=1), PlainLIF(0.8, 0.5), torch.nn.Flatten(),
        torch.nn.Linear(80, 2), PlainLIF(0.8, 0.5),
    )  # fmt: skip

    def run(model, frames):
        for m in model.modules():
            if isinstance(m, PlainLIF):
                m.reset()
        return torch.stack([model(x) for x in frames])

    result = analyze_dataset(
        net, Signals(), tmp_path / "s.h5", num_classes=2, layers=["1"], run=run,
        progress=False, save_maps=True, class_names=["left", "right"],
    )  # fmt: skip
    assert result.mean_maps("1").shape == (2, 8, 20)  # [C, T, L]
    page = write_analysis_report(result, tmp_path / "out", pngs=True)
    text = page.read_text()
    assert "Mean SAM map per class and time bin" in text
    with (
        Image.open(page.parent / "layer-1-maps.png") as grid,
        Image.open(page.parent / "layer-1-standout1.png") as samples,
    ):
        assert grid.size[0] > 300 and samples.size[0] > 300
    html = result._repr_html_()  # the notebook summary: the same body
    assert html.startswith("<div class='sam-analysis'>") and "accuracy" in html
    assert html.count("data:image/png") == text.count("data:image/png")


class Figures(_Images):
    """Keeps every figure the report draws, by PNG name, beside the data URIs it makes."""

    def __init__(self) -> None:
        super().__init__(None)
        self.figures = {}

    def __call__(self, fig, name: str) -> str:
        self.figures[name] = fig
        return super().__call__(fig, name)


def integers(labels) -> list[str]:
    """The tick labels' texts, each checked to be a whole number ("2", never "2.5")."""
    texts = [label.get_text().replace("\u2212", "-") for label in labels]
    assert texts and all(re.fullmatch(r"-?\d+", t) for t in texts), texts
    return texts


def test_figures_read_at_their_own_size(tmp_path):
    """Six classes (two rows of four panels: classes 2 and 3 have none below them), three
    layers (lif3 a Linear layer: a neuron x time raster per class)."""
    result = analyse(Frames(n=12, classes=6), tmp_path / "a.h5", num_classes=6)
    figures = Figures()
    analysis_html(result, save=figures)
    shown = figures.figures
    for layer in ("lif1", "lif2", "lif3"):
        isi = shown[f"layer-{layer}-isi.png"].axes[0]
        assert isi.get_yscale() == "log"  # a rare interval is visible beside a common one
        integers(isi.get_xticklabels())
        assert [t.get_text() for t in isi.get_yticklabels() if t.get_text()] != []

        profile = shown[f"layer-{layer}-profile.png"]
        ax = profile.axes[0]
        integers(ax.get_xticklabels())
        renderer = FigureCanvasAgg(profile).get_renderer()
        legend = ax.get_legend().get_window_extent(renderer)
        assert not legend.overlaps(ax.get_window_extent(renderer))  # beside the lines
        integers(shown[f"layer-{layer}-rate.png"].axes[0].get_xticklabels())

    rasters = [ax for ax in shown["layer-lif3-maps.png"].axes if ax.get_label() != "<colorbar>"]
    panels = [ax for ax in rasters if ax.axison]
    assert len(panels) == 6
    FigureCanvasAgg(shown["layer-lif3-maps.png"]).draw()  # tick labels as the PNG has them
    for c, ax in enumerate(panels):
        assert ax.get_title() == result.class_names[c]
        integers(ax.get_xticklabels())  # every panel has its steps, whole numbers
        if c % 4 == 0:  # the rows share their neuron axis, numbered on the left
            integers(ax.get_yticklabels())
        assert ax.get_xlabel() == ("time bin" if c >= 2 else "")  # no panel below: labelled
