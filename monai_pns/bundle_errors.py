"""The bundle's settings checked before a run writes anything, and the one line a failed run ends with.

``python -m monai.bundle run`` wraps every error of a config expression in ``RuntimeError: Failed to evaluate
ConfigExpression ...`` (once per level of references): the sentence that says what is wrong sits in the middle of a
long traceback. The bundle's ``initialize`` first installs :func:`install_error_hook`, which makes a failed run end
with that sentence, then runs :func:`check_settings`, which refuses a setting that cannot work with a
:class:`BundleSettingError` naming the setting, its value and what to pass instead.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote

from monai_pns.utils import USER_ERRORS, check_output_dir

__all__ = [
    "SIZE_MULTIPLE",
    "BundleSettingError",
    "check_clip_length",
    "check_dataset_dir",
    "check_settings",
    "check_spatial_size",
    "check_tracking_uri",
    "error_line",
    "install_error_hook",
    "sqlite_path",
    "unwrap_config_error",
]

#: the networks downsample a frame by 16 (PNS-Net's deepest features, MONAI's UNet with 4 strides of 2)
SIZE_MULTIPLE = 16
_MONAI_WRAPPERS = ("Failed to evaluate ", "Failed to instantiate component ")


class BundleSettingError(ValueError):
    """A bundle setting that cannot work: the message names the setting's config id, its value and what to pass."""


def check_spatial_size(spatial_size: object, multiple: int = SIZE_MULTIPLE) -> list[int]:
    """``spatial_size`` as ``[height, width]`` when both are positive multiples of ``multiple``.

    Raises:
        BundleSettingError: naming the value and a size that would work (each side rounded to a multiple).
    """
    size = list(spatial_size) if isinstance(spatial_size, (list, tuple)) else []
    if len(size) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) for s in size):
        raise BundleSettingError(
            f"spatial_size must be [height, width], two integers, got {spatial_size!r}: "
            f'pass e.g. --spatial_size "[128,224]".'
        )
    if any(s <= 0 or s % multiple for s in size):
        fixed = [max(multiple, round(s / multiple) * multiple) for s in size]
        raise BundleSettingError(
            f"spatial_size {size} is not two positive multiples of {multiple} (the networks downsample a frame by "
            f'{multiple}): pass e.g. --spatial_size "[{fixed[0]},{fixed[1]}]".'
        )
    return size


def check_clip_length(clip_length: object) -> int:
    """``clip_length`` (T, frames per clip) when it is a positive integer.

    Raises:
        BundleSettingError: naming the value.
    """
    if isinstance(clip_length, bool) or not isinstance(clip_length, int) or clip_length < 1:
        raise BundleSettingError(
            f"clip_length must be >= 1, got clip_length={clip_length!r}: pass --clip_length a number of frames "
            "(e.g. 5)."
        )
    return clip_length


def check_dataset_dir(dataset_dir: str | os.PathLike) -> Path:
    """``dataset_dir`` as a path when it is a folder (its layout is checked when the datalist is built).

    Raises:
        BundleSettingError: naming the path.
    """
    path = Path(dataset_dir).expanduser()
    if not path.is_dir():
        raise BundleSettingError(
            f"dataset_dir '{dataset_dir}' is not a folder: pass --dataset_dir the root folder of the dataset."
        )
    return path


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///<path>`` tracking URI (``path_to_sqlite_uri``'s form), None for any other
    store (a server, a database in memory)."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix) or len(tracking_uri) == len(prefix):
        return None
    return Path(unquote(tracking_uri[len(prefix) :].split("?")[0]))


def check_tracking_uri(tracking_uri: str | None) -> None:
    """Check that MLflow can write the SQLite database of ``tracking_uri`` (``MLFLOW_TRACKING_URI`` in the
    environment takes priority, as in MLflow): it is a writable file, or it can be created (its folder is a writable
    folder, or can be created). Other stores are not checked; nothing is created. MLflow itself retries an
    unwritable database for minutes and then names no path.

    Raises:
        BundleSettingError: naming the setting (``tracking_uri`` or ``MLFLOW_TRACKING_URI``), the path and the reason.
    """
    from_environment = os.environ.get("MLFLOW_TRACKING_URI")
    uri = from_environment or tracking_uri
    database = sqlite_path(uri) if uri else None
    if database is None:
        return
    if from_environment:
        setting, fix = f"MLFLOW_TRACKING_URI '{uri}' (it overrides tracking_uri)", "set MLFLOW_TRACKING_URI to"
    else:
        setting, fix = f"tracking_uri '{uri}'", "pass --tracking_uri"
    fix = f"{fix} a database in a writable folder, or --use_mlflow False."
    if database.is_dir():
        raise BundleSettingError(f"{setting}: '{database}' is a folder, not a database file: {fix}")
    if database.exists() and not os.access(database, os.W_OK):
        raise BundleSettingError(f"{setting}: the database '{database}' is not writable: {fix}")
    try:
        check_output_dir(database.parent, f"{setting}: database folder")
    except ValueError as err:
        raise BundleSettingError(f"{str(err).rstrip('.')}: {fix}") from None


def check_settings(
    output_dir: str | os.PathLike,
    spatial_size: object,
    clip_length: object,
    dataset_dir: str | os.PathLike,
    tracking_uri: str | None = None,
) -> None:
    """The checks a bundle run makes in ``initialize``, before it writes anything: ``spatial_size``
    (:func:`check_spatial_size`), ``clip_length`` (:func:`check_clip_length`), ``dataset_dir``
    (:func:`check_dataset_dir`), ``output_dir`` (a folder that can be written, ``monai_pns.utils.check_output_dir``)
    and the MLflow store (:func:`check_tracking_uri`; pass None when tracking is off).

    Raises:
        BundleSettingError: the first setting that cannot work.
    """
    check_spatial_size(spatial_size)
    check_clip_length(clip_length)
    check_dataset_dir(dataset_dir)
    try:
        check_output_dir(output_dir, "output_dir")
    except ValueError as err:
        raise BundleSettingError(f"{str(err).rstrip('.')}: pass --output_dir a writable folder.") from None
    check_tracking_uri(tracking_uri)


def unwrap_config_error(error: BaseException) -> BaseException:
    """The error behind MONAI's ``RuntimeError: Failed to evaluate ...`` / ``Failed to instantiate component ...``
    wrappers around it (none: ``error`` itself)."""
    while type(error) is RuntimeError and error.__cause__ is not None and str(error).startswith(_MONAI_WRAPPERS):
        error = error.__cause__
    return error


def error_line(error: BaseException) -> str:
    """``error: <message>`` on one line (line breaks of the message become spaces); the exception's type is named
    when it is not a user error (``ValueError``, ``OSError``)."""
    message = re.sub(r"\s*\n\s*", " ", str(error).strip())
    if not isinstance(error, USER_ERRORS):
        message = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return f"error: {message or type(error).__name__}"


class _OneLineErrors:
    """``sys.excepthook`` of a bundle run: see :func:`install_error_hook`."""

    def __init__(self, previous: Callable, debug: bool) -> None:
        self.previous = previous
        self.debug = debug

    def __call__(self, kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if not isinstance(error, Exception):  # Ctrl-C (KeyboardInterrupt) and the like: as Python reports them
            self.previous(kind, error, tb)
            return
        cause = unwrap_config_error(error)
        if self.debug or not isinstance(cause, USER_ERRORS):
            self.previous(kind, error, tb)
        sys.stdout.flush()
        print(error_line(cause), file=sys.stderr, flush=True)


def _runs_the_bundle_command() -> bool:
    """Whether this process is ``python -m monai.bundle ...`` (also under torchrun)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec is not None and spec.name == "monai.bundle.__main__"


def install_error_hook(debug: bool = False) -> bool:
    """In a ``python -m monai.bundle`` process, make an error that ends the process end its output with one line,
    ``error: <message>``, the message of the error behind MONAI's config wrappers (:func:`unwrap_config_error`).
    A user error (``ValueError``, ``OSError``: bad settings, data or files) prints that line alone; any other error
    (a bug) prints its traceback first, as does every error with ``debug``. The exit code stays Python's: 1.
    Installing it again only changes ``debug``. A program that runs the bundle itself (``monai.bundle.run``,
    ``ConfigWorkflow``) keeps its own ``sys.excepthook``. Returns whether the hook is installed.
    """
    if not _runs_the_bundle_command():
        return False
    previous = sys.excepthook
    if isinstance(previous, _OneLineErrors):
        previous = previous.previous
    sys.excepthook = _OneLineErrors(previous, bool(debug))
    return True

