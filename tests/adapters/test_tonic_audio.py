"""Audio event data through tonic: emulated SHD and SSC files read by tonic's own classes
offline, framed into [T, channels] bins, explained from one recording and analysed end to end
on the command line, per-class maps of the fully connected layers in the HDF5 file."""

import numpy as np
import pytest
import tonic
import torch
from sam_plugins_tonic.audio import (
    SENSOR_SIZE,
    SHD_KEYS,
    SSC_KEYS,
    ChannelFrames,
    seeded_audio_net,
    write_shd,
    write_ssc,
)

from sam_plugins.analysis import AnalysisResult
from sam_plugins.cli import main


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio")
    write_shd(root, train=False, per_class=2)
    write_ssc(root, split="valid", per_class=1)
    return root


def test_tonic_reads_the_emulated_shd_and_ssc_without_downloading(root):
    shd = tonic.datasets.SHD(str(root), train=False)
    assert shd._check_exists()  # what keeps tonic from downloading
    assert len(shd) == 40 and [k.decode() for k in shd.classes] == SHD_KEYS
    events, label = shd[0]
    assert events.dtype.names == ("t", "x", "p") and len(events) > 1000
    assert events["x"].max() < SENSOR_SIZE[0] and np.all(np.diff(events["t"]) >= 0)
    durations = [shd[i][0]["t"].max() for i in range(0, 40, 4)]
    assert max(durations) - min(durations) > 100_000  # lengths differ (microseconds)
    ssc = tonic.datasets.SSC(str(root), split="valid")
    assert len(ssc) == 35 and [k.decode() for k in ssc.classes] == SSC_KEYS
    assert ssc[0][0].dtype.names == ("t", "x", "p")


def test_classes_differ_in_where_the_channels_fire(root):
    shd = tonic.datasets.SHD(str(root), train=False)
    centre = {}
    for events, label in (shd[i] for i in range(len(shd))):
        centre.setdefault(int(label), []).append(events["x"].mean())
    spread = np.ptp([np.mean(v) for v in centre.values()])
    within = np.mean([np.ptp(v) for v in centre.values()])
    assert spread > 3 * within


def test_channel_frames_are_tonic_to_frame_bins_with_every_spike_counted(root):
    events, _ = tonic.datasets.SHD(str(root), train=False)[3]
    ours = ChannelFrames(SENSOR_SIZE, 20)(events)
    theirs = tonic.transforms.ToFrame(SENSOR_SIZE, n_time_bins=20)(events)  # [20, 1, 700]
    assert ours.shape == (20, 700) and theirs.shape == (20, 1, 700)
    np.testing.assert_array_equal(ours[:-1], theirs[:-1, 0])  # the same bins
    assert ours.sum() == len(events) > theirs.sum()  # tonic drops the last timestamp's spikes


def test_explain_command_on_one_shd_recording(root, tmp_path, capsys):
    events, _ = tonic.datasets.SHD(str(root), train=False)[0]
    np.save(tmp_path / "recording.npy", events)  # a recording as a user saves it from tonic
    torch.save(seeded_audio_net().state_dict(), tmp_path / "net.pt")
    argv = ["explain", "sam_plugins_tonic.audio:seeded_audio_net", "--weights"]
    argv += [str(tmp_path / "net.pt"), "--input", str(tmp_path / "recording.npy")]
    assert main([*argv, "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "report.html").stat().st_size > 1000
    beyond = events.copy()
    beyond["x"][0] = 900
    np.save(tmp_path / "bad.npy", beyond)
    argv[argv.index(str(tmp_path / "recording.npy"))] = str(tmp_path / "bad.npy")
    assert main([*argv, "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "channel 900" in err and "--sensor-size" in err and "Traceback" not in err


def test_analyze_command_on_emulated_shd_keeps_per_class_maps_of_every_layer(root, tmp_path):
    out = tmp_path / "shd.h5"
    argv = ["analyze", "sam_plugins_tonic.audio:seeded_audio_net"]
    argv += ["--dataset", "tonic.datasets:SHD", "--data", str(root), "--time-bins", "12"]
    assert main([*argv, "--out", str(out), "--report", str(tmp_path / "report")]) == 0
    result = AnalysisResult(out)
    assert result.done == 40 and result.class_names == SHD_KEYS
    assert result.layers == ["2", "4"]
    hidden, output = result.mean_maps("2"), result.mean_maps("4")  # [classes, bins, neurons]
    assert hidden.shape == (20, 12, 128) and output.shape == (20, 12, 20)
    assert np.nansum(hidden) > 0
    # the class means are the per-sample profiles' means: the maps sum to the SAM mass
    np.testing.assert_allclose(np.nansum(hidden, axis=2), result.profile("2"), rtol=1e-4, atol=1e-6)
    assert (tmp_path / "report" / "report.html").exists()


def test_analyze_command_on_emulated_ssc(root, tmp_path):
    write_ssc(root, split="test", per_class=1)
    out = tmp_path / "ssc.h5"
    argv = ["analyze", "sam_plugins_tonic.audio:seeded_audio_net", "--num-classes", "35"]
    argv += ["--dataset", "tonic.datasets:SSC", "--data", str(root), "--time-bins", "8"]
    assert main([*argv, "--limit", "10", "--out", str(out), "--no-report"]) == 0
    result = AnalysisResult(out)
    assert result.done == 10 and result.class_names == SSC_KEYS
    assert result.mean_maps("2").shape == (35, 8, 128)
