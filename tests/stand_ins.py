"""Stand-ins shared by the tests of the pipeline pieces: a tiny generated video set, small networks, a
batch-independent PNS-Net and the environment torchrun gives a single process."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from monai.data import load_decathlon_datalist

from monai_pns.data.synthetic import generate_synthetic_dataset
from monai_pns.distributed import finalize_distributed
from monai_pns.networks import PNSNet


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


class ExactPNSNet(PNSNet):
    """``PNSNet`` for comparing a batch split over processes with the whole batch in one process: its batch norms
    normalise with fixed statistics in training mode too (those of one seeded random batch of 32 x 64 images,
    measured at construction), so an item's output and gradient depend on that item alone, and it computes in
    float64 (float32 inputs and outputs), so sums taken in another order agree to ~1e-12 instead of the ~1e-2
    (relative) that float32 gives the first convolution's weight gradient. Use ``dropout=0``."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.double()
        for norm in self._batch_norms():
            norm.momentum = 1.0  # the running statistics become those of the calibration batch
        with torch.no_grad():
            torch.nn.Module.train(self, True)(torch.randn(4, 3, 32, 64, generator=torch.Generator().manual_seed(0)))
        self.train()

    def _batch_norms(self) -> list[torch.nn.Module]:
        return [m for m in self.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]

    def train(self, mode: bool = True) -> ExactPNSNet:
        super().train(mode)
        for norm in self._batch_norms():
            norm.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.double()).float()


class PixelLogits(torch.nn.Module):
    """A learnable elementwise network: logits = a 1 x 1 convolution of each pixel's channels, for images
    (B, 3, H, W) and clips (B, 3, T, H, W); with ``fail_on_rank``, the ``fail_at``-th forward pass in that
    ``torch.distributed`` process raises (a process that dies in the middle of a run)."""

    def __init__(self, fail_on_rank: int | None = None, fail_at: int = 1) -> None:
        super().__init__()
        self.conv = torch.nn.Conv3d(3, 1, kernel_size=1)
        self.fail_on_rank = fail_on_rank
        self.fail_at = fail_at
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.fail_on_rank == torch.distributed.get_rank() and self.calls == self.fail_at:
            raise RuntimeError(f"process {self.fail_on_rank} fails at forward pass {self.calls}")
        return self.conv(x) if x.ndim == 5 else self.conv(x[:, :, None])[:, :, 0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def world_of_one(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment torchrun gives a single process; the group and the SIGTERM handler are undone afterwards."""
    env = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"}
    for name, value in {**env, "MASTER_PORT": str(free_port())}.items():
        monkeypatch.setenv(name, value)
    handler = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        finalize_distributed()
        signal.signal(signal.SIGTERM, handler)
