from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import DataLoader, Dataset, MetaTensor
from monai.engines import SupervisedEvaluator
from monai.handlers import CheckpointSaver, IgniteMetricHandler, from_engine

from monai_pns.metrics import VPSEvaluator, VPSMetric


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
        assert rows.shape == (1, 2 + 256 + 256 + 1)
    values = metric.aggregate()
    expected = reference(items, ("maxDice", "meanIoU", "MAE"), skip_first_last=False)
    np.testing.assert_allclose([float(v) for v in values], [expected[k] for k in ("maxDice", "meanIoU", "MAE")])
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
