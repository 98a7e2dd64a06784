"""SAM with the authors' window on a real snnTorch model, and their display (style="authors")
against their own code: numpy min/max and scikit-image's resize."""

import numpy as np
import pytest
import skimage.transform
import snntorch as snn
import torch
from conftest import record_spikes
from snntorch import utils
from torch import nn

from sam_plugins import SpikeActivationMap, explain, normalize_maps
from sam_plugins.testing.reference import literal_spike_activation_map


def get_forward_cam(feature_conv):
    """getForwardCAM from the authors' main.py, verbatim (feature_conv: [1, C, H, W])."""
    cam = feature_conv.sum(axis=0).sum(axis=0)
    cam = cam - np.min(cam)
    cam_img = cam / (np.max(cam) + 1e-3)
    return [cam_img]


def test_inclusive_window_on_snntorch_and_the_result_says_which():
    net = nn.Sequential(
        nn.Conv2d(2, 6, 3, padding=1),
        snn.Leaky(beta=0.8, init_hidden=True),
        nn.Flatten(),
        nn.Linear(6 * 8 * 8, 3),
        snn.Leaky(beta=0.8, init_hidden=True, output=True),
    )
    with torch.no_grad():
        net[0].weight.mul_(4)
        net[3].weight.mul_(6)
    x = (torch.rand(7, 2, 2, 8, 8) < 0.5).float()
    utils.reset(net)
    seen = record_spikes({"1": net[1]}, lambda: [net(xt) for xt in x])
    spikes = torch.stack(seen["1"])
    assert spikes.sum() > 0
    inclusive = explain(net, x, window="inclusive")
    assert inclusive.window == "inclusive" and "window='inclusive'" in repr(inclusive)
    expected = literal_spike_activation_map(spikes, 0.5, "inclusive")
    torch.testing.assert_close(inclusive["1"].maps, expected)
    assert inclusive["1"].maps[0].sum() > 0  # step 0 has a map with this window
    previous = SpikeActivationMap(net).attribute(x)
    assert previous.window == "previous"
    torch.testing.assert_close(previous["1"].maps, literal_spike_activation_map(spikes, 0.5))
    # the Linear layer's scores follow the window too: sum_t N_incl * S = previous + sum_t S
    utils.reset(net)
    seen = record_spikes({"4": net[4]}, lambda: [net(xt) for xt in x], lambda out: out[0])
    fired = torch.stack(seen["4"])
    assert fired.sum() > 0
    torch.testing.assert_close(inclusive["4"].scores, previous["4"].scores + fired.sum(0))
    with pytest.raises(ValueError, match="window must be one of"):
        SpikeActivationMap(net, window="now")


def test_authors_style_is_their_normalisation_and_skimage_resize():
    maps = torch.rand(4, 3, 2, 6, 6).sum(2)  # raw maps [T, B, 6, 6]
    maps[1, 2] = 0  # a silent step: their code divides 0 by 1e-3
    got = normalize_maps(maps, style="authors")
    assert got.shape == (4, 3, 128, 128)  # their visual_imagesize
    for t in range(4):
        for b in range(3):
            cam = get_forward_cam(maps[t, b][None, None].numpy().astype(np.float64))[0]
            theirs = skimage.transform.resize(cam, (128, 128))
            torch.testing.assert_close(got[t, b], torch.from_numpy(theirs).float())
    assert got[1, 2].abs().sum() == 0
    assert got.max() < 1  # max / (max + 1e-3)
    small = normalize_maps(maps, size=(20, 24), style="authors")
    cam = get_forward_cam(maps[0, 0][None, None].numpy().astype(np.float64))[0]
    theirs = skimage.transform.resize(cam, (20, 24))
    torch.testing.assert_close(small[0, 0], torch.from_numpy(theirs).float())
    with pytest.raises(ValueError, match="style must be one of"):
        normalize_maps(maps, style="paper")
