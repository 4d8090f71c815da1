"""Score the written prediction PNGs with the evaluation protocol when an evaluator's epoch ends."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from monai.utils import IgniteInfo, min_version, optional_import

from monai_pns.distributed import run_on_main_process
from monai_pns.evaluation import PAPER_COLUMNS, evaluate_predictions

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["EvaluationReport"]


class EvaluationReport:
    """At the end of an evaluation epoch, score the 8-bit prediction PNGs that a ``VPSPredictionWriter`` (attached
    before this handler) wrote, exactly as the reference toolboxes score files
    (``monai_pns.evaluation.evaluate_predictions``): per-video CSV, summary CSV/JSON/markdown in the paper's layout and
    the threshold-curve plots go to ``output_dir``. The summary values are put into ``engine.state.metrics`` as
    ``"<set>/<metric>"`` (e.g. ``"Synthetic-Test/maxDice"``), where a tracking handler attached after this one logs
    them; ``self.summary`` keeps the whole summary.

    Under ``torch.distributed`` each process writes the frames of its share of the data; this handler waits until
    every process has finished writing, scores the files once in process 0 and gives every process the summary
    (or process 0's error), so all of them hold the same metrics.

    Args:
        pred_root: the folder the writer fills (``<pred_root>/<case>/<frame>.png``); its name is the model name.
        output_dir: folder of the reports.
        datalist: the ground truth: a datalist dict or JSON file (``monai_pns.data.build_datalist``).
        data_list_key: the datalist key scored (default: the layout's ``eval_key``, see ``monai_pns.data.layouts``).
        mode: "matlab" or "sunseg" metric definitions (default: the layout's ``metric_mode``).
        metric_names: the summary values copied into ``engine.state.metrics`` (default: the paper's columns of the
            mode, plus maxDice).

    Examples::

        >>> handlers = [VPSPredictionWriter("runs/pred/PNSNet"),
        ...             EvaluationReport("runs/pred/PNSNet", "runs/evaluation", datalist=datalist)]
    """

    def __init__(
        self,
        pred_root: str | os.PathLike,
        output_dir: str | os.PathLike,
        datalist: str | os.PathLike | Mapping,
        data_list_key: str | None = None,
        mode: str | None = None,
        metric_names: tuple[str, ...] | None = None,
    ) -> None:
        self._evaluate = partial(
            evaluate_predictions, pred_root, output_dir, datalist=datalist, data_list_key=data_list_key, mode=mode
        )
        self.metric_names = metric_names
        self.summary: dict | None = None

    def attach(self, engine: Engine) -> None:
        if not engine.has_event_handler(self, Events.EPOCH_COMPLETED):
            engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        summary = run_on_main_process(self._evaluate)
        names = self.metric_names or tuple(dict.fromkeys(("maxDice", *PAPER_COLUMNS[summary["mode"]])))
        for model_results in summary["results"].values():
            for set_name, values in model_results.items():
                for name in names:
                    engine.state.metrics[f"{set_name}/{name}"] = float(values[name])
        self.summary = summary
