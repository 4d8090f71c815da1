from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from monai.utils import path_to_sqlite_uri

from monai_pns.bundle_errors import (
    BundleSettingError,
    check_clip_length,
    check_dataset_dir,
    check_settings,
    check_spatial_size,
    check_tracking_uri,
    error_line,
    install_error_hook,
    sqlite_path,
    unwrap_config_error,
)


@pytest.mark.parametrize(
    "value, message",
    [
        ([40, 64], 'spatial_size [40, 64] is not two positive multiples of 16 (the networks downsample a frame by 16): '
                   'pass e.g. --spatial_size "[32,64]".'),
        ([24, 56], 'spatial_size [24, 56] is not two positive multiples of 16 (the networks downsample a frame by 16): '
                   'pass e.g. --spatial_size "[32,64]".'),  # 40 / 16 = 2.5 above, 1.5 and 3.5 here: halves to even
        ((0, 250), 'spatial_size [0, 250] is not two positive multiples of 16 (the networks downsample a frame by 16): '
                   'pass e.g. --spatial_size "[16,256]".'),
        ([0, 256], 'spatial_size [0, 256] is not two positive multiples of 16 (the networks downsample a frame by 16): '
                   'pass e.g. --spatial_size "[16,256]".'),
        ([-16, 16], 'spatial_size [-16, 16] is not two positive multiples of 16 (the networks downsample a frame by 16): '
                    'pass e.g. --spatial_size "[16,16]".'),
        ([128], 'spatial_size must be [height, width], two integers, got [128]: pass e.g. --spatial_size "[128,224]".'),
        ("128", "spatial_size must be [height, width], two integers, got '128': "
                'pass e.g. --spatial_size "[128,224]".'),
        ([128.0, 224], "spatial_size must be [height, width], two integers, got [128.0, 224]: "
                       'pass e.g. --spatial_size "[128,224]".'),
    ],
)
def test_spatial_size_must_be_two_positive_multiples_of_16(value, message):
    with pytest.raises(BundleSettingError) as error:
        check_spatial_size(value)
    assert str(error.value) == message
    assert check_spatial_size((256, 448)) == [256, 448] and check_spatial_size([16, 16]) == [16, 16]


def test_dataset_dir_must_be_a_folder(tmp_path):
    (tmp_path / "file").write_text("")
    for path in (tmp_path / "missing", tmp_path / "file"):
        with pytest.raises(BundleSettingError, match=r"^dataset_dir '.*' is not a folder: pass --dataset_dir the root "
                                                     r"folder of the dataset\.$"):
            check_dataset_dir(path)
    assert check_dataset_dir(tmp_path) == tmp_path


def test_sqlite_path_reads_path_to_sqlite_uri(tmp_path):
    odd = tmp_path / "a b#c" / "mlruns.db"
    assert sqlite_path(path_to_sqlite_uri(odd)) == odd
    assert sqlite_path("sqlite:///mlruns.db?timeout=5") == Path("mlruns.db")
    assert sqlite_path("sqlite:///") is None  # no file named
    assert sqlite_path("sqlite://") is None and sqlite_path("http://127.0.0.1:5000") is None


def test_tracking_store_that_cannot_be_written(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    fix = "pass --tracking_uri a database in a writable folder, or --use_mlflow False."
    (tmp_path / "file").write_text("")
    uri = path_to_sqlite_uri(tmp_path / "file" / "mlruns.db")
    with pytest.raises(BundleSettingError) as error:
        check_tracking_uri(uri)
    assert str(error.value) == f"tracking_uri '{uri}': database folder '{tmp_path / 'file'}' exists and is not a " \
                               f"folder: {fix}"
    uri = path_to_sqlite_uri(tmp_path)
    with pytest.raises(BundleSettingError) as error:
        check_tracking_uri(uri)
    assert str(error.value) == f"tracking_uri '{uri}': '{tmp_path}' is a folder, not a database file: {fix}"

    # root may write anywhere: access() is made to say no for the locked paths
    locked, database = tmp_path / "locked", tmp_path / "kept" / "mlruns.db"
    locked.mkdir()
    database.parent.mkdir()
    database.write_bytes(b"")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) not in (locked, database) and real_access(p, mode))
    uri = path_to_sqlite_uri(locked / "runs" / "mlruns.db")
    with pytest.raises(BundleSettingError) as error:
        check_tracking_uri(uri)
    assert str(error.value) == f"tracking_uri '{uri}': database folder '{locked / 'runs'}': '{locked}' is not " \
                               f"writable: {fix}"
    with pytest.raises(BundleSettingError) as error:
        check_tracking_uri(path_to_sqlite_uri(database))
    assert str(error.value) == f"tracking_uri '{path_to_sqlite_uri(database)}': the database '{database}' is not " \
                               f"writable: {fix}"
    assert list(locked.iterdir()) == []


def test_the_environment_tracking_uri_is_the_one_checked(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    bad = path_to_sqlite_uri(tmp_path / "file" / "mlruns.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", bad)
    with pytest.raises(BundleSettingError) as error:
        check_tracking_uri(path_to_sqlite_uri(tmp_path / "mlruns.db"))
    assert str(error.value).startswith(f"MLFLOW_TRACKING_URI '{bad}' (it overrides tracking_uri): database folder ")
    assert str(error.value).endswith(": set MLFLOW_TRACKING_URI to a database in a writable folder, or --use_mlflow "
                                     "False.")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    check_tracking_uri(bad)  # a server is not checked, and the environment wins
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    check_tracking_uri(None)
    check_tracking_uri(path_to_sqlite_uri(tmp_path / "new" / "mlruns.db"))
    assert not (tmp_path / "new").exists()


def test_check_settings_names_the_output_dir_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "out"
    with pytest.raises(BundleSettingError) as error:
        check_settings(out, [32, 64], 5, tmp_path)
    assert str(error.value) == f"output_dir '{out}': '{tmp_path / 'file'}' is not a folder: pass --output_dir a " \
                               "writable folder."
    with pytest.raises(BundleSettingError, match="^spatial_size "):  # the settings first, then the files
        check_settings(out, [30, 64], 5, tmp_path / "missing")
    check_settings(tmp_path / "out", [32, 64], 5, tmp_path, path_to_sqlite_uri(tmp_path / "out" / "mlruns.db"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def _wrapped(error: Exception) -> RuntimeError:
    """``error`` as MONAI's config parser raises it: wrapped twice."""
    try:
        try:
            try:
                raise error
            except Exception as e:
                raise RuntimeError("Failed to evaluate ConfigExpression: $f(@x)") from e
        except Exception as e:
            raise RuntimeError("Failed to instantiate component 'A' with keywords: x\n set '_mode_=debug'") from e
    except RuntimeError as outer:
        return outer


def test_unwrap_config_error_stops_at_the_first_other_error():
    cause = ValueError("bad value")
    assert unwrap_config_error(_wrapped(cause)) is cause
    torch_error = RuntimeError("Error(s) in loading state_dict")
    assert unwrap_config_error(_wrapped(torch_error)) is torch_error
    assert unwrap_config_error(cause) is cause


def test_error_line():
    assert error_line(FileNotFoundError("checkpoint 'm.pt' does not exist.")) == \
        "error: checkpoint 'm.pt' does not exist."
    assert error_line(RuntimeError("Error(s) in loading state_dict:\n\tMissing key(s): 'a'.")) == \
        "error: RuntimeError: Error(s) in loading state_dict: Missing key(s): 'a'."
    assert error_line(KeyError()) == "error: KeyError"


def test_the_hook_is_only_for_the_bundle_command_line():
    hook = sys.excepthook
    assert install_error_hook() is False and sys.excepthook is hook  # pytest runs here, not monai.bundle


@pytest.fixture
def hook(monkeypatch):
    """``install_error_hook`` as in ``python -m monai.bundle``, over a recording previous hook; sys.excepthook is
    restored afterwards."""
    calls = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, error, tb: calls.append(error))
    monkeypatch.setattr("monai_pns.bundle_errors._runs_the_bundle_command", lambda: True)
    return calls


def test_a_user_error_ends_in_its_own_line_alone(hook, capsys):
    assert install_error_hook() is True
    sys.excepthook(RuntimeError, _wrapped(BundleSettingError("spatial_size [40, 64] is bad.")), None)
    assert hook == [] and capsys.readouterr().err == "error: spatial_size [40, 64] is bad.\n"


def test_debug_and_other_errors_print_the_traceback_first(hook, capsys):
    install_error_hook(debug=True)
    wrapped = _wrapped(ValueError("bad value"))
    sys.excepthook(RuntimeError, wrapped, None)
    assert hook == [wrapped] and capsys.readouterr().err == "error: bad value\n"
    install_error_hook(debug=False)  # installed again: one hook, the new setting
    bug = _wrapped(TypeError("f() takes 1 argument"))
    sys.excepthook(RuntimeError, bug, None)
    assert hook == [wrapped, bug] and capsys.readouterr().err == "error: TypeError: f() takes 1 argument\n"
    interrupt = KeyboardInterrupt()
    sys.excepthook(KeyboardInterrupt, interrupt, None)
    assert hook[-1] is interrupt and capsys.readouterr().err == ""


@pytest.mark.parametrize("value", [0, -3, 2.5, True, "5", None])
def test_check_clip_length_names_the_value(value):
    with pytest.raises(BundleSettingError, match=rf"clip_length must be >= 1, got clip_length={value!r}: pass --clip"):
        check_clip_length(value)
    assert check_clip_length(1) == 1 and check_clip_length(8) == 8
