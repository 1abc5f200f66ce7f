"""Processes and devices: one process, or several started by `torchrun`.

Under torchrun (WORLD_SIZE > 1) every process joins one torch.distributed group: NCCL when
each process has a GPU, gloo on CPU. Rank 0 is the main process, the only one that writes
the MODEL folder.
"""

import datetime
import os
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass
class Runtime:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")
    in_group: bool = False  # this process joined a torch.distributed process group

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.in_group:
            dist.barrier()

    def all_gather(self, obj: T) -> list[T]:
        """Every process's `obj`, in rank order (a list of one without a group)."""
        if not self.in_group:
            return [obj]
        gathered: list = [None] * self.world
        dist.all_gather_object(gathered, obj)
        return gathered

    def broadcast(self, obj: T | None) -> T:
        """Rank 0's `obj` on every process (the others give None)."""
        box = [obj]
        if self.in_group:
            dist.broadcast_object_list(box, src=0)
        assert box[0] is not None, "rank 0 gives a value"
        return box[0]

    def single(self) -> "Runtime":
        """This process alone on its device (for training a whole fold per process)."""
        return Runtime(0, 1, self.device, False)


def start(device: torch.device | str | None = None) -> Runtime:
    """The Runtime of this process, joining the torchrun group when there is one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    if device is None:
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    elif world > 1:
        # Processes sharing a CPU must share its cores rather than each take all of them.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    if world == 1:
        return Runtime(device=device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=datetime.timedelta(hours=24))
    return Runtime(rank, world, device, True)


def stop(runtime: Runtime) -> None:
    if runtime.in_group and dist.is_initialized():
        dist.destroy_process_group()
