"""EvaluationReport: the written predictions scored at the end of an evaluator's epoch, the summary's values put
into the engine's metrics."""

from __future__ import annotations

import json

import pytest
from ignite.engine import Engine

from monai_pns.data import build_datalist
from monai_pns.evaluation import evaluate_predictions
from monai_pns.handlers import EvaluationReport
from tests.evaluation.cases import blob, make_pnsnet_tree, write


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


def test_default_metrics_are_max_dice_and_the_paper_columns_of_the_mode(tmp_path):
    """Without metric_names, maxDice and the columns of the mode's published table (SUN-SEG's here) are put into the
    metrics, in that order."""
    refs = [str(write(tmp_path / "gt" / f"{n}.png", blob(n, shape=(16, 32)))) for n in range(3)]
    for n in range(3):
        write(tmp_path / "pred" / "Model" / "SetA" / "v" / f"{n}.png", blob(n, shape=(16, 32)))
    items = [{"case": "SetA/v", "source": "SetA", "image": refs, "label": refs}]
    engine = Engine(lambda engine, batch: None)
    report = EvaluationReport(tmp_path / "pred" / "Model", tmp_path / "report", datalist={"test": items}, mode="sunseg")
    report.attach(engine)
    engine.run([0])
    assert report.summary["mode"] == "sunseg"
    columns = ("maxDice", "S_alpha", "meanEm", "wF", "meanF", "meanDice", "meanSen")
    results = report.summary["results"]["Model"]
    assert list(engine.state.metrics.items()) == [(f"SetA/{m}", results["SetA"][m]) for m in columns]
