"""An embedded synthetic colonoscopy video set, written in the PNS-Net release layout.

Frames show pink-red mucosa with folds and vessels, specular highlights, vignetting and a moving camera; polyps are
textured, slightly darker or redder blobs that move and change scale smoothly; some frames have no polyp, and a few
frames are ambiguous on their own (motion blur, glare or fluid over the polyp, a fold hiding part of it) while their
neighbours are not. Masks always hold the whole polyp, so those frames are where temporal context helps.

The set is deterministic from its parameters (seed included), generated once into a cache folder (in a temporary
folder renamed into place) and reused while its ``manifest.json`` matches: the same parameters, and every file of
the set present with the size and CRC-32 recorded there (a deleted or damaged file makes it regenerate, with a
warning). Layout::

    <root>/IVPS-TrainSet/{Frame/<i>.jpg, GT/<i>.png}                        single images (phase 1)
    <root>/VPS-TrainSet/Synthetic/Train/<case>/{Frame,GT}/<i>.{jpg,png}     training videos
    <root>/VPS-TestSet/Synthetic-Test/{Frame,GT}/<case>/<i>.{jpg,png}       test videos
    <root>/manifest.json, <root>/datalist.json

Command line::

    python -m monai_pns.data.synthetic --out /data/synthetic --videos 20 --frames 60 --height 256 --width 448
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from monai_pns.data.datalist import build_datalist, write_datalist
from monai_pns.utils import check_output_dir, check_output_file, run_cli, umask_mode, write_atomic

__all__ = [
    "SYNTHETIC_VERSION",
    "default_cache_dir",
    "generate_synthetic_dataset",
    "main",
    "render_video",
    "save_preview",
    "synthetic_datalist",
]

#: bump when the rendering changes, so that cached sets are regenerated
SYNTHETIC_VERSION = 1
_AMBIGUITIES = ("blur", "glare", "fold")


def default_cache_dir() -> Path:
    """``$MONAI_PNS_CACHE`` if set, else ``~/.cache/monai_pns``."""
    return Path(os.environ.get("MONAI_PNS_CACHE", "~/.cache/monai_pns")).expanduser()


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth noise in about [-1, 1]: a coarse random grid resized with bicubic interpolation."""
    grid = rng.standard_normal((cells, max(2, cells * shape[1] // shape[0])), dtype=np.float32)
    field = cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return field / (np.abs(field).max() + 1e-6)


def _world(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """The mucosa texture the camera moves over: RGB float32 in [0, 1]."""
    base = np.array([0.80, 0.38, 0.33], np.float32) + rng.uniform(-0.05, 0.05, 3).astype(np.float32)
    light = 1.0 + 0.12 * _smooth_noise(rng, (height, width), 4) + 0.04 * _smooth_noise(rng, (height, width), 24)
    img = base[None, None, :] * light[..., None]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(rng.integers(3, 6)):  # folds: a dark groove with a lit ridge just above it
        angle = rng.uniform(-0.6, 0.6)
        u = xx * np.cos(angle) + yy * np.sin(angle)
        v = -xx * np.sin(angle) + yy * np.cos(angle)
        centre = rng.uniform(0, height) + rng.uniform(4, 14) * np.sin(u / rng.uniform(20, 50) + rng.uniform(0, 6.3))
        d = v - centre
        thickness = rng.uniform(2.0, 5.0)
        shade = -0.35 * np.exp(-(d / thickness) ** 2) + 0.15 * np.exp(-((d + 1.8 * thickness) / thickness) ** 2)
        img *= (1.0 + shade)[..., None]
    vessels = np.zeros((height, width), np.float32)
    for _ in range(rng.integers(6, 12)):  # vessels: thin branching random walks
        points = [rng.uniform((0, 0), (width, height))]
        step_angle = rng.uniform(0, 2 * np.pi)
        for _ in range(rng.integers(10, 30)):
            step_angle += rng.normal(0, 0.4)
            points.append(points[-1] + 4.0 * np.array([np.cos(step_angle), np.sin(step_angle)]))
        cv2.polylines(vessels, [np.round(np.array(points)).astype(np.int32)], False, float(rng.uniform(0.5, 1)), 1)
    vessels = cv2.GaussianBlur(vessels, (3, 3), 0.7)
    vessel_colour = np.array([0.55, 0.12, 0.22], np.float32)
    img = img * (1 - 0.45 * vessels[..., None]) + 0.45 * vessels[..., None] * vessel_colour
    return np.clip(img, 0, 1)


def _trajectory(rng: np.random.Generator, num_frames: int, amplitude: float) -> np.ndarray:
    """A smooth 1-D path over frames: two sinusoids with random periods and phases."""
    t = np.arange(num_frames, dtype=np.float32)
    out = np.zeros(num_frames, np.float32)
    for _ in range(2):
        out += amplitude / 2 * np.sin(2 * np.pi * t / rng.uniform(15, 45) + rng.uniform(0, 2 * np.pi))
    return out


def _polyp_shape(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic amplitudes and phases of an irregular, roughly elliptic outline."""
    return rng.uniform(0.03, 0.12, 3).astype(np.float32), rng.uniform(0, 2 * np.pi, 3).astype(np.float32)


def _polyp(
    yy: np.ndarray, xx: np.ndarray, centre: tuple[float, float], radius: float, shape: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The polyp's binary mask and its normalised radial distance (0 at the centre, 1 on the outline)."""
    dy, dx = yy - centre[0], xx - centre[1]
    theta = np.arctan2(dy, dx)
    amps, phases = shape
    outline = radius * (1 + sum(a * np.sin((k + 2) * theta + p) for k, (a, p) in enumerate(zip(amps, phases))))
    rho = np.sqrt(dx**2 + (dy * 1.15) ** 2) / outline
    return rho <= 1.0, rho


def _motion_blur(img: np.ndarray, rng: np.random.Generator, length: int) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    return cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6), borderType=cv2.BORDER_REFLECT)


def render_video(
    rng: np.random.Generator,
    num_frames: int,
    height: int,
    width: int,
    polyp_prob: float = 0.9,
    ambiguous_fraction: float = 0.15,
) -> tuple[list[np.ndarray], list[np.ndarray], dict]:
    """Render one synthetic colonoscopy video.

    Args:
        rng: the only source of randomness: the same generator state gives the same video.
        num_frames, height, width: video size.
        polyp_prob: probability that the video shows a polyp at all (over all of it or over one run of frames).
        ambiguous_fraction: share of the frames made ambiguous (blur, glare, fold), never two in a row, only where
            the polyp is in the frame and in both neighbours.

    Returns:
        RGB ``uint8`` (H, W, 3) frames, ``uint8`` (H, W) masks (0/255, the whole polyp even where it is hidden) and
        a summary: ``polyp_frames`` (indices with a polyp), ``ambiguous`` ({index as str: "blur" | "glare" | "fold"}).

    Examples::

        >>> frames, masks, summary = render_video(np.random.default_rng(0), 24, 128, 224)
        >>> frames[0].shape, masks[0].shape  # (128, 224, 3), (128, 224)
    """
    margin = 0.6
    world_h, world_w = int(height * (1 + margin)), int(width * (1 + margin))
    world = _world(rng, world_h, world_w)
    pan_x = _trajectory(rng, num_frames, margin * width * 0.45)
    pan_y = _trajectory(rng, num_frames, margin * height * 0.45)
    zoom = 1.0 + _trajectory(rng, num_frames, 0.12)
    roll = _trajectory(rng, num_frames, 8.0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((yy - height / 2) / (height / 2)) ** 2 + ((xx - width / 2) / (width / 2)) ** 2
    vignette = (1.08 - 0.4 * r2)[..., None].clip(0.25, 1.1)

    # polyp: present over one contiguous run of frames (sometimes the whole video, sometimes none of it)
    present = np.zeros(num_frames, bool)
    if rng.random() < polyp_prob:
        if rng.random() < 0.5 or num_frames < 8:
            present[:] = True
        else:
            start, stop = sorted(rng.integers(0, num_frames + 1, 2))
            stop = max(stop, start + num_frames // 2)
            present[start:stop] = True
    centre_y = height * rng.uniform(0.3, 0.7) + _trajectory(rng, num_frames, 0.25 * height)
    centre_x = width * rng.uniform(0.3, 0.7) + _trajectory(rng, num_frames, 0.25 * width)
    radius = min(height, width) * rng.uniform(0.12, 0.2) * (1 + _trajectory(rng, num_frames, 0.4))
    shape = _polyp_shape(rng)
    tint = np.array([0.95, 0.72, 0.75], np.float32) * rng.uniform(0.85, 1.0)  # darker or redder than mucosa
    texture = _smooth_noise(rng, (height, width), 12)
    highlights = rng.uniform((0, 0), (height, width), (rng.integers(3, 7), 2)).astype(np.float32)

    candidates = [i for i in range(1, num_frames - 1) if present[i] and present[i - 1] and present[i + 1]]
    chosen: list[int] = []  # never two ambiguous frames side by side: their neighbours stay clear
    for i in rng.permutation(candidates).tolist() if candidates else []:
        if len(chosen) < round(ambiguous_fraction * num_frames) and all(abs(i - j) > 1 for j in chosen):
            chosen.append(i)
    chosen.sort()
    ambiguous = {i: _AMBIGUITIES[k % len(_AMBIGUITIES)] for k, i in enumerate(chosen)}

    frames, masks = [], []
    for t in range(num_frames):
        affine = cv2.getRotationMatrix2D((width / 2, height / 2), float(roll[t]), float(zoom[t]))
        affine[:, 2] += (world_w - width) / 2 + pan_x[t], (world_h - height) / 2 + pan_y[t]
        img = cv2.warpAffine(world, affine, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REFLECT)
        mask = np.zeros((height, width), bool)
        mucosa = img
        if present[t]:
            mask, rho = _polyp(yy, xx, (centre_y[t], centre_x[t]), float(radius[t]), shape)
            dome = (1.0 + 0.25 * (1 - np.clip(rho, 0, 1) ** 2) + 0.08 * texture)[..., None]
            alpha = cv2.GaussianBlur(mask.astype(np.float32), (5, 5), 1.0)[..., None]
            rim = np.exp(-(((rho - 1.0) / 0.08) ** 2))[..., None]  # a faint shadow along the outline
            img = img * (1 - alpha) + alpha * img * tint * dome
            img *= 1 - 0.25 * rim
        img = img * vignette
        for hy, hx in highlights:  # specular highlights, sliding with the camera
            cy, cx = (hy - pan_y[t] * 0.5) % height, (hx - pan_x[t] * 0.5) % width
            cv2.ellipse(img, (int(cx), int(cy)), (2 + int(hx) % 3, 1 + int(hy) % 2), float(hx % 180), 0, 360,
                        (1.0, 1.0, 0.97), -1)
        kind = ambiguous.get(t)
        if kind == "blur":
            img = _motion_blur(img, rng, max(5, width // 14) | 1)
        elif kind == "glare":  # bright fluid / glare over most of the polyp
            glare, _ = _polyp(yy, xx, (centre_y[t], centre_x[t]), float(radius[t]) * 1.1, _polyp_shape(rng))
            a = cv2.GaussianBlur(glare.astype(np.float32), (15, 15), 4.0)[..., None] * 0.8
            img = img * (1 - a) + a * np.array([0.98, 0.93, 0.8], np.float32)
        elif kind == "fold":  # a fold in front of the polyp hides its upper part: mucosa with a dark edge
            d = yy - (centre_y[t] + 0.15 * radius[t] * (1 + np.sin(xx / 9.0)))
            cover = (0.5 - 0.5 * np.tanh(d / 3.0))[..., None]  # sigmoid(-d / 1.5)
            edge = (1 - 0.4 * np.exp(-((d / 2.5) ** 2)))[..., None]
            img = (img * (1 - cover) + cover * mucosa * vignette * 1.1) * edge
        img = img + rng.normal(0, 0.008, img.shape).astype(np.float32)
        frames.append(np.clip(np.rint(img * 255), 0, 255).astype(np.uint8))
        masks.append(mask.astype(np.uint8) * 255)
    summary = {"polyp_frames": np.flatnonzero(present).tolist(), "ambiguous": {str(k): v for k, v in ambiguous.items()}}
    return frames, masks, summary


def _write_image(root: Path, relative: str, image: np.ndarray, files: dict[str, list[int]]) -> None:
    """Encode ``image`` (BGR or grey) by its extension, write it to ``root / relative`` and record its size and
    CRC-32 in ``files``."""
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if relative.endswith(".jpg") else []
    ok, encoded = cv2.imencode(Path(relative).suffix, image, params)
    if not ok:
        raise OSError(f"cannot encode '{root / relative}'.")
    data = encoded.tobytes()
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    files[relative] = [len(data), zlib.crc32(data)]


def _write_pair(
    root: Path, frame: str, mask: str, images: tuple[np.ndarray, np.ndarray], files: dict[str, list[int]]
) -> None:
    _write_image(root, frame, cv2.cvtColor(images[0], cv2.COLOR_RGB2BGR), files)
    _write_image(root, mask, images[1], files)


def _write_set(root: Path, params: dict) -> dict:
    """Render and write the set into ``root``; returns the manifest (parameters, per-case summaries, files)."""
    rng = np.random.default_rng(params["seed"])
    seeds = rng.integers(0, 2**31, params["num_images"] + params["num_train_videos"] + params["num_test_videos"])
    h, w, n = params["height"], params["width"], params["num_frames"]
    cases: dict[str, dict] = {}
    files: dict[str, list[int]] = {}
    for i in range(params["num_images"]):
        frames, masks, _ = render_video(np.random.default_rng(seeds[i]), 1, h, w, polyp_prob=1.0)
        _write_pair(root, f"IVPS-TrainSet/Frame/{i + 1}.jpg", f"IVPS-TrainSet/GT/{i + 1}.png", (frames[0], masks[0]),
                    files)
    for v in range(params["num_train_videos"] + params["num_test_videos"]):
        frames, masks, summary = render_video(np.random.default_rng(seeds[params["num_images"] + v]), n, h, w)
        train = v < params["num_train_videos"]
        case = str(v + 1 if train else v + 1 - params["num_train_videos"])
        for t, pair in enumerate(zip(frames, masks)):
            if train:
                case_dir = f"VPS-TrainSet/Synthetic/Train/{case}"
                _write_pair(root, f"{case_dir}/Frame/{t + 1}.jpg", f"{case_dir}/GT/{t + 1}.png", pair, files)
            else:
                test = "VPS-TestSet/Synthetic-Test"
                _write_pair(root, f"{test}/Frame/{case}/{t + 1}.jpg", f"{test}/GT/{case}/{t + 1}.png", pair, files)
        cases[f"{'Synthetic' if train else 'Synthetic-Test'}/{case}"] = summary
    return {"params": params, "cases": cases, "files": files}


def _read_manifest(root: Path) -> dict | None:
    try:
        with open(root / "manifest.json") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _damage(root: Path, manifest: dict) -> str | None:
    """What is wrong with the files of a set against its manifest (the first problem found), or None."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return "its manifest.json lists no files (written by an older version)"
    for relative, (size, crc) in files.items():
        path = root / relative
        if not path.is_file():
            return f"'{path}' is missing"
        data = path.read_bytes()
        if len(data) != size or zlib.crc32(data) != crc:
            return f"'{path}' is damaged ({len(data)} bytes, CRC-32 {zlib.crc32(data):08x}; the manifest records " \
                f"{size} bytes, CRC-32 {crc:08x})"
    return None


def _datalist_is_current(root: Path) -> bool:
    try:
        with open(root / "datalist.json") as f:
            return json.load(f).get("root") == str(root)
    except (OSError, ValueError, AttributeError):
        return False


def generate_synthetic_dataset(
    root: str | os.PathLike | None = None,
    num_train_videos: int = 4,
    num_test_videos: int = 2,
    num_frames: int = 24,
    num_images: int = 32,
    height: int = 128,
    width: int = 224,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Generate the synthetic set into ``root`` unless a set with the same parameters is already there.

    Args:
        root: target folder; None: ``default_cache_dir() / "synthetic-<hash of the parameters>"``.
        num_train_videos, num_test_videos: videos in ``VPS-TrainSet`` and ``VPS-TestSet``.
        num_frames: frames per video.
        num_images: single images in ``IVPS-TrainSet``.
        height, width: frame size.
        seed: the set is a deterministic function of all these parameters.
        overwrite: regenerate even when a matching, intact set exists.

    A set already in ``root`` is reused when its manifest records the same parameters and every file it lists is
    there with the recorded size and CRC-32; otherwise it is regenerated, with a warning saying which file was
    missing or damaged. Folders and files get the umask's modes.

    Returns:
        the folder holding the set (with ``manifest.json`` and ``datalist.json``, rebuilt when missing or when it
        points elsewhere).

    Raises:
        ValueError: a parameter out of range, or ``root`` is a non-empty folder that is not a synthetic set
            (it is never deleted).

    Examples::

        >>> root = generate_synthetic_dataset()  # a few seconds the first time, then instant
        >>> cases = monai.data.load_decathlon_datalist(root / "datalist.json", data_list_key="training")
    """
    for name, value, low in [("num_train_videos", num_train_videos, 0), ("num_test_videos", num_test_videos, 0),
                             ("num_frames", num_frames, 1), ("num_images", num_images, 0),
                             ("height", height, 32), ("width", width, 32)]:
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {name}={value}.")
    if num_train_videos + num_test_videos + num_images == 0:
        raise ValueError("nothing to generate: num_train_videos, num_test_videos and num_images are all 0.")
    params = {
        "version": SYNTHETIC_VERSION, "num_train_videos": num_train_videos, "num_test_videos": num_test_videos,
        "num_frames": num_frames, "num_images": num_images, "height": height, "width": width, "seed": seed,
    }
    if root is None:
        digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
        root = default_cache_dir() / f"synthetic-{digest}"
    root = Path(root).expanduser().resolve()
    if root.exists():
        manifest = _read_manifest(root)
        if manifest is None and any(root.iterdir()):
            raise ValueError(f"'{root}' is a non-empty folder without a synthetic manifest.json: not overwriting it.")
        if not overwrite and manifest is not None and manifest.get("params") == params:
            damage = _damage(root, manifest)
            if damage is None:
                if not _datalist_is_current(root):
                    write_datalist(build_datalist("pnsnet", root), root / "datalist.json")
                return root
            warnings.warn(f"synthetic set '{root}': {damage}; regenerating it.", stacklevel=2)
    check_output_dir(root, "synthetic set folder")
    _generate(root, params)
    write_datalist(build_datalist("pnsnet", root), root / "datalist.json")
    return root


def _generate(root: Path, params: dict) -> None:
    """Write the set into a temporary folder next to ``root``, then swap it into place (an old set is removed only
    once the new one is complete)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=root.parent))
    old = None
    try:
        os.chmod(tmp, umask_mode(0o777))  # mkdtemp's folder is private (0700)
        manifest = _write_set(tmp, params)
        write_atomic(tmp / "manifest.json", json.dumps(manifest, indent=1))
        if root.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".old", dir=root.parent))
            os.replace(root, old / root.name)
        try:
            os.replace(tmp, root)
        except OSError:
            current = _read_manifest(root)
            if current is None or current.get("params") != params:
                raise
            shutil.rmtree(tmp)  # another process has just put the same set in place
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not root.exists():
            os.replace(old / root.name, root)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def synthetic_datalist(root: str | os.PathLike | None = None, **params) -> Path:
    """Generate (or reuse) the synthetic set and return the path of its datalist JSON (rebuilt if the set moved)."""
    return generate_synthetic_dataset(root, **params) / "datalist.json"


def save_preview(root: str | os.PathLike, out: str | os.PathLike, case: str | None = None, num: int = 6) -> Path:
    """Save a PNG with ``num`` consecutive frames of a test video (around an ambiguous frame): frames, masks and
    mask outlines over the frames, one row each."""
    root = Path(root)
    with open(root / "manifest.json") as f:
        manifest = json.load(f)
    tests = [c for c in manifest["cases"] if c.startswith("Synthetic-Test/")] or list(manifest["cases"])
    if not tests:
        raise ValueError(f"'{root}' holds no videos to preview.")
    case = case or max(tests, key=lambda c: len(set(manifest["cases"][c]["ambiguous"].values())))
    if case not in manifest["cases"]:
        raise ValueError(f"case '{case}' is not in '{root}' (cases: {sorted(manifest['cases'])}).")
    n_frames = manifest["params"]["num_frames"]
    kinds = {int(i): k for i, k in manifest["cases"][case]["ambiguous"].items()}
    # the window showing the most kinds of ambiguous frames
    start = max(range(max(n_frames - num, 0) + 1), key=lambda s: len({kinds.get(t) for t in range(s, s + num)}))
    source, name = case.split("/")
    if source == "Synthetic":
        frame_dir = root / "VPS-TrainSet" / source / "Train" / name / "Frame"
        mask_dir = frame_dir.parent / "GT"
    else:
        test = root / "VPS-TestSet" / source
        frame_dir, mask_dir = test / "Frame" / name, test / "GT" / name
    rows: list[list[np.ndarray]] = [[], [], []]
    for t in range(start, min(start + num, n_frames)):
        frame = cv2.imread(str(frame_dir / f"{t + 1}.jpg"))
        mask = cv2.imread(str(mask_dir / f"{t + 1}.png"), cv2.IMREAD_GRAYSCALE)
        overlay = frame.copy()
        contours, _ = cv2.findContours((mask > 128).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(overlay, contours, -1, (80, 255, 80), 1)
        label = manifest["cases"][case]["ambiguous"].get(str(t), "")
        cv2.putText(frame, f"{t + 1} {label}", (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        for row, img in zip(rows, (frame, cv2.cvtColor(mask, cv2.COLOR_GRAY2BGR), overlay)):
            row.append(np.pad(img, ((2, 2), (2, 2), (0, 0)), constant_values=255))
    ok, encoded = cv2.imencode(".png", np.vstack([np.hstack(r) for r in rows]))
    if not ok:
        raise OSError(f"cannot encode the preview '{out}'.")
    return write_atomic(out, encoded.tobytes())


def main(argv: Sequence[str] | None = None) -> None:
    """The command line (module docstring). Exit codes: 0 done, 1 bad value or unwritable output (one
    ``error: ...`` line), 2 bad usage (argparse)."""
    parser = argparse.ArgumentParser(
        prog="python -m monai_pns.data.synthetic", description="Generate the synthetic colonoscopy video set."
    )
    parser.add_argument("--out", default=None, help="target folder (default: a cache folder per parameter set)")
    parser.add_argument("--videos", type=int, default=4, help="training videos")
    parser.add_argument("--test-videos", type=int, default=2, help="test videos")
    parser.add_argument("--frames", type=int, default=24, help="frames per video")
    parser.add_argument("--images", type=int, default=32, help="single images for phase 1")
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--width", type=int, default=224)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="regenerate even if a matching set exists")
    parser.add_argument("--preview", default=None, help="also save a preview PNG (frames, masks, overlay) here")
    args = parser.parse_args(argv)
    check_output_dir(args.out or default_cache_dir(), "--out")
    if args.preview:
        check_output_file(args.preview, "--preview")
    root = generate_synthetic_dataset(
        args.out, args.videos, args.test_videos, args.frames, args.images, args.height, args.width, args.seed,
        args.overwrite,
    )
    print(f"synthetic set: {root}")
    print(f"datalist: {root / 'datalist.json'}")
    if args.preview:
        print(f"preview: {save_preview(root, args.preview)}")


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
