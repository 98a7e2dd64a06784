"""Captum's methods through `CaptumMethod` on real snnTorch and SpikingJelly models, against
gradients and occlusions computed by hand."""

import pytest
import torch
from conftest import hook_count, jelly_net, snntorch_net
from snntorch import utils
from spikingjelly.activation_based import functional

from sam_plugins import CaptumMethod, class_scores


def snntorch_scores(net, x):
    """Class scores [B, classes] of inputs [T, B, ...], written out: reset, loop, sum."""
    utils.reset(net)
    return torch.stack([net(xt)[0] for xt in x]).sum(0)


def test_saliency_is_the_gradient_by_hand_and_leaves_the_model_alone():
    net = snntorch_net()
    x = (torch.rand(6, 3, 2, 8, 8) < 0.5).float()
    with torch.no_grad():
        plain = snntorch_scores(net, x)
    target = torch.tensor([0, 3, 1])
    inputs = x.clone().requires_grad_(True)
    chosen = snntorch_scores(net, inputs).gather(1, target.view(-1, 1)).sum()
    (grad,) = torch.autograd.grad(chosen, inputs)
    assert grad.abs().sum() > 0
    before = [p.clone() for p in net.parameters()]
    utils.reset(net)
    net(x[0])  # leftover state from an earlier run: the method must reset it first
    result = CaptumMethod(net, algorithm="Saliency").attribute(x, target=target)
    assert list(result) == ["input"] and result.method == "Captum Saliency"
    assert result.gamma is None and result.window is None
    maps = result["input"].maps
    assert maps.shape == (6, 3, 8, 8)
    torch.testing.assert_close(maps, grad.abs().sum(2))  # Captum's abs, summed over channels
    torch.testing.assert_close(class_scores(result.outputs), plain)
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    assert hook_count(net) == 0
    assert not net[1].mem.requires_grad  # the neurons' state was reset: no graph kept
    # the predicted classes are explained when no target is given
    predicted = CaptumMethod(net, algorithm="Saliency").attribute(x)
    inputs = x.clone().requires_grad_(True)
    scores = snntorch_scores(net, inputs)
    (grad,) = torch.autograd.grad(scores.gather(1, plain.argmax(1, keepdim=True)).sum(), inputs)
    torch.testing.assert_close(predicted["input"].maps, grad.abs().sum(2))


def test_occlusion_resets_the_model_before_each_forward():
    net = snntorch_net()
    with torch.no_grad():  # the output layer fires on half an input
        net[3].weight.mul_(2)
        net[6].weight.mul_(3)
    x = (torch.rand(5, 2, 2, 8, 8) < 0.8).float()
    x[..., :4] = 0  # the left half is empty: occluding it changes nothing if state is reset
    target = torch.tensor([2, 0])
    window = {"sliding_window_shapes": (5, 2, 4, 4), "strides": (5, 2, 4, 4)}
    result = CaptumMethod(net, algorithm="Occlusion", attribute_kwargs=window).attribute(x, target)
    maps = result["input"].maps  # [T, B, H, W]
    assert maps.shape == (5, 2, 8, 8)
    assert torch.equal(maps[..., :4], torch.zeros_like(maps[..., :4]))
    # each 4x4 patch by hand: score drop when it is zeroed in every step and channel, which
    # Captum gives every element of the patch; summed over the 2 channels
    with torch.no_grad():
        full = snntorch_scores(net, x).gather(1, target.view(-1, 1))[:, 0]
        for top in (0, 4):
            occluded = x.clone()
            occluded[..., top : top + 4, 4:] = 0
            drop = full - snntorch_scores(net, occluded).gather(1, target.view(-1, 1))[:, 0]
            patch = maps[:, :, top : top + 4, 4:]
            torch.testing.assert_close(patch, (2 * drop).view(1, 2, 1, 1).expand_as(patch))
    assert maps.abs().sum() > 0


def test_integrated_gradients_on_a_multi_step_spikingjelly_net():
    net = jelly_net()
    x = (torch.rand(5, 2, 2, 8, 8) < 0.5).float()
    with torch.no_grad():
        functional.reset_net(net)
        plain = net(x).clone()
    method = CaptumMethod(net, algorithm="IntegratedGradients", attribute_kwargs={"n_steps": 8})
    result = method.attribute(x, target=torch.tensor([0, 2]))
    maps = result["input"].maps
    assert maps.shape == (5, 2, 8, 8) and torch.isfinite(maps).all() and maps.abs().sum() > 0
    torch.testing.assert_close(result.outputs, plain)
    again = method.attribute(x, target=torch.tensor([0, 2]))
    torch.testing.assert_close(again["input"].maps, maps)  # each run starts from reset state


def per_step_grad_cam(spikes: list, grads: list) -> torch.Tensor:
    """Grad-CAM of each step: ReLU(sum_k mean_hw(grad[t, k]) * S[t, k]), [T, B, H, W]."""
    s, g = torch.stack(spikes), torch.stack(grads)
    weights = g.mean(dim=(3, 4), keepdim=True)
    return torch.relu((weights * s).sum(2))


def test_layer_grad_cam_per_step_on_snntorch():
    net = snntorch_net()
    x = (torch.rand(6, 3, 2, 8, 8) < 0.5).float()
    kept = {"1": [], "4": []}
    handles = [
        net[int(n)].register_forward_hook(lambda m, a, out, n=n: kept[n].append(out)) for n in kept
    ]
    inputs = x.clone().requires_grad_(True)
    scores = snntorch_scores(net, inputs)
    for h in handles:
        h.remove()
    target = scores.argmax(1)
    chosen = scores.gather(1, target.view(-1, 1)).sum()
    result = CaptumMethod(net, algorithm="LayerGradCam").attribute(x)
    assert list(result) == ["1", "4"]  # the adapter's neurons; the output layer has no map
    for name, spikes in kept.items():
        grads = torch.autograd.grad(chosen, spikes, retain_graph=True)
        expected = per_step_grad_cam([s.detach() for s in spikes], list(grads))
        assert expected.sum() > 0
        assert result[name].maps.shape == expected.shape
        torch.testing.assert_close(result[name].maps, expected)
    assert hook_count(net) == 0 and all(p.grad is None for p in net.parameters())


def test_layer_grad_cam_per_step_on_a_multi_step_spikingjelly_net():
    net = jelly_net()
    x = (torch.rand(5, 2, 2, 8, 8) < 0.5).float()
    kept = []
    handle = net[1].register_forward_hook(lambda m, a, out: kept.append(out))
    functional.reset_net(net)
    scores = class_scores(net(x.clone().requires_grad_(True)))
    handle.remove()
    target = torch.tensor([0, 2])
    (grad,) = torch.autograd.grad(scores.gather(1, target.view(-1, 1)).sum(), kept)
    expected = per_step_grad_cam(list(kept[0].detach()), list(grad))
    result = CaptumMethod(net, ["1"], algorithm="LayerGradCam").attribute(x, target)
    assert expected.sum() > 0
    torch.testing.assert_close(result["1"].maps, expected)


def test_bad_arguments_and_captum_missing(monkeypatch):
    net = snntorch_net()
    with pytest.raises(ValueError, match="takes no layers"):
        CaptumMethod(net, ["1"], algorithm="Saliency")
    with pytest.raises(ValueError, match="no attribution method 'Salience'"):
        CaptumMethod(net, algorithm="Salience")
    monkeypatch.setitem(__import__("sys").modules, "captum.attr", None)
    with pytest.raises(ImportError, match=r'pip install "sam-plugins\[captum\]"'):
        CaptumMethod(net, algorithm="Saliency")
