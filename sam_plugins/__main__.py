"""``python -m sam_plugins`` is the ``sam-plugins`` command (so torchrun can launch it)."""

import sys

from .cli import main

sys.exit(main())
