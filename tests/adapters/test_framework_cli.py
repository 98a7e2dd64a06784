"""`sam-plugins explain` on a Norse model, a sinabs model and a NIR file: exit 0 and a report
that shows exactly the maps `explain` computes in Python; one-line errors for NIR files."""

import base64
import io
import json
import re
from pathlib import Path

import nir
import numpy as np
import pytest
import torch
from PIL import Image
from spikingjelly.activation_based import nir_exchange

from sam_plugins import explain
from sam_plugins.cli import main
from sam_plugins.nir import explain_nir
from sam_plugins.render import frame_image, show_sam_on_image, to_uint8

T, B, SIZE = 6, 2, 8

pytestmark = pytest.mark.filterwarnings("ignore:nirtorch.*deprecated:DeprecationWarning")


@pytest.fixture
def models(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import framework_models

    return framework_models


@pytest.fixture
def frames(tmp_path):
    torch.manual_seed(1)
    x = torch.rand(T, B, 2, SIZE, SIZE) * 8
    np.save(tmp_path / "x.npy", x.numpy())
    return x


def report_images(path):
    """The images the HTML report shows, per sample, key (input or layer) and step."""
    data = json.loads(re.search(r"const FRAMES = (.*);\n", path.read_text()).group(1))

    def decode(uri):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))

    return [{key: [decode(u) for u in uris] for key, uris in sample.items()} for sample in data]


def assert_report_shows(out, frames, result, layer):
    assert result[layer].maps.sum() > 0, "a silent layer proves nothing"
    heat = result.heatmap(layer, size=(SIZE, SIZE))
    images = report_images(out / "report.html")
    for n in range(B):
        for t in range(T):
            background = frame_image(frames[t, n])
            overlay = to_uint8(show_sam_on_image(background, heat[t, n]))
            np.testing.assert_array_equal(images[n][layer][t], overlay)


@pytest.mark.parametrize(("factory", "layer"), [("norse_net", "1"), ("sinabs_net", "1")])
def test_explain_command_on_a_framework_model(tmp_path, frames, models, factory, layer, capsys):
    out = tmp_path / "report"
    argv = ["explain", f"framework_models:{factory}", "--input", str(tmp_path / "x.npy")]
    assert main([*argv, "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    expected = explain(getattr(models, factory)().eval(), frames)
    assert_report_shows(out, frames, expected, layer)
    saved = np.load(out / "maps.npz")  # every layer's maps, for scripts
    assert {f"layer_{name}" for name in expected} <= set(saved.files)
    for name in expected:
        np.testing.assert_allclose(saved[f"layer_{name}"], expected[name].maps.numpy(), atol=1e-6)
    np.testing.assert_array_equal(saved["frames"], frames.numpy())


def test_explain_command_on_a_nir_file(tmp_path, frames, models, capsys):
    path = tmp_path / "net.nir"
    nir.write(path, nir_exchange.export_to_nir(models.spikingjelly_net(), frames))
    out = tmp_path / "report"
    assert main(["explain", str(path), "--input", str(tmp_path / "x.npy"), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    expected, used = explain_nir(path, frames)
    assert used == "norse"
    assert_report_shows(out, frames, expected, "_3")


def test_nir_files_that_cannot_be_used_give_one_line_errors(tmp_path, frames, capsys):
    graph = nir.NIRGraph.from_list(nir.Threshold(threshold=np.ones(3, np.float32)))
    nir.write(tmp_path / "threshold.nir", graph)
    (tmp_path / "junk.nir").write_text("not hdf5")
    x = str(tmp_path / "x.npy")
    cases = [
        (["threshold.nir"], "no installed framework could import this NIR graph"),
        (["junk.nir"], "is not a readable NIR file"),
        (["missing.nir"], "NIR file not found"),
        (["threshold.nir", "--weights", x], "holds its own weights"),
    ]
    for args, message in cases:
        path, *rest = args
        assert main(["explain", str(tmp_path / path), "--input", x, *rest]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_explain_command_on_the_spikingjelly_lif_classifier(tmp_path, capsys):
    """`sam-plugins explain model.nir` on the plain export of Conv2d-LIF-Flatten-Linear-LIF:
    the framework that runs it faithfully is chosen and named; the importers' prints are kept
    off the terminal."""
    from spikingjelly.activation_based import functional, layer, neuron

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        layer.Conv2d(2, 4, 3, padding=1),
        neuron.LIFNode(tau=2.0),
        layer.Flatten(),
        layer.Linear(4 * SIZE * SIZE, 5),
        neuron.LIFNode(tau=2.0),
    )
    for p in net.parameters():
        p.data.abs_()
    functional.set_step_mode(net, "m")
    x = torch.rand(T, B, 2, SIZE, SIZE) * 3
    np.save(tmp_path / "x.npy", x.numpy())
    path = tmp_path / "model.nir"
    nir.write(path, nir_exchange.export_to_nir(net, x))
    out = tmp_path / "report"
    argv = ["explain", str(path), "--input", str(tmp_path / "x.npy"), "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert printed.out.splitlines() == [f"wrote 6 files to {out}/ (open {out / 'report.html'})"]
    assert printed.err.splitlines()[0] == f"{path}: imported by spikingjelly", printed.err
    assert len(printed.err.splitlines()) <= 2
    functional.reset_net(net)
    original = explain(net, x)
    result, used = explain_nir(path, x)
    assert used == "spikingjelly"
    torch.testing.assert_close(result["_1"].maps, original["1"].maps)  # faithful
    assert_report_shows(out, x, result, "_1")

    # a framework named on the command line is used, or its refusal is one line
    assert main([*argv, "--framework", "norse"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Flatten" in err, err
