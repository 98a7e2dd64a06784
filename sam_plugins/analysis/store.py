"""Where an analysis lives on disk: per-rank parts while it runs, one HDF5 file when done.

While running, ``OUT.parts/`` holds ``meta.json`` (the settings that make the numbers: the
analysis' identity, and the world size) and one folder per rank. A rank commits by writing
``rows-K.npz`` (the per-sample rows of the batches since its last commit) and then replacing
``agg.npz`` (its class sums so far and the number of rows files they cover), each written to a
temporary name and renamed: a kill at any point leaves the last commit intact, and a run started
again resumes from it. When every rank is done, rank 0 merges the parts into ``OUT`` (again
written under a temporary name and renamed) and removes the parts. `AnalysisResult` reads that
file back."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

FORMAT = "sam-plugins-analysis/2"

# every dataset of the file: (description, meaning of its axes)
DESCRIPTIONS = {
    "samples/index": ("position of the sample in the dataset", "[sample]"),
    "samples/target": ("the sample's label", "[sample]"),
    "samples/prediction": ("the class the model predicted", "[sample]"),
    "samples/length": ("time bins of the sample (later bins are padding)", "[sample]"),
    "classes/count": ("samples of each class that reached each time bin", "[class, time bin]"),
    "profile": (
        "SAM mass per sample and time bin: sum of the raw map (or of N*S over the neurons)",
        "[sample, time bin], 0 after the sample's length",
    ),
    "rate": ("fraction of the layer's neurons that fire, mean over the sample's bins", "[sample]"),
    "mass": ("SAM mass of the sample, summed over its time bins", "[sample]"),
    "maps": (
        "the sample's raw SAM map summed over its time bins (float16)",
        "[sample, y, x] (2-D layers), [sample, position] (1-D) or [sample, neuron] (no layout)",
    ),
    "profile_sum": (
        "sum over the class's samples of the SAM mass per time bin; divide by classes/count",
        "[class, time bin]",
    ),
    "rate_sum": (
        "sum over the class's samples of the firing rate per time bin; divide by classes/count",
        "[class, time bin]",
    ),
    "map_sum": (
        "sum over the class's samples of the raw SAM map per time bin; divide by classes/count",
        "[class, time bin, y, x] (2-D layers), [class, time bin, position] (1-D) or "
        "[class, time bin, neuron] (layers without a layout: each neuron its own place)",
    ),
    "isi_hist": (
        "inter-spike intervals of the layer's neurons: entry k counts intervals of k bins; the "
        "last entry also every longer one",
        "[interval in bins]",
    ),
}


class AnalysisError(ValueError):
    """A problem with the analysis' settings or files, said in one line.

    `cli` is the same message for the command line (naming flags rather than arguments)."""

    def __init__(self, message: str, cli: str | None = None) -> None:
        super().__init__(message)
        self.cli = cli or message


def fingerprint(model: nn.Module) -> str:
    """A short hash of the model's state dict (names, shapes, dtypes and values)."""
    digest = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        digest.update(name.encode())
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().contiguous()
            digest.update(f"{value.dtype}{tuple(value.shape)}".encode())
            digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def _save_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """np.savez under a temporary name, then an atomic rename."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def _grow(array: np.ndarray, length: int, axis: int = 1) -> np.ndarray:
    """`array` zero-padded along `axis` to `length`."""
    if array.shape[axis] >= length:
        return array
    pad = [(0, 0)] * array.ndim
    pad[axis] = (0, length - array.shape[axis])
    return np.pad(array, pad)


def add_sums(total: dict[str, np.ndarray], more: Mapping[str, np.ndarray]) -> None:
    """total += more, key by key; arrays with a time axis (axis 1) grow to the longer one."""
    for key, value in more.items():
        old = total.get(key)
        if old is None:
            total[key] = np.array(value, dtype=np.float64)
        elif old.ndim >= 2:
            t = max(old.shape[1], value.shape[1])
            total[key] = _grow(old, t) + _grow(value, t)
        else:
            total[key] = old + value


def check_output(path: Path) -> None:
    """Raise AnalysisError unless `path` can become the analysis file."""
    if path.is_dir():
        raise AnalysisError(f"{path} is a directory; the output must be a file name (.h5)")
    if path.exists():
        import h5py

        try:
            with h5py.File(path, "r") as f:
                found = f.attrs.get("format")
        except OSError:
            found = None
        if found != FORMAT:
            raise AnalysisError(
                f"{path} exists and is not a sam-plugins analysis file ({FORMAT}); "
                "it is not overwritten: remove it or choose another output path"
            )
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AnalysisError(f"cannot create the folder of {path}: {exc.strerror}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise AnalysisError(f"cannot write to {parent}/ (permission denied)")


def parts_of(path: Path) -> Path:
    return path.with_name(path.name + ".parts")


def lock_of(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def as_identity(settings: Mapping[str, Any]) -> dict[str, Any]:
    """`settings` as they read back from JSON (tuples become lists; None stays None), so that a
    file's identity compares equal to the run's; AnalysisError for a value JSON cannot hold."""
    try:
        return json.loads(json.dumps(dict(settings), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise AnalysisError(
            f"the analysis settings must be JSON values (text, numbers, true/false, None, lists, "
            f"dicts): {exc}"
        ) from None


class OutputLock:
    """An OS-held lock (``fcntl.flock``) on ``OUT.lock``, held by the one process that prepares
    and merges an analysis: a second analysis of the same output is refused while it is held.
    The OS releases it when its process ends, however it ends, so a lock left by a killed run
    blocks nothing; the file itself is removed on `release`."""

    def __init__(self, path: Path) -> None:
        self.path = lock_of(path)
        self._file = None

    def acquire(self) -> None:
        while True:
            try:
                file = open(self.path, "a+")  # noqa: SIM115 (held until release)
            except OSError as exc:
                raise AnalysisError(f"cannot write {self.path}: {exc.strerror}") from None
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                file.seek(0)
                holder = file.read().strip() or "a process"
                file.close()
                output = self.path.with_name(self.path.name[: -len(".lock")])
                text = (
                    f"{output} is being written by another analysis ({holder}, holding "
                    f"{self.path}): "
                )
                raise AnalysisError(
                    text + "run this again when it has finished, or choose another path",
                    text + "run this again when it has finished, or choose another --out",
                ) from None
            try:  # still the file at that name? (a finishing run removes it)
                current = os.stat(self.path).st_ino == os.fstat(file.fileno()).st_ino
            except FileNotFoundError:
                current = False
            if current:
                break
            file.close()
        file.seek(0)
        file.truncate()
        file.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        file.flush()
        self._file = file

    def release(self) -> None:
        if self._file is not None:
            self.path.unlink(missing_ok=True)
            self._file.close()
            self._file = None


def left_behind(path: Path) -> str:
    """What a stopped run of the analysis `path` leaves (its committed parts), how much work
    they hold, and how to remove them; "" when it left nothing."""
    parts = parts_of(path)
    if not parts.is_dir():
        return ""
    done = 0
    for rank in sorted(parts.glob("rank-*")):
        agg = rank / "agg.npz"
        if agg.exists():
            with np.load(agg) as data:
                done += int(data["done"])
    return (
        f"{parts}/ keeps the {done} samples committed so far for a resumed run "
        f"(remove it with: rm -r {parts})"
    )


def describe_mismatch(found: Mapping[str, Any], wanted: Mapping[str, Any]) -> str:
    """The settings that differ, each as "name: value there, value now" (or "absent")."""
    absent = object()

    def show(value: Any) -> str:
        return "absent" if value is absent else repr(value)

    keys = sorted(set(found) | set(wanted))
    pairs = [(k, found.get(k, absent), wanted.get(k, absent)) for k in keys]
    return ", ".join(
        f"{k}: {show(a)} there, {show(b)} now"
        for k, a, b in pairs
        if a is absent or b is absent or a != b
    )


def mismatch_error(path: Path, found: Mapping, wanted: Mapping, what: str) -> AnalysisError:
    diff = describe_mismatch(found, wanted)
    text = f"{path} holds {what} made with other settings ({diff}); "
    return AnalysisError(
        text + "pass resume=False to replace it, or choose another path",
        text + "run again with --restart to replace it, or choose another --out",
    )


def prepare(path: Path, identity: dict[str, Any], world: int, resume: bool) -> str:
    """Rank 0's look at `path` before a run: "done" if a finished analysis with this identity is
    there, else "run" after making (or keeping, to resume) the parts folder. Raises
    AnalysisError for settings that do not match or a world size that cannot continue."""
    check_output(path)
    parts = parts_of(path)
    if not resume:
        path.unlink(missing_ok=True)
        shutil.rmtree(parts, ignore_errors=True)
    if path.exists():
        import h5py

        with h5py.File(path, "r") as f:
            found = json.loads(f.attrs["identity"])
        if found != identity:
            raise mismatch_error(path, found, identity, "an analysis")
        shutil.rmtree(parts, ignore_errors=True)
        return "done"
    meta = parts / "meta.json"
    if meta.exists():
        old = json.loads(meta.read_text())
        if old["identity"] != identity:
            raise mismatch_error(parts, old["identity"], identity, "an unfinished analysis")
        if old["world"] != world:
            done = sum(ShardWriter(parts, r).done for r in range(old["world"]))
            if done:
                text = (
                    f"{parts} holds an unfinished analysis made by {old['world']} processes "
                    f"({done} of {identity['dataset_len']} samples done), now {world}: "
                )
                raise AnalysisError(
                    text + f"run it again with world size {old['world']} to finish it, or "
                    "pass resume=False to start over",
                    text + f"run it again with --nproc {old['world']} (or torchrun "
                    f"--nproc-per-node {old['world']}) to finish it, or with --restart",
                )
            shutil.rmtree(parts)  # nothing committed: start afresh with this world size
    if not meta.exists():
        parts.mkdir(parents=True, exist_ok=True)
        tmp = meta.with_name("meta.json.tmp")
        tmp.write_text(json.dumps({"identity": identity, "world": world}, indent=1))
        os.replace(tmp, meta)
    return "run"


_HEADER = ("done", "batches", "layers")


KEEP_ROWS_BYTES = 256 << 20
"""A shard that starts empty keeps the rows it commits in memory, up to this many bytes, so that
a single process's merge need not read them back (parsing many small .npy headers costs about
5 % of a short analysis); past it, or after a resume, the merge reads the committed files."""


class ShardWriter:
    """One rank's work in ``OUT.parts/rank-R``: `done` samples committed in `batches` rows
    files, `sums` its class aggregates (float64) including the batches added since.

    The caller adds each finished batch's class sums into `sums` in place and its rows with
    `add`; `commit` writes what was added since the last commit. Nothing is written in between,
    so a stop loses at most that: a resumed run starts from the last commit. After an exception
    while a batch's sums were being added, the writer holds part of a batch: discard it (the
    analysis does) rather than commit."""

    def __init__(self, parts: Path, rank: int, keep_rows: bool = False) -> None:
        self.folder = parts / f"rank-{rank:05d}"
        self.sums: dict[str, np.ndarray] = {}
        self.done = self.batches = 0
        self.layers: list[dict[str, Any]] | None = None
        agg = self.folder / "agg.npz"
        if agg.exists():
            with np.load(agg) as data:
                self.sums = {k: data[k] for k in data.files if k not in _HEADER}
                self.done, self.batches = int(data["done"]), int(data["batches"])
                self.layers = json.loads(str(data["layers"]))
        self._pending: list[dict[str, np.ndarray]] = []
        # the rows committed by this object, while they are all of the shard's and few enough
        self._kept: list[dict[str, np.ndarray]] | None = (
            [] if keep_rows and self.batches == 0 else None
        )
        self._kept_bytes = 0

    def add(self, rows: Mapping[str, np.ndarray], layers: list[dict[str, Any]]) -> None:
        """Add one finished batch: its per-sample rows (``index`` among them) and what the
        layers are (name, kind, neurons, map_shape); its class sums are already in `sums`."""
        self._pending.append(dict(rows))
        self.layers = layers

    def commit(self) -> None:
        """Write the batches added since the last commit: their rows as one file, then the sums
        that count them. Atomic: a kill at any point leaves the last commit intact."""
        if not self._pending:
            return
        rows = {key: _stack([r[key] for r in self._pending]) for key in self._pending[0]}
        self.folder.mkdir(parents=True, exist_ok=True)
        _save_npz(self.folder / f"rows-{self.batches:06d}.npz", rows)
        done, batches = self.done + len(rows["index"]), self.batches + 1
        header = {"done": np.array(done), "batches": np.array(batches)}
        header["layers"] = np.array(json.dumps(self.layers))
        _save_npz(self.folder / "agg.npz", {**self.sums, **header})
        self.done, self.batches, self._pending = done, batches, []
        if self._kept is not None:
            self._kept.append(rows)
            self._kept_bytes += sum(v.nbytes for v in rows.values())
            if self._kept_bytes > KEEP_ROWS_BYTES:
                self._kept = None

    def rows(self):
        """The committed rows, in order (from memory when this object kept them all, else from
        the files, one file in memory at a time)."""
        if self._kept is not None and len(self._kept) == self.batches:
            yield from self._kept
            return
        for k in range(self.batches):
            with np.load(self.folder / f"rows-{k:06d}.npz") as data:
                yield {key: data[key] for key in data.files}


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    """Batches' rows [B, ...] as one array; axis 1 is zero-padded to the longest (the time axis
    of the profiles; the maps' y axis is the same in every batch)."""
    if len(arrays) == 1:
        return arrays[0]
    if arrays[0].ndim >= 2:
        length = max(a.shape[1] for a in arrays)
        arrays = [_grow(a, length) for a in arrays]
    return np.concatenate(arrays)


def add_class_sums(
    sums: dict[str, np.ndarray],
    key: str,
    values: torch.Tensor | np.ndarray,
    labels: np.ndarray,
    lengths: np.ndarray,
    num_classes: int,
) -> None:
    """``sums[key][c, :n] += values[:n, b]`` for each sample b of class c and n = its length:
    `values` [T, B, ...] (any float dtype) into float64 sums [classes, T', ...], grown along
    time when T' < T. In place, sample by sample (no batch-sized float64 copy); values on another
    device are summed there and only the class sums are copied."""
    steps = values.shape[0]
    total = sums.get(key)
    if total is None:
        total = sums[key] = np.zeros((num_classes, steps, *values.shape[2:]))
    elif total.shape[1] < steps:
        total = sums[key] = _grow(total, steps)
    if isinstance(values, torch.Tensor) and not values.is_cpu:
        total[:, :steps] += _class_sums_on(values, labels, lengths, num_classes)
    else:
        as_numpy = values.numpy() if isinstance(values, torch.Tensor) else values
        _add_samples(total, as_numpy, labels, lengths)


def _class_sums_on(
    values: torch.Tensor, labels: np.ndarray, lengths: np.ndarray, num_classes: int
) -> np.ndarray:
    """Class sums [classes, T, ...] (float64, numpy) of `values` [T, B, ...] over each sample's
    valid steps, added on the values' device; only the sums are copied."""
    shape = (num_classes, values.shape[0], *values.shape[2:])
    out = values.new_zeros(shape, dtype=torch.float64)
    _add_samples(out, values, labels, lengths)
    return out.cpu().numpy()


def _add_samples(total, values, labels: np.ndarray, lengths: np.ndarray) -> None:
    """``total[c, :n] += values[:n, b]`` per sample b, for numpy arrays or torch tensors alike:
    the same additions in the same order wherever they run, and no batch-sized copy."""
    steps = values.shape[0]
    for b, (c, n) in enumerate(zip(labels.tolist(), lengths.tolist(), strict=True)):
        total[c, : min(n, steps)] += values[: min(n, steps), b]


def merge(path: Path, identity: dict[str, Any], world: int, own: ShardWriter | None = None) -> None:
    """Merge the ranks' parts of ``path.parts`` into the HDF5 file `path` (rows in dataset
    order, class sums added), then remove the parts. `own`: the calling process's writer of
    rank 0's shard, whose kept rows need not be read back."""
    import h5py

    parts, n = parts_of(path), identity["dataset_len"]
    shards = [own if r == 0 and own is not None else ShardWriter(parts, r) for r in range(world)]
    for r, shard in enumerate(shards):
        expected = len(range(r, n, world))
        if shard.done != expected:
            raise AnalysisError(
                f"rank {r}'s part in {parts} holds {shard.done} of its {expected} samples; run "
                "the analysis again to finish it (with several machines, the output must be on "
                "a file system they all share)"
            )
    layers = next(s.layers for s in shards if s.layers is not None)
    sums: dict[str, np.ndarray] = {}
    for shard in shards:
        add_sums(sums, shard.sums)
    steps = sums["count"].shape[1]
    seen = np.zeros(n, dtype=np.int64)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs.update(
                format=FORMAT,
                description="Spike Activation Map (Kim & Panda 2021) statistics of a model over a "
                "dataset, written by sam-plugins. Per-class datasets hold sums: divide by "
                "classes/count (sam_plugins.analysis.AnalysisResult returns the means).",
                identity=json.dumps(identity),
                samples=n,
                layer_names=json.dumps([layer["name"] for layer in layers]),
            )
            for key, value in identity.items():  # each setting readable on its own too
                plain = isinstance(value, (str, bool, int, float))
                f.attrs[key] = value if plain else json.dumps(value)  # None: "null"

            def create(name: str, shape, dtype, **options) -> h5py.Dataset:
                dataset = f.create_dataset(name, shape=shape, dtype=dtype, **options)
                text, axes = DESCRIPTIONS[name if name in DESCRIPTIONS else name.rsplit("/", 1)[1]]
                dataset.attrs.update(description=text, axes=axes)
                return dataset

            for name in ("index", "target", "prediction", "length"):
                create(f"samples/{name}", (n,), "i8")
            for i, layer in enumerate(layers):
                group = f.create_group(f"layers/{i}")
                group.attrs.update(
                    name=layer["name"], kind=layer["kind"], neurons=layer["neurons"],
                    description=f"layer {layer['name']!r} of the model ({layer['kind']})",
                )  # fmt: skip
                create(f"layers/{i}/profile", (n, steps), "f4")
                create(f"layers/{i}/rate", (n,), "f4")
                create(f"layers/{i}/mass", (n,), "f4")
                if layer["map_shape"] is not None and identity.get("save_maps"):
                    create(
                        f"layers/{i}/maps",
                        (n, *layer["map_shape"]),
                        "f2",
                        chunks=(1, *layer["map_shape"]),
                        compression="gzip",
                        shuffle=True,
                    )
            for r, shard in enumerate(shards):
                for rows in shard.rows():
                    index = rows["index"]
                    if len(index) == 0:
                        continue
                    where = slice(int(index[0]), int(index[-1]) + 1, world)
                    if not np.array_equal(index, np.arange(n)[where]) or index[0] % world != r:
                        raise AnalysisError(
                            f"rank {r}'s part in {parts} is inconsistent; --restart"
                        )
                    seen[index] += 1
                    for name in ("index", "target", "prediction", "length"):
                        f[f"samples/{name}"][where] = rows[name]
                    for i in range(len(layers)):
                        profile = rows[f"L{i}.profile"]
                        f[f"layers/{i}/profile"][where, : profile.shape[1]] = profile
                        f[f"layers/{i}/rate"][where] = rows[f"L{i}.rate"]
                        mass = rows.get(f"L{i}.mass")  # parts written before mass was a row
                        f[f"layers/{i}/mass"][where] = profile.sum(1) if mass is None else mass
                        if f"layers/{i}/maps" in f:
                            f[f"layers/{i}/maps"][where] = rows[f"L{i}.maps"]
            if not (seen == 1).all():
                bad = int(np.flatnonzero(seen != 1)[0])
                raise AnalysisError(f"sample {bad} was analysed {seen[bad]} times; --restart")
            create("classes/count", sums["count"].shape, "f8", data=sums["count"])
            for i in range(len(layers)):
                for key in ("profile_sum", "rate_sum", "map_sum", "isi_hist"):
                    if f"L{i}.{key}" in sums:
                        value = sums[f"L{i}.{key}"]
                        create(f"layers/{i}/{key}", value.shape, "f8", data=value)
    except BaseException:  # no half-written file is left behind
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    shutil.rmtree(parts, ignore_errors=True)
