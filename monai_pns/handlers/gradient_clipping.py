"""Clamp every gradient element after the backward pass (the released PNS-Net's value clipping)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from monai.engines.utils import IterationEvents
from monai.utils import IgniteInfo, min_version, optional_import

if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["GradientClipping"]


class GradientClipping:
    """Clamp each gradient element of the trainer's network to ``[-clip_value, clip_value]``.

    Runs on MONAI's ``IterationEvents.BACKWARD_COMPLETED``, between ``loss.backward()`` and ``optimizer.step()`` of a
    ``monai.engines.SupervisedTrainer``. Under CUDA mixed precision the gradients are unscaled first
    (``GradScaler.unscale_``), so the bound applies to the true gradients. This is value clipping
    (``torch.nn.utils.clip_grad_value_``), as the released PNS-Net training does, not norm clipping.

    Args:
        clip_value: the bound, > 0 (the release: 0.5).

    Examples::

        >>> trainer = SupervisedTrainer(..., train_handlers=[GradientClipping(0.5)])
    """

    def __init__(self, clip_value: float = 0.5) -> None:
        if not clip_value > 0:
            raise ValueError(f"clip_value must be > 0, got clip_value={clip_value}.")
        self.clip_value = clip_value

    def attach(self, engine: Engine) -> None:
        if not engine.has_event_handler(self, IterationEvents.BACKWARD_COMPLETED):
            engine.add_event_handler(IterationEvents.BACKWARD_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        scaler = getattr(engine, "scaler", None)
        if scaler is not None and getattr(engine, "amp", False):
            scaler.unscale_(engine.optimizer)
        torch.nn.utils.clip_grad_value_(engine.network.parameters(), self.clip_value)
