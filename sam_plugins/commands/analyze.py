"""``sam-plugins analyze``: SAM statistics of a model over a dataset, into one HDF5 file.

It runs in one process, or in several: ``--nproc N`` starts N processes through
``torch.distributed.run`` (torchrun), and a command started by ``torchrun ... -m sam_plugins
analyze`` joins its torch.distributed group (gloo on CPU, nccl on GPU, one GPU per local rank).
Datasets named on the command line are opened by the installed input readers (the tonic plugin
frames tonic dataset classes); the analysis itself sees (frames, label) items only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..io.events import add_event_arguments
from .arguments import (
    CLIError,
    add_model_arguments,
    load_model,
    seconds,
    writable_file,
    writable_folder,
)

DEFAULT_MODEL = "sam_plugins_demo:trained_demo_net"
DEFAULT_DATASET = "sam_plugins_demo:EmulatedDigits"


def _open_dataset(args: argparse.Namespace) -> tuple[Any, list[str] | None]:
    """The dataset of the command line, framed by the first installed reader that knows it, cut
    to --limit; and its class names if the dataset class has them."""
    from torch.utils.data import Subset

    from sam_plugins.io import load_factory
    from sam_plugins.io.models import first_line
    from sam_plugins.plugins import installed_readers

    factory = args.dataset if args.dataset == "files" else load_factory(args.dataset)
    dataset, classes = None, getattr(factory, "classes", None)
    events = {k: v for k in ("sensor_size", "crop", "downsample") if (v := getattr(args, k))}
    for reader in installed_readers():
        try:
            dataset = reader.open_dataset(
                factory, args.data, args.split == "train", args.time_bins, **events
            )
        except Exception as exc:  # download refused, files missing, ...
            raise CLIError(
                f"cannot open {args.dataset} in {args.data}/: {first_line(exc)}"
            ) from None
        if dataset is not None:
            break
    else:
        raise CLIError(
            f"no installed reader opens {args.dataset}: expected a dataset class an input reader "
            "knows, e.g. tonic.datasets:NMNIST (pip install sam-plugins-tonic)"
        )
    if classes is None:  # tonic's SHD and SSC read their class names from the file (bytes)
        classes = getattr(dataset, "classes", None)
    if args.limit is not None:
        dataset = Subset(dataset, range(min(args.limit, len(dataset))))
    names = [
        c.decode() if isinstance(c, bytes) else str(c) for c in (() if classes is None else classes)
    ]
    return dataset, names or None


def _distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _argv(args: argparse.Namespace) -> list[str]:
    """The command line of `args` again, without --nproc (for the processes torchrun starts)."""
    argv = ["analyze"]
    for action in args._parser._actions:
        if action.dest in ("help", "nproc"):
            continue
        value = getattr(args, action.dest, None)
        if isinstance(action, argparse._StoreConstAction):  # flags: store_true, --no-report
            argv += [action.option_strings[-1]] if value == action.const else []
        elif value is None:
            continue
        elif not action.option_strings:
            argv.append(str(value))
        elif isinstance(value, list):
            argv += [action.option_strings[-1], *map(str, value)]
        else:
            argv += [action.option_strings[-1], str(value)]
    return argv


def _analyze(args: argparse.Namespace) -> None:
    import torch
    import torch.distributed as dist

    from sam_plugins.analysis.store import AnalysisError, check_output

    for flag, value in (("--limit", args.limit), ("--nproc", args.nproc)):
        if value is not None and value < 1:
            raise CLIError(f"{flag} must be at least 1, found {value}")
    for flag, value in (("--time-bins", args.time_bins), ("--batch-size", args.batch_size)):
        if value < 1:
            raise CLIError(f"{flag} must be at least 1, found {value}")
    writable_file(args.out)  # before the long work, not at its end
    if args.out.exists():  # another file there is refused before any data is emulated
        try:
            check_output(args.out)
        except AnalysisError as exc:
            raise CLIError(str(exc)) from None
    if args.report is not None:
        writable_folder(args.report, "--report")
    device = args.device
    if _distributed():
        cuda = device.startswith("cuda")
        if cuda:
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if cuda else "gloo")
    try:
        done = _work(args, device)
    except BaseException as exc:
        if dist.is_initialized():  # one line naming the rank that failed, if another one did
            _ranks_failed(exc)
        raise
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if done is not None:
        _summary(args, *done)


def _work(args: argparse.Namespace, device: str) -> tuple[Any, bool] | None:
    """Load, open the data and analyse: the AnalysisResult and whether the file was written
    (False: it held this analysis already), or None where this process prints nothing more (a
    launcher whose processes did it, a rank other than 0). CLIError for what the user can
    change."""
    from sam_plugins.analysis.runner import analyze_dataset, prepare_analysis
    from sam_plugins.analysis.store import AnalysisError
    from sam_plugins.methods import warnings_as_notes

    launch = args.nproc > 1 and not _distributed()
    started = False  # whether the analysis itself began (an interrupt says what it kept)
    try:
        rank0 = int(os.environ.get("RANK", "0")) == 0
        model = load_model(args, device, note=rank0 and not launch)
        dataset, names = _after_rank0(lambda: _open_dataset(args))
        num_classes = args.num_classes or (len(names) if names else None)
        if num_classes is None:
            raise CLIError(f"{args.dataset} does not list its classes: give --num-classes")
        options = dict(
            num_classes=num_classes,
            layers=args.layers,
            gamma=args.gamma,
            save_maps=args.save_maps,
            class_names=names if names and len(names) == num_classes else None,
            settings={
                "dataset": args.dataset,
                "split": args.split,
                "limit": args.limit,
                "time_bins": args.time_bins,
                # what the events went through: a resume with other values is refused
                **{
                    key: ",".join(map(str, value)) if isinstance(value, tuple) else value
                    for key in ("sensor_size", "crop", "downsample")
                    if (value := getattr(args, key, None)) is not None
                },
            },
            resume=not args.restart,
        )
        if launch:  # refuse what the processes would refuse, before starting them
            prepare_analysis(model, dataset, args.out, world=args.nproc, **options)
            _launch(args)  # rank 0 prints the summary and writes the report
            return None
        started = True
        before = _stamp(args.out)
        with warnings_as_notes():  # a layer silent over the whole dataset: one note line
            analysis = analyze_dataset(
                model, dataset, args.out, batch_size=args.batch_size, device=device,
                commit_every=args.commit_every, **options,
            )  # fmt: skip
    except AnalysisError as exc:
        raise CLIError(exc.cli) from None
    except LookupError as exc:  # no neurons found
        raise CLIError(f"{exc} On the command line: --layers NAME [NAME ...]") from None
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    except KeyboardInterrupt as exc:  # what the stopped run kept, and how to resume or remove it
        raise CLIError(_interrupted(exc, started, args.out)) from None
    if _distributed() and int(os.environ.get("RANK", "0")) != 0:
        return None
    return analysis, before is None or _stamp(args.out) != before


def _stamp(path: Path) -> tuple[int, int] | None:
    """(inode, modification time) of `path`, None if absent: whether a run wrote it."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def _interrupted(exc: KeyboardInterrupt, started: bool, out: Path) -> str:
    """What an interrupt kept, and that the same command resumes (or starts) the work."""
    from sam_plugins.analysis.store import left_behind

    notes = getattr(exc, "__notes__", [])  # the data emulated so far, the analysis' parts
    if started and notes:
        return "; ".join(["interrupted", *notes])
    if started:  # e.g. a rank other than 0, whose analysis adds no note
        kept = left_behind(out)
        return (
            f"interrupted; {kept}; run the same command again to resume it"
            if kept
            else "interrupted before the analysis kept any work; run the same command again"
        )
    return "; ".join(
        ["interrupted before the analysis began (nothing of it was written)", *notes]
        + ["run the same command again to resume" if notes else "run the same command again"]
    )


def _summary(args: argparse.Namespace, analysis: Any, written: bool) -> None:
    """What the analysis found, the report, and what was written (`written`: the file; if
    not, it held this analysis already)."""
    import numpy as np

    from sam_plugins.analysis.report import write_analysis_report

    print(f"analysed {analysis.done} samples, accuracy {analysis.accuracy:.1%}: {analysis.path}")
    for layer in analysis.layers:
        count = analysis.count
        mass = np.nansum(analysis.profile(layer) * count, 0) / np.maximum(count.sum(0), 1)
        print(
            f"  layer {layer}: SAM mass peaks at bin {int(mass.argmax())} of {len(mass)}, mean "
            f"firing rate {analysis.mean_rate(layer):.4f}"
        )
    page = None
    if args.report is not None:
        page = write_analysis_report(analysis, args.report, pngs=args.pngs)
        print(f"report: {page}")
    if written:
        report = f" and the report {page}" if page else ""
        print(
            f"wrote {analysis.path} ({analysis.done} samples){report}; the dataset's files are "
            f"in {args.data}/"
        )
    else:
        report = f"; made the report {page} again from it" if page else ""
        print(
            f"nothing written to {analysis.path}: it held this analysis already "
            f"({analysis.done} samples){report}"
        )


FAILED = "sam-plugins/failed"  # the store key where the first rank that fails says why
READY = "sam-plugins/data-ready"  # set by rank 0 when the data are there for the others


def _store() -> Any:
    """The torch.distributed group's key-value store (under torchrun, its launcher's, which
    outlives the ranks)."""
    from torch.distributed import distributed_c10d

    return distributed_c10d._get_default_store()


def _after_rank0(job: Any) -> Any:
    """`job()` run by rank 0 first and by the other ranks once it has succeeded, so that data
    emulated or downloaded into a shared folder are made once (by rank 0, on any machine) and
    read by the others; a rank 0 that fails says so to the others, which end naming it."""
    if not _distributed():
        return job()
    import time

    rank = int(os.environ["RANK"])
    store = _store()
    if rank == 0:
        value = job()
        store.set(READY, "1")
        return value
    while not store.check([READY]):  # no collective: no timeout, however long rank 0 takes
        if store.check([FAILED]):
            _ranks_failed(None)
        time.sleep(0.2)
    return job()


def _ranks_failed(exc: BaseException | None) -> None:
    """How a rank of a torch.distributed run ends that stops with `exc` (None: it saw, while
    waiting for rank 0's data, that a rank failed). Its own error (a CLIError, an interrupt, a
    bug) is told to the others through the store, if it is the first, and raised as it is; an
    error from torch.distributed (another rank is gone) becomes one line naming the rank that
    failed first and why, or saying that one stopped without a word (e.g. killed)."""
    from datetime import timedelta

    import torch.distributed as dist

    rank, world = dist.get_rank(), dist.get_world_size()
    gone = exc is None or _is_transport(exc)
    try:
        store = _store()
        if not gone:
            said = str(exc) if isinstance(exc, CLIError) else _first_line(exc)
            store.compare_set(FAILED, "", f"{rank}\t{said}")  # the first failure is kept
            return
        with contextlib.suppress(Exception):  # the failed rank says why before it leaves
            store.wait([FAILED], timedelta(seconds=5))
        failed, said = store.get(FAILED).decode().split("\t", 1)
    except Exception:  # noqa: BLE001 (no rank said why, or the launcher's store is gone too)
        failed = None
    if failed is not None and int(failed) != rank:
        raise CLIError(f"rank {failed} of {world} failed: {said}") from None
    if gone:
        raise CLIError(
            f"another process of this analysis (of {world}) stopped without saying why, e.g. "
            f"killed, so this one (rank {rank}) stopped too: {_first_line(exc)}"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _is_transport(exc: BaseException | None) -> bool:
    """Whether `exc` is torch.distributed's news that another process is gone."""
    import torch.distributed as dist

    text = str(exc)
    return isinstance(exc, dist.DistError) or (
        isinstance(exc, RuntimeError) and any(w in text for w in ("gloo", "NCCL", "Connection"))
    )


def _launch(args: argparse.Namespace) -> None:
    """Run this command in args.nproc processes through torch.distributed.run."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc-per-node={args.nproc}", "-m", "sam_plugins", *_argv(args)]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # torchrun's default for several processes
    env.setdefault("NUMBA_NUM_THREADS", env["OMP_NUM_THREADS"])  # numba's pool no wider
    done = subprocess.run(command, env=env)
    if done.returncode:
        from .store import left_behind

        text = f"the {args.nproc} analysis processes failed (exit status {done.returncode})"
        kept = left_behind(args.out)  # their messages say whether running again helps
        raise CLIError(
            f"{text}; their messages are above"
            + (f"; {kept}: once the cause is fixed, the same command resumes it" if kept else "")
        )


def add(subparsers) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="SAM statistics over a dataset into one HDF5 file and an HTML report; resumable, "
        "in several processes with --nproc or torchrun",
        description="Run the model over a dataset with SAM attached; write per class the mean "
        "maps, temporal profiles and firing rates, ISI histograms and per-sample rows to HDF5, "
        "and an HTML report. An interrupted run continues where it stopped.",
    )
    add_model_arguments(parser, DEFAULT_MODEL)
    parser.add_argument(
        "--dataset",
        default=DEFAULT_DATASET,
        help="dataset class as package.module:Class, opened by an installed reader, e.g. "
        "tonic.datasets:NMNIST or tonic.datasets:DVSGesture; or 'files': --data DIR holds "
        "DIR/<class>/<recording> event files",
    )
    parser.add_argument("--data", type=Path, default=Path("sam-data"), help="dataset folder")
    add_event_arguments(parser)
    parser.add_argument(
        "--split", choices=("train", "test"), default="test", help="which part of the dataset"
    )
    parser.add_argument(
        "--limit", type=int, metavar="N", help="only the first N samples (default: all)"
    )
    parser.add_argument("--time-bins", type=int, default=10, help="frames per recording")
    parser.add_argument(
        "--num-classes", type=int, help="number of classes (default: the dataset's)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=32, help="samples run through the model at once"
    )
    parser.add_argument("--out", type=Path, default=Path("sam-analysis.h5"), help="HDF5 file")
    parser.add_argument(
        "--report", type=Path, default=Path("sam-analysis"), help="folder for the HTML report"
    )
    parser.add_argument(
        "--no-report",
        dest="report",
        action="store_const",
        const=None,
        help="write the HDF5 file only (sam-plugins report makes the report later)",
    )
    parser.add_argument(
        "--pngs", action="store_true", help="also write the report's figures as PNGs beside it"
    )
    parser.add_argument(
        "--save-maps", action="store_true", help="also store each sample's time-summed maps"
    )
    parser.add_argument("--restart", action="store_true", help="start over, do not resume")
    parser.add_argument(
        "--commit-every",
        type=seconds,
        default=10.0,
        metavar="SECONDS",
        help="save the work done at most this often (0: after every batch); a stop loses at "
        "most the work since",
    )
    parser.add_argument(
        "--nproc", type=int, default=1, help="processes on this machine (torch.distributed.run)"
    )
    parser.set_defaults(func=_analyze, _parser=parser)
