from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from monai.data import DataLoader, Dataset, MetaTensor
from monai.engines import SupervisedEvaluator
from monai.handlers import CheckpointSaver, IgniteMetricHandler, from_engine

from monai_pns.metrics import VPSEvaluator, VPSMetric
from monai_pns.transforms import expand_frames, expand_sequential_clips, sequential_windows
from tests.bundle_chains import bundle_chain
from tests.stand_ins import RedLogits, synthetic_test_videos


def make_clips(seed: int = 0, frames: int = 2, size: int = 24):
    """Two videos (4 and 6 frames) cut into clips of ``frames``: logits (1, T, H, W) and a MetaTensor label."""
    g = torch.Generator().manual_seed(seed)
    items = []
    for video, length in (("v1", 4), ("v2", 6)):
        for start in range(0, length, frames):
            label = torch.zeros(1, frames, size, size)
            label[..., 6 + start : 16 + start, 5:15] = 1.0
            logits = 4 * (label - 0.5) + 2.5 * torch.randn(label.shape, generator=g)
            index = torch.arange(start, start + frames)
            items.append(
                {"image": logits, "label": MetaTensor(label, meta={"video_id": video, "frame_index": index})}
            )
    return items


def reference(items, names, skip_first_last=True):
    ev = VPSEvaluator(skip_first_last=skip_first_last, summary_keys=names)
    for item in items:
        prob = torch.sigmoid(item["image"])[0].double().numpy()
        label = item["label"].as_tensor()[0].numpy() > 0.5
        for t, idx in enumerate(item["label"].meta["frame_index"].tolist()):
            ev.add_frame(prob[t], label[t], item["label"].meta["video_id"], idx)
    return ev.set_results()["default"]


@pytest.mark.parametrize("decollate", [True, False])
def test_supervised_evaluator_key_metric(decollate, tmp_path):
    items = make_clips()
    loader = DataLoader(Dataset(items), batch_size=2, num_workers=0)
    network = torch.nn.Identity()  # the stored logits are the "network output"
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=loader,
        network=network,
        key_val_metric={
            "val_max_dice": IgniteMetricHandler(
                VPSMetric("maxDice", sigmoid=True), output_transform=from_engine(["pred", "label"]), save_details=False
            )
        },
        additional_metrics={
            "val_s": IgniteMetricHandler(
                VPSMetric("S_alpha", sigmoid=True), output_transform=from_engine(["pred", "label"]), save_details=False
            )
        },
        val_handlers=[CheckpointSaver(str(tmp_path), {"net": network}, save_key_metric=True)],
        decollate=decollate,
    )
    evaluator.run()
    expected = reference(items, ("maxDice", "S_alpha"))
    assert 0.3 < expected["maxDice"] < 0.99  # a noisy, non-trivial case
    assert evaluator.state.metrics["val_max_dice"] == pytest.approx(expected["maxDice"], abs=1e-12)
    assert evaluator.state.metrics["val_s"] == pytest.approx(expected["S_alpha"], abs=1e-12)
    assert evaluator.state.best_metric == pytest.approx(expected["maxDice"], abs=1e-12)  # key metric
    saved = [p.name for p in tmp_path.glob("*.pt")]  # best-checkpoint selection on maxDice
    assert saved == [f"net_key_metric={expected['maxDice']:.4f}.pt"]


def test_direct_call_multiple_names_and_2d():
    items = make_clips(seed=1, frames=1)
    metric = VPSMetric(("maxDice", "meanIoU", "MAE"), sigmoid=True, skip_first_last=False)
    for item in items:
        logits = item["image"][:, 0][None]  # (1, 1, H, W)
        label = item["label"].as_tensor()[:, 0][None]
        meta = item["label"].meta
        rows = metric(logits, label, video_id=[meta["video_id"]], frame_index=meta["frame_index"])
        assert rows.shape == (1, 4 + 256 + 256 + 1)
    values = metric.aggregate()
    expected = reference(items, ("maxDice", "meanIoU", "MAE"), skip_first_last=False)
    np.testing.assert_allclose([float(v) for v in values], [expected[k] for k in ("maxDice", "meanIoU", "MAE")])
    curves = metric.evaluator().set_curves()["default"]
    assert (curves["dice"].shape, curves["mae"].shape) == ((256,), ())  # a scalar key (size 1) comes back a scalar
    metric.reset()
    with pytest.raises(ValueError, match="no buffered frame"):
        metric.aggregate()


def test_ill_arg():
    metric = VPSMetric()
    x = torch.zeros(1, 1, 2, 8, 8)
    with pytest.raises(ValueError, match="'video_id' is missing"):
        metric(x, x)
    with pytest.raises(ValueError, match=r"\(B, 1, T, H, W\)"):
        metric(torch.zeros(1, 2, 2, 8, 8), torch.zeros(1, 2, 2, 8, 8), video_id=["a"], frame_index=[[0, 1]])
    with pytest.raises(ValueError, match="2 video ids"):
        metric(x, x, video_id=["a", "b"], frame_index=[[0, 1]])
    with pytest.raises(ValueError, match="maxdise"):
        VPSMetric("maxdise")


# --- the metric inside MONAI engines, fed by the library's transforms as they are -------------------------------

SIZE = (32, 48)


def _chain(clip: bool = True):
    """The bundle's evaluation chain (load, resize, normalise) for clips or single frames, at ``SIZE``."""
    return bundle_chain("validate" if clip else "pretrain_validate", spatial_size=list(SIZE))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return synthetic_test_videos(tmp_path_factory.mktemp("syn"))[1]


def _evaluator(items, transform, metric_names, decollate):
    loader = DataLoader(Dataset(items, transform), batch_size=2, num_workers=0)
    metrics = {
        name: IgniteMetricHandler(VPSMetric(name, sigmoid=True), output_transform=from_engine(["pred", "label"]),
                                  save_details=False)
        for name in metric_names
    }
    return SupervisedEvaluator(device=torch.device("cpu"), val_data_loader=loader, network=RedLogits(),
                               key_val_metric={metric_names[0]: metrics[metric_names[0]]},
                               additional_metrics={n: metrics[n] for n in metric_names[1:]}, decollate=decollate)


def _whole_video_reference(cases, names):
    """Each video loaded whole (T = all its frames), predicted at once and every frame scored once."""
    ev = VPSEvaluator(summary_keys=names)
    transform = _chain()
    for case in cases:
        d = transform({"image": case["image"], "label": case["label"]})
        prob = torch.sigmoid(RedLogits()(d["image"].as_tensor()[None]))[0, 0].double().numpy()
        label = d["label"].as_tensor()[0].numpy() > 0.5
        for i in range(len(case["image"])):
            ev.add_frame(prob[i], label[i], case["case"], i)
    return ev.set_results()["default"]


@pytest.mark.parametrize("decollate, anchor", [(True, False), (False, False), (True, True)])
def test_evaluator_on_sequential_clips(videos, decollate, anchor):
    """expand_sequential_clips + the bundle's evaluation chain + VPSMetric, no hand-made ids: the shifted last clip's overlap
    (and the PNS+ anchor frame) are scored once, from the clip that writes them."""
    names = ("maxDice", "S_alpha")
    clips = expand_sequential_clips(videos, clip_length=5, anchor=anchor)
    evaluator = _evaluator(clips, _chain(), names, decollate)
    evaluator.run()
    expected = _whole_video_reference(videos, names)
    assert 0.1 < expected["maxDice"] < 0.99 and expected["frames"] == 2 * 10
    for name in names:
        assert evaluator.state.metrics[name] == pytest.approx(expected[name], abs=1e-12)


def test_evaluator_on_single_frames(videos):
    """Phase-1 validation: every frame of the videos as a (C, H, W) item (expand_frames), scored per video."""
    names = ("maxDice", "MAE")
    evaluator = _evaluator(expand_frames(videos), _chain(clip=False), names, True)
    evaluator.run()
    ev = VPSEvaluator(summary_keys=names)
    transform = _chain(clip=False)
    for case in videos:
        for i, (image, label) in enumerate(zip(case["image"], case["label"])):
            d = transform({"image": image, "label": label})
            prob = torch.sigmoid(RedLogits()(d["image"].as_tensor()[None]))[0, 0].double().numpy()
            ev.add_frame(prob, d["label"].as_tensor()[0].numpy() > 0.5, case["case"], i)
    expected = ev.set_results()["default"]
    assert 0.1 < expected["maxDice"] < 0.99
    for name in names:
        assert evaluator.state.metrics[name] == pytest.approx(expected[name], abs=1e-12)


def test_frame_write_flags():
    items = make_clips(seed=2, frames=2)
    metric = VPSMetric(("maxDice", "MAE"), sigmoid=True, skip_first_last=False)
    kept = []
    for k, item in enumerate(items):
        writes = torch.tensor([True, k % 2 == 0])  # the second frame of every other clip is not scored
        rows = metric(item["image"][None], item["label"][None], frame_write=writes[None])
        assert rows[:, 3].tolist() == writes.float().tolist()
        assert torch.isnan(rows[1, 4:]).all() == (not writes[1])
        kept.append({"image": item["image"][:, writes],
                     "label": MetaTensor(item["label"].as_tensor()[:, writes],
                                         meta={"video_id": item["label"].meta["video_id"],
                                               "frame_index": item["label"].meta["frame_index"][writes]})})
    expected = reference(kept, ("maxDice", "MAE"), skip_first_last=False)
    np.testing.assert_array_equal([float(v) for v in metric.aggregate()], [expected["maxDice"], expected["MAE"]])
    metric(items[0]["image"][None], items[0]["label"][None])  # frames 0, 1 of v1 scored again
    with pytest.raises(ValueError, match="frame 0 of video 'v1' .* was added twice"):
        metric.aggregate()


# --- across processes --------------------------------------------------------------------------------------------

NAMES = ("maxDice", "S_alpha", "MAE")


def _video_items():
    """Clips of 3 frames (the last one shifted, its overlap flagged False) of four videos, in order."""
    g = torch.Generator().manual_seed(7)
    items = []
    for video, length in (("v1", 6), ("v2", 5), ("v3", 9), ("v4", 4)):
        for indices, writes in sequential_windows(length, 3):
            label = (torch.rand(1, 3, 20, 20, generator=g) > 0.7).float()
            logits = 3 * (label - 0.5) + 2 * torch.randn(label.shape, generator=g)
            meta = {"video_id": video, "frame_index": torch.tensor(indices), "frame_write": torch.tensor(writes)}
            items.append((logits, MetaTensor(label, meta=meta)))
    return items


def _shares():
    """Rank 0: v1, v2 and the first clip of v3 (15 frames); rank 1: the rest of v3 and v4 (12 frames). Each
    rank codes its first video 0, so rows carrying only the code would mix v1 with v3."""
    items = _video_items()
    return items[:5], items[5:]


def _score(items):
    metric = VPSMetric(NAMES, sigmoid=True)
    for logits, label in items:
        metric(logits[None], label[None])
    values = [float(v) for v in metric.aggregate()]
    return values, metric.evaluator().video_results()


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        values, videos = _score(_shares()[rank])
        torch.save({"values": values, "videos": videos}, f"{out_dir}/{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_processes_aggregate_like_one(tmp_path):
    shares = _shares()
    assert sum(writes for _, label in shares[0] for writes in label.meta["frame_write"].tolist()) == 14
    assert len(shares[0]) * 3 == 15 and len(shares[1]) * 3 == 12  # uneven buffers: MONAI pads the gather
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    values, videos = _score(_video_items())
    assert [v["video"] for v in videos] == ["v1", "v2", "v3", "v4"] and sum(v["frames"] for v in videos) == 24 - 8
    for rank in (0, 1):
        result = torch.load(tmp_path / f"{rank}.pt", weights_only=False)
        assert result["values"] == values  # exactly the 1-process numbers, on every rank
        assert result["videos"] == videos


# --- orders other than the alphabet's, thresholds hit exactly, reuse after reset ---------------------------------


def _frames_of(video_quality: dict[str, float], size: int = 16, frames: int = 3, seed: int = 0):
    """Per video, ``frames`` (prob (1, 1, H, W), label (1, 1, H, W), index): a square polyp predicted with noise
    of the given amplitude (video quality differs, so swapped names change the per-video results)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for video, noise in video_quality.items():
        for t in range(frames):
            label = torch.zeros(1, 1, size, size)
            label[..., 4 + t : 10 + t, 3:11] = 1.0
            prob = (0.8 * label + noise * torch.rand(label.shape, generator=g)).clamp(0, 1)
            out.append((video, t, prob, label))
    return out


def _fill(metric, frames):
    for video, t, prob, label in frames:
        metric(prob, label, video_id=[video], frame_index=torch.tensor([t]))


def _video_reference(frames, names=("maxDice", "S_alpha")):
    ev = VPSEvaluator(skip_first_last=False, summary_keys=names)
    for video, t, prob, label in frames:
        ev.add_frame(prob[0, 0].double().numpy(), label[0, 0].numpy() > 0.5, video, t)
    return {row["video"]: row for row in ev.video_results()}, ev.set_results()["default"]


def test_videos_in_natural_not_alphabetical_order():
    """case2 before case10 (as the datalist orders them): each frame keeps its own video's name."""
    frames = _frames_of({"case2": 0.1, "case10": 1.6, "case1": 0.9})
    metric = VPSMetric(("maxDice", "S_alpha"), skip_first_last=False)
    _fill(metric, frames)
    rows = {row["video"]: row for row in metric.evaluator().video_results()}
    expected, _ = _video_reference(frames)
    assert list(rows) == ["case2", "case10", "case1"]  # in the order they came
    assert rows["case2"]["S_alpha"] > rows["case1"]["S_alpha"] > rows["case10"]["S_alpha"]  # distinct videos
    for video, row in expected.items():
        assert rows[video]["maxDice"] == pytest.approx(row["maxDice"], abs=1e-12)
        assert rows[video]["S_alpha"] == pytest.approx(row["S_alpha"], abs=1e-12)


def test_a_label_exactly_at_the_threshold_is_background():
    frames = _frames_of({"v": 0.4}, frames=2)
    halves = []
    for video, t, prob, label in frames:
        label = label.clone()
        label[..., 0:4, :] = 0.5  # a band exactly at label_threshold: not polyp
        halves.append((video, t, prob, label))
    metric = VPSMetric(("maxDice", "S_alpha"), skip_first_last=False, label_threshold=0.5)
    _fill(metric, halves)
    _, expected = _video_reference(frames)  # the same labels without the band
    _, counted = _video_reference([(v, t, p, (lab >= 0.5).float()) for v, t, p, lab in halves])
    values = [float(v) for v in metric.aggregate()]
    np.testing.assert_allclose(values, [expected["maxDice"], expected["S_alpha"]], rtol=0, atol=1e-12)
    assert abs(counted["maxDice"] - expected["maxDice"]) > 0.01  # the band counted as polyp would differ


def test_reuse_after_reset_equals_a_fresh_metric():
    """A metric of an evaluator that runs every validation round: reset, then other videos (in another order)."""
    first = _frames_of({"a": 0.3, "b": 0.6}, seed=1)
    second = _frames_of({"case10": 0.7, "b": 0.2, "case9": 0.4}, seed=2)
    reused = VPSMetric(("maxDice", "S_alpha"), skip_first_last=False)
    _fill(reused, first)
    reused.aggregate()
    reused.reset()
    _fill(reused, second)  # video 'b' and its frame indices again: no "scored twice"
    fresh = VPSMetric(("maxDice", "S_alpha"), skip_first_last=False)
    _fill(fresh, second)
    assert [float(v) for v in reused.aggregate()] == [float(v) for v in fresh.aggregate()]
    rows = {row["video"]: row["maxDice"] for row in reused.evaluator().video_results()}
    assert rows == {row["video"]: row["maxDice"] for row in fresh.evaluator().video_results()}
    assert list(rows) == ["case10", "b", "case9"]
