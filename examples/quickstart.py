"""PNS-Net end to end on the embedded synthetic video set, on the CPU, in a few minutes.

    python examples/quickstart.py [--out runs/demo] [--static-epochs 20] [--video-epochs 4]

1. generate (once) the synthetic set in the PNS-Net release layout and its datalist;
2. phase 1: train the static model (no NS blocks) on single images with a MONAI ``SupervisedTrainer``;
3. phase 2: fine-tune the whole network, NS blocks included, on 5-frame clips;
4. predict every test frame exactly once (consecutive clips, the last one shifted) and write uint8 PNGs;
5. score them with the evaluation protocol (``monai_pns.evaluate``) and print the table.

This is the pipeline the MONAI bundle will configure; the epochs here are far too few for meaningful scores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch
from monai.data import DataLoader, Dataset, decollate_batch, load_decathlon_datalist
from monai.engines import SupervisedTrainer
from monai.utils import set_determinism

from monai_pns import evaluate
from monai_pns.data import synthetic_datalist
from monai_pns.networks import PNSNet
from monai_pns.transforms import eval_transforms, expand_sequential_clips, train_transforms

SIZE = (128, 224)  # the synthetic frames' size; multiples of 16 as PNSNet needs


def train(net: torch.nn.Module, items: list[dict], transforms, epochs: int, lr: float, device: torch.device) -> None:
    loader = DataLoader(Dataset(items, transforms), batch_size=2, shuffle=True, num_workers=0)
    trainer = SupervisedTrainer(
        device=device,
        max_epochs=epochs,
        train_data_loader=loader,
        network=net,
        optimizer=torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-4),
        loss_function=torch.nn.BCEWithLogitsLoss(),
    )
    trainer.run()
    print(f"  {epochs} epochs, last loss {trainer.state.output[0]['loss']:.4f}")


@torch.no_grad()
def predict(net: torch.nn.Module, cases: list[dict], pred_root: Path, device: torch.device) -> int:
    """Write ``pred_root/<set>/<case>/<frame>.png`` for every frame of every test case; return the count."""
    net.eval()
    transforms = eval_transforms(spatial_size=SIZE, with_label=False)
    clips = Dataset(expand_sequential_clips(cases, keys=("image",)), transforms)
    written = 0
    for batch in DataLoader(clips, batch_size=2, num_workers=0):
        probs = torch.sigmoid(net(batch["image"].to(device))).cpu()
        for clip, prob in zip(decollate_batch(batch), probs):
            for t, (path, write) in enumerate(zip(clip["frame_path"], clip["frame_write"])):
                if write:
                    out = pred_root / clip["case"] / f"{Path(path).stem}.png"
                    out.parent.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(out), np.round(255 * prob[0, t].numpy()).astype(np.uint8))
                    written += 1
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/demo")
    parser.add_argument("--static-epochs", type=int, default=20)
    parser.add_argument("--video-epochs", type=int, default=4)
    parser.add_argument("--static-lr", type=float, default=1e-3, help="from scratch; the release: 1e-4 from ImageNet")
    parser.add_argument("--video-lr", type=float, default=1e-4, help="the release's fine-tuning rate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    set_determinism(args.seed)

    datalist = synthetic_datalist()
    root = datalist.parent
    print(f"synthetic set: {root}")
    net = PNSNet().to(device)  # size-agnostic NS norm; no ImageNet weights can be downloaded here

    print("phase 1: static pre-training on single images")
    images = load_decathlon_datalist(datalist, data_list_key="pretraining")
    static_transforms = train_transforms(clip_length=None, spatial_size=SIZE)
    train(net, images, static_transforms, args.static_epochs, args.static_lr, device)

    print("phase 2: video fine-tuning on 5-frame clips")
    videos = load_decathlon_datalist(datalist, data_list_key="training")
    train(net, videos, train_transforms(clip_length=5, spatial_size=SIZE), args.video_epochs, args.video_lr, device)

    pred_root = Path(args.out, "predictions", "PNSNet")
    count = predict(net, load_decathlon_datalist(datalist, data_list_key="test"), pred_root, device)
    print(f"wrote {count} prediction maps under {pred_root}")
    evaluate.main(["--gt-root", str(root / "VPS-TestSet"), "--pred-root", str(pred_root), "--layout", "pnsnet",
                   "--out", str(Path(args.out, "evaluation")), "--no-progress"])


if __name__ == "__main__":
    main()
