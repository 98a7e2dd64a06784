"""sam_plugins.io.events (EventStream, --crop / --downsample, checked chunks) and the core's
open_events / Inputs.sensor_size over the installed readers (tonic's: event .npy, N-MNIST .bin)."""

import argparse
import warnings

import numpy as np
import pytest
import tonic.transforms as T
from sam_plugins_tonic import EVENT_DTYPE, write_nmnist_bin

from sam_plugins.io import LoadError, read_input
from sam_plugins.io.events import (
    EventFileError,
    EventStream,
    EventTransform,
    checked_chunks,
    parse_crop,
    parse_downsample,
)
from sam_plugins.io.inputs import open_events


def recording(n=500, width=34, height=34, seed=0):
    rng = np.random.default_rng(seed)
    events = np.zeros(n, dtype=EVENT_DTYPE)
    events["x"] = rng.integers(0, width, n)
    events["y"] = rng.integers(0, height, n)
    events["p"] = rng.integers(0, 2, n)
    events["t"] = np.sort(rng.integers(0, 100_000, n))
    return events


def test_parse_crop_and_downsample_read_the_flags_and_refuse_the_rest():
    assert parse_crop("2,3,20,10") == (2, 3, 20, 10)
    assert parse_downsample("0.5") == 0.5
    for bad in ("1,2,3", "1,2,3,0", "-1,0,5,5", "a,b,c,d"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected X,Y,W,H"):
            parse_crop(bad)
    for bad in ("0", "1.5", "-0.5", "nan", "half"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"factor in \(0, 1\]"):
            parse_downsample(bad)


def test_downsample_is_tonics_and_crop_keeps_the_region_shifted():
    events = recording(2000, 346, 260)
    down = EventTransform((346, 260, 2), downsample=0.25)
    expected = T.Downsample(spatial_factor=0.25)(events)
    np.testing.assert_array_equal(down(events), expected)
    assert down.sensor_size == (87, 65, 2) and down.region == (0, 0, 346, 260)
    assert down(events)["x"].max() < 87 and down(events)["y"].max() < 65

    both = EventTransform((346, 260, 2), crop=(100, 50, 40, 30), downsample=0.5)
    assert both.sensor_size == (20, 15, 2) and both.region == (100, 50, 40, 30)
    inside = (events["x"] >= 100) & (events["x"] < 140) & (events["y"] >= 50) & (events["y"] < 80)
    out = both(events)
    assert len(out) == inside.sum() > 0
    np.testing.assert_array_equal(out["x"], (events["x"][inside] - 100) // 2)
    np.testing.assert_array_equal(out["y"], (events["y"][inside] - 50) // 2)
    np.testing.assert_array_equal(out["t"], events["t"][inside])
    assert EventTransform((34, 34, 2))(events) is events  # nothing asked: nothing done
    with pytest.raises(ValueError, match=r"--crop 30,0,10,10 is not inside the sensor of 34x34"):
        EventTransform((34, 34, 2), crop=(30, 0, 10, 10))


def test_checked_chunks_name_an_event_outside_the_sensor_and_refuse_empty(tmp_path):
    events = recording(300)
    events["x"][250] = 34  # the first pixel beyond
    chunks = checked_chunks([events[:200], events[200:]], (34, 34, 2), tmp_path / "r.raw")
    assert len(next(chunks)) == 200
    with pytest.raises(EventFileError, match=r"event 250 \(x=34, y=\d+, p=\d, t=\d+\) is outside"):
        next(chunks)
    back = recording(300)
    back["t"][200] = 0
    with pytest.raises(EventFileError, match=r"event 200 \(t=0\) comes before"):
        list(checked_chunks([back[:200], back[200:]], (34, 34, 2), tmp_path / "r.raw"))
    with pytest.raises(EventFileError, match="holds no events"):
        list(checked_chunks([events[:0]], (34, 34, 2), tmp_path / "r.raw"))


def test_open_events_streams_npy_and_bin_files_with_their_sensor(tmp_path):
    events = recording(2500)
    np.save(tmp_path / "r.npy", events)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the sensor is read from the events: a note
        stream = open_events(tmp_path / "r.npy")
    assert isinstance(stream, EventStream) and stream.sensor_from_events
    assert stream.sensor_size == (34, 34, 2) and stream.path == tmp_path / "r.npy"
    np.testing.assert_array_equal(np.concatenate(list(stream.chunks)), events)
    given = open_events(tmp_path / "r.npy", (50, 40, 2))
    assert given.sensor_size == (50, 40, 2) and not given.sensor_from_events

    write_nmnist_bin(tmp_path / "r.bin", events)
    stream = open_events(tmp_path / "r.bin")
    assert stream.sensor_size == (34, 34, 2) and not stream.sensor_from_events
    np.testing.assert_array_equal(np.concatenate(list(stream.chunks))["x"], events["x"])

    (tmp_path / "r.xyz").write_text("")
    read = r"\.xyz is not an event file .*\(event files read: .*\.bin"
    with pytest.raises(LoadError, match=read):
        open_events(tmp_path / "r.xyz")


def test_inputs_say_the_sensor_and_whether_it_was_read_from_the_events(tmp_path):
    """Issue 33 item 7: one event at x = 40 in a 34x34 recording gives 41-px-wide frames; the
    Inputs say the sensor came from the events, so explain can say so when the model fails."""
    events = recording(400)
    events["x"][123] = 40
    np.save(tmp_path / "r.npy", events)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = read_input(tmp_path / "r.npy")
    assert inputs.frames.shape[-1] == 41
    assert inputs.sensor_size == (41, 34, 2) and inputs.sensor_from_events
    given = read_input(tmp_path / "r.npy", sensor_size=(41, 34, 2))
    assert given.sensor_size == (41, 34, 2) and not given.sensor_from_events
    frames = read_input(tmp_path / "r.npy", sensor_size=(41, 34, 2), crop=(0, 0, 34, 34))
    assert frames.frames.shape[-2:] == (34, 34) and frames.frames.sum() == len(events) - 1
    half = read_input(tmp_path / "r.npy", sensor_size=(41, 34, 2), downsample=0.5)
    assert half.frames.shape[-2:] == (17, 21) and half.frames.sum() == len(events)
