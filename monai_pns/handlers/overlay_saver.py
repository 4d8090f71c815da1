"""Save a few prediction overlays (frame tinted where the model sees a polyp) during validation."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
from monai.handlers import from_engine
from monai.utils import IgniteInfo, min_version, optional_import
from monai.visualize import blend_images

from monai_pns.utils import write_atomic

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["OverlaySaver"]


def _display(image: torch.Tensor) -> torch.Tensor:
    """A (3, H, W) network input (normalised) stretched to [0, 1] for display."""
    low, high = image.min(), image.max()
    return (image - low) / (high - low) if high > low else torch.zeros_like(image)


class OverlaySaver:
    """Write ``overlay_<n>.png`` for the first ``max_images`` items of each evaluation epoch: the middle frame of the
    item with the predicted mask (probability > ``threshold``) blended in red (``monai.visualize.blend_images``).

    The files are replaced at every validation, so at the end they show the last model; a tracking handler can
    log the folder as artifacts.

    Args:
        output_dir: folder of the PNG files.
        max_images: items drawn per epoch.
        threshold: probability above which a pixel is drawn as polyp.
        sigmoid: the predictions are logits.
        output_transform: maps ``engine.state.output`` to (images, predictions), lists of (C, T, H, W) or (C, H, W).

    Examples::

        >>> evaluator = SupervisedEvaluator(..., val_handlers=[OverlaySaver("runs/overlays", max_images=4)])
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        max_images: int = 4,
        threshold: float = 0.5,
        sigmoid: bool = True,
        output_transform: Callable = from_engine(["image", "pred"]),
    ) -> None:
        if max_images < 1:
            raise ValueError(f"max_images must be >= 1, got max_images={max_images}.")
        self.output_dir = Path(output_dir)
        self.max_images = max_images
        self.threshold = threshold
        self.sigmoid = sigmoid
        self.output_transform = output_transform
        self._count = 0

    def attach(self, engine: Engine) -> None:
        if not engine.has_event_handler(self.reset, Events.EPOCH_STARTED):
            engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        if not engine.has_event_handler(self, Events.ITERATION_COMPLETED):
            engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def reset(self, engine: Engine | None = None) -> None:
        self._count = 0

    def __call__(self, engine: Engine) -> None:
        images, preds = self.output_transform(engine.state.output)
        for image, pred in zip(images, preds):
            if self._count >= self.max_images:
                return
            image, pred = torch.as_tensor(image).detach().cpu().float(), torch.as_tensor(pred).detach().cpu().float()
            if image.ndim == 4:  # (C, T, H, W): the middle frame
                middle = image.shape[1] // 2
                image, pred = image[:, middle], pred[:, pred.shape[1] // 2]
            prob = torch.sigmoid(pred) if self.sigmoid else pred
            blended = blend_images(_display(image), (prob > self.threshold).float(), alpha=0.45, cmap="autumn")
            rgb = (blended.numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
            ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            if ok:
                write_atomic(self.output_dir / f"overlay_{self._count}.png", png.tobytes())
            self._count += 1
