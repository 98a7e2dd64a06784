"""The examples' bundled data: the 8x8 handwritten digits in examples/data/digits.npz
(scikit-learn's copy of the UCI set), upsampled, with a fixed train/test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DATA = Path(__file__).parent / "data" / "digits.npz"
TRAIN = 1500  # the first 1500 digits train, the other 297 test


def load_digits(size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Images [N, 1, size, size] in [0, 1] and labels [N]."""
    data = np.load(DATA)
    images = torch.from_numpy(data["images"]).float().unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return images.clamp(0, 1), torch.from_numpy(data["labels"]).long()


def split(images: torch.Tensor, labels: torch.Tensor):
    """(train_x, train_y, test_x, test_y)."""
    return images[:TRAIN], labels[:TRAIN], images[TRAIN:], labels[TRAIN:]
