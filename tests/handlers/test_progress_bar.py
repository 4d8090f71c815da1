from __future__ import annotations

import sys

from ignite.engine import Engine

from monai_pns.handlers import ProgressBarHandler


def test_bar_shows_the_transformed_output(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    engine = Engine(lambda e, batch: [{"loss": 0.25 * batch}])
    ProgressBarHandler(output_transform=lambda out: out[0]["loss"], desc="finetune", persist=True).attach(engine)
    engine.run([1, 2, 3], max_epochs=1)
    err = capsys.readouterr().err
    assert "finetune" in err and "loss=0.75" in err and "3/3" in err


def test_disabled_bar_prints_nothing(capsys):
    engine = Engine(lambda e, batch: batch)
    ProgressBarHandler(disable=True).attach(engine)
    engine.run([1, 2], max_epochs=1)
    assert capsys.readouterr().err == ""


def test_no_bar_when_standard_error_is_not_a_terminal(capsys):
    """Output sent to a file or a pipe (capsys: not a terminal) gets no redraws, only what the engine prints."""
    engine = Engine(lambda e, batch: [{"loss": 0.25 * batch}])
    ProgressBarHandler(output_transform=lambda out: out[0]["loss"], desc="finetune", persist=True).attach(engine)
    engine.run([1, 2, 3], max_epochs=2)
    assert capsys.readouterr().err == ""
