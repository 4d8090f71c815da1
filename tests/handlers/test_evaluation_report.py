"""EvaluationReport: the written predictions scored at the end of an evaluator's epoch, the summary's values put
into the engine's metrics."""

from __future__ import annotations

import json

import pytest
from ignite.engine import Engine

from monai_pns.data import build_datalist
from monai_pns.evaluation import evaluate_predictions
from monai_pns.handlers import EvaluationReport
from tests.evaluation.cases import make_pnsnet_tree


def test_scores_the_predictions_into_the_engine_metrics(tmp_path):
    root, perfect, model, _ = make_pnsnet_tree(tmp_path)
    datalist = build_datalist("pnsnet", root)
    engine = Engine(lambda engine, batch: None)
    report = EvaluationReport(model, tmp_path / "report", datalist=datalist, metric_names=("maxDice", "MAE"))
    report.attach(engine)
    with pytest.warns(UserWarning, match="resized"):
        engine.run([0])
    with pytest.warns(UserWarning, match="resized"):
        expected = evaluate_predictions(model, tmp_path / "direct", datalist=datalist)
    assert report.summary == expected  # the same call, from the handler
    assert json.loads((tmp_path / "report" / "summary.json").read_text()) == report.summary
    assert engine.state.metrics == {f"{s}/{m}": expected["results"]["Noisy"][s][m]
                                    for s in ("CVC-300", "CVC-612-T") for m in ("maxDice", "MAE")}
