"""Random symmetric crop resized back to the input size, one draw for all keys and frames."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Randomizable, Resize
from monai.utils import ensure_tuple_rep

__all__ = ["RandSymmetricCropResized"]


class RandSymmetricCropResized(Randomizable, MapTransform):
    """Crop ``c`` pixels from every side of the last two (H, W) axes and resize back to (H, W).

    ``c`` is drawn uniformly from ``0..max_crop`` once per call and applied to every key and every frame, so a
    clip (C, T, H, W) and its label stay aligned and frames stay consistent (the released PNS-Net augmentation:
    up to 15 px for images, 7 for clips). Inputs (C, H, W) and (C, T, H, W) are accepted.

    Args:
        keys: keys to crop.
        max_crop: largest margin removed on each side, in pixels.
        prob: probability of cropping at all.
        mode: interpolation per key for the resize back (``"bilinear"`` for images, ``"nearest"`` for labels).
        allow_missing_keys: don't raise when a key is missing.

    Examples::

        >>> crop = RandSymmetricCropResized(keys=("image", "label"), max_crop=7, mode=("bilinear", "nearest"))
        >>> d = crop({"image": torch.rand(3, 5, 256, 448), "label": torch.zeros(1, 5, 256, 448)})
        >>> d["image"].shape  # (3, 5, 256, 448)
    """

    def __init__(
        self,
        keys: KeysCollection,
        max_crop: int = 7,
        prob: float = 1.0,
        mode: str | tuple[str, ...] = "bilinear",
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        if max_crop < 0:
            raise ValueError(f"max_crop must be >= 0, got max_crop={max_crop}.")
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got prob={prob}.")
        self.max_crop = max_crop
        self.prob = prob
        self.mode = ensure_tuple_rep(mode, len(self.keys))
        self.crop = 0

    def randomize(self, data: object = None) -> None:
        do_crop = self.R.random_sample() < self.prob
        margin = int(self.R.randint(self.max_crop + 1))
        self.crop = margin if do_crop else 0

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        self.randomize()
        c = self.crop
        for key, mode in self.key_iterator(d, self.mode):
            img = d[key]
            if img.ndim not in (3, 4):
                raise ValueError(f"key '{key}': expected (C, H, W) or (C, T, H, W), got shape {tuple(img.shape)}.")
            h, w = img.shape[-2:]
            if 2 * self.max_crop >= min(h, w):
                raise ValueError(f"key '{key}': max_crop={self.max_crop} px per side is too large for size {(h, w)}.")
            if c > 0:
                size = (h, w) if img.ndim == 3 else (-1, h, w)
                d[key] = Resize(spatial_size=size, mode=mode)(img[..., c : h - c, c : w - c])
        return d
