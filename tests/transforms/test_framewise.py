import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import RandCoarseDropout

from monai_pns.transforms import RandFramewised


def _add_one(frame):
    return frame + 1.0


def _clip(frames=6, channels=3):
    return torch.arange(channels * frames * 4 * 5, dtype=torch.float32).reshape(channels, frames, 4, 5)


def test_each_frame_drawn_independently_with_a_strict_threshold():
    """Frame t is transformed iff the t-th draw of the transform's own generator is < prob (an independent
    RandomState with the same seed reproduces the choice), and the same frames are chosen for every key."""
    clip = _clip(frames=40)
    t = RandFramewised(keys=("image", "label"), transform=_add_one, prob=0.3).set_random_state(7)
    out = t({"image": clip, "label": clip[:1]})
    expected = np.random.RandomState(7).random_sample(40) < 0.3
    np.testing.assert_array_equal(t.chosen, expected)
    assert 0 < expected.sum() < 40
    for key, source in (("image", clip), ("label", clip[:1])):
        changed = (out[key] != source).flatten(2).any(-1).any(0).numpy()
        np.testing.assert_array_equal(changed, expected)
        torch.testing.assert_close(out[key][:, expected], source[:, expected] + 1.0, rtol=0, atol=0)


def test_a_draw_equal_to_prob_leaves_its_frame_alone():
    draws = np.random.RandomState(5).random_sample(6)
    prob = float(np.sort(draws)[3])  # exactly the fourth smallest draw: three frames are below it
    out = RandFramewised(keys="image", transform=_add_one, prob=prob).set_random_state(5)({"image": _clip()})
    changed = (out["image"] != _clip()).flatten(2).any(-1).any(0).numpy()
    np.testing.assert_array_equal(changed, draws < prob)
    assert changed.sum() == 3 and not changed[draws == prob].any()


@pytest.mark.parametrize("prob, count", [(0.0, 0), (1.0, 6)])
def test_prob_ends(prob, count):
    clip = _clip()
    out = RandFramewised(keys="image", transform=_add_one, prob=prob).set_random_state(0)({"image": clip})
    assert int((out["image"] != clip).flatten(2).any(-1).any(0).sum()) == count


def test_input_is_not_modified_and_meta_is_kept():
    clip = MetaTensor(_clip(), meta={"filename_or_obj": "clip.mp4"})
    before = clip.clone()
    out = RandFramewised(keys="image", transform=_add_one, prob=1.0)({"image": clip})
    torch.testing.assert_close(clip.as_tensor(), before.as_tensor(), rtol=0, atol=0)
    assert isinstance(out["image"], MetaTensor) and out["image"].meta["filename_or_obj"] == "clip.mp4"


def test_a_random_transform_draws_again_per_frame_and_reproducibly():
    clip = torch.zeros(1, 4, 32, 32)
    dropout = RandCoarseDropout(holes=1, spatial_size=4, max_spatial_size=8, fill_value=1.0, prob=1.0)
    first = RandFramewised(keys="image", transform=dropout, prob=1.0).set_random_state(3)({"image": clip})["image"]
    holes = [tuple(torch.nonzero(first[0, t]).min(0).values.tolist()) for t in range(4)]
    assert len(set(holes)) > 1  # the hole moves from frame to frame
    dropout = RandCoarseDropout(holes=1, spatial_size=4, max_spatial_size=8, fill_value=1.0, prob=1.0)
    again = RandFramewised(keys="image", transform=dropout, prob=1.0).set_random_state(3)({"image": clip})["image"]
    torch.testing.assert_close(again, first, rtol=0, atol=0)


@pytest.mark.parametrize(
    "data, transform, match",
    [
        ({"image": torch.zeros(3, 4, 5)}, _add_one,
         r"key 'image': expected a clip \(C, T, H, W\), got shape \(3, 4, 5\)"),
        ({"image": torch.zeros(3, 4, 4, 5), "label": torch.zeros(1, 3, 4, 5)}, _add_one, "different frame counts"),
        ({"image": torch.zeros(3, 2, 4, 5)}, lambda f: f[:, :2], r"changed a frame's shape \(3, 4, 5\) to \(3, 2, 5\)"),
    ],
)
def test_errors_name_the_key_and_shape(data, transform, match):
    with pytest.raises(ValueError, match=match):
        RandFramewised(keys=list(data), transform=transform, prob=1.0)(data)


@pytest.mark.parametrize("prob", [-0.01, 1.01])
def test_prob_outside_unit_interval(prob):
    with pytest.raises(ValueError, match=f"prob must be in \\[0, 1\\], got prob={prob}"):
        RandFramewised(keys="image", transform=_add_one, prob=prob)
