"""monai_pns.evaluation.ground_truth: the scored units of a datalist key, their checks, frame selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from monai_pns.data.datalist import build_datalist
from monai_pns.evaluation import evaluate_predictions, ground_truth_videos, select_frames
from tests.evaluation.cases import make_pnsnet_tree

@pytest.fixture
def pnsnet_tree(tmp_path):
    return make_pnsnet_tree(tmp_path)


def test_ground_truth_from_the_datalist_in_order(pnsnet_tree):
    root = pnsnet_tree[0]
    videos = ground_truth_videos(build_datalist("pnsnet", root), "test")
    assert [(v.set_name, v.video) for v in videos] == [("CVC-300", "CVC-300/1"), ("CVC-300", "CVC-300/2"),
                                                       ("CVC-612-T", "CVC-612-T/7")]
    assert [Path(f.gt_ref).stem for f in videos[0].frames] == [str(n) for n in range(1, 12)]
    assert [f.index for f in videos[0].frames] == list(range(11))
    assert videos[0].frames[3].pred_rel == Path("CVC-300/1/4.png")


def test_select_frames_keeps_the_listed_frames_minus_first_and_last(pnsnet_tree):
    videos = ground_truth_videos(build_datalist("pnsnet", pnsnet_tree[0]), "test")
    chosen = select_frames(videos, {"CVC-300/1": [0, 3, 4, 10], "CVC-300/2": [0, 10], "CVC-612-T/7": range(11)})
    assert [(v.set_name, v.video, v.is_video) for v in chosen] == [("CVC-300", "CVC-300/1", True),
                                                                   ("CVC-612-T", "CVC-612-T/7", True)]
    assert [f.index for f in chosen[0].frames] == [3, 4] and [f.index for f in chosen[1].frames] == list(range(1, 10))
    assert chosen[0].frames[0] is videos[0].frames[3]
    kept = select_frames(videos, {"CVC-300/2": [10, 0]}, skip_first_last=False)
    assert [(v.video, [f.index for f in v.frames]) for v in kept] == [("CVC-300/2", [0, 10])]
    assert select_frames(videos, {}) == [] and len(videos[0].frames) == 11  # the input is left as it was


def test_select_frames_refuses_unknown_cases_and_frames(pnsnet_tree):
    videos = ground_truth_videos(build_datalist("pnsnet", pnsnet_tree[0]), "test")
    with pytest.raises(ValueError, match=r"frames name units that are not scored: \['CVC-300/9'\]"):
        select_frames(videos, {"CVC-300/9": [1], "CVC-300/1": [1]})
    with pytest.raises(ValueError, match=r"case 'CVC-300/1' has no frame \[11, 12\] \(frames 0..10\)"):
        select_frames(videos, {"CVC-300/1": [12, 11, 2]})


def test_datalist_items_without_labels(pnsnet_tree, tmp_path):
    root, perfect, _, _ = pnsnet_tree
    datalist = build_datalist("pnsnet", root)
    del datalist["test"][1]["label"]
    with pytest.raises(ValueError, match=r"^datalist key 'test' item 1 \(case 'CVC-300/2'\): no 'label': nothing to "
                                         r"score against\.$"):
        evaluate_predictions(perfect, tmp_path / "e", datalist=datalist)
    datalist["test"][1] = {"image": ["a.png"], "label": ["a.png"]}
    with pytest.raises(ValueError, match=r"item 1: no 'case'"):
        evaluate_predictions(perfect, tmp_path / "e", datalist=datalist)
    datalist["test"][1] = {"case": "x", "image": ["a.png", "b.png"], "label": ["a.png"]}
    with pytest.raises(ValueError, match=r"case 'x'\): 'image' and 'label' must be paths or lists of one length"):
        evaluate_predictions(perfect, tmp_path / "e", datalist=datalist)
    datalist["test"][1] = {"case": "x", "image": ["a.png"], "label": [3]}
    with pytest.raises(ValueError, match=r"case 'x'\): 'image' and 'label' must hold paths \(strings\)"):
        evaluate_predictions(perfect, tmp_path / "e", datalist=datalist)
    datalist["test"][1] = {"case": "x", "image": "a.png", "label": "a.png"}
    with pytest.raises(ValueError, match=r"datalist key 'test' mixes videos and single images"):
        evaluate_predictions(perfect, tmp_path / "e", datalist=datalist)
    assert not (tmp_path / "e").exists()
