"""bundles/pns_net as MONAI's model zoo uses a bundle: the standard ids (`run`, `initialize`, `finalize`) through
`ConfigWorkflow`, the workflow properties on a fresh output folder, inference.json alone, overrides typed as a user
types them, and a bundle root that follows the config files wherever they are run from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import mlflow
import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow, verify_net_in_out
from monai.utils import path_to_sqlite_uri

from monai_pns.inference import VideoPredictor

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "bundles" / "pns_net"
CONFIGS = BUNDLE / "configs"
TRAIN, EVALUATE, INFERENCE, META = (CONFIGS / n for n in ("train.json", "evaluate.json", "inference.json",
                                                          "metadata.json"))
TINY = {"spatial_size": [32, 64], "batch_size": 2, "pretrain_epochs": 1, "finetune_epochs": 1, "progress": False}
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def frames_of(dataset: Path) -> Path:
    return dataset / "VPS-TestSet" / "Synthetic-Test" / "Frame"


def workflow(workflow_type: str, configs, **overrides) -> ConfigWorkflow:
    """A model-zoo style workflow with the default ids (`initialize`, `run`, `finalize`), initialized."""
    flow = ConfigWorkflow(config_file=[str(c) for c in configs], workflow_type=workflow_type, **overrides)
    flow.initialize()
    return flow


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory) -> Path:
    """`train.json` run as the model zoo runs it, from inside the bundle folder (config path relative to it),
    with `--device cpu` as typed: both phases through the default `run` id."""
    out = tmp_path_factory.mktemp("runs") / "zoo"
    here = os.getcwd()
    os.chdir(BUNDLE)
    try:
        flow = workflow("train", ["configs/train.json"], dataset_dir=str(dataset), output_dir=str(out),
                        run_name="zoo-train", device="cpu", **TINY)
        assert flow.check_properties() == []
        assert flow.bundle_root == str(BUNDLE) and flow.device == "cpu"
        flow.run()
        flow.finalize()
    finally:
        os.chdir(here)
    return out


def cause(error: BaseException, kind: type) -> str:
    """The message of the first ``kind`` in the chain of ``error`` (MONAI wraps what a config expression raises)."""
    while error is not None and not isinstance(error, kind):
        error = error.__cause__ or error.__context__
    return str(error)


def runs_of(output_dir: Path) -> tuple[mlflow.MlflowClient, dict]:
    client = mlflow.MlflowClient(path_to_sqlite_uri(str(output_dir / "mlruns.db")))
    experiment = client.get_experiment_by_name("pns_net")
    return client, {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}


def test_train_workflow_runs_both_phases_from_inside_the_bundle_and_logs_its_configs(trained):
    for phase in ("pretrain", "finetune"):
        assert (trained / phase / "model.pt").is_file()
    client, runs = runs_of(trained)
    assert runs["zoo-train"].info.status == "FINISHED"
    logged = {a.path for a in client.list_artifacts(runs["zoo-train"].info.run_id, "finetune/configs")}
    assert {f"finetune/configs/{c.name}" for c in CONFIGS.glob("*.json")} <= logged


@pytest.mark.parametrize(
    "workflow_type, configs",
    [("train", [TRAIN]), ("train", [TRAIN, EVALUATE]), ("eval", [TRAIN, EVALUATE]), ("infer", [INFERENCE])],
    ids=["train", "train+evaluate", "evaluate", "inference"],
)
def test_workflow_properties_on_a_fresh_output_folder(workflow_type, configs, dataset, tmp_path):
    data = frames_of(dataset) if configs == [INFERENCE] else dataset
    flow = workflow(workflow_type, configs, dataset_dir=str(data), output_dir=str(tmp_path / "fresh"), **TINY)
    assert flow.check_properties() == []
    assert not (tmp_path / "fresh" / "pretrain").exists()  # no phase-1 model was needed


def test_evaluate_workflow_runs_through_the_run_id(trained, dataset):
    flow = workflow("eval", [TRAIN, EVALUATE], dataset_dir=str(dataset), output_dir=str(trained),
                    run_name="zoo-eval", device="cpu", **TINY)
    flow.run()
    flow.finalize()
    written = sorted((trained / "predictions" / "PNSNet" / "Synthetic-Test").rglob("*.png"))
    assert len(written) == 14 and (trained / "evaluation" / "summary.json").is_file()
    assert runs_of(trained)[1]["zoo-eval"].info.status == "FINISHED"


def test_infer_workflow_runs_inference_json_alone(trained, dataset, tmp_path):
    flow = workflow("infer", [INFERENCE], input=str(frames_of(dataset) / "1"), output_dir=str(tmp_path),
                    ckpt_path=str(trained / "finetune" / "model.pt"), device="cpu")
    assert flow.check_properties() == []
    assert flow.parser.get_parsed_content("spatial_size") == [32, 64]  # the model's definition, no flag needed
    flow.run()
    flow.finalize()
    written = sorted(p.name for p in (tmp_path / "predictions" / "PNSNet" / "1").iterdir())
    assert written == sorted(p.with_suffix(".png").name for p in (frames_of(dataset) / "1").iterdir())


def write_video(frames: list[Path], path: Path) -> Path:
    first = cv2.imread(str(frames[0]))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (first.shape[1], first.shape[0]))
    for frame in frames:
        writer.write(cv2.imread(str(frame)))
    writer.release()
    return path


def test_inference_json_alone_segments_a_video_file_from_another_folder(trained, dataset, tmp_path):
    """The command of the bundle docs, run from a folder elsewhere: relative `--input` and `--output_dir` are
    relative to it; the model's definition gives the network, size and normalisation (no flags); one mask per frame
    of the video, at the frame's size."""
    write_video(sorted((frames_of(dataset) / "1").glob("*.jpg")), tmp_path / "clip.mp4")
    command = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(INFERENCE), "--input", "clip.mp4",
               "--ckpt_path", str(trained / "finetune" / "model.pt"), "--output_dir", "out", "--device", "cpu",
               "--progress", "False"]
    done = subprocess.run(command, cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    masks = sorted((tmp_path / "out" / "predictions" / "PNSNet" / "clip").iterdir())
    assert [p.name for p in masks] == [f"{i}.png" for i in range(7)]
    assert cv2.imread(str(masks[0]), cv2.IMREAD_UNCHANGED).shape == (32, 64)


@pytest.mark.parametrize("config", [[TRAIN], [TRAIN, EVALUATE], [INFERENCE]], ids=["train", "evaluate", "inference"])
@pytest.mark.parametrize(
    "device, expected",
    [("cpu", torch.device("cpu")), ("cuda:1", torch.device("cuda", 1)), ("$torch.device('cpu')", torch.device("cpu"))],
)
def test_device_overrides_as_typed(config, device, expected):
    parser = ConfigParser()
    parser.read_config([str(c) for c in config])
    parser["device"] = device
    assert parser.get_parsed_content("torch_device") == expected
    inferer = parser.get_parsed_content("inferer")
    assert inferer.device_type == expected.type


def test_verify_net_in_out_with_inference_json_alone():
    verify_net_in_out(net_id="network_def", meta_file=str(META), config_file=str(INFERENCE), n=1, any=16,
                      extra_forward_args=None, device="cpu")


def test_the_bundle_root_is_where_the_configs_are(tmp_path):
    """Parsed without a workflow (as `ckpt_export` parses), MONAI's default applies: the working directory."""
    parser = ConfigParser()
    parser.read_config(str(INFERENCE))
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert parser.get_parsed_content("bundle_root") == str(tmp_path)
    finally:
        os.chdir(here)


@pytest.mark.parametrize("folder, root", [("b/configs", "b"), ("c/settings", "c/settings")])
def test_the_bundle_root_under_a_workflow(tmp_path, folder, root):
    """The parent of a `configs` folder, or the config file's own folder otherwise, as MONAI itself takes it."""
    (tmp_path / folder).mkdir(parents=True)
    config = tmp_path / folder / "flow.json"
    config.write_text(json.dumps({
        "imports": ["$import monai_pns", "$import monai_pns.zoo", "$import pathlib"],
        "root": "$monai_pns.zoo.config_bundle_root()",
        "initialize": [f"$pathlib.Path({str(tmp_path / 'root.txt')!r}).write_text(@root)"],
        "run": [], "finalize": [],
    }))
    ConfigWorkflow(config_file=str(config), workflow_type=None).initialize()
    assert (tmp_path / "root.txt").read_text() == str((tmp_path / root).resolve())


def test_settings_that_contradict_the_model_definition_are_refused(trained, tmp_path):
    checkpoint = trained / "finetune" / "model.pt"
    flow = workflow("infer", [INFERENCE], input=str(tmp_path), output_dir=str(tmp_path / "out"),
                    ckpt_path=str(checkpoint), spatial_size=[64, 64], device="cpu")
    with pytest.raises(Exception) as error:
        flow.run()
    assert cause(error.value, ValueError) == (
        f"checkpoint '{checkpoint}' was trained with spatial_size=[32, 64] (its network_config), but the settings "
        "give spatial_size=[64, 64]: drop that override, or merge the configs the model was trained with."
    )
    assert not (tmp_path / "out").exists()


def test_the_infer_command_runs_a_bundle_model_as_trained(trained, dataset, tmp_path, monkeypatch):
    """`python -m monai_pns.infer` with a bundle model and no size flags feeds the network the trained size and
    normalisation; an explicit size that contradicts the model's is an error naming both."""
    import monai_pns.inference.run as run_module
    from monai_pns.infer import main

    used = []

    def recording(*args, **kwargs):
        used.append((args[1], kwargs["mean"]))
        return VideoPredictor(*args, **kwargs)

    monkeypatch.setattr(run_module, "VideoPredictor", recording)
    checkpoint = str(trained / "finetune" / "model.pt")
    [summary] = main(["--ckpt", checkpoint, "--input", str(frames_of(dataset) / "1"), "--out", str(tmp_path / "a"),
                      "--no-overlay", "--no-progress", "--device", "cpu"])
    assert summary["frames"] == 7 and used == [((32, 64), [0.4733, 0.4487, 0.3949])]
    with pytest.raises(ValueError, match=r"trained on 32x64 inputs \(network_config spatial_size\), got "
                                         r"spatial_size=\(64, 64\)"):
        main(["--ckpt", checkpoint, "--input", str(frames_of(dataset) / "1"), "--out", str(tmp_path / "b"),
              "--spatial-size", "64", "64", "--device", "cpu"])
