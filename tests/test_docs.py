"""The documentation site builds offline with mkdocs --strict, with the API reference from the
docstrings and every figure the pages show; every Python snippet of the docs and the README runs."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
SNIPPET = re.compile(r"```python\n(.*?)```", re.S)
# these pages' snippets run elsewhere, not a second time here: tests/adapters/
# test_framework_docs.py runs them one by one (each is self-contained); notebooks.md's run in
# tests/integrations/test_notebooks.py, which also checks what they print
RUN_ONE_BY_ONE = {"quickstart-norse.md", "quickstart-sinabs.md", "nir.md", "notebooks.md"}


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if SNIPPET.search(p.read_text()) and p.name not in RUN_ONE_BY_ONE],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_snippet_runs(page, tmp_path):
    """A page's snippets, in order and in one namespace (as a reader types them), in an empty
    folder: every name they use is defined in them."""
    code = "\n".join(SNIPPET.findall(page.read_text()))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, f"{page.name}: {done.stderr[-3000:]}"


def test_docs_build_strict_with_api_reference_and_figures(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            ROOT / "mkdocs.yml",
            "-d",
            tmp_path,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    api = (tmp_path / "api" / "index.html").read_text()
    for documented in (
        "SpikeActivationMap",
        "neuronal_contribution",
        "SNNGradCAM",
        "SnnTorchAdapter",
    ):
        assert documented in api
    assert "Neuronal contribution score N of Kim &amp; Panda (2021)" in api  # a docstring
    for page in (ROOT / "docs").rglob("*.md"):
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text()):
            assert (page.parent / image).is_file(), f"{page.name} shows a missing {image}"
    leak = (tmp_path / "studies" / "leak" / "index.html").read_text()
    assert "leak_maps_0.png" in leak and "leak_profile.png" in leak
