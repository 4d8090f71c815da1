"""bundles/pns_net end to end on a tiny synthetic set: training, evaluating, resume, MLflow records, bad overrides."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import mlflow
import pytest
import torch
from monai.bundle import ConfigParser
from monai.bundle import run as bundle_run
from monai.bundle import verify_net_in_out
from monai.utils import path_to_sqlite_uri

from monai_pns.data import generate_synthetic_dataset
from monai_pns.inferers import FrameWiseInferer

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "bundles" / "pns_net" / "configs"
TRAIN, EVALUATE = CONFIGS / "train.json", CONFIGS / "evaluate.json"
TINY = {"spatial_size": [32, 64], "batch_size": 2, "pretrain_epochs": 1, "finetune_epochs": 1, "progress": False}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("data") / "synthetic"
    generate_synthetic_dataset(
        root, num_train_videos=4, num_test_videos=2, num_frames=7, num_images=4, height=32, width=64
    )
    return str(root)


def run(run_id: str, configs, **overrides):
    return bundle_run(run_id, config_file=[str(c) for c in configs], **{**TINY, **overrides})


def runs_of(output_dir) -> tuple[mlflow.MlflowClient, list]:
    client = mlflow.MlflowClient(path_to_sqlite_uri(str(Path(output_dir) / "mlruns.db")))
    experiment = client.get_experiment_by_name("pns_net")
    return client, [] if experiment is None else client.search_runs([experiment.experiment_id])


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "trained"
    run("training", [TRAIN], dataset_dir=dataset, output_dir=str(out), run_name="tiny-training")
    return out


def test_training_writes_both_phases_and_one_finished_run(trained):
    definition = {"name": "PNSNet", "kwargs": {"zero_init": True}, "clip_length": 5, "spatial_size": [32, 64],
                  "intensity": {"mean": [0.4733, 0.4487, 0.3949], "std": [0.2267, 0.2201, 0.2238]}}
    for phase in ("pretrain", "finetune"):
        saved = torch.load(trained / phase / "model.pt", weights_only=True)
        assert "decoder.high_reduce.weight" in saved["model"]  # a PNSNet state dict and its definition
        assert saved["network_config"] == definition
        assert [p.name for p in (trained / phase / "state").iterdir()] == ["checkpoint_epoch=1.pt"]
        last = torch.load(trained / phase / "state" / "checkpoint_epoch=1.pt", weights_only=True)
        assert last["network_config"] == definition
    # phase 2 trains every weight but keeps phase 1's batch-norm statistics (finetune_freeze_bn)
    phase1, phase2 = (torch.load(trained / p / "model.pt", weights_only=True)["model"]
                      for p in ("pretrain", "finetune"))
    stats = [k for k in phase1 if k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert len(stats) > 100 and all(torch.equal(phase1[k], phase2[k]) for k in stats)
    assert not torch.equal(phase1["decoder.high_reduce.weight"], phase2["decoder.high_reduce.weight"])
    settings = json.loads((trained / "settings.json").read_text())
    assert settings["spatial_size"] == [32, 64] and settings["train_videos"] == 3 and settings["val_videos"] == 1
    assert stat_mode(trained / "settings.json") == 0o666 & ~current_umask()

    client, runs = runs_of(trained)
    assert [(r.info.run_name, r.info.status) for r in runs] == [("tiny-training", "FINISHED")]
    run_id, data = runs[0].info.run_id, runs[0].data
    assert data.params["network"] == "PNSNet" and data.params["clip_length"] == "5"
    assert data.params["spatial_size"] == "[32, 64]" and data.params["versions.monai"]
    assert data.params["finetune_freeze_bn"] == "True"
    # 16 phase-1 images (4 IVPS + 3 videos x 4... frames) in batches of 2; 3 training videos x 4 windows each
    # (clips_per_video) -> 6 batches of clips
    images = settings["train_images"]
    assert settings["clips_per_video"] == 4 and data.params["clips_per_video"] == "4"
    assert len(client.get_metric_history(run_id, "pretrain/loss")) == -(-images // 2)
    assert len(client.get_metric_history(run_id, "finetune/loss")) == 6
    for name in ("pretrain/val_maxDice", "finetune/val_maxDice", "finetune/lr_group_0"):
        assert name in data.metrics
    artifacts = {a.path for a in client.list_artifacts(run_id, "finetune")}
    assert {"finetune/model.pt", "finetune/settings.json", "finetune/configs", "finetune/overlays"} <= artifacts
    assert "pretrain/model.pt" in {a.path for a in client.list_artifacts(run_id, "pretrain")}


def test_phase2_starts_from_the_phase1_models_function(trained):
    """The bundle's network (zero_init NS blocks) with the phase-1 model loaded, as phase 2 starts: its video logits
    equal the phase-1 model's frame-by-frame logits (<= 1e-5), so phase 2 only has temporal context to add."""
    parser = ConfigParser(ConfigParser.load_config_files([str(TRAIN)]))
    torch.manual_seed(0)
    net = parser.get_parsed_content("network_def")
    phase1 = torch.load(trained / "pretrain" / "model.pt", weights_only=True)["model"]
    result = net.load_state_dict(phase1, strict=False)
    assert result.unexpected_keys == [] and all(k.startswith("ns_blocks.") for k in result.missing_keys)
    clip = torch.randn(1, 3, 5, 32, 64)
    with torch.no_grad():
        video, static = net.eval()(clip), FrameWiseInferer(enabled=False)(clip, net)
    assert (video - static).abs().max() <= 1e-5 and video.abs().max() > 1e-3


def test_ns_only_epochs_train_the_ns_blocks_alone(trained, dataset, tmp_path):
    """``ns_only_epochs`` covering phase 2: every parameter and buffer outside the NS blocks ends as phase 1 left it
    (held, batch norms frozen), while the zero-initialised NS blocks moved."""
    phase1 = trained / "pretrain" / "model.pt"
    out = tmp_path / "ns_only"
    run("finetuning", [TRAIN], dataset_dir=dataset, output_dir=str(out), pretrain_ckpt=str(phase1), ns_only_epochs=1,
        use_mlflow=False)
    start = torch.load(phase1, weights_only=True)["model"]
    end = torch.load(out / "finetune" / "model.pt", weights_only=True)["model"]
    assert start.keys() == end.keys()
    moved = {k for k in start if not torch.equal(start[k], end[k])}
    assert moved and all(k.startswith("ns_blocks.") for k in moved)
    assert json.loads((out / "settings.json").read_text())["ns_only_epochs"] == 1


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_evaluating_writes_every_test_frame_once_and_scores_the_files(trained, dataset):
    """No spatial_size given: evaluate.json takes the model's (32 x 64, not train.json's default 128 x 224)."""
    no_size = {k: v for k, v in TINY.items() if k != "spatial_size"}
    bundle_run("evaluating", config_file=[str(TRAIN), str(EVALUATE)], dataset_dir=dataset, output_dir=str(trained),
               run_name="tiny-eval", **no_size)
    assert json.loads((trained / "settings.json").read_text())["spatial_size"] == [32, 64]
    gt = sorted((Path(dataset) / "VPS-TestSet" / "Synthetic-Test" / "GT").glob("*/*.png"))
    preds = sorted((trained / "predictions" / "PNSNet" / "Synthetic-Test").glob("*/*.png"))
    assert len(gt) == 14 and [p.relative_to(p.parents[1]) for p in preds] == [g.relative_to(g.parents[1]) for g in gt]
    assert cv2.imread(str(preds[0]), cv2.IMREAD_UNCHANGED).shape == (32, 64)  # the original frame size
    summary = json.loads((trained / "evaluation" / "summary.json").read_text())
    result = summary["results"]["PNSNet"]["Synthetic-Test"]
    assert summary["mode"] == "matlab" and result["videos"] == 2

    client, runs = runs_of(trained)
    evaluation = next(r for r in runs if r.info.run_name == "tiny-eval")
    assert evaluation.info.status == "FINISHED"
    names = ("maxDice", "maxSpe", "maxIoU", "S_alpha", "meanEm", "MAE")
    # one maxDice: the protocol's score of the PNG files (not also the float predictions' as test/maxDice)
    assert sorted(evaluation.data.metrics) == sorted(f"test/Synthetic-Test/{name}" for name in names)
    for name in names:
        assert evaluation.data.metrics[f"test/Synthetic-Test/{name}"] == pytest.approx(result[name], abs=1e-12)
    artifacts = {a.path for a in client.list_artifacts(evaluation.info.run_id, "test/evaluation")}
    assert {"test/evaluation/per_video.csv", "test/evaluation/summary.md", "test/evaluation/curves_Synthetic-Test.png"} <= artifacts


def test_training_again_on_a_finished_output_adds_no_run(trained, dataset):
    """Both phases resume after their last epoch and have nothing to run: no MLflow run, no new checkpoint."""
    _, before = runs_of(trained)
    files = {p: p.stat().st_mtime_ns for p in [*trained.glob("*/model.pt"), *trained.glob("*/state/*.pt")]}
    run("training", [TRAIN], dataset_dir=dataset, output_dir=str(trained), run_name="again")
    _, after = runs_of(trained)
    assert {r.info.run_id for r in after} == {r.info.run_id for r in before} and len(before) >= 1
    assert {p: p.stat().st_mtime_ns for p in files} == files and len(files) == 4


def test_verify_net_in_out():
    verify_net_in_out(net_id="network_def", meta_file=str(CONFIGS / "metadata.json"), config_file=str(TRAIN),
                      n=1, any=16, extra_forward_args=None)


def test_ctrl_c_marks_the_run_failed_and_training_resumes(dataset, tmp_path):
    out = tmp_path / "run"
    EPOCHS = 8  # about a second each: Ctrl-C lands after the first checkpoint, well before the end
    command = [sys.executable, "-m", "monai.bundle", "run", "pretraining", "--config_file", str(TRAIN),
               "--dataset_dir", dataset, "--output_dir", str(out), "--spatial_size", "[32,64]",
               "--pretrain_epochs", str(EPOCHS), "--progress", "False", "--image_items", "$@datalist['pretraining']",
               "--run_name", "interrupted", "--val_interval", "5"]
    # a default SIGINT handler even where this process ignores SIGINT (a background job): Python then raises
    # KeyboardInterrupt, as under a terminal's Ctrl-C
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    state = out / "pretrain" / "state"
    deadline = time.monotonic() + 300
    while not list(state.glob("checkpoint_epoch=*.pt")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    log, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, log
    _, runs = runs_of(out)
    assert [(r.info.run_name, r.info.status) for r in runs] == [("interrupted", "FAILED")]
    assert runs[0].data.tags["error"].startswith("KeyboardInterrupt")
    done = sorted(int(p.stem.split("=")[1]) for p in state.glob("checkpoint_epoch=*.pt"))
    assert done and done[-1] < EPOCHS

    resumed = subprocess.run(command[:-4] + ["--run_name", "resumed", "--val_interval", "5"], cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"Restored all variables from {state / f'checkpoint_epoch={done[-1]}.pt'}" in resumed.stdout + resumed.stderr
    assert [p.name for p in state.iterdir()] == [f"checkpoint_epoch={EPOCHS}.pt"]
    client, runs = runs_of(out)
    assert {(r.info.run_name, r.info.status) for r in runs} == {("interrupted", "FAILED"), ("resumed", "FINISHED")}
    run_id = next(r.info.run_id for r in runs if r.info.run_name == "resumed")
    # 4 images in batches of 2: the resumed run trains only the epochs after the last saved one
    steps = [m.step for m in client.get_metric_history(run_id, "pretrain/loss")]
    assert steps == list(range(2 * done[-1] + 1, 2 * EPOCHS + 1))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"dataset_dir": "/no/such/folder"}, "dataset_dir '/no/such/folder' is not a folder: pass --dataset_dir"),
        ({"spatial_size": [40, 64]}, "spatial_size [40, 64] is not two positive multiples of 16"),
        ({"layout": "kvasirr"}, "'kvasirr', did you mean 'kvasir'"),
        ({"clip_length": 0}, "clip_length must be >= 1, got clip_length=0"),
    ],
)
def test_bad_overrides_fail_before_any_output(dataset, tmp_path, overrides, message):
    out = tmp_path / "out"
    with pytest.raises(Exception) as error:
        run("training", [TRAIN], **{"dataset_dir": dataset, "output_dir": str(out), **overrides})
    assert message in "".join(str(e) for e in _chain(error.value))
    assert not out.exists()


def bundle_command(run_id: str, configs, **overrides) -> list[str]:
    """``python -m monai.bundle run <run_id> --config_file [...] --<id> <value> ...`` with the tiny settings."""
    command = [sys.executable, "-m", "monai.bundle", "run", run_id,
               "--config_file", json.dumps([str(c) for c in configs])]
    for key, value in {**TINY, **overrides}.items():
        command += [f"--{key}", json.dumps(value) if isinstance(value, list) else str(value)]
    return command


@pytest.mark.parametrize("setting", ["spatial_size", "dataset_dir", "ckpt_path", "tracking_uri"])
def test_a_failed_check_ends_in_its_own_line_and_writes_nothing(setting, dataset, tmp_path):
    """The real command line: exit code 1, the last line of stderr the check's message (the traceback only with
    --debug True), and no output folder: no settings.json, no mlruns.db, no MLflow run."""
    out, missing, file = tmp_path / "out", tmp_path / "missing", tmp_path / "file"
    file.write_text("")
    uri = path_to_sqlite_uri(file / "mlruns.db")
    run_id, configs, overrides, message = {
        "spatial_size": ("training", [TRAIN], {"spatial_size": [40, 64]},
                         "spatial_size [40, 64] is not two positive multiples of 16 (the networks downsample a frame "
                         'by 16): pass e.g. --spatial_size "[32,64]".'),
        "dataset_dir": ("training", [TRAIN], {"dataset_dir": str(missing), "debug": True},
                        f"dataset_dir '{missing}' is not a folder: pass --dataset_dir the root folder of the dataset."),
        "ckpt_path": ("evaluating", [TRAIN, EVALUATE], {},
                      f"checkpoint '{out / 'finetune' / 'model.pt'}' does not exist: train first (`training` or "
                      "`finetuning`), or set ckpt_path."),
        "tracking_uri": ("training", [TRAIN], {"tracking_uri": uri},
                         f"tracking_uri '{uri}': database folder '{file}' exists and is not a folder: pass "
                         "--tracking_uri a database in a writable folder, or --use_mlflow False."),
    }[setting]
    command = bundle_command(run_id, configs, **{"dataset_dir": dataset, "output_dir": str(out), **overrides})
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == f"error: {message}"
    assert ("Traceback" in done.stderr) == (setting == "dataset_dir")  # --debug True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_finetuning_without_phase_1_names_the_checkpoint(dataset, tmp_path):
    with pytest.raises(Exception) as error:
        run("finetuning", [TRAIN], dataset_dir=dataset, output_dir=str(tmp_path / "out"))
    text = " ".join(str(e) for e in _chain(error.value))
    assert f"checkpoint '{tmp_path / 'out' / 'pretrain' / 'model.pt'}' does not exist" in text
    assert "run `pretraining` first" in text
    assert runs_of(tmp_path / "out")[1] == []


def test_checkpoint_of_another_architecture_is_refused(trained, dataset, tmp_path):
    wrong = tmp_path / "unet.pt"
    torch.save(torch.nn.Conv2d(3, 1, 3).state_dict(), wrong)
    out = tmp_path / "eval"
    with pytest.raises(Exception) as error:
        run("evaluating", [TRAIN, EVALUATE], dataset_dir=dataset, output_dir=str(out), ckpt_path=str(wrong))
    assert "Missing key(s) in state_dict" in " ".join(str(e) for e in _chain(error.value))
    assert not (out / "predictions").exists() and not (out / "evaluation").exists()
    assert runs_of(out)[1] == []  # the MLflow run starts with the first epoch


def _chain(error: BaseException):
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_the_mlflow_server_serves_the_training_run(trained):
    """What `mlflow ui` shows a user: the experiment and its finished run, read through MLflow's REST API."""
    port = _free_port()
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen(
        [str(mlflow_cli), "server", "--backend-store-uri", path_to_sqlite_uri(str(trained / "mlruns.db")),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/api/2.0/mlflow"
    try:
        deadline, experiments = time.monotonic() + 120, None
        while experiments is None and time.monotonic() < deadline and server.poll() is None:
            try:
                experiments = _post(f"{base}/experiments/search", {"max_results": 10})["experiments"]
            except OSError:
                time.sleep(0.5)
        assert experiments is not None, "mlflow server did not answer within 120 s"
        experiment = next(e for e in experiments if e["name"] == "pns_net")
        runs = _post(f"{base}/runs/search", {"experiment_ids": [experiment["experiment_id"]]})["runs"]
        training = next(r for r in runs if r["info"]["run_name"] == "tiny-training")
        assert training["info"]["status"] == "FINISHED"
        metrics = {m["key"] for m in training["data"]["metrics"]}
        assert {"pretrain/loss", "finetune/loss", "pretrain/val_maxDice", "finetune/val_maxDice"} <= metrics
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


#: rows that train in the default suite: no NS block, the most groups, every block option with three blocks; the others
#: (which differ from these in network_kwargs only, each built and run forward by tests/configs) under `-m slow`
ABLATION_ROWS_DEFAULT = ("row1_base", "row5_n8", "row9_n4_soft_norm_r3")


@pytest.mark.parametrize("row", [
    row if row in ABLATION_ROWS_DEFAULT else pytest.param(row, marks=pytest.mark.slow)
    for row in sorted(p.stem for p in (ROOT / "configs" / "ablation").glob("*.json"))
])
def test_each_ablation_row_trains_through_the_bundle(row, dataset, tmp_path):
    """Every row of configs/ablation merges into the real train.json and runs one fine-tuning iteration (the phase
    the NS blocks take part in; phase 1 skipped, no validation)."""
    out = tmp_path / row
    one_iteration = {
        "pretrain_phase": False, "train_cases": "$@video_split[0][:1]", "clips_per_video": 1, "val_interval": 2,
        "use_mlflow": False,
    }
    run("training", [TRAIN, ROOT / "configs" / "ablation" / f"{row}.json"], dataset_dir=dataset, output_dir=str(out),
        **one_iteration)
    expected = json.loads((ROOT / "configs" / "ablation" / f"{row}.json").read_text())
    state = torch.load(out / "finetune" / "state" / "checkpoint_epoch=1.pt", weights_only=True)
    assert state["trainer"]["iteration"] == 1
    blocks = {k.split(".")[1] for k in state["network"] if k.startswith("ns_blocks.")}
    assert len(blocks) == expected["network_kwargs#num_blocks"]


def test_inferring_writes_a_mask_per_frame_of_videos_without_masks(trained, dataset, tmp_path):
    videos = tmp_path / "videos"
    frame_root = Path(dataset) / "VPS-TestSet" / "Synthetic-Test" / "Frame"
    for case in frame_root.iterdir():
        (videos / case.name).mkdir(parents=True)
        for frame in case.iterdir():
            (videos / case.name / frame.name).write_bytes(frame.read_bytes())
    out = tmp_path / "inference"
    run("inferring", [TRAIN, CONFIGS / "inference.json"], dataset_dir=str(videos), output_dir=str(out),
        ckpt_path=str(trained / "finetune" / "model.pt"))
    frames = sorted(p.relative_to(videos).with_suffix(".png") for p in videos.glob("*/*.jpg"))
    written = sorted(p.relative_to(out / "predictions" / "PNSNet") for p in out.glob("predictions/**/*.png"))
    assert len(frames) == 14 and written == frames
