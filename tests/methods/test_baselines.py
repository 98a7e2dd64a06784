"""Baselines (SNN Grad-CAM, spike count, random) and the faithfulness metrics, on cases with a
known answer and against straightforward references."""

import pytest
import torch
from conftest import jelly_net, record_spikes, snntorch_net
from plain_snn import ConvSNN
from snntorch import utils
from torch import nn

from sam_plugins import RandomMap, SNNGradCAM, SpikeCount, explain
from sam_plugins.metrics import (
    deletion_insertion,
    pointing_game,
    randomization_check,
    randomized_copy,
    rank_correlation,
    time_saliency,
)


def reference_grad_cam(net, x, names):
    """Grad-CAM of Kim & Panda written out: spikes kept with their graph by plain hooks,
    d(score of the predicted class)/d(spikes), weights = mean over time and space, ReLU."""
    kept = {name: [] for name in names}
    modules = dict(net.named_modules())
    handles = [
        modules[n].register_forward_hook(lambda m, a, out, n=n: kept[n].append(out)) for n in names
    ]
    utils.reset(net)
    x = x.clone().requires_grad_(True)
    counts = torch.stack([net(xt)[0] for xt in x]).sum(0)
    for h in handles:
        h.remove()
    score = counts.gather(1, counts.argmax(1, keepdim=True)).sum()
    maps = {}
    for name in names:
        grad = torch.stack(torch.autograd.grad(score, kept[name], retain_graph=True))
        spikes = torch.stack(kept[name])
        weights = grad.mean(dim=(0, 3, 4))
        maps[name] = torch.relu(torch.einsum("bc,tbchw->tbhw", weights, spikes.detach()))
    return maps


def test_grad_cam_matches_the_written_out_formula_on_snntorch():
    net = snntorch_net()
    x = (torch.rand(6, 3, 2, 8, 8) < 0.5).float()
    expected = reference_grad_cam(net, x, ["1", "4"])
    before = [p.clone() for p in net.parameters()]
    result = SNNGradCAM(net).attribute(x)
    assert list(result) == ["1", "4"]  # the adapter found the layers; the output layer has no map
    for name, maps in expected.items():
        assert maps.abs().sum() > 0
        torch.testing.assert_close(result[name].maps, maps)
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_grad_cam_on_a_multi_step_spikingjelly_net():
    net = jelly_net()
    x = (torch.rand(5, 2, 2, 8, 8) < 0.5).float()
    result = SNNGradCAM(net).attribute(x, target=torch.tensor([0, 2]))
    maps = result["1"].maps
    assert maps.shape == (5, 2, 8, 8) and (maps >= 0).all() and maps.sum() > 0


def test_spike_count_maps_count_spikes_over_channels():
    net = ConvSNN(size=8)
    x = (torch.rand(4, 2, 2, 8, 8) < 0.6).float()
    seen = record_spikes({"lif1": net.lif1}, lambda: [net(xt) for xt in x])
    net.reset()
    result = SpikeCount(net, ["lif1", "lif2"]).attribute(x)
    assert result.method == "spike count" and result.gamma is None
    spikes = torch.stack(seen["lif1"])
    assert spikes.sum() > 0
    torch.testing.assert_close(result["lif1"].maps, spikes.sum(2))
    noise = RandomMap(net, ["lif1", "lif2"], seed=3).attribute(x)
    assert noise["lif2"].maps.shape == result["lif2"].maps.shape
    again = RandomMap(net, ["lif1", "lif2"], seed=3).attribute(x)
    assert torch.equal(noise["lif2"].maps, again["lif2"].maps)
    assert not torch.equal(
        noise["lif2"].maps, RandomMap(net, ["lif2"], seed=4).attribute(x)["lif2"].maps
    )


def test_pointing_game_hits_the_object_and_random_maps_hit_by_chance():
    torch.manual_seed(1)
    masks = torch.zeros(400, 10, 10, dtype=torch.bool)
    masks[:, 2:6, 3:8] = True  # 20 of 100 pixels
    assert (pointing_game(masks.float(), masks, tolerance=0) == 1).all()
    off = torch.zeros(400, 10, 10)
    off[:, 9, 0] = 1.0  # far from the object
    assert (pointing_game(off, masks, tolerance=1) == 0).all()
    near = torch.zeros(400, 10, 10)
    near[:, 6, 4] = 1.0  # one pixel below the object: a hit only with tolerance
    assert (pointing_game(near, masks, tolerance=1) == 1).all()
    assert (pointing_game(near, masks, tolerance=0) == 0).all()
    assert (pointing_game(torch.zeros(400, 10, 10), masks) == 0).all()  # no maximum, no hit
    tied = off.clone()
    tied[:, 3, 4] = 1.0  # two equal maxima, one on the object
    assert (pointing_game(tied, masks, tolerance=0) == 0.5).all()
    chance = pointing_game(torch.rand(400, 10, 10), masks, tolerance=0).mean()
    assert 0.14 < chance < 0.26
    # a coarse 5x5 map: each cell stands for the 2x2 pixels under it
    coarse = torch.zeros(400, 5, 5)
    coarse[:, 1, 2] = 1.0  # pixels 2..3 x 4..5: on the object
    assert (pointing_game(coarse, masks, tolerance=0) == 1).all()
    coarse_chance = pointing_game(torch.rand(400, 5, 5), masks, tolerance=0).mean()
    assert 0.12 < coarse_chance < 0.28  # no bias from upsampling


class Evidence(nn.Module):
    """Class 0's logit is the mean input over a known evidence region; class 1's is zero."""

    def __init__(self, region):
        super().__init__()
        self.register_buffer("region", region.float())

    def forward(self, x):
        evidence = (x.sum(1) * self.region).sum((1, 2)) / self.region.sum() * 4
        return torch.stack([evidence, torch.zeros_like(evidence)], 1)


def test_deletion_and_insertion_reward_a_map_on_the_evidence():
    region = torch.zeros(8, 8, dtype=torch.bool)
    region[1:4, 2:6] = True
    model = Evidence(region)
    x = torch.ones(3, 4, 1, 8, 8)
    target = torch.zeros(4, dtype=torch.long)
    exact = region.float().expand(4, 8, 8)
    noise = torch.rand(4, 8, 8)
    d_exact, auc_d_exact = deletion_insertion(model, x, exact, target, "deletion", points=9)
    _, auc_d_noise = deletion_insertion(model, x, noise, target, "deletion", points=9)
    i_exact, auc_i_exact = deletion_insertion(model, x, exact, target, "insertion", points=9)
    _, auc_i_noise = deletion_insertion(model, x, noise, target, "insertion", points=9)
    full = torch.softmax(torch.tensor([12.0, 0.0]), 0)[0]  # 3 steps x logit 4
    torch.testing.assert_close(d_exact[0], full.expand(4))
    torch.testing.assert_close(d_exact[-1], torch.full((4,), 0.5))  # nothing left: a tie
    torch.testing.assert_close(i_exact[0], torch.full((4,), 0.5))
    # 12 evidence pixels of 64: deleting them first (first 2 of 8 intervals) leaves a tie
    torch.testing.assert_close(d_exact[2], torch.full((4,), 0.5))
    assert (auc_d_exact < auc_d_noise).all() and (auc_i_exact > auc_i_noise).all()
    with pytest.raises(ValueError, match=r"saliency must be \[B, H, W\]"):
        deletion_insertion(model, x, exact[:, :4], target)


def test_rank_correlation_and_the_randomisation_check():
    a = torch.rand(5, 6, 6)
    torch.testing.assert_close(rank_correlation(a, a), torch.ones(5))
    torch.testing.assert_close(rank_correlation(a, -a), -torch.ones(5))
    assert rank_correlation(a, torch.zeros(5, 6, 6)).isnan().all()

    net = ConvSNN(size=16)
    x = (torch.rand(8, 4, 2, 16, 16) < 0.3).float()
    same = randomization_check(lambda m, inp: explain(m, inp, ["lif2"]), net, x, "lif2", seed=0)
    clone = randomized_copy(net)
    pairs = zip(net.parameters(), clone.parameters(), strict=True)
    assert all(not torch.equal(a, b) for a, b in pairs)
    assert (same < 0.99).all()  # SAM of a re-initialised model is not the trained model's
    sam = explain(net, x, ["lif2"])
    own = time_saliency(sam, "lif2", (16, 16))
    torch.testing.assert_close(rank_correlation(own, own), torch.ones(4))
