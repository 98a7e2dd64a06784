"""Make the README's picture, docs/images/demo_sample.png, from the current demo: the PNG that
``sam-plugins demo`` writes for its second recording (steps x layers). Run it after changing the
demo, the model or how maps are drawn, so that the picture shows what the demo shows:

    python docs/make_images.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from sam_plugins.cli import main

IMAGE = Path(__file__).parent / "images" / "demo_sample.png"
SAMPLE = 1  # the demo's second test recording, a 7


def make_demo_sample(image: Path = IMAGE) -> Path:
    """Run ``sam-plugins demo`` in a temporary folder and copy its sample PNG to `image`."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "sam-report"
        if main(["demo", "--out", str(out), "--samples", str(SAMPLE + 1)]) != 0:
            sys.exit("sam-plugins demo failed: see above")
        image.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / f"sample_{SAMPLE}.png", image)
    return image


if __name__ == "__main__":
    print(f"wrote {make_demo_sample()}")
