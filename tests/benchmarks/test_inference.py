"""benchmarks/inference.py, smoke variant: a small clip, one timed round, a checkpoint scored on the synthetic set."""

from __future__ import annotations

import json

import pytest
import torch

from monai_pns.inference.onnx_backend import has_onnxruntime
from monai_pns.networks import PNSNet
from monai_pns.utils import EXIT_DATA_ERROR, run_cli
from tests.benchmarks import load_benchmark

inference = load_benchmark("inference")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inference")
    torch.manual_seed(0)
    torch.save(PNSNet().state_dict(), tmp / "model.pt")
    out = tmp / "results" / "inference.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MONAI_PNS_CACHE", str(tmp / "cache"))  # the synthetic set of the accuracy rows
        report = inference.main(["--repeats", "1", "--height", "64", "--width", "112", "--video-frames", "6",
                                 "--checkpoint", str(tmp / "model.pt"), "--accuracy-size", "64", "112",
                                 "--out", str(out)])
    return out, report


def test_report_written_as_returned(smoke):
    out, report = smoke
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert report["clip"] == {"frames": 5, "height": 64, "width": 112}


def test_every_path_timed_against_eager(smoke):
    _, report = smoke
    rows = report["model_alone"]
    with_ort = {"fast_onnxruntime", "fast_int8", "onnxruntime"}
    expected = {"eager", "fast_torch"} | (with_ort if has_onnxruntime else set())
    assert expected <= set(rows)
    streamed = expected - {"onnxruntime"} | ({"fast_bf16"} if "fast_bf16" in rows else set())
    assert set(report["streaming"]) == streamed
    eager = rows["eager"]["median_s"]
    for row in rows.values():
        assert len(row["times_s"]) == 1 and row["median_s"] > 0
        assert row["speedup"] == pytest.approx(eager / row["median_s"])
        assert row["fps"] == pytest.approx(5 / row["median_s"])
    assert rows["eager"]["max_probability_difference"] == 0.0
    for stream in report["streaming"].values():
        assert stream["ratio"] == pytest.approx(stream["frame_s"] / stream["clip_s"])
    int8 = {"fast_int8", "fast_int8_one_thread"} if has_onnxruntime else set()
    assert set(report["end_to_end"]) == {"eager", "fast"} | int8
    assert {row["frames"] for row in report["end_to_end"].values()} == {6}


def test_every_path_scored_like_eager(smoke):
    """The accuracy target of the fast paths: the six paper metrics on the synthetic test videos, maxDice within
    0.005 of the eager float32 model (here with random weights)."""
    _, report = smoke
    scores = report["accuracy"]
    assert {"eager", "fast_torch", "fast_bf16"} <= set(scores)
    for name, values in scores.items():
        assert set(values) == set(inference.PAPER_METRICS), name
        assert values["maxDice"] == pytest.approx(scores["eager"]["maxDice"], abs=0.005), name


def test_bad_output_path_stops_before_any_work(tmp_path, capsys):
    folder = tmp_path / "taken"
    folder.mkdir()
    args = ["--checkpoint", str(tmp_path / "missing.pt"), "--out", str(folder)]
    assert run_cli(inference.main, args) == EXIT_DATA_ERROR
    assert capsys.readouterr().err == f"error: --out '{folder}' is a folder.\n"
