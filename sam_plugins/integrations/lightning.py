"""SAM while a LightningModule trains: `SAMCallback` explains a fixed probe batch every few
epochs and logs it through the trainer's loggers. Importing this module imports Lightning
(``lightning.pytorch``, else the older ``pytorch_lightning``).

Example::

    from lightning.pytorch import Trainer
    from sam_plugins.integrations.lightning import SAMCallback

    probe = next(iter(val_loader))[0][:4]          # [T, B, ...], time first
    trainer = Trainer(max_epochs=10, callbacks=[SAMCallback(probe)])
    trainer.fit(module, train_loader)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import torch
from torch import Tensor

try:
    from lightning.pytorch import Callback
except ImportError:  # the standalone package of Lightning < 2 and its 2.x mirror
    from pytorch_lightning import Callback

from ..engine import DEFAULT_GAMMA
from ..layers import LayerSpec
from ..methods import SpikeActivationMap
from ..methods.base import check_inputs
from ..plugins import Runner, StepMode
from ..result import SAMResult
from . import tensorboard
from .summaries import check_samples, sam_images, sam_scalars


class SAMCallback(Callback):
    """Explain `inputs` with SAM at the end of every `every_n_epochs`-th training epoch and log
    it through every logger of the trainer, at the trainer's ``global_step``:

    - a TensorBoardLogger (any logger whose ``experiment`` is a SummaryWriter): the images and
      scalars of `sam_plugins.integrations.tensorboard.log_sam`;
    - a logger with ``log_image(key, images, step)`` (W&B's): the same images through it, the
      scalars through ``log_metrics``;
    - any other logger (CSV, MLflow's in Lightning 2.6, which has no ``log_image``): the
      scalars through ``log_metrics`` and one warning that the images are not logged.

    The probe runs on the module's device, in eval mode under ``torch.no_grad()``; afterwards
    every submodule's train/eval mode is as it was, the neurons' state is reset the
    framework's way and no hook is left, so training goes on exactly as without the callback
    (the same losses and gradients, bit for bit). The last result is kept in `result`.

    Args:
        inputs: the probe batch [T, B, ...] (time first), e.g. a few validation samples.
        layers: which layers of the LightningModule to explain (names as in its
            ``named_modules()``, e.g. "net.1"); None: the neurons the adapters find.
        every_n_epochs: explain after epochs every_n_epochs, 2 * every_n_epochs, ...
        run: ``run(module, inputs)`` as in `explain`, for modules whose ``forward`` loops over
            time itself (``run=lambda m, x: m(x)``); default the adapter's loop over steps.
        samples: index or indices of probe samples drawn as images.
        size: (height, width) the 2-D maps are drawn at; default the probe's own H, W when it
            is [T, B, C, H, W], else each layer's.
        per_step: also log each 2-D layer's per-step strip.
        gamma, window, step_mode, graded: as in `SpikeActivationMap`.
        colormap, prefix: as in `log_sam`.
    """

    def __init__(
        self,
        inputs: Tensor,
        layers: LayerSpec | Sequence[LayerSpec] | None = None,
        every_n_epochs: int = 1,
        run: Runner | None = None,
        *,
        samples: int | Sequence[int] = 0,
        size: tuple[int, int] | None = None,
        per_step: bool = True,
        gamma: float = DEFAULT_GAMMA,
        window: str = "previous",
        step_mode: StepMode = "single",
        graded: bool = False,
        colormap: str = "jet",
        prefix: str = "sam",
    ) -> None:
        self.inputs = check_inputs(inputs)
        if not isinstance(every_n_epochs, Integral) or every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be an int >= 1, found {every_n_epochs!r}")
        self.layers, self.every_n_epochs, self.run = layers, int(every_n_epochs), run
        check_samples(inputs.shape[1], samples)
        self.samples, self.per_step = samples, per_step
        self.colormap, self.prefix = colormap, prefix
        self.size = size if size is not None or inputs.dim() < 5 else tuple(inputs.shape[-2:])
        self.options = dict(gamma=gamma, window=window, step_mode=step_mode, graded=graded)
        self.result: SAMResult | None = None
        self._warned: set[str] = set()

    def _method(self, module: torch.nn.Module) -> SpikeActivationMap:
        return SpikeActivationMap(module, self.layers, run=self.run, **self.options)

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        """Find the layers before training starts: a wrong `layers` fails now, not after an
        epoch."""
        self._method(pl_module)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs or not trainer.is_global_zero:
            return
        self.result = self.explain(pl_module)
        self.log_result(trainer, self.result)

    def explain(self, module: torch.nn.Module) -> SAMResult:
        """SAM of the probe on `module` now, in eval mode without gradients; every
        submodule's mode is restored and the neuron state reset afterwards."""
        method = self._method(module)
        modes = [(m, m.training) for m in module.modules()]
        device = next(module.parameters(), self.inputs).device
        try:
            module.eval()
            with torch.no_grad():
                return method.attribute(self.inputs.to(device))
        finally:
            method.runner.reset(module)
            for m, training in modes:
                m.training = training

    def log_result(self, trainer: Any, result: SAMResult) -> None:
        """Write `result` to every logger of `trainer` at its global step."""
        step = trainer.global_step
        images = sam_images(
            result, self.samples, self.size, self.per_step, self.colormap, self.prefix
        )
        scalars = sam_scalars(result, self.samples, self.prefix)
        for logger in trainer.loggers:
            writer = getattr(logger, "experiment", None)
            if callable(getattr(writer, "add_image", None)):  # TensorBoard's SummaryWriter
                tensorboard.write(writer, images, scalars, step)
                continue
            logger.log_metrics(scalars, step=step)
            if callable(getattr(logger, "log_image", None)):
                for tag, image in images.items():
                    logger.log_image(key=tag, images=[image], step=step)
            elif images and type(logger).__name__ not in self._warned:
                self._warned.add(type(logger).__name__)
                warnings.warn(
                    f"SAMCallback: {type(logger).__name__} has no log_image and no SummaryWriter, "
                    "so only the SAM mass scalars are logged to it, not the heat-map images; "
                    "use TensorBoardLogger or a logger with log_image (e.g. WandbLogger)",
                    RuntimeWarning,
                    stacklevel=2,
                )
