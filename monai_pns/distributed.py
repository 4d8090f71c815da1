"""Joining the process group of a ``torchrun`` launch from a bundle config, and the collective steps of its handlers.

The multi-GPU configs of the bundle run one process per GPU (or several CPU processes with gloo) under
``torchrun``: :func:`distributed_device` picks each process's device, :func:`init_distributed` checks the launch and
joins the group, :func:`finalize_distributed` leaves it. Handlers that must agree across processes use
:func:`barrier` and :func:`run_on_main_process`; outside a process group both are plain calls.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

import ignite.distributed as idist
import torch
import torch.distributed as dist

__all__ = [
    "TORCHRUN_VARIABLES",
    "barrier",
    "check_gpu_count",
    "distributed_device",
    "finalize_distributed",
    "init_distributed",
    "is_main_process",
    "launch_environment",
    "run_on_main_process",
]

#: the environment variables ``torchrun`` gives every process it starts
TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")

_T = TypeVar("_T")


def launch_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``torchrun`` variables of ``environ`` (default ``os.environ``).

    Raises:
        ValueError: naming the missing variables, when the process was not started by ``torchrun``.
    """
    environ = os.environ if environ is None else environ
    missing = [name for name in TORCHRUN_VARIABLES if name not in environ]
    if missing:
        raise ValueError(
            "the multi-GPU configs run one process per device under torchrun: launch them with "
            "`torchrun --nproc_per_node=N -m monai.bundle run ...` (missing environment variables "
            f"{', '.join(missing)})."
        )
    return {name: environ[name] for name in TORCHRUN_VARIABLES}


def check_gpu_count(local_world_size: int, device_count: int) -> None:
    """Refuse more processes on a node than it has GPUs (two processes sharing a GPU under NCCL hang or fail).

    Raises:
        ValueError: naming both numbers, when ``local_world_size > device_count``.
    """
    if local_world_size > device_count:
        raise ValueError(
            f"{local_world_size} processes on this node but only {device_count} visible GPUs: use "
            f"--nproc_per_node <= {device_count} (local_world_size={local_world_size}, device_count={device_count})."
        )


def distributed_device(use_cuda: bool | None = None) -> torch.device:
    """This process's device under ``torchrun``: ``cuda:<LOCAL_RANK>`` with CUDA, else the CPU.

    Args:
        use_cuda: use the GPUs (default: when CUDA is available).

    Raises:
        ValueError: when the process was not started by ``torchrun``.
    """
    env = launch_environment()
    use_cuda = torch.cuda.is_available() if use_cuda is None else use_cuda
    return torch.device(f"cuda:{int(env['LOCAL_RANK'])}") if use_cuda else torch.device("cpu")


def _raise_on_sigterm(signum: int, frame: Any) -> None:
    """Turn ``torchrun``'s SIGTERM (sent when another process failed) into an exception, once, so that the engine's
    exception handlers (e.g. the MLflow run marked FAILED) run before the process ends. When the process is
    already handling an exception (say, the broken connection to the dead process), that failure path is left to
    finish undisturbed. A second SIGTERM ends the process at once."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.exc_info()[1] is None:
        raise SystemExit(f"terminated by signal {signum} (another process of the run failed, or the launcher stopped)")


def init_distributed(device: str | torch.device, timeout: float = 1800.0) -> int:
    """Join the process group of a ``torchrun`` launch and return this process's rank.

    NCCL on CUDA devices (after checking there are as many GPUs as processes on the node and selecting
    ``device``), gloo on the CPU. ``timeout`` (seconds) bounds every collective: when a process dies, the others
    fail within it instead of waiting forever. SIGTERM (what ``torchrun`` sends the others when a process fails)
    raises ``SystemExit`` in the main thread, so that tracking handlers can mark the run FAILED. Calling it again
    in a joined process returns the rank.

    Args:
        device: this process's device (:func:`distributed_device`).
        timeout: seconds a collective may wait for the other processes.

    Raises:
        ValueError: when the process was not started by ``torchrun``, or the node has fewer GPUs than processes.
    """
    env = launch_environment()
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got timeout={timeout}.")
    if dist.is_initialized():
        return dist.get_rank()
    device = torch.device(device)
    if device.type == "cuda":
        check_gpu_count(int(env["LOCAL_WORLD_SIZE"]), torch.cuda.device_count())
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(seconds=timeout))
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    return dist.get_rank()


def finalize_distributed() -> None:
    """Leave the process group (nothing to do outside one), and tell Ignite's ``idist`` (through which MONAI's
    metric handlers gather) that this process is on its own again."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    idist.sync()


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main_process() -> bool:
    """Whether this is process 0 of the group, or no process group is joined."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def barrier() -> None:
    """Wait until every process of the group arrives here (nothing to do outside a process group)."""
    if _distributed():
        dist.barrier()


def run_on_main_process(func: Callable[[], _T]) -> _T:
    """``func()`` computed once, by process 0, after every process arrived; every process returns its result.

    An exception of ``func`` is raised in every process (in the others as a ``RuntimeError`` naming it when it
    cannot be sent), so no process waits for a result that never comes. Outside a process group: ``func()``.
    """
    if not _distributed():
        return func()
    dist.barrier()
    payload: list[Any] = [None]
    error: Exception | None = None
    if dist.get_rank() == 0:
        try:
            payload[0] = (True, func())
        except Exception as raised:  # sent to the other processes, then raised here too
            error = raised
            payload[0] = (False, raised)
        try:
            pickle.dumps(payload[0])
        except Exception:
            reason = f"process 0 failed: {error!r}" if error is not None else "process 0's result cannot be sent"
            payload[0] = (False, RuntimeError(reason))
    dist.broadcast_object_list(payload, src=0)
    if error is not None:
        raise error
    ok, value = payload[0]
    if not ok:
        raise value
    return value
