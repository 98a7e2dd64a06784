"""SAM on SpikingJelly's CUDA neuron kernels, self-contained (no pytest, no conftest): run it as
``SJ_LIF_CUDA_IMPLEMENTATION=cuda python tests/adapters/gpu_spikingjelly_check.py`` (or
``=triton``) on a machine with a GPU; `test_spikingjelly.test_gpu_neuron_kernels` runs it so.

Checks, for a multi-step conv -> LIF net on the GPU: the model's outputs are unchanged by
attaching SAM; the maps are on the GPU and equal the literal formula
M[t] = sum_k S[t, k] * sum_{t' < t} exp(-gamma (t - t')) S[t', k] on spikes recorded with a plain
hook; and they equal the maps of the same net and inputs on the CPU. Exits non-zero otherwise.
"""

import math
import os

import torch
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn

from sam_plugins import explain

T, B, GAMMA = 6, 2, 0.5
torch.manual_seed(0)
net = nn.Sequential(
    layer.Conv2d(1, 4, 3, padding=1),
    neuron.LIFNode(tau=2.0),
    layer.AvgPool2d(2),
    layer.Flatten(),
    layer.Linear(4 * 4 * 4, 5),
    neuron.LIFNode(tau=2.0, v_threshold=0.1),
)
functional.set_step_mode(net, "m")
net = net.cuda()
x = torch.rand(T, B, 1, 8, 8, device="cuda") * 3

seen = []
hook = net[1].register_forward_hook(lambda m, a, out: seen.append(out.detach().clone()))
with torch.no_grad():
    plain = net(x)
hook.remove()
spikes = seen[0]  # [T, B, 4, 8, 8], made by the CUDA kernel chosen at import
assert spikes.is_cuda and 0 < int(spikes.sum()) < spikes.numel(), "the layer must spike, not all"

functional.reset_net(net)
result = explain(net, x, gamma=GAMMA)
assert torch.equal(result.outputs, plain), "attaching SAM changed the model's outputs"
maps = result["1"].maps
assert maps.device.type == "cuda", maps.device

expected = torch.zeros(T, B, 8, 8, device="cuda")
for t in range(T):
    n = sum((math.exp(-GAMMA * (t - u)) * spikes[u] for u in range(t)), torch.zeros_like(spikes[0]))
    expected[t] = (n * spikes[t]).sum(1)
assert expected.sum() > 0
torch.testing.assert_close(maps, expected)

functional.reset_net(net)
on_cpu = explain(net.cpu(), x.cpu(), gamma=GAMMA)
torch.testing.assert_close(maps.cpu(), on_cpu["1"].maps)
print(
    f"ok: SAM on {torch.cuda.get_device_name()} with SJ_LIF_CUDA_IMPLEMENTATION="
    f"{os.environ.get('SJ_LIF_CUDA_IMPLEMENTATION', 'auto')}"
)
