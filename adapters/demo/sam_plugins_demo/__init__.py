"""The sam-plugins demo, in one place: the digits it is made of (`digits`), their event-camera
recordings (`EmulatedDigits`, through the tonic plugin's emulator and N-MNIST's format), the
snnTorch SNN trained on them with its shipped weights (`model`), and ``sam-plugins demo``
(`command`)."""

from .digits import load_digits, split
from .emulated import EmulatedDigits
from .model import BINS, FACTORY, WEIGHTS, demo_net, trained_demo_net

__all__ = [
    "BINS",
    "FACTORY",
    "WEIGHTS",
    "EmulatedDigits",
    "demo_net",
    "load_digits",
    "split",
    "trained_demo_net",
]
