"""The analysis over 2 processes (torchrun, gloo on CPU) equals one process after a rank
is killed with SIGKILL and the command is run again; another world size is refused clearly."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from analysis_data import Frames, net, run

from sam_plugins.analysis import AnalysisError, AnalysisResult, analyze_dataset

WORKER = Path(__file__).parent / "dist_worker.py"
N = 23  # not a multiple of the world size: the ranks' shards differ in length


def torchrun(*args, nproc=2):
    """Run the worker under torchrun (its own rendezvous on a free port), 120 s at most."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc-per-node={nproc}", str(WORKER), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def single(path, **options):
    return analyze_dataset(
        net(), Frames(N), path, num_classes=4, layers=["lif1", "lif2", "lif3"], run=run,
        batch_size=3, progress=False, **options,
    )  # fmt: skip


def assert_same(merged: AnalysisResult, one: AnalysisResult) -> None:
    assert merged.identity == one.identity
    for name in ("indices", "targets", "predictions", "lengths"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(one, name))
    np.testing.assert_array_equal(merged.count, one.count)
    for layer in one.layers:
        for rows in ("sample_profiles", "sample_rates", "sample_mass"):
            np.testing.assert_array_equal(getattr(merged, rows)(layer), getattr(one, rows)(layer))
        np.testing.assert_array_equal(merged.isi_histogram(layer), one.isi_histogram(layer))
        for mean in ("profile", "firing_rate") + ("mean_maps",) * one.has_maps(layer):
            np.testing.assert_allclose(
                getattr(merged, mean)(layer), getattr(one, mean)(layer), rtol=1e-9, atol=0
            )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return single(tmp_path_factory.mktemp("one") / "one.h5", save_maps=True)


def test_a_rank_killed_mid_run_resumes_to_the_same_result(tmp_path, reference):
    out, marker = tmp_path / "two.h5", tmp_path / "killed"
    # rank 1 reads items 1, 3, 5 (batch 1), 7, 9, 11 (batch 2), ...: killed in its third batch
    killed = torchrun(out, N, "--save-maps", "--kill", f"1:13:{marker}")
    assert killed.returncode != 0 and marker.exists()
    assert not out.exists()
    shard = out.with_name("two.h5.parts") / "rank-00001"
    assert sorted(p.name for p in shard.glob("rows-*.npz")) == [
        "rows-000000.npz",
        "rows-000001.npz",
    ]
    # run again, every rank committing every 2-3 batches: two processes give the one-process
    # file (the documented commands compare the defaults' files, without per-sample maps)
    again = torchrun(out, N, "--save-maps", "--kill", f"1:13:{marker}", "--tick", "2.5")
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"rank 1: {N} samples" in again.stdout
    merged = AnalysisResult(out)
    assert sorted(merged.indices.tolist()) == list(range(N))  # none missing, none doubled
    assert_same(merged, reference)
    for layer in ("lif1", "lif2"):
        np.testing.assert_array_equal(merged.sample_maps(layer), reference.sample_maps(layer))
    assert not out.with_name("two.h5.parts").exists()


def test_another_world_size_is_refused_with_a_clear_message(tmp_path, reference):
    out, marker = tmp_path / "two.h5", tmp_path / "killed"
    killed = torchrun(out, N, "--save-maps", "--kill", f"1:9:{marker}")
    assert killed.returncode != 0
    with pytest.raises(AnalysisError, match="made by 2 processes.*world size 2") as error:
        single(out, save_maps=True)
    assert "--nproc 2" in error.value.cli and "--restart" in error.value.cli
    # starting over in one process gives the reference
    assert_same(single(out, save_maps=True, resume=False), reference)
