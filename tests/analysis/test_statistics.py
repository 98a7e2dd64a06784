"""The analysis' numbers against a plain per-sample computation, and resuming after a stop."""

import numpy as np
import pytest
import torch
from analysis_data import LAYERS, Frames, Interrupting, analyse, net, run
from conftest import hook_count

from sam_plugins import explain
from sam_plugins.analysis import AnalysisError, AnalysisResult, analyze_dataset
from sam_plugins.engine import backend
from sam_plugins.testing.reference import literal_spike_statistics


def expected(model, data, layer, classes=4, bins=64):
    """Per-sample explain() (no padding, no batching), aggregated by hand in float64."""
    t_max = max(len(x) for x, _ in data)
    maps = np.zeros((classes, t_max, 16, 16))
    profile, rate, count = (np.zeros((classes, t_max)) for _ in range(3))
    isi = np.zeros(bins + 1)
    rows = {"profile": [], "rate": [], "prediction": [], "maps": []}
    for x, y in data:
        r = explain(model, x.unsqueeze(1), [layer, "lif3"], run=run, keep_spikes=True)
        steps = len(x)
        maps[y, :steps] += r[layer].maps[:, 0].double().numpy()
        profile[y, :steps] += r[layer].profile[:, 0].double().numpy()
        spikes = r[layer].spikes[:, 0].flatten(1).numpy()  # [T, neurons]
        rate[y, :steps] += spikes.mean(1)
        count[y, :steps] += 1
        for neuron in spikes.T:
            for d in np.diff(np.nonzero(neuron)[0]):
                isi[min(d, bins)] += 1
        rows["profile"].append(np.pad(r[layer].profile[:, 0].numpy(), (0, t_max - steps)))
        rows["rate"].append(spikes.mean())
        rows["prediction"].append(int(r.outputs[:, 0].sum(0).argmax()))
        rows["maps"].append(r[layer].maps[:, 0].sum(0).numpy())
    with np.errstate(invalid="ignore"):
        means = {
            "maps": maps / count[..., None, None],
            "profile": profile / count,
            "rate": rate / count,
        }
    return means, count, isi, rows


@pytest.mark.parametrize(("kernels", "first"), [("numba", 5), ("torch", 5), ("numba", 14)])
def test_analysis_matches_a_plain_per_sample_computation(tmp_path, kernels, first):
    model, data = net(), Frames(first=first)  # 14: 14 to 26 steps, over 16-step blocks
    with backend.use(kernels):  # the statistics' compiled pass, and their torch ops
        result = analyze_dataset(
            model, data, tmp_path / "a.h5", num_classes=4, layers=["lif1", "lif3"], run=run,
            batch_size=4, progress=False, save_maps=True,
        )  # fmt: skip
    assert hook_count(model) == 0 and result.done == len(data)
    means, count, isi, rows = expected(model, data, "lif1")
    assert result.layers == ["lif1", "lif3"]
    np.testing.assert_array_equal(result.count, count)
    np.testing.assert_allclose(result.mean_maps("lif1"), means["maps"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.profile("lif1"), means["profile"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result.firing_rate("lif1"), means["rate"], rtol=1e-5, atol=1e-7)
    assert np.isnan(result.profile("lif1")[2, -1]) and count[2, -1] == 0  # no long class-2 one
    np.testing.assert_array_equal(result.isi_histogram("lif1"), isi)
    assert isi[1:].sum() > 50, "too few intervals: the test proves little"
    np.testing.assert_allclose(result.sample_profiles("lif1"), rows["profile"], rtol=1e-5)
    np.testing.assert_allclose(result.sample_rates("lif1"), rows["rate"], rtol=1e-5)
    np.testing.assert_allclose(
        result.sample_maps("lif1"), rows["maps"], rtol=2e-3, atol=1e-3
    )  # float16
    assert result.predictions.tolist() == rows["prediction"]
    assert len(set(rows["prediction"])) > 1
    assert result.targets.tolist() == [y for _, y in data]
    assert result.lengths.tolist() == [len(x) for x, _ in data]
    assert result.indices.tolist() == list(range(len(data)))
    steps = max(len(x) for x, _ in data)
    assert result.sample_profiles("lif3").shape == (len(data), steps)
    lif3 = result.mean_maps("lif3")  # Linear: each neuron its own place, [classes, T, N]
    assert lif3.shape[:2] == (4, steps) and lif3.ndim == 3 and np.nansum(lif3) > 0
    np.testing.assert_allclose(lif3.sum(2), result.profile("lif3"), rtol=1e-5, atol=1e-6)
    assert result.confusion_matrix().sum() == len(data)
    assert not (tmp_path / "a.h5.parts").exists()


def test_interrupted_analysis_resumes_to_the_same_result(tmp_path):
    full = analyse(Frames(), tmp_path / "full.h5")
    with pytest.raises(KeyboardInterrupt):
        analyse(Interrupting(at=7), tmp_path / "part.h5")
    assert not (tmp_path / "part.h5").exists()
    rank = tmp_path / "part.h5.parts" / "rank-00000"
    assert sorted(p.name for p in rank.iterdir()) == [
        "agg.npz", "rows-000000.npz", "rows-000001.npz",
    ]  # fmt: skip
    resumed = analyse(Frames(), tmp_path / "part.h5")
    for layer in resumed.layers:
        np.testing.assert_array_equal(resumed.sample_profiles(layer), full.sample_profiles(layer))
        np.testing.assert_array_equal(resumed.isi_histogram(layer), full.isi_histogram(layer))
        np.testing.assert_allclose(resumed.profile(layer), full.profile(layer), rtol=1e-12)
    np.testing.assert_allclose(resumed.mean_maps("lif1"), full.mean_maps("lif1"), rtol=1e-12)
    assert resumed.predictions.tolist() == full.predictions.tolist()


@pytest.mark.parametrize(
    "change, named",
    [
        ({"gamma": 0.3}, "gamma"),
        ({"layers": ["lif2"]}, "layers"),
        ({"settings": {"time_bins": 5}}, "time_bins"),
        ({"num_classes": 5}, "num_classes"),
        ({"data": Frames(n=9)}, "dataset_len"),
        ({"seed": 1}, "weights"),
    ],
)
def test_other_settings_are_refused_on_resume(tmp_path, change, named):
    settings = {"time_bins": 10}
    with pytest.raises(KeyboardInterrupt):
        analyse(Interrupting(at=4), tmp_path / "a.h5", settings=settings)
    change = dict(change)
    data = change.pop("data", Frames())
    model = net(change.pop("seed", 0))
    options = {"num_classes": 4, "run": run, "batch_size": 3, "progress": False}
    options["layers"] = LAYERS
    options["settings"] = change.pop("settings", settings)
    with pytest.raises(AnalysisError, match=f"{named}: .* there, .* now.*resume=False") as error:
        analyze_dataset(model, data, tmp_path / "a.h5", **{**options, **change})
    assert "--restart" in error.value.cli and "resume=False" not in error.value.cli
    # the same settings finish it, and a finished file is refused the same way
    analyze_dataset(net(), Frames(), tmp_path / "a.h5", **options | {"settings": settings})
    with pytest.raises(AnalysisError, match=named):
        analyze_dataset(model, data, tmp_path / "a.h5", **{**options, **change})
    fresh = analyze_dataset(model, data, tmp_path / "a.h5", resume=False, **{**options, **change})
    assert fresh.done == len(data)


def test_a_finished_file_is_not_recomputed(tmp_path):
    first = analyse(Frames(), tmp_path / "a.h5")
    stamp = (tmp_path / "a.h5").stat().st_mtime_ns
    again = analyse(Interrupting(at=0), tmp_path / "a.h5")  # would raise if it read an item
    assert (tmp_path / "a.h5").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.sample_rates("lif1"), first.sample_rates("lif1"))
    assert isinstance(AnalysisResult(tmp_path / "a.h5").identity["weights"], str)


@pytest.mark.parametrize("kernels", ["numba", "torch"])
def test_long_intervals_land_in_the_last_bin(tmp_path, kernels):
    """A neuron firing at steps 0, 260, 270 and 275 of 300: intervals 260 (beyond the 255 the
    compiled pass tells apart), 10 and 5; with isi_bins=8 the 260 and the 10 share the last bin."""
    from plain_snn import PlainLIF

    frames = torch.zeros(300, 1, 2, 2)
    frames[[0, 260, 270, 275], 0, 0, 0] = 1.0
    model = torch.nn.Sequential(PlainLIF(0.0, 0.5)).eval()

    def run_once(m, x):
        m[0].reset()
        return torch.stack([m(step).flatten(1)[:, :2] for step in x])

    with backend.use(kernels):
        result = analyze_dataset(
            model, [(frames, 0)], tmp_path / "a.h5", num_classes=2, layers=["0"],
            run=run_once, isi_bins=8, progress=False,
        )  # fmt: skip
    expected = np.zeros(9)
    expected[5], expected[8] = 1, 2
    np.testing.assert_array_equal(result.isi_histogram("0"), expected)
    assert result.sample_rates("0")[0] == pytest.approx(4 / (300 * 4))


@pytest.mark.parametrize("kernels", ["numba", "torch"])
def test_spike_stats_match_a_per_neuron_count(kernels):
    """Random spike trains of 3 rates, fed in calls of 1 to 23 steps (crossing the compiled
    pass' 16-step blocks), samples of different lengths, silences longer than 255 steps, and a
    second, smaller batch after the first (state reused): counts per step and sample, and every
    interval, as a per-neuron np.diff gives them."""
    from types import SimpleNamespace

    from sam_plugins.analysis.stats import SpikeStats

    gen = np.random.default_rng(3)
    bins = 40
    stats = SpikeStats(bins)
    for steps, lengths in ((700, [700, 433, 17]), (300, [9, 300])):
        batch = len(lengths)
        rate = np.array([0.02, 0.3, 0.8])[gen.integers(0, 3, (1, batch, 2, 3, 5))]
        spikes = (gen.random((steps, batch, 2, 3, 5)) < rate).astype(np.float32)
        spikes[20:300, 0] = 0  # silences beyond one byte of age
        with backend.use(kernels):
            stats.reset(torch.tensor(lengths))
            t = 0
            while t < steps:
                n = int(gen.integers(1, 24))
                stats(SimpleNamespace(name="x"), torch.from_numpy(spikes[t : t + n]))
                t += n
            found = stats.finish("x")
        counts, isi = literal_spike_statistics(spikes, lengths, bins)
        assert found.neurons == 30
        np.testing.assert_array_equal(found.counts.numpy(), counts)
        np.testing.assert_array_equal(found.isi.numpy(), isi)
        assert isi[bins] > 0 and isi[1] > 100  # both ends of the histogram are exercised


def test_compiled_state_reused_after_a_batch_left_unfinished():
    """The compiled passes keep a layer's words and ages over batches (their memory, not
    their marks): after a batch stopped half-way (reset without `finish`), in batches smaller
    than the state, and for short samples in rows whose last batch was long, every count and
    interval is what a per-neuron np.diff gives."""
    from types import SimpleNamespace

    from sam_plugins.analysis.stats import SpikeStats

    gen = np.random.default_rng(21)
    bins, target = 30, SimpleNamespace(name="x")
    stats = SpikeStats(bins)
    batches = [  # (steps, lengths, steps run before the next reset: None = all, then finish)
        (40, [40, 40, 40, 40], None),
        (60, [60, 5, 60], 30),  # left unfinished: its words hold marks
        (50, [12, 50, 9, 50], None),  # short samples in rows that were long
        (20, [20, 20], None),
        (45, [45, 14, 45, 45], None),  # rows 2 and 3 last used two batches ago
    ]
    with backend.use("numba"):
        for steps, lengths, stop in batches:
            spikes = (gen.random((steps, len(lengths), 2, 3, 4)) < 0.3).astype(np.float32)
            stats.reset(torch.tensor(lengths))
            for t in range(0, stop or steps, 7):
                stats(target, torch.from_numpy(spikes[t : min(t + 7, stop or steps)]))
            if stop is not None:
                continue
            found = stats.finish("x")
            counts, isi = literal_spike_statistics(spikes, lengths, bins)
            np.testing.assert_array_equal(found.counts.numpy(), counts)
            np.testing.assert_array_equal(found.isi.numpy(), isi)


def test_spike_stats_read_from_sams_pass_match_a_per_neuron_count():
    """With `sam=`, the statistics take the counts and the firing steps from SAM's own pass
    over the spikes (compiled kernel) and read no spike themselves; calls that cross a 16-step
    block fall back to their own pass. Both mixed over a sequence give every count and interval
    as a per-neuron np.diff does, and SAM's maps are those of SAM alone."""
    from sam_plugins import SpikeActivationMap
    from sam_plugins.analysis.stats import SpikeStats

    gen = np.random.default_rng(5)
    bins, steps, lengths = 40, 400, [400, 233, 17]
    batch = len(lengths)
    rate = np.array([0.02, 0.3, 0.8])[gen.integers(0, 3, (1, batch, 2, 3, 5))]
    spikes = (gen.random((steps, batch, 2, 3, 5)) < rate).astype(np.float32)
    spikes[20:300, 0] = 0  # silences beyond one byte of age
    model = torch.nn.Sequential(torch.nn.Identity())  # its "spikes" are the input
    with backend.use("numba"):
        sam = SpikeActivationMap(model, ["0"], step_mode="multi")
        stats = SpikeStats(bins, sam=sam)
        sam.recorder.consumers.append(stats)
        stats.reset(torch.tensor(lengths))
        marked, t = [], 0
        with sam:
            while t < steps:
                n = (
                    int(gen.integers(1, 6))
                    if t % 16 < 10
                    else 16 - t % 16 + int(gen.integers(0, 3))
                )
                model(torch.from_numpy(spikes[t : t + n]))
                marked.append(sam.marked["0"])
                t += n
        found = stats.finish("0")
        alone = SpikeActivationMap(model, ["0"], step_mode="multi").attribute(
            torch.from_numpy(spikes)
        )
    assert any(marked) and not all(marked)  # both ways were taken
    torch.testing.assert_close(sam.result()["0"].maps, alone["0"].maps)
    counts, isi = literal_spike_statistics(spikes, lengths, bins)
    np.testing.assert_array_equal(found.counts.numpy(), counts)
    np.testing.assert_array_equal(found.isi.numpy(), isi)
    assert isi[bins] > 0 and isi[1] > 100


def test_a_call_the_compiled_passes_cannot_take_goes_on_in_them():
    """A batch whose statistics began in the compiled passes, then a non-contiguous call and a
    float64 one: they go on there (as copies), with every count and interval right (a
    KeyError before)."""
    from types import SimpleNamespace

    from sam_plugins.analysis.stats import SpikeStats

    gen = np.random.default_rng(11)
    steps, batch, bins = 40, 2, 20
    spikes = (gen.random((steps, batch, 3, 4, 5)) < 0.3).astype(np.float32)
    stats = SpikeStats(bins)
    target = SimpleNamespace(name="x")
    with backend.use("numba"):
        stats.reset(torch.tensor([steps, steps]))
        stats(target, torch.from_numpy(spikes[:10]))
        odd = torch.from_numpy(spikes[10:20]).transpose(3, 4).contiguous().transpose(3, 4)
        assert not odd.is_contiguous()
        stats(target, odd)
        stats(target, torch.from_numpy(spikes[20:30]).double())
        stats(target, torch.from_numpy(spikes[30:]))
        found = stats.finish("x")
    counts, isi = literal_spike_statistics(spikes, [steps] * batch, bins)
    np.testing.assert_array_equal(found.counts.numpy(), counts)
    np.testing.assert_array_equal(found.isi.numpy(), isi)
