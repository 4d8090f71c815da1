from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine, Events
from monai.engines import SupervisedTrainer
from monai.handlers import LrScheduleHandler

from monai_pns.handlers import AtomicDiskSaver, BestModelSaver, TrainingState, latest_checkpoint, require_checkpoint


def _setup(save_dir, max_epochs, stop_after=None, n_saved=1, resume=True):
    torch.manual_seed(0)
    net = torch.nn.Linear(2, 1)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    data = [{"image": torch.ones(1, 2) * i, "label": torch.ones(1, 1)} for i in range(3)]
    state = TrainingState(save_dir, {"network": net, "optimizer": opt, "lr_scheduler": sched}, n_saved=n_saved,
                          resume=resume)
    trainer = SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=max_epochs, train_data_loader=data, network=net, optimizer=opt,
        loss_function=torch.nn.MSELoss(), train_handlers=[LrScheduleHandler(sched, print_lr=False), state],
    )
    if stop_after is not None:
        @trainer.on(Events.EPOCH_COMPLETED(once=stop_after))
        def _interrupt(engine):
            raise KeyboardInterrupt

    return trainer, net, opt, state


def _interrupted_after_epoch_2(save_dir) -> None:
    interrupted, _, _, _ = _setup(save_dir, 4, stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        interrupted.run()
    assert latest_checkpoint(save_dir).name == "checkpoint_epoch=2.pt"


def test_resume_continues_where_an_interrupted_run_stopped(tmp_path):
    reference, ref_net, ref_opt, _ = _setup(tmp_path / "ref", 4)
    reference.run()
    _interrupted_after_epoch_2(tmp_path / "run")

    resumed, net, opt, state = _setup(tmp_path / "run", 4)
    assert state.resumed_from == tmp_path / "run" / "checkpoint_epoch=2.pt"
    resumed.run()
    assert resumed.state.epoch == 4 and resumed.state.iteration == 12
    for a, b in zip(net.parameters(), ref_net.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert opt.param_groups[0]["lr"] == ref_opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**4)
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["checkpoint_epoch=4.pt"]  # epoch 2's file pruned


def test_resume_false_starts_afresh_beside_an_earlier_run(tmp_path):
    reference, ref_net, _, _ = _setup(tmp_path / "ref", 1)
    reference.run()
    _interrupted_after_epoch_2(tmp_path / "run")
    fresh, net, _, state = _setup(tmp_path / "run", 1, resume=False)
    assert state.resumed_from is None
    fresh.run()
    assert fresh.state.epoch == 1 and fresh.state.iteration == 3  # from the start, not from the saved epoch 2
    for a, b in zip(net.parameters(), ref_net.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_latest_checkpoint_orders_epochs_numerically(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    for n in (2, 10, 9):
        (tmp_path / f"checkpoint_epoch={n}.pt").write_bytes(b"")
    (tmp_path / "checkpoint_key_metric=0.9.pt").write_bytes(b"")
    assert latest_checkpoint(tmp_path).name == "checkpoint_epoch=10.pt"


def test_require_checkpoint(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"x")
    assert require_checkpoint(tmp_path / "model.pt") == str(tmp_path / "model.pt")
    with pytest.raises(FileNotFoundError, match=r"checkpoint '.*missing.pt' does not exist: run pretraining first\."):
        require_checkpoint(tmp_path / "missing.pt", "run pretraining first")


def test_trainer_in_save_dict_is_refused(tmp_path):
    with pytest.raises(ValueError, match="must not hold 'trainer'"):
        TrainingState(tmp_path, {"trainer": object()})


class _Unpicklable:
    def __reduce__(self):
        raise RuntimeError("interrupted mid-write")


def test_atomic_saver_never_leaves_a_partial_file(tmp_path):
    saver = AtomicDiskSaver(tmp_path / "state")
    saver({"w": torch.arange(3)}, "checkpoint_epoch=1.pt")
    with pytest.raises(RuntimeError, match="interrupted mid-write"):
        saver({"w": torch.arange(3), "bad": _Unpicklable()}, "checkpoint_epoch=1.pt")
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["checkpoint_epoch=1.pt"]
    assert torch.equal(torch.load(tmp_path / "state" / "checkpoint_epoch=1.pt", weights_only=True)["w"], torch.arange(3))
    saver.remove("checkpoint_epoch=1.pt")
    assert list((tmp_path / "state").iterdir()) == []


def test_best_model_saver_writes_only_on_a_new_best(tmp_path):
    net = torch.nn.Linear(2, 1)
    scores = iter([0.5, 0.4, 0.7, 0.7])
    evaluator = Engine(lambda e, b: None)
    path = tmp_path / "model.pt"
    saved = []

    @evaluator.on(Events.EPOCH_COMPLETED)
    def _score(engine):  # what MONAI's Workflow does for its key metric, before other handlers
        value = next(scores)
        if engine.state.epoch == 1 or value > engine.state.best_metric:
            engine.state.best_metric, engine.state.best_metric_epoch = value, engine.state.epoch

    evaluator.state.best_metric, evaluator.state.best_metric_epoch = -1, -1
    BestModelSaver(path, net).attach(evaluator)

    @evaluator.on(Events.EPOCH_COMPLETED)
    def _record(engine):
        saved.append(torch.load(path, weights_only=True)["weight"].clone() if path.exists() else None)
        with torch.no_grad():
            net.weight.add_(1.0)

    evaluator.run([0], max_epochs=4)
    assert saved[0] is not None and torch.equal(saved[1], saved[0])  # epoch 2 is worse: file unchanged
    assert torch.equal(saved[2], saved[0] + 2)  # epoch 3 is the new best
    assert torch.equal(saved[3], saved[2])  # a tie is not a new best



def test_best_model_saver_saves_a_wrapped_network_unwrapped(tmp_path):
    """A network wrapped in (Distributed)DataParallel is saved without the wrapper's ``module.`` prefix, with and
    without ``network_config``: the file loads strictly into the bare network."""
    net = torch.nn.Linear(2, 1)
    wrapped = torch.nn.DataParallel(net)
    assert list(wrapped.state_dict()) == ["module.weight", "module.bias"]
    evaluator = Engine(lambda e, b: None)
    evaluator.state.best_metric_epoch = evaluator.state.epoch = 1
    BestModelSaver(tmp_path / "plain.pt", wrapped)(evaluator)
    BestModelSaver(tmp_path / "model.pt", wrapped, network_config={"name": "Linear"})(evaluator)
    for state in (torch.load(tmp_path / "plain.pt", weights_only=True),
                  torch.load(tmp_path / "model.pt", weights_only=True)["model"]):
        bare = torch.nn.Linear(2, 1)
        bare.load_state_dict(state, strict=True)
        assert torch.equal(bare.weight, net.weight) and torch.equal(bare.bias, net.bias)

def test_models_carry_their_network_config_and_still_load_and_resume(tmp_path):
    """With ``network_config``, the best model is ``{"model": weights, "network_config": ...}`` and every epoch
    checkpoint holds it too; MONAI's ``CheckpointLoader`` loads the best model and resuming works as before."""
    from monai.handlers import CheckpointLoader

    config = {"name": "Linear", "kwargs": {"in_features": 2}, "spatial_size": [4, 8]}
    net = torch.nn.Linear(2, 1)
    evaluator = Engine(lambda e, b: None)
    evaluator.state.best_metric_epoch = 1
    evaluator.state.epoch = 1
    BestModelSaver(tmp_path / "model.pt", net, network_config=config)(evaluator)
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    assert saved["network_config"] == config and torch.equal(saved["model"]["weight"], net.weight)
    other = torch.nn.Linear(2, 1)
    CheckpointLoader(str(tmp_path / "model.pt"), {"model": other})(Engine(lambda e, b: None))
    assert torch.equal(other.weight, net.weight)

    torch.manual_seed(0)
    net = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    data = [{"image": torch.ones(1, 2), "label": torch.ones(1, 1)}]

    def trainer(epochs):
        state = TrainingState(tmp_path / "state", {"network": net, "optimizer": opt}, network_config=config)
        return SupervisedTrainer(device=torch.device("cpu"), max_epochs=epochs, train_data_loader=data, network=net,
                                 optimizer=opt, loss_function=torch.nn.MSELoss(), train_handlers=[state])

    trainer(1).run()
    assert torch.load(tmp_path / "state" / "checkpoint_epoch=1.pt", weights_only=True)["network_config"] == config
    resumed = trainer(2)
    resumed.run()
    assert resumed.state.iteration == 2 and latest_checkpoint(tmp_path / "state").name == "checkpoint_epoch=2.pt"


def _epochs(folder):
    return sorted(int(p.name[len("checkpoint_epoch="):-3]) for p in folder.iterdir())


def test_the_newest_n_saved_are_kept_across_a_resumed_run(tmp_path):
    first, _, _, _ = _setup(tmp_path, 3, n_saved=2)
    first.run()
    assert _epochs(tmp_path) == [2, 3]
    resumed, _, _, state = _setup(tmp_path, 4, n_saved=2)  # its own Checkpoint knows only epoch 4
    resumed.run()
    assert state.resumed_from.name == "checkpoint_epoch=3.pt" and _epochs(tmp_path) == [3, 4]


@pytest.mark.parametrize("n_saved", [0, -1])
def test_n_saved_below_one_is_refused(tmp_path, n_saved):
    with pytest.raises(ValueError, match=rf"n_saved must be >= 1, got n_saved={n_saved}\."):
        TrainingState(tmp_path, {}, n_saved=n_saved)
    assert TrainingState(tmp_path, {}, n_saved=1).n_saved == 1  # the boundary itself is accepted
