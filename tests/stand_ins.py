"""Stand-ins shared by the tests of the pipeline pieces: a tiny generated video set and an elementwise network."""

from __future__ import annotations

from pathlib import Path

import torch
from monai.data import load_decathlon_datalist

from monai_pns.data.synthetic import generate_synthetic_dataset


def synthetic_test_videos(root: Path) -> tuple[Path, list[dict]]:
    """Two synthetic test videos of 12 frames of 48 x 80 in the PNS-Net layout (the second shows a polyp), and
    their datalist cases as a user loads them."""
    root = generate_synthetic_dataset(root, num_train_videos=0, num_test_videos=2, num_frames=12, num_images=0,
                                      height=48, width=80)
    return root, load_decathlon_datalist(str(root / "datalist.json"), data_list_key="test")


class RedLogits(torch.nn.Module):
    """An elementwise stand-in network: logits = 2 (red - green - blue), (B, 3, [T,] H, W) -> (B, 1, [T,] H, W);
    a frame's prediction depends on that frame alone, whatever clip it comes in."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2.0 * (x[:, :1] - x[:, 1:2] - x[:, 2:3])
