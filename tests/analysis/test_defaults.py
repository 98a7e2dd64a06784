"""`sam-plugins analyze` as users type it, defaults and all, in a fresh folder: no flags and
`--nproc 2` finish, write the file and the report, and give the same file; the same command
again says the analysis is complete. (torchrun by hand runs from scratch in the documented
commands' test: docs/analysis.md's multi-node command.)"""

from pathlib import Path

import pytest
from typed import assert_same_file, typed


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """`sam-plugins analyze`, no flags, in a fresh folder."""
    cwd = tmp_path_factory.mktemp("alone")
    done = typed("sam-plugins analyze", cwd)
    return cwd, done


def left_over(cwd: Path) -> list[str]:
    """What a finished run leaves besides its data, file and report."""
    keep = {"sam-data", "sam-analysis.h5", "sam-analysis"}
    return sorted(p.name for p in cwd.iterdir() if p.name not in keep)


def test_no_flags_writes_the_file_and_the_report(alone):
    cwd, done = alone
    assert done.returncode == 0, done.stderr[-3000:]
    assert "analysed 297 samples" in done.stdout
    assert (cwd / "sam-analysis.h5").is_file() and (cwd / "sam-analysis/report.html").is_file()
    assert left_over(cwd) == []


def test_the_same_command_again_says_it_is_complete(alone):
    cwd, first = alone
    assert first.returncode == 0, first.stderr[-3000:]
    again = typed("sam-plugins analyze", cwd)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "is complete" in again.stderr and "analysed 297 samples" in again.stdout
    assert left_over(cwd) == []


def test_two_processes_as_typed_give_the_one_process_file(alone, tmp_path):
    # torchrun by hand, from scratch, is docs/analysis.md's multi-node command (two node
    # launches here, merged file compared with this one-process file: test_doc_commands)
    done = typed("sam-plugins analyze --nproc 2", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("analysed 297 samples") == 1
    assert (tmp_path / "sam-analysis/report.html").is_file()
    assert left_over(tmp_path) == []
    assert_same_file(alone[0] / "sam-analysis.h5", tmp_path / "sam-analysis.h5")
