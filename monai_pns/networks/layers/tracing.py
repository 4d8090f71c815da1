from __future__ import annotations

import torch

__all__ = ["is_exporting"]


def is_exporting() -> bool:
    """True while ``torch.export``, ``torch.onnx.export`` (either exporter) or ``torch.jit.trace`` records the graph,
    and always in TorchScript compiled by ``torch.jit.script``.

    Networks use it to skip Python-side input checks and to pick export-friendly formulations.
    """
    if torch.jit.is_scripting():  # TorchScript compiles this branch alone
        return True
    return torch.compiler.is_exporting() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
