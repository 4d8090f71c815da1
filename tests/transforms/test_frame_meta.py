from __future__ import annotations

import pytest
import torch
from monai.data import DataLoader, Dataset, MetaTensor, decollate_batch

from monai_pns.data import batch_frame_ids
from monai_pns.transforms import (
    LoadFramesd,
    RandClipWindowd,
    SequentialClipsd,
    expand_frames,
    expand_sequential_clips,
)
from monai_pns.transforms.frame_meta import frame_meta, select_frame_meta
from tests.bundle_chains import ALWAYS, bundle_chain, cached_train_chain
from tests.stand_ins import synthetic_test_videos

SIZE = (32, 48)
#: the bundle's chains at this size
AT_SIZE = {"spatial_size": list(SIZE)}


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return synthetic_test_videos(tmp_path_factory.mktemp("syn"))[1]


def _meta_of(item, key):
    assert isinstance(item[key], MetaTensor)
    return item[key].meta


def test_eval_clips_carry_the_contract(cases):
    clips = expand_sequential_clips(cases, clip_length=5)
    transform = bundle_chain("validate", **AT_SIZE)
    for clip in clips:
        out = transform(clip)
        for key in ("image", "label"):
            meta = _meta_of(out, key)
            assert meta["video_id"] == clip["case"] and "/" in meta["video_id"]
            assert meta["frame_index"].dtype == torch.long and meta["frame_index"].tolist() == clip["frame_index"]
            assert meta["frame_write"].dtype == torch.bool and meta["frame_write"].tolist() == clip["frame_write"]
            assert meta["frame_path"] == clip["image"]  # the frame refs (not the mask paths) for the label too
            assert meta["spatial_shape"].tolist() == [5, 48, 80]  # original size, before Resized
        assert out["frame_index"] == clip["frame_index"]  # the item's own keys stay as they were
    assert [c["frame_write"] for c in clips[:3]] == [[True] * 5, [True] * 5, [False] * 3 + [True] * 2]


@pytest.mark.parametrize("load_whole_case", [False, True])
def test_training_clips_keep_the_contract_through_augmentation(cases, load_whole_case):
    """RandClipWindowd before or after loading, then Resized, crop, flip, intensity changes and normalisation."""
    chain = cached_train_chain if load_whole_case else lambda **kw: bundle_chain("train", **kw)
    t = chain(clip_length=4, **AT_SIZE, **ALWAYS)
    t.set_random_state(3)
    for _ in range(3):
        out = t(cases[1])
        window = out["frame_index"]
        assert len(window) == 4 and 1 <= window[0] and window[-1] <= 10
        for key in ("image", "label"):
            meta = _meta_of(out, key)
            assert meta["video_id"] == cases[1]["case"]
            assert meta["frame_index"].tolist() == window
            assert meta["frame_write"].tolist() == [True] * 4
            assert meta["frame_path"] == [cases[1]["image"][i] for i in window]
            assert meta["spatial_shape"].tolist() == [4, 48, 80]


def test_anchor_clips_of_a_loaded_case(cases):
    """SequentialClipsd on an already loaded MetaTensor case cuts its metadata (PNS+ anchor: write False)."""
    loaded = LoadFramesd(keys=("image", "label"))(cases[0])
    assert _meta_of(loaded, "image")["frame_index"].tolist() == list(range(12))
    clips = SequentialClipsd(keys=("image", "label"), clip_length=5, anchor=True)(loaded)
    assert [c["frame_index"] for c in clips] == [[0, 0, 1, 2, 3, 4], [0, 5, 6, 7, 8, 9], [0, 7, 8, 9, 10, 11]]
    for clip in clips:
        for key in ("image", "label"):
            meta = _meta_of(clip, key)
            assert meta["frame_index"].tolist() == clip["frame_index"]
            assert meta["frame_write"].tolist() == clip["frame_write"] and meta["frame_write"][0].item() is False
            assert meta["frame_path"] == [cases[0]["image"][i] for i in clip["frame_index"]]
            assert meta["spatial_shape"].tolist() == [6, 48, 80]
    assert loaded["image"].meta["frame_index"].tolist() == list(range(12))  # the case's own meta is untouched


def test_single_images_and_expand_frames(cases):
    items = expand_frames(cases)
    assert len(items) == 24 and [i["frame_index"] for i in items[:12]] == list(range(12))
    assert items[13]["image"] == cases[1]["image"][1] and items[13]["frame_path"] == cases[1]["image"][1]
    assert items[13]["label"] == cases[1]["label"][1] and items[13]["frame_write"] is True
    out = bundle_chain("pretrain_validate", **AT_SIZE)(items[13])
    assert out["image"].shape == (3, *SIZE) and out["label"].shape == (1, *SIZE)
    meta = _meta_of(out, "label")
    assert meta["video_id"] == cases[1]["case"] and meta["frame_path"] == cases[1]["image"][1]
    assert meta["frame_index"].ndim == 0 and meta["frame_index"].item() == 1
    assert meta["frame_write"].ndim == 0 and meta["frame_write"].item() is True
    assert meta["spatial_shape"].tolist() == [48, 80]
    # a phase-1 image without bookkeeping keys: frame 0, written, its own path; no case: no video_id
    plain = LoadFramesd(keys="image")({"image": cases[0]["image"][3]})
    assert plain["image"].meta["frame_index"].item() == 0 and plain["image"].meta["frame_path"] == cases[0]["image"][3]
    assert "video_id" not in plain["image"].meta


@pytest.mark.parametrize("clip", [True, False])
def test_collate_and_decollate(cases, clip):
    items = expand_sequential_clips(cases, clip_length=5) if clip else expand_frames(cases)[10:15]
    transform = bundle_chain("validate" if clip else "pretrain_validate", **AT_SIZE)
    loader = DataLoader(Dataset(items, transform), batch_size=3)
    seen = 0
    for batch in loader:
        meta, b = batch["label"].meta, batch["label"].shape[0]
        t = 5 if clip else 1
        # MONAI collates: strings -> list of B, tensors -> stacked (B, T) / (B,), per-item lists -> transposed
        assert isinstance(meta["video_id"], list) and len(meta["video_id"]) == b
        assert meta["frame_index"].shape == ((b, 5) if clip else (b,))
        if clip:
            assert len(meta["frame_path"]) == 5 and all(len(column) == b for column in meta["frame_path"])
        videos, index, writes = batch_frame_ids(meta, b, t)
        for k, item in enumerate(decollate_batch(batch)):
            source = items[seen + k]
            assert videos[k] == item["label"].meta["video_id"] == source["case"]
            expected_index = source["frame_index"] if clip else [source["frame_index"]]
            expected_write = source["frame_write"] if clip else [source["frame_write"]]
            assert index[k].tolist() == expected_index and writes[k].tolist() == expected_write
            assert item["image"].meta["frame_path"] == source["frame_path"]  # decollated back per item
            assert torch.as_tensor(item["label"].meta["frame_index"]).reshape(-1).tolist() == expected_index
        seen += b
    assert seen == len(items)


def test_bad_bookkeeping_is_named(cases):
    clip = expand_sequential_clips(cases[:1], clip_length=5)[0]
    with pytest.raises(ValueError, match=r"item key 'frame_index' must hold 5 values, one per frame, got frame_index="):
        LoadFramesd(keys=("image", "label"))({**clip, "frame_index": [0, 1, 2]})
    single = expand_frames(cases[:1])[0]
    with pytest.raises(ValueError, match="item key 'frame_write' must hold one value"):
        LoadFramesd(keys="image")({**single, "frame_write": [True]})


def _loaded_case(n: int = 12) -> MetaTensor:
    """A case as LoadFramesd leaves it (values: the frame index), with its frame metadata, without reading files."""
    return MetaTensor(torch.arange(float(n)).reshape(1, n, 1, 1).expand(1, n, 2, 3).clone(),
                      meta=frame_meta(list(range(n)), [True] * n, [f"{i}.jpg" for i in range(n)], (n, 2, 3), "v"))


def test_cutting_a_cached_case_leaves_its_metadata_alone():
    """A cached case is cut again every epoch: its own spatial_shape (and the rest of its meta) must stay (12, 2, 3)."""
    case = _loaded_case()
    for clips in (
        SequentialClipsd(keys="image", clip_length=5, anchor=True)({"image": case}),
        [RandClipWindowd(keys="image", clip_length=4)({"image": case}) for _ in range(2)],
    ):
        for clip in clips:
            t = len(clip["frame_index"])
            assert clip["image"].meta["spatial_shape"].tolist() == [t, 2, 3]
            assert clip["image"][0, :, 0, 0].tolist() == [float(i) for i in clip["frame_index"]]
        assert case.meta["spatial_shape"].tolist() == [12, 2, 3]
        assert case.meta["frame_index"].tolist() == list(range(12)) and case.meta["frame_write"].all()
        assert case.meta["frame_path"] == [f"{i}.jpg" for i in range(12)]


def test_select_frame_meta_keeps_absent_keys_absent():
    """Docstring contract: keys of the contract the meta lacks stay absent, other keys are kept as they are."""
    meta = {"frame_index": torch.tensor([10, 11, 12]), "filename_or_obj": "clip.nii.gz", "affine": "kept"}
    out = select_frame_meta(meta, [2, 0])
    assert set(out) == {"frame_index", "filename_or_obj", "affine"}
    assert out["frame_index"].tolist() == [12, 10] and out["filename_or_obj"] == "clip.nii.gz"
    assert select_frame_meta(meta, [1], writes=[False])["frame_write"].tolist() == [False]
    assert meta["frame_index"].tolist() == [10, 11, 12]


def test_a_meta_tensor_without_frame_metadata_is_cut_but_its_meta_left_alone():
    """A MetaTensor from another loader (no frame_index): no frame_write is invented, spatial_shape not rewritten."""
    image = MetaTensor(torch.arange(7.0).reshape(1, 7, 1, 1), meta={"spatial_shape": torch.tensor([9, 9, 7])})
    clips = SequentialClipsd(keys="image", clip_length=5)({"image": image})
    assert [c["image"].flatten().tolist() for c in clips] == [[0, 1, 2, 3, 4], [2, 3, 4, 5, 6]]
    for clip in clips:
        assert "frame_write" not in clip["image"].meta and "frame_index" not in clip["image"].meta
        assert clip["image"].meta["spatial_shape"].tolist() == [9, 9, 7]


@pytest.mark.parametrize("video_id, expected", [(0, "0"), (7, "7"), ("CVC-300/1", "CVC-300/1")])
def test_video_id_zero_is_kept(video_id, expected):
    """A case named by the number 0 (a falsy id) still gets its video_id, as a string; only None leaves it out."""
    assert frame_meta(0, True, "0.jpg", (4, 4), video_id)["video_id"] == expected
    assert "video_id" not in frame_meta(0, True, "0.jpg", (4, 4), None)
