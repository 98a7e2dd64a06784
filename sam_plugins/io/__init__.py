"""Where files come in: models named ``package.module:factory`` with their weights
(`models`), and input files, frames or event recordings (`inputs`)."""

from .inputs import Inputs, read_input
from .models import LoadError, build_model, load_factory

__all__ = ["Inputs", "LoadError", "build_model", "load_factory", "read_input"]
