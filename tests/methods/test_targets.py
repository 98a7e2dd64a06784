"""`attribute(inputs, target)` of every map method: labels (an int, a sequence of ints, an
integer tensor [B]) or None; anything else is a TypeError that says what it takes, a label the
outputs do not have or a [B] of the wrong length a ValueError that says what was found."""

import numpy as np
import pytest
import torch
from conftest import snntorch_net

from sam_plugins import (
    CaptumMethod,
    RandomMap,
    SNNGradCAM,
    SpikeActivationMap,
    SpikeCount,
)

METHODS = {
    "SAM": lambda net: SpikeActivationMap(net),
    "Grad-CAM": lambda net: SNNGradCAM(net),
    "spike count": lambda net: SpikeCount(net),
    "random": lambda net: RandomMap(net),
    "Captum": lambda net: CaptumMethod(net, algorithm="Saliency"),
}
X = (torch.rand(4, 3, 2, 8, 8) < 0.5).float()  # [T=4, B=3], the net has 4 classes


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_takes_labels_or_none(method):
    assert METHODS[method](snntorch_net()).attribute(X, None).batch_size == 3
    assert METHODS[method](snntorch_net()).attribute(X, [0, 3, 1]).batch_size == 3


@pytest.mark.parametrize(
    "target",
    [
        2,
        np.int64(1),
        [0, 3, 1],
        (1, 1, 1),
        torch.tensor([0, 3, 1]),
        torch.tensor(2),
        np.array([2, 0, 1]),
    ],
    ids=["int", "numpy int", "list", "tuple", "tensor [B]", "tensor scalar", "numpy [B]"],
)
def test_labels_are_taken_in_every_form(target):
    assert SNNGradCAM(snntorch_net()).attribute(X, target).batch_size == 3


def run_function(model, x):
    return [model(xt) for xt in x]


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize(
    "target, found",
    [
        (run_function, "function"),
        (lambda model, x: model(x), "function"),
        ("cat", "str"),
        (1.0, "float"),
        (True, "bool"),
        ([0, 1.5, 2], "list holding float"),
        (torch.tensor([0.0, 1.0, 2.0]), "tensor of torch.float32"),
        (torch.tensor([True, False, True]), "tensor of torch.bool"),
        (torch.zeros(3, 1, dtype=torch.long), "tensor of shape (3, 1)"),
    ],
    ids=[
        "old run shape",
        "lambda",
        "str",
        "float",
        "bool",
        "list of floats",
        "float tensor",
        "bool tensor",
        "2-d tensor",
    ],
)
def test_anything_but_labels_is_a_type_error_saying_what_is_taken(method, target, found):
    """Before this, attribute(x, run_function) (the old call shape) silently ran the default
    runner and ignored the function."""
    net = snntorch_net()
    with pytest.raises(TypeError) as info:
        METHODS[method](net).attribute(X, target)
    message = str(info.value)
    assert "an int, a sequence of ints or an integer tensor [B], or None" in message, message
    assert found in message, message
    if callable(target):
        assert "run=" in message, message  # how to pass a runner now


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_checks_the_labels_range_and_length(method):
    with pytest.raises(ValueError, match="label 4 is out of range"):
        METHODS[method](snntorch_net()).attribute(X, 4)
    with pytest.raises(ValueError, match="2 labels for a batch of 3 samples"):
        METHODS[method](snntorch_net()).attribute(X, [0, 1])


@pytest.mark.parametrize("method", ["Grad-CAM", "Captum"])
@pytest.mark.parametrize(
    "target, message",
    [
        (4, "label 4 is out of range: the model's outputs have 4 classes (0 to 3)"),
        ([0, -1, 2], "label -1 is out of range"),
        (torch.tensor([0, 1, 9]), "label 9 is out of range"),
        ([0, 1], "2 labels for a batch of 3 samples"),
        (torch.tensor([0, 1, 2, 3]), "4 labels for a batch of 3 samples"),
        ([], "0 labels for a batch of 3 samples"),
    ],
    ids=["int", "negative", "tensor", "short list", "long tensor", "empty"],
)
def test_labels_out_of_range_or_of_the_wrong_length_are_named(method, target, message):
    net = snntorch_net()
    with pytest.raises(ValueError) as info:
        METHODS[method](net).attribute(X, target)
    assert message in str(info.value), str(info.value)


def test_a_label_is_used_not_just_checked():
    """Grad-CAM of class 0 and class 3 differ: the validated labels reach the method."""
    net = snntorch_net()
    a = SNNGradCAM(net).attribute(X, [0, 0, 0])
    b = SNNGradCAM(net).attribute(X, 3)
    c = SNNGradCAM(net).attribute(X, torch.tensor([3, 3, 3]))
    name = next(iter(a))
    assert not torch.equal(a[name].maps, b[name].maps)
    torch.testing.assert_close(b[name].maps, c[name].maps)
