"""Issue 32: docs/faithfulness.md's section on a task where only spike timing carries the class.

The task (benchmarks/timing_task.py) is checked to be timing-only on the data the benchmark
makes; the section's command is run as written there and every line it prints must be in the
section, and every table row and result line of the section must be among what it printed (a
stale number fails)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from timing_task import TRAIN, patch_task, shuffle_times  # noqa: E402

DOC = ROOT / "docs" / "faithfulness.md"
HEADING = "## When does SAM add over a spike count?"


def section() -> str:
    """The doc's section on the timing task: from its heading to the next one."""
    text = DOC.read_text()
    assert HEADING in text, f"{DOC.name} has no section {HEADING!r}"
    return text.split(HEADING, 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("seed,count", [(1, TRAIN), (2, 100)])  # the benchmark's two sets
def test_timing_task_is_timing_only(seed, count):
    frames, labels, masks = patch_task(count, "timing", seed)
    assert frames.shape == (12, count, 1, 16, 16)
    assert set(frames.unique().tolist()) == {0.0, 1.0}
    assert labels.bincount().tolist() == [count // 2, count - count // 2]
    # every pixel of every recording fires exactly once: the counts per pixel are the same in
    # both classes (and everywhere), so only the times can tell the classes apart
    assert (frames.sum(0) == 1).all()
    # ... and the times do: in the patch, the pixels of a column (class 0) or of a row
    # (class 1) fire together
    for n in range(count):
        rows, cols = masks[n].nonzero().T
        area = frames[:, n, 0, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert area.shape[1:] == (4, 4)
        lines = area if labels[n] == 1 else area.transpose(1, 2)  # [T, line, pixel]
        assert (lines == lines[:, :, :1]).all(), n
    # the rate-coded twin fails the same check: there the class is in the counts
    rate, rate_labels, _ = patch_task(count, "rate", seed)
    counts = rate.sum(0)[:, 0]
    assert not (counts == counts[0]).all()
    assert set(counts.unique().tolist()) == {0.0, 1.0, 2.0}
    # shuffling each pixel's spike times keeps every count and changes the times
    shuffled = shuffle_times(frames, seed=3)
    assert torch.equal(shuffled.sum(0), frames.sum(0)) and not torch.equal(shuffled, frames)


def test_task_refuses_an_unknown_code():
    with pytest.raises(ValueError, match="code must be 'timing' or 'rate', found 'order'"):
        patch_task(4, "order", 0)


def test_doc_numbers_are_what_the_documented_command_prints():
    text = section()
    commands = re.findall(
        r"`(python benchmarks/bench_faithfulness\.py --dataset timing[^`]*)`", text
    )
    assert len(set(commands)) == 1, commands
    argv = [sys.executable, *shlex.split(commands[0])[1:]]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = [line for line in done.stdout.splitlines() if line.strip()]
    doc_lines = set(text.splitlines())
    missing = [line for line in printed if line not in doc_lines]
    assert not missing, f"printed by {commands[0]!r} but not in {DOC.name}:\n" + "\n".join(missing)
    shown = [line for line in text.splitlines() if line.startswith(("| ", "- rate:", "- timing:"))]
    stale = [line for line in shown if line not in printed]
    assert not stale, f"in {DOC.name} but not printed by {commands[0]!r}:\n" + "\n".join(stale)
    assert len([line for line in printed if line.startswith("| ")]) == 13  # header + 12 rows
    # the models learned their task (chance is 50 %) and the timing model needs the times
    accuracy = {
        code: (float(plain) / 100, float(shuffled) / 100)
        for code, plain, shuffled in re.findall(
            r"^- (rate|timing): accuracy ([\d.]+)%; with each pixel's spike times shuffled "
            r"([\d.]+)%",
            done.stdout,
            flags=re.M,
        )
    }
    (rate, rate_shuffled), (timing, timing_shuffled) = accuracy["rate"], accuracy["timing"]
    assert rate >= 0.8 and timing >= 0.8
    assert rate_shuffled >= 0.8  # the rate model reads counts: shuffled times do not matter
    assert timing_shuffled <= 0.65  # the timing model reads times: shuffled, near chance
