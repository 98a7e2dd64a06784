"""The benchmark a developer runs before each stop works as typed (its figures are not checked
here: timings are not tests; benchmarks/README.md has them, from a quiet machine)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_check_overhead_prints_a_median_ratio_per_network_and_the_load():
    done = subprocess.run(
        [sys.executable, "benchmarks/check_overhead.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    rows = re.findall(r"^ *(\w+) +[\d.]+ +[\d.]+ +([\d.]+)x  ([\d.]+)-([\d.]+)$", done.stdout, re.M)
    assert [name for name, *_ in rows] == ["dvs_vgg", "minimal", "snn_vgg"], done.stdout
    for _, median, low, high in rows:
        assert 0 < float(low) <= float(median) <= float(high)
    assert "range of 9 pairs" in done.stdout
    assert re.search(r"^load [\d.]+ -> [\d.]+, \d+ s: (quiet|load above 0.5)", done.stdout, re.M)
    assert "Warning" not in done.stderr, done.stderr
