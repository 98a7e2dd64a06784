"""`analyze_dataset`: SAM statistics of a model over a whole dataset, in one process or sharded
over the processes of a torch.distributed group (``torchrun``), into one HDF5 file.

Rank r of a world of w processes analyses samples r, r + w, r + 2w, ... (every sample exactly
once, no padding), commits each batch to its own part of ``OUT.parts/`` and resumes from it;
when all ranks are done, rank 0 merges the parts into ``OUT``: per-sample rows in dataset order,
class sums added. A single process is the case w = 1, so both give the same file.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from sam_plugins import DEFAULT_GAMMA, SpikeActivationMap, class_scores
from sam_plugins.methods import SilentLayerWarning

from .result import AnalysisResult
from .stats import SpikeStats
from .store import (
    FORMAT,
    AnalysisError,
    OutputLock,
    ShardWriter,
    add_class_sums,
    as_identity,
    check_output,
    fingerprint,
    left_behind,
    merge,
    parts_of,
    prepare,
)


def collate_frames(items: Sequence[tuple[Any, Any]]) -> tuple[Tensor, Tensor, Tensor]:
    """(frames [T, C, H, W], label) items -> frames [T_max, B, C, H, W] zero-padded at the end,
    labels [B] (int64), lengths [B] (int64)."""
    frames, labels = [], []
    for i, (x, y) in enumerate(items):
        if isinstance(x, np.ndarray) and x.dtype.names is not None:
            raise TypeError(
                "dataset items must be frames [T, C, H, W]; found a structured event array. "
                "Frame the events in the dataset, e.g. transform=tonic.transforms.ToFrame("
                "sensor_size, n_time_bins=16)"
            )
        x = torch.as_tensor(x).float()
        expected = frames[0].shape[1:] if frames else x.shape[1:]
        if x.dim() < 2 or x.shape[1:] != expected or len(x) == 0:
            raise ValueError(
                f"item {i} of the batch has frames of shape {tuple(x.shape)}; expected "
                f"[T >= 1, ...] with the per-step shape of the batch's first item {tuple(expected)}"
            )
        frames.append(x)
        labels.append(int(y))
    lengths = torch.tensor([len(f) for f in frames])
    return pad_sequence(frames), torch.tensor(labels), lengths


def default_predict(outputs: Any, lengths: Tensor) -> Tensor:
    """Class per sample [B] from the model's outputs (`class_scores`): spike counts over the
    valid steps of [T, B, classes] outputs (first element of a tuple), or the argmax of
    [B, classes]."""
    out = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
    if isinstance(out, Tensor) and out.dim() == 3:  # padded steps count nowhere
        steps = torch.arange(out.shape[0], device=out.device)[:, None]
        out = out * (steps < lengths.to(out.device)[None]).unsqueeze(-1)
    try:
        return class_scores(out).argmax(-1)
    except ValueError as exc:
        raise ValueError(f"{exc}; pass predict=callable(outputs, lengths) -> [B] classes") from None


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _on_rank0(job: Callable[[], Any], world: int) -> Any:
    """Run `job` on rank 0 and hand its result (or its AnalysisError) to every rank."""
    rank = _world()[0]
    box: list[Any] = [None]
    if rank == 0:
        try:
            box[0] = ("ok", job())
        except AnalysisError as exc:
            box[0] = ("error", (str(exc), exc.cli))
    if world > 1:
        dist.broadcast_object_list(box, src=0)
    status, value = box[0]
    if status == "error":
        raise AnalysisError(*value)
    return value


def analyze_dataset(
    model: nn.Module,
    dataset: Dataset,
    path: str | Path,
    *,
    num_classes: int,
    layers=None,
    gamma: float = DEFAULT_GAMMA,
    batch_size: int = 32,
    run: Callable[[nn.Module, Tensor], Any] | None = None,
    predict: Callable[[Any, Tensor], Tensor] = default_predict,
    isi_bins: int = 64,
    device: str | torch.device | None = None,
    resume: bool = True,
    save_maps: bool = False,
    settings: dict[str, Any] | None = None,
    class_names: Sequence[str] | None = None,
    progress: bool = True,
    num_workers: int = 0,
    commit_every: float = 10.0,
    **options: Any,
) -> AnalysisResult:
    """Analyse `model` over every item of `dataset` ((frames [T, C, H, W], label) pairs) and
    write the statistics to the HDF5 file `path`; return them read back (`AnalysisResult`).

    Per layer: per class and time bin the mean SAM map (spatial layers), the SAM mass and the
    firing rate; the ISI histogram; per sample the label, prediction, length, SAM mass per bin
    and firing rate, and with `save_maps` the time-summed map (float16). Recordings of
    different lengths are padded per batch; padded steps count nowhere. One batch's spikes and
    maps are in memory, and the per-sample rows since the last commit.

    Inside a torch.distributed group (e.g. under ``torchrun``) every rank calls this with the
    same arguments: rank r analyses samples r, r + world, ...; the file is the same as from one
    process. `device` None means the model's device.

    A rank commits its work (atomically) at the end of the first batch that ends
    `commit_every` seconds or more after its last commit (0: after every batch), and at the end:
    a stop loses at most that much work. With `resume`, a run with the same settings
    (`num_classes`, `layers`, `gamma`, `isi_bins`, `save_maps`, the dataset's length, a
    fingerprint of the weights, and whatever `settings` the caller adds, e.g. the dataset's
    name and time bins) continues from its last commit, or returns at once if finished; other
    settings are refused. `resume=False` starts over. Options go to SpikeActivationMap. The
    model is run as it is (eval mode first).
    """
    path = Path(path)
    rank, world = _world()
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, found {batch_size}")
    if not commit_every >= 0:  # NaN too
        raise ValueError(f"commit_every must be a number of seconds >= 0, found {commit_every}")
    sam = SpikeActivationMap(model, layers, gamma, run=run, **options)
    identity = _identity(
        model, sam, dataset, num_classes, isi_bins, save_maps, settings, class_names
    )
    lock = OutputLock(path)  # rank 0 holds it from `prepare` to the end of the merge

    def start() -> str:
        check_output(path)
        lock.acquire()
        return prepare(path, identity, world, resume)

    try:
        if _on_rank0(start, world) == "done":
            _say(progress and rank == 0, f"{path} is complete: this analysis is there already")
            return _noted(AnalysisResult(path), rank)
        try:
            with warnings.catch_warnings():  # a batch's silent layer is no news: see _noted
                warnings.simplefilter("ignore", SilentLayerWarning)
                result = _run(
                    model, dataset, path, sam, identity, rank, world, device, batch_size,
                    num_classes, predict, isi_bins, save_maps, progress, num_workers,
                    commit_every,
                )  # fmt: skip
            return _noted(result, rank)
        except (AnalysisError, ValueError) as exc:  # bad input: say what is kept, how to remove it
            kept = left_behind(path) if rank == 0 else ""
            if not kept:
                raise
            cli = exc.cli if isinstance(exc, AnalysisError) else str(exc)
            raise AnalysisError(f"{exc}; {kept}", f"{cli}; {kept}") from None
        except BaseException as exc:  # e.g. Ctrl-C: a run of the same settings resumes
            kept = left_behind(path) if rank == 0 else ""
            if kept:
                exc.add_note(f"{kept}; run the same analysis again to resume it")
            raise
    finally:
        lock.release()


def _noted(result: AnalysisResult, rank: int) -> AnalysisResult:
    """`result`, after one `SilentLayerWarning` (on rank 0) per layer that emitted no spike
    over the whole dataset: the merged rows decide, so a layer silent in some batches, or in
    one rank's samples, is not named."""
    if rank == 0:
        for layer in result.layers:
            if not result.sample_rates(layer).any():
                kind = f" ({result.kind(layer)})" if result.kind(layer) else ""
                warnings.warn(
                    f"layer {layer!r}{kind} emitted no spike over the whole "
                    f"dataset ({result.done} samples): its SAM maps and statistics are all zero",
                    SilentLayerWarning,
                    stacklevel=3,
                )
    return result


def _say(enabled: bool, text: str) -> None:
    if enabled:
        print(text, file=sys.stderr, flush=True)


def _run(
    model, dataset, path, sam, identity, rank, world, device, batch_size, num_classes, predict,
    isi_bins, save_maps, progress, num_workers, commit_every,
) -> AnalysisResult:  # fmt: skip
    """analyze_dataset's work once `prepare` said "run": this rank's samples, then the merge."""
    shard = ShardWriter(parts_of(path), rank, keep_rows=rank == 0)
    mine = range(rank, len(dataset), world)[shard.done :]
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    stats = SpikeStats(isi_bins, sam=sam)  # SAM's pass counts and marks the spikes
    sam.recorder.consumers.append(stats)
    loader = DataLoader(
        Subset(dataset, mine),
        batch_size=batch_size,
        collate_fn=collate_frames,
        num_workers=num_workers,
    )
    total = len(range(rank, len(dataset), world))
    if shard.done:
        _say(
            progress and rank == 0,
            f"resuming {parts_of(path)}/: {shard.done} of {total} samples done",
        )
    bar = tqdm(
        total=total,
        initial=shard.done,
        unit="sample",
        desc=f"rank 0 of {world}" if world > 1 else None,
        disable=(not progress or rank != 0) or None,
    )
    first = iter(mine)
    committed = time.monotonic()
    with bar:
        for frames, labels, lengths in loader:
            if labels.min() < 0 or labels.max() >= num_classes:
                raise ValueError(
                    f"labels must be in [0, {num_classes}), found {labels.min()}..{labels.max()}"
                )
            index = np.array([next(first) for _ in range(len(labels))], dtype=np.int64)
            stats.reset(lengths)
            result = sam.attribute(frames.to(device))
            predictions = predict(result.outputs, lengths).cpu()
            rows, layer_info = _batch(
                result, stats, labels, lengths, num_classes, save_maps, shard.sums
            )
            rows.update(  # copies: with workers, the loader's tensors hold shared memory
                index=index,
                target=labels.numpy().copy(),
                prediction=predictions.numpy().astype(np.int64),
                length=lengths.numpy().copy(),
            )
            shard.add(rows, layer_info)
            if time.monotonic() - committed >= commit_every:
                shard.commit()
                committed = time.monotonic()
            bar.update(len(labels))
    shard.commit()
    if world > 1:
        dist.barrier()
    _on_rank0(lambda: merge(path, identity, world, shard), world)
    return AnalysisResult(path)


def _identity(
    model: nn.Module,
    sam: SpikeActivationMap,
    dataset: Dataset,
    num_classes: int,
    isi_bins: int,
    save_maps: bool,
    settings: dict[str, Any] | None,
    class_names: Sequence[str] | None,
) -> dict[str, Any]:
    """The settings that make the numbers: what a file must match to be resumed."""
    if len(dataset) == 0:
        raise AnalysisError("the dataset is empty: there is nothing to analyse")
    identity = {
        "format": FORMAT,
        "dataset_len": len(dataset),
        "num_classes": int(num_classes),
        "gamma": sam.gamma,
        "window": sam.window,
        "layers": sam.layers,
        "isi_bins": int(isi_bins),
        "save_maps": bool(save_maps),
        "weights": fingerprint(model),
        **(settings or {}),
    }
    if class_names is not None:
        identity["class_names"] = [str(c) for c in class_names]
    return as_identity(identity)


def prepare_analysis(
    model: nn.Module,
    dataset: Dataset,
    path: str | Path,
    *,
    world: int,
    num_classes: int,
    layers=None,
    gamma: float = DEFAULT_GAMMA,
    isi_bins: int = 64,
    save_maps: bool = False,
    settings: dict[str, Any] | None = None,
    class_names: Sequence[str] | None = None,
    resume: bool = True,
    **options: Any,
) -> str:
    """What `analyze_dataset` in `world` processes would do first, done now: "done" if `path`
    holds this analysis finished, "run" if it is to be made or resumed; AnalysisError if the
    file holds another analysis, or an unfinished one of another world size."""
    sam = SpikeActivationMap(model, layers, gamma, **options)
    identity = _identity(
        model, sam, dataset, num_classes, isi_bins, save_maps, settings, class_names
    )
    path = Path(path)
    check_output(path)
    lock = OutputLock(path)
    lock.acquire()  # refused while another analysis writes `path`
    try:
        return prepare(path, identity, world, resume)
    finally:
        lock.release()


def _batch(
    result,
    stats: SpikeStats,
    labels: Tensor,
    lengths: Tensor,
    num_classes: int,
    save_maps: bool,
    sums: dict[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """Per-sample rows and layer descriptions of one batch; its class sums (float64) are added
    into `sums` in place, each sample's valid steps only (padded steps count nowhere)."""
    steps = result.steps
    labels_np, lengths_np = labels.numpy(), lengths.numpy()
    valid = (np.arange(steps)[:, None] < lengths_np[None]).astype(np.float64)  # [T, B]
    rows: dict[str, np.ndarray] = {}
    info = []

    def add(key: str, values: Tensor | np.ndarray) -> None:  # values [T, B, ...]
        add_class_sums(sums, key, values, labels_np, lengths_np, num_classes)

    add("count", valid)
    for i, (name, layer) in enumerate(result.items()):
        profile = layer.profile.cpu().numpy() * valid  # [T, B] float64, padding zeroed
        spikes = stats.finish(name)
        counts = spikes.counts.numpy()  # [T, B], padding not counted
        rows[f"L{i}.profile"] = profile.T.astype(np.float32)
        # each sample's own steps, summed in float64: the same however it was batched
        mass = [profile[: min(n, steps), b].sum() for b, n in enumerate(lengths_np.tolist())]
        rows[f"L{i}.mass"] = np.array(mass, dtype=np.float32)
        rows[f"L{i}.rate"] = (counts.sum(0) / (spikes.neurons * lengths_np)).astype(np.float32)
        add(f"L{i}.profile_sum", profile)
        add(f"L{i}.rate_sum", counts / spikes.neurons)
        isi = sums.setdefault(f"L{i}.isi_hist", np.zeros(len(spikes.isi)))
        isi += spikes.isi.numpy()
        map_shape = None
        if layer.maps is not None:
            maps = layer.maps  # [T, B, h, w], [T, B, L] or [T, B, N], on the model's device
            map_shape = list(maps.shape[2:])
            add(f"L{i}.map_sum", maps)
            if save_maps:
                summed = torch.stack([maps[:n, b].sum(0) for b, n in enumerate(lengths_np)])
                if summed.abs().max() > torch.finfo(torch.float16).max:
                    raise AnalysisError(
                        f"layer {name!r}: time-summed SAM maps reach {float(summed.max()):g}, "
                        "beyond float16's range; analyse without per-sample maps"
                    )
                rows[f"L{i}.maps"] = summed.half().cpu().numpy()
        info.append(
            {"name": name, "kind": layer.kind, "neurons": spikes.neurons, "map_shape": map_shape}
        )
    return rows, info
