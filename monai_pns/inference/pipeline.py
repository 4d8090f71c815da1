"""Overlapped inference: an iterable run ahead in a background thread, through a bounded queue.

``run_inference`` chains two of them, so that decoding, the network and writing each run in their own thread::

    writer.write_all(prefetch(predictor(prefetch(source, 10)), 10))

MONAI's ``monai.data.ThreadBuffer`` does the same for data loaders but ends the iteration quietly when its source
raises; here a decoding error mid-video must stop the run, not shorten the video's outputs without a word.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from queue import Full, Queue
from typing import TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")
_END = object()
_POLL_S = 0.05  # how often a producer blocked on a full queue checks whether the consumer has gone


class _Raised:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterable[T], size: int) -> Iterator[T]:
    """Iterate ``items`` in a background thread, at most ``size`` items ahead, and yield them here in their order.

    An exception raised by ``items`` is raised here once the items before it have been yielded. When the consumer
    stops early (``close()``, an exception, garbage collection) the thread stops at its next item and ``items`` is
    closed. Nothing is lost or reordered: one producer, one FIFO queue.

    Args:
        items: any iterable; iterated in the background thread only.
        size: the queue's capacity, >= 1.

    Raises:
        ValueError: naming ``size`` when it is below 1.

    Examples::

        >>> list(prefetch(range(5), size=2))
        [0, 1, 2, 3, 4]
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size=}.")
    return _prefetch(items, size)


def _prefetch(items: Iterable[T], size: int) -> Iterator[T]:
    queue: Queue = Queue(maxsize=size)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=_POLL_S)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        iterator = None
        try:
            iterator = iter(items)
            for item in iterator:
                if not put(item):
                    return
            put(_END)
        except BaseException as error:  # handed to the consumer, who raises it
            put(_Raised(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="monai_pns-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
