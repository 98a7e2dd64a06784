"""`sam-plugins explain --bin`: a recording explained as one stream of steps, the model's state
and SAM's carried across blocks (equal to the same frames explained as one clip), maps.h5, the
video (MP4, or GIF without an encoder), the time-line report, bounded memory, one-line errors;
and `sam_plugins.stream`'s framer against tonic's ToFrame."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import imageio.v3 as iio
import numpy as np
import pytest
import sam_plugins_demo as demo
import torch
from analysis.typed import typed
from tonic.transforms import ToFrame

from sam_plugins import explain
from sam_plugins.cli import main
from sam_plugins.commands.arguments import duration
from sam_plugins.io.inputs import open_events
from sam_plugins.stream import (
    StateNotCarried,
    StepFramer,
    StreamRunner,
    explain_recording,
    run_stream,
)
from sam_plugins.stream.page import trailing_predictions

SENSOR = (34, 34, 2)
EVENT = [("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "<i1")]


def recording(seconds: float, rate: float = 8_000, size=SENSOR[:2], seed: int = 0) -> np.ndarray:
    """Events of a blob circling on a sensor of `size` (W, H), `rate` events per second, the
    first at t = 0 and some pixel at x = W - 1 and y = H - 1 (so the sensor read from the
    events is the sensor)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.sort(rng.integers(0, int(seconds * 1e6), n))
    t[0] = 0
    width, height = size
    phase = t / 1e6 * 2 * np.pi / 0.6
    x = width / 2 + width / 4 * np.cos(phase) + rng.normal(0, width / 10, n)
    y = height / 2 + height / 4 * np.sin(phase) + rng.normal(0, height / 10, n)
    events = np.zeros(n, EVENT)
    events["t"], events["p"] = t, rng.integers(0, 2, n)
    events["x"], events["y"] = np.clip(x.round(), 0, width - 1), np.clip(y.round(), 0, height - 1)
    events["x"][n // 2], events["y"][n // 3] = width - 1, height - 1
    return events


def layers_of(path) -> dict[str, np.ndarray]:
    """The layer maps of maps.npz or maps.h5, by layer name."""
    if str(path).endswith(".npz"):
        data = np.load(path)
        return {k[6:]: data[k] for k in data.files if k.startswith("layer_")}
    with h5py.File(path) as f:
        return {k[6:]: f[k][()] for k in f if k.startswith("layer_")}


def test_bin_as_typed_equals_the_same_frames_as_a_clip(tmp_path):
    """--bin 10ms with its defaults (64-step blocks: a 1.5 s recording is three blocks, the
    state carried across them) gives the maps of the same events framed into the same 10 ms
    steps (tonic's ToFrame) and explained as one clip; maps.h5, sam.mp4 (one frame per step),
    the report and the rates printed."""
    events = recording(1.5)
    np.save(tmp_path / "rec.npy", events)
    frames = ToFrame(SENSOR, time_window=10_000)(events).astype(np.float32)  # [T, P, H, W]
    np.save(tmp_path / "clip.npy", frames)
    steps = len(frames)
    assert steps == 149  # 1.5 s from t=0 to the last event, in whole 10 ms steps

    done = typed(f"sam-plugins explain {demo.FACTORY} --input rec.npy --bin 10ms", tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"explained {steps} steps of 10000 us ({len(events)} events)" in done.stdout
    assert "steps/s" in done.stdout and "events/s" in done.stdout
    assert "reading and framing" in done.stdout
    out = tmp_path / "sam-report"
    assert {p.name for p in out.iterdir()} >= {"maps.h5", "sam.mp4", "report.html"}
    assert main(["explain", demo.FACTORY, "--input", str(tmp_path / "clip.npy"), "--out",
                 str(tmp_path / "clip")]) == 0  # fmt: skip
    streamed, clip = layers_of(out / "maps.h5"), layers_of(tmp_path / "clip" / "maps.npz")
    assert sorted(streamed) == sorted(clip) == ["1", "3", "6"]
    for name in clip:
        assert streamed[name].shape == clip[name].shape
        assert clip[name].sum() > 0
        np.testing.assert_allclose(streamed[name], clip[name], rtol=1e-5, atol=1e-5)
    with h5py.File(out / "maps.h5") as f:
        np.testing.assert_array_equal(f["time_us"][()], np.arange(steps) * 10_000)
        assert f["outputs"].shape == (steps, 1, 10)
        used = json.loads(f.attrs["settings"])
    assert used["bin_us"] == 10_000 and used["gamma"] == 0.5 and used["layers"] == ["1", "3", "6"]
    assert len(iio.imread(out / "sam.mp4", index=None)) == steps
    page = (out / "report.html").read_text()
    assert "prediction over the trailing" not in page or "data:image/png;base64," in page
    assert page.count("data:image/png;base64,") == 2 and "sam.mp4" in page


def test_reset_every_restarts_the_model_and_sam(tmp_path):
    """--reset-every 50ms: each 5-step span is explained as its own sample."""
    events = recording(0.4, seed=1)
    np.save(tmp_path / "rec.npy", events)
    frames = torch.from_numpy(ToFrame(SENSOR, time_window=10_000)(events).astype(np.float32))
    argv = ["explain", demo.FACTORY, "--input", str(tmp_path / "rec.npy"), "--bin", "10ms"]
    assert main([*argv, "--reset-every", "50ms", "--out", str(tmp_path / "o")]) == 0
    streamed = layers_of(tmp_path / "o" / "maps.h5")
    net = demo.trained_demo_net()
    for start in range(0, len(frames), 5):
        part = explain(net, frames[start : start + 5, None])
        for name in ("1", "3"):
            np.testing.assert_allclose(
                streamed[name][start : start + 5], part[name].maps.numpy(), rtol=1e-5, atol=1e-5
            )


def test_memory_holds_one_block_of_steps():
    """Whatever the recording's length, the frames, SAM's map buffers and the events waiting to
    be framed hold at most one block of steps (8 here) and one chunk of events."""
    events = recording(3.0, rate=3_000, seed=2)  # 299 steps of 10 ms
    framer = StepFramer(SENSOR, 10_000)
    held = []

    class Watch:
        def write(self, steps, frames):
            held.append((len(frames), steps.count, framer.pending_events))

    chunks = [events[i : i + 1000] for i in range(0, len(events), 1000)]
    with StreamRunner(demo.trained_demo_net()) as runner:
        # a consumer after SAM's sees its buffers as they are filled
        runner.sam.recorder.consumers.append(
            lambda target, spikes: held.append((runner.sam._buffers[target.name].filled, 0, 0))
        )
        stats = run_stream(chunks, framer, runner, [Watch()], chunk_steps=8)
    assert stats.steps == 299 and stats.largest_block == 8
    assert max(h[0] for h in held) == 8 and max(h[1] for h in held) == 8
    assert 0 < max(h[2] for h in held) <= 1000 + 100  # at most a chunk and one step's events


def test_the_framer_counts_as_tonic_toframe_whatever_the_packets():
    events = recording(0.5, rate=20_000, seed=3)
    expected = ToFrame(SENSOR, time_window=7_000)(events)
    framer = StepFramer(SENSOR, 7_000)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.integers(0, len(events), 40))
    got = [framer.push(part) for part in np.split(events, cuts)]
    np.testing.assert_array_equal(np.concatenate(got), expected)
    assert framer.events_framed == int(expected.sum())
    framer.advance(int(events["t"][-1]) + 50_000)  # a live source: time passes, no events
    quiet = framer.take()
    assert len(quiet) == 7 and quiet[1:].sum() == 0 and quiet[0].sum() > 0
    framer.advance(int(events["t"][-1]) + 71_000)  # more time, no event pending at all
    assert framer.pending_events == 0
    later = framer.take()
    assert later.shape == (3, *quiet.shape[1:]) and later.sum() == 0
    assert framer.taken == len(expected) + 7 + 3


@pytest.mark.parametrize(
    ("text", "micros"), [("10ms", 10_000), ("0.5s", 500_000), ("250us", 250), ("2s", 2_000_000)]
)
def test_durations(text, micros):
    assert duration(text) == micros


def test_gif_when_no_video_encoder_is_installed(tmp_path, monkeypatch):
    np.save(tmp_path / "rec.npy", recording(0.2))
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import fails: not installed
    argv = ["explain", demo.FACTORY, "--input", str(tmp_path / "rec.npy"), "--bin", "20ms"]
    assert main([*argv, "--fps", "10", "--out", str(tmp_path / "o")]) == 0
    assert not (tmp_path / "o" / "sam.mp4").exists()
    gif = iio.imread(tmp_path / "o" / "sam.gif", index=None)
    assert len(gif) == 9 and len({frame.tobytes() for frame in gif}) > 1
    assert 'href="sam.gif"' in (tmp_path / "o" / "report.html").read_text()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--bin", "10"], "argument --bin: expected a duration of at least 1 us"),
        (["--bin", "10 minutes"], "unit: us, ms or s"),
        (["--bin", "0.5us"], "found '0.5us'"),
        (["--bin", "10ms", "--reset-every", "15ms"], "a whole number of steps of --bin"),
        (["--reset-every", "50ms"], "--reset-every applies to a recording explained as a stream"),
        (["--bin", "1s"], "is shorter than one step of --bin 1000000 us"),
        (["--bin", "10ms", "--input", "{frames}"], "holds frames (.npy/.npz/.pt): explain it"),
        (["--bin", "10ms", "--fps", "0"], "argument --fps: must be a number of frames per"),
        (
            ["--bin", "10ms", "--crop", "0,0,30,30"],
            "cropped and downsampled to 30x30; the model's first layer '0' (Conv2d) takes",
        ),
    ],
)
def test_bad_stream_arguments_are_one_line_and_write_nothing(tmp_path, capsys, flags, message):
    np.save(tmp_path / "rec.npy", recording(0.3))  # 0.3 s: shorter than 1 s
    np.save(tmp_path / "frames.npy", np.zeros((4, 2, 34, 34), np.float32))
    flags = [flag.format(frames=tmp_path / "frames.npy") for flag in flags]
    argv = ["explain", demo.FACTORY, "--input", str(tmp_path / "rec.npy"), *flags]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sam-plugins: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not (tmp_path / "o").exists()


def test_the_prediction_sums_the_scores_over_the_trailing_window():
    scores = np.zeros((8, 3))
    scores[0, 2] = 5  # class 2 early
    scores[[2, 3, 4], 1] = 1  # class 1 later, weaker at each step
    # 3-step window: the step and the two before it; -1 where nothing was scored
    assert trailing_predictions(scores, 3).tolist() == [2, 2, 2, 1, 1, 1, 1, -1]
    assert trailing_predictions(scores, 8).tolist() == [2, 2, 2, 2, 2, 2, 2, 2]


def test_explain_recording_shows_progress_and_writes_nothing_on_failure(tmp_path, capsys):
    np.save(tmp_path / "rec.npy", recording(0.3))
    stream = open_events(tmp_path / "rec.npy", SENSOR)
    done = explain_recording(demo.trained_demo_net(), stream, tmp_path / "o", 10_000)
    assert done.stats.steps == 29 and "step" in capsys.readouterr().err  # tqdm's bar
    assert {p.name for p in (tmp_path / "o").iterdir()} == {
        "maps.h5", "sam.mp4", "timeline.png", "region.png", "report.html"
    }  # fmt: skip
    # a model that fails on these frames: the error, and no folder left behind
    wrong = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(10, 2))
    stream = open_events(tmp_path / "rec.npy", SENSOR)
    with pytest.raises(ValueError, match=r"the model failed on frames of shape \(29, 1, 2, 34"):
        explain_recording(wrong, stream, tmp_path / "p", 10_000, layers=["1"])
    assert not (tmp_path / "p").exists()


def test_a_model_that_does_not_carry_its_state_is_refused(monkeypatch):
    """A Norse model run with its state handed back (from None at every call) would start over
    at every block: the first block, run in one call and in two, shows it."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "adapters"))
    from framework_models import norse_net

    torch.manual_seed(0)
    frames = torch.rand(12, 1, 2, 8, 8) * 8
    with StreamRunner(norse_net()) as runner, pytest.raises(StateNotCarried, match="fresh state"):
        runner.run(frames)
    with StreamRunner(demo.trained_demo_net()) as runner:  # snnTorch keeps it: the run goes on
        steps = runner.run((torch.rand(12, 1, 2, 34, 34) < 0.3).float())
    assert steps.count == 12 and runner.steps == 12
