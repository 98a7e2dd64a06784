"""Every Python snippet of the Norse, sinabs and NIR pages runs as it is (each is
self-contained; tests/test_docs.py leaves these pages to this file), and the pages' error
example is the real message."""

import ast
import re
import warnings
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[2] / "docs"
PAGES = ["quickstart-norse.md", "quickstart-sinabs.md", "nir.md"]
SNIPPETS = [
    pytest.param(code, id=f"{page}-{i}")
    for page in PAGES
    for i, code in enumerate(re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), re.S))
]

pytestmark = pytest.mark.filterwarnings("ignore:nirtorch.*deprecated:DeprecationWarning")


def test_every_page_has_snippets():
    assert {p.id.split("-")[0] for p in SNIPPETS} >= {"quickstart", "nir.md"}
    assert len(SNIPPETS) >= 5
    run_one_by_one = re.search(
        r"RUN_ONE_BY_ONE = (\{.*?\})", (DOCS.parent / "tests" / "test_docs.py").read_text()
    )
    skipped = ast.literal_eval(run_one_by_one.group(1)) if run_one_by_one else set()
    # this file runs PAGES; notebooks.md's snippets run in tests/integrations/test_notebooks.py
    assert skipped == {*PAGES, "notebooks.md"}, "test_docs must skip them"


@pytest.mark.parametrize("code", SNIPPETS)
def test_snippet_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # norse's use of torch.jit.script
        exec(compile(code, "<snippet>", "exec"), {"__name__": "snippet"})


def test_the_error_shown_on_the_nir_page_is_the_real_one():
    import nir
    import numpy as np

    from sam_plugins.nir import NIRImportError, load_nir

    graph = nir.NIRGraph.from_list(nir.Threshold(threshold=np.ones(3, np.float32)))
    with pytest.raises(NIRImportError) as error:
        load_nir(graph)
    shown = re.search(
        r"\*\"(no installed framework.*?); sinabs", (DOCS / "nir.md").read_text(), re.S
    )
    assert shown, "the example message is gone from docs/nir.md"
    assert " ".join(shown.group(1).split()) in str(error.value)
