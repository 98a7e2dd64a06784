"""Tests that kill mutants mutmut left alive in the analysis store (benchmarks/mutation.sh,
issue 24): class sums kept in float64, the rows a writer keeps served from memory, the settings
mismatch said key by key, and each layer's self-description in the file."""

import h5py
import numpy as np
from analysis_data import Frames, analyse

from sam_plugins.analysis.store import ShardWriter, add_sums, describe_mismatch


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
        "bins: None there, 3 now, split: 'test' there, 'train' now, "
        "window: 'previous' there, 'inclusive' now"
    )


def test_each_layer_describes_itself_in_the_file(tmp_path):
    analyse(Frames(n=4), tmp_path / "a.h5")
    with h5py.File(tmp_path / "a.h5") as f:
        for i, name in enumerate(["lif1", "lif2", "lif3"]):
            attrs = f[f"layers/{i}"].attrs
            assert attrs["name"] == name and attrs["kind"] == "PlainLIF"
            assert attrs["description"] == f"layer '{name}' of the model (PlainLIF)"
