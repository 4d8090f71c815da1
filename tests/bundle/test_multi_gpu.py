"""bundles/pns_net multi-GPU configs on the CPU: two gloo processes under torchrun against one process with the same
global batch (training, then evaluating), launch errors, a process that dies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import torch
from monai.bundle import run as bundle_run
from monai.utils import path_to_sqlite_uri

from monai_pns.data import generate_synthetic_dataset
from monai_pns.distributed import TORCHRUN_VARIABLES
from monai_pns.networks import PNSNet
from tests.stand_ins import free_port, world_of_one

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "bundles" / "pns_net" / "configs"
TRAIN, EVALUATE = CONFIGS / "train.json", CONFIGS / "evaluate.json"
MULTI_TRAIN, MULTI_EVALUATE = CONFIGS / "multi_gpu_train.json", CONFIGS / "multi_gpu_evaluate.json"
TINY = {"spatial_size": [32, 64], "clip_length": 3, "pretrain_epochs": 1, "finetune_epochs": 1, "progress": False,
        "amp": False}
# One computation in both layouts: a PNSNet whose outputs and gradients are per item and float64 (tests.stand_ins),
# no random augmentation, the training clips fixed. The two runs then differ only by the order of float64 sums;
# measured: 4e-12 on the weights after both phases.
EXACT = {
    "network_def": {"_target_": "tests.stand_ins.ExactPNSNet", "dropout": 0.0},
    "pretrain#preprocessing": "@pretrain_validate#preprocessing",
    "train#dataset#data": "$monai_pns.transforms.expand_sequential_clips(@train_cases, clip_length=@clip_length)",
    "train#preprocessing": "@eval_preprocessing",
}
WEIGHT_TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> str:
    """3 training videos of 5 frames + 1 image: 16 phase-1 images and 6 phase-2 clips of 3 frames, both even, so the
    2-process split pads nothing; 1 validation video, 2 test videos."""
    root = tmp_path_factory.mktemp("data") / "synthetic"
    generate_synthetic_dataset(
        root, num_train_videos=4, num_test_videos=2, num_frames=5, num_images=1, height=32, width=64
    )
    return str(root)


def torchrun(processes: int, run_id: str, configs, **overrides) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node=<processes> -m monai.bundle run <run_id> ...`` from the repository root."""
    command = [
        str(Path(sys.executable).with_name("torchrun")), f"--nproc_per_node={processes}", "--rdzv_backend=c10d",
        f"--rdzv_endpoint=127.0.0.1:{free_port()}", "-m", "monai.bundle", "run", run_id,
        "--config_file", repr([str(c) for c in configs]),
    ]
    for key, value in {**TINY, **overrides}.items():
        command += [f"--{key}", value if isinstance(value, str) else repr(value)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def runs_of(output_dir) -> tuple[mlflow.MlflowClient, list]:
    client = mlflow.MlflowClient(path_to_sqlite_uri(str(Path(output_dir) / "mlruns.db")))
    experiment = client.get_experiment_by_name("pns_net")
    return client, [] if experiment is None else client.search_runs([experiment.experiment_id])


@pytest.fixture(scope="module")
def exact_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("configs") / "exact.json"
    path.write_text(json.dumps(EXACT))
    return path


@pytest.fixture(scope="module")
def two_processes(dataset, exact_config, tmp_path_factory) -> tuple[Path, str]:
    """`training` in 2 gloo processes of 1 item per step each: the output folder and the console log."""
    out = tmp_path_factory.mktemp("runs") / "two"
    done = torchrun(2, "training", [TRAIN, MULTI_TRAIN, exact_config], dataset_dir=dataset, output_dir=str(out),
                    batch_size=1, run_name="two-processes")
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-5000:]
    return out, log


@pytest.fixture(scope="module")
def one_process(dataset, exact_config, tmp_path_factory) -> Path:
    """The same `training` in 1 process (the torchrun environment of a single process) with 2 items per step."""
    out = tmp_path_factory.mktemp("runs") / "one"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as torchrun's processes
    try:
        with pytest.MonkeyPatch.context() as monkeypatch, world_of_one(monkeypatch):
            bundle_run("training", config_file=[str(c) for c in (TRAIN, MULTI_TRAIN, exact_config)], **TINY,
                       dataset_dir=dataset, output_dir=str(out), batch_size=2, run_name="one-process")
    finally:
        torch.set_num_threads(threads)
    return out


def _metric(client, run, name) -> list[float]:
    return [m.value for m in client.get_metric_history(run.info.run_id, name)]


def test_two_processes_train_like_one_process(two_processes, one_process):
    two, log = two_processes
    settings = {out: json.loads((out / "settings.json").read_text()) for out in (two, one_process)}
    assert settings[two]["world_size"] == 2 and settings[one_process]["world_size"] == 1
    assert settings[two]["train_images"] == 16 and settings[two]["train_videos"] == 3

    for phase in ("pretrain", "finetune"):
        state, reference = (torch.load(out / phase / "model.pt", weights_only=True)["model"]
                            for out in (two, one_process))
        assert list(state) == list(reference) == list(PNSNet().state_dict())  # unwrapped: no "module." prefix
        PNSNet().load_state_dict(state)  # a multi-process checkpoint loads into the single-process network
        worst = max((state[k] - reference[k]).abs().max().item() for k in state)
        assert worst < WEIGHT_TOLERANCE, (phase, worst)
        assert [p.name for p in (two / phase / "state").iterdir()] == ["checkpoint_epoch=1.pt"]
    pretrained = torch.load(two / "pretrain" / "model.pt", weights_only=True)["model"]
    finetuned = torch.load(two / "finetune" / "model.pt", weights_only=True)["model"]
    assert max((finetuned[k] - pretrained[k]).abs().max().item() for k in finetuned) > 1e-4  # phase 2 trained

    (client, [run]), (ref_client, [ref_run]) = runs_of(two), runs_of(one_process)
    assert (run.info.run_name, run.info.status) == ("two-processes", "FINISHED")
    assert run.data.params["world_size"] == "2"
    for name in ("pretrain/val_maxDice", "finetune/val_maxDice"):
        assert _metric(client, run, name) == pytest.approx(_metric(ref_client, ref_run, name), abs=1e-12)
    # process 0 logs its own loss once per step: 8 steps of phase 1, 3 of phase 2, as the single process
    for name, steps in (("pretrain/loss", 8), ("finetune/loss", 3)):
        assert len(_metric(client, run, name)) == len(_metric(ref_client, ref_run, name)) == steps
    assert log.count("Key metric: val_maxDice best value") == 2  # one validation per phase, logged by process 0


def test_two_processes_evaluate_like_one_process(two_processes, dataset, tmp_path):
    """Each process writes the frames of its clips, process 0 scores the files: the PNGs and the scores are those of
    an ordinary single-process `evaluating` (one clip per step and one thread in both, so every clip is computed
    alike)."""
    checkpoint = str(two_processes[0] / "finetune" / "model.pt")
    common = {"dataset_dir": dataset, "ckpt_path": checkpoint, "batch_size": 1}
    done = torchrun(2, "evaluating", [TRAIN, EVALUATE, MULTI_EVALUATE], output_dir=str(tmp_path / "two"),
                    run_name="two-processes", **common)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-5000:]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as torchrun's processes: another thread count may round a convolution differently
    try:
        bundle_run("evaluating", config_file=[str(TRAIN), str(EVALUATE)], **TINY, output_dir=str(tmp_path / "one"),
                   run_name="one-process", **common)
    finally:
        torch.set_num_threads(threads)

    def pngs(out):
        root = tmp_path / out / "predictions" / "PNSNet"
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.png"))}

    written, reference = pngs("two"), pngs("one")
    assert len(written) == 10 and list(written) == list(reference)  # every test frame once
    assert written == reference
    summary = json.loads((tmp_path / "two" / "evaluation" / "summary.json").read_text())
    assert summary["results"] == json.loads((tmp_path / "one" / "evaluation" / "summary.json").read_text())["results"]
    assert log.count("| PNSNet |") == 1  # the summary table, printed by process 0 only

    _, [run] = runs_of(tmp_path / "two")
    assert (run.info.run_name, run.info.status) == ("two-processes", "FINISHED")
    result = summary["results"]["PNSNet"]["Synthetic-Test"]
    for name in ("maxDice", "S_alpha", "meanEm", "MAE"):
        assert run.data.metrics[f"test/Synthetic-Test/{name}"] == pytest.approx(result[name], abs=1e-12)


@pytest.mark.parametrize("configs", [(TRAIN, MULTI_TRAIN), (TRAIN, EVALUATE, MULTI_EVALUATE)])
def test_launch_without_torchrun_is_a_clear_error(configs, dataset, tmp_path, monkeypatch):
    for name in TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "out"
    run_id = "training" if EVALUATE not in configs else "evaluating"
    with pytest.raises(Exception) as error:
        bundle_run(run_id, config_file=[str(c) for c in configs], **TINY, dataset_dir=dataset, output_dir=str(out))
    text = " ".join(str(e) for e in _chain(error.value))
    assert "launch them with `torchrun --nproc_per_node=N -m monai.bundle run ...`" in text
    assert f"(missing environment variables {', '.join(TORCHRUN_VARIABLES)})" in text
    assert not out.exists()


def _chain(error: BaseException):
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


def test_a_process_that_dies_fails_the_run(dataset, tmp_path):
    """Process 1 raises in its 3rd step: process 0, waiting for it in the gradient all-reduce, fails at once (gloo
    reports the closed connection), marks the MLflow run FAILED and torchrun exits with an error."""
    dying = tmp_path / "dying.json"
    dying.write_text(json.dumps({"network_def": {"_target_": "tests.stand_ins.PixelLogits", "fail_on_rank": 1,
                                                 "fail_at": 3}}))
    out = tmp_path / "run"
    done = torchrun(2, "training", [TRAIN, MULTI_TRAIN, dying], dataset_dir=dataset, output_dir=str(out),
                    batch_size=1, run_name="dies")
    log = done.stdout + done.stderr
    assert done.returncode != 0 and "RuntimeError: process 1 fails at forward pass 3" in log
    _, runs = runs_of(out)
    assert [(r.info.run_name, r.info.status) for r in runs] == [("dies", "FAILED")]
    assert runs[0].data.tags["error"]
