"""Issue 17, event files and framing: every event counted, corrupt or out-of-range files refused
as EventError with what was expected and what was found, N-MNIST files read in linear time."""

import numpy as np
import pytest
import tonic
import tonic.transforms as tt
import torch
from sam_plugins_tonic import EVENT_DTYPE, EventError, TonicReader, frame_events, write_nmnist_bin
from sam_plugins_tonic.events import TimeBinFrames, to_frames
from sam_plugins_tonic.formats import read_nmnist_bin

from sam_plugins.io import LoadError, read_input

SENSOR = (34, 34, 2)


def recording(n=3000, seed=0, sensor=SENSOR, duration=300_000):
    rng = np.random.default_rng(seed)
    events = np.zeros(n, dtype=EVENT_DTYPE)
    events["x"] = rng.integers(0, sensor[0], n)
    events["y"] = rng.integers(0, sensor[1], n)
    events["p"] = rng.integers(0, sensor[2], n)
    events["t"] = np.sort(rng.integers(0, duration, n))
    return events


# --- framing: every event counted --------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("bins", [1, 3, 7, 10])
def test_time_bins_count_every_event_and_match_tonic_elsewhere(seed, bins):
    events = recording(seed=seed)
    ours = to_frames(SENSOR, bins)(events)
    theirs = tt.ToFrame(SENSOR, n_time_bins=bins)(events)
    assert ours.shape == theirs.shape == (bins, 2, 34, 34)
    assert ours.sum() == len(events)  # tonic's drops the events at or after t0 + bins * width
    np.testing.assert_array_equal(ours[:-1], theirs[:-1])  # the same bins as tonic's ...
    width = (events["t"][-1] - events["t"][0]) // bins
    late = events[events["t"] >= events["t"][0] + bins * width]  # ... but these are counted
    assert len(late) > 0
    lost = np.zeros((2, 34, 34))
    np.add.at(lost, (late["p"], late["y"], late["x"]), 1)
    np.testing.assert_array_equal(ours[-1], theirs[-1] + lost)


def test_a_recording_with_one_timestamp_is_framed_whole():
    events = recording(50)
    events["t"] = 1234
    assert tt.ToFrame(SENSOR, n_time_bins=4)(events).sum() == 0  # what tonic gives
    frames = to_frames(SENSOR, 4)(events)
    assert frames.sum() == 50 and frames[-1].sum() == 50
    framed = frame_events(events, SENSOR, n_time_bins=4)
    assert framed.frames.sum() == 50 and framed.spans[-1].tolist() == [1234, 1234]


def test_counts_do_not_wrap_around():
    events = np.zeros(40_000, dtype=EVENT_DTYPE)  # one hot pixel: over int16's 32767
    events["t"] = np.arange(40_000)
    assert tt.ToFrame(SENSOR, n_time_bins=1)(events).min() < 0  # tonic's int16 wraps
    assert to_frames(SENSOR, 1)(events)[0, 0, 0, 0] == 40_000
    for kw in ({"n_time_bins": 1}, {"time_window": 50_000.0}, {"event_count": 40_000}):
        assert frame_events(events, SENSOR, **kw).frames[0, 0, 0, 0] == 40_000


def test_frame_events_spans_cover_every_event():
    events = recording(seed=5)
    framed = frame_events(events, SENSOR, n_time_bins=6)
    assert framed.frames.sum() == len(events)
    t = events["t"]
    for frame, (start, end) in zip(framed.frames, framed.spans, strict=True):
        assert frame.sum() == ((t >= start) & (t <= end)).sum()
    assert framed.spans[-1, 1] == t[-1]


def test_time_bin_frames_is_a_dataset_transform():
    transform = TimeBinFrames(SENSOR, 5)
    assert isinstance(to_frames(SENSOR, 5), TimeBinFrames)
    frames = tt.Compose([tt.Denoise(filter_time=10_000), transform])(recording())
    assert frames.shape == (5, 2, 34, 34) and frames.dtype == np.float32
    with pytest.raises(EventError, match=r"'x' must be in \[0, 34\)"):
        transform(recording(sensor=(40, 34, 2)))
    with pytest.raises(ValueError, match="n_time_bins must be"):
        TimeBinFrames(SENSOR, 0)


def test_frames_beyond_a_sane_size_are_refused_before_allocating():
    events = recording(10)
    with pytest.raises(EventError, match=r"GiB"):
        frame_events(events, (100_000, 100_000, 2), n_time_bins=10)


def test_timestamps_beyond_the_int64_safe_range_are_refused():
    events = recording(4)
    events["t"] = [-(2**62), 0, 1, 2**62]
    with pytest.raises(EventError, match="timestamps"):
        frame_events(events, SENSOR, n_time_bins=3)


# --- N-MNIST .bin files ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_bin_reader_equals_tonics_on_small_files(tmp_path, seed):
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, 5 * 400, dtype=np.uint8)
    raw[1::5][rng.random(400) < 0.05] = 240  # timestamp overflow markers, as in N-MNIST
    path = tmp_path / "r.bin"
    path.write_bytes(raw.tobytes())
    theirs = tonic.io.read_mnist_file(str(path), dtype=EVENT_DTYPE)
    ours = read_nmnist_bin(path)
    assert ours.dtype == theirs.dtype and len(ours) < 400
    np.testing.assert_array_equal(ours, theirs)


def test_bin_reader_round_trips_written_files(tmp_path):
    events = recording(seed=1, duration=2**23)
    write_nmnist_bin(tmp_path / "a.bin", events)
    np.testing.assert_array_equal(read_nmnist_bin(tmp_path / "a.bin"), events)
    write_nmnist_bin(tmp_path / "e.bin", events[:0])
    assert len(read_nmnist_bin(tmp_path / "e.bin")) == 0


def test_bin_reader_reads_random_files_whole(tmp_path):
    """Random bytes: one event in 256 is a timestamp-overflow marker (y = 240), the rest are
    events (how fast this is against tonic's quadratic reader: benchmarks/bench_event_files.py)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "random.bin"
    path.write_bytes(rng.integers(0, 256, 2_000_000, dtype=np.uint8).tobytes())
    events = read_nmnist_bin(path)
    expected = 400_000 * 255 / 256
    assert abs(len(events) - expected) < 0.01 * expected
    assert (np.diff(events["t"].astype(np.int64)) >= -(2**23)).all()


def test_bad_bin_files_are_event_errors_saying_what_was_found(tmp_path):
    path = tmp_path / "r.bin"
    path.write_bytes(bytes(12))
    with pytest.raises(EventError, match=r"corrupt.*5 bytes per event, found 12 bytes"):
        read_nmnist_bin(path)
    path.write_bytes(b"")
    with pytest.raises(EventError, match="empty"):
        TonicReader().read(path, 10, None)
    rng = np.random.default_rng(3)
    path.write_bytes(rng.integers(0, 256, 5 * 100, dtype=np.uint8).tobytes())
    with pytest.raises(EventError, match="sorted|must be in"):
        TonicReader().read(path, 10, None)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("p", 2, r"polarities must be 0 or 1, found [01]\.\.2"),
        ("p", -1, "polarities must be 0 or 1"),
        ("x", 256, r"x in \[0, 255\]"),
        ("y", -1, r"y in \[0, 239\]"),
        ("t", -1, "timestamps"),
    ],
)
def test_write_nmnist_bin_refuses_what_the_format_cannot_hold(tmp_path, field, value, message):
    events = recording(5)
    events[field][2] = value
    with pytest.raises(EventError, match=message):
        write_nmnist_bin(tmp_path / "w.bin", events)
    assert not (tmp_path / "w.bin").exists()


# --- event .npy files ----------------------------------------------------------------------------
def npy(tmp_path, **fields):
    events = recording(4)
    for name, values in fields.items():
        events[name] = values
    np.save(tmp_path / "e.npy", events)
    return tmp_path / "e.npy"


def test_huge_coordinates_without_a_sensor_size_are_refused_naming_it(tmp_path):
    path = npy(tmp_path, x=[0, 1, 2, 100_000], y=[0, 0, 0, 100_000])
    with pytest.raises(EventError, match=r"x up to 100000, y up to 100000.*--sensor-size"):
        TonicReader().read(path, 10, None)
    with pytest.raises(LoadError, match="--sensor-size"):  # one line on the command line
        read_input(path)


def test_polarities_other_than_0_1_without_a_sensor_size_are_refused(tmp_path):
    with pytest.raises(EventError, match=r"polarities.*found 0\.\.9.*--sensor-size"):
        TonicReader().read(npy(tmp_path, p=[0, 1, 9, 1]), 10, None)


def test_events_outside_a_given_sensor_are_reported_as_such(tmp_path):
    path = npy(tmp_path, x=[0, 1, 2, 100_000])
    with pytest.raises(EventError, match=r"'x' must be in \[0, 34\).*0\.\.100000: events outside"):
        TonicReader().read(path, 10, SENSOR)


@pytest.mark.parametrize(
    "field, message", [("x", "'x' must be in"), ("y", "'y' must be in"), ("p", "polarities")]
)
def test_negative_fields_are_refused(tmp_path, field, message):
    with pytest.raises(EventError, match=message):
        TonicReader().read(npy(tmp_path, **{field: [0, -3, 0, 1]}), 10, None)


def test_good_npy_recording_still_reads(tmp_path):
    frames = TonicReader().read(npy(tmp_path, x=[0, 5, 9, 33], y=[1, 2, 3, 4]), 4, None)
    assert frames.shape == (4, 2, 5, 34) and frames.sum() == 4
    assert isinstance(frames, torch.Tensor)
