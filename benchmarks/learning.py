"""Proof that it learns: the bundle's two-phase training on the synthetic set, scored with the field's protocol.

Every model is trained and scored through the bundle's configs, in this process (``monai.bundle.run``), one phase at
a time so that each phase is timed: ``pretraining``, ``finetuning``, then ``evaluating`` (8-bit prediction PNGs of
every test frame, scored as the MATLAB toolbox does). Three suites:

- ``learning``: PNS-Net (the default network), MONAI's ``UNet`` and ``BasicUNet`` (``configs/baselines``: 2-D
  networks run frame by frame) under the same data, schedule and protocol, the static twin of PNS-Net and its
  phase-1 model (see ``temporal``);
- ``temporal``: for every seed, PNS-Net against its static twin, trained for the same number of steps: PNS-Net's
  phase 1 is run once per seed (``pnsnet_phase1-s<seed>``, scored frame by frame too), then both fine-tune it on the
  same clips, the twin with every frame run alone through the network's image path
  (``configs/baselines/static.json``: the NS blocks never run); ``--shared-phase1``: every seed fine-tunes the
  first seed's phase-1 model, so the seeds vary phase 2 only (a third of the time);
- ``ablation``: the rows of the paper's Table 2 (``configs/ablation``), each fine-tuned (phase 2) from the first
  seed's phase-1 model, which every row shares (rows differ only in the NS blocks, which phase 1 never runs; each
  row's NS blocks start from their initial weights).

Scores per model: the six metrics of the paper's Table 1 on the test set (first and last frame of every video
skipped); maxDice on the frames that show a polyp and on the frames that are ambiguous alone (the set's
``manifest.json`` lists both; averaged frames -> videos -> set, as the protocol does); the false-positive area on
the polyp-free frames (share of a frame's pixels predicted polyp, 8-bit code >= 128, i.e. probability >= 0.5 once
rounded; averaged the same way). Learning curves are read back from each run's MLflow store.

Writes ``learning.json``, ``learning.md`` and ``learning_curves.png`` into ``--out`` (``docs/results``); each model's
runs live under ``--work`` in a folder named by the model and a hash of its settings (the contents of its config
files included): a finished model (its ``benchmark.json`` written) is reused by a later invocation with the same
settings, an unfinished one is started again from scratch.

Usage::

    OMP_NUM_THREADS=2 python benchmarks/learning.py --suite learning        # about 2 h on 2 cores
    OMP_NUM_THREADS=2 python benchmarks/learning.py --suite temporal --seeds 0 1 2
    OMP_NUM_THREADS=2 python benchmarks/learning.py --suite ablation --ablation-finetune-epochs 20
    python benchmarks/learning.py --train-videos 4 --test-videos 2 --frames 9 --images 4 --frame-size 32 64 \\
        --pretrain-epochs 1 --finetune-epochs 1 --seeds 0 --rows row1_base --work /tmp/learning --out /tmp/learning/out

docs/learning.md describes the settings, the scores and the outputs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the repository's monai_pns
    sys.path.insert(0, str(ROOT))

from monai_pns.data import build_datalist, generate_synthetic_dataset, read_image  # noqa: E402
from monai_pns.evaluation import (  # noqa: E402
    PAPER_COLUMNS,
    GTVideo,
    evaluate_models,
    ground_truth_videos,
    select_frames,
)
from monai_pns.metrics import VPSEvaluator  # noqa: E402
from monai_pns.utils import (  # noqa: E402
    check_output_dir,
    figure_png,
    package_versions,
    run_cli,
    save_atomic,
    write_atomic,
)

__all__ = [
    "ABLATION_ROWS",
    "PAPER_TABLE_2",
    "Experiment",
    "ceiling",
    "epoch_curves",
    "frame_groups",
    "main",
    "phase1_start",
    "plan",
    "positive_area",
    "read_curves",
    "score_subsets",
]

BUNDLE = ROOT / "bundles" / "pns_net"
TRAIN, EVALUATE = BUNDLE / "configs" / "train.json", BUNDLE / "configs" / "evaluate.json"
BASELINES, ABLATION = ROOT / "configs" / "baselines", ROOT / "configs" / "ablation"
SUITES = ("learning", "temporal", "ablation")
METRICS = PAPER_COLUMNS["matlab"]  # the six metrics of the paper's Table 1
SUBSETS = ("polyp", "ambiguous")
CURVES = ("pretrain/loss", "pretrain/val_maxDice", "finetune/loss", "finetune/val_maxDice")
#: state-dict prefixes of the modules phase 1 never runs (PNSNet's NS blocks): not taken from a shared phase-1 model
PHASE2_ONLY = ("ns_blocks.",)
#: settings of phase 2 only: they do not name a phase-1 model's work folder
PHASE2_SETTINGS = (
    "finetune_epochs", "clips_per_video", "ns_lr_multiplier", "ns_only_epochs", "frame_corruption_prob",
    "learning_rate", "finetune_freeze_bn",
)
#: 8-bit prediction codes counted as polyp: probability >= 0.5 once rounded (``probability_to_uint8(0.5) == 128``)
POSITIVE_CODE = 128
ABLATION_ROWS = tuple(sorted(p.stem for p in ABLATION.glob("row*.json")))
#: the paper's Table 2 (PNS-Net, MICCAI 2021): per row, (maxDice, maxIoU, S_alpha, mean E_phi) on CVC-300-TV and on
#: CVC-612-T, trained on the real video sets at 256x448
PAPER_TABLE_2 = {
    "row1_base": ((0.778, 0.665, 0.850, 0.858), (0.850, 0.778, 0.896, 0.885)),
    "row2_n1": ((0.755, 0.650, 0.865, 0.844), (0.850, 0.779, 0.896, 0.891)),
    "row3_n2": ((0.790, 0.679, 0.876, 0.872), (0.825, 0.746, 0.870, 0.856)),
    "row4_n4": ((0.809, 0.709, 0.893, 0.884), (0.834, 0.760, 0.881, 0.867)),
    "row5_n8": ((0.763, 0.663, 0.867, 0.842), (0.787, 0.702, 0.841, 0.829)),
    "row6_n4_soft": ((0.829, 0.729, 0.896, 0.903), (0.852, 0.784, 0.895, 0.897)),
    "row7_n4_soft_norm_r1": ((0.827, 0.732, 0.897, 0.898), (0.856, 0.792, 0.898, 0.896)),
    "row8_n4_soft_norm_r2": ((0.840, 0.745, 0.909, 0.921), (0.860, 0.795, 0.903, 0.903)),
    "row9_n4_soft_norm_r3": ((0.737, 0.609, 0.793, 0.751), (0.732, 0.613, 0.776, 0.728)),
}
ABLATION_METRICS = ("maxDice", "maxIoU", "S_alpha", "meanEm")
#: the learning suite's baselines (``configs/baselines/<name>.json``) and their labels
BASELINE_LABELS = {"unet": "MONAI UNet (frame-wise)", "basic_unet": "MONAI BasicUNet (frame-wise)"}


@dataclass
class Experiment:
    """One model of the benchmark and how it is obtained.

    Attributes:
        name: unique name, also the start of its work folder.
        label: the model's name in the tables.
        seed: the bundle's ``seed`` (initialisation, validation split, batches, augmentation).
        configs: override configs merged after ``train.json`` (and after ``evaluate.json`` for ``evaluating``).
        overrides: bundle settings on top of the benchmark's common ones.
        phase1_from: name of the experiment whose phase-1 model this one fine-tunes (its own phase 1 is not run).
        phase1_only: train phase 1 only and score its model frame by frame (``configs/baselines/static.json``).
    """

    name: str
    label: str
    seed: int
    configs: tuple[Path, ...] = ()
    overrides: dict = field(default_factory=dict)
    phase1_from: str | None = None
    phase1_only: bool = False


def plan(
    suites: Sequence[str], seeds: Sequence[int], rows: Sequence[str], ablation_overrides: Mapping,
    baselines: Sequence[str] = tuple(BASELINE_LABELS), shared_phase1: bool = False,
) -> list[Experiment]:
    """The experiments of ``suites``, each once, every one after those it starts from. PNS-Net's phase 1 is an
    experiment of its own (``pnsnet_phase1-s<seed>``), fine-tuned by the video model and its static twin of the
    same seed, or, with ``shared_phase1``, by those of every seed (seeds then vary phase 2 only)."""
    first = seeds[0]
    experiments: dict[str, Experiment] = {}

    def phase1(seed: int) -> str:
        name = f"pnsnet_phase1-s{first if shared_phase1 else seed}"
        experiments.setdefault(name, Experiment(
            name, "PNS-Net phase 1 only", first if shared_phase1 else seed, phase1_only=True))
        return name

    def pnsnet(seed: int) -> None:
        start = phase1(seed)
        experiments.setdefault(f"pnsnet-s{seed}", Experiment(
            f"pnsnet-s{seed}", "PNS-Net (video)", seed, phase1_from=start))
        experiments.setdefault(f"pnsnet_static-s{seed}", Experiment(
            f"pnsnet_static-s{seed}", "PNS-Net static (same steps)", seed, (BASELINES / "static.json",),
            phase1_from=start))

    if "learning" in suites:
        pnsnet(first)
        for name in baselines:
            config = (BASELINES / f"{name}.json",)
            experiments[f"{name}-s{first}"] = Experiment(f"{name}-s{first}", BASELINE_LABELS[name], first, config)
    if "temporal" in suites:
        for seed in seeds:
            pnsnet(seed)
    if "ablation" in suites:
        start = phase1(first)
        for row in rows:
            experiments[f"{row}-s{first}"] = Experiment(
                f"{row}-s{first}", row, first, (ABLATION / f"{row}.json",), dict(ablation_overrides), phase1_from=start
            )
    return list(experiments.values())


def frame_groups(manifest: Mapping, videos: Sequence[GTVideo]) -> dict[str, dict[str, list[int]]]:
    """Per scored video, the indices of its frames with a polyp (``polyp``), without one (``polyp_free``) and
    ambiguous alone (``ambiguous``), from the synthetic set's ``manifest.json``.

    Raises:
        ValueError: a video is not in the manifest.
    """
    cases = manifest["cases"]
    groups: dict[str, dict[str, list[int]]] = {"polyp": {}, "polyp_free": {}, "ambiguous": {}}
    for video in videos:
        if video.video not in cases:
            raise ValueError(f"case '{video.video}' is not in the synthetic manifest (cases: {sorted(cases)}).")
        polyp = set(cases[video.video]["polyp_frames"])
        groups["polyp"][video.video] = sorted(polyp)
        groups["polyp_free"][video.video] = [f.index for f in video.frames if f.index not in polyp]
        groups["ambiguous"][video.video] = sorted(int(i) for i in cases[video.video]["ambiguous"])
    return groups


def ceiling(videos: Sequence[GTVideo]) -> dict[str, dict[str, float]]:
    """Per set, the six metrics of a perfect prediction (the ground truth itself) on all frames: under the
    protocol's TP = 0 rule, every frame without a polyp scores Dice 0 whatever the prediction."""
    evaluator = VPSEvaluator("matlab", skip_first_last=True)
    for video in videos:
        for frame in video.frames:
            gt = read_image(frame.gt_ref, mask=True)
            evaluator.add_frame(gt, gt, video.video, frame.index, video.set_name)
    return {s: {k: v[k] for k in METRICS} for s, v in evaluator.set_results().items()}


def score_subsets(videos: Sequence[GTVideo], groups: Mapping, pred_root: Path) -> dict[str, dict]:
    """Per subset of ``SUBSETS``, per set, the six metrics on those frames only (first and last frame of every
    video left out, then the protocol's averaging) and the numbers of videos and frames scored."""
    scores: dict[str, dict] = {}
    for subset in SUBSETS:
        selected = select_frames(videos, groups[subset])
        if not selected:
            scores[subset] = {}
            continue
        result = evaluate_models(selected, [pred_root], skip_first_last=False, progress=False)
        per_set = result["evaluators"][result["models"][0]].set_results()
        scores[subset] = {s: {k: v[k] for k in (*METRICS, "videos", "frames")} for s, v in per_set.items()}
    return scores


def positive_area(videos: Sequence[GTVideo], pred_root: Path) -> dict[str, float]:
    """Per set, the share of a frame's pixels predicted polyp (code >= ``POSITIVE_CODE``) in the PNGs under
    ``pred_root``, averaged over each video's frames, then over the set's videos."""
    per_set: dict[str, list[float]] = {}
    for video in videos:
        shares = [float(np.mean(read_image(pred_root / f.pred_rel, mask=True) >= POSITIVE_CODE)) for f in video.frames]
        per_set.setdefault(video.set_name, []).append(float(np.mean(shares)))
    return {s: float(np.mean(v)) for s, v in per_set.items()}


def phase1_start(phase1_ckpt: Path, network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``network``'s state dict with every entry phase 1 trains taken from the phase-1 model ``phase1_ckpt``; the
    entries under ``PHASE2_ONLY`` keep ``network``'s own (initial) values.

    Raises:
        ValueError: the phase-1 model lacks an entry, or holds one of another shape, naming it.
    """
    phase1 = torch.load(phase1_ckpt, map_location="cpu", weights_only=True)
    phase1 = phase1.get("model", phase1)  # a bundle model: {"model": weights, "network_config": ...}
    start = network.state_dict()
    for key, value in start.items():
        if key.startswith(PHASE2_ONLY):
            continue
        if key not in phase1 or phase1[key].shape != value.shape:
            found = tuple(phase1[key].shape) if key in phase1 else "missing"
            raise ValueError(f"phase-1 model '{phase1_ckpt}': entry '{key}' is {found}, expected {tuple(value.shape)}.")
        start[key] = phase1[key]
    return start


def read_curves(store: Path, experiment_name: str = "pns_net") -> dict[str, list[list[float]]]:
    """The ``CURVES`` metrics of every run in the MLflow store ``store`` (a SQLite file), as sorted
    ``[step, value]`` pairs: loss per iteration, validation maxDice per epoch."""
    from mlflow import MlflowClient
    from monai.utils import path_to_sqlite_uri

    client = MlflowClient(path_to_sqlite_uri(str(store)))
    experiment = client.get_experiment_by_name(experiment_name)
    curves: dict[str, list[list[float]]] = {}
    for run in [] if experiment is None else client.search_runs([experiment.experiment_id]):
        for key in CURVES:
            if key in run.data.metrics:
                history = client.get_metric_history(run.info.run_id, key)
                curves[key] = sorted(curves.get(key, []) + [[m.step, m.value] for m in history])
    return curves


def epoch_curves(curves: Mapping[str, Sequence[Sequence[float]]], epochs: Mapping[str, int]) -> dict[str, list]:
    """``[epoch, value]`` pairs per curve: a loss (logged per iteration, steps 1..n) averaged over each of its phase's
    ``epochs[phase]`` epochs, a validation curve (logged per epoch) as it is.

    Raises:
        ValueError: a loss history whose last step is not a multiple of its phase's epochs (an incomplete run).
    """
    out: dict[str, list] = {}
    for key, points in curves.items():
        phase, kind = key.split("/", 1)
        if kind != "loss" or not points:
            out[key] = [[int(step), value] for step, value in points]
            continue
        last = int(points[-1][0])
        if last % epochs[phase] or len(points) != last:
            raise ValueError(f"'{key}' has {len(points)} values up to step {last}: not {epochs[phase]} whole epochs.")
        per_epoch = last // epochs[phase]
        values = [value for _, value in points]
        out[key] = [[e + 1, float(np.mean(values[e * per_epoch : (e + 1) * per_epoch]))] for e in range(epochs[phase])]
    return out


def _spec_hash(spec: Mapping) -> str:
    return hashlib.sha1(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _file_hash(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()[:8]


def _run_bundle(run_id: str, configs: Sequence[Path], overrides: Mapping) -> float:
    """Run ``run_id`` of the bundle in this process; returns its wall time in seconds."""
    from monai.bundle import run

    start = time.perf_counter()
    run(run_id, config_file=[str(c) for c in configs], **overrides)
    return time.perf_counter() - start


def _network(configs: Sequence[Path], overrides: Mapping, seed: int) -> torch.nn.Module:
    """The bundle's ``network_def`` of ``configs`` with ``overrides`` (``--set`` included), initialised with
    ``seed``."""
    from monai.bundle import ConfigParser

    parser = ConfigParser(ConfigParser.load_config_files([str(c) for c in configs]))
    parser.update(dict(overrides))
    torch.manual_seed(seed)
    return parser.get_parsed_content("network_def")


def run_experiment(exp: Experiment, folders: Mapping[str, Path], common: Mapping, data: Mapping) -> dict:
    """Train (unless it starts from or scores another's phase-1 model), evaluate and score one experiment in its
    folder ``folders[exp.name]``; returns (and saves as ``benchmark.json``) its record."""
    out = folders[exp.name]
    record_file = out / "benchmark.json"
    if record_file.is_file():
        return json.loads(record_file.read_text())
    if out.exists():
        shutil.rmtree(out)  # an unfinished earlier attempt: start again
    overrides = {**common, **exp.overrides, "seed": exp.seed, "output_dir": str(out)}
    train_configs, eval_configs = [TRAIN, *exp.configs], [TRAIN, EVALUATE, *exp.configs]
    times: dict[str, float] = {}
    if exp.phase1_from is None:
        times["pretraining"] = _run_bundle("pretraining", train_configs, {**overrides, "run_name": "pretraining"})
    else:
        start = out / "phase1_start.pt"
        network = _network(train_configs, overrides, exp.seed)
        save_atomic(phase1_start(folders[exp.phase1_from] / "pretrain" / "model.pt", network), start)
        overrides["pretrain_ckpt"] = str(start)
    if exp.phase1_only:
        eval_configs.append(BASELINES / "static.json")
        overrides.update(model_name="PNSNet_phase1", ckpt_path=str(out / "pretrain" / "model.pt"))
    else:
        times["finetuning"] = _run_bundle("finetuning", train_configs, {**overrides, "run_name": "finetuning"})
    times["evaluating"] = _run_bundle("evaluating", eval_configs, {**overrides, "run_name": "evaluating"})
    settings = json.loads((out / "settings.json").read_text())
    summary = json.loads((out / "evaluation" / "summary.json").read_text())
    model = summary["models"][0]
    pred_root = out / "predictions" / model
    subsets = score_subsets(data["videos"], data["groups"], pred_root)
    polyp_free = select_frames(data["videos"], data["groups"]["polyp_free"])
    record = {
        "name": exp.name,
        "label": exp.label,
        "seed": exp.seed,
        "configs": [str(c.relative_to(ROOT)) for c in exp.configs],
        "overrides": exp.overrides,
        "phase1_from": exp.phase1_from,
        "phase1_only": exp.phase1_only,
        "settings": settings,
        "times_s": times,
        "test": {s: {k: v[k] for k in (*METRICS, "videos", "frames")} for s, v in summary["results"][model].items()},
        "subsets": subsets,
        "false_positive_area": positive_area(polyp_free, pred_root) if polyp_free else {},
        "curves": epoch_curves(
            read_curves(out / "mlruns.db"),
            {"pretrain": settings["pretrain_epochs"], "finetune": settings["finetune_epochs"]},
        ),
    }
    write_atomic(record_file, json.dumps(record, indent=1))
    return record


def _mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value: one seed has no spread)."""
    return float(np.mean(values)), float(statistics.stdev(values)) if len(values) > 1 else None


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _get(record: Mapping, where: str, set_name: str, key: str = "maxDice") -> float | None:
    """A score of a record: ``where`` is ``test`` (all frames) or a subset name."""
    table = record["test"] if where == "test" else record["subsets"].get(where, {})
    return table.get(set_name, {}).get(key)


def learning_table(
    records: Mapping[str, dict], names: Sequence[str], budget_minutes: float, perfect: Mapping[str, dict]
) -> list[str]:
    """The learning suite's table: a perfect prediction's scores, then per model and set its scores and training
    minutes per phase (a shared phase 1 counted with the time it took its owner)."""
    rows = [f"| perfect prediction (ceiling) | {set_name} | " + " | ".join(_fmt(values[k]) for k in METRICS)
            + " | 1.000 | 1.000 | 0.0000 | - | - | - |" for set_name, values in perfect.items()]
    for name in names:
        r = records[name]
        owner = r["phase1_from"]
        phase1 = (records[owner] if owner else r)["times_s"]["pretraining"] / 60
        phase2 = r["times_s"]["finetuning"] / 60 if "finetuning" in r["times_s"] else None
        total = phase1 + (phase2 or 0.0)
        times = [_fmt(phase1, 1) + (" (shared)" if owner else ""), _fmt(phase2, 1),
                 _fmt(total, 1) + ("" if total <= budget_minutes else " (over budget)")]
        for set_name in r["test"]:
            cells = [_fmt(_get(r, "test", set_name, k)) for k in METRICS]
            cells += [_fmt(_get(r, subset, set_name)) for subset in SUBSETS]
            cells += [_fmt(r["false_positive_area"].get(set_name), 4), *times]
            rows.append(f"| {r['label']} | {set_name} | " + " | ".join(cells) + " |")
    header = ("| Model | Set | " + " | ".join(METRICS) + " | maxDice polyp frames | maxDice ambiguous frames"
              " | FP area polyp-free frames | phase 1 min | phase 2 min | training min |")
    return [header, "|---" * (len(METRICS) + 8) + "|", *rows]


#: the temporal suite's rows: model name prefix (or "lead": video minus static, per seed) and label
TEMPORAL_ROWS = (("pnsnet", "PNS-Net (video)"), ("pnsnet_static", "PNS-Net static (same steps)"),
                 ("pnsnet_phase1", "PNS-Net phase 1 only"), ("lead", "lead of video over static"))
TEMPORAL_COLUMNS = (("test", "all frames"), ("polyp", "polyp frames"), ("ambiguous", "ambiguous frames"))


def _temporal_value(records: Mapping[str, dict], model: str, seed: int, where: str, set_name: str) -> float | None:
    if model != "lead":
        record = records.get(f"{model}-s{seed}")  # None: a phase-1 model shared by the seeds is scored once
        return None if record is None else _get(record, where, set_name)
    video, static = (_temporal_value(records, m, seed, where, set_name) for m in ("pnsnet", "pnsnet_static"))
    return None if video is None or static is None else video - static


def temporal_table(records: Mapping[str, dict], seeds: Sequence[int]) -> tuple[list[str], dict]:
    """maxDice on all, polyp and ambiguous frames per model of ``TEMPORAL_ROWS``: mean and sample standard
    deviation over ``seeds`` (the table lines, and the summary: row -> set -> column -> mean, sd, values)."""
    sets = list(records[f"pnsnet-s{seeds[0]}"]["test"])
    lines = ["| Model | Set | " + " | ".join(f"maxDice {label}" for _, label in TEMPORAL_COLUMNS)
             + " | per seed (all / ambiguous frames) |", "|---" * (len(TEMPORAL_COLUMNS) + 3) + "|"]
    summary: dict = {}
    for model, label in TEMPORAL_ROWS:
        for set_name in sets:
            cells = []
            for where, _ in TEMPORAL_COLUMNS:
                found = [_temporal_value(records, model, seed, where, set_name) for seed in seeds]
                values = [v for v in found if v is not None]
                mean, sd = _mean_sd(values) if values else (None, None)
                summary.setdefault(model, {}).setdefault(set_name, {})[where] = {"mean": mean, "sd": sd,
                                                                                  "values": values}
                cells.append("-" if mean is None else _fmt(mean) + ("" if sd is None else f" ± {sd:.3f}"))
            per_seed = "; ".join(
                f"s{seed}: " + " / ".join(_fmt(_temporal_value(records, model, seed, w, set_name))
                                          for w in ("test", "ambiguous"))
                for seed in seeds
            )
            lines.append(f"| {label} | {set_name} | " + " | ".join(cells) + f" | {per_seed} |")
    return lines, summary


def _row_variant(row: str) -> list[str]:
    """The Table 2 columns N, Soft, Norm, R of an ablation config (empty where the row has no NS block)."""
    kwargs = {k.split("#", 1)[1]: v for k, v in json.loads((ABLATION / f"{row}.json").read_text()).items()}
    if kwargs.get("num_blocks") == 0:
        return ["", "", "", ""]
    return [str(kwargs["num_groups"]), "x" if kwargs["soft_attention"] else "", "x" if kwargs["use_norm"] else "",
            str(kwargs["num_blocks"])]


def ablation_table(records: Mapping[str, dict], rows: Sequence[str], seed: int) -> list[str]:
    sets = list(records[f"{rows[0]}-s{seed}"]["test"])
    ours = [f"{k} ({s})" for s in sets for k in ABLATION_METRICS]
    paper = [f"{k} ({s}, paper)" for s in ("CVC-300-TV", "CVC-612-T") for k in ABLATION_METRICS]
    lines = ["| No. | Base | N | Soft | Norm | R | " + " | ".join(ours + ["maxDice ambiguous frames"] + paper) + " |",
             "|---" * (6 + len(ours) + 1 + len(paper)) + "|"]
    for row in rows:
        r = records[f"{row}-s{seed}"]
        cells = [_fmt(_get(r, "test", s, k)) for s in sets for k in ABLATION_METRICS]
        cells.append(" / ".join(_fmt(_get(r, "ambiguous", s)) for s in sets))
        cells += [_fmt(v) for table in PAPER_TABLE_2[row] for v in table] if row in PAPER_TABLE_2 else ["-"] * 8
        number = row.split("_")[0].removeprefix("row")
        lines.append(f"| #{number} | x | " + " | ".join(_row_variant(row)) + " | " + " | ".join(cells) + " |")
    return lines


def plot_curves(records: Mapping[str, dict], names: Sequence[str]) -> bytes:
    """Training loss (epoch means) and validation maxDice per epoch, phase 2 after phase 1, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4))
    axes = fig.subplots(1, 2)
    boundaries = set()
    for name in names:
        record = records[name]
        phase1 = records[record["phase1_from"]]["curves"] if record["phase1_from"] else record["curves"]
        shift = record["settings"]["pretrain_epochs"]
        boundaries.add(shift)
        for ax, kind in zip(axes, ("loss", "val_maxDice")):
            points = phase1.get(f"pretrain/{kind}", []) + [
                [epoch + shift, value] for epoch, value in record["curves"].get(f"finetune/{kind}", [])
            ]
            ax.plot([e for e, _ in points], [v for _, v in points], marker="." if len(points) < 60 else None,
                    label=record["label"])
    for ax, title in zip(axes, ("training loss (mean per epoch)", "validation maxDice")):
        for boundary in boundaries:
            ax.axvline(boundary + 0.5, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xlabel("epoch (phase 1, then phase 2)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize="small")
    return figure_png(fig)


def _markdown(report: dict, tables: Mapping[str, list[str]]) -> str:
    s = report["settings"]
    data = s["data"]
    lines = [
        "# Learning benchmark (synthetic set)",
        "",
        f"Synthetic set: {data['num_train_videos']} training videos (a quarter held out for validation), "
        f"{data['num_test_videos']} test videos of {data['num_frames']} frames, {data['num_images']} single images, "
        f"{data['height']}x{data['width']}, data seed {data['seed']}. Input {s['spatial_size'][0]}x"
        f"{s['spatial_size'][1]}, batch {s['batch_size']}; epochs: {s['pretrain_epochs']} in phase 1, "
        f"{s['finetune_epochs']} in phase 2 ({s['ablation_finetune_epochs']} for the ablation rows). "
        f"{s['threads']} torch threads on {s['cpu']}; mixed precision: {s['amp']}. Scores on the test set; "
        "times are wall-clock minutes of each phase in one process (dataset caching included).",
        "",
    ]
    if s["shared_phase1"]:
        lines[-1:-1] = ["", "Every seed fine-tunes the first seed's phase-1 model (`--shared-phase1`): the seeds vary "
                        "phase 2 only."]
    titles = {
        "learning": "## Learning: PNS-Net against MONAI baselines, same data, schedule and protocol",
        "temporal": "## Temporal context: video model against its static twin (mean ± sd over seeds)",
        "ablation": "## Ablation (the paper's Table 2 layout; paper values from real data at 256x448)",
    }
    for name, table in tables.items():
        lines += [titles[name], "", *table, ""]
    return "\n".join(lines)


def _bundle_setting(text: str) -> tuple[str, object]:
    """``ID=VALUE`` (VALUE in JSON) -> ``(ID, value)``; argparse reports a ValueError as a usage error."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"expected ID=VALUE, got {text!r}")
    return key, json.loads(value)


def _selected(experiments: Sequence[Experiment], names: Sequence[str], folders: Mapping[str, Path]) -> list[Experiment]:
    """The experiments named by ``--only``, each checked: planned, and the model it starts from finished.

    Raises:
        ValueError: a name that is not planned (listing the planned ones), or an unfinished starting model.
    """
    planned = {exp.name: exp for exp in experiments}
    unknown = [n for n in names if n not in planned]
    if unknown:
        raise ValueError(f"--only: {unknown} not among the planned models {sorted(planned)}.")
    for name in names:
        parent = planned[name].phase1_from
        if parent is not None and not (folders[parent] / "benchmark.json").is_file():
            raise ValueError(f"--only {name}: it starts from '{parent}', which is not finished ({folders[parent]}).")
    return [planned[n] for n in names]


def main(argv: Sequence[str] | None = None) -> dict:
    """The command line (module docstring); returns the report written to ``learning.json``."""
    parser = argparse.ArgumentParser(prog="python benchmarks/learning.py", description=__doc__.split("\n")[0])
    parser.add_argument("--suite", nargs="+", choices=(*SUITES, "all"), default=["all"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="training seeds (temporal suite)")
    parser.add_argument("--shared-phase1", action="store_true",
                        help="every seed fine-tunes the first seed's phase-1 model (seeds vary phase 2 only)")
    parser.add_argument("--rows", nargs="+", choices=ABLATION_ROWS, default=list(ABLATION_ROWS), help="ablation rows")
    parser.add_argument("--baselines", nargs="*", choices=tuple(BASELINE_LABELS), default=list(BASELINE_LABELS),
                        help="baselines of the learning suite (none with an empty list)")
    parser.add_argument("--train-videos", type=int, default=16, help="synthetic training videos (1/4 validate)")
    parser.add_argument("--test-videos", type=int, default=12)
    parser.add_argument("--frames", type=int, default=32, help="frames per synthetic video")
    parser.add_argument("--images", type=int, default=64, help="synthetic single images (phase 1)")
    parser.add_argument("--frame-size", nargs=2, type=int, default=[128, 224], metavar=("H", "W"))
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="synthetic set folder (default: a cache folder)")
    parser.add_argument("--spatial-size", nargs=2, type=int, default=None, metavar=("H", "W"),
                        help="network input size (default: --frame-size)")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--pretrain-epochs", type=int, default=16)
    parser.add_argument("--finetune-epochs", type=int, default=40)
    parser.add_argument("--ablation-finetune-epochs", type=int, default=None, help="default: --finetune-epochs")
    parser.add_argument("--clips-per-video", type=int, default=None,
                        help="phase-2 windows per training video and epoch (default: the bundle's)")
    parser.add_argument("--val-interval", type=int, default=1, help="epochs between validations")
    parser.add_argument("--set", nargs="+", default=[], metavar="ID=VALUE", type=_bundle_setting,
                        help="other bundle settings for every model, VALUE in JSON (e.g. ns_lr_multiplier=30)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--budget-minutes", type=float, default=60.0, help="training time flagged as over budget")
    parser.add_argument("--work", default=str(ROOT / "runs" / "learning"), help="folder of the models' runs")
    parser.add_argument("--only", nargs="+", default=None, metavar="MODEL",
                        help="train and score only these models (e.g. pnsnet-s0 in one process, pnsnet_static-s0 in "
                             "another); the models they start from must be finished; no reports are written")
    parser.add_argument("--out", default=str(ROOT / "docs" / "results"), help="folder of the reports")
    args = parser.parse_args(argv)
    suites = SUITES if "all" in args.suite else tuple(s for s in SUITES if s in args.suite)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must differ, got {args.seeds}")
    out, work = check_output_dir(args.out, "--out"), check_output_dir(args.work, "--work").resolve()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    data_params = {"num_train_videos": args.train_videos, "num_test_videos": args.test_videos,
                   "num_frames": args.frames, "num_images": args.images, "height": args.frame_size[0],
                   "width": args.frame_size[1], "seed": args.data_seed}
    root = generate_synthetic_dataset(args.data_dir, **data_params)
    videos = ground_truth_videos(build_datalist("pnsnet", root), "test")
    data = {"videos": videos, "groups": frame_groups(json.loads((root / "manifest.json").read_text()), videos)}
    perfect = ceiling(videos)
    ablation_epochs = args.ablation_finetune_epochs or args.finetune_epochs
    common = {
        "bundle_root": str(BUNDLE), "dataset_dir": str(root), "spatial_size": args.spatial_size or args.frame_size,
        "batch_size": args.batch_size, "pretrain_epochs": args.pretrain_epochs,
        "finetune_epochs": args.finetune_epochs, "val_interval": args.val_interval, "progress": False,
    }
    if args.clips_per_video is not None:
        common["clips_per_video"] = args.clips_per_video
    common.update(dict(args.set))
    experiments = plan(suites, args.seeds, args.rows, {"finetune_epochs": ablation_epochs}, args.baselines,
                       args.shared_phase1)
    folders: dict[str, Path] = {}
    for exp in experiments:
        unused = PHASE2_SETTINGS if exp.phase1_only else ()  # a phase-1 model is reused whatever phase 2 does
        spec = {"data": data_params,
                "common": {k: v for k, v in common.items() if not k.endswith(("_dir", "_root")) and k not in unused},
                "configs": {str(c.relative_to(ROOT)): _file_hash(c) for c in (TRAIN, EVALUATE, *exp.configs)},
                "overrides": exp.overrides, "seed": exp.seed, "phase1_only": exp.phase1_only,
                "parent": None if exp.phase1_from is None else folders[exp.phase1_from].name}
        folders[exp.name] = work / f"{exp.name}-{_spec_hash(spec)}"

    records = {}
    for exp in experiments if args.only is None else _selected(experiments, args.only, folders):
        print(f"[learning] {exp.name}: {folders[exp.name]}", flush=True)
        records[exp.name] = run_experiment(exp, folders, common, data)
    if args.only is not None:
        return {"experiments": records}

    first = args.seeds[0]
    tables: dict[str, list[str]] = {}
    summaries: dict = {}
    if "learning" in suites:
        names = [f"{n}-s{first}" for n in ("pnsnet", "pnsnet_static", "pnsnet_phase1", *args.baselines)]
        tables["learning"] = learning_table(records, names, args.budget_minutes, perfect)
    if "temporal" in suites:
        tables["temporal"], summaries["temporal"] = temporal_table(records, args.seeds)
    if "ablation" in suites:
        tables["ablation"] = ablation_table(records, args.rows, first)
    report = {
        "settings": {
            "suites": list(suites), "seeds": args.seeds, "shared_phase1": args.shared_phase1, "rows": args.rows, "baselines": args.baselines,
            "data": data_params,
            "spatial_size": common["spatial_size"], "batch_size": args.batch_size,
            "pretrain_epochs": args.pretrain_epochs, "finetune_epochs": args.finetune_epochs,
            "ablation_finetune_epochs": ablation_epochs, "val_interval": args.val_interval,
            "clips_per_video": next(iter(records.values()))["settings"].get("clips_per_video", 1),
            "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "amp": next(iter(records.values()))["settings"]["amp"],
            "budget_minutes": args.budget_minutes, "versions": package_versions(),
        },
        "ceiling": perfect,
        "summaries": summaries,
        "experiments": records,
    }
    markdown = _markdown(report, tables)
    write_atomic(out / "learning.json", json.dumps(report, indent=1))
    write_atomic(out / "learning.md", markdown)
    curve_names = [n for n in (f"{m}-s{first}" for m in ("pnsnet", "pnsnet_static", "unet", "basic_unet"))
                   if n in records]
    write_atomic(out / "learning_curves.png", plot_curves(records, curve_names))
    print(markdown)
    print(f"reports written to {out.resolve()}: learning.json, learning.md, learning_curves.png")
    return report


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
