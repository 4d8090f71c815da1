"""Per-frame random corruption of a clip: each frame drawn on its own, so its neighbours can stand in for it."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Randomizable
from monai.utils import MAX_SEED

__all__ = ["RandFramewised"]


class RandFramewised(Randomizable, MapTransform):
    """Apply an array ``transform`` to single frames of a clip (C, T, H, W), each frame with probability ``prob``.

    The frames are drawn once per call and shared by all keys; every chosen frame (C, H, W) goes through
    ``transform`` on its own (a random ``transform`` draws again for each frame). Frames that are not chosen are
    returned unchanged, and so is the clip's meta data. With a degradation as ``transform`` (blur, an occluding
    patch) a clip holds frames that are hard alone but clear in their neighbours: the situation temporal attention
    is for, and a static model cannot learn from.

    Args:
        keys: keys of the clips (C, T, H, W) to corrupt, usually ``"image"`` only.
        transform: called on one frame (C, H, W); returns a frame of the same shape.
        prob: probability that a frame is transformed, drawn independently per frame.
        allow_missing_keys: don't raise when a key is missing.

    Examples::

        >>> from monai.transforms import GaussianSmooth
        >>> blur = RandFramewised(keys="image", transform=GaussianSmooth(sigma=3.0), prob=0.2)
        >>> blur({"image": torch.rand(3, 5, 64, 96)})["image"].shape  # (3, 5, 64, 96)
    """

    def __init__(
        self, keys: KeysCollection, transform: Callable, prob: float = 0.1, allow_missing_keys: bool = False
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got prob={prob}.")
        self.transform = transform
        self.prob = prob
        self.chosen = np.zeros(0, bool)

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None):
        super().set_random_state(seed, state)
        if isinstance(self.transform, Randomizable):
            self.transform.set_random_state(seed=int(self.R.randint(MAX_SEED, dtype="uint32")))
        return self

    def randomize(self, num_frames: int) -> None:
        self.chosen = self.R.random_sample(num_frames) < self.prob

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        shapes = {key: tuple(d[key].shape) for key in self.key_iterator(d)}
        for key, shape in shapes.items():
            if len(shape) != 4:
                raise ValueError(f"key '{key}': expected a clip (C, T, H, W), got shape {shape}.")
        frames = {shape[1] for shape in shapes.values()}
        if len(frames) > 1:
            raise ValueError(f"keys {list(shapes)} have different frame counts: {shapes}.")
        self.randomize(frames.pop() if frames else 0)
        chosen = np.flatnonzero(self.chosen)
        if chosen.size == 0:  # nothing to corrupt: no copy (prob 0 is the bundle's default)
            return d
        for key, (channels, _, *size) in shapes.items():
            clip = d[key].clone()
            for t in chosen:
                frame = self.transform(clip[:, t])
                if tuple(frame.shape) != (channels, *size):
                    raise ValueError(f"key '{key}': the transform changed a frame's shape {(channels, *size)} "
                                     f"to {tuple(frame.shape)}.")
                clip[:, t] = torch.as_tensor(frame, dtype=clip.dtype, device=clip.device)
            d[key] = clip
        return d
