"""Pixels: arrays as RGB images (heat maps in colour, input frames, a heat map blended over an
image as pytorch-grad-cam's show_cam_on_image), PNG data URIs, safe file names and animations.
Needs the ``plot`` extra (matplotlib, Pillow, imageio), each imported when used.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import Tensor


def as_array(x: Tensor | np.ndarray) -> np.ndarray:
    """A tensor (on any device) or an array-like as a numpy array."""
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] as uint8, for image files."""
    return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)


def colored(heatmap: Tensor | np.ndarray, colormap: str = "jet") -> np.ndarray:
    """A heat map [..., H, W] in [0, 1] in colour, [..., H, W, 3] in [0, 1] (no background)."""
    from matplotlib import colormaps

    return colormaps[colormap](np.clip(as_array(heatmap), 0, 1))[..., :3]


def frame_image(frame: Tensor | np.ndarray) -> np.ndarray:
    """One input frame as RGB [H, W, 3] in [0, 1], for drawing maps over it.

    [H, W] or [1, H, W]: grey; [3, H, W]: RGB; any other channel count [C, H, W]: the sum over
    channels in grey (activity). Min-max scaled so that any range can be shown. Input readers
    may draw their frames their own way (`sam_plugins.InputReader.frame_image`: the tonic
    plugin colours event polarities).
    """
    x = as_array(frame).astype(np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"a frame to draw must be [H, W] or [C, H, W], found shape {x.shape}")
    if x.shape[0] != 3:
        x = x.sum(0, keepdims=True)
    span = x.max() - x.min()
    x = (x - x.min()) / span if span > 0 else np.zeros_like(x)
    return np.repeat(x[0][..., None], 3, axis=-1) if x.shape[0] == 1 else x.transpose(1, 2, 0)


def show_sam_on_image(
    image: Tensor | np.ndarray,
    heatmap: Tensor | np.ndarray,
    alpha: float = 0.5,
    colormap: str = "jet",
) -> np.ndarray:
    """Blend a heat map over an image, as pytorch-grad-cam's show_cam_on_image does.

    Args:
        image: [H, W] grey or [H, W, 3] RGB, any range (min-max scaled for display).
        heatmap: [H, W] in [0, 1] (e.g. one step of `SAMResult.heatmap`).
        alpha: weight of the heat map in the blend.

    Returns:
        [H, W, 3] float RGB in [0, 1].
    """
    img, heat = as_array(image).astype(np.float32), as_array(heatmap).astype(np.float32)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.shape[:2] != heat.shape:
        raise ValueError(
            f"image is {img.shape[:2]} but heat map is {heat.shape}: upsample the map to the "
            "image size first, e.g. result.heatmap(layer, size=image.shape[-2:])"
        )
    span = img.max() - img.min()
    img = (img - img.min()) / span if span > 0 else np.zeros_like(img)
    return (1 - alpha) * img + alpha * colored(heat, colormap)


def png_uri(rgb: np.ndarray) -> str:
    """RGB [H, W, 3] in [0, 1] as a PNG data URI (an image inside the HTML, nothing fetched)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(to_uint8(rgb)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def safe_name(name: str) -> str:
    """`name` (a layer's, a model's) as a file-name part: letters, digits, '-', '_' and '.'
    kept, anything else (path separators included) as '_'; never empty, never '.' or '..'."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "_"


def _captioned(frame: np.ndarray, text: str) -> np.ndarray:
    """A uint8 frame [H, W, 3] with a black band below it holding `text` in white."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (frame.shape[1], frame.shape[0] + 14))
    image.paste(Image.fromarray(frame), (0, 0))
    ImageDraw.Draw(image).text((2, frame.shape[0] + 1), text, fill=(255, 255, 255))
    return np.asarray(image)


def save_animation(
    path: str | Path,
    frames: Tensor | np.ndarray,
    fps: float = 4.0,
    captions: Sequence[str] | None = None,
) -> Path:
    """Animated GIF (or MP4 when `path` ends in .mp4; needs imageio-ffmpeg) of RGB frames
    [T, H, W, 3] in [0, 1], looping. Small frames are enlarged (nearest) to at least 128 px.
    `captions` (one per frame, e.g. "layer 1 (Leaky) t=3/9") are written in a band below."""
    import imageio.v3 as iio

    video = to_uint8(as_array(frames))
    if video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"frames must be [T, H, W, 3], found shape {video.shape}")
    scale = max(1, -(-128 // min(video.shape[1:3])))
    video = video.repeat(scale, axis=1).repeat(scale, axis=2)
    if captions is not None:
        if len(captions) != len(video):
            raise ValueError(f"{len(video)} frames but {len(captions)} captions")
        pairs = zip(video, captions, strict=True)
        video = np.stack([_captioned(frame, text) for frame, text in pairs])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "writing MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg); "
                "use a .gif path otherwise"
            ) from exc
        video = np.pad(video, ((0, 0), (0, video.shape[1] % 2), (0, video.shape[2] % 2), (0, 0)))
        iio.imwrite(path, video, fps=fps, codec="libx264")
    else:
        iio.imwrite(path, video, duration=1000 / fps, loop=0)
    return path
