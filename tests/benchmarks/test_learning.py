"""benchmarks/learning.py, smoke variant: every suite on a tiny synthetic set, one epoch per phase, and its parts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from monai.utils import path_to_sqlite_uri

from monai_pns.data import build_datalist, read_image
from monai_pns.evaluation import ground_truth_videos
from monai_pns.metrics import VPSEvaluator
from monai_pns.networks import PNSNet
from monai_pns.utils import EXIT_DATA_ERROR, run_cli
from tests.benchmarks import ROOT, load_benchmark

learning = load_benchmark("learning")
EXPERIMENTS = {"pnsnet-s0", "pnsnet_static-s0", "pnsnet_phase1-s0", "unet-s0", "basic_unet-s0", "row1_base-s0"}


def tiny_args(tmp: Path) -> list[str]:
    # 9 frames: data seed 0 gives a test video with polyp-free frames, and an ambiguous frame in each test video
    return ["--train-videos", "4", "--test-videos", "2", "--frames", "9", "--images", "4", "--frame-size", "32", "64",
            "--pretrain-epochs", "1", "--finetune-epochs", "1", "--seeds", "0", "--rows", "row1_base",
            "--data-dir", str(tmp / "data"), "--work", str(tmp / "work"), "--out", str(tmp / "out")]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("learning")
    report = learning.main(tiny_args(tmp))
    return tmp, report


def work_dir(tmp: Path, name: str) -> Path:
    (found,) = (tmp / "work").glob(f"{name}-*")
    return found


def test_smoke_writes_every_report(smoke):
    tmp, report = smoke
    out = tmp / "out"
    assert json.loads((out / "learning.json").read_text()) == json.loads(json.dumps(report))
    assert set(report["experiments"]) == EXPERIMENTS
    markdown = (out / "learning.md").read_text()
    for text in ("## Learning:", "## Temporal context:", "## Ablation", "| #1 | x |  |  |  |  | ",
                 "| lead of video over static | Synthetic-Test |", "| MONAI BasicUNet (frame-wise) | Synthetic-Test |"):
        assert text in markdown, text
    assert (out / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["settings"]["data"]["num_frames"] == 9 and report["settings"]["ablation_finetune_epochs"] == 1
    shared = "Every seed fine-tunes the first seed's phase-1 model (`--shared-phase1`)"
    assert report["settings"]["shared_phase1"] is False and shared not in markdown
    report_shared = {**report, "settings": {**report["settings"], "shared_phase1": True}}
    assert f"\n\n{shared}: the seeds vary phase 2 only.\n\n## Learning:" in learning._markdown(report_shared, {
        "learning": []})


def test_each_model_runs_its_phases_through_the_bundle(smoke):
    _, report = smoke
    runs = {name: sorted(r["times_s"]) for name, r in report["experiments"].items()}
    assert runs == {
        "pnsnet_phase1-s0": ["evaluating", "pretraining"],  # phase 1, scored frame by frame
        "pnsnet-s0": ["evaluating", "finetuning"],  # phase 2 from pnsnet_phase1-s0's model
        "pnsnet_static-s0": ["evaluating", "finetuning"],
        "unet-s0": ["evaluating", "finetuning", "pretraining"],
        "basic_unet-s0": ["evaluating", "finetuning", "pretraining"],
        "row1_base-s0": ["evaluating", "finetuning"],
    }
    assert all(t > 0 for r in report["experiments"].values() for t in r["times_s"].values())
    settings = {name: (r["settings"]["network"], r["settings"]["inferer"]) for name, r in report["experiments"].items()}
    assert settings["pnsnet-s0"] == ("PNSNet", "AutocastInferer")
    assert settings["pnsnet_static-s0"] == settings["pnsnet_phase1-s0"] == ("PNSNet", "FrameWiseInferer")
    assert settings["unet-s0"] == ("UNet", "FrameWiseInferer") and settings["basic_unet-s0"][0] == "BasicUNet"
    assert report["experiments"]["row1_base-s0"]["settings"]["network_kwargs"] == {"zero_init": True, "num_blocks": 0}


def test_shared_phase_1_model(smoke):
    tmp, _ = smoke
    phase1 = torch.load(work_dir(tmp, "pnsnet_phase1-s0") / "pretrain" / "model.pt", weights_only=True)["model"]
    video, static, row1 = (torch.load(work_dir(tmp, name) / "phase1_start.pt", weights_only=True)
                           for name in ("pnsnet-s0", "pnsnet_static-s0", "row1_base-s0"))
    assert set(static) == set(video) == set(phase1) and not any(k.startswith("ns_blocks.") for k in row1)
    for key, value in row1.items():
        assert torch.equal(value, phase1[key]) and torch.equal(static[key], phase1[key]), key
    for key, value in video.items():  # video and static twin start from the very same weights
        assert torch.equal(value, static[key]), key
    assert not (work_dir(tmp, "pnsnet-s0") / "pretrain").exists()
    assert (work_dir(tmp, "pnsnet_phase1-s0") / "predictions" / "PNSNet_phase1" / "Synthetic-Test" / "2").is_dir()


def test_scores_match_an_independent_evaluation(smoke):
    """Subsets found from the ground-truth masks themselves (not the manifest) and scored frame by frame."""
    tmp, report = smoke
    videos = ground_truth_videos(build_datalist("pnsnet", tmp / "data"), "test")
    manifest = json.loads((tmp / "data" / "manifest.json").read_text())
    for name, model in (("pnsnet-s0", "PNSNet"), ("unet-s0", "UNet"), ("pnsnet_static-s0", "PNSNet_static")):
        record, out = report["experiments"][name], work_dir(tmp, name)
        summary = json.loads((out / "evaluation" / "summary.json").read_text())["results"][model]["Synthetic-Test"]
        assert record["test"]["Synthetic-Test"] == {k: summary[k] for k in record["test"]["Synthetic-Test"]}
        polyp, ambiguous = VPSEvaluator(skip_first_last=False), VPSEvaluator(skip_first_last=False)
        free_shares = []
        for video in videos:
            shares = []
            ambiguous_frames = {int(i) for i in manifest["cases"][video.video]["ambiguous"]}
            for frame in video.frames[1:-1]:
                gt = read_image(frame.gt_ref, mask=True)
                pred = read_image(out / "predictions" / model / frame.pred_rel, mask=True)
                if gt.any():
                    polyp.add_frame(pred, gt, video.video, frame.index)
                else:
                    shares.append(np.mean(pred >= 128))
                if frame.index in ambiguous_frames:
                    ambiguous.add_frame(pred, gt, video.video, frame.index)
            free_shares += [np.mean(shares)] if shares else []
        assert free_shares, "the tiny set must hold polyp-free frames"
        for subset, expected in (("polyp", polyp), ("ambiguous", ambiguous)):
            got = record["subsets"][subset]["Synthetic-Test"]
            for key, value in expected.set_results()["default"].items():
                if key in got:
                    assert got[key] == pytest.approx(value, abs=1e-12), (name, subset, key)
        assert record["false_positive_area"]["Synthetic-Test"] == pytest.approx(np.mean(free_shares), abs=1e-12)


def test_ceiling_is_the_share_of_polyp_frames(smoke):
    """A perfect prediction scores Dice 1 on a frame with a polyp and 0 on one without (the TP = 0 rule)."""
    tmp, report = smoke
    videos = ground_truth_videos(build_datalist("pnsnet", tmp / "data"), "test")
    shares = [np.mean([read_image(f.gt_ref, mask=True).any() for f in v.frames[1:-1]]) for v in videos]
    assert 0 < np.mean(shares) < 1
    perfect = report["ceiling"]["Synthetic-Test"]
    assert perfect["maxDice"] == pytest.approx(np.mean(shares), abs=1e-12) and perfect["MAE"] == 0.0
    assert f"| perfect prediction (ceiling) | Synthetic-Test | {np.mean(shares):.3f} |" in (
        tmp / "out" / "learning.md").read_text()


def test_curves_are_read_back_from_mlflow(smoke):
    tmp, report = smoke
    for name, phase, run_name in (("pnsnet_phase1-s0", "pretrain", "pretraining"),
                                  ("pnsnet-s0", "finetune", "finetuning")):
        curves = report["experiments"][name]["curves"]
        client = mlflow.MlflowClient(path_to_sqlite_uri(str(work_dir(tmp, name) / "mlruns.db")))
        experiment = client.get_experiment_by_name("pns_net").experiment_id
        runs = {r.info.run_name: r for r in client.search_runs([experiment])}
        assert set(runs) == {run_name, "evaluating"}
        losses = [m.value for m in client.get_metric_history(runs[run_name].info.run_id, f"{phase}/loss")]
        assert len(losses) > 1 and curves[f"{phase}/loss"] == [[1, pytest.approx(np.mean(losses), abs=1e-12)]]
        assert curves[f"{phase}/val_maxDice"] == [[1, runs[run_name].data.metrics[f"{phase}/val_maxDice"]]]
        assert set(curves) == {f"{phase}/loss", f"{phase}/val_maxDice"}


def test_finished_models_are_reused(smoke, monkeypatch):
    tmp, report = smoke

    def no_run(*args):
        raise AssertionError(f"a finished model was run again: {args}")

    monkeypatch.setattr(learning, "_run_bundle", no_run)
    again = learning.main(tiny_args(tmp))
    assert again["experiments"] == json.loads(json.dumps(report["experiments"]))


def test_an_unfinished_model_starts_again_from_scratch(smoke):
    """A fresh process (as after a crash) finds a model folder without its record: the folder is redone."""
    tmp, report = smoke
    redone = work_dir(tmp, "pnsnet-s0")
    (redone / "benchmark.json").unlink()
    (redone / "left_over.txt").write_text("an interrupted attempt")
    others = {p: p.stat().st_mtime_ns for p in (tmp / "work").glob("*/benchmark.json")}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "learning.py"), *tiny_args(tmp)], cwd=tmp,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (redone / "left_over.txt").exists()
    assert {p: p.stat().st_mtime_ns for p in others} == others  # the finished ones were only read
    record = json.loads((redone / "benchmark.json").read_text())
    before = json.loads(json.dumps(report["experiments"]["pnsnet-s0"]))
    assert record.pop("times_s").keys() == before.pop("times_s").keys() == {"finetuning", "evaluating"}
    assert record == before  # phase 2 run again from the same start gives the same model and numbers


def test_epoch_curves_average_each_epoch():
    curves = {"pretrain/loss": [[1, 1.0], [2, 3.0], [3, 0.5], [4, 0.25]], "pretrain/val_maxDice": [[1, 0.5], [2, 0.75]]}
    assert learning.epoch_curves(curves, {"pretrain": 2}) == {
        "pretrain/loss": [[1, 2.0], [2, 0.375]], "pretrain/val_maxDice": [[1, 0.5], [2, 0.75]]}
    with pytest.raises(ValueError, match=r"'pretrain/loss' has 3 values up to step 3: not 2 whole epochs"):
        learning.epoch_curves({"pretrain/loss": curves["pretrain/loss"][:3]}, {"pretrain": 2})


def test_phase1_start_takes_every_phase_1_entry_and_keeps_the_ns_blocks(tmp_path):
    torch.manual_seed(0)
    trained, row = PNSNet(num_blocks=1), PNSNet(num_groups=2, num_blocks=3)
    torch.save(trained.state_dict(), tmp_path / "phase1.pt")
    start = learning.phase1_start(tmp_path / "phase1.pt", row)
    own = row.state_dict()
    assert list(start) == list(own)
    for key, value in start.items():
        assert torch.equal(value, own[key] if key.startswith("ns_blocks.") else trained.state_dict()[key]), key
    state = trained.state_dict()
    del state["decoder.high_reduce.weight"]
    torch.save(state, tmp_path / "partial.pt")
    with pytest.raises(ValueError, match=r"partial.pt': entry 'decoder.high_reduce.weight' is missing, expected \("):
        learning.phase1_start(tmp_path / "partial.pt", row)


def test_the_phase_2_start_network_takes_the_overrides():
    """``--set network_kwargs=...`` reaches the network whose state phase 2 starts from (it once took train.json's
    defaults only, and the bundle then refused the start state for its missing entries)."""
    row = ROOT / "configs" / "ablation" / "row3_n2.json"
    network = learning._network([learning.TRAIN, row], {"network_kwargs": {"num_blocks": 3, "num_groups": 2}}, 0)
    assert len(network.ns_blocks) == 3 and network.ns_blocks[0].num_groups == 2
    assert len(learning._network([learning.TRAIN, row], {}, 0).ns_blocks) == 1  # the row's own settings
    torch.manual_seed(0)
    expected = PNSNet(zero_init=True).ns_blocks[1].query.weight
    assert torch.equal(learning._network([learning.TRAIN], {}, 0).ns_blocks[1].query.weight, expected)  # the seed


def test_plan_orders_shared_phase_1_first():
    plan = learning.plan(["ablation"], [3, 4], ["row4_n4", "row1_base"], {"finetune_epochs": 2})
    assert [(e.name, e.phase1_from, e.phase1_only) for e in plan] == [
        ("pnsnet_phase1-s3", None, True), ("row4_n4-s3", "pnsnet_phase1-s3", False),
        ("row1_base-s3", "pnsnet_phase1-s3", False)]
    assert plan[1].overrides == {"finetune_epochs": 2}
    both = learning.plan(["learning", "temporal"], [0, 1], [], {})
    assert [(e.name, e.phase1_from) for e in both] == [
        ("pnsnet_phase1-s0", None), ("pnsnet-s0", "pnsnet_phase1-s0"), ("pnsnet_static-s0", "pnsnet_phase1-s0"),
        ("unet-s0", None), ("basic_unet-s0", None),
        ("pnsnet_phase1-s1", None), ("pnsnet-s1", "pnsnet_phase1-s1"), ("pnsnet_static-s1", "pnsnet_phase1-s1")]
    assert [e.seed for e in both] == [0, 0, 0, 0, 0, 1, 1, 1]
    assert both[2].configs == (learning.BASELINES / "static.json",) and both[1].configs == ()
    shared = learning.plan(["temporal", "ablation"], [5, 6], ["row1_base"], {}, shared_phase1=True)
    assert [(e.name, e.seed, e.phase1_from) for e in shared] == [
        ("pnsnet_phase1-s5", 5, None), ("pnsnet-s5", 5, "pnsnet_phase1-s5"),
        ("pnsnet_static-s5", 5, "pnsnet_phase1-s5"), ("pnsnet-s6", 6, "pnsnet_phase1-s5"),
        ("pnsnet_static-s6", 6, "pnsnet_phase1-s5"), ("row1_base-s5", 5, "pnsnet_phase1-s5")]
    unet_only = learning.plan(["learning"], [2], [], {}, baselines=["unet"])
    assert [(e.name, e.label, e.configs) for e in unet_only[3:]] == [
        ("unet-s2", "MONAI UNet (frame-wise)", (learning.BASELINES / "unet.json",))]
    assert [e.name for e in learning.plan(["learning"], [2], [], {}, baselines=[])] == [
        "pnsnet_phase1-s2", "pnsnet-s2", "pnsnet_static-s2"]


def test_temporal_table_spread_over_seeds():
    def record(all_frames, ambiguous):
        return {"test": {"S": {"maxDice": all_frames}},
                "subsets": {"polyp": {}, "ambiguous": {"S": {"maxDice": ambiguous}}}}

    records = {"pnsnet-s0": record(0.5, 0.75), "pnsnet_static-s0": record(0.25, 0.5),
               "pnsnet-s1": record(0.75, 1.0), "pnsnet_static-s1": record(0.5, 0.25),
               "pnsnet_phase1-s0": record(0.125, 0.0), "pnsnet_phase1-s1": record(0.125, 0.0)}
    lines, summary = learning.temporal_table(records, [0, 1])
    assert lines[2] == ("| PNS-Net (video) | S | 0.625 ± 0.177 | - | 0.875 ± 0.177 "
                        "| s0: 0.500 / 0.750; s1: 0.750 / 1.000 |")
    assert lines[4] == ("| PNS-Net phase 1 only | S | 0.125 ± 0.000 | - | 0.000 ± 0.000 "
                        "| s0: 0.125 / 0.000; s1: 0.125 / 0.000 |")
    assert summary["lead"]["S"]["ambiguous"] == {"mean": 0.5, "sd": pytest.approx(0.125 ** 0.5), "values": [0.25, 0.75]}
    one_seed_lines, one_seed = learning.temporal_table(records, [1])
    assert one_seed_lines[5] == "| lead of video over static | S | 0.250 | - | 0.750 | s1: 0.250 / 0.750 |"
    assert one_seed["lead"]["S"]["test"] == {"mean": 0.25, "sd": None, "values": [0.25]}
    del records["pnsnet_phase1-s1"]  # one phase-1 model shared by both seeds: scored once
    shared_lines, _ = learning.temporal_table(records, [0, 1])
    assert shared_lines[4] == "| PNS-Net phase 1 only | S | 0.125 | - | 0.000 | s0: 0.125 / 0.000; s1: - / - |"


def test_bad_arguments_stop_before_any_work(tmp_path, capsys):
    taken = tmp_path / "file"
    taken.write_text("")
    args = tiny_args(tmp_path)
    assert run_cli(learning.main, args[:-1] + [str(taken)]) == EXIT_DATA_ERROR
    assert capsys.readouterr().err == f"error: --out '{taken}' exists and is not a folder.\n"
    assert not (tmp_path / "work").exists() and not (tmp_path / "data").exists()
    with pytest.raises(SystemExit) as usage:
        learning.main(args + ["--seeds", "1", "1"])
    assert usage.value.code == 2 and "--seeds must differ, got [1, 1]" in capsys.readouterr().err


def test_only_trains_the_named_models_once_their_start_is_finished(smoke, tmp_path):
    """--only: unknown names are listed with the planned ones; a model whose phase-1 model is unfinished is refused;
    with the start finished, only the named model is (re)used and no report is written."""
    tmp, _ = smoke
    with pytest.raises(ValueError, match=r"--only: \['pnsnet-s9'\] not among the planned models \["):
        learning.main([*tiny_args(tmp), "--only", "pnsnet-s9"])
    empty = [*tiny_args(tmp)[:-4], "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out")]
    with pytest.raises(ValueError, match=r"--only pnsnet-s0: it starts from 'pnsnet_phase1-s0', which is not finished"):
        learning.main([*empty, "--only", "pnsnet-s0"])
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())
    result = learning.main([*tiny_args(tmp)[:-2], "--out", str(tmp_path / "out"), "--only", "pnsnet_static-s0"])
    assert list(result["experiments"]) == ["pnsnet_static-s0"]
    assert result["experiments"]["pnsnet_static-s0"] == json.loads(
        (work_dir(tmp, "pnsnet_static") / "benchmark.json").read_text())
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_phase1_models_are_reused_whatever_phase2_does(smoke, tmp_path):
    """A phase-1 model's folder is not named by phase-2 settings: another phase-2 schedule finds the finished one."""
    tmp, report = smoke
    args = [*tiny_args(tmp)[:-2], "--out", str(tmp_path / "out"), "--only", "pnsnet_phase1-s0"]
    other = learning.main([*args, "--finetune-epochs", "3", "--clips-per-video", "2"])
    assert other["experiments"]["pnsnet_phase1-s0"] == report["experiments"]["pnsnet_phase1-s0"]
    assert len(list((tmp / "work").glob("pnsnet_phase1-s0-*"))) == 1
    with pytest.raises(ValueError, match="it starts from 'pnsnet_phase1-s0', which is not finished"):
        learning.main([*tiny_args(tmp)[:-2], "--out", str(tmp_path / "out"), "--pretrain-epochs", "2",
                       "--only", "pnsnet-s0"])  # a phase-1 setting names another folder
