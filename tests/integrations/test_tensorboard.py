"""log_sam writes a real SummaryWriter's event file: read back with TensorBoard's own
EventAccumulator, the tags, image sizes, pixels and scalars match the result."""

import io
import subprocess
import sys

import numpy as np
import pytest
import snntorch as snn
import torch
from matplotlib import colormaps
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from sam_plugins import explain
from sam_plugins.integrations.tensorboard import log_sam

T, B = 6, 3


def jet(value: float) -> np.ndarray:
    return (np.asarray(colormaps["jet"](value)[:3]) * 255).round().astype(np.uint8)


def conv_net() -> nn.Sequential:
    """Conv2d -> Leaky (maps [T, B, 8, 8]), Linear -> Leaky (maps [T, B, N])."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        snn.Leaky(beta=0.8, init_hidden=True),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 5),
        snn.Leaky(beta=0.8, init_hidden=True, output=True),
    )
    with torch.no_grad():
        net[3].weight.mul_(8)  # so that the output layer spikes too
    return net


def read_back(logdir) -> EventAccumulator:
    events = EventAccumulator(str(logdir), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    return events


def png(event, k: int = 1) -> np.ndarray:
    """The event's image; with `k`, every k-th pixel (undoing an enlargement by k)."""
    image = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("RGB"))
    return image[::k, ::k]


def factor(height: int, width: int) -> int:
    """The whole factor an image of `height` x `width` is enlarged by: short side >= 128."""
    return -(-128 // min(height, width))


@pytest.fixture
def conv_result():
    x = (torch.rand(T, B, 2, 8, 8) < 0.4).float()
    result = explain(conv_net(), x)
    assert result["1"].maps.sum() > 0 and result["4"].profile.sum() > 0
    assert result["4"].maps.dim() == 3  # Linear: one place per neuron, [T, B, N]
    return result


def test_log_sam_defaults_written_and_read_back(conv_result, tmp_path):
    """As a user types it: log_sam(writer, result, step) with a real SummaryWriter."""
    writer = SummaryWriter(tmp_path)
    log_sam(writer, conv_result, step=3)
    writer.close()
    events = read_back(tmp_path)

    assert sorted(events.Tags()["images"]) == [
        "sam/1/steps/sample_0",
        "sam/1/sum/sample_0",
        "sam/4/neuron_time/sample_0",  # the Linear layer: neuron x time
    ]
    (raster,) = events.Images("sam/4/neuron_time/sample_0")
    neurons = conv_result["4"].maps.shape[2]
    k = factor(T, neurons)  # 6 steps x 5 neurons: 26 times
    assert (raster.width, raster.height) == (T * k, neurons * k)
    summed = events.Images("sam/1/sum/sample_0")
    assert [(e.step, e.width, e.height) for e in summed] == [(3, 8 * 16, 8 * 16)]
    strip = events.Images("sam/1/steps/sample_0")
    assert [(e.step, e.width, e.height) for e in strip] == [(3, (T * 8 + T - 1) * 16, 8 * 16)]
    # enlarged by repeating pixels (nearest neighbour): every 16 x 16 block is one colour
    blocks = png(strip[0]).reshape(8, 16, T * 9 - 1, 16, 3)
    assert (blocks == blocks[:, :1, :, :1]).all()

    # the time-summed image: hottest pixel where the raw summed map is largest, coldest where least
    raw = conv_result["1"].maps[:, 0].sum(0)
    image = png(summed[0], 16)
    hot, cold = (
        np.unravel_index(int(raw.argmax()), raw.shape),
        np.unravel_index(int(raw.argmin()), raw.shape),
    )
    assert (image[hot] == jet(1.0)).all() and (image[cold] == jet(0.0)).all()
    # the strip: step t at columns t*9 .. t*9+7, white between; step 0 has no earlier spike
    frames = png(strip[0], 16)
    assert (frames[:, 8::9] == 255).all()
    assert (frames[:, :8] == jet(0.0)).all()
    for t in range(T):
        step = conv_result["1"].maps[t, 0]
        if step.max() > step.min():
            at = np.unravel_index(int(step.argmax()), step.shape)
            assert (frames[at[0], t * 9 + at[1]] == jet(1.0)).all(), t

    # scalars: the SAM mass of every layer (the Linear one too), batch mean and sample 0
    assert set(events.Tags()["scalars"]) == {
        "sam/1/mass",
        "sam/1/mass/sample_0",
        "sam/4/mass",
        "sam/4/mass/sample_0",
    }
    for layer in ("1", "4"):
        mass = conv_result[layer].profile.double().sum(0)
        (mean,) = events.Scalars(f"sam/{layer}/mass")
        (first,) = events.Scalars(f"sam/{layer}/mass/sample_0")
        assert mean.step == 3 and mean.value == pytest.approx(float(mass.mean()), rel=1e-6)
        assert first.value == pytest.approx(float(mass[0]), rel=1e-6)
        assert float(mass[0]) > 0


def test_log_sam_samples_size_and_steps_over_epochs(conv_result, tmp_path):
    writer = SummaryWriter(tmp_path)
    for epoch in range(2):
        log_sam(writer, conv_result, epoch, samples=[0, 2], size=(16, 24), per_step=False)
    writer.close()
    events = read_back(tmp_path)
    assert sorted(events.Tags()["images"]) == [
        "sam/1/sum/sample_0",
        "sam/1/sum/sample_2",
        "sam/4/neuron_time/sample_0",
        "sam/4/neuron_time/sample_2",
    ]
    assert [(e.step, e.width, e.height) for e in events.Images("sam/1/sum/sample_2")] == [
        (0, 24 * 8, 16 * 8),
        (1, 24 * 8, 16 * 8),
    ]
    (_, second) = events.Scalars("sam/1/mass/sample_2")
    assert second.value == pytest.approx(float(conv_result["1"].maps[:, 2].sum()), rel=1e-6)


def test_conv1d_layer_logs_a_neuron_by_time_image(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), snn.Leaky(beta=0.8, init_hidden=True))
    with torch.no_grad():
        net[0].weight.mul_(4)
    result = explain(net, (torch.rand(T, 2, 2, 12) < 0.5).float())
    maps = result["1"].maps
    assert maps.shape == (T, 2, 12) and maps.sum() > 0
    writer = SummaryWriter(tmp_path)
    log_sam(writer, result, 0, samples=1)
    writer.close()
    events = read_back(tmp_path)
    assert events.Tags()["images"] == ["sam/1/neuron_time/sample_1"]
    (event,) = events.Images("sam/1/neuron_time/sample_1")
    k = factor(12, T)
    assert (event.width, event.height) == (T * k, 12 * k)  # a column per step, a row per position
    grid = maps[:, 1].T
    hot = np.unravel_index(int(grid.argmax()), grid.shape)
    assert (png(event, k)[hot] == jet(1.0)).all()
    assert (png(event, k)[:, 0] == jet(0.0)).all()  # step 0: no earlier spike


def test_every_image_is_readable_at_its_own_size(conv_result, tmp_path):
    """TensorBoard shows images at their own size: read back from the event file, every
    image's short side has at least 128 px (the layers here are 8 x 8 maps, 6 steps, 5
    neurons); with min_side=1 they keep the layer's own size."""
    for min_side, folder in ((None, "default"), (1, "own")):
        writer = SummaryWriter(tmp_path / folder)
        options = {} if min_side is None else {"min_side": min_side}
        log_sam(writer, conv_result, step=0, samples=[0, 1], **options)
        writer.close()
        events = read_back(tmp_path / folder)
        sizes = {tag: (e.height, e.width) for tag in events.Tags()["images"]
                 for e in events.Images(tag)}  # fmt: skip
        assert len(sizes) == 6
        if min_side is None:
            assert min(min(size) for size in sizes.values()) >= 128, sizes
        else:
            assert sizes["sam/1/sum/sample_1"] == (8, 8)
            assert sizes["sam/4/neuron_time/sample_0"] == (5, T)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r, w: log_sam(w, r, 0, samples=3), "samples must be indices into the batch of 3"),
        (lambda r, w: log_sam(w, r, 0, samples=[]), "samples must be indices"),
        (lambda r, w: log_sam(object(), r, 0), "writer must be a torch.utils.tensorboard"),
        (lambda r, w: log_sam(w, {"1": None}, 0), "result must be a SAMResult"),
        (lambda r, w: log_sam(w, r, 1.5), "step must be an int"),
        (lambda r, w: log_sam(w, r, 0, min_side=0), "min_side must be an int >= 1"),
    ],
)
def test_bad_arguments_say_what_was_expected(conv_result, tmp_path, call, message):
    writer = SummaryWriter(tmp_path)
    with pytest.raises((ValueError, TypeError), match=message):
        call(conv_result, writer)
    writer.close()
    assert read_back(tmp_path).Tags()["images"] == []  # nothing half-written


def test_importing_the_integrations_imports_no_tool():
    code = (
        "import sys, sam_plugins.integrations, sam_plugins.integrations.tensorboard;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorboard', 'lightning', 'pytorch_lightning', 'lightning_fabric')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
