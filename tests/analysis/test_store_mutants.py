"""Tests that kill mutants mutmut left alive in the analysis store (benchmarks/mutation.sh,
issue 24): class sums kept in float64 (on and off the CPU), the rows a writer keeps served from
memory, the settings mismatch said key by key, what `prepare` does with what it finds, the output
lock, the refusals said word for word, and the merged file's rows, sums and self-description."""

import errno
import json
import os
import re
import socket
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from analysis_data import Frames, analyse

from sam_plugins.analysis.store import (
    DESCRIPTIONS,
    FORMAT,
    AnalysisError,
    OutputLock,
    ShardWriter,
    add_class_sums,
    add_sums,
    as_identity,
    check_output,
    describe_mismatch,
    fingerprint,
    left_behind,
    merge,
    parts_of,
    prepare,
)


def test_class_sums_start_as_float64_copies():
    given = np.full((2, 3), 1e8, np.float32)
    total = {}
    add_sums(total, {"profile_sum": given})
    assert total["profile_sum"].dtype == np.float64
    given[0, 0] = 0  # the caller's array is not the total
    add_sums(total, {"profile_sum": np.ones((2, 3), np.float32)})
    assert total["profile_sum"][0, 0] == 1e8 + 1  # float32 would round it away


def test_a_writer_serves_its_kept_rows_from_memory(tmp_path):
    writer = ShardWriter(tmp_path / "out.h5.parts", 0, keep_rows=True)
    batches = [{"index": np.arange(3) + 3 * k, "mass": np.full(3, k, np.float32)} for k in (0, 1)]
    for rows in batches:
        writer.add(rows, [{"name": "lif1"}])
        writer.commit()
    for written in writer.folder.glob("rows-*.npz"):
        written.unlink()  # kept rows need no file
    served = list(writer.rows())
    assert len(served) == 2
    for got, rows in zip(served, batches, strict=True):
        np.testing.assert_array_equal(got["index"], rows["index"])
        np.testing.assert_array_equal(got["mass"], rows["mass"])


def test_a_settings_mismatch_is_said_key_by_key():
    found = {"gamma": 0.5, "split": "test", "window": "previous"}
    wanted = {"gamma": 0.5, "split": "train", "window": "inclusive", "bins": 3}
    assert describe_mismatch(found, wanted) == (
        "bins: absent there, 3 now, split: 'test' there, 'train' now, "
        "window: 'previous' there, 'inclusive' now"
    )


def test_each_layer_describes_itself_in_the_file(tmp_path):
    analyse(Frames(n=4), tmp_path / "a.h5")
    with h5py.File(tmp_path / "a.h5") as f:
        for i, name in enumerate(["lif1", "lif2", "lif3"]):
            attrs = f[f"layers/{i}"].attrs
            assert attrs["name"] == name and attrs["kind"] == "PlainLIF"
            assert attrs["description"] == f"layer '{name}' of the model (PlainLIF)"


def test_another_world_size_is_refused_word_for_word(tmp_path):
    out, identity = tmp_path / "a.h5", {"dataset_len": 10, "gamma": 0.5}
    assert prepare(out, identity, world=2, resume=True) == "run"
    writer = ShardWriter(parts_of(out), 1)
    writer.add({"index": np.arange(3)}, [{"name": "lif1"}])
    writer.commit()
    with pytest.raises(AnalysisError) as error:
        prepare(out, identity, world=3, resume=True)
    text = (
        f"{parts_of(out)} holds an unfinished analysis made by 2 processes (3 of 10 samples "
        "done), now 3: "
    )
    assert str(error.value) == (
        text + "run it again with world size 2 to finish it, or pass resume=False to start over"
    )
    assert error.value.cli == (
        text + "run it again with --nproc 2 (or torchrun --nproc-per-node 2) to finish it, or "
        "with --restart"
    )


# --- what a stopped run left behind, and the settings mismatch said to the user -------------


def test_nothing_left_behind_is_said_as_nothing(tmp_path):
    assert left_behind(tmp_path / "a.h5") == ""


def test_what_is_left_behind_counts_every_ranks_committed_samples(tmp_path):
    out = tmp_path / "a.h5"
    for rank, samples in ((0, 3), (1, 2)):
        writer = ShardWriter(parts_of(out), rank)
        writer.add({"index": np.arange(samples)}, [{"name": "lif1"}])
        writer.commit()
    (parts_of(out) / "rank-00002").mkdir()  # a rank that committed nothing yet
    parts = parts_of(out)
    assert left_behind(out) == (
        f"{parts}/ keeps the 5 samples committed so far for a resumed run (remove it with: "
        f"rm -r {parts})"
    )


def finished(path, identity):
    """A finished analysis file at `path` as far as `prepare` looks at it."""
    with h5py.File(path, "w") as f:
        f.attrs.update(format=FORMAT, identity=json.dumps(identity))


def test_a_finished_analysis_made_otherwise_is_refused_word_for_word(tmp_path):
    out = tmp_path / "a.h5"
    finished(out, {"dataset_len": 4, "gamma": 0.5})
    with pytest.raises(AnalysisError) as error:
        prepare(out, {"dataset_len": 4, "gamma": 0.25}, world=1, resume=True)
    text = f"{out} holds an analysis made with other settings (gamma: 0.5 there, 0.25 now); "
    assert str(error.value) == text + "pass resume=False to replace it, or choose another path"
    assert error.value.cli == (
        text + "run again with --restart to replace it, or choose another --out"
    )
    assert out.exists()  # refused, not replaced


def test_an_unfinished_analysis_made_otherwise_is_refused_word_for_word(tmp_path):
    out = tmp_path / "a.h5"
    assert prepare(out, {"dataset_len": 4, "split": "test"}, world=1, resume=True) == "run"
    with pytest.raises(AnalysisError) as error:
        prepare(out, {"dataset_len": 4}, world=1, resume=True)
    text = (
        f"{parts_of(out)} holds an unfinished analysis made with other settings (split: 'test' "
        "there, absent now); "
    )
    assert str(error.value) == text + "pass resume=False to replace it, or choose another path"
    assert error.value.cli == (
        text + "run again with --restart to replace it, or choose another --out"
    )


# --- prepare: what a run finds at its output path -------------------------------------------


def test_a_fresh_run_writes_its_settings_and_world_size(tmp_path):
    out, identity = tmp_path / "a.h5", {"dataset_len": 4, "window": [1, 2]}
    assert prepare(out, identity, world=2, resume=True) == "run"
    meta = parts_of(out) / "meta.json"
    assert json.loads(meta.read_text()) == {"identity": identity, "world": 2}
    assert sorted(p.name for p in parts_of(out).iterdir()) == ["meta.json"]  # no .tmp left
    assert prepare(out, identity, world=2, resume=True) == "run"  # resumable: kept as it is
    assert json.loads(meta.read_text()) == {"identity": identity, "world": 2}


def test_a_parts_folder_without_settings_is_taken_over(tmp_path):
    """A run killed between making the parts folder and writing meta.json left it empty."""
    out, identity = tmp_path / "a.h5", {"dataset_len": 4}
    parts_of(out).mkdir()
    assert prepare(out, identity, world=1, resume=True) == "run"
    assert json.loads((parts_of(out) / "meta.json").read_text()) == {
        "identity": identity,
        "world": 1,
    }


def test_a_finished_analysis_with_the_same_settings_is_done(tmp_path):
    out, identity = tmp_path / "a.h5", {"dataset_len": 4, "gamma": 0.5}
    finished(out, identity)
    parts_of(out).mkdir()  # a merge stopped just before removing its parts
    (parts_of(out) / "meta.json").write_text("{}")
    assert prepare(out, identity, world=1, resume=True) == "done"
    assert out.exists() and not parts_of(out).exists()
    assert prepare(out, identity, world=1, resume=True) == "done"  # no parts to remove: fine


def test_resume_false_starts_over_whatever_is_there(tmp_path):
    out, identity = tmp_path / "a.h5", {"dataset_len": 4}
    assert prepare(out, identity, world=1, resume=False) == "run"  # nothing there: fine
    finished(out, {"dataset_len": 4, "gamma": 1})
    (parts_of(out) / "rank-00000").mkdir()
    assert prepare(out, identity, world=1, resume=False) == "run"
    assert not out.exists()
    assert sorted(p.name for p in parts_of(out).iterdir()) == ["meta.json"]


def test_another_world_size_with_nothing_committed_starts_afresh(tmp_path):
    out, identity = tmp_path / "a.h5", {"dataset_len": 10}
    assert prepare(out, identity, world=2, resume=True) == "run"
    (parts_of(out) / "rank-00001").mkdir()  # a rank that committed nothing
    assert prepare(out, identity, world=3, resume=True) == "run"
    assert json.loads((parts_of(out) / "meta.json").read_text()) == {
        "identity": identity,
        "world": 3,
    }
    assert sorted(p.name for p in parts_of(out).iterdir()) == ["meta.json"]


# --- check_output and as_identity: refusals said in one exact line -------------------------


def test_output_paths_that_cannot_be_the_file_are_refused_word_for_word(tmp_path):
    (tmp_path / "folder.h5").mkdir()
    with pytest.raises(AnalysisError) as error:
        check_output(tmp_path / "folder.h5")
    assert str(error.value) == (
        f"{tmp_path / 'folder.h5'} is a directory; the output must be a file name (.h5)"
    )
    for name, write in (("notes.h5", "text"), ("other.h5", "h5")):
        path = tmp_path / name
        if write == "text":
            path.write_text("my notes")
        else:
            with h5py.File(path, "w") as f:
                f.attrs["format"] = "something else"
        with pytest.raises(AnalysisError) as error:
            check_output(path)
        assert str(error.value) == (
            f"{path} exists and is not a sam-plugins analysis file (sam-plugins-analysis/2); "
            "it is not overwritten: remove it or choose another output path"
        )
    (tmp_path / "a-file").write_text("")
    with pytest.raises(AnalysisError) as error:
        check_output(tmp_path / "a-file" / "out.h5")
    assert str(error.value) == (
        f"cannot create the folder of {tmp_path / 'a-file' / 'out.h5'}: {os.strerror(errno.EEXIST)}"
    )


def test_output_paths_that_can_be_the_file_are_accepted(tmp_path):
    finished(tmp_path / "a.h5", {"dataset_len": 1})  # an analysis file: replaced or resumed
    check_output(tmp_path / "a.h5")
    check_output(tmp_path / "new.h5")  # in an existing folder
    check_output(tmp_path / "x" / "y" / "a.h5")  # folders made as needed
    assert (tmp_path / "x" / "y").is_dir()


def test_settings_read_back_as_json_and_refuse_what_json_cannot_hold(tmp_path):
    assert as_identity({"window": (1, 2), "limit": None, "split": "test"}) == {
        "window": [1, 2], "limit": None, "split": "test",
    }  # fmt: skip
    for bad in ({"data": tmp_path}, {"gamma": float("nan")}):
        try:
            json.dumps(bad, allow_nan=False)
        except (TypeError, ValueError) as exc:
            why = str(exc)
        with pytest.raises(AnalysisError) as error:
            as_identity(bad)
        assert str(error.value) == (
            "the analysis settings must be JSON values (text, numbers, true/false, None, lists, "
            f"dicts): {why}"
        )


# --- OutputLock: one writer per output, and who holds it -----------------------------------


def test_the_lock_names_its_holder_and_a_second_writer_is_refused_word_for_word(tmp_path):
    out = tmp_path / "a.h5"
    first = OutputLock(out)
    first.acquire()
    try:
        holder = f"process {os.getpid()} on {socket.gethostname()}"
        assert (tmp_path / "a.h5.lock").read_text() == holder + "\n"
        with pytest.raises(AnalysisError) as error:
            OutputLock(out).acquire()
        text = f"{out} is being written by another analysis ({holder}, holding {out}.lock): "
        assert str(error.value) == (
            text + "run this again when it has finished, or choose another path"
        )
        assert error.value.cli == (
            text + "run this again when it has finished, or choose another --out"
        )
        (tmp_path / "a.h5.lock").write_text("")  # a holder that has not said who it is yet
        with pytest.raises(AnalysisError, match=re.escape("another analysis (a process, hold")):
            OutputLock(out).acquire()
    finally:
        first.release()
    assert not (tmp_path / "a.h5.lock").exists()
    first.release()  # twice: nothing more to do


def test_a_lock_file_left_by_a_killed_run_is_taken_over(tmp_path):
    (tmp_path / "a.h5.lock").write_text("process 1 on elsewhere\n")  # no one holds it
    lock = OutputLock(tmp_path / "a.h5")
    lock.acquire()
    holder = f"process {os.getpid()} on {socket.gethostname()}\n"
    assert (tmp_path / "a.h5.lock").read_text() == holder
    (tmp_path / "a.h5.lock").unlink()  # removed by hand while held: release still works
    lock.release()
    OutputLock(tmp_path / "b.h5").release()  # never acquired: nothing to release


def test_a_lock_file_removed_by_a_finishing_run_is_not_trusted(tmp_path, monkeypatch):
    """Between opening the lock file and locking it, the run that held it may finish and remove
    it: the lock then holds a file no one else sees, so acquire opens the name again."""
    from sam_plugins.analysis import store

    real_stat, calls = os.stat, []

    def stat_after_removal(path, *args, **kwargs):
        if Path(path) == tmp_path / "a.h5.lock" and not calls:
            calls.append(path)
            os.unlink(path)
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(store.os, "stat", stat_after_removal)
    lock = OutputLock(tmp_path / "a.h5")
    lock.acquire()
    monkeypatch.undo()
    try:
        assert calls  # the removal happened
        holder = f"process {os.getpid()} on {socket.gethostname()}\n"
        assert (tmp_path / "a.h5.lock").read_text() == holder
        with pytest.raises(AnalysisError, match="being written by another analysis"):
            OutputLock(tmp_path / "a.h5").acquire()
    finally:
        lock.release()


def test_a_lock_in_a_missing_folder_is_refused_in_one_line(tmp_path):
    lock = tmp_path / "missing" / "a.h5.lock"
    with pytest.raises(AnalysisError) as error:
        OutputLock(tmp_path / "missing" / "a.h5").acquire()
    assert str(error.value) == f"cannot write {lock}: {os.strerror(errno.ENOENT)}"


# --- ShardWriter: one rank's committed work ------------------------------------------------


def test_a_new_writer_holds_nothing(tmp_path):
    writer = ShardWriter(tmp_path / "a.h5.parts", 3)
    assert (writer.done, writer.batches, writer.sums, writer.layers) == (0, 0, {}, None)
    assert writer.folder == tmp_path / "a.h5.parts" / "rank-00003"
    assert list(writer.rows()) == []
    writer.commit()  # nothing added: nothing written
    assert not writer.folder.exists()


def test_a_resumed_writer_reads_back_the_committed_sums_and_counts(tmp_path):
    writer = ShardWriter(tmp_path, 1)
    writer.sums["count"] = np.array([[2.0, 1.0]])
    writer.add({"index": np.array([1, 3])}, [{"name": "lif1"}])
    writer.commit()
    writer.sums["count"] += 1  # added after the commit: not on disk
    writer.add({"index": np.array([5])}, [{"name": "lif1"}])
    writer.commit()
    again = ShardWriter(tmp_path, 1)
    assert (again.done, again.batches, again.layers) == (3, 2, [{"name": "lif1"}])
    assert list(again.sums) == ["count"]
    np.testing.assert_array_equal(again.sums["count"], [[3.0, 2.0]])
    assert [rows["index"].tolist() for rows in again.rows()] == [[1, 3], [5]]


def test_a_writer_keeps_rows_up_to_the_byte_limit_and_no_further(tmp_path, monkeypatch):
    from sam_plugins.analysis import store

    rows = {"index": np.arange(4), "rate": np.ones(4, np.float32)}  # 32 + 16 bytes
    monkeypatch.setattr(store, "KEEP_ROWS_BYTES", 48)
    exact = ShardWriter(tmp_path / "exact", 0, keep_rows=True)
    exact.add(rows, [])
    exact.commit()
    assert exact._kept is not None  # 48 bytes: at the limit, kept
    monkeypatch.setattr(store, "KEEP_ROWS_BYTES", 72)
    two = ShardWriter(tmp_path / "two", 0, keep_rows=True)
    for _ in range(2):
        two.add(rows, [])
        two.commit()
    assert two._kept is None  # 96 bytes in all: past it
    unasked = ShardWriter(tmp_path / "unasked", 0)
    unasked.add(rows, [])
    unasked.commit()
    assert unasked._kept is None  # keep_rows=False keeps nothing


# --- class sums added over batches and ranks -----------------------------------------------


def test_sums_of_different_lengths_are_added_over_the_longer_time_axis():
    total = {}
    add_sums(total, {"count": np.ones((2, 3)), "map": np.ones((2, 2, 3)), "isi": np.ones(4)})
    add_sums(total, {"count": np.full((2, 5), 2.0), "map": np.full((2, 4, 3), 2.0)})
    add_sums(total, {"count": np.full((2, 2), 4.0), "isi": np.arange(4.0)})
    count = np.full((2, 5), 2.0)
    count[:, :3] += 1
    count[:, :2] += 4
    np.testing.assert_array_equal(total["count"], count)
    maps = np.full((2, 4, 3), 2.0)
    maps[:, :2] += 1
    np.testing.assert_array_equal(total["map"], maps)
    np.testing.assert_array_equal(total["isi"], [1.0, 2.0, 3.0, 4.0])


def test_rows_of_batches_are_stacked_with_time_padded(tmp_path):
    """Maps rows [B, y, x]: the y axis is the same in every batch, and stays as it is."""
    writer = ShardWriter(tmp_path, 0)
    maps = [np.full((2, 3, 2), 1.0, np.float16), np.full((1, 3, 2), 2.0, np.float16)]
    for k, batch in enumerate(maps):
        writer.add({"index": np.arange(len(batch)) + 2 * k, "maps": batch}, [])
    writer.commit()
    (rows,) = list(writer.rows())
    np.testing.assert_array_equal(rows["maps"], np.concatenate(maps))
    assert rows["maps"].dtype == np.float16


# --- merge: the ranks' parts into one self-describing file ---------------------------------

LAYERS = [
    {"name": "conv/lif", "kind": "KindA", "neurons": 6, "map_shape": [2, 3]},
    {"name": "fc", "kind": "KindB", "neurons": 4, "map_shape": None},
]
IDENTITY = {"dataset_len": 5, "save_maps": True, "gamma": 0.5, "window": [1, 2], "limit": None}


def shard_rows(index, steps):
    """Rows of the samples `index`, each value made from the sample's index (to check order)."""
    i = np.asarray(index)
    column = i[:, None].astype(np.float32)
    return {
        "index": i, "target": i % 2, "prediction": (i + 1) % 2, "length": i + 1,
        "L0.profile": column + np.arange(steps, dtype=np.float32),
        "L0.rate": i / 10, "L0.mass": i * 100.0,
        "L0.maps": np.broadcast_to(column[:, :, None], (len(i), 2, 3)).astype(np.float16),
        "L1.profile": column * np.ones(steps, np.float32), "L1.rate": i / 20,
    }  # fmt: skip


def write_parts(out, batches, world=2, sums=None):
    """Rank r's committed `batches` [(index, steps), ...], and class sums (rank 0 holds them)."""
    writers = []
    for r in range(world):
        writer = ShardWriter(parts_of(out), r)
        if r == 0:
            writer.sums.update(sums or {"count": np.ones((2, 3))})
        for index, steps in batches[r]:
            writer.add(shard_rows(index, steps), LAYERS)
            writer.commit()
        writers.append(writer)
    return writers


def test_merge_writes_rows_in_dataset_order_and_describes_everything(tmp_path):
    out = tmp_path / "a.h5"
    sums = {
        "count": np.array([[3.0, 2, 1, 0], [2, 2, 1, 1]]),
        "L0.profile_sum": np.arange(8.0).reshape(2, 4),
        "L0.map_sum": np.ones((2, 4, 2, 3)),
        "L1.rate_sum": np.full((2, 4), 0.5),
        "L1.isi_hist": np.arange(3.0),
    }
    batches = {0: [([0, 2], 3), ([], 3), ([4], 4)], 1: [([1, 3], 2)]}
    write_parts(out, batches, sums=sums)
    merge(out, IDENTITY, world=2)
    assert not parts_of(out).exists() and sorted(p.name for p in tmp_path.iterdir()) == ["a.h5"]
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == FORMAT and f.attrs["samples"] == 5
        assert f.attrs["description"] == (
            "Spike Activation Map (Kim & Panda 2021) statistics of a model over a dataset, "
            "written by sam-plugins. Per-class datasets hold sums: divide by classes/count "
            "(sam_plugins.analysis.AnalysisResult returns the means)."
        )
        assert json.loads(f.attrs["identity"]) == IDENTITY
        assert json.loads(f.attrs["layer_names"]) == ["conv/lif", "fc"]
        assert f.attrs["dataset_len"] == 5 and f.attrs["save_maps"] == np.True_
        assert f.attrs["gamma"] == 0.5 and f.attrs["window"] == "[1, 2]"
        assert f.attrs["limit"] == "null"
        i = np.arange(5)
        for name, expected in (
            ("index", i),
            ("target", i % 2),
            ("prediction", (i + 1) % 2),
            ("length", i + 1),
        ):
            assert f[f"samples/{name}"].dtype == np.int64
            np.testing.assert_array_equal(f[f"samples/{name}"][()], expected)
        for k, layer in enumerate(LAYERS):
            attrs = f[f"layers/{k}"].attrs
            assert (attrs["name"], attrs["kind"], attrs["neurons"]) == (
                layer["name"],
                layer["kind"],
                layer["neurons"],
            )
            assert attrs["description"] == f"layer {layer['name']!r} of the model ({layer['kind']})"
        profile = f["layers/0/profile"]
        assert profile.dtype == np.float32 and profile.shape == (5, 4)  # count's time bins
        expected = i[:, None] + np.arange(4.0)
        expected[[1, 3], 2:] = 0  # rank 1's batch had 2 bins
        expected[[0, 1, 2, 3], 3] = 0  # the first batches 3 or fewer
        np.testing.assert_array_equal(profile[()], expected)
        np.testing.assert_allclose(f["layers/0/rate"][()], i / 10, rtol=1e-6)
        np.testing.assert_array_equal(f["layers/0/mass"][()], i * 100.0)
        np.testing.assert_allclose(f["layers/1/rate"][()], i / 20, rtol=1e-6)
        steps = np.array([3, 2, 3, 2, 4])  # the mass of parts without one: the profile's sum
        np.testing.assert_array_equal(f["layers/1/mass"][()], i * steps)
        maps = f["layers/0/maps"]
        assert maps.dtype == np.float16 and maps.shape == (5, 2, 3) and maps.chunks == (1, 2, 3)
        assert maps.compression == "gzip" and maps.shuffle
        np.testing.assert_array_equal(maps[()], np.broadcast_to(i[:, None, None], (5, 2, 3)))
        assert "layers/1/maps" not in f  # a layer without a layout has no maps
        for name, value in sums.items():
            where = "classes/count" if name == "count" else name.replace("L", "layers/")
            dataset = f[where.replace(".", "/")]
            assert dataset.dtype == np.float64
            np.testing.assert_array_equal(dataset[()], value)
        assert "layers/0/rate_sum" not in f and "layers/1/map_sum" not in f
        for name, dataset in datasets(f):
            text, axes = DESCRIPTIONS[name if name in DESCRIPTIONS else name.rsplit("/", 1)[1]]
            assert (dataset.attrs["description"], dataset.attrs["axes"]) == (text, axes), name
        assert len(datasets(f)) == 4 + 4 + 3 + 5  # samples, the layers' rows, sums


def datasets(f):
    found = []
    f.visititems(lambda k, v: found.append((k, v)) if isinstance(v, h5py.Dataset) else None)
    return found


def test_merge_without_maps_asked_writes_none(tmp_path):
    out = tmp_path / "a.h5"
    write_parts(out, {0: [([0, 2, 4], 3)], 1: [([1, 3], 3)]})
    merge(out, {**IDENTITY, "save_maps": False}, world=2)
    with h5py.File(out, "r") as f:
        assert "layers/0/maps" not in f and "layers/0/profile" in f


def test_merge_of_one_process_in_several_batches(tmp_path):
    out = tmp_path / "a.h5"
    write_parts(out, {0: [([0, 1], 3), ([2, 3, 4], 3)]}, world=1)
    merge(out, IDENTITY, world=1)
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["samples/index"][()], np.arange(5))
        np.testing.assert_array_equal(f["layers/0/mass"][()], np.arange(5) * 100.0)


def test_merge_takes_rank_0s_rows_from_its_own_writer(tmp_path):
    out = tmp_path / "a.h5"
    own = ShardWriter(parts_of(out), 0, keep_rows=True)
    own.sums["count"] = np.ones((2, 3))
    own.add(shard_rows([0, 2, 4], 3), LAYERS)
    own.commit()
    write_parts(out, {0: [], 1: [([1, 3], 3)]}, sums={})
    for written in own.folder.glob("rows-*.npz"):
        written.unlink()  # kept rows need no file
    merge(out, IDENTITY, world=2, own=own)
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["samples/index"][()], np.arange(5))
        np.testing.assert_array_equal(f["classes/count"][()], np.ones((2, 3)))


def merge_error(tmp_path, batches, world=2):
    out = tmp_path / "a.h5"
    write_parts(out, batches, world=world)
    with pytest.raises(AnalysisError) as error:
        merge(out, IDENTITY, world=world)
    assert not out.exists() and not (tmp_path / "a.h5.tmp").exists()  # no half-written file
    assert parts_of(out).is_dir()  # the parts are kept
    return str(error.value)


def test_merge_refuses_unfinished_or_inconsistent_parts_word_for_word(tmp_path):
    assert merge_error(tmp_path / "1", {0: [([0, 2, 4], 3)], 1: [([1], 3)]}) == (
        f"rank 1's part in {tmp_path / '1' / 'a.h5.parts'} holds 1 of its 2 samples; run the "
        "analysis again to finish it (with several machines, the output must be on a file "
        "system they all share)"
    )
    assert merge_error(tmp_path / "2", {0: [([0, 2, 4], 3)], 1: [([0, 2], 3)]}) == (
        f"rank 1's part in {tmp_path / '2' / 'a.h5.parts'} is inconsistent; --restart"
    )
    assert merge_error(tmp_path / "3", {0: [([0, 4], 3), ([2], 3)], 1: [([1, 3], 3)]}) == (
        f"rank 0's part in {tmp_path / '3' / 'a.h5.parts'} is inconsistent; --restart"
    )
    assert merge_error(tmp_path / "4", {0: [([0, 2], 3), ([2], 3)], 1: [([1, 3], 3)]}) == (
        "sample 2 was analysed 2 times; --restart"
    )


# --- fingerprint: which weights made an analysis --------------------------------------------


def test_the_weights_fingerprint_tells_weights_apart_and_only_them():
    def model(weight, name="w"):
        module = torch.nn.Module()
        module.register_buffer(name, weight)
        return module

    weight = torch.arange(6, dtype=torch.float32)
    mark = fingerprint(model(weight))
    assert len(mark) == 16 and int(mark, 16) >= 0  # 16 hex digits
    assert fingerprint(model(weight.clone())) == mark  # same names and values: same mark
    changed = weight.clone()
    changed[5] = 5.5
    others = [
        model(changed),  # one value
        model(weight, name="v"),  # a name
        model(weight.reshape(2, 3)),  # a shape, the same bytes
        model(weight.view(torch.int32)),  # a dtype, the same bytes
    ]
    marks = {fingerprint(other) for other in others}
    assert len(marks) == 4 and mark not in marks


def test_a_folder_without_write_permission_is_refused_word_for_word(tmp_path, monkeypatch):
    """As a folder of mode 0o500 looks to a user (the tests may run as root, who may write
    anywhere): readable and searchable, not writable."""
    from sam_plugins.analysis import store

    real_access = os.access

    def read_only(path, mode, *args, **kwargs):
        if Path(path) == tmp_path and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(store.os, "access", read_only)
    with pytest.raises(AnalysisError) as error:
        check_output(tmp_path / "a.h5")
    assert str(error.value) == f"cannot write to {tmp_path}/ (permission denied)"


def test_class_sums_of_cpu_tensors_and_of_per_step_values_grow_along_time():
    """Per-step values [T, B] (the profiles, the counts) as CPU tensors: summed over each
    sample's valid steps, the sums [classes, T] growing when a later batch is longer."""
    sums = {}
    first = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # [T=2, B=2]
    add_class_sums(sums, "k", first, np.array([0, 1]), np.array([2, 1]), 2)
    longer = torch.tensor([[10.0], [20.0], [30.0], [40.0]])  # [T=4, B=1]
    add_class_sums(sums, "k", longer, np.array([1]), np.array([3]), 2)
    assert sums["k"].dtype == np.float64
    np.testing.assert_array_equal(sums["k"], [[1.0, 3.0, 0.0, 0.0], [12.0, 20.0, 30.0, 0.0]])


class OffTheCpu(torch.Tensor):
    """Stands in for a GPU tensor on a machine without one: not on the CPU, no numpy view of it
    (as torch refuses for CUDA tensors), `.cpu()` a plain CPU copy."""

    @property
    def is_cpu(self):
        return False

    def numpy(self, *args, **kwargs):
        raise TypeError("can't convert a tensor off the CPU to numpy; use .cpu() first")

    def cpu(self, *args, **kwargs):
        return self.as_subclass(torch.Tensor).clone()


def test_class_sums_of_tensors_off_the_cpu_are_made_there_and_added():
    """GPU maps are summed where they are and only the class sums copied: batch after batch,
    added to the sums so far (growing along time) like CPU values."""
    sums = {}
    first = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).as_subclass(OffTheCpu)  # [T=2, B=2]
    add_class_sums(sums, "k", first, np.array([0, 1]), np.array([2, 1]), 2)
    np.testing.assert_array_equal(sums["k"], [[1.0, 3.0], [2.0, 0.0]])
    longer = torch.tensor([[10.0], [20.0], [30.0]]).as_subclass(OffTheCpu)  # [T=3, B=1]
    add_class_sums(sums, "k", longer, np.array([0]), np.array([3]), 2)
    assert sums["k"].dtype == np.float64
    np.testing.assert_array_equal(sums["k"], [[11.0, 23.0, 30.0], [2.0, 0.0, 0.0]])
