from __future__ import annotations

import json
import sys

import cv2
import nibabel as nib
import numpy as np
import pytest
import torch

from monai_pns import infer
from monai_pns.inference import VideoPredictor, open_sources, run_inference
from monai_pns.networks import PNSPlusNet
from monai_pns.utils import EXIT_DATA_ERROR, EXIT_OK, EXIT_USAGE, run_cli
from tests.inference.media import (
    count_frames,
    cut_in_half,
    index_to_front,
    read_all_frames,
    small_network,
    write_video,
)

SIZE = ["--spatial-size", "32", "64"]


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("infer")
    net = small_network()
    torch.save(net.state_dict(), root / "model.pt")
    write_video(root / "v.mp4", 7)
    return root, net


def _cli(args) -> int:
    return run_cli(infer.main, [*map(str, args), "--no-progress"])


def test_video_end_to_end(media, tmp_path):
    root, net = media
    out = tmp_path / "out"
    args = ["--ckpt", root / "model.pt", "--input", root / "v.mp4", "--out", out, "--nifti", "--eager", *SIZE]
    assert _cli(args) == EXIT_OK
    masks = sorted((out / "masks").iterdir())
    assert [p.name for p in masks] == [f"{i:05d}.png" for i in range(7)]  # every frame, first and last included
    assert count_frames(out / "overlay.mp4") == 7
    assert nib.load(out / "masks.nii.gz").shape == nib.load(out / "frames.nii.gz").shape == (40, 72, 7)
    # the masks are the eager network's, thresholded at p > 0.5, at the video's resolution
    [source] = open_sources(root / "v.mp4")
    for prediction, path in zip(VideoPredictor(net, (32, 64), 5)(source), masks):
        np.testing.assert_array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), (prediction.probability > 0.5) * 255)
    volume = np.asanyarray(nib.load(out / "masks.nii.gz").dataobj)
    np.testing.assert_array_equal(volume[:, :, 6] * 255, cv2.imread(str(masks[6]), cv2.IMREAD_UNCHANGED))
    summary = json.loads((out / "summary.json").read_text())
    assert [summary[k] for k in ("frames", "header_frames", "decoded_frames", "short")] == [7, 7, 7, False]


def test_fast_path_masks_match_eager(media, tmp_path):
    root, _ = media
    for name, extra in (("eager", ["--eager"]), ("fast", [])):
        args = ["--ckpt", root / "model.pt", "--input", root / "v.mp4", "--out", tmp_path / name, "--probabilities"]
        assert _cli([*args, "--no-overlay", "--precision", "fp32", *SIZE, *extra]) == 0
    for path in sorted((tmp_path / "eager" / "probabilities").iterdir()):
        eager = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(int)
        fast = cv2.imread(str(tmp_path / "fast" / "probabilities" / path.name), cv2.IMREAD_UNCHANGED).astype(int)
        assert np.abs(eager - fast).max() <= 1  # probabilities within one grey level of 255


def test_checkpoint_saver_file_with_network_config(media, tmp_path):
    root, _ = media
    torch.manual_seed(1)
    net = small_network(num_blocks=1)
    ckpt = tmp_path / "checkpoint_epoch=3.pt"
    torch.save({"network": net.state_dict(), "optimizer": {"state": {}, "param_groups": []},
                "network_config": {"name": "PNSNet", "kwargs": {"num_blocks": 1}, "clip_length": 3}}, ckpt)
    summaries = infer.main([
        "--ckpt", str(ckpt), "--input", str(root / "v.mp4"), "--out", str(tmp_path / "out"), "--no-progress", *SIZE
    ])
    assert [s["frames"] for s in summaries] == [7]
    with pytest.raises(ValueError, match=r"clips of 3 frames \(network_config clip_length\), got clip_length=5"):
        infer.main(["--ckpt", str(ckpt), "--input", str(root / "v.mp4"), "--out", str(tmp_path / "o2"),
                    "--clip-length", "5", *SIZE])


def test_clip_length_of_one_frame_and_of_none(media, tmp_path):
    root, _ = media
    settings = {"ckpt": root / "model.pt", "input": root / "v.mp4", "spatial_size": (32, 64), "overlay": False,
                "fast": False, "progress": False}
    assert [s["frames"] for s in run_inference(out=tmp_path / "one", clip_length=1, **settings)] == [7]
    with pytest.raises(ValueError, match="clip_length must be >= 1, got clip_length=0"):  # not the default 5
        run_inference(out=tmp_path / "none", clip_length=0, **settings)
    with pytest.raises(ValueError, match=r"spatial_size must be two positive multiples of 16, got spatial_size=\(\)"):
        run_inference(out=tmp_path / "empty", **{**settings, "spatial_size": ()})  # not the default 256 x 448


def test_progress_bar_on_a_terminal_only(media, tmp_path, capsys, monkeypatch):
    """With progress on (the default), a bar with the frame count is drawn on a terminal; output going to a file
    (capsys: not a terminal) gets none of its redraws."""
    root, _ = media
    args = ["--ckpt", str(root / "model.pt"), "--input", str(root / "v.mp4"), "--no-overlay", *SIZE]
    assert run_cli(infer.main, [*args, "--out", str(tmp_path / "file")]) == EXIT_OK
    assert "frame" not in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert run_cli(infer.main, [*args, "--out", str(tmp_path / "terminal")]) == EXIT_OK
    assert " 7/7 " in capsys.readouterr().err


def test_datalist_input(media, tmp_path):
    root, _ = media
    datalist = tmp_path / "datalist.json"
    datalist.write_text(json.dumps({"test": [{"case": "set/a", "image": [f"{root / 'v.mp4'}#{i}" for i in range(3)]}]}))
    assert _cli(["--ckpt", root / "model.pt", "--input", datalist, "--out", tmp_path / "out", "--no-overlay",
                 *SIZE]) == 0
    assert sorted(p.name for p in (tmp_path / "out" / "set" / "a" / "masks").iterdir()) == [
        "v_00000.png", "v_00001.png", "v_00002.png"
    ]
    summary = json.loads((tmp_path / "out" / "set" / "a" / "summary.json").read_text())
    assert (summary["case"], summary["frames"], summary["header_frames"], summary["short"]) == ("set/a", 3, None, False)


def test_failed_datalist_run_removes_the_folders_it_created(media, tmp_path, capsys):
    root, _ = media
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((20, 36, 3), np.uint8))
    datalist = tmp_path / "datalist.json"
    datalist.write_text(json.dumps({"test": [{"case": "set/a", "image": [f"{root / 'v.mp4'}#0"]},
                                             {"case": "set/b", "image": [f"{root / 'v.mp4'}#0", str(small)]}]}))
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("kept")
    args = ["--ckpt", root / "model.pt", "--input", datalist, "--out", out, "--no-overlay", *SIZE]
    assert _cli(args) == EXIT_DATA_ERROR  # case b's second frame has another size
    assert "is 36x20, the first frame 72x40" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # set/a, finished before the failure, removed


@pytest.mark.parametrize(
    "case, match",
    [
        ("not_a_checkpoint", r"'.*bad\.pt' is not a PyTorch checkpoint"),
        ("truncated", r"checkpoint '.*bad\.pt' is truncated or corrupt: the zip archive has no directory at its end"),
        ("other_architecture", r"missing keys \['ns_blocks\.0\.query\.weight'.*unexpected keys \['ns_global\.query"),
        ("no_state_dict", r"holds no network state dict: .* found entries \['epoch'\]"),
        ("bad_config", r"'network_config' .* must be a dict with keys among"),
    ],
)
def test_bad_checkpoints(media, tmp_path, capsys, case, match):
    root, _ = media
    path = tmp_path / "bad.pt"
    if case == "not_a_checkpoint":
        path.write_text("weights")
    elif case == "truncated":  # an interrupted copy of a good checkpoint
        data = (root / "model.pt").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "other_architecture":  # PNS+ weights, the file saying PNS-Net
        torch.save({"network": PNSPlusNet().state_dict(), "network_config": {"name": "PNSNet"}}, path)
    elif case == "no_state_dict":
        torch.save({"epoch": 3}, path)
    else:
        torch.save({"network": {}, "network_config": {"arch": "PNSNet"}}, path)
    out = tmp_path / "out"
    assert _cli(["--ckpt", path, "--input", root / "v.mp4", "--out", out, *SIZE]) == EXIT_DATA_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert __import__("re").search(match, err)
    assert not out.exists()  # nothing written


def test_output_checked_before_work(media, tmp_path, capsys, monkeypatch):
    root, _ = media
    blocker = tmp_path / "out"
    blocker.write_text("a file where the output folder should be")
    monkeypatch.setattr("monai_pns.inference.run.load_network", lambda *a, **k: pytest.fail("work started"))
    assert _cli(["--ckpt", root / "model.pt", "--input", root / "v.mp4", "--out", blocker]) == EXIT_DATA_ERROR
    assert "exists and is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:  # argparse exits by itself
        _cli(["--input", root / "v.mp4", "--out", tmp_path / "o"])
    assert usage.value.code == EXIT_USAGE


@pytest.mark.parametrize("size, ok", [((16, 16), True), ((16, 8), False), ((0, 16), False), ((24, 32), False)])
def test_spatial_size_down_to_one_stride(media, tmp_path, capsys, size, ok):
    root, _ = media
    out = tmp_path / "out"
    args = ["--ckpt", root / "model.pt", "--input", root / "v.mp4", "--out", out, "--eager", "--spatial-size", *size]
    assert _cli(args) == (EXIT_OK if ok else EXIT_DATA_ERROR)
    if ok:  # the smallest size the network takes: one 16-pixel cell
        assert len(list((out / "masks").iterdir())) == 7
    else:
        assert f"spatial_size must be two positive multiples of 16, got spatial_size={size}" in capsys.readouterr().err
        assert not out.exists()


def test_size_bound_checkpoint_rejects_another_size(tmp_path, capsys):
    torch.save(small_network(norm_shape=(16, 28)).state_dict(), tmp_path / "bound.pt")
    write_video(tmp_path / "v.mp4", 2)
    assert _cli(["--ckpt", tmp_path / "bound.pt", "--input", tmp_path / "v.mp4", "--out", tmp_path / "o",
                 *SIZE]) == EXIT_DATA_ERROR
    assert "size-bound NS norm of 256x448 inputs, got spatial_size=(32, 64)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, message",
    [
        ("broken.mp4", "cannot open video file '{path}': corrupt or unsupported codec."),
        ("4d.nii.gz", "volume '{path}' must be 2-D+time, grey or RGB: shape (H, W, T) or (H, W, T, 1 or 3), "
                      "got (2, 3, 64, 64)."),
        ("2d.nii.gz", "volume '{path}' must be 2-D+time, grey or RGB: shape (H, W, T) or (H, W, T, 1 or 3), "
                      "got (64, 64)."),
    ],
)
def test_bad_input_is_found_before_the_checkpoint_loads(media, tmp_path, capsys, monkeypatch, name, message):
    root, _ = media
    path = tmp_path / name
    if name == "broken.mp4":
        path.write_bytes(b"\x00" * 100)
    else:
        nib.save(nib.Nifti1Image(np.zeros((2, 3, 64, 64) if name == "4d.nii.gz" else (64, 64), np.uint8), np.eye(4)),
                 path)
    monkeypatch.setattr("monai_pns.inference.run.load_network", lambda *a, **k: pytest.fail("checkpoint loaded"))
    out = tmp_path / "out"
    assert _cli(["--ckpt", root / "model.pt", "--input", path, "--out", out, *SIZE]) == EXIT_DATA_ERROR
    assert capsys.readouterr().err == f"error: {message.format(path=path)}\n"
    assert not out.exists()  # nothing written, no empty folder


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PyTorch's, shown under pytest only
@pytest.mark.parametrize("name, fourcc", [("index_first.mp4", "mp4v"), ("mjpg.avi", "MJPG")])
def test_short_video_is_an_error_unless_allowed(media, tmp_path, capsys, monkeypatch, name, fourcc):
    root, _ = media
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # progress bars are drawn on a terminal only
    video = write_video(tmp_path / name, 24, size=(96, 160), fourcc=fourcc)
    if fourcc == "mp4v":
        index_to_front(video)  # the cut file still opens and states 24 frames
    cut_in_half(video)
    decoded = len(read_all_frames(video))
    out = tmp_path / "out"
    args = ["--ckpt", root / "model.pt", "--input", video, "--out", out, "--no-overlay", *SIZE]
    short = (f"video '{video}' is short: its header states 24 frames but {decoded} decode (a cut or damaged file; "
             "the last decoded one, where it breaks off, is not segmented)")
    assert _cli(args) == EXIT_DATA_ERROR
    assert capsys.readouterr().err == (
        f"error: {short}: nothing written (use --allow-short to segment the {decoded - 1} before it).\n"
    )
    assert not out.exists()  # the folder the run created is removed
    # --allow-short: a warning, the frames before the last decoded one segmented, the summary records it
    assert run_cli(infer.main, [*map(str, args[:-3]), "--allow-short", *SIZE]) == EXIT_OK
    err = capsys.readouterr().err
    assert f" {decoded - 1}/24 " in err  # the progress bar's total is the header's count
    assert [line for line in err.splitlines() if "warning" in line] == [
        f"warning: {short}: {decoded - 1} frames segmented."  # one line, no UserWarning, no source line
    ]
    assert sorted(p.name for p in (out / "masks").iterdir()) == [f"{i:05d}.png" for i in range(decoded - 1)]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["frames"], summary["header_frames"], summary["decoded_frames"], summary["short"]) == (
        decoded - 1, 24, decoded, True
    )
    # without the flag again: an error, and the earlier outputs are left as they were
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    assert _cli(args) == EXIT_DATA_ERROR
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


@pytest.mark.slow
def test_onnxruntime_backend_cli(media, tmp_path):
    pytest.importorskip("onnxruntime", reason="onnxruntime is a test dependency (setup.cfg [test])")
    root, _ = media
    for name, extra in (("torch", ["--eager"]), ("onnx", ["--backend", "onnxruntime"])):
        args = ["--ckpt", root / "model.pt", "--input", root / "v.mp4", "--out", tmp_path / name, "--probabilities"]
        assert _cli([*args, "--no-overlay", *SIZE, *extra]) == EXIT_OK
    for path in sorted((tmp_path / "torch" / "probabilities").iterdir()):
        a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(int)
        b = cv2.imread(str(tmp_path / "onnx" / "probabilities" / path.name), cv2.IMREAD_UNCHANGED).astype(int)
        assert np.abs(a - b).max() <= 1


def test_pns_plus_checkpoint_runs_with_its_anchor(media, tmp_path):
    root, _ = media
    torch.manual_seed(0)
    torch.save(PNSPlusNet().state_dict(), tmp_path / "plus.pt")  # recognised by its ns_global weights
    [summary] = infer.main(["--ckpt", str(tmp_path / "plus.pt"), "--input", str(root / "v.mp4"), "--out",
                            str(tmp_path / "out"), "--no-overlay", "--eager", "--no-progress", *SIZE])
    assert summary["frames"] == 7 and len(list((tmp_path / "out" / "masks").iterdir())) == 7


def test_an_explicit_normalize_wins(media, tmp_path):
    root, net = media
    frames = list(open_sources(root / "v.mp4")[0])
    for normalize in (False, True):
        out = tmp_path / str(normalize)
        run_inference(root / "model.pt", root / "v.mp4", out, normalize=normalize, fast=False, spatial_size=(32, 64),
                      overlay=False, probabilities=True, progress=False)
        expected = VideoPredictor(net, (32, 64), 5, normalize=normalize)(frames)
        for prediction in expected:
            code = cv2.imread(str(out / "probabilities" / f"{prediction.name}.png"), cv2.IMREAD_UNCHANGED)
            assert np.abs(code.astype(int) - np.floor(prediction.probability * 255 + 0.5)).max() <= 1


class _Recorded(Exception):
    pass


def test_the_onnx_clip_model_of_pns_plus_counts_its_anchor(media, tmp_path, monkeypatch):
    root, _ = media
    torch.manual_seed(0)
    torch.save(PNSPlusNet().state_dict(), tmp_path / "plus.pt")
    shapes = []

    def record(network, clip_shape):
        shapes.append(tuple(clip_shape))
        raise _Recorded  # the export itself is tested by the slow onnxruntime test

    monkeypatch.setattr("monai_pns.inference.run.OnnxClipModel", record)
    with pytest.raises(_Recorded):
        run_inference(tmp_path / "plus.pt", root / "v.mp4", tmp_path / "out", backend="onnxruntime",
                      spatial_size=(32, 64), progress=False)
    assert shapes == [(1, 3, 1 + 5, 32, 64)]


class _Stop(Exception):
    pass


def _raise_stop(*args, **kwargs):
    raise _Stop


def test_int8_precision_calibrates_on_the_input_or_the_given_frames(media, tmp_path, monkeypatch):
    """--precision int8: the encoder quantized on frames of --input (or of --calibration), probabilities close to
    the float32 fast path's, the precision recorded in summary.json."""
    import monai_pns.inference.run as run_module

    root, _ = media
    write_video(tmp_path / "calibration.mp4", 11)
    calibrated = []
    real = run_module.calibration_frames
    monkeypatch.setattr(run_module, "calibration_frames", lambda *a, **k: calibrated.append(real(*a, **k)) or
                        calibrated[-1])
    for name, extra in (("fp32", ["--precision", "fp32"]), ("int8", ["--precision", "int8"])):
        args = ["--ckpt", root / "model.pt", "--input", root / "v.mp4", "--out", tmp_path / name, "--probabilities"]
        assert _cli([*args, "--no-overlay", "--device", "cpu", *SIZE, *extra]) == EXIT_OK
    # --calibration: its frames reach the quantization (stopped there: the run itself is the one above)
    monkeypatch.setattr(run_module, "optimize_network", _raise_stop)
    with pytest.raises(_Stop):
        infer.main(["--ckpt", str(root / "model.pt"), "--input", str(root / "v.mp4"), "--out", str(tmp_path / "g"),
                    "--precision", "int8", "--calibration", str(tmp_path / "calibration.mp4"), *SIZE])
    # every fifth frame, preprocessed at the network's size: 0 and 5 of the 7-frame input; 0, 5, 10 of the other
    assert [tuple(c.shape) for c in calibrated] == [(2, 3, 32, 64), (3, 3, 32, 64)]
    assert json.loads((tmp_path / "int8" / "summary.json").read_text())["precision"] == "int8"
    for path in sorted((tmp_path / "fp32" / "probabilities").iterdir()):
        fp32 = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(int)
        int8 = cv2.imread(str(tmp_path / "int8" / "probabilities" / path.name), cv2.IMREAD_UNCHANGED).astype(int)
        assert np.abs(fp32 - int8).max() <= 13  # within 0.05 of float32


@pytest.mark.parametrize("extra, message", [
    (["--precision", "int8", "--backend", "onnxruntime"], "--precision int8 is the fast path of the torch backend"),
    (["--precision", "int8", "--eager"], "--precision int8 is the fast path of the torch backend"),
    (["--calibration", "frames/"], "--calibration goes with --precision int8"),
])
def test_int8_options_that_do_not_go_together(media, tmp_path, capsys, extra, message):
    root, _ = media
    with pytest.raises(SystemExit) as usage:
        _cli(["--ckpt", root / "model.pt", "--input", root / "v.mp4", "--out", tmp_path / "o", *extra])
    assert usage.value.code == EXIT_USAGE and message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("kwargs", [{"device": "cuda"}, {"backend": "onnxruntime"}, {"fast": False}])
def test_int8_api_refuses_other_paths_before_any_work(media, tmp_path, kwargs):
    root, _ = media
    with pytest.raises(ValueError, match="precision='int8' is the CPU fast path of the torch backend"):
        run_inference(root / "model.pt", root / "v.mp4", tmp_path / "o", precision="int8", **kwargs)
    assert not (tmp_path / "o").exists()


def test_threshold_and_no_overlay_options(media, tmp_path, capsys):
    """--threshold t: masks where the eager network's probability is > t; --no-overlay: no overlay.mp4; one line per
    video on stdout."""
    root, net = media
    [source] = open_sources(root / "v.mp4")
    predictions = list(VideoPredictor(net, (32, 64), 5)(source))
    threshold = float(np.median(np.concatenate([p.probability.ravel() for p in predictions])))  # half above it
    out = tmp_path / "out"
    args = ["--ckpt", root / "model.pt", "--input", root / "v.mp4", "--out", out, "--eager", "--no-overlay",
            "--threshold", repr(threshold), *SIZE]
    assert _cli(args) == EXIT_OK
    for prediction in predictions:
        mask = cv2.imread(str(out / "masks" / f"{prediction.name}.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(mask, (prediction.probability > threshold) * 255)
    assert any(((p.probability > threshold) != (p.probability > 0.5)).any() for p in predictions)  # not the default
    assert not (out / "overlay.mp4").exists()
    assert sorted(p.name for p in out.iterdir()) == ["masks", "summary.json"]
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(f"7 frames of '{root / 'v.mp4'}' -> {out} (") and line.endswith(" torch fp32)")


def test_datalist_key_option(media, tmp_path):
    root, _ = media
    datalist = tmp_path / "datalist.json"
    datalist.write_text(json.dumps({"validation": [{"case": "val/a", "image": [f"{root / 'v.mp4'}#{i}" for i in
                                                                                  range(2)]}]}))
    args = ["--ckpt", root / "model.pt", "--input", datalist, "--no-overlay", "--eager", *SIZE]
    assert _cli([*args, "--out", tmp_path / "out", "--datalist-key", "validation"]) == EXIT_OK
    assert sorted(p.name for p in (tmp_path / "out" / "val" / "a" / "masks").iterdir()) == ["v_00000.png",
                                                                                             "v_00001.png"]
    with pytest.raises(ValueError, match="test"):  # the default key: none in this datalist
        infer.main([*map(str, args), "--out", str(tmp_path / "default"), "--no-progress"])
    assert not (tmp_path / "default").exists()


def test_backend_eager_and_official_options_reach_the_run(media, tmp_path, monkeypatch):
    """--backend onnxruntime exports the clip model, --eager never builds the fast path, --official loads the
    checkpoint as a released one (each stopped where it shows)."""
    import monai_pns.inference.run as run_module

    root, _ = media
    args = ["--ckpt", str(root / "model.pt"), "--input", str(root / "v.mp4"), "--no-overlay", "--no-progress", *SIZE]
    def export(*args, **kwargs):
        raise _Recorded

    monkeypatch.setattr(run_module, "OnnxClipModel", export)
    monkeypatch.setattr(run_module, "optimize_network", _raise_stop)
    with pytest.raises(_Recorded):
        infer.main([*args, "--out", str(tmp_path / "onnx"), "--backend", "onnxruntime"])
    with pytest.raises(_Stop):  # the fast path, by default
        infer.main([*args, "--out", str(tmp_path / "fast")])
    assert [s["frames"] for s in infer.main([*args, "--out", str(tmp_path / "eager"), "--eager"])] == [7]
    loads = []
    monkeypatch.setattr(run_module, "load_network", lambda ckpt, official: loads.append(official) or _raise_stop())
    for extra in ([], ["--official"]):
        with pytest.raises(_Stop):
            infer.main([*args, "--out", str(tmp_path / "o"), *extra])
    assert loads == [False, True]


@pytest.mark.filterwarnings("ignore:'monai_pns.infer' found in sys.modules:RuntimeWarning")
def test_python_m_exits_with_the_documented_codes(media, tmp_path, capsys, monkeypatch):
    """``python -m monai_pns.infer`` (run as __main__): 0 done, 1 and one ``error:`` line for an --out in the way."""
    import runpy

    root, _ = media
    (tmp_path / "file").write_text("x")
    args = ["--ckpt", str(root / "model.pt"), "--input", str(root / "v.mp4"), "--no-overlay", "--eager",
            "--no-progress", *SIZE]
    for out, code in ((tmp_path / "out", EXIT_OK), (tmp_path / "file", EXIT_DATA_ERROR)):
        monkeypatch.setattr(sys, "argv", ["monai_pns.infer", *args, "--out", str(out)])
        with pytest.raises(SystemExit) as exc:
            runpy.run_module("monai_pns.infer", run_name="__main__", alter_sys=True)
        assert exc.value.code == code
    assert len(list((tmp_path / "out" / "masks").iterdir())) == 7
    assert capsys.readouterr().err == f"error: output folder '{tmp_path / 'file'}' exists and is not a folder.\n"
