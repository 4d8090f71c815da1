"""Fixtures shared by the bundle's test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from monai_pns.data import generate_synthetic_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A tiny synthetic set (4 training videos of 7 frames, 2 test videos, 1 image, 32x64), one per test module;
    test_bundle.py defines its own."""
    root = tmp_path_factory.mktemp("data") / "synthetic"
    generate_synthetic_dataset(
        root, num_train_videos=4, num_test_videos=2, num_frames=7, num_images=1, height=32, width=64
    )
    return root
