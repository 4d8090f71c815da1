"""The reports of an evaluation: ``per_video.csv``, ``summary.csv``, ``summary.json``, ``summary.md`` (the
published tables' layout) and ``curves_<set>.png`` (Dice, IoU and E-measure over the thresholds, one line per model).

Every file is written to a temporary name first, then moved into place; curve plots of a previous run that this
run does not write are removed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from monai_pns.metrics import SUMMARY_KEYS, THRESHOLDS
from monai_pns.utils import figure_png, write_atomic

__all__ = ["PAPER_COLUMNS", "write_reports"]

#: the columns of the published tables: PNS-Net Table 1 (MATLAB toolbox) and the SUN-SEG benchmark
PAPER_COLUMNS = {
    "matlab": ("maxDice", "maxSpe", "maxIoU", "S_alpha", "meanEm", "MAE"),
    "sunseg": ("S_alpha", "meanEm", "wF", "meanF", "meanDice", "meanSen"),
}
_PLOTTED = (("dice", "Dice"), ("iou", "IoU"), ("emeasure", "E-measure"))


def _csv(rows: list[dict], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()


def _markdown(summary: dict) -> str:
    mode = summary["mode"]
    columns = PAPER_COLUMNS[mode]
    lines = [f"# VPS evaluation ({mode} toolbox protocol)", ""]
    for set_name in summary["sets"]:
        lines += [f"## {set_name}", "", "| Model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
        for model in summary["models"]:
            values = summary["results"][model][set_name]
            lines.append(f"| {model} | " + " | ".join(f"{values[c]:.3f}" for c in columns) + " |")
        lines.append("")
    for key, text in (("missing", "Missing predictions scored as all-zero maps"),
                      ("resized", "Predictions of another size than their ground truth, resized to it")):
        found = {m: len(p) for m, p in summary[key].items() if p}
        if found:
            lines += [f"{text}: " + ", ".join(f"{m}: {n}" for m, n in found.items()), ""]
    return "\n".join(lines)


def _plot(curves: dict[str, dict], set_name: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.6))
    axes = fig.subplots(1, len(_PLOTTED))
    for ax, (key, label) in zip(axes, _PLOTTED):
        for model, model_curves in curves.items():
            ax.plot(THRESHOLDS, model_curves[key], label=model)
        ax.set_xlabel("threshold")
        ax.set_ylabel(label)
        ax.set_title(f"{label}: {set_name}")
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    return figure_png(fig)


def write_reports(result: dict, out_dir: str | os.PathLike) -> dict:
    """Write the CSV / JSON / markdown reports and the curve plots of :func:`evaluate_models`' result into
    ``out_dir``, remove curve plots there that this result does not have (a previous run's), and return the
    summary (the content of ``summary.json``; ``reports`` lists the files written)."""
    out = Path(out_dir)
    models, evaluators, counts = result["models"], result["evaluators"], result["counts"]
    per_video, summary_rows, results, sets = [], [], {}, []
    for model in models:
        ev = evaluators[model]
        per_video += [{"model": model, **row} for row in ev.video_results()]
        results[model] = ev.set_results()
        for set_name, values in results[model].items():
            sets += [set_name] if set_name not in sets else []
            summary_rows.append({"model": model, "set": set_name, **counts[model][set_name], **values})
    summary = {
        "mode": result["mode"],
        "layout": result.get("layout"),
        "data_list_key": result.get("data_list_key"),
        "skip_first_last": evaluators[models[0]].skip_first_last,
        "models": models,
        "sets": sets,
        "results": results,
        "missing": result["missing"],
        "resized": result["resized"],
    }
    plots = {f"curves_{re.sub(r'[^A-Za-z0-9._-]+', '_', s)}.png": s for s in sets}
    summary["reports"] = ["per_video.csv", "summary.csv", "summary.json", "summary.md", *plots]
    write_atomic(out / "per_video.csv", _csv(per_video, ["model", "set", "video", "frames", *SUMMARY_KEYS]))
    summary_cols = ["model", "set", "videos", "frames", "missing", "resized", *SUMMARY_KEYS]
    write_atomic(out / "summary.csv", _csv(summary_rows, summary_cols))
    write_atomic(out / "summary.json", json.dumps(summary, indent=2))
    write_atomic(out / "summary.md", _markdown(summary))
    for name, set_name in plots.items():
        curves = {m: evaluators[m].set_curves()[set_name] for m in models if set_name in results[m]}
        write_atomic(out / name, _plot(curves, set_name))
    for stale in out.glob("curves_*.png"):
        if stale.name not in plots:
            stale.unlink()
    return summary
