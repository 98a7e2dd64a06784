"""Tests that kill mutants mutmut left alive in the analysis store (benchmarks/mutation.sh,
issue 24): class sums kept in float64, the rows a writer keeps served from memory, the settings
mismatch said key by key, and each layer's self-description in the file."""

import h5py
import numpy as np
import pytest
from analysis_data import Frames, analyse

from sam_plugins.analysis.store import (
    AnalysisError,
    ShardWriter,
    add_sums,
    describe_mismatch,
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
