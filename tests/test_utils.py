from __future__ import annotations

import argparse
import os
import stat
import warnings

import pytest
import torch

from monai_pns.utils import (
    EXIT_DATA_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    check_output_dir,
    check_output_file,
    figure_png,
    flatten_settings,
    package_versions,
    run_cli,
    save_atomic,
    write_atomic,
)


def test_write_atomic_creates_and_replaces(tmp_path):
    path = write_atomic(tmp_path / "sub" / "report.md", "first")
    assert path.read_text() == "first"
    write_atomic(path, b"second")
    assert path.read_bytes() == b"second"
    assert [p.name for p in path.parent.iterdir()] == ["report.md"]


def test_failed_write_keeps_the_old_file(tmp_path):
    path = write_atomic(tmp_path / "datalist.json", "good")
    with pytest.raises(TypeError):
        write_atomic(path, 12345)  # type: ignore[arg-type]
    assert path.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["datalist.json"]


class _Unpicklable:
    def __reduce__(self):
        raise RuntimeError("cannot be saved")


def test_save_atomic_writes_a_whole_checkpoint_or_none(tmp_path):
    path = save_atomic({"w": torch.arange(3.0)}, tmp_path / "model.pt")
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(3.0))
    with pytest.raises(RuntimeError, match="cannot be saved"):
        save_atomic({"w": torch.zeros(3), "f": _Unpicklable()}, path)  # fails while serialising: the file stays
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(3.0))
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_figure_png(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1))
    fig.subplots().plot([0, 1], [1, 0])
    png = figure_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == 200 and int.from_bytes(png[20:24], "big") == 100  # 2 x 1 in at 100 dpi


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_write_atomic_honours_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = write_atomic(tmp_path / f"report_{umask:o}.csv", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_check_output_dir(tmp_path):
    assert check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # nothing is created
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"output folder '.*file' exists and is not a folder"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(ValueError, match=r"'.*file' is not a folder"):
        check_output_dir(tmp_path / "file" / "sub", what="output folder")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() != 0:  # root writes anywhere
        with pytest.raises(ValueError, match="is not writable"):
            check_output_dir(locked / "out")


def test_run_cli_exit_codes(capsys):
    def bad_data(argv):
        raise ValueError("frame '3.jpg' is truncated")

    def usage(argv):
        argparse.ArgumentParser(prog="x").parse_args(["--nope"])

    assert run_cli(lambda argv: None) == EXIT_OK == 0
    assert run_cli(bad_data) == EXIT_DATA_ERROR == 1
    assert capsys.readouterr().err == "error: frame '3.jpg' is truncated\n"
    with pytest.raises(SystemExit) as exc:
        run_cli(usage)
    assert exc.value.code == EXIT_USAGE == 2


def test_run_cli_prints_a_warning_as_one_line(capsys):
    def warns(argv):
        warnings.warn("3 predictions were resized", stacklevel=2)

    shown = warnings.showwarning
    assert run_cli(warns) == EXIT_OK
    assert capsys.readouterr().err == "warning: 3 predictions were resized\n"  # no UserWarning, no source line
    assert warnings.showwarning is shown  # restored


def test_check_output_file(tmp_path):
    assert check_output_file(tmp_path / "new" / "datalist.json") == tmp_path / "new" / "datalist.json"
    assert not (tmp_path / "new").exists()
    with pytest.raises(ValueError, match=r"datalist '.*' is a folder"):
        check_output_file(tmp_path, "datalist")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"output file '.*file/out.json': folder '.*file' exists and is not a folder"):
        check_output_file(tmp_path / "file" / "out.json")


def test_flatten_settings():
    settings = {"network": "PNSNet", "network_kwargs": {}, "sizes": {"spatial": [64, 112], "clip": {"length": 5}}}
    assert flatten_settings(settings) == {
        "network": "PNSNet", "network_kwargs": "{}", "sizes.spatial": "[64, 112]", "sizes.clip.length": "5",
    }


def test_package_versions():
    import monai
    import torch

    versions = package_versions()
    assert versions["monai"] == monai.__version__
    assert versions["torch"] == torch.__version__
    assert "monai_pns" in versions
