"""Several processes and machines that share one folder, from a folder without data:
docs/analysis.md's two-machine command, run as two node launches side by side, prepares the data
once (one rank emulates, the others wait for it); when one rank fails, the others end with one
line naming it, not gloo's traceback; processes that share a data folder wait for the one that
emulates; and Ctrl-C while the data are emulated says what was kept, and the command resumes."""

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from typed import BIN, shell_env, typed

from sam_plugins.analysis import AnalysisResult

DOC = Path(__file__).parents[2] / "docs" / "analysis.md"


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_machine_command() -> str:
    """The documented command for two machines, as it is written in docs/analysis.md."""
    blocks = re.findall(r"^```bash\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)
    (block,) = [b for b in blocks if "--node-rank NODE" in b]
    return block


def test_two_machines_in_a_fresh_shared_folder_prepare_the_data_once(tmp_path):
    block = two_machine_command()
    assert "host0.example:29500" in block and "sam-data" not in block  # the default --data
    block = block.replace("host0.example:29500", f"127.0.0.1:{free_port()}")
    said = launch_nodes(block, tmp_path)
    for node, (status, _, err) in enumerate(said):
        assert status == 0, f"node {node}: {err[-3000:]}"
        assert "Traceback" not in without_exit_barrier_race(err), err[-3000:]
    err = "".join(e for _, _, e in said)
    assert err.count("emulating 297 test recordings") == 1, err[-3000:]  # by one rank only
    assert "analysed 297 samples" in said[0][1]  # rank 0 says it, on machine 0
    result = AnalysisResult(tmp_path / "two-machines.h5")
    assert sorted(result.indices.tolist()) == list(range(297))  # each sample exactly once
    assert (tmp_path / "two-machines" / "report.html").is_file()
    # the data are all there and read back the same on every later run
    again = typed("sam-plugins analyze --limit 8 --no-report --out again.h5", tmp_path)
    assert again.returncode == 0 and "emulating" not in again.stderr, again.stderr[-2000:]


AGENT = re.compile(r"^[EW]\d{4} [\d:.]+ \d+ torch/distributed/elastic/agent/server/api\.py:\d+\] ")


def without_exit_barrier_race(err: str) -> str:
    """`err` less torchrun's own log of its agents' exit-barrier race (pytorch/pytorch#69520):
    after every worker has ended well, the agent that hosts the rendezvous store may leave
    while another still waits on it there, which logs a traceback and changes nothing (exit
    status 0, all written). Its lines, and only those, are dropped."""
    if "Error waiting on exit barrier" not in err:
        return err
    return "\n".join(line for line in err.splitlines() if not AGENT.match(line))


def launch_nodes(command: str, cwd: Path) -> list[tuple[int, str, str]]:
    """`command` (with NODE in it) run as the launches of nodes 0 and 1, side by side:
    (exit status, stdout, stderr) of each. Node 1 starts once node 0 listens on the endpoint,
    so node 0 hosts the rendezvous, as machine 0 (the endpoint's host) does on a cluster."""
    port = int(re.search(r"127\.0\.0\.1:(\d+)", command)[1])
    launches = []
    for node in ("0", "1"):
        launches.append(
            subprocess.Popen(
                ["bash", "-e", "-c", command.replace("NODE", node)],
                cwd=cwd,
                env=shell_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        start = time.monotonic()
        while node == "0" and not listening(port):
            assert launches[0].poll() is None, launches[0].communicate()[1][-3000:]
            assert time.monotonic() - start < 120, "node 0 did not open its rendezvous"
            time.sleep(0.1)
    said = [launch.communicate(timeout=1200) for launch in launches]
    return [(launch.returncode, *s) for launch, s in zip(launches, said, strict=True)]


def test_when_one_rank_fails_the_others_name_it_in_one_line(tmp_path):
    """Two machines of one process each: rank 1 (machine 1) reads sample 1 (label 7, beyond
    --num-classes 5) and fails; rank 0 (machine 0), whose sample (label 1) is fine, waits for
    it at the end, and then says which rank failed and why, in one line."""
    command = (
        "torchrun --nnodes 2 --node-rank NODE --nproc-per-node 1 --rdzv-backend c10d "
        f"--rdzv-endpoint 127.0.0.1:{free_port()} --rdzv-id bad -m sam_plugins analyze "
        "--limit 2 --batch-size 1 --num-classes 5 --out bad.h5 --no-report"
    )
    (status0, _, err0), (status1, _, err1) = launch_nodes(command, tmp_path)
    own = "labels must be in [0, 5), found 7..7"
    assert status1 != 0 and f"sam-plugins: error: {own}" in err1, err1[-3000:]
    assert status0 != 0
    said = [line for line in err0.splitlines() if line.startswith("sam-plugins: error:")]
    assert said == [f"sam-plugins: error: rank 1 of 2 failed: {own}"], err0[-3000:]
    assert "Connection closed by peer" not in err0, err0[-3000:]
    assert not [line for line in err0.splitlines() if line.startswith("[rank0]")], err0[-3000:]


def test_a_second_process_waits_for_the_one_that_emulates(tmp_path):
    """Processes that share a data folder (two commands, or a Python script run twice) make
    the recordings once: while one holds the folder's lock, another waits, writing nothing."""
    from filelock import FileLock

    folder = tmp_path / "EmulatedDigits"
    folder.mkdir()
    script = "from sam_plugins_demo import EmulatedDigits; EmulatedDigits('.', False, limit=5)"
    with FileLock(folder / ".emulating.lock"):  # as the process that emulates holds it
        waiting = subprocess.Popen(
            [sys.executable, "-c", script], cwd=tmp_path, stderr=subprocess.PIPE, text=True
        )
        time.sleep(10)  # time enough to emulate 5 recordings, were it not waiting
        assert waiting.poll() is None, waiting.communicate()[1][-2000:]
        assert not list(folder.rglob("*.bin"))
    err = waiting.communicate(timeout=120)[1]
    assert waiting.returncode == 0, err[-2000:]
    assert f"waiting for another process that emulates into {folder.name}/Test/" in err
    assert "emulating 5 test recordings" in err  # the lock was released without them
    assert len(list(folder.rglob("*.bin"))) == 5


def test_ctrl_c_while_the_data_are_emulated_says_what_was_kept_and_a_rerun_resumes(tmp_path):
    """The first `sam-plugins analyze` in a folder emulates the data; Ctrl-C there says how
    many recordings are kept, and where, and that the same command resumes; it does."""
    argv = [str(BIN / "sam-plugins"), "analyze", "--limit", "8", "--no-report"]
    test = tmp_path / "sam-data" / "EmulatedDigits" / "Test"
    run = subprocess.Popen(  # Ctrl-C as a terminal has it, whatever launched these tests (a
        # shell's background job ignores SIGINT, and its children inherit that: the run went on)
        argv,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    start = time.monotonic()
    while len(list(test.rglob("*.bin"))) < 10:  # emulating, a few recordings made
        assert run.poll() is None and time.monotonic() - start < 300
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    err = run.communicate(timeout=120)[1]
    kept = len(list(test.rglob("*.bin")))
    assert run.returncode == 2 and 10 <= kept < 297, err[-2000:]
    assert err.splitlines()[-1] == (
        "sam-plugins: error: interrupted before the analysis began (nothing of it was "
        f"written); emulating stopped at {kept} of 297 test recordings, kept in "
        "sam-data/EmulatedDigits/Test/ (the rest are made when the dataset is opened again); "
        "run the same command again to resume"
    )
    assert not list(test.rglob("*.part")) and not (tmp_path / "sam-analysis.h5").exists()
    again = typed("sam-plugins analyze --limit 8 --no-report", tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"emulating {297 - kept} test recordings" in again.stderr
    assert "analysed 8 samples" in again.stdout
