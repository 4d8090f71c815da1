from __future__ import annotations

import pytest
import torch
from ignite.engine import Events
from monai.engines import SupervisedTrainer

from monai_pns.handlers import GradientClipping, HoldParameters


def _run(epochs_held: int, max_epochs: int, extra=()):
    """Two linear layers trained by Adam with weight decay, the first held for ``epochs_held`` epochs. Returns the
    parameters at the start and after each epoch, the optimizer and the network."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
    data = [{"image": torch.randn(2, 3), "label": torch.randn(2, 1)} for _ in range(3)]
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1, weight_decay=0.1)
    trainer = SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=max_epochs, train_data_loader=data, network=net, optimizer=optimizer,
        loss_function=torch.nn.MSELoss(), train_handlers=[HoldParameters(net[0].parameters(), epochs_held), *extra],
    )
    snapshots = [[p.detach().clone() for p in net.parameters()]]
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: snapshots.append([p.detach().clone() for p in
                                                                                  net.parameters()]))
    trainer.run()
    return snapshots, optimizer, net


def _moved(before, after):
    return [not torch.equal(b, a) for b, a in zip(before, after)]


@pytest.mark.parametrize("clipped", [False, True])
def test_held_parameters_do_not_move_until_their_epochs_are_over(clipped):
    snapshots, _, _ = _run(epochs_held=2, max_epochs=3, extra=[GradientClipping(0.5)] if clipped else [])
    # parameters: layer 0 weight, bias (held), layer 1 weight, bias
    assert _moved(snapshots[0], snapshots[1]) == [False, False, True, True]
    assert _moved(snapshots[1], snapshots[2]) == [False, False, True, True]  # epoch 2 = epochs: still held
    assert _moved(snapshots[2], snapshots[3]) == [True, True, True, True]  # epoch 3: trains


def test_no_optimizer_state_or_weight_decay_while_held():
    _, optimizer, net = _run(epochs_held=1, max_epochs=1)
    assert all(p not in optimizer.state for p in net[0].parameters())
    assert all(p in optimizer.state for p in net[1].parameters())


def test_zero_epochs_holds_nothing():
    snapshots, _, _ = _run(epochs_held=0, max_epochs=1)
    assert _moved(snapshots[0], snapshots[1]) == [True] * 4


def test_negative_epochs():
    with pytest.raises(ValueError, match="epochs must be >= 0, got epochs=-1"):
        HoldParameters([], epochs=-1)
