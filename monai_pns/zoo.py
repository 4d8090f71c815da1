"""What the bundle's configs ask of the MONAI bundle machinery, the model-zoo way: the bundle's own folder, wherever
the configs are run from."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

from monai.bundle import ConfigWorkflow

__all__ = ["config_bundle_root"]


def config_bundle_root() -> str:
    """The absolute path of the bundle whose configs are being run.

    Under a MONAI ``ConfigWorkflow`` (``python -m monai.bundle run``, ``monai.bundle.run``, the model zoo's tests),
    it is the folder MONAI itself takes as the bundle root (and puts on ``sys.path``): the parent of the first config
    file's ``configs`` folder, or that file's folder. Parsed without a workflow (``ConfigParser``, as
    ``verify_net_in_out`` and ``ckpt_export`` do), it is the working directory, MONAI's default ``bundle_root`` there.

    Examples::

        "bundle_root": "$monai_pns.zoo.config_bundle_root()"
    """
    frame = inspect.currentframe()
    while frame is not None:
        workflow = frame.f_locals.get("self")
        if isinstance(workflow, ConfigWorkflow):
            root = Path(workflow.config_root_path)
            return str((root.parent if root.name == "configs" else root).resolve())
        frame = frame.f_back
    return os.getcwd()
