from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from monai.data import load_decathlon_datalist

from monai_pns.data.datalist import build_datalist, inference_cases, load_datalist, main, write_datalist
from monai_pns.data.image_io import parse_frame_ref
from monai_pns.utils import EXIT_DATA_ERROR, EXIT_OK, EXIT_USAGE, run_cli
from tests.data.trees import make_pnsnet, write_case, write_frame, write_mask, write_video


def _stems(paths: list[str]) -> list[str]:
    return [Path(p).stem for p in paths]


def test_pnsnet(tmp_path):
    root = make_pnsnet(tmp_path / "PNS")
    d = build_datalist("pnsnet", root)
    assert d["layout"] == "pnsnet"
    assert [c["case"] for c in d["pretraining"]] == ["IVPS-TrainSet/1", "IVPS-TrainSet/2", "IVPS-TrainSet/3"]
    assert isinstance(d["pretraining"][0]["image"], str) and d["pretraining"][0]["label"].endswith("GT/1.png")
    assert [c["case"] for c in d["training"]] == ["SetA/1", "SetA/2", "SetA/10"]
    assert [c["case"] for c in d["test"]] == ["SetB/1", "SetB/2"]
    for case in d["training"] + d["test"]:
        assert _stems(case["image"]) == [str(i) for i in range(1, 13)]  # numeric, not 1, 10, 11, 12, 2, ...
        assert _stems(case["label"]) == _stems(case["image"])
        assert case["num_frames"] == 12
        assert all(os.path.isabs(p) and os.path.isfile(p) for p in case["image"] + case["label"])
    assert {c["split"] for c in d["training"]} == {"training"} and {c["source"] for c in d["test"]} == {"SetB"}
    assert d["training"][2]["image"][0].endswith(os.path.join("Train", "10", "Frame", "1.jpg"))
    assert d["test"][1]["image"][0].endswith(os.path.join("SetB", "Frame", "2", "1.png"))


def test_pnsnet_short_case_and_test_without_gt(tmp_path):
    root = tmp_path / "PNS"
    case_dir = root / "VPS-TrainSet" / "S" / "Train" / "1"
    write_case(case_dir / "Frame", case_dir / "GT", 3)
    write_case(root / "VPS-TestSet" / "T" / "Frame" / "1", None, 4)
    d = build_datalist("pnsnet", root)
    assert d["training"][0]["num_frames"] == 3
    assert "label" not in d["test"][0] and d["test"][0]["num_frames"] == 4
    assert "pretraining" not in d


def test_decathlon_compatible(tmp_path):
    root = make_pnsnet(tmp_path / "PNS")
    out = write_datalist(build_datalist("pnsnet", root), tmp_path / "lists" / "datalist.json")
    cases = load_decathlon_datalist(str(out), data_list_key="training")
    assert len(cases) == 3 and _stems(cases[0]["image"])[:3] == ["1", "2", "3"]
    assert all(os.path.isfile(p) for p in cases[0]["image"])


def _sunseg_case(root: Path, source: str, case: str, n: int = 12) -> None:
    for i in range(1, n + 1):
        stem = f"{'z' if i % 2 else 'a'}_{case}_image{i}"  # lexical order differs from the frame number order
        write_frame(root / source / "Frame" / case / f"{stem}.jpg", i)
        write_mask(root / source / "GT" / case / f"{stem}.png", True)


def test_sunseg(tmp_path):
    root = tmp_path / "SUN-SEG"
    _sunseg_case(root, "TrainDataset", "case10_1")
    _sunseg_case(root, "TrainDataset", "case2_3")
    _sunseg_case(root, "TestEasyDataset/Seen", "case1_1")
    _sunseg_case(root, "TestEasyDataset/Unseen", "case3_1")
    _sunseg_case(root, "TestHardDataset/Unseen", "case4_2")
    d = build_datalist("sunseg", root)
    assert [c["case"] for c in d["training"]] == ["TrainDataset/case2_3", "TrainDataset/case10_1"]
    sources = ["TestEasyDataset/Seen", "TestEasyDataset/Unseen", "TestHardDataset/Unseen"]
    assert [c["source"] for c in d["test"]] == sources
    for case in d["training"] + d["test"]:
        numbers = [int(s.rsplit("_image", 1)[1]) for s in _stems(case["image"])]
        assert numbers == list(range(1, 13))
        assert _stems(case["label"]) == _stems(case["image"])


def test_kvasir(tmp_path):
    root = tmp_path / "Kvasir-SEG"
    for name in ("cju0", "cju1"):
        write_frame(root / "images" / f"{name}.jpg", 50)
        write_mask(root / "masks" / f"{name}.jpg", True)
    d = build_datalist("kvasir", root)
    assert [Path(c["image"]).name for c in d["pretraining"]] == ["cju0.jpg", "cju1.jpg"]
    assert [Path(c["label"]).name for c in d["pretraining"]] == ["cju0.jpg", "cju1.jpg"]


def test_folders_frames_and_videos(tmp_path):
    frames, masks = tmp_path / "frames", tmp_path / "masks"
    write_case(frames / "caseA", masks / "caseA", 12)
    write_video(frames / "caseB.avi", [10, 20, 30])
    write_video(masks / "caseB.avi", [255, 0, 255], grey_mask=True)
    write_video(frames / "caseC.mp4", [5, 6])
    write_case(masks / "caseC", None, 2)  # a folder of mask images for a video
    d = build_datalist("folders", frames, masks=masks, split="validation")
    assert [c["case"] for c in d["validation"]] == ["caseA", "caseB", "caseC"]
    a, b, c = d["validation"]
    assert _stems(a["image"]) == [str(i) for i in range(1, 13)]
    assert [parse_frame_ref(r)[1] for r in b["image"]] == [0, 1, 2]
    assert [parse_frame_ref(r) for r in b["label"]] == [(str((masks / "caseB.avi").resolve()), i) for i in range(3)]
    assert _stems(c["label"]) == ["1", "2"] and c["num_frames"] == 2


def test_folders_without_masks(tmp_path):
    write_video(tmp_path / "v" / "clip.mp4", [1, 2, 3, 4, 5, 6])
    d = build_datalist("folders", tmp_path / "v")
    assert d["test"][0]["num_frames"] == 6 and "label" not in d["test"][0]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda r: (r / "VPS-TrainSet/SetA/Train/2/GT/5.png").unlink(), "case 'SetA/2': no mask for frame '5.jpg'"),
        (lambda r: write_mask(r / "VPS-TrainSet/SetA/Train/1/GT/13.png", True), "case 'SetA/1': 12 frames .* 13 masks"),
        (lambda r: shutil.rmtree(r / "VPS-TestSet/SetB/GT/1"), "case 'SetB/1' \\(masks\\): expected a folder"),
        (lambda r: [p.unlink() for p in (r / "VPS-TrainSet/SetA/Train/10/Frame").iterdir()], "'SetA/10': no image"),
        (lambda r: shutil.rmtree(r / "VPS-TrainSet/SetA/Train"), "expected '.*SetA/Train'"),
    ],
)
def test_pnsnet_errors(tmp_path, damage, message):
    root = make_pnsnet(tmp_path / "PNS")
    damage(root)
    with pytest.raises(ValueError, match=message):
        build_datalist("pnsnet", root)


def test_other_errors(tmp_path):
    with pytest.raises(ValueError, match="pnsnet"):
        build_datalist("pnsnett", tmp_path)
    with pytest.raises(ValueError, match="is not a folder"):
        build_datalist("pnsnet", tmp_path / "missing")
    with pytest.raises(ValueError, match="expected one of"):
        build_datalist("pnsnet", tmp_path)
    with pytest.raises(ValueError, match="layout 'sunseg'"):
        build_datalist("sunseg", tmp_path)
    with pytest.raises(ValueError, match="layout 'kvasir'"):
        build_datalist("kvasir", tmp_path)
    write_video(tmp_path / "f" / "v.avi", [1, 2, 3])
    write_video(tmp_path / "m" / "v.avi", [1, 2])
    with pytest.raises(ValueError, match="case 'v': video .* has 3 frames but there are 2 masks"):
        build_datalist("folders", tmp_path / "f", masks=tmp_path / "m")
    (tmp_path / "m" / "v.avi").unlink()
    with pytest.raises(ValueError, match="case 'v': no mask video"):
        build_datalist("folders", tmp_path / "f", masks=tmp_path / "m")
    (tmp_path / "f" / "bad.mp4").write_bytes(b"not a video")
    with pytest.raises(ValueError, match="bad.mp4"):
        build_datalist("folders", tmp_path / "f")


def test_write_datalist_is_atomic(tmp_path):
    out = write_datalist({"training": [{"image": ["a.jpg"]}]}, tmp_path / "datalist.json")
    before = out.read_text()
    with pytest.raises(TypeError):
        write_datalist({"training": [{"image": object()}]}, out)  # fails half-way through json.dump
    assert out.read_text() == before
    assert os.listdir(tmp_path) == ["datalist.json"]


def test_cli(tmp_path, capsys):
    root = make_pnsnet(tmp_path / "PNS")
    out = tmp_path / "datalist.json"
    assert run_cli(main, ["--layout", "pnsnet", "--root", str(root), "--out", str(out)]) == EXIT_OK
    written = json.loads(out.read_text())
    assert len(written["training"]) == 3 and len(written["test"]) == 2 and len(written["pretraining"]) == 3
    captured = capsys.readouterr().out
    assert "training: 3 items, 36 frames" in captured and f"wrote {out}" in captured
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, ["--layout", "nolayout", "--root", str(root), "--out", str(tmp_path / "other.json")])
    assert exit_info.value.code == EXIT_USAGE and "nolayout" in capsys.readouterr().err
    assert not (tmp_path / "other.json").exists()


def test_cli_data_errors_leave_the_previous_datalist(tmp_path, capsys):
    root = make_pnsnet(tmp_path / "PNS")
    out = tmp_path / "datalist.json"
    out.write_text("previous")
    (root / "VPS-TrainSet/SetA/Train/2/GT/5.png").unlink()
    assert run_cli(main, ["--layout", "pnsnet", "--root", str(root), "--out", str(out)]) == EXIT_DATA_ERROR
    assert capsys.readouterr().err == f"error: case 'SetA/2': no mask for frame '5.jpg' (expected '5.<ext>' in " \
        f"'{root / 'VPS-TrainSet/SetA/Train/2/GT'}').\n"
    assert out.read_text() == "previous"
    # an output that is a folder, or under a file: one line, before scanning (the dataset is still broken)
    assert run_cli(main, ["--layout", "pnsnet", "--root", str(root), "--out", str(tmp_path)]) == EXIT_DATA_ERROR
    assert capsys.readouterr().err == f"error: --out '{tmp_path}' is a folder.\n"
    assert run_cli(main, ["--layout", "pnsnet", "--root", str(root), "--out", str(out / "x.json")]) == 1
    assert "exists and is not a folder" in capsys.readouterr().err
    assert out.read_text() == "previous"


@pytest.mark.parametrize(
    "name, where",
    [
        ("a.jpg", "VPS-TrainSet/SetA/Train/2/Frame"),
        ("3b.png", "VPS-TestSet/SetB/Frame/1"),
        ("-1.png", "VPS-TestSet/SetB/Frame/1"),
    ],
)
def test_pnsnet_frames_must_have_integer_names(tmp_path, name, where):
    root = make_pnsnet(tmp_path / "PNS")
    write_frame(root / where / name, 5)
    with pytest.raises(ValueError, match=rf"frame '.*{where}/{name}' is not named by an integer"):
        build_datalist("pnsnet", root)
    (root / where / name).unlink()
    write_frame(root / "IVPS-TrainSet" / "Frame" / "kvasir_1a.jpg", 100)  # single images have no temporal order
    write_mask(root / "IVPS-TrainSet" / "GT" / "kvasir_1a.png", True)
    assert len(build_datalist("pnsnet", root)["pretraining"]) == 4


def test_load_datalist_resolves_relative_refs_against_the_file_folder(tmp_path, monkeypatch):
    """Relative ``image`` / ``label`` refs are read against the JSON file's folder, wherever the process runs;
    absolute refs and other keys (``case`` naming a folder) are kept as written."""
    lists = tmp_path / "lists"
    lists.mkdir()
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "case1").mkdir(parents=True)
    item = {"case": "case1", "image": ["frames/1.png", "../other/2.png"], "label": ["/abs/1.png", "gt/2.png"]}
    (lists / "datalist.json").write_text(json.dumps({"layout": "folders", "test": [item]}))
    monkeypatch.chdir(elsewhere)
    loaded = load_datalist(Path("..") / "lists" / "datalist.json")
    [case] = loaded["test"]
    assert case["image"] == [str(lists / "frames" / "1.png"), str(tmp_path / "other" / "2.png")]
    assert case["label"] == ["/abs/1.png", str(lists / "gt" / "2.png")]
    assert case["case"] == "case1" and loaded["layout"] == "folders"


def test_load_datalist_errors_name_the_file(tmp_path):
    binary = tmp_path / "datalist.json"
    binary.write_bytes(b"\xff\xfe\x00\x81 not text")
    with pytest.raises(ValueError, match=rf"^datalist file '{binary}' is not valid JSON: .*codec can't decode"):
        load_datalist(binary)
    binary.write_text('{"test": [')
    with pytest.raises(ValueError, match=rf"^datalist file '{binary}' is not valid JSON: Expecting value"):
        load_datalist(binary)
    binary.write_text("[1, 2]")
    with pytest.raises(ValueError, match=rf"^datalist file '{binary}' must hold a JSON object, got list"):
        load_datalist(binary)
    with pytest.raises(ValueError, match=rf"^datalist file '{tmp_path / 'none.json'}' does not exist"):
        load_datalist(tmp_path / "none.json")


def test_inference_cases_of_a_video_a_frame_folder_and_a_folder_of_videos(tmp_path):
    """A video file is one case named by its stem (no extension), a frame folder one case named by the folder, a
    folder of videos one case per video; none has labels."""
    video = write_video(tmp_path / "procedures" / "procedure.avi", [10, 20, 30])
    [case] = inference_cases(video)
    assert (case["case"], case["source"], case["split"], case["num_frames"]) == ("procedure", "procedures", "test", 3)
    assert [parse_frame_ref(r) for r in case["image"]] == [(str(video.resolve()), i) for i in range(3)]
    assert "label" not in case
    write_case(tmp_path / "frames" / "caseA", None, 3)
    [case] = inference_cases(tmp_path / "frames" / "caseA")
    assert (case["case"], case["source"]) == ("caseA", "frames") and _stems(case["image"]) == ["1", "2", "3"]
    assert [c["case"] for c in inference_cases(tmp_path / "procedures")] == ["procedure"]
    with pytest.raises(ValueError, match=rf"input '{tmp_path / 'missing.mp4'}': expected a video file"):
        inference_cases(tmp_path / "missing.mp4")
