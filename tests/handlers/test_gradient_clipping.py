from __future__ import annotations

import pytest
import torch
from monai.engines import SupervisedTrainer

from monai_pns.handlers import GradientClipping


def _trainer(net, lr, handlers):
    data = [{"image": torch.full((1, 1), 10.0), "label": torch.zeros(1, 1)}]
    return SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=1, train_data_loader=data, network=net,
        optimizer=torch.optim.SGD(net.parameters(), lr=lr), loss_function=torch.nn.MSELoss(), train_handlers=handlers,
    )


@pytest.mark.parametrize("clip", [0.5, 2.0])
def test_each_gradient_element_is_clamped_before_the_step(clip):
    net = torch.nn.Linear(1, 1)
    with torch.no_grad():
        net.weight.fill_(1.0)
        net.bias.fill_(0.0)
    # loss (10 w + b)^2: d/dw = 2 * 10 * 10 = 200, d/db = 20, both clamped to `clip`; SGD with lr 1 subtracts them
    _trainer(net, 1.0, [GradientClipping(clip)]).run()
    assert net.weight.item() == pytest.approx(1.0 - clip)
    assert net.bias.item() == pytest.approx(-clip)


def test_unclipped_reference_moves_further():
    net = torch.nn.Linear(1, 1)
    with torch.no_grad():
        net.weight.fill_(1.0)
        net.bias.fill_(0.0)
    _trainer(net, 1e-3, []).run()
    assert net.weight.item() == pytest.approx(1.0 - 0.2)


def test_bad_clip_value():
    with pytest.raises(ValueError, match="clip_value=0"):
        GradientClipping(0)
