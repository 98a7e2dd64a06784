"""Render the notebook view of a SAM result to an HTML page and screenshot it with headless
Chromium, for the README and docs: docs/images/notebook_view.png.

    python docs/make_notebook_image.py [--out docs/images/notebook_view.png]

The result is the one examples/notebooks/snntorch_quickstart.ipynb shows: the shipped demo SNN
on four emulated event-camera test digits. Needs `SAMResult._repr_html_` (the notebook view)
and Debian's `chromium` on the PATH; exits with status 2 and one line saying which is missing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>SAM notebook view</title></head>
<body style="margin: 16px; background: #fff; font-family: sans-serif">
{fragment}
</body></html>
"""


def fail(message: str) -> None:
    print(f"make_notebook_image: error: {message}", file=sys.stderr)
    sys.exit(2)


def demo_result(data: Path):
    """The demo SNN's SAM of four emulated test recordings, with the frames [T, 4, 2, 34, 34]."""
    from sam_plugins_demo import BINS, EmulatedDigits, trained_demo_net
    from sam_plugins_tonic.events import to_frames

    from sam_plugins import explain
    from sam_plugins.analysis import collate_frames

    recordings = EmulatedDigits(data, train=False, limit=4)
    frames_of = to_frames(EmulatedDigits.sensor_size, BINS)
    frames, _, _ = collate_frames([(frames_of(ev), label) for ev, label in recordings])
    return explain(trained_demo_net(), frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "notebook_view.png")
    parser.add_argument("--size", default="1100,1100", help="browser window width,height")
    args = parser.parse_args()

    from sam_plugins import SAMResult

    if not callable(getattr(SAMResult, "_repr_html_", None)):
        fail(
            "SAMResult has no _repr_html_ (the notebook view of issue 27): nothing to render; "
            "run this on a checkout that has it"
        )
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        fail("no chromium on the PATH (Debian: apt-get install chromium)")

    with tempfile.TemporaryDirectory() as tmp:
        fragment = demo_result(Path(tmp) / "data")._repr_html_()
        if '<div class="sam-view"' not in fragment:
            fail('the notebook view does not start with <div class="sam-view" ...>')
        page = Path(tmp) / "view.html"
        page.write_text(PAGE.format(fragment=fragment), encoding="utf-8")
        shot = Path(tmp) / "shot.png"
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--hide-scrollbars",
                f"--screenshot={shot}",
                f"--window-size={args.size}",
                "--virtual-time-budget=2000",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        if not shot.is_file():
            fail(f"chromium wrote no screenshot of {page}")
        from PIL import Image, ImageChops

        image = Image.open(shot).convert("RGB")
        blank = Image.new("RGB", image.size, (255, 255, 255))
        box = ImageChops.difference(image, blank).getbbox()  # crop the empty margin
        if box is None:
            fail("the screenshot is blank: the view drew nothing")
        left, top, right, bottom = box
        image = image.crop((max(left - 8, 0), max(top - 8, 0), right + 8, bottom + 8))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        image.save(args.out)
    print(f"wrote {args.out} ({image.width} x {image.height})")


if __name__ == "__main__":
    main()
