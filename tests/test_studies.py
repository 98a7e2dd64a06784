"""The paper studies' pages (docs/studies/*.md) are copies of what their commands print.

Each page shows the full command (it writes the page's figures into docs/images/studies) with
its table, and a quick command (fewer epochs or samples, output in the git-ignored
examples/output/) with its table. The quick command runs here as written, in a fresh folder
(`.venv/bin/python examples/` stands for this interpreter and the repo's examples), and every
line it prints, but the `wrote` lines, must be on the page word for word in the text under the
command: a stale number fails. The full commands take minutes; they print the same way.
tests/test_doc_commands.py runs docs/*.md only, not these pages."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
STUDIES = sorted((ROOT / "docs" / "studies").glob("*.md"))
TYPED = ".venv/bin/python examples/"  # how the pages start their commands
FIGURES = "--out docs/images/studies"  # the full commands write the pages' figures


def commands(page: Path) -> list[tuple[str, str]]:
    """(bash block, the page's text from its end up to the next block) for each bash block."""
    parts = re.split(r"^```bash\n(.*?)^```\n", page.read_text(), flags=re.S | re.M)
    return list(zip(parts[1::2], parts[2::2], strict=True))


def flat(text: str) -> str:
    return " ".join(text.split())


def test_each_study_page_has_a_full_and_a_quick_command():
    assert [page.name for page in STUDIES] == ["adversarial.md", "ann2snn.md", "leak.md"]
    for page in STUDIES:
        blocks = [block for block, _ in commands(page)]
        assert len(blocks) == 2 and all(block.startswith(TYPED) for block in blocks), blocks
        assert FIGURES in blocks[0] and "--out" not in blocks[1], blocks


@pytest.mark.parametrize("page", STUDIES, ids=lambda p: p.name)
def test_the_page_shows_what_its_quick_command_prints(page, tmp_path):
    block, shown = commands(page)[1]
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c",
         block.replace(TYPED, f"{sys.executable} {ROOT / 'examples'}/")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    printed = [line for line in lines if not line.startswith("wrote ")]
    assert sum(line.startswith("| ") for line in printed) >= 6, done.stdout  # a table
    for line in printed:
        assert flat(line) in flat(shown), (
            f"{page.name} does not show, under `{block.strip()}`:\n{line}"
        )
    header = next(line for line in printed if line.startswith("| "))
    assert flat(header) in flat(commands(page)[0][1]), "the full run's table has other columns"
    written = {
        Path(line.removeprefix("wrote ")).name for line in lines if line.startswith("wrote ")
    }
    assert all((tmp_path / "examples/output/studies" / name).is_file() for name in written)
    images = re.findall(r"!\[[^\]]*\]\(\.\./images/studies/([^)]+)\)", page.read_text())
    assert images and set(images) <= written, (images, written)
