"""monai_pns.distributed: launch checks, the process group of a torchrun launch, collective steps of the handlers."""

from __future__ import annotations

import os
import signal

import ignite.distributed as idist
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from monai_pns.distributed import (
    TORCHRUN_VARIABLES,
    barrier,
    check_gpu_count,
    distributed_device,
    finalize_distributed,
    init_distributed,
    is_main_process,
    launch_environment,
    run_on_main_process,
)
from monai_pns.handlers import AtomicDiskSaver, TrainingState
from tests.stand_ins import free_port, world_of_one


def test_launch_environment_names_the_missing_variables():
    with pytest.raises(ValueError) as error:
        launch_environment({"RANK": "0", "WORLD_SIZE": "2"})
    message = str(error.value)
    assert "launch them with `torchrun --nproc_per_node=N -m monai.bundle run ...`" in message
    assert message.endswith("(missing environment variables LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT).")
    full = {name: str(i) for i, name in enumerate(TORCHRUN_VARIABLES)}
    assert launch_environment({**full, "OTHER": "x"}) == full


@pytest.mark.parametrize("processes, gpus", [(1, 1), (2, 2), (1, 8)])
def test_as_many_gpus_as_processes_is_accepted(processes, gpus):
    check_gpu_count(processes, gpus)


@pytest.mark.parametrize("processes, gpus", [(3, 2), (1, 0), (9, 8)])
def test_more_processes_than_gpus_is_refused(processes, gpus):
    with pytest.raises(ValueError) as error:
        check_gpu_count(processes, gpus)
    assert str(error.value) == (
        f"{processes} processes on this node but only {gpus} visible GPUs: use --nproc_per_node <= {gpus} "
        f"(local_world_size={processes}, device_count={gpus})."
    )


def test_distributed_device_is_the_local_rank(monkeypatch):
    with world_of_one(monkeypatch):
        monkeypatch.setenv("LOCAL_RANK", "3")
        assert distributed_device(use_cuda=True) == torch.device("cuda:3")
        assert distributed_device(use_cuda=False) == torch.device("cpu")
        monkeypatch.delenv("MASTER_PORT")
        with pytest.raises(ValueError, match="missing environment variables MASTER_PORT"):
            distributed_device()


def test_init_distributed_joins_once_and_checks_the_timeout(monkeypatch):
    with world_of_one(monkeypatch):
        with pytest.raises(ValueError, match=r"timeout must be > 0 seconds, got timeout=0"):
            init_distributed("cpu", timeout=0)
        assert not dist.is_initialized()
        assert init_distributed("cpu", timeout=60) == 0
        assert dist.get_backend() == "gloo" and dist.get_world_size() == 1 and is_main_process()
        assert init_distributed("cpu") == 0  # already joined
        assert idist.get_world_size() == 1 and idist.backend() == "gloo"  # Ignite (MONAI's metric gathers) sees it
    assert not dist.is_initialized() and is_main_process()
    assert idist.backend() is None  # and sees it gone


def test_sigterm_raises_once_unless_a_failure_is_being_handled(monkeypatch):
    with world_of_one(monkeypatch):
        init_distributed("cpu")
        with pytest.raises(SystemExit, match="terminated by signal 15"):
            os.kill(os.getpid(), signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # a second SIGTERM ends the process
        init_distributed("cpu")  # already joined: the handler is not installed again
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        finalize_distributed()
        init_distributed("cpu")
        try:
            raise ConnectionError("the other process died")
        except ConnectionError:
            os.kill(os.getpid(), signal.SIGTERM)  # the failure path already running is left to finish
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


class _Unpicklable(Exception):
    def __init__(self) -> None:
        super().__init__("cannot be sent")
        self.callback = lambda: None


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    calls = []

    def compute():
        calls.append(rank)
        return {"from": rank, "values": [1.5, 2.5]}

    def fail():
        raise ValueError("bad predictions folder")

    def fail_unpicklable():
        raise _Unpicklable()

    results = {"value": run_on_main_process(compute), "calls": calls}
    for name, func in (("error", fail), ("unpicklable", fail_unpicklable)):
        try:
            run_on_main_process(func)
        except Exception as error:  # recorded for the test process
            results[name] = f"{type(error).__name__}: {error}"
    torch.save(results, f"{out_dir}/{rank}.pt")
    dist.destroy_process_group()


def test_run_on_main_process_computes_once_and_shares_results_and_errors(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    first, second = (torch.load(tmp_path / f"{rank}.pt", weights_only=False) for rank in (0, 1))
    assert first["value"] == second["value"] == {"from": 0, "values": [1.5, 2.5]}
    assert first["calls"] == [0] and second["calls"] == []
    assert first["error"] == second["error"] == "ValueError: bad predictions folder"
    assert first["unpicklable"] == "_Unpicklable: cannot be sent"
    assert second["unpicklable"] == "RuntimeError: process 0 failed: _Unpicklable('cannot be sent')"


def test_outside_a_process_group_everything_is_local():
    assert not dist.is_initialized() and is_main_process()
    assert run_on_main_process(lambda: 7) == 7


def test_a_group_of_one_process_sends_nothing(monkeypatch):
    """A world size of 1 is not distributed: the result stays in the process, even one that cannot be sent."""
    with world_of_one(monkeypatch):
        init_distributed("cpu", timeout=60)
        unsendable = lambda: None  # noqa: E731 (a lambda cannot be pickled)
        assert run_on_main_process(lambda: unsendable) is unsendable


# --- each helper on its own in a group of 2 gloo processes, joined as torchrun starts them ------------------------


def _helpers_worker(rank: int, port: int, folder: str, out_dir: str) -> None:
    from pathlib import Path

    torch.set_num_threads(1)
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    root = Path(folder)
    out = {"rank": init_distributed("cpu", timeout=60)}
    out["group"] = (dist.get_backend(), dist.get_world_size(), idist.get_world_size())
    out["main"] = is_main_process()

    # barrier: every process calls the collective once; what process 1 wrote before it is there after it
    calls, real = [], dist.barrier
    dist.barrier = lambda *args, **kwargs: (calls.append(1), real(*args, **kwargs))[1]
    try:
        if rank == 1:
            (root / "before_barrier").write_text("1")
        barrier()
    finally:
        dist.barrier = real
    out["barrier"] = (len(calls), (root / "before_barrier").is_file())

    # AtomicDiskSaver: process 0 writes; process 1's later write and its remove are no-ops
    saver = AtomicDiskSaver(root / "state")
    if rank == 0:
        saver({"w": torch.tensor([0])}, "c.pt")
    dist.barrier()
    if rank == 1:
        saver({"w": torch.tensor([1])}, "c.pt")
        saver.remove("c.pt")
        AtomicDiskSaver(root / "only_1")({"w": torch.tensor([1])}, "c.pt")
    dist.barrier()
    out["saver"] = (torch.load(root / "state" / "c.pt", weights_only=True)["w"].item(), (root / "only_1").exists())

    # TrainingState's pruning: only process 0 removes old epoch files
    prune = root / "prune"
    state = TrainingState(prune, {}, n_saved=1)
    if rank == 0:
        prune.mkdir()
        for n in (1, 2):
            (prune / f"checkpoint_epoch={n}.pt").write_bytes(b"")
    dist.barrier()
    pruned = []
    for turn in (1, 0):
        if rank == turn:
            state._prune(None)
        dist.barrier()
        pruned.append(sorted(p.name for p in prune.iterdir()))
        dist.barrier()  # both have listed before the next turn prunes
    out["prune"] = pruned

    finalize_distributed()
    out["after"] = (dist.is_initialized(), is_main_process(), idist.get_world_size())
    torch.save(out, f"{out_dir}/{rank}.pt")


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    folder, out_dir = tmp_path_factory.mktemp("shared"), tmp_path_factory.mktemp("results")
    mp.spawn(_helpers_worker, args=(free_port(), str(folder), str(out_dir)), nprocs=2, join=True)
    return [torch.load(out_dir / f"{rank}.pt", weights_only=False) for rank in (0, 1)]


def test_init_distributed_returns_each_process_rank(two_processes):
    assert [r["rank"] for r in two_processes] == [0, 1]
    assert all(r["group"] == ("gloo", 2, 2) for r in two_processes)


def test_only_process_0_is_the_main_process(two_processes):
    assert [r["main"] for r in two_processes] == [True, False]


def test_barrier_is_one_collective_call_in_every_process(two_processes):
    assert [r["barrier"] for r in two_processes] == [(1, True), (1, True)]


def test_atomic_disk_saver_writes_and_removes_in_process_0_only(two_processes):
    assert [r["saver"] for r in two_processes] == [(0, False), (0, False)]


def test_training_state_prunes_in_process_0_only(two_processes):
    both = ["checkpoint_epoch=1.pt", "checkpoint_epoch=2.pt"]
    assert [r["prune"] for r in two_processes] == [[both, ["checkpoint_epoch=2.pt"]]] * 2


def test_finalize_distributed_leaves_every_process_on_its_own(two_processes):
    assert [r["after"] for r in two_processes] == [(False, True, 1), (False, True, 1)]
