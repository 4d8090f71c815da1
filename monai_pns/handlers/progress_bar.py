"""A tqdm progress bar for MONAI engines, configurable from a bundle config."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from monai.utils import IgniteInfo, min_version, optional_import

ProgressBar, _ = optional_import("ignite.handlers", IgniteInfo.OPT_IMPORT_VERSION, min_version, "ProgressBar")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["ProgressBarHandler"]


class ProgressBarHandler:
    """Ignite's ``ProgressBar`` (epoch, iteration, it/s) with an ``attach(engine)`` that MONAI's ``train_handlers`` /
    ``val_handlers`` lists can call, showing the value of ``output_transform`` (e.g. the loss).

    Args:
        output_transform: maps ``engine.state.output`` to a number or a dict of numbers to show; None: nothing.
        desc: text before the bar (default: the epoch counter Ignite shows).
        persist: keep the bar on screen after each epoch.
        disable: no bar at all. Without it a bar is drawn only when standard error is a terminal: output sent to a
            file or a pipe (a batch system's log) gets none of its redraws.

    Examples::

        >>> bar = ProgressBarHandler(output_transform=monai.handlers.from_engine(["loss"], first=True))
        >>> trainer = SupervisedTrainer(..., train_handlers=[bar])
    """

    def __init__(
        self,
        output_transform: Callable | None = None,
        desc: str | None = None,
        persist: bool = False,
        disable: bool = False,
    ) -> None:
        self.output_transform = output_transform
        self.desc = desc
        self.persist = persist
        self.disable = disable

    def attach(self, engine: Engine) -> None:
        if self.disable:
            return
        kwargs = {} if self.desc is None else {"desc": self.desc}
        transform = None
        if self.output_transform is not None:
            transform = self._named(self.output_transform)
        # tqdm's disable=None: no bar unless its stream is a terminal
        ProgressBar(persist=self.persist, disable=None, **kwargs).attach(engine, output_transform=transform)

    @staticmethod
    def _named(transform: Callable) -> Callable:
        def shown(output):
            value = transform(output)
            return value if isinstance(value, dict) else {"loss": float(value)}

        return shown
