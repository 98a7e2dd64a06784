"""The small image set the demo, the examples and the tests are made of: scikit-learn's
copy of the UCI handwritten digits (1797 images, 8x8, 17 grey levels; CC BY 4.0)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DIGITS = Path(__file__).parent / "data" / "digits.npz"
TRAIN = 1500  # fixed split: the first 1500 digits train, the other 297 test


def load_digits(size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Images [1797, 1, size, size] in [0, 1] (bilinear upsampling) and labels [1797]."""
    data = np.load(DIGITS)
    images = torch.from_numpy(data["images"]).float().unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return images.clamp(0, 1), torch.from_numpy(data["labels"]).long()


def split(images: torch.Tensor, labels: torch.Tensor):
    """The fixed split: (train_x, train_y, test_x, test_y)."""
    return images[:TRAIN], labels[:TRAIN], images[TRAIN:], labels[TRAIN:]
