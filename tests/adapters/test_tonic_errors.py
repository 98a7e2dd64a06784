"""Issue 23 item 11, events: an event outside the sensor is named (where it is, and the flag that
sets the sensor); bad framing options and empty axes get our one-line errors, not tonic's
asserts or a model failing on frames of a size no sensor has."""

import warnings

import numpy as np
import pytest
import torch
from sam_plugins_tonic import EVENT_DTYPE, EventError, TonicReader, frame_events, write_nmnist_bin

from sam_plugins import explain
from sam_plugins.cli import main
from sam_plugins.io import LoadError, read_input

SENSOR = (34, 34, 2)


def recording(n=2000, outlier=None):
    """Events on the 34x34 sensor; `outlier` (x, y) puts event 1234 there."""
    rng = np.random.default_rng(0)
    events = np.zeros(n, dtype=EVENT_DTYPE)
    events["x"] = rng.integers(0, 34, n)
    events["y"] = rng.integers(0, 34, n)
    events["p"] = rng.integers(0, 2, n)
    events["t"] = np.sort(rng.integers(0, 300_000, n))
    if outlier is not None:
        events["x"][1234], events["y"][1234] = outlier
    return events


def test_an_event_outside_a_given_sensor_is_named_with_its_coordinates():
    events = recording(outlier=(5, 40))
    t = int(events["t"][1234])
    with pytest.raises(EventError) as info:
        frame_events(events, SENSOR, n_time_bins=10)
    assert f"event 1234 (x=5, y=40, t={t}) is outside the sensor of 34x34 (W x H)" in str(
        info.value
    )


def test_an_event_outside_the_nmnist_sensor_of_a_bin_file_names_the_flag(tmp_path):
    write_nmnist_bin(tmp_path / "r.bin", recording(outlier=(40, 5)))
    with pytest.raises(LoadError) as info:
        read_input(tmp_path / "r.bin")
    message = str(info.value)
    assert "event 1234 (x=40, y=5" in message and "--sensor-size W,H,P" in message, message


def test_a_sensor_read_from_the_events_names_the_farthest_event_and_the_flag(tmp_path, capsys):
    """Before: the model failed on 34x41 frames, and nothing said why they were 41 high."""
    np.save(tmp_path / "e.npy", recording(outlier=(5, 40)))
    with pytest.warns(UserWarning) as seen:
        assert read_input(tmp_path / "e.npy").frames.shape[-2:] == (41, 34)
    message = str(seen[0].message)
    assert "sensor size 34x41x2 (W, H, P) was read from the events" in message, message
    assert "event 1234 (x=5, y=40" in message and "--sensor-size W,H,P" in message, message

    from sam_plugins_demo import FACTORY, WEIGHTS

    argv = ["explain", FACTORY, "--weights", str(WEIGHTS), "--input", str(tmp_path / "e.npy")]
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("sam-plugins: error: ") and err.count("\n") == 1, err
    notes = [line for line in out.splitlines() if "sensor size" in line]
    assert len(notes) == 1 and notes[0].startswith("note: sensor size 34x41x2"), out
    assert "event 1234 (x=5, y=40" in notes[0] and "--sensor-size" in notes[0]
    assert "Warning" not in err


def test_no_note_when_the_sensor_is_given(tmp_path):
    np.save(tmp_path / "e.npy", recording())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        assert read_input(tmp_path / "e.npy", sensor_size=SENSOR).frames.shape[-2:] == (34, 34)


@pytest.mark.parametrize(
    "option, message",
    [
        ({"time_window": 0}, "time_window must be a number of microseconds > 0, found 0"),
        ({"time_window": -5.0}, "time_window must be a number of microseconds > 0, found -5.0"),
        ({"time_window": float("nan")}, "found nan"),
        ({"event_count": 0}, "event_count must be an int >= 1, found 0"),
        ({"event_count": -3}, "found -3"),
        ({"event_count": 2.5}, "found 2.5"),
        ({"n_time_bins": 0}, "n_time_bins must be an int >= 1, found 0"),
    ],
)
def test_bad_framing_options_are_our_one_line_error_not_tonics_assert(option, message):
    with pytest.raises(EventError) as info:
        frame_events(recording(), SENSOR, **option)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_an_overlap_as_long_as_the_window_is_our_error_not_tonics_assert():
    with pytest.raises(
        EventError,
        match=r"overlap must be >= 0 and smaller than time_window \(100000\), found 200000",
    ):
        frame_events(recording(), SENSOR, time_window=100_000, overlap=200_000)
    with pytest.raises(EventError, match=r"smaller than event_count \(10\), found 10"):
        frame_events(recording(), SENSOR, event_count=10, overlap=10)


def test_a_window_longer_than_the_recording_is_one_frame_of_every_event():
    framed = frame_events(recording(), SENSOR, time_window=10_000_000)
    assert framed.frames.shape == (1, 2, 34, 34) and framed.frames.sum() == 2000


@pytest.mark.parametrize(
    "shape, axis",
    [((0, 2, 2, 8, 8), "T = 0 (no time steps)"), ((4, 0, 2, 8, 8), "B = 0 (no samples)")],
)
def test_empty_axes_are_named(tmp_path, shape, axis):
    with pytest.raises(ValueError, match=axis.replace("(", r"\(").replace(")", r"\)")):
        explain(torch.nn.Sequential(torch.nn.ReLU()), torch.zeros(shape), layers=["0"])
    np.save(tmp_path / "f.npy", np.zeros(shape, np.float32))
    with pytest.raises(LoadError, match=axis.replace("(", r"\(").replace(")", r"\)")):
        read_input(tmp_path / "f.npy")


def test_a_tonic_reader_reads_a_good_file_unchanged(tmp_path):
    np.save(tmp_path / "e.npy", recording())
    frames = TonicReader().read(tmp_path / "e.npy", 10, SENSOR)
    assert frames.shape == (10, 2, 34, 34) and frames.sum() == 2000
