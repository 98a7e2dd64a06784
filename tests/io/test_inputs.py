"""read_input: frames that cannot be fed to a model are refused as a LoadError (the command line
prints it as one line), before any model sees them."""

from pathlib import Path

import numpy as np
import pytest
import torch

from sam_plugins.cli import main
from sam_plugins.io import LoadError, read_input

GOOD = np.zeros((3, 2, 2, 4, 4), dtype=np.float32)


def save(tmp_path, name, data=None, **arrays):
    path = tmp_path / name
    if name.endswith(".pt"):
        torch.save(data, path)
    elif name.endswith(".npz"):
        np.savez(path, **arrays)
    else:
        np.save(path, data)
    return path


def with_value(value, where=(1, 0, 1, 2, 3)):
    frames = GOOD.copy()
    frames[where] = value
    return frames


@pytest.mark.parametrize(
    "frames, message",
    [
        (np.full((3, 1, 2, 4, 4), np.nan, np.float32), r"NaN or infinite: 96 of 96 values"),
        (with_value(np.nan), r"NaN or infinite: 1 of 192 values, first in frame 1 of sample 0"),
        (with_value(np.inf), "NaN or infinite"),
        (with_value(-np.inf), "NaN or infinite"),
        (GOOD.astype(np.float64) * 0 + 1e300, "NaN or infinite"),  # inf once made float32
        (
            np.zeros((0, 1, 2, 4, 4), np.float32),
            r"no values, T = 0 \(no time steps\): shape \(0, 1, 2, 4, 4\)",
        ),
        (np.zeros((3, 0, 2, 4, 4), np.float32), "no values"),
        (np.zeros((3, 2, 4, 4), np.complex64), "real numbers, found complex64"),
        (np.array([["a"] * 4] * 3), "numbers, found <U1"),
    ],
    ids=["all nan", "one nan", "inf", "-inf", "float32 overflow", "T=0", "B=0", "complex", "str"],
)
@pytest.mark.parametrize("suffix", [".npy", ".pt"])
def test_frames_that_are_not_finite_numbers_are_refused(tmp_path, frames, message, suffix):
    if suffix == ".pt" and frames.dtype.kind == "U":  # torch has no string tensors: a list
        path = save(tmp_path, "f.pt", frames.tolist())
        message = "expected frames"
    else:
        path = save(
            tmp_path, "f" + suffix, frames if suffix == ".npy" else torch.from_numpy(frames)
        )
    with pytest.raises(LoadError, match=message):
        read_input(path)


def test_good_frames_still_load(tmp_path):
    frames = GOOD + np.arange(4, dtype=np.float32)
    loaded = read_input(save(tmp_path, "f.npy", frames[:, 0])).frames  # [T, C, H, W]
    assert loaded.shape == (3, 1, 2, 4, 4) and torch.equal(
        loaded[:, 0], torch.from_numpy(frames[:, 0])
    )
    assert read_input(save(tmp_path, "b.npy", GOOD.astype(bool))).frames.dtype == torch.float32


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.array([1.5, 2.0]), r"whole numbers, found \[1.5, 2.0\]"),
        (np.array([np.nan, 1.0]), "whole numbers"),
        (np.array([1, 2, 3]), r"one label per sample \(2\), found shape \(3,\)"),
        (np.array([[1], [2]]), "found shape"),
    ],
)
def test_labels_must_be_one_class_per_sample(tmp_path, labels, message):
    path = save(tmp_path, "f.npz", frames=GOOD, labels=labels)
    with pytest.raises(LoadError, match=message):
        read_input(path)
    good = save(tmp_path, "g.npz", frames=GOOD, labels=np.array([3.0, 1.0]))
    assert read_input(good).labels.tolist() == [3, 1]


def test_command_line_prints_bad_frames_as_one_line(tmp_path, capsys):
    path = save(tmp_path, "nan.npy", np.full((3, 1, 2, 4, 4), np.nan, np.float32))
    argv = ["explain", "plain_snn:ConvSNN", "--input", str(path), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "NaN or infinite" in err


class Payload:
    """Unpickling it runs code: it creates the file `path` (the test's own tmp_path)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def evil_files(tmp_path):
    """Input files whose loading would unpickle a `Payload` that writes tmp_path/pwned, in
    each place a file may hold one: an .npy, an .npz's frames or labels, a .pt."""
    payload = np.array([Payload(tmp_path / "pwned"), 1], dtype=object)
    np.save(tmp_path / "obj.npy", payload, allow_pickle=True)
    np.savez(tmp_path / "frames.npz", frames=payload)
    np.savez(tmp_path / "labels.npz", frames=GOOD, labels=payload)
    torch.save({"frames": Payload(tmp_path / "pwned")}, tmp_path / "obj.pt")
    return [tmp_path / n for n in ("obj.npy", "frames.npz", "labels.npz", "obj.pt")]


def test_the_payload_writes_where_the_test_looks(tmp_path):
    """The guard of the next test: loading these files unsafely does create tmp_path/pwned."""
    for path in evil_files(tmp_path):
        if path.suffix == ".pt":
            torch.load(path, weights_only=False)
        else:
            data = np.load(path, allow_pickle=True)
            if path.suffix == ".npz":
                data = [data[k] for k in data.files]  # an .npz loads its arrays when read
        assert (tmp_path / "pwned").exists(), path
        (tmp_path / "pwned").unlink()


def test_object_arrays_are_refused_in_one_line_and_never_unpickled(tmp_path, capsys):
    for path in evil_files(tmp_path):
        with pytest.raises(LoadError) as info:
            read_input(path)
        assert not (tmp_path / "pwned").exists(), f"{path} was unpickled"
        message = str(info.value)
        assert "\n" not in message and str(path) in message, message
        if path.suffix != ".pt":
            assert "object" in message and "never unpickled" in message, message
        argv = ["explain", "plain_snn:ConvSNN", "--input", str(path), "--out", str(tmp_path / "o")]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("sam-plugins: error: ") and err.count("\n") == 1, err
        assert not (tmp_path / "pwned").exists() and not (tmp_path / "o").exists()
