"""Resumable training state and checked checkpoint paths for the bundle's phases."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from ignite.engine import Engine, Events
from monai.handlers import CheckpointLoader, CheckpointSaver

from monai_pns.distributed import barrier

__all__ = ["TrainingState", "latest_checkpoint", "require_checkpoint"]

_EPOCH = re.compile(r"checkpoint_epoch=(\d+)\.pt$")


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The ``*checkpoint_epoch=<n>.pt`` file of ``folder`` with the largest ``n`` (``CheckpointSaver``'s epoch-level
    names), or None when there is none."""
    found = [(int(m.group(1)), p) for p in Path(folder).glob("*checkpoint_epoch=*.pt") if (m := _EPOCH.search(p.name))]
    return max(found)[1] if found else None


def require_checkpoint(path: str | os.PathLike, hint: str = "") -> str:
    """``path`` as a string when it is a file; otherwise a ``FileNotFoundError`` naming it (and ``hint``)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint '{path}' does not exist" + (f": {hint}." if hint else "."))
    return os.fspath(path)


class TrainingState:
    """Save the whole training state at the end of every epoch and resume from the last one when present.

    Attaching to a trainer adds a ``CheckpointSaver`` of ``save_dict`` plus the trainer itself (its epoch and
    iteration counters) every epoch into ``save_dir`` (the newest ``n_saved`` kept), and, when ``save_dir``
    already holds such a checkpoint (a run that was stopped), a ``CheckpointLoader`` that restores all of it when
    the trainer starts: the run continues with the next epoch, with the optimizer's and the scheduler's state.
    Attach it after any handler that loads initial weights (so that the resumed weights win) and after the
    learning-rate scheduler's handler (so that the saved scheduler has taken its epoch step).

    Under ``torch.distributed``, Ignite writes the files from process 0 only (a network wrapped in
    ``DistributedDataParallel`` is saved unwrapped), every process restores them when resuming (``save_dir`` must
    be on a file system they share), and every process waits at the end of each epoch until the state is
    written; attached after a validation handler, that wait also covers the best model a process-0 checkpoint
    saver wrote during the validation, so the next phase can load it in every process.

    Args:
        save_dir: folder of the epoch checkpoints.
        save_dict: the objects to save besides the trainer (``network``, ``optimizer``, ``lr_scheduler``, ...).
        n_saved: epoch checkpoints kept.
        resume: resume from the newest checkpoint in ``save_dir`` when there is one.
        map_location: where to load tensors (e.g. the training device).

    Examples::

        >>> state = TrainingState("runs/finetune/state", {"network": net, "optimizer": opt})
        >>> trainer = SupervisedTrainer(..., train_handlers=[state])
    """

    def __init__(
        self,
        save_dir: str | os.PathLike,
        save_dict: Mapping[str, object],
        n_saved: int = 1,
        resume: bool = True,
        map_location: str | torch.device | None = None,
    ) -> None:
        if "trainer" in save_dict:
            raise ValueError("save_dict must not hold 'trainer': the engine it is attached to is saved under it.")
        self.save_dir = Path(save_dir)
        self.save_dict = dict(save_dict)
        self.n_saved = n_saved
        self.resume = resume
        self.map_location = map_location
        self.resumed_from: Path | None = None

    def attach(self, engine: Engine) -> None:
        objects = {**self.save_dict, "trainer": engine}
        last = latest_checkpoint(self.save_dir) if self.resume else None
        if last is not None:
            self.resumed_from = last
            CheckpointLoader(os.fspath(last), objects, map_location=self.map_location).attach(engine)
        saver = CheckpointSaver(
            os.fspath(self.save_dir), objects, save_interval=1, n_saved=self.n_saved, epoch_level=True
        )
        saver.attach(engine)
        if not engine.has_event_handler(_wait_for_all, Events.EPOCH_COMPLETED):
            engine.add_event_handler(Events.EPOCH_COMPLETED, _wait_for_all)


def _wait_for_all(engine: Engine) -> None:
    barrier()
