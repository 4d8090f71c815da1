"""MONAI's own checks on bundles/pns_net: the metadata against the vendored schema (offline) and against the default
configs, the JSON formatting of the model zoo's pre-commit hook, the model-zoo workflow properties of the train and
infer workflows with tiny runs, TorchScript (script and trace) and ONNX exports of the trained model."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import onnxruntime
import pytest
import torch
from monai.bundle import ConfigWorkflow, ckpt_export, onnx_export, verify_metadata
from monai.data import load_net_with_metadata
from monai.utils import path_to_sqlite_uri

from monai_pns.networks import PNSNet

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "bundles" / "pns_net"
TRAIN, INFERENCE, META = (BUNDLE / "configs" / n for n in ("train.json", "inference.json", "metadata.json"))
SCHEMA = BUNDLE / "docs" / "meta_schema_20240725.json"
SCHEMA_MD5 = "76e1add273836515d0bbb3bc71962474"
TINY = {"spatial_size": [32, 64], "batch_size": 2, "finetune_epochs": 1, "progress": False}
CLIP = [1, 3, 5, 32, 64]  # (B, C, T, H, W) of the exports
EXPORT_TOLERANCE = 1e-4  # of the logits' scale: max |logit|, at least 1


def assert_same_logits(got: np.ndarray, expected: np.ndarray) -> None:
    """float32 parity of an exported model: the error grows with the size of the activations; after one epoch of
    phase 1 the batch-norm statistics are rough and random clips give logits in the hundreds."""
    scale = max(1.0, float(np.abs(expected).max()))
    assert np.abs(got - expected).max() <= EXPORT_TOLERANCE * scale, (np.abs(got - expected).max(), scale)


@pytest.fixture
def offline(monkeypatch):
    """Any download MONAI attempts fails the test."""

    def refuse(url, *args, **kwargs):
        raise AssertionError(f"tried to download {url}")

    monkeypatch.setattr("monai.apps.utils._download_with_progress", refuse)


def test_metadata_verifies_offline_against_the_vendored_schema(offline):
    assert json.loads(META.read_text())["schema"].endswith("/" + SCHEMA.name)  # the schema metadata.json names
    verify_metadata(meta_file=str(META), filepath=str(SCHEMA), hash_val=SCHEMA_MD5)


def test_metadata_without_a_required_field_fails(offline, tmp_path):
    metadata = json.loads(META.read_text())
    del metadata["task"]
    (tmp_path / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match="'task' is a required property"):
        verify_metadata(meta_file=str(tmp_path / "metadata.json"), filepath=str(SCHEMA), hash_val=SCHEMA_MD5)


@pytest.mark.parametrize("path", sorted(BUNDLE.rglob("*.json")), ids=lambda p: p.name)
def test_json_files_are_formatted_as_the_model_zoo_hook_formats_them(path):
    """The model zoo's pre-commit hook `pretty-format-json --autofix --no-sort-keys --indent 4` (pre-commit-hooks)
    rewrites a file to json.dumps(..., indent=4, ensure_ascii=True) of its content, keys in their order, plus one
    newline: a file that differs fails the hook."""
    text = path.read_text()
    assert text == json.dumps(json.loads(text), indent=4, ensure_ascii=True) + "\n"


def test_metadata_shapes_and_ranges_are_those_of_the_default_configs():
    metadata = json.loads(META.read_text())
    train = json.loads(TRAIN.read_text())
    io = metadata["network_data_format"]
    clip = [train["clip_length"], *train["spatial_size"]]  # (T, H, W): verify_net_in_out feeds (1, C, T, H, W)
    assert io["inputs"]["image"]["spatial_shape"] == io["outputs"]["pred"]["spatial_shape"] == clip
    assert io["post_processed_outputs"]["pred"]["spatial_shape"] == clip
    low, high = io["inputs"]["image"]["value_range"]
    mean, std = np.array(train["pixel_mean"]), np.array(train["pixel_std"])
    assert low <= (-mean / std).min() and high >= ((1 - mean) / std).max()  # [0, 1] frames, normalised
    assert io["outputs"]["pred"]["value_range"] == [] and io["post_processed_outputs"]["pred"]["value_range"] == [0, 1]
    assert metadata["eval_metrics"] and all(k.startswith("synthetic_test_") for k in metadata["eval_metrics"])


def workflow(workflow_type: str, configs, run_id: str, **overrides) -> ConfigWorkflow:
    flow = ConfigWorkflow(config_file=[str(c) for c in configs], meta_file=str(META), workflow_type=workflow_type,
                          run_id=run_id, **{**TINY, **overrides})
    flow.initialize()
    return flow


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory) -> tuple[Path, list]:
    """The model-zoo train workflow running `finetuning` (phase 2) from a seeded phase-1 model: the output folder and
    what `check_properties` returned before the run."""
    out = tmp_path_factory.mktemp("runs") / "zoo"
    torch.manual_seed(0)
    (out / "pretrain").mkdir(parents=True)
    torch.save(PNSNet().state_dict(), out / "pretrain" / "model.pt")
    flow = workflow("train", [TRAIN], "finetuning", dataset_dir=str(dataset), output_dir=str(out), run_name="zoo")
    missing = flow.check_properties()
    # 3 training videos (one of 4 validates), each drawn clips_per_video (default 4) times per epoch
    assert flow.max_epochs == 1 and flow.val_interval == 1 and len(flow.train_dataset) == 3 * 4
    flow.run()
    flow.finalize()
    return out, missing


def test_train_workflow_has_the_model_zoo_properties_and_runs(trained):
    out, missing = trained
    assert missing == []
    saved = torch.load(out / "finetune" / "model.pt", weights_only=True)
    assert list(saved["model"]) == list(PNSNet().state_dict()) and saved["network_config"]["spatial_size"] == [32, 64]
    client = mlflow.MlflowClient(path_to_sqlite_uri(str(out / "mlruns.db")))
    runs = client.search_runs([client.get_experiment_by_name("pns_net").experiment_id])
    assert [(r.info.run_name, r.info.status) for r in runs] == [("zoo", "FINISHED")]


def test_infer_workflow_has_the_model_zoo_properties_and_runs(trained, dataset):
    out, _ = trained
    frames = dataset / "VPS-TestSet" / "Synthetic-Test" / "Frame"
    flow = workflow("infer", [TRAIN, INFERENCE], "inferring", dataset_dir=str(frames), output_dir=str(out),
                    ckpt_path=str(out / "finetune" / "model.pt"))
    assert flow.check_properties() == []
    assert len(flow.dataset) == 4  # 2 videos of 7 frames in clips of 5: 2 clips each
    flow.run()
    flow.finalize()
    written = sorted((out / "predictions" / "PNSNet").rglob("*.png"))
    expected = sorted(frames.rglob("*.jpg"))
    assert [(p.parent.name, p.stem) for p in written] == [(f.parent.name, f.stem) for f in expected]


def _trained_network(checkpoint: Path) -> PNSNet:
    net = PNSNet()
    net.load_state_dict(torch.load(checkpoint, weights_only=True)["model"])
    return net.eval()


def _clips() -> list[torch.Tensor]:
    return [torch.randn(*CLIP, generator=torch.Generator().manual_seed(seed)) for seed in (1, 2)]


@pytest.mark.parametrize("use_trace", [False, True], ids=["script", "trace"])
def test_torchscript_export_with_inference_json_alone_matches_the_checkpoint(trained, tmp_path, use_trace):
    """MONAI's ckpt_export as the model zoo runs it (inference.json alone); inference.json reads the network's
    definition from `ckpt_path`, hence that override. Script mode (the default) compiles the network; trace mode records
    it at one input size."""
    checkpoint = trained[0] / "finetune" / "model.pt"
    path = tmp_path / "models" / "model.ts"
    path.parent.mkdir()
    trace = {"use_trace": True, "input_shape": CLIP, "converter_kwargs": {"check_trace": False}} if use_trace else {}
    ckpt_export(net_id="network_def", filepath=str(path), ckpt_file=str(checkpoint), key_in_ckpt="model",
                meta_file=str(META), config_file=str(INFERENCE), ckpt_path=str(checkpoint), **trace)
    exported, meta, extra = load_net_with_metadata(str(path), more_extra_files=["inference.json"])
    assert meta["version"] == json.loads(META.read_text())["version"]
    assert json.loads(extra["inference.json"]) == json.loads(INFERENCE.read_text())
    inputs = _clips()
    if not use_trace:  # compiled, not recorded: other clip sizes and image batches (the static path) run too
        inputs += [torch.randn(1, 3, 3, 48, 96), torch.randn(2, 3, 32, 64)]
    net = _trained_network(checkpoint)
    with torch.no_grad():
        for x in inputs:
            assert_same_logits(exported(x).numpy(), net(x).numpy())


def test_onnx_export_matches_the_checkpoint(trained, tmp_path):
    checkpoint = trained[0] / "finetune" / "model.pt"
    path = tmp_path / "models" / "model.onnx"
    path.parent.mkdir()
    onnx_export(net_id="network_def", filepath=str(path), ckpt_file=str(checkpoint), key_in_ckpt="model",
                meta_file=str(META), config_file=str(TRAIN), use_trace=True, input_shape=CLIP,
                converter_kwargs={"dynamo": False})
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    net = _trained_network(checkpoint)
    with torch.no_grad():
        for clip in _clips():
            (exported,) = session.run(None, {session.get_inputs()[0].name: clip.numpy()})
            assert_same_logits(exported, net(clip).numpy())
