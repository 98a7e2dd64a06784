"""The quickstarts run end to end (with a short training budget) and write their figures."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.mark.parametrize("script", ["snntorch_quickstart.py", "spikingjelly_quickstart.py"])
def test_quickstart_runs(script, tmp_path):
    done = subprocess.run(
        [sys.executable, EXAMPLES / script, "--seconds", "0.5", "--out", tmp_path],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "test accuracy" in done.stdout
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(pngs) == 2, pngs  # the two conv layers; the Linear output layer has no map
    assert all((tmp_path / p).stat().st_size > 10_000 for p in pngs)
