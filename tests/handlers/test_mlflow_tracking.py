from __future__ import annotations

import mlflow
import pytest
import torch
from ignite.engine import Engine, Events
from monai.engines import SupervisedTrainer
from monai.handlers import from_engine
from monai.utils import path_to_sqlite_uri

from monai_pns.handlers import PhaseMLFlowHandler, TrainingState, end_mlflow_run


def _trainer(handlers, epochs=2):
    net = torch.nn.Linear(2, 1)
    data = [{"image": torch.ones(1, 2), "label": torch.zeros(1, 1)}] * 3
    return SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=epochs, train_data_loader=data, network=net,
        optimizer=torch.optim.SGD(net.parameters(), lr=0.01), loss_function=torch.nn.MSELoss(), train_handlers=handlers,
    )


def _handler(uri, prefix, **kwargs):
    return PhaseMLFlowHandler(
        prefix=prefix, tracking_uri=uri, experiment_name="exp", run_name="run-1", tag_name="loss",
        output_transform=from_engine(["loss"], first=True), **kwargs,
    )


def _runs(uri):
    client = mlflow.MlflowClient(uri)
    return client, client.search_runs([client.get_experiment_by_name("exp").experiment_id])


def test_two_phases_log_into_one_run_with_prefixes_then_finish(tmp_path):
    """Two phases log into one run; end_mlflow_run ends the RUNNING runs of exactly that name."""
    uri = path_to_sqlite_uri(str(tmp_path / "mlruns.db"))
    _trainer([_handler(uri, "pretrain/", experiment_param={"seed": 3})], epochs=2).run()
    _trainer([_handler(uri, "finetune/", experiment_param={"seed": 3})], epochs=1).run()
    client, runs = _runs(uri)
    assert len(runs) == 1 and runs[0].info.status == "RUNNING"
    run_id = runs[0].info.run_id
    assert [m.step for m in client.get_metric_history(run_id, "pretrain/loss")] == [1, 2, 3, 4, 5, 6]
    assert [m.step for m in client.get_metric_history(run_id, "finetune/loss")] == [1, 2, 3]
    assert len(client.get_metric_history(run_id, "finetune/lr_group_0")) == 3
    assert runs[0].data.params["seed"] == "3"

    assert end_mlflow_run(uri, "exp", "run-1", metrics={"test/maxDice": 0.75}) == [run_id]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.metrics["test/maxDice"] == 0.75
    assert end_mlflow_run(uri, "exp", "run-1") == []  # nothing RUNNING any more
    assert end_mlflow_run(uri, "no such experiment", "run-1") == []

    # MLflow's filter strings cannot escape a quote: names are compared as given, quotes and backslashes included
    names = ["Ann's run", 'say "hi"', "both ' and \"", "back\\slash", "Ann", "Ann's run 2"]
    ids = {name: client.create_run(run.info.experiment_id, run_name=name).info.run_id for name in names}
    for name in names[:4]:
        assert end_mlflow_run(uri, "exp", name, metrics={"test/maxDice": 0.5}) == [ids[name]]
        ended = client.get_run(ids[name])
        assert ended.info.status == "FINISHED" and ended.data.metrics["test/maxDice"] == 0.5
    assert [client.get_run(ids[name]).info.status for name in names[4:]] == ["RUNNING", "RUNNING"]


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_an_exception_marks_the_run_failed_and_propagates(tmp_path, error):
    uri = path_to_sqlite_uri(str(tmp_path / "mlruns.db"))
    trainer = _trainer([_handler(uri, "pretrain/")], epochs=3)

    @trainer.on(Events.ITERATION_COMPLETED(once=4))
    def _fail(engine: Engine):
        raise error

    with pytest.raises(type(error)):
        trainer.run()
    _, runs = _runs(uri)
    assert [r.info.status for r in runs] == ["FAILED"]
    assert runs[0].data.tags["error"] == f"{type(error).__name__}: {error}"
    assert end_mlflow_run(uri, "exp", "run-1") == []  # a failed run stays failed


def test_artifacts_go_under_the_phase_folder(tmp_path):
    uri = path_to_sqlite_uri(str(tmp_path / "mlruns.db"))
    (tmp_path / "model.pt").write_bytes(b"weights")
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "train.json").write_text("{}")
    artifacts = [str(tmp_path / "model.pt"), str(tmp_path / "configs"), str(tmp_path / "not_there.pt")]
    _trainer([_handler(uri, "pretrain/", artifacts=artifacts)], epochs=1).run()
    _trainer([_handler(uri, "", artifacts=[str(tmp_path / "model.pt")])], epochs=1).run()
    client, runs = _runs(uri)
    run_id = runs[0].info.run_id
    assert sorted(a.path for a in client.list_artifacts(run_id)) == ["model.pt", "pretrain"]
    assert sorted(a.path for a in client.list_artifacts(run_id, "pretrain")) == ["pretrain/configs", "pretrain/model.pt"]
    assert [a.path for a in client.list_artifacts(run_id, "pretrain/configs")] == ["pretrain/configs/train.json"]


def test_an_engine_with_no_epoch_left_adds_no_run(tmp_path):
    """A finished phase run again resumes after its last epoch: it runs none, and the handler starts no run."""
    uri = path_to_sqlite_uri(str(tmp_path / "mlruns.db"))
    _trainer([_handler(uri, "pretrain/", close_on_complete=True), TrainingState(tmp_path / "state", {})]).run()
    again = _trainer([_handler(uri, "pretrain/", close_on_complete=True), TrainingState(tmp_path / "state", {})])
    again.run()
    assert (again.state.epoch, again.state.iteration) == (2, 6)  # resumed: no iteration ran
    client, runs = _runs(uri)
    assert [r.info.status for r in runs] == ["FINISHED"]
    assert len(client.get_metric_history(runs[0].info.run_id, "pretrain/loss")) == 6
