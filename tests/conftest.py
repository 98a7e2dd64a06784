import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

from sam_plugins import SpikeActivationMap

sys.path.insert(0, str(Path(__file__).parent))

if "PYTEST_XDIST_WORKER" in os.environ:  # one of `-n N` processes: the cores shared, not each
    THREADS = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    torch.set_num_threads(int(THREADS))
    # the tests' subprocesses too (not NUMBA_NUM_THREADS: numba reads it again at each compile
    # and refuses a value other than its running pool's)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, THREADS)


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject.toml): one test process per core, at most 4 (each holds torch, and
    several tests start processes of their own)."""
    return max(1, min(4, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module", params=["numba", "torch"])
def kernels(request):
    """Runs a test on both SAM kernel backends (`sam_plugins.engine.backend`): numba's compiled
    loops (CPU, installed by the test requirements) and torch ops (GPU, or no numba). Only tests
    whose code reaches a kernel take it; argument checks and subprocesses that choose their own
    backend run once."""
    from sam_plugins.engine import backend

    assert backend.current().name == "numba", "numba is missing: install requirements/test.txt"
    with backend.use(request.param):
        yield request.param


def record_spikes(modules: dict, run, to_spikes=lambda out: out):
    """Record the outputs of `modules` with plain forward hooks, independently of the library.

    Returns {name: [T, B, ...]} with calls concatenated along time (single-step outputs get a
    time axis first). `to_spikes` picks the spike tensor out of an output.
    """
    seen = {name: [] for name in modules}
    handles = [
        module.register_forward_hook(
            lambda m, a, out, name=name: seen[name].append(to_spikes(out).detach().clone())
        )
        for name, module in modules.items()
    ]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return seen


def hook_count(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def assert_matches_reference(layer, spikes: torch.Tensor, gamma: float) -> None:
    """A LayerSAM against the paper's literal formula on independently recorded spikes."""
    from sam_plugins.testing.reference import (
        literal_neuronal_contribution,
        literal_spike_activation_map,
    )

    assert spikes.abs().sum() > 0, f"layer {layer.name} never spiked: the test proves nothing"
    if spikes.dim() >= 4:
        torch.testing.assert_close(layer.maps, literal_spike_activation_map(spikes, gamma))
    else:  # each neuron its own place: maps [T, B, N], scores their time sum
        n = literal_neuronal_contribution(spikes, gamma)
        torch.testing.assert_close(layer.maps, n * spikes)
        torch.testing.assert_close(layer.scores, (n * spikes).sum(0))
        torch.testing.assert_close(layer.profile, (n * spikes).flatten(2).sum(2))


def assert_same_outputs(a, b) -> None:
    """Bit-identical outputs, tensors or nested tuples of tensors."""
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same_outputs(x, y)
    else:
        assert torch.equal(a, b)


def check_adapter(adapter, net, x, run, gamma=0.5, require_spikes=None, spikes_out=None):
    """Run `net` over `x` with `run(net, x)` three times, reset by `adapter` each time: plain,
    with independent hooks on the neurons the adapter finds, and under SpikeActivationMap with
    no layers given. Outputs must be identical and each neuron layer's SAM must equal the
    reference on the recorded spikes (calls stacked, or concatenated for multi-step neurons).

    Every layer must spike unless `require_spikes` names the ones that must (silent others are
    then still checked if they spiked). `spikes_out` collects the recorded spikes [T, B, ...].
    """
    neurons = dict(adapter.neuron_modules(net))
    assert neurons, f"no {adapter.name} neuron found"
    adapter.reset(net)
    plain = run(net, x)
    adapter.reset(net)
    recorded = record_spikes(neurons, lambda: run(net, x), first)
    adapter.reset(net)
    with SpikeActivationMap(net, gamma=gamma) as sam:
        attached = run(net, x)
    assert hook_count(net) == 0
    assert_same_outputs(plain, attached)
    result = sam.result()
    assert list(result) == list(neurons)
    for name, calls in recorded.items():
        multi = adapter.step_mode(neurons[name]) == "multi"
        spikes = torch.cat(calls) if multi else torch.stack(calls)
        assert spikes.shape[0] == x.shape[0]
        if spikes_out is not None:
            spikes_out[name] = spikes
        if require_spikes is None or name in require_spikes or spikes.any():
            assert_matches_reference(result[name], spikes, gamma)
    return result


def first(out):
    """The spike tensor of an output: itself, or the first element of a tuple or list."""
    return out[0] if isinstance(out, (tuple, list)) else out


def snntorch_net():
    """A small snnTorch conv SNN (2x8x8 input, 4 classes) whose every layer spikes."""
    import snntorch as snn
    from torch import nn

    net = nn.Sequential(
        nn.Conv2d(2, 6, 3, padding=1),
        snn.Leaky(beta=0.8, init_hidden=True),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1),
        snn.Leaky(beta=0.8, init_hidden=True),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 4),
        snn.Leaky(beta=0.8, init_hidden=True, output=True),
    )
    with torch.no_grad():  # strong enough weights that every layer spikes
        for i in (0, 3, 6):
            net[i].weight.mul_(4)
    return net


def jelly_net():
    """A small multi-step SpikingJelly SNN (2x8x8 input, 3 classes), weights strong enough that
    both layers spike."""
    from spikingjelly.activation_based import functional, layer, neuron
    from torch import nn

    net = nn.Sequential(
        layer.Conv2d(2, 4, 3, padding=1),
        neuron.LIFNode(step_mode="m"),
        layer.Flatten(),
        layer.Linear(4 * 8 * 8, 3),
        neuron.LIFNode(step_mode="m"),
    )
    functional.set_step_mode(net, "m")
    with torch.no_grad():
        net[0].weight.mul_(3)
        net[3].weight.mul_(3)
    return net


CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)
BROWSER_MISSING = (
    None if CHROMIUM and shutil.which("chromedriver") else "no Chromium + chromedriver installed"
)
needs_browser = pytest.mark.skipif(  # under CI (CI=true: .ci/run installs it) see `browser`
    BROWSER_MISSING is not None and os.environ.get("CI") != "true", reason=str(BROWSER_MISSING)
)
"""Mark of the tests that drive headless Chromium: skipped where no browser is installed, except
under CI, where the `browser` fixture fails them instead."""


@pytest.fixture
def browser():
    """Headless Chromium driven by Selenium (Debian's chromium and chromium-driver)."""
    if BROWSER_MISSING:
        pytest.fail(f"CI=true but {BROWSER_MISSING}: the browser tests must run in CI")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()
