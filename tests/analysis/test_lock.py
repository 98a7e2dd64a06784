"""Two analyses of one `--out`: the second is refused in one line naming the lock and the
running process, the first one's file equals a run made alone, and a lock left by a killed run
blocks nothing (fcntl.flock is released by the OS)."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from typed import assert_same_file, shell_env, typed

from sam_plugins.analysis import AnalysisError
from sam_plugins.analysis.store import OutputLock

# the demo model, held in its first batch while a file named `hold` exists in the folder
SLOW = """
import time
from pathlib import Path

from sam_plugins_demo import trained_demo_net


def held_net():
    net = trained_demo_net()

    def wait(module, inputs):
        while Path("hold").exists():
            time.sleep(0.05)

    net.register_forward_pre_hook(wait)
    return net
"""
COMMAND = "sam-plugins analyze held:held_net --limit 12 --batch-size 4 --no-report --out {out}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder with the model and the data, and the file of a run made alone."""
    cwd = tmp_path_factory.mktemp("lock")
    (cwd / "held.py").write_text(SLOW)
    done = typed(COMMAND.format(out="alone.h5"), cwd)
    assert done.returncode == 0, done.stderr[-2000:]
    return cwd


def start_held(cwd: Path, out: str) -> subprocess.Popen:
    """The analysis of `out`, started and waiting in its first batch with the lock held."""
    (cwd / "hold").touch()
    first = subprocess.Popen(
        COMMAND.format(out=out), shell=True, cwd=cwd, env=shell_env(), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    lock = cwd / f"{out}.lock"
    deadline = time.monotonic() + 300
    while not (lock.exists() and "process" in lock.read_text()):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the lock never appeared"
        time.sleep(0.1)
    return first


def test_a_second_writer_is_refused_and_the_first_file_is_as_made_alone(folder):
    first = start_held(folder, "a.h5")
    try:
        second = typed(COMMAND.format(out="a.h5"), folder)
        holder = (folder / "a.h5.lock").read_text()
    finally:
        (folder / "hold").unlink()
    assert second.returncode == 2
    err = second.stderr
    assert err.startswith("sam-plugins: error: ") and err.count("\n") == 1, err
    assert "a.h5.lock" in err and "another analysis" in err
    pid = re.search(r"process (\d+)", err)
    assert pid and f"process {pid[1]}" in holder
    assert first.wait(timeout=300) == 0, first.communicate()
    assert_same_file(folder / "alone.h5", folder / "a.h5")
    assert not (folder / "a.h5.lock").exists() and not (folder / "a.h5.parts").exists()


def test_a_lock_left_by_a_killed_run_does_not_block_the_next(folder):
    first = start_held(folder, "b.h5")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    (folder / "hold").unlink()
    assert (folder / "b.h5.lock").exists()  # the file is left; the OS dropped the lock
    again = typed(COMMAND.format(out="b.h5"), folder)
    assert again.returncode == 0, again.stderr[-2000:]
    assert_same_file(folder / "alone.h5", folder / "b.h5")
    assert not (folder / "b.h5.lock").exists()


def test_the_lock_in_one_process_refuses_another_holder(tmp_path):
    """The same lock without the command line: fcntl locks of two open files conflict even in
    one process, and the refusal names the holder; after release the next one gets it."""
    first = OutputLock(tmp_path / "a.h5")
    first.acquire()
    try:
        with pytest.raises(AnalysisError, match=rf"another analysis \(process {os.getpid()} on"):
            OutputLock(tmp_path / "a.h5").acquire()
    finally:
        first.release()
    assert not (tmp_path / "a.h5.lock").exists()
    again = OutputLock(tmp_path / "a.h5")
    again.acquire()
    again.release()
