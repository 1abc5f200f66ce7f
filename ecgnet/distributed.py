"""Processes and devices: one process, or several started by `torchrun`.

Under torchrun (WORLD_SIZE > 1) every process joins one torch.distributed group: NCCL when
each process has a GPU, gloo on CPU. Rank 0 is the main process, the only one that writes
the MODEL folder.
"""
import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Runtime:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    group: bool = False  # a process group is initialised

    @property
    def is_main(self):
        return self.rank == 0

    def barrier(self):
        if self.group:
            dist.barrier()

    def all_gather(self, obj):
        """Every process's `obj`, in rank order (a list of one without a group)."""
        if not self.group:
            return [obj]
        gathered = [None] * self.world
        dist.all_gather_object(gathered, obj)
        return gathered

    def broadcast(self, obj):
        """Rank 0's `obj` on every process."""
        if not self.group:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def single(self):
        """This process alone on its device (for training a whole fold per process)."""
        return Runtime(0, 1, 0, self.device, False)


def start(device=None):
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
    return Runtime(rank, world, local_rank, device, True)


def stop(runtime):
    if runtime.group and dist.is_initialized():
        dist.destroy_process_group()
