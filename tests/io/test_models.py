"""Weights files that are not state dicts: the command says what the file is and what is read
(a `torch.save` state dict, as tensors only), in one line, and never torch's advice to load with
``weights_only=False`` (which would run the file's code)."""

import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from sam_plugins.io import build_model
from sam_plugins.io.models import EXPECTED_WEIGHTS

MODEL = "sam_plugins_demo:demo_net"


class Unpicklable:
    """Loading it runs code (it writes `path`, where the test looks): never unpickled."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def write(path: Path, kind: str) -> None:
    """A weights file of `kind` that is not a state dict."""
    if kind == "text":
        path.write_text("epochs: 4\nlr: 0.01\n")
    elif kind == "hdf5":
        with h5py.File(path, "w") as f:
            f["dense/kernel"] = np.zeros((3, 3))
    elif kind == "pickle":
        with open(path, "wb") as f:
            pickle.dump({"weights": Unpicklable(path.with_name("pwned"))}, f)
    elif kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("weights.json", "{}")
    elif kind == "npz":
        with open(path, "wb") as f:  # a file handle: numpy adds no extension
            np.savez(f, w=np.zeros(3))
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    elif kind == "whole model":
        torch.save(torch.nn.Linear(2, 2), path)
    elif kind == "list":
        torch.save([torch.zeros(2)], path)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "binary":
        path.write_bytes(bytes(range(7, 200)))


def explain_with(weights: str, cwd: Path) -> subprocess.CompletedProcess:
    """`sam-plugins explain MODEL --weights WEIGHTS --input x.npy --out out`, as typed in `cwd`."""
    np.save(cwd / "x.npy", np.zeros((4, 2, 34, 34), np.float32))
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # the venv's first
    return subprocess.run(
        f"sam-plugins explain {MODEL} --weights {weights} --input x.npy --out out",
        shell=True, cwd=cwd, env={**os.environ, "PATH": path}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "kind", "what"),
    [
        ("notes.pt", "text", "it is a text file (it begins 'epochs: 4')"),
        ("model.h5", "hdf5", "it is an HDF5 file (e.g. Keras or h5py weights)"),
        (
            "net.pt",
            "whole model",
            "a pickled torch.nn.modules.linear.Linear (objects are not read)",
        ),
    ],
)
def test_a_weights_file_that_is_not_a_state_dict_is_named_on_the_command_line(
    tmp_path, name, kind, what
):
    write(tmp_path / name, kind)
    done = explain_with(name, tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"sam-plugins: error: cannot read weights file {name}: ")
    assert what in done.stderr
    assert EXPECTED_WEIGHTS in done.stderr
    assert "weights_only" not in done.stderr and "False" not in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        ("pickle", "it is a pickle that torch.save did not write (pickles are not read"),
        ("zip", "it is a zip archive torch.save did not write (it holds weights.json)"),
        ("npz", "it is a NumPy .npz archive"),
        ("npy", "it is a NumPy .npy array"),
        ("empty", "it is an empty file"),
        ("binary", "it is not a file torch.save wrote, or a damaged one; expected"),
        ("list", "holds a list, not a state dict"),
    ],
)
def test_what_else_a_weights_file_may_be(tmp_path, kind, what):
    write(tmp_path / "w.pt", kind)
    with pytest.raises(ValueError, match="weights file") as error:
        build_model(MODEL, tmp_path / "w.pt")
    assert what in str(error.value) and str(error.value).endswith(EXPECTED_WEIGHTS)
    assert "weights_only" not in str(error.value)
    assert not (tmp_path / "pwned").exists()  # nothing was unpickled


@pytest.mark.parametrize("form", ["zip", "legacy", "checkpoint"])
def test_state_dicts_of_every_torch_save_format_still_load(tmp_path, form):
    from sam_plugins_demo import trained_demo_net

    state = trained_demo_net().state_dict()
    if form == "checkpoint":  # e.g. Lightning's: the state dict under "state_dict"
        state = {"state_dict": state, "epoch": 3}
    torch.save(state, tmp_path / "w.pt", _use_new_zipfile_serialization=form != "legacy")
    model = build_model(MODEL, tmp_path / "w.pt")
    for key, value in trained_demo_net().state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
