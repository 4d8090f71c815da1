from __future__ import annotations

import json
import os
import stat
import warnings
import zlib

import cv2
import numpy as np
import pytest
from monai.data import load_decathlon_datalist

from monai_pns.data.synthetic import (
    _polyp,
    generate_synthetic_dataset,
    main,
    render_video,
    save_preview,
    synthetic_datalist,
)
from monai_pns.utils import EXIT_DATA_ERROR, EXIT_OK, EXIT_USAGE, run_cli

TINY = {"num_train_videos": 2, "num_test_videos": 1, "num_frames": 8, "num_images": 2, "height": 64, "width": 96}


def test_layout_and_datalist(tmp_path):
    root = generate_synthetic_dataset(tmp_path / "syn", **TINY)
    assert (root / "IVPS-TrainSet" / "Frame" / "2.jpg").is_file()
    assert (root / "IVPS-TrainSet" / "GT" / "2.png").is_file()
    assert (root / "VPS-TrainSet" / "Synthetic" / "Train" / "2" / "Frame" / "8.jpg").is_file()
    assert (root / "VPS-TestSet" / "Synthetic-Test" / "GT" / "1" / "8.png").is_file()
    training = load_decathlon_datalist(str(root / "datalist.json"), data_list_key="training")
    assert [c["case"] for c in training] == ["Synthetic/1", "Synthetic/2"]
    assert all(c["num_frames"] == 8 and len(c["label"]) == 8 for c in training)
    assert len(load_decathlon_datalist(str(root / "datalist.json"), data_list_key="pretraining")) == 2
    frame = cv2.imread(training[0]["image"][0])
    assert frame.shape == (64, 96, 3)
    mask = cv2.imread(training[0]["label"][0], cv2.IMREAD_UNCHANGED)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}


def test_deterministic_cached_and_regenerated(tmp_path):
    a = generate_synthetic_dataset(tmp_path / "a", seed=3, **TINY)
    b = generate_synthetic_dataset(tmp_path / "b", seed=3, **TINY)
    c = generate_synthetic_dataset(tmp_path / "c", seed=4, **TINY)
    name = "VPS-TrainSet/Synthetic/Train/1/Frame/5.jpg"
    assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / name).read_bytes() != (c / name).read_bytes()
    (a / "sentinel").write_text("kept while the parameters match")
    assert generate_synthetic_dataset(a, seed=3, **TINY) == a and (a / "sentinel").exists()
    generate_synthetic_dataset(a, seed=5, **TINY)  # other parameters: regenerated in place
    assert not (a / "sentinel").exists()
    assert json.loads((a / "manifest.json").read_text())["params"]["seed"] == 5
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left


def test_default_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MONAI_PNS_CACHE", str(tmp_path / "cache"))
    path = synthetic_datalist(**TINY)
    assert path.parent.parent == tmp_path / "cache" and path.parent.name.startswith("synthetic-")
    assert synthetic_datalist(**TINY) == path
    assert synthetic_datalist(**{**TINY, "seed": 1}) != path


def test_refuses_foreign_folder_and_bad_arguments(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(ValueError, match="non-empty folder without a synthetic manifest"):
        generate_synthetic_dataset(tmp_path / "mine", **TINY)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"
    with pytest.raises(ValueError, match="num_frames=0"):
        generate_synthetic_dataset(tmp_path / "x", **{**TINY, "num_frames": 0})


def test_polyp_appearance_and_absence():
    frames, masks, summary = render_video(np.random.default_rng(1), 12, 96, 160, polyp_prob=1.0)
    assert summary["polyp_frames"] and all(masks[i].any() for i in summary["polyp_frames"])
    for i in summary["polyp_frames"]:
        if str(i) in summary["ambiguous"]:
            continue
        inside, outside = frames[i][masks[i] > 0].astype(float), frames[i][masks[i] == 0].astype(float)
        # redder (lower green/red ratio) or darker than the mucosa around it
        assert (inside[:, 1] / (inside[:, 0] + 1)).mean() < (outside[:, 1] / (outside[:, 0] + 1)).mean()
    _, empty, none = render_video(np.random.default_rng(1), 6, 64, 96, polyp_prob=0.0)
    assert none["polyp_frames"] == [] and not any(m.any() for m in empty)


class _Draws:
    """A generator whose ``random()`` gives ``draws`` in turn (the polyp's two draws); the rest from a seeded one."""

    def __init__(self, *draws: float) -> None:
        self.draws, self.rng = list(draws), np.random.default_rng(0)

    def random(self) -> float:
        return self.draws.pop(0)

    def __getattr__(self, name):
        return getattr(self.rng, name)


@pytest.mark.parametrize(
    "draws, num_frames, shown",
    [
        ((0.9,), 8, "none"),  # a first draw equal to polyp_prob (0.9): no polyp (it shows with probability 0.9)
        ((0.0, 0.5), 16, "run"),  # a second draw of 0.5 (not below it): a run of frames, not the whole video
        ((0.0, 0.5), 8, "run"),  # 8 frames are enough for a run
        ((0.0, 0.5), 7, "all"),  # fewer: the whole video
    ],
)
def test_polyp_draws_at_their_boundaries(draws, num_frames, shown):
    _, masks, summary = render_video(_Draws(*draws), num_frames, 32, 32, polyp_prob=0.9)
    count = len(summary["polyp_frames"])
    assert {"none": count == 0, "run": 0 < count < num_frames, "all": count == num_frames}[shown]
    assert [i for i, m in enumerate(masks) if m.any()] == summary["polyp_frames"]


@pytest.mark.parametrize("num_frames, count", [(6, 2), (10, 2), (14, 4)])
def test_ambiguous_count_rounds_half_to_even(num_frames, count):
    """A quarter of 6, 10 and 14 frames is 1.5, 2.5 and 3.5 ambiguous frames: 2, 2 and 4."""
    _, _, summary = render_video(_Draws(0.0, 0.0), num_frames, 32, 32, ambiguous_fraction=0.25)  # polyp throughout
    assert len(summary["ambiguous"]) == count


def test_the_outline_belongs_to_the_polyp():
    yy, xx = np.mgrid[0:1, 0:4].astype(np.float32)
    round_shape = (np.zeros(3, np.float32), np.zeros(3, np.float32))  # no harmonics: a circle of the radius
    mask, rho = _polyp(yy, xx, (0.0, 0.0), 2.0, round_shape)
    assert rho[0].tolist() == [0.0, 0.5, 1.0, 1.5] and mask[0].tolist() == [True, True, True, False]


def test_polyp_moves_smoothly():
    _, masks, summary = render_video(np.random.default_rng(2), 16, 96, 160, polyp_prob=1.0)
    present = summary["polyp_frames"]
    centres = [np.argwhere(masks[i]).mean(axis=0) for i in present]
    areas = [masks[i].astype(bool).sum() for i in present]
    steps = [np.linalg.norm(b - a) for a, b in zip(centres, centres[1:])]
    assert max(steps) < 0.1 * 160  # no jumps between consecutive frames
    assert max(areas) / min(areas) < 3 and len(set(areas)) > 1  # scale changes, gradually


def _redness_contrast(frame: np.ndarray, mask: np.ndarray) -> float:
    """How much redder the masked region is than a ring of mucosa around it."""
    f = frame.astype(float)
    red = (f[..., 0] - f[..., 1]) / (f[..., 0] + f[..., 1] + 1)
    inside = mask > 0
    ring = cv2.dilate(inside.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~inside
    return float(red[inside].mean() - red[ring].mean())


@pytest.mark.parametrize("seed", [0, 1])
def test_ambiguous_frames_differ_from_neighbours(seed):
    frames, masks, summary = render_video(np.random.default_rng(seed), 24, 96, 160, polyp_prob=1.0)
    kinds = {int(k): v for k, v in summary["ambiguous"].items()}
    assert set(kinds.values()) == {"blur", "glare", "fold"}
    for i, kind in kinds.items():
        assert 0 < i < 23 and i - 1 not in kinds and i + 1 not in kinds
        assert masks[i].any() and masks[i - 1].any() and masks[i + 1].any()  # the mask keeps the whole polyp
        if kind == "blur":  # far less detail than the neighbours
            grey = [cv2.cvtColor(frames[j], cv2.COLOR_RGB2GRAY) for j in (i - 1, i, i + 1)]
            sharp = [cv2.Laplacian(g, cv2.CV_64F).var() for g in grey]
            assert sharp[1] < 0.5 * min(sharp[0], sharp[2])
        else:  # glare or a fold hides the polyp: it stands out far less than in the neighbouring frames
            contrast = [_redness_contrast(frames[j], masks[j]) for j in (i - 1, i, i + 1)]
            assert contrast[1] < 0.5 * min(contrast[0], contrast[2])


def test_preview_and_cli(tmp_path, capsys):
    args = ["--out", str(tmp_path / "syn"), "--videos", "1", "--test-videos", "1", "--frames", "6", "--images", "0",
            "--height", "64", "--width", "96"]
    assert run_cli(main, args + ["--preview", str(tmp_path / "p.png")]) == EXIT_OK
    out = capsys.readouterr().out
    assert "datalist.json" in out and "p.png" in out
    preview = cv2.imread(str(tmp_path / "p.png"))
    assert preview.shape == (3 * (64 + 4), 6 * (96 + 4), 3)
    assert run_cli(main, ["--out", str(tmp_path / "bad"), "--frames", "0"]) == EXIT_DATA_ERROR
    assert capsys.readouterr().err == "error: num_frames must be >= 1, got num_frames=0.\n"
    assert not (tmp_path / "bad").exists()
    # outputs checked before any work: a file in the way of --out, a folder in the way of --preview
    (tmp_path / "file").write_text("x")
    assert run_cli(main, ["--out", str(tmp_path / "file" / "syn")]) == EXIT_DATA_ERROR
    assert capsys.readouterr().err == f"error: --out '{tmp_path / 'file' / 'syn'}': '{tmp_path / 'file'}' is not a " \
        "folder.\n"
    assert run_cli(main, ["--out", str(tmp_path / "other"), "--preview", str(tmp_path)]) == EXIT_DATA_ERROR
    assert capsys.readouterr().err == f"error: --preview '{tmp_path}' is a folder.\n"
    assert not (tmp_path / "other").exists()
    with pytest.raises(SystemExit) as exc:
        run_cli(main, ["--frames", "many"])
    assert exc.value.code == EXIT_USAGE
    with pytest.raises(ValueError, match="case 'nope'"):
        save_preview(tmp_path / "syn", tmp_path / "q.png", case="nope")


def test_missing_datalist_is_rebuilt_without_regenerating(tmp_path):
    root = generate_synthetic_dataset(tmp_path / "syn", **TINY)
    (root / "datalist.json").unlink()
    (root / "sentinel").write_text("")
    assert generate_synthetic_dataset(root, **TINY) == root
    assert (root / "sentinel").exists() and len(json.loads((root / "datalist.json").read_text())["training"]) == 2


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_damaged_cache_is_regenerated(tmp_path, damage):
    root = generate_synthetic_dataset(tmp_path / "syn", **TINY)
    name = "VPS-TestSet/Synthetic-Test/Frame/1/5.jpg"
    good = (root / name).read_bytes()
    files = json.loads((root / "manifest.json").read_text())["files"]
    assert files[name] == [len(good), zlib.crc32(good)]
    assert len(files) == 2 * (TINY["num_images"] + 3 * TINY["num_frames"])  # every frame and mask
    if damage == "delete":
        (root / name).unlink()
    else:
        (root / name).write_bytes(good[: int(len(good) * 0.7)])
    (root / "sentinel").write_text("")
    reason = "is missing" if damage == "delete" else rf"is damaged \({int(len(good) * 0.7)} bytes"
    with pytest.warns(UserWarning, match=rf"synthetic set '.*syn': '.*5.jpg' {reason}.*; regenerating it"):
        assert generate_synthetic_dataset(root, **TINY) == root
    assert (root / name).read_bytes() == good and not (root / "sentinel").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["syn"]  # no temporary folder left
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generate_synthetic_dataset(root, **TINY)  # intact now: reused silently


def test_overwrite_regenerates_an_intact_set(tmp_path):
    root = generate_synthetic_dataset(tmp_path / "syn", **TINY)
    (root / "sentinel").write_text("")
    generate_synthetic_dataset(root, overwrite=True, **TINY)
    assert not (root / "sentinel").exists()


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_modes_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        root = generate_synthetic_dataset(tmp_path / "syn", **TINY)
    finally:
        os.umask(old)
    for path in (root, root / "VPS-TestSet" / "Synthetic-Test" / "Frame" / "1"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~umask, path
    for path in (root / "manifest.json", root / "datalist.json", root / "IVPS-TrainSet" / "GT" / "1.png"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


def test_smallest_frame_size_and_nothing_to_generate(tmp_path):
    """32 x 32 is the smallest size allowed (31 is refused, naming the value); a set of nothing is refused."""
    root = generate_synthetic_dataset(tmp_path / "syn", num_train_videos=0, num_test_videos=0, num_images=1,
                                      height=32, width=32)
    assert cv2.imread(str(root / "IVPS-TrainSet" / "Frame" / "1.jpg")).shape == (32, 32, 3)
    for name in ("height", "width"):
        with pytest.raises(ValueError, match=rf"{name} must be >= 32, got {name}=31\."):
            generate_synthetic_dataset(tmp_path / name, **{**TINY, name: 31})
        assert not (tmp_path / name).exists()
    with pytest.raises(ValueError, match="nothing to generate: num_train_videos, num_test_videos and num_images are "
                                         "all 0"):
        generate_synthetic_dataset(tmp_path / "empty", num_train_videos=0, num_test_videos=0, num_images=0)
    assert not (tmp_path / "empty").exists()


def test_videos_and_images_are_distinct_and_written_in_rgb(tmp_path):
    """Each video and each single image shows its own scene (no video repeats another, no phase-1 image is a frame
    of a video); files hold the pink-red mucosa (R well above G and B once read back as RGB)."""
    root = generate_synthetic_dataset(tmp_path / "syn", **TINY)
    folders = ["VPS-TrainSet/Synthetic/Train/1/Frame", "VPS-TrainSet/Synthetic/Train/2/Frame",
               "VPS-TestSet/Synthetic-Test/Frame/1"]
    read = lambda path: cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(float)  # noqa: E731
    videos = [[read(root / folder / f"{t}.jpg") for t in range(1, 9)] for folder in folders]
    images = [read(root / "IVPS-TrainSet" / "Frame" / f"{i}.jpg") for i in (1, 2)]
    for a in range(3):
        for b in range(a + 1, 3):
            assert np.abs(videos[a][0] - videos[b][0]).mean() > 5, (folders[a], folders[b])
    for i, image in enumerate(images):
        for folder, frames in zip(folders, videos):
            assert min(np.abs(image - frame).mean() for frame in frames) > 5, (i + 1, folder)
    for frame in images + [v[0] for v in videos]:
        red, green, blue = frame.reshape(-1, 3).mean(axis=0)
        assert red > 1.5 * blue and red > 1.5 * green


def test_manifest_without_files_is_regenerated(tmp_path):
    """A manifest of an older version lists no files: the set cannot be checked, so it is regenerated."""
    root = generate_synthetic_dataset(tmp_path / "syn", **TINY)
    manifest = json.loads((root / "manifest.json").read_text())
    files = manifest.pop("files")
    (root / "manifest.json").write_text(json.dumps(manifest))
    (root / "sentinel").write_text("")
    with pytest.warns(UserWarning, match=r"its manifest.json lists no files \(written by an older version\); "
                                         "regenerating it"):
        assert generate_synthetic_dataset(root, **TINY) == root
    assert not (root / "sentinel").exists()
    assert json.loads((root / "manifest.json").read_text())["files"] == files


def test_damage_of_the_same_size_is_found_by_its_crc(tmp_path):
    """One byte changed, the size kept: the CRC-32 tells; the warning names the file, sizes and both CRCs."""
    root = generate_synthetic_dataset(tmp_path / "syn", **TINY)
    name = "VPS-TrainSet/Synthetic/Train/2/GT/3.png"
    good = (root / name).read_bytes()
    bad = good[:-5] + bytes([good[-5] ^ 0xFF]) + good[-4:]
    (root / name).write_bytes(bad)
    size = len(good)
    reason = (rf"'.*{name}' is damaged \({size} bytes, CRC-32 {zlib.crc32(bad):08x}; the manifest records {size} "
              rf"bytes, CRC-32 {zlib.crc32(good):08x}\); regenerating it")
    with pytest.warns(UserWarning, match=reason):
        generate_synthetic_dataset(root, **TINY)
    assert (root / name).read_bytes() == good


def test_a_moved_set_gets_its_datalist_rebuilt_without_regenerating(tmp_path):
    root = generate_synthetic_dataset(tmp_path / "a", **TINY)
    moved = tmp_path / "b"
    os.rename(root, moved)
    (moved / "sentinel").write_text("")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert generate_synthetic_dataset(moved, **TINY) == moved
    assert (moved / "sentinel").exists()
    datalist = json.loads((moved / "datalist.json").read_text())
    assert datalist["root"] == str(moved)
    training = load_decathlon_datalist(str(moved / "datalist.json"), data_list_key="training")
    assert all(p.startswith(str(moved) + os.sep) and os.path.isfile(p) for c in training for p in c["image"])
