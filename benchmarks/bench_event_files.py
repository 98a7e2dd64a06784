"""Reading N-MNIST .bin files: sam_plugins_tonic's reader against tonic's own, on random files
of growing size (tonic adds the overflow increment to every later timestamp once per marker,
so its time grows with the square of the size).

    .venv/bin/python benchmarks/bench_event_files.py [--sizes 1 4 16]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sam_plugins_tonic.formats import EVENT_DTYPE, read_nmnist_bin
from tonic.io import read_mnist_file


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16], help="MB")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'MB':>4} {'ours s':>8} {'tonic s':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for megabytes in args.sizes:
            path = Path(folder) / f"{megabytes}.bin"
            path.write_bytes(rng.integers(0, 256, megabytes * 1_000_000, dtype=np.uint8).tobytes())
            ours = best_of(lambda p=path: read_nmnist_bin(p), args.repeats)
            theirs = best_of(lambda p=path: read_mnist_file(str(p), dtype=EVENT_DTYPE), 1)
            print(f"{megabytes:>4} {ours:>8.3f} {theirs:>8.3f}")


if __name__ == "__main__":
    main()
