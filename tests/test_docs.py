"""The documentation site builds offline with mkdocs --strict, with the API reference from the
docstrings and every figure the pages show."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


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
        "grad_cam",
        "SnnTorchAdapter",
    ):
        assert documented in api
    assert "Neuronal contribution score N of Kim &amp; Panda (2021)" in api  # a docstring
    for page in (ROOT / "docs").rglob("*.md"):
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text()):
            assert (page.parent / image).is_file(), f"{page.name} shows a missing {image}"
    leak = (tmp_path / "studies" / "leak" / "index.html").read_text()
    assert "leak_maps_0.png" in leak and "leak_profile.png" in leak
