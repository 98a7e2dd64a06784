"""One rank of a distributed analysis, for the tests: ``torchrun ... dist_worker.py OUT N
[--kill RANK:INDEX:MARKER] [--tick SECONDS] [--quiet]``. With --kill, rank RANK kills itself
with SIGKILL when it reads item INDEX, unless the file MARKER exists (it is made first, so the
next run goes through). Without --tick every batch is committed; with it, the analysis' clock
moves 1 s each time it is read and a rank commits every SECONDS: rows files of several batches.
With --quiet, `quiet_net` analyses `QuietEvens`: rank 0 of 2 reads only silent items."""

import argparse
import itertools
import os
import signal
import sys
from pathlib import Path
from types import SimpleNamespace

import torch.distributed as dist

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent)]

from analysis_data import Frames, QuietEvens, net, quiet_net, run  # noqa: E402

from sam_plugins.analysis import analyze_dataset, runner  # noqa: E402


class Killing(Frames):
    def __init__(self, n, rank, index, marker):
        super().__init__(n)
        self.rank, self.index, self.marker = rank, index, Path(marker)

    def __getitem__(self, i):
        if i == self.index and dist.get_rank() == self.rank and not self.marker.exists():
            self.marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__getitem__(i)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("n", type=int)
    parser.add_argument("--kill")
    parser.add_argument("--save-maps", action="store_true")
    parser.add_argument("--tick", type=float, default=0.0)
    parser.add_argument("--quiet", action="store_true", help="quiet_net on QuietEvens")
    args = parser.parse_args()
    if args.tick:
        runner.time = SimpleNamespace(monotonic=itertools.count().__next__)
    dist.init_process_group("gloo")
    data = QuietEvens(args.n) if args.quiet else Frames(args.n)
    if args.kill:
        rank, index, marker = args.kill.split(":")
        data = Killing(args.n, int(rank), int(index), marker)
    model = quiet_net() if args.quiet else net()
    result = analyze_dataset(
        model, data, args.out, num_classes=4, layers=["lif1", "lif2", "lif3"], run=run,
        batch_size=3, progress=False, save_maps=args.save_maps, commit_every=args.tick,
    )  # fmt: skip
    print(f"rank {dist.get_rank()}: {result.done} samples in {result.path}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
