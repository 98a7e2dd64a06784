"""The example notebooks are stored without outputs and run as stored, with nbclient, in an
empty folder; each shows a result as the notebook HTML view (`<div class="sam-view" ...>`)."""

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parent.parent.parent
NOTEBOOKS = sorted((ROOT / "examples" / "notebooks").glob("*.ipynb"))


@pytest.fixture
def kernel(tmp_path, monkeypatch) -> str:
    """A kernelspec for this very interpreter (a clean CI venv has no other guarantee)."""
    from ipykernel.kernelspec import install

    install(prefix=str(tmp_path / "jupyter"), kernel_name="sam-plugins-test")
    spec = tmp_path / "jupyter" / "share" / "jupyter"
    argv = json.loads((spec / "kernels" / "sam-plugins-test" / "kernel.json").read_text())["argv"]
    assert argv[0] == sys.executable
    monkeypatch.setenv("JUPYTER_PATH", str(spec))
    return "sam-plugins-test"


def test_both_quickstarts_are_there():
    assert [p.name for p in NOTEBOOKS] == [
        "snntorch_quickstart.ipynb",
        "spikingjelly_quickstart.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_and_shows_the_sam_view(path, tmp_path, kernel):
    book = nbformat.read(path, as_version=4)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "stored with outputs"
    work = tmp_path / "work"
    work.mkdir()
    NotebookClient(
        book, timeout=300, kernel_name=kernel, resources={"metadata": {"path": str(work)}}
    ).execute()

    outputs = [o for cell in code for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    plain = [o.data["text/plain"] for o in outputs if "text/plain" in o.get("data", {})]
    assert any("SAMResult(SAM" in text for text in plain)  # the result was the cell's value
    assert any('<div class="sam-view"' in fragment for fragment in html), (
        f'{path.name}: no notebook HTML view (<div class="sam-view" ...>) in the executed '
        "outputs: SAMResult._repr_html_ is missing or changed"
    )
