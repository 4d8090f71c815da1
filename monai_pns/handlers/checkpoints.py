"""Checkpoints that a crash cannot corrupt: resumable training state, the best model, checked paths."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from monai.handlers import CheckpointLoader
from monai.utils import IgniteInfo, min_version, optional_import

from monai_pns.distributed import barrier, is_main_process
from monai_pns.utils import save_atomic

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
Checkpoint, _ = optional_import("ignite.handlers", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Checkpoint")
BaseSaveHandler, _ = optional_import(
    "ignite.handlers.checkpoint", IgniteInfo.OPT_IMPORT_VERSION, min_version, "BaseSaveHandler", as_type="base"
)
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["AtomicDiskSaver", "BestModelSaver", "TrainingState", "latest_checkpoint", "require_checkpoint"]

_EPOCH = re.compile(r"checkpoint_epoch=(\d+)\.pt$")


def _epoch_checkpoints(folder: str | os.PathLike) -> list[Path]:
    """The ``checkpoint_epoch=<n>.pt`` files of ``folder`` (the names :class:`TrainingState` saves), oldest first."""
    found = [(int(m.group(1)), p) for p in Path(folder).glob("checkpoint_epoch=*.pt") if (m := _EPOCH.search(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The ``checkpoint_epoch=<n>.pt`` file of ``folder`` with the largest ``n``, or None when there is none."""
    found = _epoch_checkpoints(folder)
    return found[-1] if found else None


def require_checkpoint(path: str | os.PathLike, hint: str = "") -> str:
    """``path`` as a string when it is a file; otherwise a ``FileNotFoundError`` naming it (and ``hint``)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint '{path}' does not exist" + (f": {hint}." if hint else "."))
    return os.fspath(path)


class AtomicDiskSaver(BaseSaveHandler):
    """An Ignite save handler that writes each checkpoint to a temporary name and renames it into place, with the
    umask's file mode (MONAI's ``CheckpointSaver`` writes in place: a run stopped mid-write leaves a corrupt file).
    Under ``torch.distributed`` only process 0 writes and removes files (every process holds the same state).

    Args:
        dirname: folder of the checkpoints (created when needed).
        extra: entries saved next to the objects' states (plain types), e.g. ``{"network_config": ...}``; loading
            with MONAI's ``CheckpointLoader`` ignores them.
    """

    def __init__(self, dirname: str | os.PathLike, extra: Mapping | None = None) -> None:
        self.dirname = Path(dirname)
        self.extra = dict(extra or {})

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        if is_main_process():
            save_atomic({**checkpoint, **self.extra}, self.dirname / filename)

    def remove(self, filename: str) -> None:
        if is_main_process():
            (self.dirname / filename).unlink(missing_ok=True)


class TrainingState:
    """Save the whole training state at the end of every epoch and resume from the last one when present.

    Attaching to a trainer saves ``save_dict`` plus the trainer itself (its epoch and iteration counters) at every
    epoch end as ``save_dir/checkpoint_epoch=<n>.pt`` (written atomically; the newest ``n_saved`` kept, also across a
    resumed run), and, when
    ``save_dir`` already holds such a checkpoint (a run that was stopped), restores all of it with MONAI's
    ``CheckpointLoader`` when the trainer starts: the run continues with the next epoch, with the optimizer's and the
    scheduler's state. Attach it after any handler that loads initial weights (so that the resumed weights win) and
    after the learning-rate scheduler's handler (so that the saved scheduler has taken its epoch step).

    Under ``torch.distributed``, process 0 writes the files (a network wrapped in ``DistributedDataParallel`` is
    saved unwrapped), every process restores them when resuming (``save_dir`` must be on a file system they share),
    and every process waits at the end of each epoch until the state is written; attached after a validation
    handler, that wait also covers the best model a process-0 :class:`BestModelSaver` wrote during the validation,
    so the next phase can load it in every process.

    Args:
        save_dir: folder of the epoch checkpoints.
        save_dict: the objects to save besides the trainer (``network``, ``optimizer``, ``lr_scheduler``, ...).
        n_saved: epoch checkpoints kept.
        resume: resume from the newest checkpoint in ``save_dir`` when there is one.
        map_location: where to load tensors (e.g. the training device).
        network_config: the network's definition (:func:`monai_pns.inference.network_config`), saved in every
            epoch checkpoint under ``"network_config"``.

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
        network_config: Mapping | None = None,
    ) -> None:
        if n_saved < 1:
            raise ValueError(f"n_saved must be >= 1, got n_saved={n_saved}.")
        if "trainer" in save_dict:
            raise ValueError("save_dict must not hold 'trainer': the engine it is attached to is saved under it.")
        self.save_dir = Path(save_dir)
        self.save_dict = dict(save_dict)
        self.n_saved = n_saved
        self.resume = resume
        self.map_location = map_location
        self.network_config = network_config
        self.resumed_from: Path | None = None

    def attach(self, engine: Engine) -> None:
        objects = {**self.save_dict, "trainer": engine}
        last = latest_checkpoint(self.save_dir) if self.resume else None
        if last is not None:
            self.resumed_from = last
            CheckpointLoader(os.fspath(last), objects, map_location=self.map_location).attach(engine)
        extra = None if self.network_config is None else {"network_config": self.network_config}
        saver = Checkpoint(
            objects,
            AtomicDiskSaver(self.save_dir, extra),
            n_saved=self.n_saved,
            global_step_transform=lambda e, _: e.state.epoch,
            filename_pattern="checkpoint_epoch={global_step}.{ext}",
        )
        engine.add_event_handler(Events.EPOCH_COMPLETED, saver)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._prune)
        if not engine.has_event_handler(_wait_for_all, Events.EPOCH_COMPLETED):
            engine.add_event_handler(Events.EPOCH_COMPLETED, _wait_for_all)

    def _prune(self, engine: Engine) -> None:
        if is_main_process():
            for old in _epoch_checkpoints(self.save_dir)[: -self.n_saved]:
                old.unlink(missing_ok=True)


def _wait_for_all(engine: Engine) -> None:
    barrier()


class BestModelSaver:
    """Save the network's state dict to ``path`` (atomically) each time the evaluator's key metric reaches a new best.

    Attach it to a MONAI ``SupervisedEvaluator`` with a ``key_val_metric``: the evaluator records the best value and
    its epoch (``state.best_metric_epoch``); when that is the epoch just completed, the weights are written. A
    ``DistributedDataParallel`` wrapper is removed first, so the file loads into the bare network. Without
    ``network_config`` the file is a plain state dict (MONAI model-zoo ``models/model.pt`` form); with it, the model
    carries its definition: ``{"model": state dict, "network_config": network_config}``, which MONAI's
    ``CheckpointLoader(load_dict={"model": net})`` and :func:`monai_pns.inference.load_network` both read.

    Args:
        path: the checkpoint file.
        network: the network whose weights are saved.
        network_config: the network's definition (:func:`monai_pns.inference.network_config`).

    Examples::

        >>> evaluator = SupervisedEvaluator(..., val_handlers=[BestModelSaver("runs/finetune/model.pt", net)])
    """

    def __init__(
        self, path: str | os.PathLike, network: torch.nn.Module, network_config: Mapping | None = None
    ) -> None:
        self.path = Path(path)
        self.network = network
        self.network_config = network_config

    def attach(self, engine: Engine) -> None:
        if not engine.has_event_handler(self, Events.EPOCH_COMPLETED):
            engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        if engine.state.best_metric_epoch == engine.state.epoch:
            state = getattr(self.network, "module", self.network).state_dict()
            saved = state if self.network_config is None else {"model": state, "network_config": self.network_config}
            save_atomic(saved, self.path)
