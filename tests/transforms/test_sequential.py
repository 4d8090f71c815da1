from __future__ import annotations

import pytest
import torch
from monai.data import DataLoader, Dataset, decollate_batch, load_decathlon_datalist
from monai.transforms import Compose, Resized

from monai_pns.data.synthetic import generate_synthetic_dataset
from monai_pns.transforms.loading import LoadFramesd
from monai_pns.transforms.sequential import (
    SequentialClipsd,
    expand_frames,
    expand_sequential_clips,
    sequential_windows,
)


def test_twelve_frames_last_clip_shifted():
    windows = sequential_windows(12, 5)
    assert [w for w, _ in windows] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [7, 8, 9, 10, 11]]
    assert windows[2][1] == [False, False, False, True, True] and all(windows[0][1]) and all(windows[1][1])
    assert sequential_windows(10, 5) == [([0, 1, 2, 3, 4], [True] * 5), ([5, 6, 7, 8, 9], [True] * 5)]


@pytest.mark.parametrize("t", [1, 2, 5, 6])
def test_every_frame_written_once(t):
    for n in range(1, 24):
        written = [i for window, writes in sequential_windows(n, t) for i, w in zip(window, writes) if w]
        assert sorted(written) == list(range(n))
        assert all(len(window) == t for window, _ in sequential_windows(n, t))


def test_short_video():
    assert sequential_windows(3, 5) == [([0, 0, 1, 2, 2], [True, False, True, True, False])]
    # shortfalls of 1, 3 and 4 frames: centred by -(shortfall // 2), like window_starts
    assert sequential_windows(4, 5) == [([0, 1, 2, 3, 3], [True, True, True, True, False])]
    assert sequential_windows(2, 5) == [([0, 0, 1, 1, 1], [True, False, True, False, False])]
    assert sequential_windows(1, 5) == [([0] * 5, [True] + [False] * 4)]


@pytest.mark.parametrize("n, starts", [(5, [0]), (6, [0, 1]), (9, [0, 4]), (10, [0, 5]), (11, [0, 5, 6])])
def test_lengths_at_multiples_of_the_clip_length(n, starts):
    """A length that is a multiple of T needs no shifted clip; one frame more needs one."""
    assert [indices[0] for indices, _ in sequential_windows(n, 5)] == starts


def test_clips_with_bookkeeping():
    case = {"image": [f"{i}.jpg" for i in range(12)], "label": [f"{i}.png" for i in range(12)], "case": "v"}
    clips = SequentialClipsd(keys=("image", "label"), clip_length=5)(case)
    assert len(clips) == 3 and all(c["case"] == "v" for c in clips)
    assert clips[2]["image"] == [f"{i}.jpg" for i in range(7, 12)] and clips[2]["label"][0] == "7.png"
    assert clips[2]["frame_path"] == clips[2]["image"] and clips[2]["frame_index"] == [7, 8, 9, 10, 11]
    anchored = SequentialClipsd(keys="image", clip_length=5, anchor=True)(case)
    assert anchored[1]["frame_index"] == [0, 5, 6, 7, 8, 9] and anchored[1]["frame_write"][0] is False
    assert anchored[0]["frame_write"] == [False] + [True] * 5


def test_tensor_case():
    image = torch.arange(7.0).reshape(1, 7, 1, 1)
    clips = SequentialClipsd(keys="image", clip_length=3)({"image": image})
    assert [c["image"].flatten().tolist() for c in clips] == [[0, 1, 2], [3, 4, 5], [4, 5, 6]]
    assert "frame_path" not in clips[0]


def test_expand_and_monai_pipeline():
    cases = [{"image": [f"a{i}" for i in range(7)], "label": [f"m{i}" for i in range(7)]}, {"image": ["b0", "b1"]}]
    clips = expand_sequential_clips(cases, clip_length=5)
    assert [c["frame_index"] for c in clips] == [[0, 1, 2, 3, 4], [2, 3, 4, 5, 6], [0, 0, 1, 1, 1]]
    assert "label" not in clips[2]
    # the same clips through MONAI: a transform returning a list, flattened by list_data_collate
    loader = DataLoader(Dataset(cases[:1], Compose([SequentialClipsd(keys=("image", "label"), clip_length=5)])),
                        batch_size=1)
    items = [item for batch in loader for item in decollate_batch(batch)]
    assert [item["frame_index"] for item in items] == [[0, 1, 2, 3, 4], [2, 3, 4, 5, 6]]
    assert items[1]["frame_write"] == [False, False, False, True, True] and items[1]["frame_path"][3] == "a5"


def test_errors():
    with pytest.raises(ValueError, match="clip_length=0"):
        SequentialClipsd(keys="image", clip_length=0)
    with pytest.raises(ValueError, match="num_frames=0"):
        sequential_windows(0, 5)


def test_synthetic_videos_predicted_once_per_frame(tmp_path):
    root = generate_synthetic_dataset(tmp_path / "syn", num_train_videos=0, num_test_videos=2, num_frames=12,
                                      num_images=0, height=48, width=80)
    cases = load_decathlon_datalist(str(root / "datalist.json"), data_list_key="test")
    clips = expand_sequential_clips(cases, clip_length=5)
    load = Compose([LoadFramesd(keys=["image", "label"]), Resized(keys=["image", "label"], spatial_size=[-1, 32, 48])])
    loader = DataLoader(Dataset(clips, load), batch_size=2)
    written = []
    for batch in loader:
        assert batch["image"].shape[1:] == (3, 5, 32, 48)
        for clip in decollate_batch(batch, detach=False):
            written += [p for p, w in zip(clip["frame_path"], clip["frame_write"]) if w]
    frames = [f for case in cases for f in case["image"]]
    assert len(written) == len(frames) == 24 and set(written) == set(frames)


def test_tuple_and_path_refs(tmp_path):
    """Refs as a tuple of pathlib.Path: clips are cut from them and frame_path holds the refs as strings."""
    paths = tuple(tmp_path / f"{i}.jpg" for i in range(7))
    clips = SequentialClipsd(keys="image", clip_length=5)({"image": paths})
    assert [c["frame_index"] for c in clips] == [[0, 1, 2, 3, 4], [2, 3, 4, 5, 6]]
    assert clips[1]["image"] == [paths[i] for i in (2, 3, 4, 5, 6)]
    assert clips[1]["frame_path"] == [str(tmp_path / f"{i}.jpg") for i in (2, 3, 4, 5, 6)]
    assert all(type(p) is str for c in clips for p in c["frame_path"])


def test_expand_with_anchor():
    """expand_sequential_clips(anchor=True): frame 0 first in every clip, not written there."""
    cases = [{"image": [f"a{i}" for i in range(7)]}, {"image": ["b0", "b1"]}]
    clips = expand_sequential_clips(cases, clip_length=5, anchor=True)
    assert [c["frame_index"] for c in clips] == [[0, 0, 1, 2, 3, 4], [0, 2, 3, 4, 5, 6], [0, 0, 0, 1, 1, 1]]
    assert clips[1]["frame_write"] == [False, False, False, False, True, True]
    assert clips[2]["frame_write"] == [False, True, False, True, False, False]
    assert clips[1]["image"] == ["a0", "a2", "a3", "a4", "a5", "a6"]


def test_expand_frames_with_keys_of_other_names():
    items = expand_frames([{"case": "v", "video": ["0.jpg", "1.jpg", "2.jpg"]}], keys=("video",))
    assert [(i["video"], i["frame_index"], i["frame_path"], i["frame_write"]) for i in items] == [
        ("0.jpg", 0, "0.jpg", True), ("1.jpg", 1, "1.jpg", True), ("2.jpg", 2, "2.jpg", True)]


def test_expand_frames_of_loaded_tensors():
    """A case already loaded as (C, N, H, W) tensors gives (C, H, W) images, frame t of every channel."""
    image = torch.arange(3 * 4, dtype=torch.float32).reshape(3, 4, 1, 1).expand(3, 4, 2, 2)  # value 4c + t
    label = torch.tensor([0.0, 1.0, 1.0, 0.0]).reshape(1, 4, 1, 1).expand(1, 4, 2, 2)
    items = expand_frames([{"image": image, "label": label}])
    assert len(items) == 4
    for t, item in enumerate(items):
        assert item["image"].shape == (3, 2, 2) and item["label"].shape == (1, 2, 2)
        assert item["image"][:, 0, 0].tolist() == [t, 4 + t, 8 + t] and item["frame_index"] == t
        assert item["label"][0, 0, 0].item() == [0, 1, 1, 0][t]


def test_sequential_windows_refuses_a_clip_length_of_zero():
    with pytest.raises(ValueError, match=r"num_frames=5, clip_length=0"):
        sequential_windows(5, 0)


def test_bookkeeping_keys_of_other_names():
    case = {"image": [f"{i}.jpg" for i in range(7)]}
    clips = SequentialClipsd(keys="image", clip_length=5, index_key="idx", write_key="w", path_key="p")(case)
    assert [c["idx"] for c in clips] == [[0, 1, 2, 3, 4], [2, 3, 4, 5, 6]]
    assert clips[1]["w"] == [False, False, False, True, True] and clips[1]["p"] == [f"{i}.jpg" for i in range(2, 7)]
    assert not {"frame_index", "frame_write", "frame_path"} & set(clips[0])
