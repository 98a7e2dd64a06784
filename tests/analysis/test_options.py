"""Documented options of the analysis, each run as written: the command-line flags, the resume
check for every setting, the merge's missing-part error, and `num_workers=` / `predict=`."""

import json
import os
import socket

import h5py
import numpy as np
import pytest
import torch
from analysis_data import Frames, Interrupting, analyse
from sam_plugins_demo import trained_demo_net

from sam_plugins.analysis import AnalysisError, AnalysisResult
from sam_plugins.analysis.store import fingerprint, merge, parts_of
from sam_plugins.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The emulated test digits, made here: no test depends on running after another one that
    made them (the first command to need them says so on stderr)."""
    from sam_plugins_demo import EmulatedDigits

    folder = tmp_path_factory.mktemp("digits")
    EmulatedDigits(str(folder), train=False)
    return folder


def analyze(data, out, *more):
    return ["analyze", "--data", str(data), "--out", str(out), "--limit", "6", "--no-report", *more]


@pytest.mark.parametrize(
    ("flags", "setting", "value"),
    [
        (["--num-classes", "12"], "num_classes", 12),
        (["--gamma", "0.3"], "gamma", 0.3),
        (["--device", "cpu"], "num_classes", 10),
        (["--commit-every", "0"], "num_classes", 10),
        (["--weights", "{w}"], "weights", "{w}"),
    ],
)
def test_flags_as_written(data, tmp_path, capsys, flags, setting, value):
    weights = tmp_path / "w.pt"
    net = trained_demo_net()
    with torch.no_grad():
        next(net.parameters()).mul_(0.5)  # other weights than the default model's
    torch.save(net.state_dict(), weights)
    flags = [f.format(w=weights) for f in flags]
    assert main(analyze(data, tmp_path / "a.h5", *flags)) == 0, capsys.readouterr().err
    assert "analysed 6 samples" in capsys.readouterr().out
    result = AnalysisResult(tmp_path / "a.h5")
    expected = fingerprint(net) if value == "{w}" else value
    assert result.identity[setting] == expected and result.done == 6
    if setting == "num_classes":
        assert result.count.shape[0] == value
    if "--commit-every" in flags:
        assert not parts_of(tmp_path / "a.h5").exists()


@pytest.mark.parametrize(
    ("first", "then", "named"),
    [
        ({"settings": {"split": "test"}}, {"settings": {"split": "train"}}, "split: 'test' there"),
        ({"settings": {"dataset": "a:B"}}, {"settings": {"dataset": "a:C"}}, "dataset: 'a:B'"),
        ({"window": "previous"}, {"window": "inclusive"}, "window: 'previous' there"),
        ({"isi_bins": 64}, {"isi_bins": 8}, "isi_bins: 64 there, 8 now"),
        ({"save_maps": False}, {"save_maps": True}, "save_maps: False there, True now"),
    ],
)
@pytest.mark.parametrize("finished", [True, False])
def test_resume_checks_every_setting(tmp_path, first, then, named, finished):
    out = tmp_path / "a.h5"
    if finished:
        analyse(Frames(n=4), out, **first)
    else:  # an unfinished analysis: only its parts
        with pytest.raises(KeyboardInterrupt):
            analyse(Interrupting(at=3), out, **first)
    with pytest.raises(AnalysisError, match=named):
        analyse(Frames(n=4) if finished else Frames(), out, **then)
    assert analyse(Frames(n=4) if finished else Frames(), out, **first).done == (
        4 if finished else 11
    )


def test_the_merge_names_a_missing_part(tmp_path):
    out = tmp_path / "a.h5"
    parts_of(out).mkdir()
    with pytest.raises(AnalysisError, match=r"rank 0's part .* holds 0 of its 2 samples.*share"):
        merge(out, {"dataset_len": 4}, world=2)
    assert not out.exists() and not (tmp_path / "a.h5.tmp").exists()


def test_num_workers_give_the_same_file(tmp_path):
    one = analyse(Frames(), tmp_path / "a.h5")
    two = analyse(Frames(), tmp_path / "b.h5", num_workers=2)
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        assert json.loads(a.attrs["identity"]) == json.loads(b.attrs["identity"])
    np.testing.assert_array_equal(one.predictions, two.predictions)
    for layer in one.layers:
        np.testing.assert_array_equal(one.sample_profiles(layer), two.sample_profiles(layer))
    np.testing.assert_array_equal(one.mean_maps("lif1"), two.mean_maps("lif1"))


def test_predict_gives_the_predictions(tmp_path):
    seen = []

    def predict(outputs, lengths):  # outputs [T, B, classes], lengths [B]
        seen.append((outputs.shape, lengths.tolist()))
        return lengths % 4

    result = analyse(Frames(), tmp_path / "a.h5", predict=predict)
    np.testing.assert_array_equal(result.predictions, result.lengths % 4)
    assert len(seen) == 4 and seen[0][0][1:] == (3, 4)


def test_split_train_reads_the_training_split(tmp_path, capsys, monkeypatch):
    """`--split train` on emulated N-MNIST that has only its training split: read offline
    (a connection attempt fails the test), so the test split was not what was read."""
    from sam_plugins_tonic.nmnist import write_nmnist

    def no_network(sock, address):
        raise AssertionError(f"the analysis tried to connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    write_nmnist(tmp_path / "nmnist", train=True, count=10000)  # tonic wants 10000 files
    argv = ["analyze", "--dataset", "tonic.datasets:NMNIST", "--data", str(tmp_path / "nmnist")]
    argv += ["--split", "train", "--limit", "4", "--out", str(tmp_path / "a.h5"), "--no-report"]
    assert main(argv) == 0, capsys.readouterr().err
    result = AnalysisResult(tmp_path / "a.h5")
    assert result.identity["split"] == "train" and result.done == 4
    assert (result.targets == 0).all()  # tonic lists the Train/0 folder first


def test_pngs_writes_the_report_figures_beside_the_page(data, tmp_path, capsys):
    """`analyze --pngs` as typed (with its default report folder): the page and, beside it, a
    PNG per figure, as `report --pngs` writes them."""
    argv = ["analyze", "--data", str(data), "--out", str(tmp_path / "a.h5"), "--limit", "6"]
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main([*argv, "--pngs"]) == 0, capsys.readouterr().err
    finally:
        os.chdir(here)
    written = sorted(p.name for p in (tmp_path / "sam-analysis").iterdir())
    figures = [f"layer-{k}-{f}.png" for k in (1, 3, 6) for f in ("isi", "maps", "profile", "rate")]
    assert written == sorted(["confusion.png", *figures, "report.html"])
