"""Small helpers shared by the packages of monai_pns: atomic writes and the command-line conventions."""

from __future__ import annotations

import io
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

__all__ = [
    "EXIT_DATA_ERROR",
    "EXIT_OK",
    "EXIT_USAGE",
    "USER_ERRORS",
    "check_output_dir",
    "check_output_file",
    "figure_png",
    "flatten_settings",
    "package_versions",
    "run_cli",
    "save_atomic",
    "umask_mode",
    "write_atomic",
]

#: exit codes shared by every monai_pns command line: success, bad data (unreadable file, missing folder,
#: wrong checkpoint, unwritable output) and bad usage (argparse's own code for unknown or missing arguments)
EXIT_OK, EXIT_DATA_ERROR, EXIT_USAGE = 0, 1, 2
#: errors a user fixes (bad data or settings, missing or unwritable files): reported by their message alone
USER_ERRORS = (ValueError, OSError)


def umask_mode(mode: int = 0o666) -> int:
    """``mode`` with the process umask applied: the mode ``open()`` would give a new file (0o777 for a folder)."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    An existing file is only ever replaced by a completely written one; on any error the temporary file is removed
    and ``path`` is left as it was. Parent folders are created. The file gets the umask's mode (as ``open()``
    would give it), not ``mkstemp``'s private 0600.
    """
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def save_atomic(obj: object, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` through :func:`write_atomic` (a complete file or none)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return write_atomic(path, buffer.getvalue())


def figure_png(fig) -> bytes:
    """A matplotlib ``Figure`` laid out tightly and rendered as PNG bytes (100 dpi)."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def check_output_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Check, before any work, that ``path`` can be a folder to write into: it is a writable folder, or it does
    not exist and its nearest existing parent is a writable folder. Nothing is created.

    Raises:
        ValueError: naming ``path`` and the reason (a file is in the way, a parent is not a folder or not writable).
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} '{path}' exists and is not a folder.")
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{what} '{path}': '{probe}' is not a folder.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"{what} '{path}': '{probe}' is not writable.")
    return path


def check_output_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """Check, before any work, that ``path`` can be written as a file: it is not a folder, and its folder exists or
    can be created (see :func:`check_output_dir`). Nothing is created.

    Raises:
        ValueError: naming ``path`` and the reason.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValueError(f"{what} '{path}' is a folder.")
    check_output_dir(path.parent, f"{what} '{path}': folder")
    return path


def run_cli(main: Callable[[Sequence[str] | None], object], argv: Sequence[str] | None = None) -> int:
    """Run a command-line ``main`` with the shared exit-code convention and return the code.

    ``main`` returns normally (``EXIT_OK``); a user error (``ValueError``, ``OSError``: bad data, missing or unwritable
    files) prints one ``error: ...`` line on stderr instead of a traceback (``EXIT_DATA_ERROR``); argparse's usage
    errors exit with ``EXIT_USAGE`` by themselves; Ctrl-C exits with 130. A warning ``main`` issues prints as one
    ``warning: ...`` line on stderr (its message alone: no category, no source line).
    """
    with warnings.catch_warnings():  # restores the way warnings are shown when main is done
        warnings.showwarning = _show_warning
        try:
            main(argv)
        except USER_ERRORS as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_DATA_ERROR
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    return EXIT_OK


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr if file is None else file)


def package_versions() -> dict[str, str]:
    """Versions of monai_pns and the packages its results depend on (for experiment records)."""
    from importlib.metadata import PackageNotFoundError, version

    names = ("monai_pns", "monai", "torch", "pytorch-ignite", "numpy", "opencv-python-headless", "mlflow")
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def flatten_settings(settings: dict, prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": 1}, "c": [2, 3]}`` -> ``{"a.b": "1", "c": "[2, 3]"}``: nested settings as flat string
    parameters (MLflow's parameter form)."""
    flat: dict[str, str] = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten_settings(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat
