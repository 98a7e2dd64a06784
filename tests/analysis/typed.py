"""Commands run as users type them, and a check that two analysis files hold the same."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

BIN = Path(sys.executable).parent


def shell_env() -> dict[str, str]:
    """The environment with the venv's scripts (sam-plugins, torchrun) first on PATH."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def typed(command: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """`command` run as typed in a shell in `cwd`."""
    return subprocess.run(
        command, shell=True, cwd=cwd, env=shell_env(), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def assert_same_file(a: Path, b: Path) -> None:
    """Two analysis files hold the same analysis: identity and every per-sample row equal,
    class sums equal to 1e-9 (ranks add them in another order)."""
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        assert fa.attrs["identity"] == fb.attrs["identity"]
        names: list[list[str]] = [[], []]
        for f, found in zip((fa, fb), names, strict=True):
            f.visititems(
                lambda k, v, found=found: found.append(k) if isinstance(v, h5py.Dataset) else None
            )
        assert sorted(names[0]) == sorted(names[1])
        assert names[0], "no datasets"
        for name in names[0]:
            x, y = fa[name][()], fb[name][()]
            if name.endswith(("_sum", "isi_hist")):
                np.testing.assert_allclose(x, y, rtol=1e-9, err_msg=name)
            else:
                np.testing.assert_array_equal(x, y, err_msg=name)
