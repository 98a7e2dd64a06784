"""The documented commands are tests: every fenced ```bash block of README.md and docs/*.md runs
here exactly as written, in order, in a fresh temporary folder per page (later blocks use what
earlier ones made). The README's two set-up commands (a venv, pip install) are CI's own job and
are left out. The multi-node command of docs/analysis.md runs as two torchrun node launches on
this machine (its rendezvous host replaced by 127.0.0.1, NODE by 0 and 1), and its merged file
must equal the one-process file an earlier block made."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).parent / "analysis"))
from typed import assert_same_file, shell_env  # noqa: E402

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SETUP = "python3 -m venv .venv"  # the README's set-up commands start so


def bash_blocks(page: Path) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", page.read_text(), flags=re.S | re.M)


BLOCKS = [
    pytest.param(page, k, block, id=f"{page.relative_to(ROOT)}-{k}")
    for page in PAGES
    for k, block in enumerate(bash_blocks(page))
    if not block.startswith(SETUP)
]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """One fresh folder per page, shared by its blocks (run in order)."""
    made: dict[Path, Path] = {}

    def folder(page: Path) -> Path:
        if page not in made:
            made[page] = tmp_path_factory.mktemp(page.stem)
        return made[page]

    return folder


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


def test_every_page_with_commands_is_collected():
    assert len(BLOCKS) >= 5
    assert any("node-rank NODE" in p.values[2] for p in BLOCKS)


@pytest.mark.parametrize(("page", "k", "block"), BLOCKS)
def test_documented_command(folders, page, k, block):
    cwd = folders(page)
    if "--node-rank NODE" in block:
        run_nodes(block, cwd)
        return
    done = run_block(block, cwd)
    assert done.returncode == 0, f"{page.name} block {k}:\n{block}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
