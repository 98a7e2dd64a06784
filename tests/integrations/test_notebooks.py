"""The example notebooks are stored without outputs and run as stored, with nbclient, in an
empty folder; each shows a result as the notebook HTML view (`<div class="sam-view" ...>`), and
what it explains is a working model: its printed test accuracy is the one its text and the
README state, at or above the floor they state; no layer is silent over the shown inputs
(`result`); the shown predictions are not all one class. Each notebook runs once (module-scoped
fixture) for all these checks."""

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parent.parent.parent
NOTEBOOKS = sorted((ROOT / "examples" / "notebooks").glob("*.ipynb"))
STATED = re.compile(r"test accuracy (\d+\.\d) %, floor (\d+) %")  # as the text says it
PRINTED = re.compile(r"^test accuracy (\d+\.\d)%$", re.M)  # as the notebook prints it
# run after the notebook's own cells: the layers of the shown result that never spiked
SILENT_CHECK = 'print("silent layers:", [name for name, layer in result.items() if layer.silent()])'


@dataclass
class Executed:
    """A notebook after execution: its cells and everything its code cells printed."""

    path: Path
    book: nbformat.NotebookNode
    code: list  # the notebook's own code cells, executed
    text: str  # stdout and stderr streams and text/plain results, in order
    check: str  # what SILENT_CHECK printed


@pytest.fixture(scope="module")
def kernel(tmp_path_factory) -> str:
    """A kernelspec for this very interpreter (a clean CI venv has no other guarantee)."""
    from ipykernel.kernelspec import install

    prefix = tmp_path_factory.mktemp("jupyter")
    install(prefix=str(prefix), kernel_name="sam-plugins-test")
    spec = prefix / "share" / "jupyter"
    argv = json.loads((spec / "kernels" / "sam-plugins-test" / "kernel.json").read_text())["argv"]
    assert argv[0] == sys.executable
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(spec))
        yield "sam-plugins-test"


def text_of(outputs: list) -> str:
    parts = []
    for output in outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif "text/plain" in output.get("data", {}):
            parts.append(output.data["text/plain"] + "\n")
    return "".join(parts)


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=lambda p: p.name)
def executed(request, kernel, tmp_path_factory) -> Executed:
    path = request.param
    book = nbformat.read(path, as_version=4)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "stored with outputs"
    check = nbformat.v4.new_code_cell(SILENT_CHECK)
    book.cells.append(check)
    work = tmp_path_factory.mktemp("work")
    NotebookClient(
        book, timeout=300, kernel_name=kernel, resources={"metadata": {"path": str(work)}}
    ).execute()
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"
    return Executed(path, book, code, text_of([o for c in code for o in c.outputs]),
                    text_of(check.outputs))  # fmt: skip


def test_both_quickstarts_are_there():
    assert [p.name for p in NOTEBOOKS] == [
        "snntorch_quickstart.ipynb",
        "spikingjelly_quickstart.ipynb",
    ]


def test_notebook_runs_and_shows_the_sam_view(executed):
    outputs = [o for cell in executed.code for o in cell.outputs]
    html = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert "SAMResult(SAM" in executed.text  # the result was the cell's value
    assert any('<div class="sam-view"' in fragment for fragment in html), (
        f'{executed.path.name}: no notebook HTML view (<div class="sam-view" ...>) in the '
        "executed outputs: SAMResult._repr_html_ is missing or changed"
    )


def test_no_layer_is_silent_over_the_shown_inputs(executed):
    assert executed.check == "silent layers: []\n", f"{executed.path.name}: {executed.check}"
    assert "SilentLayerWarning" not in executed.text, executed.text[-3000:]


def test_the_shown_predictions_are_not_all_one_class(executed):
    labels = re.search(r"^labels +(\[.*\])$", executed.text, re.M)
    predicted = re.search(r"^predicted +(\[.*\])$", executed.text, re.M)
    assert labels and predicted, f"{executed.path.name} prints no labels / predicted lines"
    labels, predicted = json.loads(labels[1]), json.loads(predicted[1])
    assert len(predicted) == len(labels) >= 4
    assert len(set(predicted)) > 1, f"{executed.path.name}: every shown prediction is {predicted}"


def test_test_accuracy_is_the_stated_one_above_the_stated_floor(executed):
    """Seeded and deterministic: the notebook prints the accuracy its text and the README
    state (a stale number fails), at or above the floor they state."""
    name = executed.path.name
    markdown = "\n".join(c.source for c in executed.book.cells if c.cell_type == "markdown")
    stated = STATED.search(markdown)
    assert stated, f"{name}: its text states no 'test accuracy X %, floor F %'"
    printed = PRINTED.findall(executed.text)
    assert printed == [stated[1]], f"{name} printed {printed}, its text says {stated[1]} %"
    assert float(stated[1]) >= float(stated[2])
    readme = re.search(
        rf"{re.escape(name)}`[^`]*?{STATED.pattern}", (ROOT / "README.md").read_text()
    )
    assert readme, f"README.md states no 'test accuracy X %, floor F %' after `...{name}`"
    assert readme.groups() == stated.groups(), f"README.md: {readme[0]!r}"


# docs/notebooks.md: its Python snippets in order, in one namespace, in an empty folder (as
# tests/test_docs.py runs them), then this check of every result the page explains: the demo's
# `result`, the last probe results of the two loops and the Lightning callback's
PAGE = ROOT / "docs" / "notebooks.md"
PAGE_CHECK = """
import json
for name, shown in [("notebook view", result), ("snnTorch loop", probe_sam),
                    ("SpikingJelly loop", jelly_sam), ("Lightning", callback.result)]:
    spikes = shown.outputs[0] if isinstance(shown.outputs, tuple) else shown.outputs
    silent = [layer for layer, maps in shown.items() if maps.silent()]
    predicted = spikes.sum(0).argmax(1).tolist()
    print("CHECK", json.dumps({"name": name, "silent": silent, "predicted": predicted}))
"""


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    """What docs/notebooks.md's snippets and PAGE_CHECK print."""
    code = "\n".join(re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S))
    done = subprocess.run(
        [sys.executable, "-c", code + PAGE_CHECK],
        capture_output=True, text=True, timeout=600, cwd=tmp_path_factory.mktemp("page"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SilentLayerWarning" not in done.stderr, done.stderr[-3000:]
    return done.stdout


def test_the_page_explains_working_models(page):
    """No layer silent over a shown batch, and not all one predicted class (four test digits)."""
    checks = [json.loads(line[6:]) for line in page.splitlines() if line.startswith("CHECK ")]
    assert [c["name"] for c in checks] == [
        "notebook view", "snnTorch loop", "SpikingJelly loop", "Lightning"
    ]  # fmt: skip
    for check in checks:
        assert check["silent"] == [], check
        assert len(check["predicted"]) == 4 and len(set(check["predicted"])) > 1, check


def test_the_page_loops_print_their_stated_accuracy_above_the_floor(page):
    stated = STATED.findall(PAGE.read_text())
    assert len(stated) == 3, stated  # the snnTorch loop, the SpikingJelly loop, Lightning
    assert PRINTED.findall(page) == [accuracy for accuracy, _ in stated], page[-3000:]
    assert all(float(accuracy) >= float(floor) for accuracy, floor in stated)
