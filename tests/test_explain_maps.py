"""`sam-plugins explain` writes maps.npz (frames, outputs, every layer's maps, labels,
settings) equal to the Python API's result; --crop and --downsample on clips and --bin equal the
same events cropped and downsampled by hand, with the region drawn in the report; a model that
does not take the framed input is one line naming the sensor, the model's first layer and the
flags (and --sensor-size where the sensor was read from the events: issue 33 item 7)."""

from __future__ import annotations

import base64
import json

import h5py
import imageio.v3 as iio
import numpy as np
import pytest
import sam_plugins_demo as demo
import torch
from analysis.typed import typed
from test_explain_stream import layers_of, recording

from sam_plugins import explain
from sam_plugins.cli import main


def test_maps_npz_as_typed_equals_the_python_api(tmp_path):
    torch.manual_seed(0)
    frames = (torch.rand(6, 2, 2, 34, 34) < 0.2).float()
    np.savez(tmp_path / "x.npz", frames=frames.numpy(), labels=np.array([3, 7]))
    done = typed(f"sam-plugins explain {demo.FACTORY} --input x.npz", tmp_path)
    assert done.returncode == 0, done.stderr
    data = np.load(tmp_path / "sam-report" / "maps.npz")
    expected = explain(demo.trained_demo_net(), frames)
    assert {f"layer_{name}" for name in expected} <= set(data.files)
    for name in expected:
        assert expected[name].maps.sum() > 0
        np.testing.assert_array_equal(data[f"layer_{name}"], expected[name].maps.numpy())
    np.testing.assert_array_equal(data["frames"], frames.numpy())
    np.testing.assert_array_equal(data["labels"], [3, 7])
    outputs = expected.outputs[0] if isinstance(expected.outputs, tuple) else expected.outputs
    np.testing.assert_array_equal(data["outputs"], outputs.numpy())
    used = json.loads(str(data["settings"]))
    assert used["gamma"] == 0.5 and used["window"] == "previous" and used["time_bins"] == 10
    assert used["input"] == "x.npz" and used["layers"] == list(expected)
    assert used["version"] and used["frames_shape"] == [6, 2, 2, 34, 34]


def by_hand(events: np.ndarray, crop, factor: float) -> np.ndarray:
    """Crop (X, Y, W, H) then x = floor(x * factor), y = floor(y * factor)."""
    x0, y0, w, h = crop
    keep = (events["x"] >= x0) & (events["x"] < x0 + w) & (events["y"] >= y0)
    out = events[keep & (events["y"] < y0 + h)].copy()
    out["x"] = np.floor((out["x"] - x0) * factor)
    out["y"] = np.floor((out["y"] - y0) * factor)
    return out


@pytest.mark.parametrize("stream", [False, True], ids=["clip", "bin"])
def test_crop_and_downsample_equal_the_events_cut_by_hand(tmp_path, stream):
    """A 90x80 sensor, the region 10,6,68,68 halved: the demo model's 34x34 input."""
    events = recording(0.5, rate=20_000, size=(90, 80), seed=4)
    crop = (10, 6, 68, 68)
    cut = by_hand(events, crop, 0.5)
    assert 0 < len(cut) < len(events)
    np.save(tmp_path / "full.npy", events)
    np.save(tmp_path / "cut.npy", cut)
    mode = ["--bin", "10ms"] if stream else ["--time-bins", "8"]
    base = ["explain", demo.FACTORY, *mode]
    full = [*base, "--input", str(tmp_path / "full.npy"), "--sensor-size", "90,80,2"]
    full += ["--crop", "10,6,68,68", "--downsample", "0.5", "--out", str(tmp_path / "a")]
    assert main(full) == 0
    hand = [*base, "--input", str(tmp_path / "cut.npy"), "--sensor-size", "34,34,2"]
    assert main([*hand, "--out", str(tmp_path / "b")]) == 0
    name = "maps.h5" if stream else "maps.npz"
    got, expected = layers_of(tmp_path / "a" / name), layers_of(tmp_path / "b" / name)
    assert expected["1"].sum() > 0
    for layer in expected:
        np.testing.assert_allclose(got[layer], expected[layer], rtol=1e-6, atol=1e-6)
    region = iio.imread(tmp_path / "a" / "region.png")  # the full sensor, the region in red
    red = (region[..., 0] > 200) & (region[..., 1] < 80) & (region[..., 2] < 80)
    assert red.sum() > 100
    page = (tmp_path / "a" / "report.html").read_text()  # shown in the report, inlined
    png = base64.b64encode((tmp_path / "a" / "region.png").read_bytes()).decode("ascii")
    assert png in page
    if stream:
        page = (tmp_path / "a" / "report.html").read_text()
        said = "the model saw x 10..77, y 6..73 of the 90x80 sensor, downsampled by 0.5 to 34x34"
        assert said in page
        with h5py.File(tmp_path / "a" / name) as f:
            used = json.loads(f.attrs["settings"])
        assert used["crop"] == [10, 6, 68, 68] and used["downsample"] == 0.5


@pytest.mark.parametrize("stream", [False, True], ids=["clip", "bin"])
def test_a_sensor_read_from_the_events_that_the_model_fails_on_names_sensor_size(
    tmp_path, capsys, stream
):
    """Issue 33 item 7: a 34x34 recording with one event at x=40, no --sensor-size: read as 41
    px wide, the demo model fails; the one line says the sensor was read from the events and
    names --sensor-size, the model's first layer and --crop / --downsample."""
    events = recording(0.3, seed=5)
    events["x"][100] = 40
    np.save(tmp_path / "rec.npy", events)
    argv = ["explain", demo.FACTORY, "--input", str(tmp_path / "rec.npy")]
    argv += ["--bin", "10ms"] if stream else []
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sam-plugins: error: ") and err.count("\n") == 1, err
    assert "the model failed on frames of shape (" in err and ", 1, 2, 34, 41)" in err
    assert "the sensor is 41x34x2 (W, H, P), read from the events" in err
    assert "give the real one with --sensor-size W,H,P" in err
    assert "the model's first layer '0' (Conv2d) takes [B, 2, H, W]" in err
    assert "--crop X,Y,W,H and --downsample FACTOR" in err
    assert not (tmp_path / "o").exists()
    # with the real sensor the event at x=40 is refused as outside it, in one line
    assert main([*argv, "--sensor-size", "34,34,2", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "x=40" in err and not (tmp_path / "o").exists()
