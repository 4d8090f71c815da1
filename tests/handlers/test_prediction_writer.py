from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.bundle import ConfigParser
from monai.data import DataLoader, Dataset, MetaTensor
from monai.engines import SupervisedEvaluator

from monai_pns.data import build_datalist
from monai_pns.data import frame_stem
from monai_pns.evaluation import ground_truth_videos
from monai_pns.handlers import VPSPredictionWriter
from monai_pns.transforms import expand_sequential_clips
from tests.bundle_chains import bundle_chain
from tests.stand_ins import RedLogits, synthetic_test_videos

SIZE = (32, 48)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return synthetic_test_videos(tmp_path_factory.mktemp("syn"))


def _images_chain():
    """The bundle's evaluation chain (load, resize, normalise) for images without labels, at ``SIZE``."""
    return bundle_chain("validate", keys=["image"], spatial_size=list(SIZE))


def _expected_pngs(case, resample=True):
    """Independently: the whole video at once, sigmoid, each frame resized back with torch, rounded half up."""
    d = _images_chain()({"image": case["image"]})
    prob = torch.sigmoid(RedLogits()(d["image"].as_tensor()[None]))[0]  # (1, 12, 32, 48)
    out = {}
    for i, ref in enumerate(case["image"]):
        frame = prob[:, i][None]
        if resample:
            frame = F.interpolate(frame, size=(48, 80), mode="bilinear", align_corners=False)
        out[f"{Path(ref).stem}.png"] = np.floor(frame[0, 0].double().numpy() * 255 + 0.5).astype(np.uint8)
    return out


def _run(cases, writer, decollate=True, anchor=False):
    clips = expand_sequential_clips(cases, keys=("image",), clip_length=5, anchor=anchor)
    loader = DataLoader(Dataset(clips, _images_chain()), batch_size=2)
    evaluator = SupervisedEvaluator(device=torch.device("cpu"), val_data_loader=loader, network=RedLogits(),
                                    val_handlers=[writer], decollate=decollate)
    writer.attach(evaluator)  # attaching twice is harmless (a double write would be an error)
    evaluator.run()


@pytest.mark.parametrize("decollate, anchor", [(True, False), (False, False), (True, True)])
def test_every_frame_written_once(synthetic, tmp_path, decollate, anchor):
    root, cases = synthetic
    old = os.umask(0o027)
    try:
        _run(cases[1:], VPSPredictionWriter(tmp_path / "pred"), decollate, anchor)
    finally:
        os.umask(old)
    folder = tmp_path / "pred" / "Synthetic-Test" / "2"
    files = sorted(p.name for p in (tmp_path / "pred").rglob("*") if p.is_file())
    expected = _expected_pngs(cases[1])
    assert files == sorted(expected) and len(files) == 12  # 12 frames, no temporary file left
    for name, codes in expected.items():
        written = cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED)
        assert written.dtype == np.uint8 and written.shape == (48, 80)
        np.testing.assert_array_equal(written, codes)
        assert (folder / name).stat().st_mode & 0o777 == 0o640
    assert len(np.unique(np.concatenate([c.ravel() for c in expected.values()]))) > 50  # not a trivial map
    # the layout `python -m monai_pns.evaluate --layout pnsnet` reads: every GT frame has its prediction
    videos = ground_truth_videos(build_datalist("pnsnet", root), "test")
    gt_frames = [f for video in videos if video.video == "Synthetic-Test/2" for f in video.frames]
    assert len(gt_frames) == 12 and all((tmp_path / "pred" / f.pred_rel).is_file() for f in gt_frames)


def test_network_size(synthetic, tmp_path):
    _, cases = synthetic
    _run(cases[1:], VPSPredictionWriter(tmp_path, resample=False))
    for name, codes in _expected_pngs(cases[1], resample=False).items():
        written = cv2.imread(str(tmp_path / "Synthetic-Test" / "2" / name), cv2.IMREAD_UNCHANGED)
        assert written.shape == SIZE
        np.testing.assert_array_equal(written, codes)


def test_rounding_to_nearest_halves_up(tmp_path):
    levels = np.arange(256, dtype=np.float32) / np.float32(255)  # every code k as the float32 nearest k / 255
    # 127.5 -> 128 (the only exact half a float32 p in [0, 1] can give), 127.49 -> 127, 200.6 -> 201
    row = np.concatenate([levels, np.float32([0.5, 127.49 / 255, 200.6 / 255])])
    prob = torch.from_numpy(row).reshape(1, 1, 1, -1).repeat(1, 1, 2, 1)  # (1, T=1, 2, 259)
    meta = {"video_id": "v", "frame_path": ["/d/f.jpg"], "frame_write": torch.tensor([True])}
    path, = VPSPredictionWriter(tmp_path, sigmoid=False, resample=False).write([prob], [meta])
    codes = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert path == tmp_path / "v" / "f.png" and codes.shape == (2, 259)
    assert codes[0, :256].tolist() == list(range(256)) and codes[0, 256:].tolist() == [128, 127, 201]
    assert (255 * row[256:]).astype(np.uint8).tolist() == [127, 127, 200]  # the release's truncation differs
    # logits: sigmoid(0) = 0.5 -> 128, and the same rule as a function
    path, = VPSPredictionWriter(tmp_path / "logits", resample=False).write(torch.zeros(1, 1, 3, 4), [
        {"video_id": "v", "frame_path": "/d/g.jpg"}])
    assert (cv2.imread(str(path), cv2.IMREAD_UNCHANGED) == 128).all()


def test_video_frames_and_single_images(tmp_path):
    assert frame_stem("/v/case1.mp4#7") == "7" and frame_stem("/v/a_image0001.jpg") == "a_image0001"
    assert frame_stem("/v/odd#name.png") == "odd#name"
    writer = VPSPredictionWriter(tmp_path, sigmoid=False)
    clip = MetaTensor(torch.full((1, 3, 4, 6), 0.25), meta={
        "video_id": "Set/case1", "frame_path": [f"/v/case1.mp4#{i}" for i in (0, 0, 1)],
        "frame_write": torch.tensor([False, True, True]), "spatial_shape": torch.tensor([3, 8, 12])})
    image = MetaTensor(torch.ones(1, 4, 6), meta={
        "video_id": "Set/img", "frame_path": "/v/img.png", "frame_write": torch.tensor(True),
        "spatial_shape": torch.tensor([4, 6])})
    written = writer.write([clip, image], [clip, image])
    assert written == [tmp_path / "Set/case1/0.png", tmp_path / "Set/case1/1.png", tmp_path / "Set/img/img.png"]
    assert cv2.imread(str(written[0]), cv2.IMREAD_UNCHANGED).shape == (8, 12)  # resampled to spatial_shape
    assert (cv2.imread(str(written[0]), cv2.IMREAD_UNCHANGED) == 64).all()  # 63.75 -> 64
    assert (cv2.imread(str(written[2]), cv2.IMREAD_UNCHANGED) == 255).all()


def test_bad_input(tmp_path):
    meta = {"video_id": "v", "frame_path": ["/d/1.jpg"], "spatial_shape": torch.tensor([1, 4, 4])}
    pred = torch.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"got range \[2.0, 2.0\] \(sigmoid=True for logits\)"):
        VPSPredictionWriter(tmp_path, sigmoid=False).write([pred + 2], [meta])
    with pytest.raises(ValueError, match="metadata key 'video_id' is missing"):
        VPSPredictionWriter(tmp_path).write([pred], [{"frame_path": ["/d/1.jpg"]}])
    with pytest.raises(ValueError, match=r"video_id='../up' cannot name a folder"):
        VPSPredictionWriter(tmp_path).write([pred], [{**meta, "video_id": "../up"}])
    with pytest.raises(ValueError, match="'spatial_shape'.*resample=False"):
        VPSPredictionWriter(tmp_path).write([pred], [{"video_id": "v", "frame_path": ["/d/1.jpg"]}])
    with pytest.raises(ValueError, match="2 predicted frames but 1 'frame_path'"):
        VPSPredictionWriter(tmp_path).write([torch.zeros(1, 2, 4, 4)], [meta])
    with pytest.raises(ValueError, match=r"must be \(1, T, H, W\) or \(1, H, W\), got shape \(2, 1, 4, 4\)"):
        VPSPredictionWriter(tmp_path).write([torch.zeros(2, 1, 4, 4)], [meta])
    writer = VPSPredictionWriter(tmp_path / "twice")
    writer.write([pred], [meta])
    with pytest.raises(ValueError, match=r"'.*twice/v/1.png' would be written twice in one run"):
        writer.write([pred], [meta])
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="prediction folder '.*file' exists and is not a folder"):
        VPSPredictionWriter(tmp_path / "file")
    with pytest.raises(ValueError, match="bilinar"):
        VPSPredictionWriter(tmp_path, mode="bilinar")
    good = tmp_path / "keep" / "v" / "1.png"
    VPSPredictionWriter(tmp_path / "keep").write([pred], [meta])
    before = good.read_bytes()
    with pytest.raises(ValueError, match="got range"):  # a failing run leaves the earlier file as it was
        VPSPredictionWriter(tmp_path / "keep", sigmoid=False).write([pred + 2], [meta])
    assert good.read_bytes() == before and sorted(os.listdir(good.parent)) == ["1.png"]


def test_from_a_bundle_config(synthetic, tmp_path):
    """The evaluator section the bundle uses: clips, transforms, VPSMetric key metric and the writer, as JSON."""
    _, cases = synthetic
    config = {
        "cases": cases,
        "output_dir": str(tmp_path),
        "network": {"_target_": "torch.nn.Conv3d", "in_channels": 3, "out_channels": 1, "kernel_size": 1},
        "preprocessing": {"_target_": "Compose", "transforms": [
            {"_target_": "monai_pns.transforms.LoadFramesd", "keys": ["image", "label"]},
            {"_target_": "Resized", "keys": ["image", "label"], "spatial_size": [-1, 32, 48],
             "mode": ["bilinear", "nearest"]},
            {"_target_": "NormalizeIntensityd", "keys": "image", "subtrahend": [0.4733, 0.4487, 0.3949],
             "divisor": [0.2267, 0.2201, 0.2238], "channel_wise": True}]},
        "dataset": {"_target_": "Dataset", "transform": "@preprocessing",
                    "data": {"_target_": "monai_pns.transforms.expand_sequential_clips", "cases": "@cases",
                             "clip_length": 5}},
        "dataloader": {"_target_": "DataLoader", "dataset": "@dataset", "batch_size": 2},
        "key_metric": {"val_maxDice": {
            "_target_": "IgniteMetricHandler", "save_details": False,
            "metric_fn": {"_target_": "monai_pns.metrics.VPSMetric", "metric_name": "maxDice", "sigmoid": True},
            "output_transform": "$monai.handlers.from_engine(['pred', 'label'])"}},
        "handlers": [{"_target_": "monai_pns.handlers.VPSPredictionWriter",
                      "output_dir": "$@output_dir + '/predictions'", "sigmoid": True}],
        "evaluator": {"_target_": "SupervisedEvaluator", "device": "$torch.device('cpu')",
                      "val_data_loader": "@dataloader", "network": "@network", "key_val_metric": "@key_metric",
                      "val_handlers": "@handlers"},
    }
    evaluator = ConfigParser(config).get_parsed_content("evaluator")
    evaluator.run()
    assert 0.0 < evaluator.state.metrics["val_maxDice"] < 1.0
    for case in ("1", "2"):
        assert sorted(p.name for p in (tmp_path / "predictions" / "Synthetic-Test" / case).iterdir()) == sorted(
            f"{i}.png" for i in range(1, 13))


def _writer_engine(writer):
    """A bare Ignite engine whose output is a list of probability items and whose batch is their metadata."""
    from ignite.engine import Engine

    engine = Engine(lambda e, batch: batch)
    writer.output_transform = lambda output: output["pred"]
    writer.batch_transform = lambda batch: batch["meta"]
    writer.attach(engine)
    return engine


def test_one_writer_serves_every_epoch_and_every_run(tmp_path, caplog):
    """An evaluator runs once per validation round with the same writer: each epoch writes every frame again."""
    writer = VPSPredictionWriter(tmp_path, sigmoid=False, resample=False, name="pns.test.writer")
    meta = [{"video_id": "v", "frame_path": ["/d/1.jpg", "/d/2.jpg"], "frame_write": torch.tensor([True, True])}]
    batch = {"pred": [torch.full((1, 2, 3, 4), 0.2)], "meta": meta}
    engine = _writer_engine(writer)
    with caplog.at_level("INFO", logger="pns.test.writer"):
        engine.run([batch], max_epochs=2)  # two epochs of one run
        (tmp_path / "v" / "1.png").unlink()
        batch["pred"] = [torch.full((1, 2, 3, 4), 0.6)]
        engine.run([batch], max_epochs=2)  # a second run (the next validation round)
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == ["1.png", "2.png"]
    for name in ("1.png", "2.png"):  # the second run's maps: 0.6 * 255 = 153
        assert (cv2.imread(str(tmp_path / "v" / name), cv2.IMREAD_UNCHANGED) == 153).all()
    reports = [r.getMessage() for r in caplog.records if r.name == "pns.test.writer"]
    assert reports == [f"wrote 2 prediction maps under '{tmp_path}'."] * 4  # per epoch, not cumulated
