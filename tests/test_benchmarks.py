"""The benchmark a developer runs before each stop works as typed (its figures are not checked
here: timings are not tests; benchmarks/README.md has them, from a quiet machine)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(script: str) -> subprocess.CompletedProcess:
    """`script` run as typed, with its defaults, from the project root; it must succeed."""
    done = subprocess.run(
        [sys.executable, script], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done


def ratio_rows(pattern: str, stdout: str) -> list[str]:
    """The names of the lines of `stdout` matching `pattern` (groups: name, median, low, high),
    each median within its range and above 0."""
    rows = re.findall(pattern, stdout, re.M)
    for _, median, low, high in rows:
        assert 0 < float(low) <= float(median) <= float(high)
    return [name for name, *_ in rows]


def test_check_overhead_prints_a_median_ratio_per_network_and_the_load():
    done = run("benchmarks/check_overhead.py")
    rows = ratio_rows(r"^ *(\w+) +[\d.]+ +[\d.]+ +([\d.]+)x  ([\d.]+)-([\d.]+)$", done.stdout)
    assert rows == ["dvs_vgg", "minimal", "snn_vgg"], done.stdout
    assert "range of 9 pairs" in done.stdout
    assert re.search(
        r"; load [\d.]+; [\d.]+ of [\d.]+ GiB free, [\d.]+ GiB page cache$", done.stdout, re.M
    )
    assert re.search(r"^load [\d.]+ -> [\d.]+, \d+ s: (quiet|load above 0.5)", done.stdout, re.M)
    assert "Warning" not in done.stderr, done.stderr


def test_bench_defer_prints_both_block_sizes_against_the_plain_forward():
    done = run("benchmarks/bench_defer.py")
    assert done.stdout.startswith("overhead, T=32, batch 32, "), done.stdout
    rows = ratio_rows(
        r"^  SAM attached, DEFER=(\d+): median ([\d.]+)x the plain forward \(([\d.]+)-([\d.]+)\)$",
        done.stdout,
    )
    assert rows == ["16", "32"], done.stdout
    assert "15 rounds" in done.stdout
    assert re.search(r"^load [\d.]+ -> [\d.]+", done.stdout, re.M)
    assert "Warning" not in done.stderr, done.stderr


def test_bench_floor_prints_the_a_a_arm_the_read_once_floor_sam_and_its_two_kernels_apart():
    done = run("benchmarks/bench_floor.py")
    assert done.stdout.startswith("overhead.py's net, T=32, batch 32, "), done.stdout
    rows = ratio_rows(
        r"^  ([\w ,]+): +median ([\d.]+)x the plain forward \(([\d.]+)-([\d.]+)\); "
        r"page faults per run: median \d+$",
        done.stdout,
    )
    assert rows == [
        "plain again",
        "read once",
        "SAM",
        "SAM, packing only",
        "SAM, block only",
    ], done.stdout
    assert re.search(r"^  plain: +page faults per run: median \d+$", done.stdout, re.M)
    assert re.search(
        r"; at the start [\d.]+ of [\d.]+ GiB free, [\d.]+ GiB page cache$", done.stdout, re.M
    )
    assert "15 rounds" in done.stdout
    assert re.search(r"^load [\d.]+ -> [\d.]+", done.stdout, re.M)
    assert "Warning" not in done.stderr, done.stderr
