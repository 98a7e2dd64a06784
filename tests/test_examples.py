"""The examples run as documented (their default epochs; only the output and data folders are
moved to a temporary folder) and explain a working model: each prints the test accuracy its
docstring and the README state (seeded, deterministic, one thread: a stale number fails), at or
above the floor they state; no layer is silent over the explained inputs; the explained
predictions are not all one class; the figures and files are written. Each example runs once
(module-scoped fixture) for all its checks."""

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
STATED = re.compile(r"test accuracy (\d+\.\d) %, floor (\d+) %")  # as the docs say it
PRINTED = re.compile(r"^trained \d+ epochs.*, test accuracy (\d+\.\d)%$", re.M)
WORKING = [
    "snntorch_quickstart.py",
    "spikingjelly_quickstart.py",
    "event_camera.py",
    "shd_audio.py",
]
WITH_DATA = {"event_camera.py", "shd_audio.py"}  # they also write their recordings (--data)


@dataclass
class Run:
    script: str
    out: Path
    stdout: str
    stderr: str


@pytest.fixture(scope="module", params=WORKING)
def run(request, tmp_path_factory) -> Run:
    """`.venv/bin/python examples/SCRIPT` from the repository root, as the README says."""
    script = request.param
    tmp = tmp_path_factory.mktemp(script.removesuffix(".py"))
    data = ["--data", tmp / "data"] if script in WITH_DATA else []
    done = subprocess.run(
        [sys.executable, f"examples/{script}", "--out", tmp / "out", *data],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return Run(script, tmp / "out", done.stdout, done.stderr)


def test_the_example_writes_its_figures_and_files(run):
    out = run.out
    if run.script in ("snntorch_quickstart.py", "spikingjelly_quickstart.py"):
        pngs = sorted(p.name for p in out.glob("*.png"))
        assert len(pngs) == 2, pngs  # the two conv layers; the Linear output layer has no map
        assert all((out / p).stat().st_size > 10_000 for p in pngs)
    elif run.script == "event_camera.py":
        assert "analysed 297 recordings" in run.stdout
        assert len(list(out.glob("recording_*.png"))) == 3
        assert (out / "test_analysis.h5").stat().st_size > 10_000
    else:
        assert "analysed 100 recordings" in run.stdout  # the emulated SHD test split
        assert "per-class maps (20, 40, 128)" in run.stdout  # classes, bins, hidden neurons
        assert (out / "shd_analysis.h5").stat().st_size > 10_000
        assert (out / "shd_net.pt").is_file() and (out / "recording.npy").is_file()


def test_no_layer_is_silent_over_the_explained_inputs(run):
    assert re.search(r"^silent layers: \[\]$", run.stdout, re.M), run.stdout[-3000:]
    assert "SilentLayerWarning" not in run.stderr, run.stderr[-3000:]


def test_the_explained_predictions_are_not_all_one_class(run):
    labels = re.search(r"^labels +(\[.*\])$", run.stdout, re.M)
    predicted = re.search(r"^predicted +(\[.*\])$", run.stdout, re.M)
    assert labels and predicted, run.stdout[-3000:]
    labels, predicted = json.loads(labels[1]), json.loads(predicted[1])
    assert len(predicted) == len(labels) >= 3
    assert len(set(predicted)) > 1, f"{run.script}: every explained prediction is {predicted}"


def test_test_accuracy_is_the_stated_one_above_the_stated_floor(run):
    """The printed accuracy is the one the example's docstring and its README bullet state."""
    stated = STATED.search((EXAMPLES / run.script).read_text())
    assert stated, f"{run.script}: its docstring states no 'test accuracy X %, floor F %'"
    printed = PRINTED.findall(run.stdout)
    assert printed == [stated[1]], f"{run.script} printed {printed}, its docstring {stated[1]} %"
    assert float(stated[1]) >= float(stated[2])
    bullets = re.findall(r"^- .*?(?=^- |^\S|\Z)", (ROOT / "README.md").read_text(), re.M | re.S)
    bullet = [b for b in bullets if f"examples/{run.script}`" in b]
    assert len(bullet) == 1, f"README.md: {len(bullet)} bullets about examples/{run.script}"
    readme = STATED.search(" ".join(bullet[0].split()))
    assert readme, f"README.md's bullet on {run.script} states no 'test accuracy X %, floor F %'"
    assert readme.groups() == stated.groups(), f"README.md: {readme[0]!r}"
