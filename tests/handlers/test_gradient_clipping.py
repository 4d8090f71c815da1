from __future__ import annotations

import warnings

import pytest
import torch
from ignite.engine import Events
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


def _scaled_trainer(clip, amp, scale=1024.0):
    """The trainer above with a CPU ``GradScaler`` in place of the CUDA one MONAI makes: under ``amp`` the loss is
    scaled by ``scale`` before ``backward``, so the gradients seen at BACKWARD_COMPLETED are ``scale`` times the
    true ones (MONAI's autocast is CUDA-only and is disabled here, which leaves the float32 forward unchanged)."""
    net = torch.nn.Linear(1, 1)
    with torch.no_grad():
        net.weight.fill_(1.0)
        net.bias.fill_(0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.cuda.amp.GradScaler / autocast("cuda") without CUDA
        trainer = SupervisedTrainer(
            device=torch.device("cpu"), max_epochs=1, network=net,
            train_data_loader=[{"image": torch.full((1, 1), 10.0), "label": torch.zeros(1, 1)}],
            optimizer=torch.optim.SGD(net.parameters(), lr=1.0), loss_function=torch.nn.MSELoss(),
            train_handlers=[GradientClipping(clip)], amp=amp,
        )
        # Trainer.run makes its scaler: replaced when the run starts, before the first iteration
        trainer.add_event_handler(
            Events.STARTED, lambda engine: setattr(engine, "scaler", torch.amp.GradScaler("cpu", init_scale=scale)))
        trainer.run()
    return net, trainer


@pytest.mark.parametrize("clip", [0.5, 2.0])
def test_amp_gradients_are_unscaled_before_clipping(clip):
    # true gradients 200 and 20 (see above), scaled to 204800 and 20480: unscaled first, they clamp to `clip` and
    # the step moves by `clip`; clamped while scaled, the scaler's step would divide `clip` by 1024 afterwards
    net, trainer = _scaled_trainer(clip, amp=True)
    assert trainer.amp and type(trainer.scaler) is torch.amp.GradScaler and trainer.scaler.get_scale() == 1024.0  # no inf found: the step was taken, scale kept
    assert net.weight.item() == pytest.approx(1.0 - clip, abs=1e-6)
    assert net.bias.item() == pytest.approx(-clip, abs=1e-6)


def test_a_scaler_without_amp_is_left_alone():
    # amp off: the loss is not scaled, and unscaling would divide the true gradients by 1024 (or fail: nothing
    # was scaled); the clipped step is the plain one
    net, _ = _scaled_trainer(0.5, amp=False)
    assert net.weight.item() == pytest.approx(0.5, abs=1e-6) and net.bias.item() == pytest.approx(-0.5, abs=1e-6)
