"""Issue 34 items 4 and 5, issue 33 item 4: one's own recordings as a dataset
(``sam-plugins analyze --dataset files --data DIR``), --crop / --downsample on datasets, and a
tonic dataset that is not in --data said as such (not tonic's bare download error)."""

import os
import subprocess
import sys
from pathlib import Path

import faery
import numpy as np
import pytest
import tonic
from sam_plugins_demo import FACTORY, WEIGHTS
from sam_plugins_tonic import EVENT_DTYPE, TonicReader, write_nmnist_bin
from sam_plugins_tonic.events import to_frames
from sam_plugins_tonic.nmnist import write_nmnist

from sam_plugins.analysis import AnalysisResult
from sam_plugins.cli import main
from sam_plugins.io import read_input
from sam_plugins.io.events import EventTransform


def recording(seed: int, vertical: bool, n: int = 2000) -> np.ndarray:
    """A bar sweeping across the 34x34 sensor (vertical: along x), reaching (33, 33)."""
    rng = np.random.default_rng(seed)
    events = np.zeros(n, dtype=EVENT_DTYPE)
    events["t"] = np.sort(rng.integers(0, 200_000, n))
    sweep = np.clip(events["t"] * 34 // 200_000 + rng.integers(-2, 3, n), 0, 33)
    across = rng.integers(0, 34, n)
    events["x"], events["y"] = (sweep, across) if vertical else (across, sweep)
    events["x"][-1] = events["y"][-1] = 33
    events["p"] = rng.integers(0, 2, n)
    return events


def to_faery(path: Path, events: np.ndarray, **options) -> None:
    array = np.zeros(len(events), dtype=faery.EVENTS_DTYPE)
    array["t"], array["x"], array["y"] = events["t"], events["x"], events["y"]
    array["on"] = events["p"].astype(bool)
    faery.events_stream_from_array(array, dimensions=(34, 34)).to_file(path, **options)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """DIR/<class>/<recording> in four formats: 'vertical' and 'horizontal' bars, 3 each."""
    root = tmp_path_factory.mktemp("recordings")
    for name, vertical in (("vertical", True), ("horizontal", False)):
        folder = root / name
        folder.mkdir()
        np.save(folder / "a.npy", recording(1 + vertical, vertical))
        write_nmnist_bin(folder / "b.bin", recording(3 + vertical, vertical))
        to_faery(folder / "c.aedat4", recording(5 + vertical, vertical))
        to_faery(folder / "d.raw", recording(7 + vertical, vertical), version="evt3")
    return root


def test_a_folder_of_recordings_is_a_dataset_framed_like_each_file(data):
    dataset = TonicReader().open_dataset("files", data, False, 10)
    assert dataset.classes == ["horizontal", "vertical"] and len(dataset) == 8
    assert dataset.sensor_size == (34, 34, 2)
    for i, (path, label) in enumerate(dataset.samples):
        frames, got = dataset[i]
        assert got == label == ["horizontal", "vertical"].index(path.parent.name)
        expected = read_input(path, 10, (34, 34, 2)).frames[:, 0].numpy()
        np.testing.assert_array_equal(frames, expected)
        assert frames.shape == (10, 2, 34, 34) and frames.sum() == 2000


def test_analyze_files_as_typed_names_the_classes_in_the_report(data, tmp_path, capsys):
    out, report = tmp_path / "files.h5", tmp_path / "report"
    argv = ["analyze", FACTORY, "--weights", str(WEIGHTS), "--dataset", "files"]
    argv += ["--data", str(data), "--out", str(out), "--report", str(report)]
    assert main(argv) == 0
    result = AnalysisResult(out)
    assert result.done == 8 and result.class_names == ["horizontal", "vertical"]
    page = (report / "report.html").read_text()
    assert "horizontal" in page and "vertical" in page
    assert main(argv) == 0  # resumed: nothing left to do, the same result
    assert AnalysisResult(out).done == 8 and "analysed 8 samples" in capsys.readouterr().out


def test_crop_and_downsample_frame_each_recording_of_a_dataset(data, tmp_path, capsys):
    dataset = TonicReader().open_dataset(
        "files", data, False, 6, crop=(1, 1, 32, 32), downsample=0.5
    )
    assert dataset.sensor_size == (16, 16, 2)
    path = dataset.samples[0][0]
    frames, _ = dataset[0]
    expected = read_input(path, 6, (34, 34, 2), crop=(1, 1, 32, 32), downsample=0.5)
    np.testing.assert_array_equal(frames, expected.frames[:, 0].numpy())
    assert frames.shape == (6, 2, 16, 16) and 0 < frames.sum() < 2000

    out = tmp_path / "small.h5"
    argv = ["analyze", "plain_snn:ConvSNN", "--layers", "lif1", "lif2", "lif3"]
    argv += ["--dataset", "files", "--data", str(data), "--crop", "1,1,32,32"]
    argv += ["--downsample", "0.5", "--num-classes", "10", "--out", str(out), "--no-report"]
    assert main(argv) == 0
    assert AnalysisResult(out).mean_maps("lif1").shape[-2:] == (16, 16)
    capsys.readouterr()
    # the same file with another region of the sensor: the analysis records what the events
    # went through, and a run on other events is refused instead of mixed into it
    assert main([a if a != "1,1,32,32" else "2,2,32,32" for a in argv]) == 2
    error = capsys.readouterr().err
    assert "other settings" in error and "crop" in error and "2,2,32,32" in error, error


def narrow() -> np.ndarray:
    """A recording whose events reach x = 32 only: its sensor, read from them, is 33 wide."""
    events = recording(9, True)
    events["x"] = np.minimum(events["x"], 32)
    return events


def brief() -> np.ndarray:
    """Three events over 2 us: shorter than 10 time bins of 1 us."""
    events = recording(9, True)[:3]
    events["t"] = [5, 6, 7]
    return events


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: (d / "horizontal" / "notes.txt").write_text("x"), ".txt is not an event file"),
        (lambda d: (d / "empty").mkdir(), "holds no recordings"),
        (lambda d: np.save(d / "vertical" / "e.npy", narrow()), "a 33x34x2 sensor"),
        (lambda d: write_nmnist_bin(d / "vertical" / "s.bin", brief()), "lasts 2 us"),
        (lambda d: write_nmnist_bin(d / "vertical" / "s.bin", brief()[:0]), "holds no events"),
    ],
)
def test_bad_dataset_folders_are_one_line_errors(data, tmp_path, capsys, make, message):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(data, root)
    make(root)
    argv = ["analyze", FACTORY, "--weights", str(WEIGHTS), "--dataset", "files"]
    argv += ["--data", str(root), "--out", str(tmp_path / "o.h5"), "--report", str(tmp_path / "r")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("sam-plugins: error: ") and err.count("\n") == 1, err
    assert message in err, err
    assert [p.name for p in tmp_path.iterdir()] == ["copy"]  # no o.h5, o.h5.parts, r/


def test_crop_and_downsample_apply_to_tonic_datasets(tmp_path):
    write_nmnist(tmp_path)  # tonic's NMNIST wants its 10000 test files
    dataset = TonicReader().open_dataset(
        tonic.datasets.NMNIST, tmp_path, False, 5, crop=(2, 2, 30, 30), downsample=0.5
    )
    frames, label = dataset[3]
    events, same = tonic.datasets.NMNIST(str(tmp_path), train=False)[3]
    transform = EventTransform((34, 34, 2), (2, 2, 30, 30), 0.5)
    assert transform.sensor_size == (15, 15, 2) and label == same
    np.testing.assert_array_equal(frames, to_frames((15, 15, 2), 5)(transform(events)))
    assert frames.shape == (5, 2, 15, 15) and 0 < frames.sum() < len(events)


def test_a_tonic_dataset_not_in_the_folder_says_where_tonic_expects_it(tmp_path):
    """Issue 33 item 4: tonic tried to download it and the command printed only
    '<urlopen error ...>'. Here no download can succeed (a proxy that refuses), as offline."""
    missing = tmp_path / "nonexistent"
    env = {**os.environ, "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    env.pop("no_proxy", None), env.pop("NO_PROXY", None)
    exe = Path(sys.executable).parent / "sam-plugins"
    argv = [exe, "analyze", "--dataset", "tonic.datasets:NMNIST", "--data", str(missing)]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"{missing}/ does not hold the test split of NMNIST" in done.stderr
    assert f"tonic expects its files in {missing}/NMNIST/ (test.zip" in done.stderr
    assert "where there is network, tonic downloads them there" in done.stderr
    assert not missing.exists()  # the folders tonic made for its download are gone
    assert not (tmp_path / "sam-analysis.h5").exists()
