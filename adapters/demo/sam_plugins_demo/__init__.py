"""The sam-plugins demo, in one place: the digits it is made of (`digits`), their event-camera
recordings (`EmulatedDigits`, through the tonic plugin's emulator and N-MNIST's format), the
snnTorch SNN trained on them with its shipped weights (`model`), and ``sam-plugins demo``
(`command`)."""

import importlib

# imported on first use, so that `sam-plugins demo --help` imports no torch or tonic
_EXPORTS = {
    "load_digits": ".digits",
    "split": ".digits",
    "EmulatedDigits": ".emulated",
    **dict.fromkeys(("BINS", "FACTORY", "WEIGHTS", "demo_net", "trained_demo_net"), ".model"),
}

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


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sam_plugins_demo' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
