"""The analysis file: self-describing HDF5, durable commits, and clear errors for bad paths."""

import itertools
import json
import os
from collections import OrderedDict

import h5py
import numpy as np
import pytest
import torch
from analysis_data import Frames, Interrupting, analyse, net, run
from plain_snn import PlainLIF

from sam_plugins.analysis import AnalysisError, AnalysisResult, analyze_dataset


def test_every_dataset_describes_itself(tmp_path):
    analyse(Frames(), tmp_path / "a.h5", save_maps=True)
    with h5py.File(tmp_path / "a.h5", "r") as f:
        assert "divide by" in f.attrs["description"]
        identity = json.loads(f.attrs["identity"])
        assert identity["layers"] == ["lif1", "lif2", "lif3"] and f.attrs["gamma"] == 0.5
        found = []
        f.visititems(lambda k, v: found.append((k, v)) if isinstance(v, h5py.Dataset) else None)
        assert len(found) > 20
        for name, dataset in found:
            assert dataset.attrs["description"] and dataset.attrs["axes"].startswith("["), name
        assert f["layers/0"].attrs["name"] == "lif1"
        maps = f["layers/0/maps"]
        assert maps.dtype == np.float16 and maps.compression == "gzip" and maps.chunks[0] == 1


def test_a_kill_before_the_first_commit_leaves_nothing_broken(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        analyse(Interrupting(at=1), tmp_path / "a.h5")  # inside the first batch
    assert not (tmp_path / "a.h5").exists()
    assert not list((tmp_path / "a.h5.parts").glob("rank-*/agg.npz"))
    assert analyse(Frames(), tmp_path / "a.h5").done == 11


def test_a_torn_write_is_ignored_on_resume(tmp_path):
    """A kill while a batch's files are written leaves only a temporary file or rows that no
    commit counts: resume redoes that batch."""
    with pytest.raises(KeyboardInterrupt):
        analyse(Interrupting(at=7), tmp_path / "a.h5")
    rank = tmp_path / "a.h5.parts" / "rank-00000"
    (rank / "agg.npz.tmp").write_bytes(b"half a file")
    (rank / "rows-000002.npz").write_bytes(b"rows no commit counts")
    resumed = analyse(Frames(), tmp_path / "a.h5")
    full = analyse(Frames(), tmp_path / "b.h5")
    np.testing.assert_array_equal(resumed.sample_profiles("lif1"), full.sample_profiles("lif1"))


def test_bad_output_paths_get_one_line_errors(tmp_path):
    (tmp_path / "folder.h5").mkdir()
    with pytest.raises(AnalysisError, match="is a directory"):
        analyse(Frames(), tmp_path / "folder.h5")
    (tmp_path / "notes.h5").write_text("my notes")
    with pytest.raises(AnalysisError, match="not a sam-plugins analysis file.*not overwritten"):
        analyse(Frames(), tmp_path / "notes.h5", resume=False)
    assert (tmp_path / "notes.h5").read_text() == "my notes"
    (tmp_path / "a-file").write_text("")
    with pytest.raises(AnalysisError, match="cannot create the folder"):
        analyse(Frames(), tmp_path / "a-file" / "out.h5")
    with pytest.raises(AnalysisError, match="the dataset is empty"):
        analyse(Frames(n=0), tmp_path / "empty.h5")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_gets_a_one_line_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    with pytest.raises(AnalysisError, match="cannot write"):
        analyse(Frames(), folder / "a.h5")


def test_layer_names_with_slashes_round_trip(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        OrderedDict(conv=torch.nn.Conv2d(2, 4, 3, padding=1), lif=PlainLIF(0.8, 0.3))
    )
    model.add_module("lif/1", model._modules.pop("lif"))  # a name with a slash, as torch allows

    def run_seq(m, frames):
        m[1].reset()
        return torch.stack([m(x).flatten(1)[:, :4] for x in frames])

    result = analyze_dataset(
        model, Frames(), tmp_path / "a.h5", num_classes=4, layers=["lif/1"], run=run_seq,
        progress=False,
    )  # fmt: skip
    again = AnalysisResult(tmp_path / "a.h5")
    assert again.layers == ["lif/1"] and again.mean_maps("lif/1").shape == (4, 9, 16, 16)
    assert result.mean_rate("lif/1") > 0


def test_absent_classes_are_nan_per_class_but_not_in_the_overall_rate(tmp_path):
    result = analyse(Frames(n=2), tmp_path / "a.h5")  # classes 0 and 1 only
    assert np.isnan(result.firing_rate("lif1")[2:]).all()
    assert np.isfinite(result.mean_rate("lif1")) and result.mean_rate("lif1") > 0
    with pytest.raises(KeyError, match="no layer 'nope'"):
        result.profile("nope")


def test_not_an_analysis_file_is_reported(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(AnalysisError, match="not a sam-plugins analysis file"):
        AnalysisResult(tmp_path / "other.h5")
    (tmp_path / "text.h5").write_text("text")
    with pytest.raises(AnalysisError, match="cannot read .* as HDF5"):
        AnalysisResult(tmp_path / "text.h5")


def test_labels_out_of_range_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        analyze_dataset(
            net(), Frames(), tmp_path / "a.h5", num_classes=3, layers=["lif1"], run=run,
            progress=False,
        )  # fmt: skip


def test_kept_rows_are_the_committed_rows_and_give_way_to_the_files(tmp_path, monkeypatch):
    from sam_plugins.analysis import store

    rng = np.random.default_rng(0)
    batches = [
        {"index": np.arange(3 * k, 3 * k + 3), "L0.profile": rng.random((3, 5)).astype("f4")}
        for k in range(3)
    ]
    writer = store.ShardWriter(tmp_path, 0, keep_rows=True)
    for rows in batches:
        writer.add(rows, [])
        writer.commit()
    from_disk = list(store.ShardWriter(tmp_path, 0).rows())
    kept = list(writer.rows())
    assert writer._kept is not None and len(kept) == len(from_disk) == 3
    for a, b in zip(kept, from_disk, strict=True):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    # a resumed writer keeps nothing (it did not see the earlier batches); a full one gives up
    assert store.ShardWriter(tmp_path, 0, keep_rows=True)._kept is None
    monkeypatch.setattr(store, "KEEP_ROWS_BYTES", 10)
    small = store.ShardWriter(tmp_path / "other", 0, keep_rows=True)
    small.add(batches[0], [])
    small.commit()
    assert small._kept is None and len(list(small.rows())) == 1


def test_a_commit_writes_the_batches_added_since_the_last_as_one_file(tmp_path):
    from sam_plugins.analysis import store

    rng = np.random.default_rng(1)
    steps, sizes = [5, 7, 5], [3, 3, 2]
    batches, start = [], 0
    for t, b in zip(steps, sizes, strict=True):
        batches.append({"index": np.arange(start, start + b), "L0.profile": rng.random((b, t))})
        start += b
    writer = store.ShardWriter(tmp_path, 0)
    for rows in batches:
        writer.add(rows, [{"name": "x"}])
    assert writer.done == 0 and not (tmp_path / "rank-00000").exists()  # nothing written yet
    writer.commit()
    writer.commit()  # nothing added since: no empty file
    again = store.ShardWriter(tmp_path, 0)
    assert (again.done, again.batches, again.layers) == (8, 1, [{"name": "x"}])
    (rows,) = list(again.rows())
    assert rows["index"].tolist() == list(range(8))
    expected = np.zeros((8, 7))
    for k, batch in enumerate(batches):
        expected[sum(sizes[:k]) : sum(sizes[: k + 1]), : steps[k]] = batch["L0.profile"]
    np.testing.assert_array_equal(rows["L0.profile"], expected)  # time zero-padded


def test_class_sums_are_added_in_place_over_each_samples_valid_steps():
    from sam_plugins.analysis.store import add_class_sums

    rng = np.random.default_rng(2)
    sums = {}
    expected = np.zeros((3, 6, 2))
    for steps in (4, 6, 3):  # the second batch is longer: the sums grow along time
        values = rng.random((steps, 5, 2)).astype(np.float32)
        labels, lengths = rng.integers(0, 3, 5), rng.integers(1, steps + 1, 5)
        add_class_sums(sums, "k", values, labels, lengths, 3)
        for b in range(5):
            expected[labels[b], : lengths[b]] += values[: lengths[b], b]
    assert sums["k"].dtype == np.float64 and sums["k"].shape == (3, 6, 2)
    np.testing.assert_allclose(sums["k"], expected, rtol=1e-12)


def test_class_sums_off_the_cpu_are_made_on_the_device_and_agree():
    """The path for GPU maps (summed where the maps are, only the sums copied), run here on
    CPU tensors, against the in-place per-sample path."""
    from sam_plugins.analysis.store import _class_sums_on, add_class_sums

    rng = np.random.default_rng(3)
    values = rng.random((7, 6, 3, 2)).astype(np.float32)
    labels, lengths = rng.integers(0, 4, 6), rng.integers(1, 8, 6)
    sums = {}
    add_class_sums(sums, "k", values, labels, lengths, 4)
    on_device = _class_sums_on(torch.from_numpy(values), labels, lengths, 4)
    assert on_device.dtype == np.float64
    np.testing.assert_array_equal(on_device, sums["k"])  # the same additions
    assert lengths.min() < 7 and np.abs(sums["k"]).sum() > 0  # padding was left out


@pytest.mark.parametrize("bad", [-1.0, float("nan")])
def test_commit_interval_must_be_seconds(tmp_path, bad):
    with pytest.raises(ValueError, match="commit_every must be a number of seconds >= 0"):
        analyse(Frames(), tmp_path / "a.h5", commit_every=bad)


def same_files(a, b) -> None:
    """Every dataset of two analysis files: rows identical, class sums equal to 1e-12."""

    def datasets(file):
        names = []
        file.visititems(lambda name, x: names.append(name) if isinstance(x, h5py.Dataset) else None)
        return sorted(names)

    with h5py.File(a) as f, h5py.File(b) as g:
        names = datasets(f)
        assert len(names) > 20 and names == datasets(g)
        for name in names:
            if name.endswith("_sum") or name.endswith("isi_hist") or name == "classes/count":
                np.testing.assert_allclose(f[name][()], g[name][()], rtol=1e-12, err_msg=name)
            else:
                np.testing.assert_array_equal(f[name][()], g[name][()], err_msg=name)


def test_a_stop_between_commits_loses_only_the_uncommitted_batches(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        analyse(Interrupting(at=7), tmp_path / "a.h5", commit_every=3600)
    assert not list((tmp_path / "a.h5.parts").glob("rank-*/*.npz"))  # none due yet
    resumed = analyse(Frames(), tmp_path / "a.h5", commit_every=3600)
    full = analyse(Frames(), tmp_path / "b.h5")
    assert resumed.done == full.done == 11
    same_files(tmp_path / "a.h5", tmp_path / "b.h5")


def test_a_stop_after_a_commit_of_several_batches_resumes_to_the_same_file(tmp_path, monkeypatch):
    """The analysis' clock moves 1 s each time it is read: with commit_every=2.5 the first
    commit holds 3 batches (9 samples); the stop in the 4th batch loses only that one."""
    from types import SimpleNamespace

    from sam_plugins.analysis import runner

    monkeypatch.setattr(runner, "time", SimpleNamespace(monotonic=itertools.count().__next__))
    with pytest.raises(KeyboardInterrupt):
        analyse(Interrupting(at=10), tmp_path / "a.h5", commit_every=2.5, save_maps=True)
    rank = tmp_path / "a.h5.parts" / "rank-00000"
    assert sorted(p.name for p in rank.glob("*.npz")) == ["agg.npz", "rows-000000.npz"]
    with np.load(rank / "rows-000000.npz") as rows:
        assert rows["index"].tolist() == list(range(9))
    analyse(Frames(), tmp_path / "a.h5", commit_every=2.5, save_maps=True)
    analyse(Frames(), tmp_path / "b.h5", save_maps=True)  # a commit per batch
    same_files(tmp_path / "a.h5", tmp_path / "b.h5")


def test_every_setting_none_and_absent_included_is_stored_and_compared(tmp_path):
    out = tmp_path / "a.h5"
    settings = {"limit": None, "window": (1, 2), "split": "test"}
    analyse(Frames(n=4), out, settings=settings)
    with h5py.File(out, "r") as f:
        assert f.attrs["limit"] == "null" and f.attrs["split"] == "test"
        assert json.loads(f.attrs["identity"])["limit"] is None
    assert analyse(Frames(n=4), out, settings=settings).done == 4  # complete: tuples read back
    with pytest.raises(AnalysisError, match="limit: None there, 4 now"):
        analyse(Frames(n=4), out, settings={**settings, "limit": 4})
    with pytest.raises(AnalysisError, match="limit: None there, absent now"):
        analyse(Frames(n=4), out, settings={"window": (1, 2), "split": "test"})


def test_a_setting_json_cannot_hold_is_refused_before_any_work(tmp_path):
    with pytest.raises(AnalysisError, match="must be JSON values"):
        analyse(Frames(n=4), tmp_path / "a.h5", settings={"data": tmp_path})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["/proc/sam-plugins-test/a.h5", "/proc/a.h5", "{file}/a.h5"])
def test_places_that_refuse_root_too_get_one_line_errors(tmp_path, where):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(AnalysisError, match="cannot") as error:
        analyse(Frames(n=4), where.format(file=tmp_path / "a-file"))
    assert "\n" not in str(error.value)
    assert (tmp_path / "a-file").read_text() == ""


def test_a_failure_says_what_it_left_and_how_to_remove_it(tmp_path):
    out = tmp_path / "a.h5"
    parts = tmp_path / "a.h5.parts"
    with pytest.raises(AnalysisError) as error:  # label 3 in the second batch; one commit made
        analyse(Frames(), out, num_classes=3)
    message = str(error.value)
    assert "labels must be in [0, 3)" in message and "again" not in message
    assert f"{parts}/ keeps the 3 samples" in message and f"rm -r {parts}" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5.parts"]
    with pytest.raises(KeyboardInterrupt) as stop:
        analyse(Interrupting(at=7), tmp_path / "b.h5")
    note = " ".join(getattr(stop.value, "__notes__", []))
    assert "keeps the 6 samples" in note and "again to resume" in note
    assert not list(tmp_path.glob("*.lock")) and not list(tmp_path.glob("*.tmp"))
