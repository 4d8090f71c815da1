"""Mutation audit of the test suite: plausible one-line bugs, each run against the tests of its module.

Every mutant replaces one exact piece of source text (found exactly once in its file) by a plausible bug: a boundary
moved (``<`` for ``<=``), a copy dropped, a flag ignored, a state not reset, a rounding changed. For each mutant the
file is changed in place, the mutant's test files run (``pytest -x``: the first failure kills it) and the file is
restored, whatever happens. A mutant is *killed* when the tests fail, *survived* when they pass. The score is the
share of killed mutants; docs/testing.md records each audit.

Usage::

    python benchmarks/mutation.py                    # all mutants, writes benchmarks/results/mutation.json
    python benchmarks/mutation.py --only M03 M17     # some of them
    python benchmarks/mutation.py --list             # the mutants, nothing run

Run it on a clean checkout: it refuses to start when a file it mutates has uncommitted changes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monai_pns.utils import check_output_file, run_cli, write_atomic  # noqa: E402


@dataclass(frozen=True)
class Mutant:
    """One bug: ``find`` (exactly once in ``path``) becomes ``replace``; ``tests`` are the test files that own it.
    ``equivalent`` says why a mutant turned out to behave exactly as the original (it is left out of the score)."""

    id: str
    path: str
    find: str
    replace: str
    tests: tuple[str, ...]
    bug: str
    equivalent: str = ""


def _m(id: str, path: str, find: str, replace: str, tests: str, bug: str, equivalent: str = "") -> Mutant:
    return Mutant(id, f"monai_pns/{path}", find, replace, tuple(f"tests/{t}" for t in tests.split()), bug, equivalent)


MUTANTS = (
    # handlers
    _m("M01", "handlers/hold_parameters.py", "engine.state.epoch <= self.epochs", "engine.state.epoch < self.epochs",
       "handlers/test_hold_parameters.py", "the last held epoch trains (boundary)"),
    _m("M02", "handlers/hold_parameters.py", "if epochs < 0:", "if epochs <= 0:",
       "handlers/test_hold_parameters.py", "epochs=0 (never hold, the bundle default) refused"),
    _m("M03", "handlers/gradient_clipping.py", "            scaler.unscale_(engine.optimizer)\n", "            pass\n",
       "handlers/test_gradient_clipping.py", "gradients clipped while still scaled by the GradScaler"),
    _m("M04", "handlers/freeze_batch_norm.py", "engine.add_event_handler(Events.COMPLETED, self.release)", "pass",
       "handlers/test_freeze_batch_norm.py", "BatchNorm stays frozen after the phase ends"),
    _m("M05", "handlers/progress_bar.py", "disable=None, **kwargs", "disable=False, **kwargs",
       "handlers/test_progress_bar.py", "bars redrawn into a log file"),
    _m("M06", "handlers/checkpoints.py",
       'saved = state if self.network_config is None else {"model": state, "network_config": self.network_config}',
       "saved = state", "handlers/test_checkpoints.py", "best model saved without its network definition"),
    _m("M07", "handlers/checkpoints.py", "if self.resume else None", "if self.save_dir else None",
       "handlers/test_checkpoints.py", "resume=False ignored"),
    _m("M08", "handlers/overlay_saver.py", "if self._count >= self.max_images:", "if self._count > self.max_images:",
       "handlers/test_overlay_saver.py", "one overlay more than max_images (boundary)"),
    _m("M09", "handlers/overlay_saver.py", "pred[:, pred.shape[1] // 2]", "pred[:, 0]",
       "handlers/test_overlay_saver.py", "the first frame's mask blended on the middle frame"),
    _m("M10", "handlers/prediction_writer.py", "            if not write:\n", "            if write is None:\n",
       "handlers/test_prediction_writer.py", "frames flagged not to write are written"),
    _m("M11", "handlers/prediction_writer.py", ".reshape(-1)[-2:].tolist()", ".reshape(-1)[:2].tolist()",
       "handlers/test_prediction_writer.py", "a clip resized to (T, H) instead of (H, W)"),
    _m("M12", "handlers/mlflow_tracking.py", " and attributes.status = 'RUNNING'\"", '"',
       "handlers/test_mlflow_tracking.py", "finished runs of the same name ended again"),
    # inference
    _m("M13", "inference/sources.py", "decoded < stated", "decoded <= stated",
       "inference/test_sources.py test_infer.py", "a complete video reported short (boundary)"),
    _m("M14", "inference/writers.py", "if not 0.0 <= threshold < 1.0:", "if not 0.0 <= threshold <= 1.0:",
       "inference/test_writers.py test_infer.py", "threshold 1 accepted: an always-empty mask (boundary)"),
    _m("M15", "inference/writers.py", "mask = prediction.probability > self.threshold",
       "mask = prediction.probability >= self.threshold",
       "inference/test_writers.py test_infer.py", "a probability at the threshold counted as polyp (boundary)"),
    _m("M16", "inference/writers.py", "if self.count == 0:", "if self.count < 0:",
       "inference/test_writers.py test_infer.py", "an empty result committed"),
    _m("M17", "inference/run.py", "min(size) < _STRIDE", "min(size) <= _STRIDE",
       "test_infer.py inference/test_predictor.py", "the smallest valid size (16) refused (boundary)"),
    _m("M18", "inference/fast.py", 'and (torch.device(device).type != "cpu" or precision != "fp32")',
       'and torch.device(device).type != "cpu"',
       "inference/test_fast.py", "the fp32 onnxruntime encoder used under bf16"),
    # transforms
    _m("M19", "transforms/framewise.py", "self.R.random_sample(num_frames) < self.prob",
       "self.R.random_sample(num_frames) <= self.prob",
       "transforms/test_framewise.py", "a draw equal to prob corrupts the frame (boundary)"),
    _m("M20", "transforms/framewise.py", "clip = d[key].clone()", "clip = d[key]",
       "transforms/test_framewise.py", "the caller's clip corrupted in place"),
    _m("M21", "transforms/framewise.py",
       "self.transform.set_random_state(seed=int(self.R.randint(MAX_SEED, dtype=\"uint32\")))", "pass",
       "transforms/test_framewise.py", "the inner random transform not seeded: runs not reproducible"),
    _m("M22", "transforms/crop.py", "if 2 * self.max_crop >= min(h, w):", "if 2 * self.max_crop > min(h, w):",
       "transforms/test_crop.py", "a crop that leaves nothing accepted (boundary)"),
    _m("M23", "transforms/crop.py", "self.R.randint(self.max_crop + 1)", "self.R.randint(self.max_crop)",
       "transforms/test_crop.py", "the largest margin never drawn"),
    _m("M24", "transforms/anchor.py", "clip.shape[1] < 2", "clip.shape[1] < 1",
       "transforms/test_anchor.py", "an anchor without local frames accepted (boundary)"),
    # data
    _m("M25", "data/image_io.py", "np.floor(255.0 * np.clip(array, 0.0, 1.0) + 0.5)",
       "np.round(255.0 * np.clip(array, 0.0, 1.0))",
       "data/test_image_io.py", "codes rounded half to even (x.5 on an even code goes down)"),
    _m("M26", "data/image_io.py", "while position <= wanted[-1]:", "while position < wanted[-1]:",
       "data/test_image_io.py", "the last wanted frame of a video never read (boundary)"),
    # distributed, bundle checks, utils
    _m("M27", "distributed.py", "payload[0] = (False, raised)", "payload[0] = (True, None)",
       "test_distributed.py", "an error on process 0 becomes None on the others"),
    _m("M28", "bundle_errors.py", "if any(s <= 0 or s % multiple for s in size):",
       "if any(s < 0 or s % multiple for s in size):",
       "test_bundle_errors.py", "spatial_size 0 accepted (boundary)"),
    _m("M29", "bundle_errors.py", "max(multiple, round(s / multiple) * multiple)", "round(s / multiple) * multiple",
       "test_bundle_errors.py", "a suggested size of 0"),
    _m("M30", "bundle_errors.py", "if not tracking_uri.startswith(prefix) or len(tracking_uri) == len(prefix):",
       "if not tracking_uri.startswith(prefix):",
       "test_bundle_errors.py", "'sqlite:///' alone taken for a file"),
    _m("M31", "utils.py", "        os.chmod(tmp, umask_mode())\n", "",
       "test_utils.py", "files written with mode 0600 instead of the umask's"),
    # metrics
    _m("M32", "metrics/preprocess.py", "return gt > 128", "return gt >= 128",
       "metrics/test_frame.py metrics/test_vps_metric.py", "a GT pixel of 128 counted as polyp (boundary)"),
    _m("M33", "metrics/emeasure.py", "binary = pred >= min(2 * float(pred.mean()), 1.0)",
       "binary = pred > min(2 * float(pred.mean()), 1.0)",
       "metrics/test_emeasure.py", "a code at the adaptive threshold counted as background (boundary)"),
    _m("M34", "metrics/smeasure.py", "/ (count - 1)) if count > 1 else 0.0", "/ count) if count > 1 else 0.0",
       "metrics/test_smeasure.py", "population instead of sample standard deviation"),
    _m("M35", "metrics/aggregation.py", 'float(value.max() if reduction == "max" else value.mean())',
       "float(value.max())", "metrics/test_aggregation.py", "meanX reported as maxX"),
    _m("M36", "inferers.py", 'return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())',
       "return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())",
       "test_inferers.py", "bf16 autocast switched on for a device that is not a CPU"),
    # second audit, written after the tests for the first one's survivors
    _m("M37", "metrics/threshold_curves.py", "np.cumsum(level_hist[:, ::-1], axis=1)[:, :256]",
       "np.cumsum(level_hist[:, ::-1], axis=1)[:, 1:257]",
       "metrics/test_threshold_curves.py", "curves shifted by one threshold level"),
    _m("M38", "metrics/threshold_curves.py", '"specificity": _ratio(tn, tn + fp, hit & (tn + fp > 0))',
       '"specificity": _ratio(tn, tn + fp, tn + fp > 0)',
       "metrics/test_threshold_curves.py", "specificity counted where TP = 0 (the toolbox gives 0)"),
    _m("M39", "metrics/threshold_curves.py", "if beta2 <= 0:", "if beta2 < 0:",
       "metrics/test_threshold_curves.py", "beta2 = 0 accepted (boundary)"),
    _m("M40", "inference/checkpoint.py", "not isinstance(clip_length, int) or clip_length < 1",
       "not isinstance(clip_length, int) or clip_length < 0",
       "inference/test_checkpoint.py", "a network_config with clip_length 0 accepted (boundary)"),
    _m("M41", "inference/checkpoint.py", 'set(intensity) != {"mean", "std"}', 'not set(intensity) <= {"mean", "std"}',
       "inference/test_checkpoint.py", "an intensity without its std accepted"),
    _m("M42", "inference/checkpoint.py", "(int(norm.shape[1]), int(norm.shape[2]))",
       "(int(norm.shape[2]), int(norm.shape[1]))",
       "inference/test_checkpoint.py", "a released checkpoint's norm shape read transposed"),
    _m("M43", "metrics/smeasure.py", "int(math.floor((s + n_fg) / n_fg + 0.5))", "int(round((s + n_fg) / n_fg))",
       "metrics/test_smeasure.py", "MATLAB's centroid rounded half to even"),
    _m("M44", "metrics/smeasure.py", "return round(h / 2), round(w / 2)", "return h // 2, w // 2",
       "metrics/test_smeasure.py", "an empty GT's centre rounded down"),
    _m("M45", "inference/sources.py", "count if count > 0 else None", "count if count >= 0 else None",
       "inference/test_sources.py test_infer.py", "a header stating 0 frames taken for a count (boundary)"),
    _m("M46", "inference/sources.py", "if array.min() < 0 or array.max() > 255", "if array.min() <= 0 or array.max() > 255",
       "inference/test_sources.py", "an 8-bit volume holding a 0 stretched (boundary)"),
    _m("M47", "inference/sources.py", "volume.shape[0] not in (1, 3)", "volume.shape[0] not in (3,)",
       "inference/test_sources.py", "grey volumes refused"),
    _m("M48", "inference/writers.py", "thickness=max(1, min(frame.shape[:2]) // 200)",
       "thickness=min(frame.shape[:2]) // 200", "inference/test_writers.py", "no contour on frames under 200 pixels",
       equivalent="OpenCV's drawContours draws thickness 0 as 1"),
    _m("M49", "distributed.py", "if local_world_size > device_count:", "if local_world_size >= device_count:",
       "test_distributed.py", "one process per GPU refused (boundary)"),
    _m("M50", "distributed.py", "if not timeout > 0:", "if timeout < 0:",
       "test_distributed.py", "a timeout of 0 s accepted (boundary)"),
    _m("M51", "handlers/overlay_saver.py", "if high > low else torch.zeros_like(image)",
       "if high >= low else torch.zeros_like(image)",
       "handlers/test_overlay_saver.py", "a constant image divided by zero (boundary)"),
    _m("M52", "handlers/mlflow_tracking.py", 'sub = path.name if folder is None else f"{folder}/{path.name}"',
       "sub = folder", "handlers/test_mlflow_tracking.py", "a folder artifact logged without its folder name"),
    _m("M53", "handlers/mlflow_tracking.py", 'self.client.set_terminated(run_id, "FAILED")',
       'self.client.set_terminated(run_id, "FINISHED")',
       "handlers/test_mlflow_tracking.py", "a failed run recorded as finished"),
    _m("M54", "handlers/hold_parameters.py", "self.parameters = list(parameters)", "self.parameters = parameters",
       "handlers/test_hold_parameters.py", "a generator of parameters held in the first iteration only"),
    _m("M55", "handlers/checkpoints.py", "if n_saved < 1:", "if n_saved < 0:",
       "handlers/test_checkpoints.py", "n_saved = 0 accepted (boundary)"),
    _m("M56", "metrics/aggregation.py", "order = order[1:-1]", "order = order[1:]",
       "metrics/test_aggregation.py metrics/test_vps_metric.py", "the last frame of a video scored"),
    # third audit, written before the boundary sweep's tests were merged
    _m("M57", "inference/run.py", "created += missing[-1:]", "created += missing[:1]",
       "test_infer.py", "a failed run leaves the top folder it created"),
    _m("M58", "inference/run.py", "normalize=(not official) if normalize is None else normalize",
       "normalize=(not official)", "test_infer.py", "an explicit normalize ignored"),
    _m("M59", "inference/run.py", "(1, network.in_channels, length + spec.uses_anchor, *size)",
       "(1, network.in_channels, length, *size)", "test_infer.py", "the ONNX PNS+ clip exported without its anchor"),
    _m("M60", "inference/run.py", '"header_frames": source.num_frames if source.kind == "video" else None',
       '"header_frames": source.num_frames', "test_infer.py", "a frame folder reported with a header count"),
    _m("M61", "inference/sources.py", "if last is not None and not self.short:", "if last is not None:",
       "inference/test_sources.py", "the damaged last frame of a short video segmented"),
    _m("M62", "inference/sources.py", "refs = self.refs[start : start + chunk]",
       "refs = self.refs[start : start + chunk - 1]", "inference/test_sources.py", "one frame lost per run of 16"),
    _m("M63", "inference/sources.py", 'return f"{Path(path).stem}_{int(index):05d}"', 'return f"{int(index):05d}"',
       "inference/test_sources.py", "frames of two videos in one datalist share names"),
    _m("M64", "inference/writers.py", "        shutil.rmtree(self._tmp, ignore_errors=True)\n        self._tmp = None\n"
       "        return", "        self._tmp = None\n        return",
       "inference/test_writers.py", "the temporary folder left in the output after a commit"),
    _m("M65", "utils.py", "if isinstance(value, dict) and value:", "if isinstance(value, dict):",
       "test_utils.py", "an empty dict setting dropped from the MLflow parameters"),
    _m("M66", "utils.py", "    if not probe.is_dir():\n", "    if not probe.exists():\n",
       "test_utils.py", "an output folder under a file accepted"),
    _m("M67", "handlers/prediction_writer.py", "engine.add_event_handler(Events.EPOCH_STARTED, self.reset)", "pass",
       "handlers/test_prediction_writer.py", "a second evaluation run refused: the written set kept"),
    _m("M68", "metrics/aggregation.py", "        frame_index = int(frame_index)\n", "",
       "metrics/test_aggregation.py metrics/test_vps_metric.py", "frame indices given as tensors never match"),
    _m("M69", "transforms/anchor.py", "select_frames(clip, range(1, clip.shape[1]))",
       "select_frames(clip, range(0, clip.shape[1] - 1))", "transforms/test_anchor.py", "the last frame dropped"),
    _m("M70", "inferers.py", "frames = inputs.transpose(1, 2).reshape(b * t, c, *inputs.shape[3:])",
       "frames = inputs.reshape(b * t, c, *inputs.shape[3:])", "test_inferers.py", "channels and frames mixed"),
    _m("M71", "handlers/checkpoints.py", "return found[-1] if found else None", "return found[0] if found else None",
       "handlers/test_checkpoints.py", "resumed from the oldest checkpoint"),
    _m("M72", "data/image_io.py", "return [found[int(i)] for i in indices]", "return [found[i] for i in wanted]",
       "data/test_image_io.py", "video frames returned sorted, repeats dropped"),
    _m("M73", "data/image_io.py", "out[position] = read_image(path, mask=mask)", "out[position] = read_image(path)",
       "data/test_image_io.py", "image masks read as colour frames"),
    _m("M74", "distributed.py", "    if dist.is_initialized():\n        return dist.get_rank()\n", "",
       "test_distributed.py", "joining the process group twice fails"),
    _m("M75", "distributed.py", "torch.device(f\"cuda:{int(env['LOCAL_RANK'])}\")",
       "torch.device(f\"cuda:{int(env['RANK'])}\")", "test_distributed.py", "the global rank taken for the GPU index"),
    _m("M76", "zoo.py", 'str((root.parent if root.name == "configs" else root).resolve())',
       "str(root.parent.resolve())", "bundle/test_bundle_zoo.py", "configs outside a configs folder: the wrong root"),
)


def apply(mutant: Mutant, root: Path = ROOT) -> str:
    """Write the mutant into its file and return the original text (raises ValueError unless ``find`` is there once)."""
    path = root / mutant.path
    text = path.read_text()
    count = text.count(mutant.find)
    if count != 1:
        raise ValueError(f"mutant {mutant.id}: its text occurs {count} times in '{mutant.path}', expected once.")
    path.write_text(text.replace(mutant.find, mutant.replace))
    return text


def run_mutant(mutant: Mutant, timeout: float, root: Path = ROOT) -> dict:
    """Run the mutant's tests in ``root`` with the mutant in place; the file is restored afterwards."""
    original = apply(mutant, root)
    start = time.perf_counter()
    try:
        env = {**os.environ, "PYTHONPATH": str(root)}
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *mutant.tests]
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        outcome = "survived" if proc.returncode == 0 else "killed"
        tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    except subprocess.TimeoutExpired:
        outcome, tail = "killed (timeout)", []
    finally:
        (root / mutant.path).write_text(original)
    return {**asdict(mutant), "outcome": outcome, "seconds": round(time.perf_counter() - start, 1),
            "pytest": tail[0] if tail else ""}


def _dirty(paths: set[str]) -> list[str]:
    out = subprocess.run(["git", "status", "--porcelain", "--", *sorted(paths)], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return [line[3:] for line in out.splitlines()]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="run these mutants only")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutant (default 600)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "mutation.json"),
                        help="JSON record to write")
    args = parser.parse_args(argv)
    known = {m.id: m for m in MUTANTS}
    unknown = sorted(set(args.only or ()) - set(known))
    if unknown:
        parser.error(f"unknown mutant id(s) {unknown}; see --list")
    chosen = [known[i] for i in args.only] if args.only else list(MUTANTS)
    if args.list:
        for m in chosen:
            print(f"{m.id}  {m.path:36s} {m.bug}")
        return {}
    out = check_output_file(args.out, "--out")
    dirty = _dirty({m.path for m in chosen})
    if dirty:
        raise ValueError(f"uncommitted changes in {', '.join(dirty)}: the audit restores each file from what it read, "
                         "commit or stash them first.")
    for m in chosen:  # every mutant applies, before any test runs
        (ROOT / m.path).write_text(apply(m))
    results = []
    for m in chosen:
        result = run_mutant(m, args.timeout)
        results.append(result)
        note = f" (equivalent: {m.equivalent})" if m.equivalent else ""
        print(f"{m.id}  {result['outcome']:16s} {result['seconds']:6.1f} s  {m.path}: {m.bug}{note}", flush=True)
    killed = sum(r["outcome"].startswith("killed") for r in results)
    scored = sum(not r["equivalent"] for r in results)
    score = killed / scored if scored else 0.0
    print(f"killed {killed} of {scored} ({len(results) - scored} equivalent left out): {score:.0%}")
    report = {"killed": killed, "scored": scored, "mutants": len(results), "score": score, "results": results}
    write_atomic(out, json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
