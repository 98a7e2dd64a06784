"""Event data through tonic: the emulator, N-MNIST files read by tonic, framing with tonic's
transforms, SAM on the sensor grid, bad input (the dataset analysis: tests/analysis/)."""

import numpy as np
import pytest
import snntorch as snn
import tonic
import tonic.transforms as tt
import torch
from conftest import assert_matches_reference, hook_count, record_spikes
from sam_plugins_demo import EmulatedDigits, load_digits
from sam_plugins_tonic import (
    EVENT_DTYPE,
    EventError,
    SaccadeEmulator,
    TonicReader,
    check_events,
    explain_events,
    frame_events,
    polarity_image,
    write_nmnist_bin,
)
from snntorch import utils
from torch import nn

SENSOR = (34, 34, 2)
GAMMA = 0.5


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return tmp_path_factory.mktemp("events")


def conv_snn(channels=2):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(channels, 4, 3, padding=1),
        nn.MaxPool2d(2),
        snn.Leaky(beta=0.9, init_hidden=True, threshold=0.5),
        nn.Flatten(),
        nn.Linear(4 * 17 * 17, 10),
        snn.Leaky(beta=0.9, init_hidden=True, output=True, threshold=0.2),
    ).eval()


# --- the emulator and the file format ---------------------------------------------------------
def test_emulator_makes_nmnist_like_recordings():
    images, _ = load_digits(size=26)
    image = images[3, 0].numpy()
    events = SaccadeEmulator()(image, seed=3)
    check_events(events, SENSOR)
    assert np.array_equal(events, SaccadeEmulator()(image, seed=3)), "not deterministic"
    assert 1000 < len(events) < 20000
    assert set(np.unique(events["p"])) == {0, 1}
    assert 250_000 < events["t"].max() < 300_000  # three saccades of 100 ms
    # events come from where the digit is swept over (its box + the 7 px travel), bar noise
    ys, xs = np.nonzero(image > 0.1)
    near = (
        (events["x"] >= xs.min())
        & (events["x"] <= xs.max() + 8)
        & (events["y"] >= ys.min())
        & (events["y"] <= ys.max() + 8)
    )
    assert near.mean() > 0.95
    blank = SaccadeEmulator()(np.zeros((26, 26)), seed=0)  # only background activity
    assert len(blank) < 0.05 * len(events)


def test_nmnist_file_round_trip_through_tonic(tmp_path):
    events = SaccadeEmulator()(load_digits(size=26)[0][0, 0].numpy(), seed=0)
    write_nmnist_bin(tmp_path / "a.bin", events)
    back = tonic.io.read_mnist_file(str(tmp_path / "a.bin"), dtype=EVENT_DTYPE)
    assert np.array_equal(back, events)
    late = events.copy()
    late["t"][-1] = 2**23
    with pytest.raises(ValueError, match="timestamps"):
        write_nmnist_bin(tmp_path / "b.bin", late)


def test_emulated_digits_is_a_tonic_dataset(digits):
    labels = load_digits()[1]
    train = EmulatedDigits(digits, train=True, limit=12)
    test = EmulatedDigits(digits, train=False, limit=8)
    assert len(train) == 12 and len(test) == 8
    assert train.targets == labels[:12].tolist() and test.targets == labels[1500:1508].tolist()
    events, label = test[2]
    assert label == int(labels[1502]) and events.dtype == EVENT_DTYPE
    framed = EmulatedDigits(
        digits,
        train=False,
        limit=8,
        generate=False,
        transform=tt.Compose(
            [
                tt.Denoise(filter_time=10_000),
                tt.Downsample(spatial_factor=0.5),
                tt.ToFrame(sensor_size=(17, 17, 2), n_time_bins=5),
            ]
        ),
    )
    frames, _ = framed[2]
    assert frames.shape == (5, 2, 17, 17) and 0 < frames.sum() <= len(events)
    with pytest.raises(FileNotFoundError, match="generate=True"):
        EmulatedDigits(digits, train=False, limit=20, generate=False)


def test_corrupt_and_foreign_files_are_reported(digits, tmp_path):
    test = EmulatedDigits(tmp_path, train=False, limit=2)
    path = test.data[0]
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(EventError, match="corrupt"):
        test[0]
    events = SaccadeEmulator()(np.zeros((26, 26)), seed=0)
    events["x"][0] = 60
    write_nmnist_bin(test.data[1], events)
    with pytest.raises(EventError, match=r"'x' must be in \[0, 34\)"):
        test[1]
    (tmp_path / "EmulatedDigits" / "emulator.json").write_text("{}")
    with pytest.raises(ValueError, match="other emulator settings"):
        EmulatedDigits(tmp_path, train=False, limit=3)


# --- framing and SAM on the sensor grid -------------------------------------------------------
def test_frames_match_tonic_and_know_their_time_spans(digits):
    events, _ = EmulatedDigits(digits, train=False, limit=8)[0]
    for kw in ({"n_time_bins": 7}, {"time_window": 40_000}, {"event_count": 900}):
        framed = frame_events(events, SENSOR, **kw)
        expected = tt.ToFrame(SENSOR, **kw)(events)
        if "n_time_bins" in kw:  # tonic's last bin drops the last events; ours counts them
            assert framed.frames.sum() == len(events) > expected.sum()
            framed.frames, expected = framed.frames[:-1], expected[:-1]
            framed.spans = framed.spans[:-1]
        assert np.array_equal(framed.frames.numpy(), expected)
        t = events["t"]
        for frame, (start, end) in zip(framed.frames, framed.spans, strict=True):
            assert frame.sum() == ((t >= start) & (t <= end)).sum()
        assert np.all(np.diff(framed.spans[:, 0]) > 0)


BAD = {
    "outside the sensor": (lambda e: e.__setitem__("y", e["y"] + 30), r"'y' must be in \[0, 34\)"),
    "unsorted": (lambda e: e.__setitem__("t", e["t"][::-1].copy()), "sorted"),
    "bad polarity": (lambda e: e.__setitem__("p", e["p"] + 1), r"'p' must be in \[0, 2\)"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_events_get_clear_errors(case, digits):
    events, _ = EmulatedDigits(digits, train=False, limit=8)[0]
    events = events.copy()
    BAD[case][0](events)
    with pytest.raises(EventError, match=BAD[case][1]):
        explain_events(conv_snn(), events, SENSOR, n_time_bins=5)


def test_malformed_event_arrays_get_clear_errors():
    with pytest.raises(EventError, match="empty"):
        check_events(np.zeros(0, dtype=EVENT_DTYPE), SENSOR)
    no_p = np.zeros(3, dtype=[("x", int), ("y", int), ("t", int)])
    with pytest.raises(EventError, match=r"lack field\(s\) \['p'\]"):
        check_events(no_p, SENSOR)
    floats = np.zeros(3, dtype=[("x", float), ("y", int), ("t", int), ("p", int)])
    with pytest.raises(EventError, match="'x' must be integer"):
        check_events(floats, SENSOR)
    with pytest.raises(EventError, match="structured array"):
        check_events(np.zeros((3, 4)), SENSOR)
    with pytest.raises(ValueError, match="exactly one of"):
        frame_events(np.zeros(1, dtype=EVENT_DTYPE), SENSOR, n_time_bins=3, event_count=4)


def test_explain_events_matches_reference_on_the_sensor_grid(digits):
    events, label = EmulatedDigits(digits, train=False, limit=8)[1]
    net = conv_snn()
    explained = explain_events(net, events, SENSOR, n_time_bins=8)
    assert hook_count(net) == 0
    heat = explained.heatmap("2")
    assert heat.shape == (8, 34, 34) and heat.max() == 1 and heat.min() >= 0
    assert explained.frames.spans.shape == (8, 2)
    utils.reset(net)
    x = explained.frames.frames.unsqueeze(1)
    seen = record_spikes({"2": net[2]}, lambda: [net(xt) for xt in x])
    assert_matches_reference(explained.result["2"], torch.stack(seen["2"]), GAMMA)


def test_polarity_rendering(tmp_path):
    frame = torch.zeros(2, 4, 4)
    frame[1, 0, 0], frame[0, 3, 3] = 2, 1  # ON at (0, 0), OFF at (3, 3)
    rgb = polarity_image(frame)
    assert rgb[0, 0].tolist() == [1, 0, 0] and rgb[3, 3].tolist() == [0, 0, 0.5]
    assert rgb[1, 1].tolist() == [0, 0, 0]
    assert TonicReader().frame_image(frame).tolist() == rgb.tolist()
    assert TonicReader().frame_image(torch.zeros(1, 4, 4)) is None  # the core draws grey


def test_footprint_knows_where_the_digit_is_in_each_time_bin():
    image = load_digits(size=26)[0][1500, 0].numpy()
    emulator = SaccadeEmulator()
    events = emulator(image, seed=4)
    edges = np.linspace(0, 300_000, 6)
    inside, total = 0, 0
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        mask = emulator.footprint(image, start, stop)
        assert 0.05 < mask.mean() < 0.6  # an object, not the whole sensor
        grown = torch.nn.functional.max_pool2d(torch.tensor(mask)[None].float(), 3, 1, 1)[0] > 0
        chosen = events[(events["t"] >= start) & (events["t"] < stop)]
        inside += int(grown[chosen["y"], chosen["x"]].sum())
        total += len(chosen)
    assert inside / total > 0.9  # the events come from the digit (its edges), and noise
    far = emulator.footprint(image, 0, 1000) & ~emulator.footprint(image, 150_000, 151_000)
    assert far.any()  # the digit moves between saccades
