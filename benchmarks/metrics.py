"""Per-frame time of the full VPS metric set (monai_pns.metrics) next to pysodmetrics computing its part of it.

Run from the repository root::

    python benchmarks/metrics.py [--frames 10] [--repeats 3] [--out benchmarks/results/metrics.json]

For each frame size, both libraries score the same synthetic uint8 predictions (blurred, noisy ellipses) against
their GT: pysodmetrics with Smeasure, MAE, WeightedFmeasure, Emeasure (curve + adaptive) and FmeasureV2 handlers
for the Dice, IoU, sensitivity, specificity, precision, F1 and F-measure (beta^2 = 0.3) curves; monai_pns with
``frame_metrics(mode="sunseg")``, whose definitions are pysodmetrics' (every metric at once). The matlab-mode
time and the time on float32 probability maps (the MONAI path) are printed too. The max |difference| over all
compared values is reported. Times are the fastest of ``--repeats`` interleaved rounds (shared machines).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

from monai_pns.metrics import frame_metrics

SIZES = ((1008, 1158), (256, 448))
#: frame_metrics curve -> pysodmetrics handler name
CURVES = {
    "dice": "dice",
    "iou": "iou",
    "sensitivity": "sen",
    "specificity": "spec",
    "precision": "pre",
    "f1": "f1",
    "fmeasure": "fm",
}
COLUMNS = (  # (json key, header, format)
    ("size", "size", ">10"),
    ("prediction", "pred", ">6"),
    ("pysodmetrics_ms", "pysod ms", "9.1f"),
    ("monai_pns_sunseg_ms", "ours sunseg", "11.1f"),
    ("monai_pns_matlab_ms", "ours matlab", "11.1f"),
    ("monai_pns_matlab_float_ms", "ours float", "10.1f"),
    ("speedup_sunseg", "x sunseg", "8.1f"),
    ("speedup_matlab", "x matlab", "8.1f"),
    ("speedup_float", "x float", "7.1f"),
    ("max_abs_diff", "max diff", "9.1e"),
)


def make_frame(height: int, width: int, seed: int, kind: str = "noisy") -> tuple[np.ndarray, np.ndarray]:
    """A shifted, blurred polyp ellipse and its GT. "noisy": Gaussian noise on every pixel, clipped to [0, 1]
    (worst case: non-zero values span the whole frame, so the weighted F distance transform does too); "clean":
    noise only where the blurred map is visible, background exactly 0 like a saved sigmoid output, plus one
    false-positive blob."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    cy, cx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width
    ry, rx = rng.uniform(0.05, 0.25) * height, rng.uniform(0.05, 0.25) * width
    gt = ((yy - cy) ** 2 / ry**2 + (xx - cx) ** 2 / rx**2) < 1
    pred = cv2.GaussianBlur(np.roll(gt, (5, -4), axis=(0, 1)).astype(np.float64), (0, 0), height / 60)
    if kind == "clean":
        blob = ((yy - 0.15 * height) ** 2 + (xx - 0.2 * width) ** 2) < (0.05 * height) ** 2
        pred = np.maximum(pred, 0.6 * cv2.GaussianBlur(blob.astype(np.float64), (0, 0), height / 100))
        pred = np.where(pred > 0.02, np.clip(pred + rng.normal(0, 0.1, gt.shape), 0, 1), 0.0)
    else:
        pred = np.clip(pred + rng.normal(0, 0.1, gt.shape), 0, 1)
    return np.round(pred * 255).astype(np.uint8), gt.astype(np.uint8) * 255


def pysod_frame(pred: np.ndarray, gt: np.ndarray) -> dict:
    import py_sod_metrics as psm

    handlers = {
        "dice": psm.DICEHandler(True, False),
        "iou": psm.IOUHandler(True, False),
        "sen": psm.SensitivityHandler(True, False),
        "spec": psm.SpecificityHandler(True, False),
        "pre": psm.PrecisionHandler(True, False),
        "f1": psm.FmeasureHandler(True, False, beta=1.0),
        "fm": psm.FmeasureHandler(True, False, beta=0.3),
    }
    fmv2, sm, mae, wfm, em = psm.FmeasureV2(handlers), psm.Smeasure(), psm.MAE(), psm.WeightedFmeasure(), psm.Emeasure()
    for metric in (fmv2, sm, mae, wfm, em):
        metric.step(pred, gt)
    curves = fmv2.get_results()
    out = {k: curves[v]["dynamic"] for k, v in CURVES.items()}
    out["emeasure"] = em.get_results()["em"]["curve"]
    out["adaptive_emeasure"] = em.get_results()["em"]["adp"]
    out["smeasure"] = sm.get_results()["sm"]
    out["weighted_fmeasure"] = wfm.get_results()["wfm"]
    out["mae"] = mae.get_results()["mae"]
    return out


def time_per_frame(candidates: dict, frames: dict, repeats: int) -> dict[str, float]:
    """Seconds per frame of each candidate: rounds interleave the candidates; the fastest round counts (the
    machine may be shared, so the minimum is the least noisy estimate)."""
    best = {name: float("inf") for name in candidates}
    for name, fn in candidates.items():
        fn(*frames[name][0])  # warm-up
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            for pred, gt in frames[name]:
                fn(pred, gt)
            best[name] = min(best[name], (time.perf_counter() - start) / len(frames[name]))
    return best


def max_difference(ours: dict, ref: dict) -> float:
    """Max |difference|; for the count curves only where TP > 0 (our TP == 0 rule sets them all to 0, pysodmetrics
    keeps e.g. specificity = TN / (TN + FP) there)."""
    valid = ours["dice"] > 0
    diffs = []
    for key, value in ref.items():
        delta = np.abs(np.asarray(ours[key]) - np.asarray(value))
        diffs.append(float(delta[valid].max() if key in CURVES and delta.ndim else delta.max()))
    return max(diffs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=10, help="frames per size")
    parser.add_argument("--repeats", type=int, default=3, help="timing rounds (the fastest counts)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "metrics.json"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    for (height, width), kind in ((size, kind) for size in SIZES for kind in ("noisy", "clean")):
        frames = [make_frame(height, width, seed, kind) for seed in range(args.frames)]
        diff = max(max_difference(frame_metrics(p, g, mode="sunseg"), pysod_frame(p, g)) for p, g in frames)
        floats = [(p.astype(np.float32) / 255, g) for p, g in frames]
        times = time_per_frame(
            {
                "pysod": pysod_frame,
                "sunseg": lambda p, g: frame_metrics(p, g, mode="sunseg"),
                "matlab": lambda p, g: frame_metrics(p, g, mode="matlab"),
                "float": lambda p, g: frame_metrics(p, g, mode="matlab"),
            },
            {"pysod": frames, "sunseg": frames, "matlab": frames, "float": floats},
            args.repeats,
        )
        t_ref, t_sunseg, t_matlab, t_float = (times[k] for k in ("pysod", "sunseg", "matlab", "float"))
        rows.append(
            {
                "size": f"{height}x{width}",
                "prediction": kind,
                "pysodmetrics_ms": 1e3 * t_ref,
                "monai_pns_sunseg_ms": 1e3 * t_sunseg,
                "monai_pns_matlab_ms": 1e3 * t_matlab,
                "monai_pns_matlab_float_ms": 1e3 * t_float,
                "speedup_sunseg": t_ref / t_sunseg,
                "speedup_matlab": t_ref / t_matlab,
                "speedup_float": t_ref / t_float,
                "max_abs_diff": diff,
                "frames": args.frames,
                "repeats": args.repeats,
            }
        )
    widths = [int("".join(c for c in fmt.split(".")[0] if c.isdigit())) for _, _, fmt in COLUMNS]
    print(" ".join(f"{header:>{w}}" for (_, header, _), w in zip(COLUMNS, widths)))
    for r in rows:
        print(" ".join(f"{r[key]:{fmt}}" for key, _, fmt in COLUMNS))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps({"cpu_count": os.cpu_count(), "rows": rows}, indent=2))
    os.replace(tmp, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
