from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import DataLoader, Dataset
from monai.transforms import Compose
from monai.utils import set_determinism

from monai_pns.transforms.window import RandClipWindowd, clip_window, window_starts


def _case(n: int) -> dict:
    return {"image": [f"{i}.jpg" for i in range(n)], "label": [f"{i}.png" for i in range(n)], "case": "c"}


@pytest.mark.parametrize(
    "n, t, stride, exclude, expected",
    [
        (12, 5, 1, True, range(1, 7)),  # windows 1-5 .. 6-10: neither frame 0 nor frame 11
        (12, 5, 1, False, range(0, 8)),
        (12, 5, 2, True, range(1, 3)),  # span 9 within frames 1..10: starts 1 and 2
        (6, 5, 1, True, range(0, 2)),  # too short to keep the ends out: they are allowed
        (3, 5, 1, True, range(-1, 0)),  # shorter than the window: centred, edges repeated
        # every length around the window's span (5, or 9 with stride 2), ends excluded and not
        (7, 5, 1, True, range(1, 2)),  # exactly span + 2: one window, frames 1-5, neither end
        (7, 5, 1, False, range(0, 3)),
        (11, 5, 2, True, range(1, 2)),  # span 9 + 2: frames 1, 3, .., 9
        (10, 5, 2, True, range(0, 2)),  # span 9 + 1: the ends cannot both be left out
        (5, 5, 1, True, range(0, 1)),  # exactly the span
        (5, 5, 1, False, range(0, 1)),
        (4, 5, 1, True, range(0, 1)),  # one short (odd shortfall 1): start 0, the last frame repeated
        (2, 5, 1, True, range(-1, 0)),  # shortfall 3: -(3 // 2) = -1
        (1, 5, 1, True, range(-2, -1)),  # shortfall 4 (even): the single frame in the middle
        (1, 1, 1, True, range(0, 1)),
    ],
)
def test_window_starts(n, t, stride, exclude, expected):
    assert window_starts(n, t, stride, exclude) == expected


def test_clip_window_pads_with_edge_frames():
    assert clip_window(-1, 3, 5) == [0, 0, 1, 2, 2]
    assert clip_window(2, 12, 3, stride=3) == [2, 5, 8]
    assert clip_window(0, 1, 4) == [0, 0, 0, 0]


def test_draws_cover_all_starts_and_never_the_ends():
    sample = RandClipWindowd(keys=("image", "label"), clip_length=5)
    sample.set_random_state(0)
    starts = set()
    for _ in range(200):
        d = sample(_case(12))
        idx = d["frame_index"]
        assert idx == list(range(idx[0], idx[0] + 5)) and 0 not in idx and 11 not in idx
        assert d["image"] == [f"{i}.jpg" for i in idx] and d["label"] == [f"{i}.png" for i in idx]
        assert d["case"] == "c"
        starts.add(idx[0])
    assert starts == set(range(1, 7))


def test_anchor_and_stride():
    d = RandClipWindowd(keys="image", clip_length=3, stride=2, anchor=True)(_case(12))
    assert len(d["image"]) == 4 and d["frame_index"][0] == 0
    first = d["frame_index"][1]
    assert d["frame_index"][1:] == [first, first + 2, first + 4] and first >= 1


def test_short_case_is_padded():
    d = RandClipWindowd(keys=("image", "label"), clip_length=5)(_case(2))
    assert d["frame_index"] == [0, 0, 1, 1, 1] and d["image"] == ["0.jpg", "0.jpg", "1.jpg", "1.jpg", "1.jpg"]


def test_tensors_after_loading():
    image = torch.arange(12.0).reshape(1, 12, 1, 1).expand(3, 12, 2, 2)
    label = torch.arange(12.0).reshape(1, 12, 1, 1)
    sample = RandClipWindowd(keys=("image", "label"), clip_length=5)
    sample.set_random_state(1)
    d = sample({"image": image, "label": label.numpy()})
    assert d["image"].shape == (3, 5, 2, 2) and d["label"].shape == (1, 5, 1, 1)
    assert d["image"][0, :, 0, 0].tolist() == [float(i) for i in d["frame_index"]]
    assert d["label"][0, :, 0, 0].tolist() == [float(i) for i in d["frame_index"]]


def test_reproducible_with_monai_seeding():
    sample = RandClipWindowd(keys=("image", "label"), clip_length=5)
    draws = []
    for _ in range(2):
        sample.set_random_state(7)
        draws.append([sample(_case(30))["frame_index"][0] for _ in range(10)])
    assert draws[0] == draws[1] and len(set(draws[0])) > 1

    def epoch():
        set_determinism(seed=3)
        loader = DataLoader(Dataset([_case(30)] * 8, Compose([sample])), batch_size=1, num_workers=0)
        return [int(b["frame_index"][0]) for b in loader]

    try:
        first, second = epoch(), epoch()
    finally:
        set_determinism(None)
    assert first == second and len(set(first)) > 1


def test_errors():
    with pytest.raises(ValueError, match="clip_length=0"):
        RandClipWindowd(keys="image", clip_length=0)
    with pytest.raises(ValueError, match="stride=0"):
        RandClipWindowd(keys="image", stride=0)
    with pytest.raises(ValueError, match="different numbers of frames"):
        RandClipWindowd(keys=("image", "label"))({"image": ["a"] * 6, "label": ["b"] * 5})
    with pytest.raises(ValueError, match="key 'image': expected a list of frames"):
        RandClipWindowd(keys="image")({"image": np.zeros((3, 4, 4))})
    with pytest.raises(ValueError, match="none of the keys"):
        RandClipWindowd(keys="image", allow_missing_keys=True)({"label": ["a"]})


def test_an_empty_case_is_refused_with_its_count():
    """0 frames is below the limit of 1: no window (clamping to frame -1 would read the last ref of nothing)."""
    with pytest.raises(ValueError, match=r"num_frames=0, clip_length=5, stride=1"):
        window_starts(0, 5)
    with pytest.raises(ValueError, match=r"clip_length=0"):
        window_starts(5, 0)
    with pytest.raises(ValueError, match=r"stride=0"):
        window_starts(5, 5, stride=0)
    with pytest.raises(ValueError, match=r"num_frames=0"):
        RandClipWindowd(keys="image")({"image": []})


def test_draws_with_the_ends_allowed():
    """exclude_ends=False: every window of 5 within frames 0..11 is drawn, the first and the last frame included."""
    sample = RandClipWindowd(keys="image", clip_length=5, exclude_ends=False)
    sample.set_random_state(0)
    starts = set()
    for _ in range(200):
        idx = sample(_case(12))["frame_index"]
        assert idx == list(range(idx[0], idx[0] + 5))
        starts.add(idx[0])
    assert starts == set(range(0, 8))


def test_strided_draws_stay_inside_the_case():
    """stride 2, 3 frames: span 5; within frames 1..10 the starts are 1..6 (frames s, s + 2, s + 4, never clamped)."""
    sample = RandClipWindowd(keys="image", clip_length=3, stride=2)
    sample.set_random_state(0)
    starts = set()
    for _ in range(200):
        idx = sample(_case(12))["frame_index"]
        assert idx == [idx[0], idx[0] + 2, idx[0] + 4]
        starts.add(idx[0])
    assert starts == set(range(1, 7))


def test_tuples_of_refs():
    """A case whose refs are tuples (not lists) is cut like a list; the window comes back as a list of refs."""
    case = {"image": tuple(f"{i}.jpg" for i in range(12)), "label": tuple(f"{i}.png" for i in range(12))}
    sample = RandClipWindowd(keys=("image", "label"), clip_length=5)
    sample.set_random_state(0)
    d = sample(case)
    idx = d["frame_index"]
    assert len(idx) == 5 and 1 <= idx[0] <= 6
    assert d["image"] == [f"{i}.jpg" for i in idx] and d["label"] == [f"{i}.png" for i in idx]


def test_index_key_of_another_name():
    d = RandClipWindowd(keys="image", clip_length=3, index_key="window")(_case(12))
    assert "frame_index" not in d and d["image"] == [f"{i}.jpg" for i in d["window"]] and len(d["window"]) == 3
