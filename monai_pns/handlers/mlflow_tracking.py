"""MLflow tracking of a multi-engine (two-phase) run with MONAI's ``MLFlowHandler``, ending FINISHED or FAILED."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monai.handlers import MLFlowHandler
from monai.utils import IgniteInfo, min_version, optional_import

mlflow, _ = optional_import("mlflow", descriptor="Please install mlflow before using MLflow tracking.")
Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["PhaseMLFlowHandler", "end_mlflow_run"]

_MAX_TAG = 5000  # MLflow's limit on a tag value


class PhaseMLFlowHandler(MLFlowHandler):
    """MONAI's ``MLFlowHandler`` for one engine of a run that spans several engines (pre-training, fine-tuning,
    their validators), all logging into ONE MLflow run.

    Every handler of the run is given the same ``run_name``: the first one to start creates the run, the others
    find it (``MLFlowHandler.start`` reuses the unfinished run of that name). On top of MONAI's handler:

    - ``prefix`` is put before every metric name it logs (``"pretrain/"``: ``pretrain/loss``,
      ``pretrain/lr_group_0``, ``pretrain/val_maxDice``), so the phases' step counters do not collide;
    - its ``artifacts`` (files, or folders logged with their files) go under the folder ``prefix`` names
      (``pretrain/model.pt``, ``finetune/configs/train.json``), so two phases' ``model.pt`` do not overwrite each other;
    - an exception in the engine (an error, or Ctrl-C) marks the run FAILED with an ``error`` tag, then propagates.
      Ignite passes the exception to the first ``EXCEPTION_RAISED`` handler only: put this handler first in the
      engine's handler list;
    - the run is started (or found) when the engine starts its first epoch rather than when it starts: an engine
      resumed after its last epoch (a finished phase run again) runs no epoch and adds no empty run.

    The run is ended FINISHED with ``close_on_complete`` on the last engine, or with :func:`end_mlflow_run`.

    Args:
        prefix: text put before every metric name.
        kwargs: the arguments of ``monai.handlers.MLFlowHandler`` (``tracking_uri``, ``experiment_name``,
            ``run_name``, ``experiment_param``, ``artifacts``, ``tag_name``, ``output_transform``, ...).

    Examples::

        >>> handler = PhaseMLFlowHandler(prefix="finetune/", tracking_uri="sqlite:///runs/mlruns.db",
        ...                              run_name="training-1", tag_name="loss")
        >>> trainer = SupervisedTrainer(..., train_handlers=[handler, StatsHandler()])
    """

    def __init__(self, prefix: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix

    def attach(self, engine: Engine) -> None:
        super().attach(engine)
        engine.remove_event_handler(self.start, Events.STARTED)
        if not engine.has_event_handler(self.start_working, Events.EPOCH_STARTED):
            engine.add_event_handler(Events.EPOCH_STARTED, self.start_working)
        if not engine.has_event_handler(self.failed, Events.EXCEPTION_RAISED):
            engine.add_event_handler(Events.EXCEPTION_RAISED, self.failed)

    def start_working(self, engine: Engine) -> None:
        """Start (or find) the run when the engine starts its first epoch, not when it starts: an engine resumed
        after its last epoch (a finished phase run again) runs no epoch and records no empty run."""
        if self.cur_run is None:
            self.start(engine)

    def _log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        super()._log_metrics({f"{self.prefix}{k}": v for k, v in metrics.items()}, step)

    def complete(self) -> None:
        """Log ``artifacts`` under the ``prefix`` folder (missing paths are skipped: e.g. no best model yet)."""
        if self.cur_run is None:
            return
        folder = self.prefix.strip("/") or None
        for artifact in self.artifacts:
            path = Path(artifact) if artifact else None
            if path is not None and path.is_file():
                self.client.log_artifact(self.cur_run.info.run_id, str(path), artifact_path=folder)
            elif path is not None and path.is_dir():
                sub = path.name if folder is None else f"{folder}/{path.name}"
                self.client.log_artifacts(self.cur_run.info.run_id, str(path), artifact_path=sub)

    def failed(self, engine: Engine, error: BaseException) -> None:
        """Mark the run FAILED with the error as its ``error`` tag, then re-raise ``error``."""
        try:
            if self.cur_run is not None:
                run_id = self.cur_run.info.run_id
                self.client.set_tag(run_id, "error", f"{type(error).__name__}: {error}"[:_MAX_TAG])
                self.client.set_terminated(run_id, "FAILED")
                self.cur_run = None
        finally:
            self._dispose_sqlite_store()
        raise error


def end_mlflow_run(
    tracking_uri: str | None, experiment_name: str, run_name: str, status: str = "FINISHED", metrics: Mapping | None = None
) -> list[str]:
    """End the RUNNING run(s) called ``run_name`` in ``experiment_name`` with ``status``, after logging ``metrics``
    (a flat name -> number mapping) to them. Returns the ids of the runs ended; none exist when tracking was off.

    ``MLFLOW_TRACKING_URI`` in the environment takes priority over ``tracking_uri``, as in ``MLFlowHandler``. The
    name is compared as given, any character included (MLflow's filter strings cannot escape a quote in a name).
    """
    client = mlflow.MlflowClient(tracking_uri=None if os.environ.get("MLFLOW_TRACKING_URI") else tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment.experiment_id], filter_string="attributes.status = 'RUNNING'", page_token=token
        )
        runs += [run for run in page if run.info.run_name == run_name]
        token = page.token
        if not token:
            break
    for run in runs:
        for key, value in (metrics or {}).items():
            client.log_metric(run.info.run_id, key, float(value))
        client.set_terminated(run.info.run_id, status)
    return [run.info.run_id for run in runs]
