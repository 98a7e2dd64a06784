"""The examples run end to end (with one training epoch) and write their figures."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.mark.parametrize("script", ["snntorch_quickstart.py", "spikingjelly_quickstart.py"])
def test_quickstart_runs(script, tmp_path):
    done = subprocess.run(
        [sys.executable, EXAMPLES / script, "--epochs", "1", "--out", tmp_path],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "test accuracy" in done.stdout
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(pngs) == 2, pngs  # the two conv layers; the Linear output layer has no map
    assert all((tmp_path / p).stat().st_size > 10_000 for p in pngs)


def test_event_camera_example_runs(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            EXAMPLES / "event_camera.py",
            "--epochs",
            "1",
            "--limit",
            "24",
            "--out",
            tmp_path / "out",
            "--data",
            tmp_path / "data",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "analysed 24 recordings" in done.stdout
    assert len(list((tmp_path / "out").glob("recording_*.png"))) == 3
    assert (tmp_path / "out" / "test_analysis.h5").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("script", "args", "printed"),
    [
        ("study_leak.py", ["--epochs", "1", "--limit", "32"], "leak_profile.png"),
        ("study_ann2snn.py", ["--epochs", "1", "--steps", "4"], "rank correlation"),
        ("study_adversarial.py", ["--samples", "16"], "PGD"),
    ],
)
def test_study_runs(script, args, printed, tmp_path):
    done = subprocess.run(
        [sys.executable, EXAMPLES / script, *args, "--out", tmp_path]
        + ([] if script == "study_ann2snn.py" else ["--data", tmp_path / "data"]),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=EXAMPLES.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert printed in done.stdout
    pngs = list(tmp_path.glob("*.png"))
    assert len(pngs) >= 2 and all(p.stat().st_size > 10_000 for p in pngs)
