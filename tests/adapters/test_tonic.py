"""Event data through tonic: the emulator, N-MNIST files read by tonic, framing with tonic's
transforms, SAM on the sensor grid, the dataset analysis and its HDF5 store, bad input."""

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
    AnalysisResult,
    EventError,
    SaccadeEmulator,
    TonicReader,
    analyze_dataset,
    check_events,
    explain_events,
    frame_events,
    polarity_image,
    write_nmnist_bin,
)
from snntorch import utils
from torch import nn

from sam_plugins import explain

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


# --- dataset analysis -------------------------------------------------------------------------
def ragged_dataset(n=11):
    """Frames of different lengths (5 to 9 bins) with labels in 0..3."""
    g = torch.Generator().manual_seed(1)
    return [
        ((torch.rand(5 + i % 5, 2, 34, 34, generator=g) < 0.3).float(), i % 4) for i in range(n)
    ]


def expected_statistics(net, data, layer):
    """Per-sample explain() (no padding), aggregated by hand."""
    t_max = max(len(x) for x, _ in data)
    sums = np.zeros((4, t_max, 17, 17))
    profile = np.zeros((4, t_max))
    rate = np.zeros((4, t_max))
    count = np.zeros((4, t_max))
    isi = np.zeros(65)
    predictions = []
    for x, y in data:
        r = explain(net, x.unsqueeze(1), keep_spikes=True)
        steps = len(x)
        sums[y, :steps] += r[layer].maps[:, 0].double().numpy()
        profile[y, :steps] += r[layer].profile[:, 0].double().numpy()
        spikes = r[layer].spikes[:, 0].flatten(1).numpy()  # [T, neurons]
        rate[y, :steps] += spikes.mean(1)
        count[y, :steps] += 1
        for neuron in spikes.T:
            times = np.nonzero(neuron)[0]
            for d in np.diff(times):
                isi[min(d, 64)] += 1
        predictions.append(int(r.outputs[0][:, 0].sum(0).argmax()))
    return sums / np.maximum(count, 1)[..., None, None], profile, rate, count, isi, predictions


def test_analysis_matches_a_plain_per_sample_computation(tmp_path):
    net, data = conv_snn(), ragged_dataset()
    result = analyze_dataset(
        net, data, tmp_path / "a.h5", num_classes=4, batch_size=4, progress=False
    )
    assert hook_count(net) == 0 and result.complete and result.done == len(data)
    maps, profile, rate, count, isi, predictions = expected_statistics(net, data, "2")
    np.testing.assert_allclose(result.count, count)
    np.testing.assert_allclose(np.nan_to_num(result.mean_maps("2")), maps, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        np.nan_to_num(result.profile("2")) * count, profile, rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        np.nan_to_num(result.firing_rate("2")) * count, rate, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(result.isi_histogram("2"), isi)
    assert result.predictions.tolist() == predictions
    assert result.targets.tolist() == [y for _, y in data]
    assert result.lengths.tolist() == [len(x) for x, _ in data]
    assert result.sample_profiles("2").shape == (len(data), 9)
    assert result.sample_profiles("5").shape == (len(data), 9)  # Linear layer: profile only
    with pytest.raises(KeyError, match="no maps"):
        result.mean_maps("5")


class Interrupting(list):
    """A dataset that raises KeyboardInterrupt when item `at` is read, like a user's Ctrl-C."""

    def __init__(self, items, at):
        super().__init__(items)
        self.at = at

    def __getitem__(self, i):
        if i == self.at:
            raise KeyboardInterrupt
        return super().__getitem__(i)


def test_interrupted_analysis_resumes_to_the_same_result(tmp_path):
    net, data = conv_snn(), ragged_dataset()
    full = analyze_dataset(
        net, data, tmp_path / "full.h5", num_classes=4, batch_size=3, progress=False
    )
    with pytest.raises(KeyboardInterrupt):
        analyze_dataset(
            net,
            Interrupting(data, at=7),
            tmp_path / "part.h5",
            num_classes=4,
            batch_size=3,
            progress=False,
        )
    partial = AnalysisResult(tmp_path / "part.h5")
    assert partial.done == 6 and not partial.complete  # two whole batches committed
    resumed = analyze_dataset(
        net, data, tmp_path / "part.h5", num_classes=4, batch_size=3, progress=False
    )
    assert resumed.complete
    for layer in ("2", "5"):
        np.testing.assert_allclose(resumed.profile(layer), full.profile(layer))
        np.testing.assert_array_equal(resumed.isi_histogram(layer), full.isi_histogram(layer))
        np.testing.assert_allclose(resumed.sample_profiles(layer), full.sample_profiles(layer))
    np.testing.assert_allclose(resumed.mean_maps("2"), full.mean_maps("2"))
    assert resumed.predictions.tolist() == full.predictions.tolist()
    with pytest.raises(ValueError, match="other settings"):
        analyze_dataset(net, data, tmp_path / "part.h5", num_classes=5, progress=False)


def test_analysis_of_emulated_digits_and_bad_items(digits, tmp_path):
    net = conv_snn()
    data = EmulatedDigits(digits, train=False, limit=8, transform=tt.ToFrame(SENSOR, n_time_bins=6))
    result = analyze_dataset(
        net, data, tmp_path / "d.h5", num_classes=10, batch_size=4, progress=False
    )
    assert result.complete and result.mean_maps("2").shape == (10, 6, 17, 17)
    raw = EmulatedDigits(digits, train=False, limit=8)
    with pytest.raises(TypeError, match="ToFrame"):
        analyze_dataset(net, raw, tmp_path / "e.h5", num_classes=10, progress=False)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        analyze_dataset(net, data, tmp_path / "f.h5", num_classes=3, progress=False)
    assert hook_count(net) == 0


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
