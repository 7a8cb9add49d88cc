"""torch.distributed for the distillation lab: under `torchrun` every rank runs the single-process
code unchanged. The process group comes from the environment (gloo on CPU, nccl on CUDA); objects
are broadcast from rank 0 or gathered from every rank; each rank draws its exploration noise and
sampled channels from a generator of its own, and rank 0 alone writes files."""
from __future__ import annotations

import atexit
import gc
import os
from typing import Any, Dict, List, Mapping, Tuple

import torch
import torch.distributed as dist

from ..harness import Checkpoint
from ..harness.checkpoint import PathLike


def rank_and_world(device: torch.device) -> Tuple[int, int]:
    """(rank, world size). Under torchrun (WORLD_SIZE > 1 in the environment) the default process
    group is initialised here if the caller has not (gloo on CPU, nccl on CUDA)."""
    if not dist.is_available():
        return 0, 1
    if not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(shutdown, barrier=False)
    if not dist.is_initialized():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def shutdown(barrier: bool = True) -> None:
    """Tears the default process group down while the interpreter is fully alive: first whatever
    still holds the group only through reference cycles (gc), then, after a barrier (no rank
    leaves while another still talks to it), the group itself. Left to interpreter finalisation,
    gloo's objects and their threads are destroyed on a torn-down interpreter, and a rank can abort
    ("terminate called without an active exception": a joinable std::thread destroyed at exit).
    `rank_and_world` registers it at exit, without the barrier (a rank leaving on an error must not
    wait for the others); idempotent."""
    gc.collect()
    if dist.is_available() and dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()
    gc.collect()


def broadcast_from_rank0(obj: Any, world: int) -> Any:
    if world == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj: Any, world: int) -> List[Any]:
    """[rank 0's obj, rank 1's obj, ...] on every rank."""
    if world == 1:
        return [obj]
    out = [None] * world
    dist.all_gather_object(out, obj)
    return out


def rank_seed(seed: int, rank: int) -> int:
    """Seed of a rank's own stream (exploration noise, sampled channels), distinct per rank."""
    return (seed * 1_000_003 + rank + 1) % 2 ** 63


class RankGenerators:
    """Every rank's own torch.Generator as one `harness.TrainState` part: `state_dict` gathers the
    states of all ranks (a collective: every rank calls it when a checkpoint is saved), and
    `load_state_dict` gives each rank its own back."""

    def __init__(self, generator: torch.Generator, rank: int, world: int):
        self.generator, self.rank, self.world = generator, rank, world

    def state_dict(self) -> Dict[str, List[torch.Tensor]]:
        return {"states": gather(self.generator.get_state(), self.world)}

    def load_state_dict(self, state: Mapping[str, List[torch.Tensor]]) -> None:
        self.generator.set_state(state["states"][self.rank])


class RankZeroCheckpoint(Checkpoint):
    """A `harness.Checkpoint` that every rank reads and rank 0 alone writes (the ranks' files would
    otherwise race on the same path)."""

    def __init__(self, path: PathLike, config: Mapping[str, Any], owner: str, rank: int) -> None:
        super().__init__(path, config, owner=owner)
        self.rank = rank

    def save(self, epoch: int, history: Mapping[str, List[float]], state: Mapping[str, Any]) -> None:
        if self.rank == 0:
            super().save(epoch, history, state)
