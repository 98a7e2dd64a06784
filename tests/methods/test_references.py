"""Independent references, written from the formulas with plain hooks and autograd (no code of
sam_plugins' methods, no Captum), compared numerically with the methods:

- SNN Grad-CAM (Kim & Panda 2021): alpha[b, k] = mean over t, i, j of d y_c / d A[t, b, k, i, j]
  (y_c the class score, outputs summed over time); the map of step t is
  ReLU(sum_k alpha[b, k] A[t, b, k]). Single-step (snnTorch, one call per step) and multi-step
  (SpikingJelly, one call for all steps) models.
- Integrated Gradients: (x - x0) * integral over a of dy_c/dx at x0 + a (x - x0), with x0 = 0,
  by Gauss-Legendre (Captum's default, 50 nodes) and the midpoint Riemann sum.
"""

import numpy as np
import pytest
import torch
from conftest import jelly_net, snntorch_net
from snntorch import utils
from spikingjelly.activation_based import functional

from sam_plugins import CaptumMethod, SNNGradCAM

T, B = 5, 3


def inputs(channels=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, channels, 8, 8, generator=g) < 0.6).float()


def snntorch_run(net, x):
    """Class scores [B, classes] of x [T, B, ...]: reset, one call per step, summed."""
    utils.reset(net)
    return torch.stack([net(xt)[0] for xt in x]).sum(0)


def jelly_run(net, x):
    functional.reset_net(net)
    return net(x).sum(0)


def grad_cam_reference(net, layer_names, run, x, target):
    """{layer: maps [T, B, H, W]} from the formula, spikes A captured by plain forward hooks."""
    modules = dict(net.named_modules())
    seen = {name: [] for name in layer_names}
    handles = [
        modules[name].register_forward_hook(
            lambda m, a, out, name=name: seen[name].append(
                out[0] if isinstance(out, tuple) else out
            )
        )
        for name in layer_names
    ]
    try:
        with torch.enable_grad():
            scores = run(net, x.clone().requires_grad_(True))
            y = scores[torch.arange(len(target)), target].sum()
            parts = [p for name in layer_names for p in seen[name]]
            grads = torch.autograd.grad(y, parts, allow_unused=True)
    finally:
        for h in handles:
            h.remove()
    maps, i = {}, 0
    for name in layer_names:
        n = len(seen[name])
        acts = [a.detach() for a in seen[name]]
        gs = [
            torch.zeros_like(a) if g is None else g
            for a, g in zip(acts, grads[i : i + n], strict=True)
        ]
        i += n
        # one call per step gives [B, K, H, W] each; one call for all steps gives [T, B, K, H, W]
        a = torch.stack(acts) if n > 1 else acts[0]
        g = torch.stack(gs) if n > 1 else gs[0]
        alpha = g.mean(dim=(0, 3, 4))  # [B, K]: over time and space
        maps[name] = torch.einsum("bk,tbkhw->tbhw", alpha, a).clamp(min=0)
    return maps


@pytest.mark.parametrize("kind", ["single-step snnTorch", "multi-step SpikingJelly"])
def test_snn_grad_cam_equals_the_formula(kind):
    if kind.startswith("single"):
        net, run, layers, x = snntorch_net(), snntorch_run, ["1", "4"], inputs()
    else:
        net, run, layers, x = jelly_net(), jelly_run, ["1"], inputs()
        with torch.no_grad():  # its output layer must spike over 5 steps, or all targets tie
            net[3].weight.mul_(4)
    with torch.no_grad():
        outputs = run(net, x)
    assert outputs.sum(1).gt(0).any(), kind  # a prediction, not an all-zero tie of classes
    predicted = outputs.argmax(1)
    for target in (predicted, (predicted + 1) % 3):
        expected = grad_cam_reference(net, layers, run, x, target)
        result = SNNGradCAM(net, layers).attribute(x, target)
        for name in layers:
            assert expected[name].shape == (T, B, *expected[name].shape[2:])
            torch.testing.assert_close(result[name].maps, expected[name], rtol=1e-5, atol=1e-6)
            if target is predicted:  # the comparison is not 0 == 0, and steps differ, so a
                assert expected[name].sum() > 0, (kind, name)  # map at a wrong step is seen
                assert not torch.equal(expected[name], expected[name].flip(0))
    # the default target is the predicted class
    default = SNNGradCAM(net, layers).attribute(x)
    torch.testing.assert_close(
        default[layers[0]].maps, grad_cam_reference(net, layers, run, x, predicted)[layers[0]]
    )


def integrated_gradients(run, net, x, target, alphas, weights):
    """(x - 0) * sum_i weights[i] * dy/dx at alphas[i] * x, each gradient from its own run."""
    total = torch.zeros_like(x)
    for a, w in zip(alphas, weights, strict=True):
        point = (a * x).requires_grad_(True)
        with torch.enable_grad():
            y = run(net, point)[torch.arange(len(target)), target].sum()
            (grad,) = torch.autograd.grad(y, point)
        total += w * grad
    return x * total


@pytest.mark.parametrize("rule", ["gausslegendre", "riemann_middle"])
def test_integrated_gradients_equals_the_integral_by_hand(rule):
    net, x = snntorch_net(), inputs()
    target = torch.tensor([0, 3, 1])
    if rule == "gausslegendre":  # Captum's default: 50 Gauss-Legendre nodes on [0, 1]
        n, kwargs = 50, {}
        nodes, w = np.polynomial.legendre.leggauss(n)
        alphas, weights = (nodes + 1) / 2, w / 2
    else:
        n = 8
        kwargs = {"method": "riemann_middle", "n_steps": n}
        alphas, weights = (np.arange(n) + 0.5) / n, np.full(n, 1 / n)
    expected = integrated_gradients(
        snntorch_run, net, x, target, alphas.tolist(), weights.tolist()
    ).sum(2)  # [T, B, H, W]: summed over the input's channels
    assert expected.abs().sum() > 0
    result = CaptumMethod(net, algorithm="IntegratedGradients", attribute_kwargs=kwargs)
    maps = result.attribute(x, target)["input"].maps
    torch.testing.assert_close(maps, expected, rtol=1e-4, atol=1e-5)
    assert all(p.grad is None for p in net.parameters())
