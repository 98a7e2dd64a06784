"""Emulated DVSGesture, read by tonic's own DVSGesture class offline, and analysed end to end
with a small snnTorch conv SNN."""

import numpy as np
import pytest
import tonic
import tonic.transforms as tt
from sam_plugins_tonic.gestures import CLASSES, SENSOR_SIZE, seeded_gesture_net, write_gestures
from torch.utils.data import Subset

from sam_plugins.analysis import AnalysisResult, analyze_dataset


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("gestures")
    write_gestures(root, train=False)
    return root


def test_tonic_reads_the_emulated_recordings_without_downloading(root):
    data = tonic.datasets.DVSGesture(str(root), train=False)
    assert data._check_exists()  # what keeps tonic from downloading
    assert len(data) == 110 and sorted(set(data.targets)) == list(range(CLASSES))
    durations = []
    for i in range(0, len(data), 9):
        events, label = data[i]
        assert events.dtype.names == ("x", "y", "p", "t") and len(events) > 1000
        assert events["x"].max() < SENSOR_SIZE[0] and events["y"].max() < SENSOR_SIZE[1]
        assert np.all(np.diff(events["t"]) >= 0)
        durations.append(events["t"].max())
    assert max(durations) - min(durations) > 500_000  # lengths differ by more than 0.5 s


def test_gestures_differ_by_class(root):
    data = tonic.datasets.DVSGesture(str(root), train=False)
    centres = {}
    for events, label in (data[i] for i in range(len(data))):
        centres.setdefault(label, []).append((events["x"].mean(), events["y"].mean()))
    left, right = np.mean(centres[2], 0), np.mean(centres[1], 0)  # left and right hand waves
    assert right[0] - left[0] > 30


def test_analysis_of_emulated_gestures_with_an_snntorch_net(root, tmp_path):
    frames = tt.ToFrame(SENSOR_SIZE, n_time_bins=6)
    data = Subset(tonic.datasets.DVSGesture(str(root), train=False, transform=frames), range(12))
    result = analyze_dataset(
        seeded_gesture_net(), data, tmp_path / "g.h5", num_classes=CLASSES, batch_size=4,
        progress=False, class_names=tonic.datasets.DVSGesture.classes,
    )  # fmt: skip
    assert result.layers == ["2", "5", "9"]
    assert result.mean_maps("2").shape == (CLASSES, 6, 32, 32)
    assert result.mean_maps("5").shape == (CLASSES, 6, 16, 16)
    assert result.mean_rate("2") > 0 and result.sample_mass("5").min() > 0
    assert result.class_names[0] == "Hand clapping"


def test_analyze_command_on_emulated_dvsgesture(root, tmp_path, capsys):
    from sam_plugins.cli import main

    out, report = tmp_path / "g.h5", tmp_path / "report"
    argv = ["analyze", "sam_plugins_tonic.gestures:seeded_gesture_net"]
    argv += ["--dataset", "tonic.datasets:DVSGesture", "--data", str(root), "--limit", "11"]
    argv += ["--time-bins", "8", "--out", str(out), "--report", str(report), "--save-maps"]
    assert main(argv) == 0
    assert "analysed 11 samples" in capsys.readouterr().out
    result = AnalysisResult(out)
    assert result.num_classes == CLASSES and result.class_names[-1] == "Other gestures"
    assert result.sample_maps("2").shape == (11, 32, 32)
    page = (report / "report.html").read_text()
    assert "Right arm cw" in page and "alt='time-summed SAM maps'" in page
