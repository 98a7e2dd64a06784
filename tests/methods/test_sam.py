"""SpikeActivationMap on a plain-torch conv SNN: the generic path any framework can use."""

import pytest
import torch
from conftest import hook_count, record_spikes
from plain_snn import ConvSNN, PlainLIF

from sam_plugins import NotSpikesError, SpikeActivationMap, SpikeShapeError, explain
from sam_plugins.engine import backend
from sam_plugins.testing.reference import (
    literal_neuronal_contribution,
    literal_spike_activation_map,
)

T, B = 7, 3


def make_input(steps=T, batch=B, size=16):
    return (torch.rand(steps, batch, 2, size, size) < 0.3).float() * 2.0


def run_single(net, x):
    net.reset()
    return torch.stack([net(xt) for xt in x])


def test_single_step_maps_match_reference_and_outputs_unchanged():
    net, x = ConvSNN(), make_input()
    plain = run_single(net, x)
    spikes = record_spikes({"lif1": net.lif1, "lif2": net.lif2}, lambda: run_single(net, x))
    with SpikeActivationMap(net, layers=["lif1", "lif2"], gamma=0.4) as sam:
        attached = run_single(net, x)
    assert hook_count(net) == 0
    assert torch.equal(plain, attached)  # bit-identical
    result = sam.result()
    assert result.steps == T and list(result) == ["lif1", "lif2"]
    for name in ("lif1", "lif2"):
        s = torch.stack(spikes[name])
        assert s.sum() > 0, "the test model must spike"
        expected = literal_spike_activation_map(s, 0.4)
        assert result[name].maps.shape == (T, B, *s.shape[-2:])
        torch.testing.assert_close(result[name].maps, expected)
        torch.testing.assert_close(result[name].profile, expected.flatten(2).sum(2))


def test_multi_step_model_gives_the_same_maps():
    single, multi = ConvSNN(), ConvSNN(multi_step=True)
    multi.load_state_dict(single.state_dict())
    x = make_input()
    with SpikeActivationMap(single, layers=[PlainLIF]) as sam_s:
        out_s = run_single(single, x)
    with SpikeActivationMap(multi, layers=[PlainLIF], step_mode="multi") as sam_m:
        multi.reset()
        out_m = multi(x)
    torch.testing.assert_close(out_s, out_m)
    r_s, r_m = sam_s.result(), sam_m.result()
    assert r_m.steps == T
    for name in ("lif1", "lif2"):
        torch.testing.assert_close(r_s[name].maps, r_m[name].maps)
    torch.testing.assert_close(r_s["lif3"].scores, r_m["lif3"].scores)


def test_linear_layer_has_per_neuron_maps_and_scores():
    net, x = ConvSNN(), make_input()
    spikes = record_spikes({"lif3": net.lif3}, lambda: run_single(net, x))
    with SpikeActivationMap(net, layers="lif3") as sam:
        run_single(net, x)
    layer = sam.result()["lif3"]
    s = torch.stack(spikes["lif3"])
    n = literal_neuronal_contribution(s, 0.5)
    torch.testing.assert_close(sam.result().maps("lif3"), n * s)  # [T, B, N]
    torch.testing.assert_close(layer.scores, (n * s).sum(0))
    torch.testing.assert_close(layer.profile, (n * s).sum(2))
    with pytest.raises(ValueError, match="size=None"):
        sam.result().heatmap("lif3", size=(8, 8))


def test_heatmaps_are_upsampled_and_normalised_per_sample_and_step():
    net, x = ConvSNN(), make_input(steps=10)
    with SpikeActivationMap(net, layers=[PlainLIF]) as sam:
        run_single(net, x)
    result = sam.result()
    heat = result.heatmap("lif2", size=(16, 16))
    assert heat.shape == (10, B, 16, 16)
    assert heat.min() >= 0 and heat.max() <= 1
    raw = result["lif2"].maps
    for t in range(10):
        for b in range(B):
            if raw[t, b].max() > raw[t, b].min():
                assert heat[t, b].max() == pytest.approx(1.0)
                assert heat[t, b].min() == pytest.approx(0.0)
            else:
                assert heat[t, b].abs().sum() == 0
    assert heat[0].abs().sum() == 0  # N[0] = 0: the first step's map is all zero and stays zero


def test_explain_runs_a_generic_model_over_time():
    net, x = ConvSNN(), make_input()
    net.reset()
    expected = run_single(net, x)
    net.reset()
    result = explain(net, x, layers=["lif1"])
    torch.testing.assert_close(result.outputs, expected)
    assert result["lif1"].maps.shape == (T, B, 16, 16)
    assert hook_count(net) == 0


def test_no_hook_left_when_user_code_raises():
    net = ConvSNN()
    with pytest.raises(RuntimeError, match="boom"), SpikeActivationMap(net, layers=[PlainLIF]):
        assert hook_count(net) == 3
        net(make_input()[0])
        raise RuntimeError("boom")
    assert hook_count(net) == 0


def test_no_hook_left_when_a_hook_raises():
    net = ConvSNN()
    with pytest.raises(SpikeShapeError), SpikeActivationMap(net, layers=["lif1"]) as sam:
        net(make_input(batch=2)[0])
        net.reset()
        net(make_input(batch=5)[0])  # batch changed without sam.reset()
    assert hook_count(net) == 0
    sam.reset()  # after a reset the new batch size is fine
    with sam:
        net.reset()
        net(make_input(batch=5)[0])
    assert sam.result().steps == 1


def test_unknown_layer_name_is_a_clear_error_and_attaches_nothing():
    net = ConvSNN()
    with pytest.raises(ValueError, match=r"no module named 'lif_1'.*did you mean.*lif1"):
        SpikeActivationMap(net, layers=["lif1", "lif_1"])
    assert hook_count(net) == 0
    with pytest.raises(ValueError, match="no module of type Dropout"):
        SpikeActivationMap(net, layers=torch.nn.Dropout)
    with pytest.raises(ValueError, match="predicate selects no module"):
        SpikeActivationMap(net, layers=lambda name, m: False)


def test_layers_by_predicate_and_module_object():
    net = ConvSNN()
    by_pred = SpikeActivationMap(net, layers=lambda name, m: name.startswith("lif"))
    by_obj = SpikeActivationMap(net, layers=[net.lif2, net.lif1])
    assert by_pred.layers == ["lif1", "lif2", "lif3"]
    assert by_obj.layers == ["lif1", "lif2"]  # model order, not argument order


def test_non_spike_output_is_refused_with_what_was_found():
    net, x = ConvSNN(), make_input()
    with (
        pytest.raises(NotSpikesError, match=r"'conv1'.*expected values in \{0, 1\}, found values"),
        SpikeActivationMap(net, layers=["conv1"]),
    ):
        run_single(net, x)
    assert hook_count(net) == 0
    # graded=True accepts any finite value
    with SpikeActivationMap(net, layers=["conv1"], graded=True) as sam:
        run_single(net, x)
    assert sam.result()["conv1"].maps.shape == (T, B, 16, 16)


def test_layer_is_checked_until_its_first_spiking_call():
    values = iter([0.0, 0.0, 3.0])  # silent at first, then a 3: refused when it shows

    class Late(torch.nn.Module):
        def forward(self, x):
            return torch.full_like(x, next(values))

    net = torch.nn.Sequential(Late())
    with (
        pytest.raises(NotSpikesError, match="found values from 3 to 3"),
        SpikeActivationMap(net, layers=["0"]),
    ):
        for _ in range(3):
            net(torch.zeros(2, 3, 4, 4))


class Emit(torch.nn.Module):
    """A multi-step 'neuron' layer that returns a given tensor, whatever its input."""

    def __init__(self, out):
        super().__init__()
        self.out = out

    def forward(self, x):
        return self.out


@pytest.fixture(params=["numba", "torch"])
def census_path(request):
    """The first-call value check on both backends: one compiled pass (numba, installed by the
    test requirements) and torch ops."""
    assert backend.current().name == "numba", "numba is missing: install requirements/test.txt"
    with backend.use(request.param):
        yield request.param


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "value, graded",
    [(0.5, False), (2.0, False), (-1.0, False), (float("nan"), False)]
    + [(float("nan"), True), (float("inf"), True), (-float("inf"), True)],
)
def test_one_value_that_is_not_a_spike_is_refused(census_path, value, graded, dtype):
    spikes = (torch.rand(5, 2, 3, 4, 4) < 0.3).to(dtype)
    spikes[4, 1, 2, 3, 3] = value  # in the last step of the first (multi-step) call
    net = torch.nn.Sequential(Emit(spikes))
    sam = SpikeActivationMap(net, layers=["0"], step_mode="multi", graded=graded)
    with pytest.raises(NotSpikesError, match="'0'"), sam:
        net(None)
    assert not sam.targets[0].checked
    spikes[4, 1, 2, 3, 3] = 1.0
    with sam:  # the same layer with valid values passes and is marked checked
        sam.reset()
        net(None)
    assert sam.targets[0].checked
    assert sam.result()["0"].maps.shape == (5, 2, 4, 4)


def test_graded_values_pass_when_graded_and_the_compiled_check_runs(census_path, monkeypatch):
    spikes = torch.rand(4, 2, 3, 5, 5) * (torch.rand(4, 2, 3, 5, 5) < 0.3)
    calls = []
    if census_path == "numba":
        kernels = backend.current()._kernels
        census = kernels.spike_census
        monkeypatch.setattr(kernels, "spike_census", lambda *a: calls.append(1) or census(*a))
    net = torch.nn.Sequential(Emit(spikes))
    with SpikeActivationMap(net, layers=["0"], step_mode="multi", graded=True) as sam:
        net(None)
    assert torch.allclose(
        sam.result()["0"].maps,
        literal_spike_activation_map(spikes.double(), 0.5).float(),
        atol=1e-5,
    )
    assert calls == ([1] if census_path == "numba" else [])
    with (
        pytest.raises(NotSpikesError, match="graded=True"),
        SpikeActivationMap(net, layers=["0"], step_mode="multi"),
    ):
        net(None)


def test_disagreeing_step_counts_are_refused():
    net = ConvSNN(multi_step=True)
    # lif1 read correctly as multi-step; a module read as single-step though it is multi-step
    # would count one step per call
    with SpikeActivationMap(net, layers=["lif1", "lif2"], step_mode="multi") as sam:
        net.reset()
        net(make_input())
        net.lif1(torch.zeros(2, B, 8, 16, 16))  # an extra call on one layer only
    with pytest.raises(SpikeShapeError, match="different numbers of time steps"):
        sam.result()


def test_result_before_any_forward_is_an_error():
    sam = SpikeActivationMap(ConvSNN(), layers=["lif1"])
    with pytest.raises(RuntimeError, match="nothing was recorded"):
        sam.result()


def test_no_layers_and_no_adapter_neurons_is_a_clear_error():
    with pytest.raises(LookupError, match="no spiking neuron modules found in ConvSNN"):
        SpikeActivationMap(ConvSNN())


def test_keep_spikes_and_reset():
    net, x = ConvSNN(), make_input()
    spikes = record_spikes({"lif1": net.lif1}, lambda: run_single(net, x))
    with SpikeActivationMap(net, layers=["lif1"], keep_spikes=True) as sam:
        run_single(net, x)
        assert torch.equal(sam.result()["lif1"].spikes, torch.stack(spikes["lif1"]))
        sam.reset()
        run_single(net, x[:3])
    assert sam.result().steps == 3


def test_a_result_is_not_changed_by_recording_on():
    net, x = ConvSNN(), make_input(steps=40)  # more steps than the first buffer holds
    spikes = record_spikes({"lif1": net.lif1, "lif3": net.lif3}, lambda: run_single(net, x))
    with SpikeActivationMap(net, layers=["lif1", "lif3"]) as sam:
        net.reset()
        for xt in x[:5]:
            net(xt)
        early = sam.result()
        copies = early["lif1"].maps.clone(), early["lif3"].scores.clone()
        for xt in x[5:]:
            net(xt)
        late = sam.result()
        sam.reset()  # a second sequence of another length reuses nothing handed out
        run_single(net, x[:9])
    assert torch.equal(early["lif1"].maps, copies[0]) and early.steps == 5
    assert torch.equal(early["lif3"].scores, copies[1])
    s1, s3 = torch.stack(spikes["lif1"]), torch.stack(spikes["lif3"])
    torch.testing.assert_close(late["lif1"].maps, literal_spike_activation_map(s1, 0.5))
    torch.testing.assert_close(
        late["lif3"].scores, (literal_neuronal_contribution(s3, 0.5) * s3).sum(0)
    )
    torch.testing.assert_close(late["lif1"].maps[:5], early["lif1"].maps)
    again = sam.result()
    assert again.steps == 9
    torch.testing.assert_close(again["lif1"].maps, late["lif1"].maps[:9])


def test_tuple_outputs_use_the_first_element():
    class SpkMem(torch.nn.Module):  # returns (spikes, membrane) like many frameworks
        def forward(self, x):
            return (x > 0.5).float(), x

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), SpkMem())
    x = torch.rand(5, 2, 1, 8, 8)
    with SpikeActivationMap(net, layers=["1"]) as sam:
        for xt in x:
            net(xt)
    spikes = torch.stack([net(xt)[0] for xt in x])
    torch.testing.assert_close(sam.result().maps("1"), literal_spike_activation_map(spikes, 0.5))


def test_non_tensor_output_is_refused():
    class Weird(torch.nn.Module):
        def forward(self, x):
            return {"spk": x}

    net = torch.nn.Sequential(Weird())
    with (
        pytest.raises(TypeError, match="returned dict; expected a spike tensor"),
        SpikeActivationMap(net, layers=["0"]),
    ):
        net(torch.zeros(2, 3))
    assert hook_count(net) == 0
