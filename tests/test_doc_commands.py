"""The documented commands are tests: every fenced ```bash block of README.md and docs/*.md runs
here exactly as written, a page's blocks in order in one test (later blocks use what earlier
ones made, in one fresh temporary folder per page). The README's two set-up commands (a venv,
pip install) are CI's own job and are left out. The multi-node command of docs/analysis.md runs
as two torchrun node launches on this machine (its rendezvous host replaced by 127.0.0.1, NODE by
0 and 1), and its merged file must equal the one-process file an earlier block made.

docs/analysis.md's first commands are also the defaults as users type them (`sam-plugins
analyze` with no flags, then `--nproc 2`): after those blocks, `CHECKS` look at what they wrote
and printed."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).parent / "analysis"))
from typed import assert_same_file, shell_env, typed  # noqa: E402

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SETUP = "python3 -m venv .venv"  # the README's set-up commands start so
ANALYSIS = ("sam-data", "sam-analysis.h5", "sam-analysis")  # what `sam-plugins analyze` leaves


def bash_blocks(page: Path) -> list[str]:
    return [
        block
        for block in re.findall(r"^```bash\n(.*?)^```", page.read_text(), flags=re.S | re.M)
        if not block.startswith(SETUP)
    ]


def run_block(block: str, cwd: Path, timeout: float = 1200) -> subprocess.CompletedProcess:
    """The block as a bash script: every line must succeed."""
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block], cwd=cwd, env=shell_env(),
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def run_nodes(block: str, cwd: Path) -> None:
    """The two-machine command as two node launches here, side by side."""
    assert "host0.example" in block and "NODE" in block
    launches = [
        subprocess.Popen(
            ["bash", "-e", "-c", block.replace("host0.example", "127.0.0.1").replace("NODE", node)],
            cwd=cwd,
            env=shell_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for node in ("0", "1")
    ]
    for node, launch in enumerate(launches):
        out, err = launch.communicate(timeout=1200)
        assert launch.returncode == 0, f"node {node}: {err[-3000:]}"
    out = re.search(r"--out (\S+)", block)[1]
    assert_same_file(cwd / "sam-analysis.h5", cwd / out)


def left_over(cwd: Path, made: set[str]) -> list[str]:
    """What a finished block leaves besides what its commands are documented to make."""
    return sorted(p.name for p in cwd.iterdir() if p.name not in made)


def analyze_with_no_flags(done: subprocess.CompletedProcess, cwd: Path, first: Path) -> None:
    """`sam-plugins analyze` as typed: the demo on all 297 emulated test digits, the file and the
    report, nothing else left behind (no lock, no parts); typed again, it says it is complete."""
    assert "analysed 297 samples" in done.stdout, done.stdout[-2000:]
    assert (cwd / "sam-analysis.h5").is_file() and (cwd / "sam-analysis/report.html").is_file()
    nmnist = {"nmnist-data", "w.pt", "nmnist.h5", "nmnist", "nmnist-again"}
    assert left_over(cwd, {*ANALYSIS, *nmnist}) == []
    again = typed("sam-plugins analyze", cwd)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "is complete" in again.stderr and "analysed 297 samples" in again.stdout
    assert left_over(cwd, {*ANALYSIS, *nmnist}) == []


def two_processes(done: subprocess.CompletedProcess, cwd: Path, first: Path) -> None:
    """In a fresh folder: `--nproc 2` analyses from scratch (one summary, printed once) to the
    one-process file of the page's first block; torchrun by hand then finds it complete."""
    assert done.stdout.count("analysed 297 samples") == 2  # --nproc 2, then torchrun
    assert "is complete" in done.stderr
    assert (cwd / "sam-analysis/report.html").is_file()
    assert left_over(cwd, set(ANALYSIS)) == []
    assert_same_file(first / "sam-analysis.h5", cwd / "sam-analysis.h5")


# (page, block): a check of what the block printed and wrote, in its folder; the first folder
# of the page is passed too
CHECKS: dict[tuple[str, int], Callable[[subprocess.CompletedProcess, Path, Path], None]] = {
    ("analysis.md", 0): analyze_with_no_flags,
    ("analysis.md", 1): two_processes,
}
# blocks that run from scratch in a folder of their own: `--nproc 2` would otherwise find the
# first block's finished file and compute nothing
OWN_FOLDER = {("analysis.md", 1)}


def test_every_page_with_commands_is_collected():
    pages = [page for page in PAGES if bash_blocks(page)]
    assert len(pages) >= 3 and sum(len(bash_blocks(page)) for page in pages) >= 5
    assert any("node-rank NODE" in block for block in bash_blocks(ROOT / "docs/analysis.md"))
    for (name, k), check in CHECKS.items():  # the checked blocks are the ones named
        assert k < len(bash_blocks(ROOT / "docs" / name)), check.__name__
    assert bash_blocks(ROOT / "docs/analysis.md")[0].startswith("sam-plugins analyze  ")
    assert bash_blocks(ROOT / "docs/analysis.md")[1].startswith("sam-plugins analyze --nproc 2 ")


@pytest.mark.parametrize(
    "page", [page for page in PAGES if bash_blocks(page)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_documented_commands(page, tmp_path):
    first = tmp_path / "page"
    first.mkdir()
    for k, block in enumerate(bash_blocks(page)):
        cwd = first
        if (page.name, k) in OWN_FOLDER:
            cwd = tmp_path / f"block-{k}"
            cwd.mkdir()
        if "--node-rank NODE" in block:
            run_nodes(block, cwd)
            continue
        done = run_block(block, cwd)
        assert done.returncode == 0, f"{page.name} block {k}:\n{block}\n{done.stderr[-3000:]}"
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        if (page.name, k) in CHECKS:
            CHECKS[page.name, k](done, cwd, first)
