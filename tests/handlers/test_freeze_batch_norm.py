from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from monai.engines import SupervisedTrainer

from monai_pns.handlers import FreezeBatchNorm


def _net():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2), torch.nn.Conv2d(2, 1, 1))
    with torch.no_grad():  # statistics far from those of the data, as after phase 1 on other data
        net[1].running_mean.copy_(torch.tensor([3.0, -2.0]))
        net[1].running_var.copy_(torch.tensor([4.0, 0.25]))
    return net


def _run(net, handlers, epochs=2):
    torch.manual_seed(1)
    data = [{"image": torch.randn(4, 1, 5, 5), "label": torch.rand(4, 1, 5, 5)} for _ in range(3)]
    seen = []  # (input, output, weight, bias) of the BN layer at every training forward
    hook = net[1].register_forward_hook(
        lambda m, args, out: seen.append((args[0].detach(), out.detach(), m.weight.detach().clone(),
                                          m.bias.detach().clone()))
    )
    SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=epochs, train_data_loader=data, network=net,
        optimizer=torch.optim.SGD(net.parameters(), lr=0.1), loss_function=torch.nn.MSELoss(), train_handlers=handlers,
    ).run()
    hook.remove()
    return seen


def test_running_statistics_are_used_and_kept_while_affine_weights_train():
    net = _net()
    bn = net[1]
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    weight = bn.weight.detach().clone()
    seen = _run(net, [FreezeBatchNorm()])
    assert len(seen) == 6
    for x, out, w, b in seen:  # every training forward normalised with the running statistics
        torch.testing.assert_close(out, F.batch_norm(x, mean, var, w, b, training=False, eps=bn.eps))
    assert torch.equal(bn.running_mean, mean) and torch.equal(bn.running_var, var)
    assert bn.num_batches_tracked.item() == 0
    assert not torch.allclose(bn.weight, weight)  # the affine weights did train
    assert not torch.equal(seen[0][2], seen[-1][2])


def test_without_the_handler_batch_statistics_are_used_and_the_running_ones_drift():
    net = _net()
    bn = net[1]
    mean = bn.running_mean.clone()
    x, out, w, b = _run(net, [], epochs=1)[0]
    torch.testing.assert_close(out, F.batch_norm(x, None, None, w, b, training=True, eps=bn.eps))
    assert not torch.allclose(bn.running_mean, mean)
    assert bn.num_batches_tracked.item() == 3


def test_hooks_are_removed_when_the_trainer_completes():
    net = _net()
    handler = FreezeBatchNorm()
    _run(net, [handler], epochs=1)
    mean = net[1].running_mean.clone()
    net.train()
    net(torch.randn(4, 1, 5, 5))
    assert not torch.allclose(net[1].running_mean, mean)
    assert net[1].num_batches_tracked.item() == 1


def test_sync_batch_norm_and_nested_layers_are_frozen_too():
    net = torch.nn.Sequential(torch.nn.Sequential(torch.nn.BatchNorm3d(1)), torch.nn.SyncBatchNorm(1))
    handler = FreezeBatchNorm()
    engine = type("Engine", (), {"network": net})()
    handler.freeze(engine)
    net.train()
    net(torch.randn(2, 1, 2, 3, 3))  # SyncBatchNorm in evaluation mode runs without a process group
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert len(norms) == 2 and not any(m.training for m in norms)
    assert all(m.num_batches_tracked.item() == 0 for m in norms)
    handler.release()
    net.train()
    net[0](torch.randn(2, 1, 2, 3, 3))
    assert norms[0].training and norms[0].num_batches_tracked.item() == 1


def test_a_failed_run_keeps_the_hooks_until_the_next_run_replaces_and_releases_them():
    from ignite.engine import Events

    net = _net()
    handler = FreezeBatchNorm()
    data = [{"image": torch.randn(4, 1, 5, 5), "label": torch.rand(4, 1, 5, 5)}]

    def trainer():
        return SupervisedTrainer(
            device=torch.device("cpu"), max_epochs=1, train_data_loader=data, network=net,
            optimizer=torch.optim.SGD(net.parameters(), lr=0.1), loss_function=torch.nn.MSELoss(),
            train_handlers=[handler],
        )

    failing = trainer()

    @failing.on(Events.ITERATION_COMPLETED)
    def _fail(engine):
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        failing.run()
    net.train()
    net(torch.randn(4, 1, 5, 5))
    assert net[1].num_batches_tracked.item() == 0  # the failed run's hooks still hold
    trainer().run()  # the next phase's run freezes afresh (the old hooks go first) and releases at its end
    assert net[1].num_batches_tracked.item() == 0
    net.train()
    net(torch.randn(4, 1, 5, 5))
    assert net[1].training and net[1].num_batches_tracked.item() == 1  # no hook of either run is left
