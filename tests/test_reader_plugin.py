"""A third-party input reader found through its entry point (group ``sam_plugins.readers``), as
docs/index.md tells plugin authors to ship one: a real ``*.dist-info`` with ``entry_points.txt``
on sys.path, read by importlib.metadata, then used end to end by ``sam-plugins explain`` with
its defaults."""

import base64
import io
import json
import re
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image
from sam_plugins_demo import FACTORY, WEIGHTS, trained_demo_net

from sam_plugins import explain
from sam_plugins.cli import main
from sam_plugins.io.inputs import read_input
from sam_plugins.io.models import LoadError
from sam_plugins.plugins import installed_readers
from sam_plugins.render import show_sam_on_image, to_uint8

# a reader of ".ticks" files: one line per time bin, each the (channel, y, x) of its events
READER = """
import numpy as np
import torch
from sam_plugins import InputReader


class TicksReader(InputReader):
    name = "ticks"

    def read(self, path, time_bins, sensor_size):
        if path.suffix != ".ticks":
            return None
        frames = torch.zeros(time_bins, 2, 34, 34)
        for t, line in enumerate(path.read_text().splitlines()[:time_bins]):
            for event in line.split():
                c, y, x = map(int, event.split(","))
                frames[t, c, y, x] += 1
        return frames

    def frame_image(self, frame):
        rgb = np.zeros((*frame.shape[1:], 3), np.float32)
        rgb[..., 1] = np.asarray(frame).sum(0) > 0  # events green, as this reader draws them
        return rgb
"""


@pytest.fixture
def ticks_reader(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "ticks_reader.py").write_text(READER)
    info = site / "ticks_reader-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ticks-reader\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent("""
        [sam_plugins.readers]
        ticks = ticks_reader:TicksReader
        """)
    )
    monkeypatch.syspath_prepend(str(site))
    installed_readers.cache_clear()
    yield
    installed_readers.cache_clear()


def recording(path, bins: int = 12, seed: int = 0):
    """A .ticks recording of `bins` lines with random events, and its frames [bins, 2, 34, 34]."""
    rng = np.random.default_rng(seed)
    frames, lines = torch.zeros(bins, 2, 34, 34), []
    for t in range(bins):
        events = [(int(rng.integers(2)), *rng.integers(4, 30, 2).tolist()) for _ in range(300)]
        for c, y, x in events:
            frames[t, c, y, x] += 1
        lines.append(" ".join(f"{c},{y},{x}" for c, y, x in events))
    path.write_text("\n".join(lines))
    return frames


def test_the_reader_is_discovered_through_its_entry_point(ticks_reader, tmp_path):
    assert "ticks" in [r.name for r in installed_readers()]
    frames = recording(tmp_path / "rec.ticks")
    inputs = read_input(tmp_path / "rec.ticks")  # the default: 10 time bins
    assert inputs.frames.shape == (10, 1, 2, 34, 34)
    torch.testing.assert_close(inputs.frames[:, 0], frames[:10])
    assert inputs.draw(inputs.frames[0, 0])[..., 1].max() == 1  # the reader's own drawing
    (tmp_path / "rec.unknown").write_text("")
    with pytest.raises(LoadError, match=r"installed: .*ticks"):
        read_input(tmp_path / "rec.unknown")


def test_explain_reads_a_third_party_recording_with_its_defaults(
    ticks_reader, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    frames = recording(tmp_path / "rec.ticks")
    argv = ["explain", FACTORY, "--weights", str(WEIGHTS), "--input", "rec.ticks"]
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    text = (tmp_path / "sam-report" / "report.html").read_text()  # the default --out
    shown = json.loads(re.search(r"const FRAMES = (.*);\n", text).group(1))
    assert len(shown) == 1 and len(shown[0]["input"]) == 10  # one sample, --time-bins 10

    def image(uri):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))

    heat = explain(trained_demo_net(), frames[:10].unsqueeze(1)).heatmap("1", size=(34, 34))
    assert heat.amax() > 0
    for t in (0, 9):
        drawn = np.zeros((34, 34, 3), np.float32)
        drawn[..., 1] = (frames[t].sum(0) > 0).numpy()  # the reader's drawing, not the core's
        np.testing.assert_array_equal(image(shown[0]["input"][t]), to_uint8(drawn))
        overlay = to_uint8(show_sam_on_image(drawn, heat[t, 0]))
        np.testing.assert_array_equal(image(shown[0]["1"][t]), overlay)
