"""Helpers shared by the network tests: state dicts of random tensors in the layouts of shared/reference/*.json."""

from __future__ import annotations

import json
from pathlib import Path

import torch

# Copies of shared/reference/*.json (key names, shapes and dtypes of the released checkpoints; no weights).
REFERENCE_DIR = Path(__file__).resolve().parents[1] / "testing_data"

_DTYPES = {"float32": torch.float32, "int64": torch.int64}


def reference_layout(arch: str) -> dict:
    """The parsed ``<arch>_official_state_dict.json`` (arch: ``pnsnet`` or ``pnsplus``)."""
    return json.loads((REFERENCE_DIR / f"{arch}_official_state_dict.json").read_text())


def random_official_state_dict(arch: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with exactly the JSON's names, shapes and dtypes (and order), holding random values.

    Running variances are positive and weights small, so that a network loading it computes finite outputs.
    """
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for entry in reference_layout(arch)["keys"]:
        shape, dtype, name = entry["shape"], _DTYPES[entry["dtype"]], entry["name"]
        if dtype == torch.int64:
            state[name] = torch.randint(0, 1000, shape, generator=generator, dtype=dtype)
        elif name.endswith("running_var"):
            state[name] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[name] = torch.randn(shape, generator=generator) * 0.1
    return state
