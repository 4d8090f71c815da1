"""Training clips per second: loaded, resized to 256x448, augmented and normalised; and the cost of reading a file.

Runs the bundle's phase-2 training chain (``train#preprocessing`` of bundles/pns_net/configs/train.json) over the
synthetic video set with 0 and 2 DataLoader workers, without caching (the window is drawn first, only its frames are
read) and with ``monai.data.CacheDataset`` (the same pieces with the window drawn after loading and resizing: whole
cases loaded and resized once, the window drawn from memory).

Then times reading one frame (JPEG) and one mask (PNG): ``cv2.imread`` alone, and ``monai_pns.data.read_image``,
which reads the file's bytes, checks that the file is complete (JPEG end marker, PNG IEND chunk) and decodes them.

    python benchmarks/data.py                       # about 20 s on 2 CPU cores
    python benchmarks/data.py --clips 256 --height 480 --width 640 --out results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from monai.bundle import ConfigParser
from monai.data import CacheDataset, DataLoader, Dataset, load_decathlon_datalist
from monai.transforms import Compose

from monai_pns.data.image_io import check_image_complete, read_image
from monai_pns.data.synthetic import generate_synthetic_dataset

BUNDLE_TRAIN = Path(__file__).resolve().parents[1] / "bundles" / "pns_net" / "configs" / "train.json"


def bundle_chain(cache: bool) -> Compose:
    """The bundle's training chain for 5 x 256 x 448 clips; with ``cache`` its pieces in the order whose start a
    ``CacheDataset`` can keep (load and resize the whole case, then draw the window)."""
    parser = ConfigParser()
    parser.read_config(str(BUNDLE_TRAIN))
    parser.update({"spatial_size": [256, 448], "clip_length": 5})
    if not cache:
        return parser.get_parsed_content("train#preprocessing")
    names = ("load", "resize_clip", "window", "crop_clip", "augmentation", "frame_corruption", "normalize")
    pieces = [parser.get_parsed_content(f"transforms#{name}") for name in names]
    return Compose([t for piece in pieces for t in (piece if isinstance(piece, list) else [piece])])


def measure(cases: list[dict], workers: int, cache: bool, clips: int, batch_size: int) -> dict:
    transforms = bundle_chain(cache)
    start = time.perf_counter()
    if cache:
        dataset = CacheDataset(cases, transforms, num_workers=None, progress=False)
    else:
        dataset = Dataset(cases, transforms)
    cache_s = time.perf_counter() - start
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0)
    seen, first, start = 0, None, time.perf_counter()
    while seen < clips:
        for batch in loader:
            if first is None:  # the first batch pays for starting the workers: not counted
                first, start, seen = time.perf_counter() - start, time.perf_counter(), 0
                continue
            assert batch["image"].shape[1:] == (3, 5, 256, 448)
            seen += batch["image"].shape[0]
            if seen >= clips:
                break
    elapsed = time.perf_counter() - start
    return {
        "workers": workers, "cache": cache, "clips": seen, "seconds": round(elapsed, 3),
        "clips_per_s": round(seen / elapsed, 1), "first_batch_s": round(first or 0.0, 3), "cache_s": round(cache_s, 3),
    }


def measure_read(paths: list[str], mask: bool, repeats: int = 5) -> dict:
    """Microseconds per file: ``cv2.imread`` (no check), ``read_image`` (bytes, completeness check, decode) and the
    check alone on the bytes in memory; the fastest of ``repeats`` interleaved passes over ``paths``."""
    data = [np.fromfile(p, np.uint8) for p in paths]
    passes = {
        "imread_us": lambda: [cv2.imread(p, cv2.IMREAD_UNCHANGED) for p in paths],
        "read_image_us": lambda: [read_image(p, mask) for p in paths],
        "check_us": lambda: [check_image_complete(d) for d in data],
    }
    best = {key: float("inf") for key in passes}
    for _ in range(repeats):
        for key, run in passes.items():
            start = time.perf_counter()
            run()
            best[key] = min(best[key], (time.perf_counter() - start) / len(paths) * 1e6)
    return {"kind": "mask (PNG)" if mask else "frame (JPEG)", "files": len(paths),
            **{k: round(v, 1) for k, v in best.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None, help="synthetic set folder (default: a temporary one)")
    parser.add_argument("--clips", type=int, default=64, help="clips timed per configuration")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--height", type=int, default=288, help="frame height on disk (CVC-ClinicDB: 288)")
    parser.add_argument("--width", type=int, default=384, help="frame width on disk (CVC-ClinicDB: 384)")
    parser.add_argument("--out", default="benchmarks/results/data.json")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the workers are the parallelism being measured
    with tempfile.TemporaryDirectory() as tmp:
        root = generate_synthetic_dataset(
            args.root or Path(tmp) / "synthetic", num_train_videos=4, num_test_videos=0, num_frames=24, num_images=0,
            height=args.height, width=args.width,
        )
        cases = load_decathlon_datalist(str(root / "datalist.json"), data_list_key="training")
        rows = [measure(cases, w, c, args.clips, args.batch_size) for c in (False, True) for w in (0, 2)]
        reads = [measure_read([f for c in cases for f in c[key]], key == "label") for key in ("image", "label")]
    header = f"{'workers':>7} | {'cache':>5} | {'clips/s':>7} | {'first batch s':>13} | {'caching s':>9}"
    print(f"training clips 5x256x448 from {args.width}x{args.height} JPEG frames, batch {args.batch_size}, "
          f"{os.cpu_count()} CPUs")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['workers']:>7} | {str(r['cache']):>5} | {r['clips_per_s']:>7} | {r['first_batch_s']:>13} | "
              f"{r['cache_s'] if r['cache'] else '-':>9}")
    print(f"\nreading one file ({args.width}x{args.height}), microseconds")
    header = f"{'file':>12} | {'cv2.imread':>10} | {'read_image (checked)':>20} | {'check alone':>11}"
    print(header)
    print("-" * len(header))
    for r in reads:
        print(f"{r['kind']:>12} | {r['imread_us']:>10} | {r['read_image_us']:>20} | {r['check_us']:>11}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "data", "frame_size": [args.height, args.width], "cpus": os.cpu_count(),
              "python": platform.python_version(), "torch": torch.__version__, "rows": rows, "reads": reads}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
