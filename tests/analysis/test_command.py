"""`sam-plugins analyze` and `sam-plugins report`: one process, --nproc 2, one-line errors."""

import shutil
import socket
import sys
from pathlib import Path

import pytest
from typed import typed

from sam_plugins.analysis import AnalysisResult
from sam_plugins.cli import main

EXE = shutil.which("sam-plugins", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The emulated test digits, made here: no test depends on running after another one that
    made them (the first command to need them says so on stderr)."""
    from sam_plugins_demo import EmulatedDigits

    folder = tmp_path_factory.mktemp("digits")
    EmulatedDigits(str(folder), train=False)
    return folder


def analyze(data, out, *more):
    return ["analyze", "--data", str(data), "--out", str(out), *more]


def test_analyze_writes_the_file_and_the_report(data, tmp_path, capsys):
    out, report = tmp_path / "a.h5", tmp_path / "report"
    assert main(analyze(data, out, "--limit", "8", "--report", str(report))) == 0
    printed = capsys.readouterr().out
    assert "analysed 8 samples, accuracy" in printed and "layer 1:" in printed
    assert "nan" not in printed  # classes absent from the first 8 samples are not averaged in
    result = AnalysisResult(out)
    assert result.done == 8 and result.identity["time_bins"] == 10
    assert result.identity["dataset"] == "sam_plugins_demo:EmulatedDigits"
    assert [p.name for p in report.iterdir()] == ["report.html"]  # one file, images inside
    # the report again, from the file alone, with its PNGs
    assert main(["report", str(out), "--out", str(tmp_path / "again"), "--pngs"]) == 0
    assert (tmp_path / "again" / "layer-1-maps.png").is_file()


def one_line_error(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("sam-plugins: error: ") and err.count("\n") == 1, err
    return err


def test_other_settings_name_the_flag_to_start_over(data, tmp_path, capsys):
    out = tmp_path / "a.h5"
    assert main(analyze(data, out, "--limit", "4", "--no-report")) == 0
    capsys.readouterr()
    err = one_line_error(analyze(data, out, "--limit", "4", "--time-bins", "5"), capsys)
    assert "time_bins: 10 there, 5 now" in err and "--restart" in err and "resume" not in err
    err = one_line_error(analyze(data, out, "--limit", "5"), capsys)
    assert "limit: 4 there, 5 now" in err
    assert (
        main(analyze(data, out, "--limit", "4", "--time-bins", "5", "--restart", "--no-report"))
        == 0
    )
    assert AnalysisResult(out).identity["time_bins"] == 5


@pytest.mark.parametrize(
    ("more", "message"),
    [
        (["--limit", "0"], "--limit must be at least 1, found 0"),
        (["--nproc", "0"], "--nproc must be at least 1"),
        (["--commit-every", "-1"], "must be a number of seconds >= 0, found -1"),
        (["--commit-every", "soon"], "must be a number of seconds, found 'soon'"),
        (["--out", "{dir}"], "is a directory"),
        (["--out", "{txt}"], "is not a sam-plugins analysis file"),
        (["--out", "{txt}/a.h5"], "cannot create the folder"),
        (["--layers", "nope"], "nope"),
        (["--out", "/proc/a.h5"], "--out /proc/a.h5: cannot write in /proc"),  # root too
        (["--out", "/proc/sam-plugins/a.h5"], "--out /proc/sam-plugins/a.h5: cannot write"),
        (["--dataset", "numpy:ones"], "no installed reader opens numpy:ones"),
        (["plain_snn:broken_factory"], "plain_snn:broken_factory failed to build the model"),
    ],
)
def test_errors_are_one_line(data, tmp_path, capsys, more, message):
    (tmp_path / "dir").mkdir()
    (tmp_path / "x.txt").write_text("notes")
    more = [m.format(dir=tmp_path / "dir", txt=tmp_path / "x.txt") for m in more]
    argv = analyze(data, tmp_path / "a.h5", "--limit", "4", "--no-report", *more)
    assert message in one_line_error(argv, capsys)


def test_a_tonic_dataset_that_cannot_be_there_is_one_line_without_the_network(
    data, tmp_path, capsys, monkeypatch
):
    """N-MNIST under a file where its folder must be: tonic cannot make the folder to download
    into, so the error comes before any connection, with a network or without (a connection
    attempt fails the test)."""
    tried = []

    def no_network(sock, address):
        tried.append(address)
        raise OSError("the test allows no network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    (tmp_path / "x.txt").write_text("notes")
    argv = analyze(data, tmp_path / "a.h5", "--dataset", "tonic.datasets:NMNIST", "--no-report")
    argv[argv.index("--data") + 1] = str(tmp_path / "x.txt")
    err = one_line_error(argv, capsys)
    assert f"cannot open tonic.datasets:NMNIST in {tmp_path / 'x.txt'}/" in err
    assert tried == [] and not (tmp_path / "a.h5").exists()


def test_report_of_a_missing_or_foreign_file(tmp_path, capsys):
    assert "not found" in one_line_error(["report", str(tmp_path / "none.h5")], capsys)
    (tmp_path / "x.h5").write_text("text")
    assert "as HDF5" in one_line_error(["report", str(tmp_path / "x.h5")], capsys)


def test_a_complete_rerun_says_that_nothing_was_written(data, tmp_path):
    """Issue 33: typed again, a finished analysis said "is complete: this analysis is there
    already" and then "wrote a.h5 ...". It says that nothing was written to the file, and
    that the report (the only thing made) was made again from it."""
    command = f"sam-plugins analyze --data {data} --limit 4 --out a.h5 --report r"
    first = typed(command, tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stdout.splitlines()[-1] == (
        f"wrote a.h5 (4 samples) and the report r/report.html; the dataset's files are in {data}/"
    )
    again = typed(command, tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "a.h5 is complete: this analysis is there already" in again.stderr
    assert again.stdout.splitlines()[-1] == (
        "nothing written to a.h5: it held this analysis already (4 samples); made the report "
        "r/report.html again from it"
    )
    assert "wrote" not in again.stdout
    no_report = typed(command.replace("--report r", "--no-report"), tmp_path)
    assert no_report.stdout.splitlines()[-1] == (
        "nothing written to a.h5: it held this analysis already (4 samples)"
    )
