"""Reading a model's outputs: the class scores every method and report needs."""

from __future__ import annotations

from typing import Any

from torch import Tensor


def class_scores(outputs: Any) -> Tensor:
    """[B, classes] from a model's outputs: [T, B, classes] summed over time (the first element
    of a tuple such as snnTorch's (spikes, membrane)), or [B, classes] as they are."""
    out = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
    if not isinstance(out, Tensor) or out.dim() not in (2, 3):
        raise ValueError(
            "cannot read class scores from the model's outputs: expected [T, B, classes] or "
            f"[B, classes], found {tuple(out.shape) if isinstance(out, Tensor) else type(out)}"
        )
    return out.sum(0) if out.dim() == 3 else out


def predictions(outputs: Any) -> list[int | None]:
    """Each sample's predicted class (largest class score, see `class_scores`), None for a
    sample whose scores are all zero: the model predicted nothing (an output layer that never
    spiked), not class 0."""
    scores = class_scores(outputs)
    return [None if not bool(row.any()) else int(row.argmax()) for row in scores.detach().cpu()]
