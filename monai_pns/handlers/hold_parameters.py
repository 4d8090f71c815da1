"""Hold some parameters still for the first epochs of a training run, so that the others learn alone."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch
from monai.engines.utils import IterationEvents
from monai.utils import IgniteInfo, min_version, optional_import

if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["HoldParameters"]


class HoldParameters:
    """The given parameters take no optimizer step during the first ``epochs`` epochs of the trainer.

    Runs on MONAI's ``IterationEvents.BACKWARD_COMPLETED`` (between ``loss.backward()`` and ``optimizer.step()`` of a
    ``monai.engines.SupervisedTrainer``) and drops the held parameters' gradients (``grad = None``): PyTorch's
    optimizers skip such parameters, so they do not move, their weight decay is not applied and their optimizer
    state (Adam's moments) does not start. From epoch ``epochs + 1`` on they train as usual, whatever the learning
    rate schedule did meanwhile. Fine-tuning with zero-initialised NS blocks uses it to train the blocks alone first
    (``HoldParameters(<all but the NS blocks' parameters>, epochs=k)``): the loss can then fall only through them.

    Args:
        parameters: the parameters to hold (tensors of the trainer's network).
        epochs: the number of first epochs they are held, >= 0 (0: never).

    Examples::

        >>> backbone = [p for n, p in net.named_parameters() if not n.startswith("ns_blocks.")]
        >>> trainer = SupervisedTrainer(..., train_handlers=[HoldParameters(backbone, epochs=2)])
    """

    def __init__(self, parameters: Iterable[torch.Tensor], epochs: int) -> None:
        if epochs < 0:
            raise ValueError(f"epochs must be >= 0, got epochs={epochs}.")
        self.parameters = list(parameters)
        self.epochs = epochs

    def attach(self, engine: Engine) -> None:
        if not engine.has_event_handler(self, IterationEvents.BACKWARD_COMPLETED):
            engine.add_event_handler(IterationEvents.BACKWARD_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        if engine.state.epoch <= self.epochs:
            for p in self.parameters:
                p.grad = None
