"""The `sam-plugins` command line: demo, explain, and its one-line errors (analyze and report:
tests/analysis/test_command.py)."""

import argparse
import base64
import io
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import sam_plugins_demo as demo
import torch
from PIL import Image
from plain_snn import ConvSNN

from sam_plugins import explain
from sam_plugins.cli import build_parser, main
from sam_plugins.render import frame_image, show_sam_on_image, to_uint8


def report_images(path) -> list[dict[str, list[np.ndarray]]]:
    """The images the HTML report shows, per sample, key (input or layer) and step."""
    text = path.read_text()
    data = json.loads(re.search(r"const FRAMES = (.*);\n", text).group(1))

    def decode(uri):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))

    return [{key: [decode(u) for u in uris] for key, uris in sample.items()} for sample in data]


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    """`sam-plugins demo` as the README has it: no flags, in a fresh folder."""
    folder = tmp_path_factory.mktemp("demo")
    here = os.getcwd()
    os.chdir(folder)
    try:
        assert main(["demo"]) == 0
    finally:
        os.chdir(here)
    return folder / "sam-report"


def test_demo_writes_report_pngs_and_gifs(demo_report, capsys):
    names = {p.name for p in demo_report.iterdir()}
    layers = ["1", "3"]  # the convolutional layers' overlays; the output layer's is a raster
    expected = {"report.html"} | {f"sample_{n}.png" for n in range(2)}
    expected |= {f"sample_{n}_layer_{layer}.gif" for n in range(2) for layer in layers}
    assert expected <= names
    gif = iio.imread(demo_report / "sample_1_layer_1.gif", index=None)
    assert gif.shape[0] == demo.BINS and len({frame.tobytes() for frame in gif}) > 1
    images = report_images(demo_report / "report.html")
    assert len(images) == 6 and set(images[0]) == {"input", *layers}  # --samples 6
    html = (demo_report / "report.html").read_text()
    assert not re.search(r"(src|href)=[\"']?(https?:|//)", html)  # opens without a network
    assert re.findall(r"<h2>sample 0, label (\d), predicted (\d)</h2>", html)
    # the output layer (Linear-fed: one place per neuron) is drawn as a neuron x time raster
    assert "6 (Leaky) (neuron x time raster)" in html
    assert len(re.findall(r'<figure class="raster">.*?layer 6 \(Leaky\) raster', html)) == 6


def test_shipped_demo_weights_classify_the_emulated_digits(tmp_path):
    from sam_plugins_demo import EmulatedDigits
    from sam_plugins_tonic.events import to_frames
    from snntorch import utils

    from sam_plugins.analysis import collate_frames

    net = demo.trained_demo_net()
    data = EmulatedDigits(tmp_path, train=False, limit=60)
    framing = to_frames(EmulatedDigits.sensor_size, demo.BINS)
    frames, labels, _ = collate_frames([(framing(e), y) for e, y in data])
    utils.reset(net)
    with torch.no_grad():
        counts = torch.stack([net(x)[0] for x in frames]).sum(0)
    assert (counts.argmax(1) == labels).float().mean() >= 0.8


def test_explain_writes_the_maps_of_the_model(tmp_path, capsys):
    net = ConvSNN(size=16)
    torch.save(net.state_dict(), tmp_path / "w.pt")
    frames = (torch.rand(6, 2, 2, 16, 16) < 0.3).float()
    np.savez(tmp_path / "x.npz", frames=frames.numpy(), labels=np.array([3, 7]))
    out = tmp_path / "report"
    argv = ["explain", "plain_snn:ConvSNN", "--weights", str(tmp_path / "w.pt")]
    argv += ["--input", str(tmp_path / "x.npz"), "--layers", "lif1", "lif2", "--out", str(out)]
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    # the report shows exactly the overlay of the SAM of this model on these frames
    net.reset()
    result = explain(net, frames, ["lif1", "lif2"])
    heat = result.heatmap("lif2", size=(16, 16))
    images = report_images(out / "report.html")
    for n in range(2):
        for t in range(6):
            background = frame_image(frames[t, n])
            np.testing.assert_array_equal(images[n]["input"][t], to_uint8(background))
            overlay = to_uint8(show_sam_on_image(background, heat[t, n]))
            np.testing.assert_array_equal(images[n]["lif2"][t], overlay)
    scores = result.outputs.sum(0)[1]  # sample 1 (this random net's outputs may all be 0)
    said = f"predicted {int(scores.argmax())}" if scores.any() else "no prediction (all outputs"
    assert f"sample 1, label 7, {said}" in (out / "report.html").read_text()


def test_explain_reads_an_nmnist_recording_through_tonic(demo_report, tmp_path):
    recording = next((demo_report / "data").rglob("*.bin"))
    argv = ["explain", demo.FACTORY, "--weights", str(demo.WEIGHTS), "--input", str(recording)]
    assert main([*argv, "--out", str(tmp_path / "r"), "--time-bins", "5"]) == 0
    images = report_images(tmp_path / "r" / "report.html")
    assert len(images) == 1 and len(images[0]["1"]) == 5 and images[0]["1"][0].shape == (34, 34, 3)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain", "plain_snn:ConvSNN", "--input", "nowhere.npy"], "input file not found"),
        (["explain", "no_such_pkg.mod:f", "--input", "{x}"], "cannot import 'no_such_pkg.mod'"),
        (["explain", "plain_snn:Nothing", "--input", "{x}"], "has no callable 'Nothing'"),
        (["explain", "plain_snn", "--input", "{x}"], "package.module:factory"),
        (
            ["explain", "plain_snn:ConvSNN", "--weights", "{w}", "--input", "{x}"],
            "do not fit plain_snn:ConvSNN: conv1.weight is [4, 2, 3, 3] in the file, [8, 2, 3, 3]",
        ),
        (["explain", "plain_snn:ConvSNN", "--input", "{txt}"], "cannot read"),
        (["explain", "plain_snn:ConvSNN", "--input", "{x}"], "--layers NAME"),
        (["explain", "plain_snn:ConvSNN", "--input", "{bad}"], "found (3, 4)"),
        (["demo", "--samples", "0"], "argument --samples: must be a whole number >= 1, found 0"),
        (["explain", "plain_snn:ConvSNN", "--input", "{x}", "--time-bins", "0"], "found 0"),
        (["explain", "plain_snn:ConvSNN", "--input", "{x}", "--device", "cuda:99"], "cuda:99"),
        (["explain", "plain_snn:ConvSNN", "--input", "{x}", "--device", "toaster"], "toaster"),
        (["explain", "plain_snn:ConvSNN", "--input", "{short_labels}"], "one label per sample (4)"),
        (["explain", "plain_snn:ConvSNN", "--input", "{nan_labels}"], "must be whole numbers"),
        (["explain", "plain_snn:ConvSNN", "--input", "{pickle}"], "cannot read"),
        (["explain", "plain_snn:ConvSNN", "--input", "{truncated}"], "corrupt"),
        (["explain", "plain_snn:broken_factory", "--input", "{x}"], "failed to build the model"),
        (["explain", "--input", "{x}"], "the following arguments are required: model"),
        (
            ["explain", "plain_snn:ConvSNN", "--input", "{small}", "--layers", "lif1"],
            "the model failed on frames of shape (4, 1, 2, 8, 8)",
        ),
    ],
)
def test_errors_are_one_line(tmp_path, capsys, argv, message):
    torch.save(ConvSNN(size=16, width=4).state_dict(), tmp_path / "w.pt")
    np.save(tmp_path / "x.npy", np.zeros((4, 2, 16, 16), np.float32))
    np.save(tmp_path / "bad.npy", np.zeros((3, 4), np.float32))
    (tmp_path / "x.txt").write_text("hello")
    paths = {"x": tmp_path / "x.npy", "w": tmp_path / "w.pt", "txt": tmp_path / "x.txt"}
    paths["bad"] = tmp_path / "bad.npy"
    np.save(tmp_path / "small.npy", np.ones((4, 2, 8, 8), np.float32))  # the net wants 16x16
    paths["small"] = tmp_path / "small.npy"
    frames = np.zeros((3, 4, 2, 16, 16), np.float32)  # 4 samples
    np.savez(tmp_path / "short.npz", frames=frames, labels=np.array([1, 2]))
    np.savez(tmp_path / "nan.npz", frames=frames, labels=np.array([1.0, np.nan, 2.0, 3.0]))
    paths["short_labels"], paths["nan_labels"] = tmp_path / "short.npz", tmp_path / "nan.npz"
    torch.save({"frames": Unpicklable(tmp_path / "pwned")}, tmp_path / "evil.pt")  # unpickles
    paths["pickle"] = tmp_path / "evil.pt"
    (tmp_path / "cut.bin").write_bytes(bytes(5 * 40 + 3))  # not a whole number of events
    paths["truncated"] = tmp_path / "cut.bin"
    argv = [a.format(**paths) for a in argv]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "pwned").exists()  # the input was unpickled
    err = capsys.readouterr().err
    assert err.startswith("sam-plugins: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not (tmp_path / "o").exists()


class Unpicklable:
    """Loading it runs code (it writes `path`, where the test looks): never unpickled."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_explain_reads_pt_frames_and_event_npy(tmp_path):
    from sam_plugins_demo import load_digits
    from sam_plugins_tonic import SaccadeEmulator

    net = ConvSNN(size=16)
    torch.save(net.state_dict(), tmp_path / "w.pt")
    torch.save((torch.rand(5, 3, 2, 16, 16) < 0.3).float(), tmp_path / "x.pt")
    base = ["explain", "plain_snn:ConvSNN", "--weights", str(tmp_path / "w.pt"), "--layers", "lif1"]
    assert main([*base, "--input", str(tmp_path / "x.pt"), "--out", str(tmp_path / "a")]) == 0
    assert len(report_images(tmp_path / "a" / "report.html")) == 3

    events = SaccadeEmulator()(load_digits(size=26)[0][0, 0].numpy(), seed=0)
    np.save(tmp_path / "rec.npy", events)  # a structured event array, as tonic holds them
    argv = ["explain", demo.FACTORY, "--weights", str(demo.WEIGHTS), "--input"]
    argv += [str(tmp_path / "rec.npy"), "--sensor-size", "34,34,2", "--out", str(tmp_path / "b")]
    assert main(argv) == 0
    images = report_images(tmp_path / "b" / "report.html")
    assert len(images) == 1 and len(images[0]["1"]) == 10 and images[0]["1"][0].shape == (34, 34, 3)


def test_a_model_in_the_current_folder_is_found_and_missing_weights_are_said(tmp_path):
    (tmp_path / "mymodel.py").write_text(
        "from plain_snn import ConvSNN\n\ndef make_net():\n    return ConvSNN(size=16)\n"
    )
    np.save(tmp_path / "x.npy", (np.random.default_rng(0).random((4, 2, 16, 16)) < 0.3))
    exe = Path(sys.executable).parent / "sam-plugins"
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(__file__).parent)}
    done = subprocess.run(
        [exe, "explain", "mymodel:make_net", "--input", "x.npy", "--layers", "lif1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "no --weights given" in done.stdout
    assert (tmp_path / "sam-report" / "report.html").exists()


def test_the_demo_suggests_a_command_that_keeps_its_report(demo_report, tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--samples", "1"]) == 0
    printed = capsys.readouterr().out
    assert "note:" not in printed  # its factory loads the shipped weights, and says so
    suggested = printed.splitlines()[-1].split(": ", 1)[1].split()
    out = Path(suggested[suggested.index("--out") + 1])
    assert out.resolve() != (tmp_path / "d").resolve()


SCRIPT, ESCAPE = "</script><script>alert(1)</script>", "../../../escaped"


def hostile_net() -> torch.nn.Module:
    """A model whose neuron modules are named to attack the report and the output folder."""
    from plain_snn import PlainLIF

    net = torch.nn.Sequential()
    net.add_module("conv1", torch.nn.Conv2d(2, 4, 3, padding=1))
    net._modules[SCRIPT] = PlainLIF(0.8, 0.5)  # add_module refuses no '<'; '.' needs _modules
    net.add_module("conv2", torch.nn.Conv2d(4, 4, 3, padding=1))
    net._modules[ESCAPE] = PlainLIF(0.8, 0.5)
    return net


def test_names_from_the_model_cannot_inject_script_or_escape_the_folder(tmp_path, monkeypatch):
    from sam_plugins.report import save_explanation

    net = hostile_net()
    frames = (torch.rand(3, 1, 2, 16, 16) < 0.4).float()
    result = explain(net, frames, [SCRIPT, ESCAPE])
    out = tmp_path / "deep" / "out"
    paths = save_explanation(out, frames, result)
    html = (out / "report.html").read_text()
    assert "<script>alert(1)" not in html and "</script><script>" not in html
    assert html.count("<script>") == 1  # the report's own
    for path in paths:
        assert path.resolve().is_relative_to(out.resolve()), path
    assert {p.name for p in tmp_path.rglob("*") if p.is_file()} == {p.name for p in paths}
    # the names still reach the reader, escaped
    assert "&lt;/script&gt;" in html and "escaped" in html


def test_the_report_says_which_window_made_the_maps(tmp_path):
    import html

    from sam_plugins.report import save_explanation

    net, frames = ConvSNN(size=16), (torch.rand(3, 1, 2, 16, 16) < 0.4).float()
    for window, said in (("previous", "window t' < t"), ("inclusive", "window t' <= t")):
        net.reset()
        result = explain(net, frames, ["lif1"], window=window)
        save_explanation(tmp_path / window, frames, result)
        assert said in html.unescape((tmp_path / window / "report.html").read_text())


HEAVY = {"torch", "numba", "h5py", "tonic", "snntorch", "spikingjelly", "norse", "sinabs"}
COMMANDS = ("explain", "analyze", "report", "demo")


@pytest.mark.parametrize(
    "argv", [["--version"], ["--help"], *[[command, "--help"] for command in COMMANDS]]
)
def test_version_and_help_as_typed_import_no_torch_and_no_framework(argv):
    """`sam-plugins --help` and the others as typed (the console script of this environment),
    each said in full, importing neither torch nor any framework."""
    from sam_plugins import __version__

    exe = shutil.which("sam-plugins", path=str(Path(sys.executable).parent))
    assert exe, "the sam-plugins console script is not installed"
    done = subprocess.run(
        [exe, *argv], env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in lines}
    assert "sam_plugins" in imported and not imported & HEAVY, imported & HEAVY
    shown = " ".join(done.stdout.split())
    if argv == ["--version"]:
        assert __version__ in shown
    elif argv == ["--help"]:  # every command listed, with its summary
        for command in COMMANDS:
            assert re.search(rf"^ +{command} +\w", done.stdout, re.M), done.stdout
    else:
        assert shown.startswith(f"usage: sam-plugins {argv[0]} "), shown[:200]
        if argv[0] != "report":
            assert "--weights" in shown
        if argv[0] == "explain":
            assert "(default: 10)" in shown and "(default: sam-report)" in shown


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_and_each_default_is_shown_once(command, capsys):
    parser = build_parser(command)._subparsers._group_actions[0].choices[command]
    formatter = parser._get_formatter()
    for action in parser._actions:
        shown = formatter._expand_help(action) if action.help else ""
        assert action.help, f"{command} {action.option_strings or action.dest} has no help"
        assert shown.count("default") <= 1, shown
        if action.required or action.nargs == 0:  # required options and flags: none
            assert "default" not in shown, shown
        assert "(default: None)" not in shown, shown
    assert main([command, "--help"]) == 0
    assert "(default: None)" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "script", sorted(p.name for p in (Path(__file__).parent.parent / "examples").glob("*.py"))
)
def test_example_scripts_describe_themselves_in_whole_sentences(script, monkeypatch):
    parsers = []

    def stop(self, *args, **kwargs):
        parsers.append(self)
        raise SystemExit(0)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", stop)
    examples = Path(__file__).parent.parent / "examples"
    monkeypatch.syspath_prepend(str(examples))  # the studies import study_common
    namespace = runpy.run_path(str(examples / script))
    if "main" not in namespace:
        pytest.skip(f"{script} has no command line")
    with pytest.raises(SystemExit):
        namespace["main"]()
    (parser,) = parsers
    assert parser.description.rstrip().endswith((".", "?")), parser.description
    assert all(action.help for action in parser._actions)


EXPLAIN_X = ["plain_snn:ConvSNN", "--input", "x.npy"]
PROC = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")


@pytest.fixture
def places(tmp_path, monkeypatch):
    """A tmp working folder with a file where a folder could be expected, and inputs."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("not a folder")
    np.save(tmp_path / "x.npy", np.zeros((4, 2, 16, 16), np.float32))
    (tmp_path / "a.h5").write_bytes(b"not read: the --out check comes first")
    (tmp_path / "folder").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["explain", *EXPLAIN_X, "--out", "/proc/x"],
            "--out /proc/x: cannot write in /proc",
            marks=PROC,
        ),
        (
            ["explain", *EXPLAIN_X, "--out", "file"],
            "--out file: expected a folder, found a file",
        ),
        (
            ["explain", *EXPLAIN_X, "--out", "file/report"],
            "--out file/report: cannot create the folder file/report: file is a file",
        ),
        pytest.param(
            ["analyze", "--out", "/proc/x.h5"],
            "--out /proc/x.h5: cannot write in /proc",
            marks=PROC,
        ),
        (
            ["analyze", "--out", "file/a.h5"],
            "--out file/a.h5: cannot create the folder file: file is a file",
        ),
        (["analyze", "--out", "folder"], "--out folder is a directory; expected a file name"),
        pytest.param(
            ["analyze", "--report", "/proc/r"],
            "--report /proc/r: cannot write in /proc",
            marks=PROC,
        ),
        pytest.param(
            ["report", "a.h5", "--out", "/proc/r"], "--out /proc/r: cannot write", marks=PROC
        ),
        (["report", "a.h5", "--out", "file"], "--out file: expected a folder, found a file"),
        pytest.param(["demo", "--out", "/proc/d"], "--out /proc/d: cannot write", marks=PROC),
    ],
)
def test_unwritable_outputs_are_one_line_before_any_work(places, capsys, argv, message):
    before = sorted(p.name for p in places.rglob("*"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("sam-plugins: error: ") and err.count("\n") == 1, err
    assert message in err
    assert sorted(p.name for p in places.rglob("*")) == before  # nothing written, no sam-data


def test_labels_the_model_has_no_class_for_are_one_line(tmp_path, capsys):
    frames = np.zeros((3, 2, 2, 16, 16), np.float32)
    np.savez(tmp_path / "x.npz", frames=frames, labels=np.array([3, 10]))  # 10 classes: 0..9
    argv = ["explain", "plain_snn:ConvSNN", "--input", str(tmp_path / "x.npz"), "--layers", "lif1"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "class numbers 0..9" in err and "[3, 10]" in err, err
    assert not (tmp_path / "o").exists()


def test_explain_gamma_step_mode_and_device_as_typed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "multi_models.py").write_text(
        "from plain_snn import ConvSNN\n\n"
        "def multi():\n    return ConvSNN(size=16, multi_step=True)\n"
    )
    torch.manual_seed(0)
    net = ConvSNN(size=16, multi_step=True)
    torch.save(net.state_dict(), "w.pt")
    frames = (torch.rand(5, 2, 2, 16, 16) < 0.4).float()
    np.save("x.npy", frames.numpy())
    argv = "explain multi_models:multi --weights w.pt --input x.npy --layers lif1 lif2"
    argv += " --gamma 3 --step-mode multi --device cpu"
    assert main(argv.split()) == 0
    shown = report_images(tmp_path / "sam-report" / "report.html")

    def overlays(gamma):
        net.reset()
        result = explain(net, frames, ["lif1", "lif2"], gamma=gamma, step_mode="multi")
        heat = result.heatmap("lif1", size=(16, 16))  # lif2 may be silent: no gamma there
        return [
            [to_uint8(show_sam_on_image(frame_image(frames[t, n]), heat[t, n])) for t in range(5)]
            for n in range(2)
        ]

    expected, default = overlays(3.0), overlays(0.5)
    assert not np.array_equal(np.array(expected), np.array(default))  # gamma shows in the maps
    for n in range(2):
        for t in range(5):
            np.testing.assert_array_equal(shown[n]["lif1"][t], expected[n][t])


def test_a_broken_command_plugin_is_one_warning_and_the_rest_works(tmp_path):
    info = tmp_path / "broken_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[sam_plugins.commands]\nbroken = no_such_module.command:add\n"
        "crashing = crashing_command:add\n"
    )
    (tmp_path / "crashing_command.py").write_text(
        '"""a command whose module fails when imported"""\nraise ImportError("no luck")\n'
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    def run(*argv):
        return subprocess.run(
            [sys.executable, "-m", "sam_plugins", *argv],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip

    listing = run("--help")
    assert listing.returncode == 0 and "explain" in listing.stdout
    assert listing.stderr.count("\n") == 1 and "'broken'" in listing.stderr, listing.stderr
    assert "no module named 'no_such_module'" in listing.stderr
    assert re.search(r"^ +crashing +a command whose module fails", listing.stdout, re.M)
    assert run("report", "--help").returncode == 0  # the others work
    crashed = run("crashing")
    assert crashed.returncode == 2, crashed.stderr
    assert crashed.stderr.splitlines()[-1].startswith("sam-plugins: error: the command 'crashing'")
    assert "ImportError: no luck" in crashed.stderr and "Traceback" not in crashed.stderr


def test_the_engine_default_gamma_is_the_command_lines():
    from sam_plugins.commands.arguments import DEFAULT_GAMMA
    from sam_plugins.engine import DEFAULT_GAMMA as ENGINE_GAMMA

    assert DEFAULT_GAMMA == ENGINE_GAMMA


def test_report_of_an_analysis_file_with_the_default_out(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", "--limit", "3", "--no-report"]) == 0
    printed = capsys.readouterr()
    # the first run says that it writes the emulated recordings, where, and what it wrote
    assert re.search(
        r"^emulating \d+ test recordings into sam-data/EmulatedDigits/Test/", printed.err, re.M
    )
    last = printed.out.splitlines()[-1]
    assert last == "wrote sam-analysis.h5 (3 samples); the dataset's files are in sam-data/"
    assert main(["report", "sam-analysis.h5"]) == 0
    assert "report: sam-analysis" in capsys.readouterr().out
    assert (tmp_path / "sam-analysis" / "report.html").is_file()


def test_the_readme_image_is_the_current_demos(demo_report, tmp_path):
    """docs/make_images.py makes the README's picture from the demo; a picture that no longer
    matches what the demo draws fails here: run `python docs/make_images.py`."""
    script = Path(__file__).parent.parent / "docs" / "make_images.py"
    made = runpy.run_path(str(script))["make_demo_sample"](tmp_path / "demo_sample.png")
    fresh = np.asarray(Image.open(made).convert("RGB"), np.float64)
    np.testing.assert_array_equal(
        fresh, np.asarray(Image.open(demo_report / "sample_1.png").convert("RGB"), np.float64)
    )
    shipped = np.asarray(Image.open(script.parent / "images" / "demo_sample.png").convert("RGB"))
    assert shipped.shape == fresh.shape, "docs/images/demo_sample.png is stale: run the script"
    assert np.abs(shipped - fresh).mean() < 1.0, "docs/images/demo_sample.png is stale"


def test_the_lazy_package_still_exports_everything():
    """`import sam_plugins` loads its exports on first use (no torch for --version)."""
    import sam_plugins

    assert set(sam_plugins.__all__) <= set(dir(sam_plugins))
    for name in sam_plugins.__all__:
        assert getattr(sam_plugins, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        sam_plugins.nothing  # noqa: B018
    assert {name for name in dir(demo) if not name.startswith("_")} >= set(demo.__all__)
    assert all(getattr(demo, name) is not None for name in demo.__all__)


ROOT = Path(__file__).parents[1]
FILE_TYPES = ("h5", "pt", "nir", "npy", "csv", "raw", "aedat4", "png")


def documented_outputs() -> set[str]:
    """The paths, relative to the repository root, that the documented commands write when run
    there: `--out`, `--report` and `--data` of the pages' bash blocks, the folders the data
    scripts write, and the files and folders their Python blocks and the notebooks (run in
    their own folder) name as outputs."""
    literal = rf"[\"']([\w./-]+\.(?:{'|'.join(FILE_TYPES)}))[\"']"
    made = r"(?:EmulatedDigits|SummaryWriter|TensorBoardLogger|Path)\(\s*[\"']([\w.-]+)[\"']"
    found = set()
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for block in re.findall(
            r"^```(?:bash|python|py)\n(.*?)^```", page.read_text(), re.S | re.M
        ):
            found |= set(re.findall(r"--(?:out|report|data) (\S+)", block))
            found |= set(re.findall(r"python -m sam_plugins_tonic\.\w+ (\S+)", block))
            found |= set(re.findall(literal, block)) | set(re.findall(made, block))
    for notebook in (ROOT / "examples" / "notebooks").glob("*.ipynb"):
        code = "".join(
            "".join(cell["source"])
            for cell in json.loads(notebook.read_text())["cells"]
            if cell["cell_type"] == "code"
        )
        folder = notebook.parent.relative_to(ROOT)
        found |= {f"{folder}/{p}" for p in re.findall(literal, code) + re.findall(made, code)}
    defaults = {"sam-report", "sam-data", "sam-analysis.h5", "sam-analysis"}  # the commands'
    return defaults | {p for p in found if not p.startswith(("/", "-", "{", "$"))}


def test_what_the_documented_commands_leave_is_ignored_by_git(tmp_path):
    """Issue 33: `.gitignore` lacked what documented commands leave (the demo's suggested
    command's `sam-report-explain/`, the notebooks' `examples/notebooks/data/`). Here the demo
    and the command it suggests run, as typed, in a scratch repository with the project's
    .gitignore, which must leave git nothing to track; and every output the pages and
    notebooks name is ignored in the repository."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def typed(command: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    typed("git init -q .")
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")
    demo_run = typed("sam-plugins demo --samples 1")
    suggested = demo_run.stdout.splitlines()[-1].split(": ", 1)[1]
    assert suggested.startswith("sam-plugins explain ") and "--out sam-report-explain" in suggested
    typed(suggested)
    assert (tmp_path / "sam-report-explain" / "report.html").is_file()
    status = typed("git status --porcelain --untracked-files=all").stdout.splitlines()
    assert status == ["?? .gitignore"], status
    outputs = documented_outputs()
    assert {"examples/notebooks/data", "sam-analysis", "nmnist-data", "a.h5"} <= outputs
    shown = []
    for path in sorted(outputs):  # a folder: a file in it
        probe = path if path.endswith(tuple(f".{t}" for t in FILE_TYPES)) else f"{path}/x"
        check = subprocess.run(["git", "check-ignore", "-q", "--no-index", probe], cwd=ROOT)
        if check.returncode != 0:
            shown.append(path)
    assert shown == [], f"not ignored by .gitignore: {shown}"
