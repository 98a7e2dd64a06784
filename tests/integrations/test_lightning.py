"""SAMCallback with a real snnTorch LightningModule trained for 2 epochs on tiny seeded data
(CPU, deterministic): it logs through the trainer's loggers and leaves training exactly as it
would be without it (losses and gradients bit-identical, modes restored, no hooks, state reset)."""

import warnings

import lightning.pytorch as pl
import pytest
import snntorch as snn
import torch
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from snntorch import utils
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from sam_plugins import explain
from sam_plugins.integrations.lightning import SAMCallback

T = 5
RUN = lambda module, x: module(x)  # noqa: E731 - forward loops over time itself


class SpikingModule(pl.LightningModule):
    """A small conv SNN whose forward loops over time (the snnTorch tutorials' way); Dropout,
    which would draw random numbers if the probe ran in train mode; a frozen BatchNorm kept in
    eval mode by the user."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            snn.Leaky(beta=0.8, init_hidden=True),
            nn.Dropout(0.3),
            nn.BatchNorm2d(4),
            nn.Flatten(),
            nn.Linear(4 * 6 * 6, 3),
            snn.Leaky(beta=0.8, init_hidden=True, output=True),
        )
        self.losses: list[torch.Tensor] = []
        self.grads: list[list[torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [T, B, 1, 6, 6] -> spikes [T, B, 3]
        utils.reset(self.net)
        return torch.stack([self.net(x_t)[0] for x_t in x])

    def on_train_epoch_start(self) -> None:
        self.net[3].eval()  # the user's frozen BatchNorm

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x.transpose(0, 1)).sum(0), y)
        self.losses.append(loss.detach().clone())
        return loss

    def on_after_backward(self) -> None:
        self.grads.append([p.grad.detach().clone() for p in self.parameters()])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


class Watch(pl.Callback):
    """Runs after SAMCallback at each epoch's end: what it left behind."""

    def __init__(self) -> None:
        self.seen = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.seen.append(
            {
                "modes": [m.training for m in pl_module.modules()],
                "hooks": sum(
                    len(m._forward_hooks) + len(m._forward_pre_hooks) for m in pl_module.modules()
                ),
                "mem": [
                    float(m.mem.abs().sum())
                    for m in pl_module.modules()
                    if isinstance(m, snn.Leaky)
                ],
            }
        )


class ImageLogger(Logger):
    """A logger with W&B's log_image(key, images, step) (a real Logger subclass)."""

    def __init__(self) -> None:
        super().__init__()
        self.images, self.metrics = [], []

    name, version = "images", 0

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass

    def log_metrics(self, metrics, step=None) -> None:
        self.metrics.append((step, dict(metrics)))

    def log_image(self, key, images, step=None, **kwargs) -> None:
        self.images.append((key, step, images))


def data() -> DataLoader:
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(24, T, 1, 6, 6, generator=g) < 0.4).float()  # [N, T, C, H, W]
    y = torch.randint(0, 3, (24,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)


def probe() -> torch.Tensor:
    g = torch.Generator().manual_seed(2)
    return (torch.rand(T, 2, 1, 6, 6, generator=g) < 0.4).float()  # [T, B, C, H, W]


class StepModule(SpikingModule):
    """forward takes one step, as the adapters' default runner calls it; training loops."""

    def forward(self, x_t: torch.Tensor) -> torch.Tensor:
        return self.net(x_t)[0]

    def training_step(self, batch, batch_idx):
        x, y = batch
        utils.reset(self.net)
        out = torch.stack([self(x_t) for x_t in x.transpose(0, 1)])
        return nn.functional.cross_entropy(out.sum(0), y)


def fit(callbacks, logger, module_class=SpikingModule, **trainer_options) -> SpikingModule:
    pl.seed_everything(0, verbose=False)
    module = module_class()
    with torch.no_grad():
        module.net[0].weight.mul_(3)
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        devices=1,
        logger=logger,
        callbacks=callbacks,
        deterministic=True,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **trainer_options,
    )
    trainer.fit(module, data())
    return module


def test_training_is_bit_identical_and_sam_reaches_tensorboard(tmp_path):
    plain = fit([], TensorBoardLogger(tmp_path / "plain"))
    callback, watch = SAMCallback(probe(), run=RUN), Watch()
    logger = TensorBoardLogger(tmp_path / "sam")
    module = fit([callback, watch], logger)

    assert len(module.losses) == len(plain.losses) == 6  # 2 epochs of 3 batches
    for a, b in zip(module.losses, plain.losses, strict=True):
        assert torch.equal(a, b)
    for a, b in zip(module.grads, plain.grads, strict=True):
        assert all(torch.equal(ga, gb) for ga, gb in zip(a, b, strict=True))
    for a, b in zip(module.parameters(), plain.parameters(), strict=True):
        assert torch.equal(a, b)

    frozen = [m is module.net[3] for m in module.modules()]
    for seen in watch.seen:  # after each explanation: modes as before, no hook, state reset
        assert seen["modes"] == [not f for f in frozen]
        assert seen["hooks"] == 0
        assert seen["mem"] == [0.0, 0.0]

    # the last result is the model's SAM now, in eval mode (Dropout off)
    module.eval()
    again = explain(module, probe(), run=RUN)
    assert list(callback.result) == ["net.1", "net.6"]
    assert torch.equal(callback.result["net.1"].maps, again["net.1"].maps)
    assert callback.result["net.1"].maps.sum() > 0

    events = EventAccumulator(logger.log_dir, size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert set(events.Tags()["images"]) == {
        "sam/net.1/sum/sample_0",
        "sam/net.1/steps/sample_0",
        "sam/net.6/neuron_time/sample_0",  # the Linear layer's neuron x time image
    }
    summed = events.Images("sam/net.1/sum/sample_0")
    # global steps; 6 px maps enlarged 22 times (TensorBoard shows them at their own size)
    assert [(e.step, e.width, e.height) for e in summed] == [(3, 132, 132), (6, 132, 132)]
    (_, last) = events.Scalars("sam/net.1/mass")
    assert last.step == 6
    assert last.value == pytest.approx(float(again["net.1"].profile.double().sum(0).mean()))


def test_defaults_as_a_user_types_them(tmp_path):
    """SAMCallback(probe) on a module whose forward takes one step, with Lightning's default
    logger (TensorBoard's, under default_root_dir)."""
    callback = SAMCallback(probe())
    fit([callback], True, StepModule, default_root_dir=tmp_path)
    assert callback.result["net.1"].maps.shape == (T, 2, 6, 6)
    (log_dir,) = (tmp_path / "lightning_logs").iterdir()
    events = EventAccumulator(str(log_dir), size_guidance={"images": 0})
    events.Reload()
    assert [e.step for e in events.Images("sam/net.1/sum/sample_0")] == [3, 6]


def test_log_image_loggers_and_one_warning_for_others(tmp_path):
    images = ImageLogger()
    csv = CSVLogger(tmp_path)
    callback = SAMCallback(probe(), every_n_epochs=1, run=RUN, samples=[0, 1], size=(12, 12))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit([callback], [images, csv])
    mine = [w for w in caught if "SAMCallback: CSVLogger has no log_image" in str(w.message)]
    assert len(mine) == 1  # two epochs, one warning

    keys = sorted({key for key, _, _ in images.images})
    assert keys == [
        *(f"sam/net.1/{kind}/sample_{b}" for kind in ("steps", "sum") for b in (0, 1)),
        *(f"sam/net.6/neuron_time/sample_{b}" for b in (0, 1)),
    ]
    shapes = {(key, step, imgs[0].shape) for key, step, imgs in images.images}
    assert ("sam/net.1/sum/sample_1", 6, (132, 132, 3)) in shapes  # 12 px, enlarged 11 times
    assert ("sam/net.1/steps/sample_0", 3, (132, (T * 12 + T - 1) * 11, 3)) in shapes
    logged = [(step, m) for step, m in images.metrics if "sam/net.6/mass" in m]
    assert [step for step, _ in logged] == [3, 6]

    csv.save()
    rows = (tmp_path / "lightning_logs" / "version_0" / "metrics.csv").read_text()
    assert "sam/net.1/mass/sample_1" in rows.splitlines()[0]


def test_every_n_epochs_and_bad_arguments(tmp_path):
    images = ImageLogger()
    fit([SAMCallback(probe(), every_n_epochs=2, run=RUN)], images)
    assert sorted({step for _, step, _ in images.images}) == [6]  # after epoch 2 only
    with pytest.raises(ValueError, match="every_n_epochs must be an int >= 1, found 0"):
        SAMCallback(probe(), every_n_epochs=0)
    with pytest.raises(ValueError, match=r"samples must be indices into the batch of 2 \(0..1\)"):
        SAMCallback(probe(), samples=2)
    with pytest.raises(ValueError, match="inputs must be a tensor shaped"):
        SAMCallback(probe()[0, 0, 0, 0])  # [6]: no time axis
    batches = []
    count = pl.Callback()
    count.on_train_batch_start = lambda *args: batches.append(1)
    with pytest.raises(ValueError, match="no module named 'nope' in SpikingModule"):
        fit([SAMCallback(probe(), layers=["nope"], run=RUN), count], False)
    assert batches == []  # it failed before any training
