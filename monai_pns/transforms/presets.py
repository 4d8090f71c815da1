"""Ready-made transform chains for the PNS-Net protocol (the bundle's JSON configs spell out the same chains)."""

from __future__ import annotations

from collections.abc import Sequence

from monai.transforms import (
    Compose,
    NormalizeIntensityd,
    RandFlipd,
    RandScaleIntensityd,
    RandShiftIntensityd,
    Resized,
)

from monai_pns.transforms.crop import RandSymmetricCropResized
from monai_pns.transforms.loading import LoadFramesd
from monai_pns.transforms.window import RandClipWindowd

__all__ = ["PNS_MEAN", "PNS_STD", "eval_transforms", "train_transforms"]

#: the channel-wise mean and std the released PNS-Net code intends to normalise with (RGB, images in [0, 1])
PNS_MEAN = (0.4733, 0.4487, 0.3949)
PNS_STD = (0.2267, 0.2201, 0.2238)


def _resize_normalize(
    keys: Sequence[str], clip: bool, spatial_size: Sequence[int], normalize: bool, mean, std
) -> tuple[list, list]:
    size = [-1, *spatial_size] if clip else list(spatial_size)
    resize = [Resized(keys=keys, spatial_size=size, mode=("bilinear", "nearest")[: len(keys)])]
    norm = [NormalizeIntensityd(keys="image", subtrahend=mean, divisor=std, channel_wise=True)] if normalize else []
    return resize, norm


def train_transforms(
    clip_length: int | None = 5,
    stride: int = 1,
    anchor: bool = False,
    exclude_ends: bool = True,
    spatial_size: Sequence[int] = (256, 448),
    max_crop: int | None = None,
    flip_prob: float = 0.5,
    intensity_prob: float = 0.5,
    normalize: bool = True,
    mean: Sequence[float] = PNS_MEAN,
    std: Sequence[float] = PNS_STD,
    load_whole_case: bool = False,
    mask_threshold: int = 128,
) -> Compose:
    """Training chain: sample (clips) -> load -> resize -> crop/flip/intensity (one draw per clip) -> normalise.

    Output: ``"image"`` (3, T, H, W) and ``"label"`` (1, T, H, W) for clips (T = ``clip_length``, + 1 with
    ``anchor``), or (3, H, W) / (1, H, W) for single images when ``clip_length`` is None (phase 1).

    Args:
        clip_length: frames per training clip; None for single-image datalists.
        stride, anchor, exclude_ends: see :class:`RandClipWindowd`.
        spatial_size: (H, W) after resizing.
        max_crop: symmetric crop margin; default 7 for clips and 15 for images (the released values).
        flip_prob: probability of a horizontal flip.
        intensity_prob: probability of each small intensity change (scale by up to 10 %, shift by up to 0.05);
            0 reproduces the released protocol, which has none.
        normalize: subtract ``mean`` and divide by ``std`` per channel. The release intends this but, through a
            bug, trains on images in [0, 1]: ``normalize=False`` reproduces that.
        load_whole_case: load and resize the whole case before drawing the window, so that everything before the
            first random transform can be cached by ``monai.data.CacheDataset`` (needs the memory for it).
        mask_threshold: see :class:`LoadFramesd`.

    Examples::

        >>> t = train_transforms(clip_length=5)
        >>> d = t({"image": frame_paths, "label": mask_paths})  # d["image"]: (3, 5, 256, 448)
    """
    keys = ["image", "label"]
    clip = clip_length is not None
    crop = max_crop if max_crop is not None else (7 if clip else 15)
    load = [LoadFramesd(keys=keys, mask_threshold=mask_threshold)]
    resize, norm = _resize_normalize(keys, clip, spatial_size, normalize, mean, std)
    window = []
    if clip:
        window = [RandClipWindowd(keys=keys, clip_length=clip_length, stride=stride, exclude_ends=exclude_ends,
                                  anchor=anchor)]
    head = load + resize + window if load_whole_case else window + load + resize
    augment = [
        RandSymmetricCropResized(keys=keys, max_crop=crop, mode=("bilinear", "nearest")),
        RandFlipd(keys=keys, prob=flip_prob, spatial_axis=-1),
        RandScaleIntensityd(keys="image", factors=0.1, prob=intensity_prob),
        RandShiftIntensityd(keys="image", offsets=0.05, prob=intensity_prob),
    ]
    return Compose(head + augment + norm)


def eval_transforms(
    clip: bool = True,
    spatial_size: Sequence[int] = (256, 448),
    normalize: bool = True,
    mean: Sequence[float] = PNS_MEAN,
    std: Sequence[float] = PNS_STD,
    with_label: bool = True,
    mask_threshold: int = 128,
) -> Compose:
    """Deterministic chain for validation/testing items (clips from :func:`expand_sequential_clips`, or images).

    Examples::

        >>> t = eval_transforms()
        >>> clips = [t(c) for c in expand_sequential_clips(cases, clip_length=5)]
    """
    keys = ["image", "label"] if with_label else ["image"]
    resize, norm = _resize_normalize(keys, clip, spatial_size, normalize, mean, std)
    return Compose([LoadFramesd(keys=keys, mask_threshold=mask_threshold)] + resize + norm)
