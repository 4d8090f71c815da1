"""monai_pns.inference.pipeline.prefetch: order, bound, errors and early stops of the background iteration; and
run_inference with and without overlapped threads."""

from __future__ import annotations

import random
import threading
import time

import cv2
import numpy as np
import pytest
import torch

from monai_pns.inference import prefetch, run_inference
from tests.inference.media import read_all_frames, small_network, write_video

THREAD = "monai_pns-prefetch"


def _wait_for(condition, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD]


class Source:
    """Numbers 0..n-1, recording how many were taken, in which thread, and whether the iterator was closed."""

    def __init__(self, n: int, fail_at: int | None = None, delay: float = 0.0) -> None:
        self.n, self.fail_at, self.delay = n, fail_at, delay
        self.taken, self.threads, self.closed = 0, set(), False

    def __iter__(self):
        try:
            for i in range(self.n):
                if i == self.fail_at:
                    raise ValueError(f"item {i} is damaged")
                time.sleep(random.uniform(0, self.delay))
                self.taken += 1
                self.threads.add(threading.current_thread().name)
                yield i
        finally:
            self.closed = True


@pytest.mark.parametrize("size", [1, 3])
def test_every_item_once_in_order_in_a_background_thread(size):
    random.seed(size)
    source = Source(200, delay=0.001)
    received = []
    for item in prefetch(source, size):
        time.sleep(random.uniform(0, 0.001))
        received.append(item)
    assert received == list(range(200))
    assert source.threads == {THREAD} and source.closed
    assert _wait_for(lambda: not _prefetch_threads())


@pytest.mark.parametrize("size", [1, 2, 5])
def test_the_producer_runs_ahead_by_at_most_the_queue_and_one_item_in_hand(size):
    source = Source(20)
    items = prefetch(source, size)
    for received in range(1, 8):
        assert next(items) == received - 1
        # the producer fills the queue (size items) and holds one more, blocked, and goes no further
        assert _wait_for(lambda: source.taken == received + size + 1), (received, source.taken)
        time.sleep(0.02)
        assert source.taken == received + size + 1
    items.close()


def test_an_error_of_the_source_is_raised_after_the_items_before_it():
    source = Source(10, fail_at=4)
    received = []
    with pytest.raises(ValueError, match="item 4 is damaged"):
        for item in prefetch(source, 2):
            received.append(item)
    assert received == [0, 1, 2, 3] and source.closed
    assert _wait_for(lambda: not _prefetch_threads())


def test_a_source_that_cannot_be_iterated_is_an_error_here():
    class NotIterable:
        def __iter__(self):
            raise TypeError("no frames here")

    with pytest.raises(TypeError, match="no frames here"):
        list(prefetch(NotIterable(), 1))


def test_a_consumer_that_stops_early_stops_the_thread_and_closes_the_source():
    source = Source(1000)
    iterator = iter(source)  # held here too: only an explicit close() finishes it, not its garbage collection
    items = prefetch(iterator, 2)
    assert [next(items), next(items)] == [0, 1]
    items.close()
    assert source.closed and source.taken <= 2 + 2 + 1
    assert not _prefetch_threads()  # joined by close()


def test_nothing_starts_before_the_first_item_is_asked_for():
    source = Source(5)
    items = prefetch(source, 2)
    time.sleep(0.02)
    assert source.taken == 0 and not _prefetch_threads()
    items.close()


@pytest.mark.parametrize("size", [0, -1])
def test_queue_size_below_one_is_refused(size):
    with pytest.raises(ValueError, match=rf"size must be >= 1, got size={size}\."):
        prefetch([1], size)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    torch.save(small_network().state_dict(), root / "model.pt")
    write_video(root / "v.mp4", 12)
    return root


def test_overlapped_threads_write_what_one_thread_writes(model, tmp_path):
    """12 frames, clips of 5 (the last one shifted): masks, probabilities and overlay frames byte for byte."""
    settings = {"ckpt": model / "model.pt", "input": model / "v.mp4", "spatial_size": (32, 64), "probabilities": True,
                "fast": False, "progress": False}
    summaries = {overlap: run_inference(out=tmp_path / str(overlap), overlap=overlap, **settings)
                 for overlap in (True, False)}
    assert [s["frames"] for s in summaries[True]] == [s["frames"] for s in summaries[False]] == [12]
    for folder in ("masks", "probabilities"):
        files = {o: sorted((tmp_path / str(o) / folder).iterdir()) for o in (True, False)}
        assert [p.name for p in files[True]] == [p.name for p in files[False]] == [f"{i:05d}.png" for i in range(12)]
        for a, b in zip(files[True], files[False]):
            assert a.read_bytes() == b.read_bytes(), a.name
    overlays = [read_all_frames(tmp_path / str(o) / "overlay.mp4") for o in (True, False)]
    assert len(overlays[0]) == 12 and all(np.array_equal(a, b) for a, b in zip(*overlays))


def test_overlap_queues_decoding_and_the_network_two_clips_deep(model, tmp_path, monkeypatch):
    sizes = []

    def spy(items, size):
        sizes.append(size)
        return prefetch(items, size)

    monkeypatch.setattr("monai_pns.inference.run.prefetch", spy)
    settings = {"ckpt": model / "model.pt", "input": model / "v.mp4", "spatial_size": (32, 64), "overlay": False,
                "fast": False, "progress": False}
    run_inference(out=tmp_path / "overlapped", clip_length=3, **settings)  # overlap is the default
    assert sizes == [6, 6]  # the decoder's queue, then the network's: two clips of frames each
    sizes.clear()
    run_inference(out=tmp_path / "one_thread", clip_length=3, overlap=False, **settings)
    assert sizes == []


def test_a_frame_that_fails_mid_video_stops_the_run_and_removes_its_outputs(model, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(9):
        size = (40, 72) if i != 6 else (48, 72)
        cv2.imwrite(str(frames / f"{i}.png"), np.full((*size, 3), 40 * (i % 5), np.uint8))
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"frame 6 \('6'\) of '.*frames' is 72x48, the first frame 72x40"):
        run_inference(model / "model.pt", frames, out, spatial_size=(32, 64), fast=False, progress=False)
    assert not out.exists()
    assert _wait_for(lambda: not _prefetch_threads())
