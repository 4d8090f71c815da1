from __future__ import annotations

import zipfile

import pytest
import torch

from monai_pns.networks import PNSNet
from monai_pns.networks.utils import (
    clip_to_frames,
    frames_to_clip,
    load_checkpoint_file,
    load_state_dict_checked,
    resolve_state_dict,
)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"not a checkpoint\n", r"'.*notes\.pth' is not a PyTorch checkpoint that loads with weights_only"),
        (b"", r"checkpoint '.*notes\.pth' is truncated or corrupt: it ends early \(0 bytes\)\."),
        (b"PK\x03\x04 truncated zip", r"checkpoint '.*notes\.pth' is truncated or corrupt: the zip archive has no "
         r"directory at its end: cut short \(18 bytes\)\."),
    ],
)
def test_from_official_names_a_file_that_is_not_a_checkpoint(tmp_path, content, match):
    path = tmp_path / "notes.pth"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        PNSNet.from_official(path)


def test_truncated_or_corrupt_checkpoints(tmp_path):
    torch.save({"weight": torch.zeros(64, 64), "bias": torch.zeros(64)}, tmp_path / "whole.pt")
    data = (tmp_path / "whole.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])  # an interrupted copy
    with pytest.raises(ValueError, match=rf"checkpoint '.*cut\.pt' is truncated or corrupt: .* \({len(data) // 2} "):
        load_checkpoint_file(tmp_path / "cut.pt")
    record = zipfile.ZipFile(tmp_path / "whole.pt").getinfo("whole/data/0")
    flipped = bytearray(data)
    flipped[record.header_offset + 1000] ^= 0xFF  # inside the tensor's bytes: torch.load alone would not notice
    (tmp_path / "flipped.pt").write_bytes(flipped)
    with pytest.raises(ValueError, match=r"'.*flipped\.pt' is truncated or corrupt: record 'whole/data/0' fails its "
                       r"CRC-32 check\."):
        load_checkpoint_file(tmp_path / "flipped.pt")
    assert load_checkpoint_file(tmp_path / "whole.pt")["weight"].shape == (64, 64)


def test_checkpoint_of_wrong_type_and_missing_file(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(ValueError, match=r"released weights in '.*list\.pt' must be a state dict, got list"):
        PNSNet.from_official(path)
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        load_checkpoint_file(tmp_path / "absent.pt")
    state = {"a": torch.ones(2)}
    assert resolve_state_dict(state) == (state, "the given state dict")


def test_frames_clip_round_trip():
    clip = torch.arange(2 * 3 * 4 * 2 * 5, dtype=torch.float32).view(2, 3, 4, 2, 5)  # (B, C, T, H, W)
    frames = clip_to_frames(clip)
    assert frames.shape == (8, 3, 2, 5)
    assert torch.equal(frames[1 * 4 + 2], clip[1, :, 2])  # clip-major: frame t of clip b at b * T + t
    assert torch.equal(frames_to_clip(frames, 2), clip)


def _conv_bn() -> torch.nn.Sequential:
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))


def test_load_state_dict_checked_accepts_a_state_without_num_batches_tracked(tmp_path):
    """A state dict without ``num_batches_tracked`` loads, the model keeping its count: a plain dict (an older
    PyTorch's checkpoint) and a saved module state dict with the keys deleted, whose version metadata makes
    ``load_state_dict`` itself refuse it."""
    torch.manual_seed(0)
    source = _conv_bn()
    with torch.no_grad():
        source[1].running_mean.uniform_()
    saved = source.state_dict()
    del saved["1.num_batches_tracked"]
    torch.save(saved, tmp_path / "trimmed.pt")
    trimmed = load_checkpoint_file(tmp_path / "trimmed.pt")
    with pytest.raises(RuntimeError, match="Missing key.*1.num_batches_tracked"):
        _conv_bn().load_state_dict(trimmed, strict=True)
    for state in (dict(trimmed), trimmed):
        model = _conv_bn()
        model[1].num_batches_tracked.fill_(7)
        load_state_dict_checked(model, state, "'trimmed.pt'")
        for key, value in state.items():
            assert torch.equal(model.state_dict()[key], value), key
        assert int(model[1].num_batches_tracked) == 7


def test_load_state_dict_checked_lists_every_key_at_fault():
    model = _conv_bn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = dict(_conv_bn().state_dict())
    del state["0.bias"]
    state["extra"], state["1.weight"] = torch.zeros(1), torch.zeros(3)
    with pytest.raises(ValueError, match=r"^cannot load 'bad\.pt' into Sequential: missing keys \['0\.bias'\], "
                       r"unexpected keys \['extra'\], shape mismatches \(checkpoint vs model\) "
                       r"\['1\.weight: \(3,\) vs \(2,\)'\]\.$"):
        load_state_dict_checked(model, state, "'bad.pt'")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())  # nothing loaded


def test_frames_to_clip_is_a_view_of_the_frames():
    """No copy is made (docstring): a frame written after the reshape shows in the clip."""
    frames = torch.zeros(6, 2, 3, 4)  # (B*T, C, H, W), B = 2, T = 3
    clip = frames_to_clip(frames, 2)
    assert clip.shape == (2, 2, 3, 3, 4)
    assert clip.untyped_storage().data_ptr() == frames.untyped_storage().data_ptr()
    frames[1 * 3 + 2] = 7.0  # frame t = 2 of clip b = 1
    assert torch.equal(clip[1, :, 2], torch.full((2, 3, 4), 7.0)) and int(clip.count_nonzero()) == 2 * 3 * 4


def test_load_state_dict_checked_lets_only_num_batches_tracked_be_missing():
    """A missing running statistic is an error like any other key (only ``num_batches_tracked`` may be absent)."""
    model = _conv_bn()
    state = dict(_conv_bn().state_dict())
    del state["1.running_mean"], state["1.num_batches_tracked"]
    with pytest.raises(ValueError, match=r"missing keys \['1\.running_mean'\], unexpected keys \[\], shape mismatches "
                       r"\(checkpoint vs model\) \[\]\.$"):
        load_state_dict_checked(model, state, "'old.pt'")


def test_load_state_dict_checked_a_transposed_weight_is_a_shape_mismatch():
    """Same number of elements, another shape: listed as a mismatch, not passed on to ``load_state_dict``."""
    model = torch.nn.Linear(2, 3)  # weight (3, 2)
    state = {"weight": torch.zeros(2, 3), "bias": torch.zeros(3)}
    match = r"shape mismatches \(checkpoint vs model\) \['weight: \(2, 3\) vs \(3, 2\)'\]"
    with pytest.raises(ValueError, match=match):
        load_state_dict_checked(model, state, "'transposed.pt'")
