"""torch.distributed for the distillation lab: under `torchrun` every rank runs the single-process
code unchanged. The process group comes from the environment (gloo on CPU, nccl on CUDA); objects
are broadcast from rank 0 or gathered from every rank; rank 0 alone writes files.

So that W ranks compute what one process computes: a sampler's global batch is drawn on every rank
from the same stream and each rank keeps its rows (`shard_rows`), and BatchNorm layers normalise
with the statistics of the global batch (`sync_batch_norm`, on CPU/gloo as well as CUDA/nccl;
torch.nn.SyncBatchNorm needs an accelerator). The RL modes' exploration noise is the global
batch's as well (`losses.ActorCritic`, shard = (rank, world))."""
from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import os
from typing import Any, Dict, Iterator, List, Mapping, Tuple

import torch
import torch.distributed as dist
from torch import nn

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


def shard_rows(x: Any, rank: int, world: int) -> Any:
    """Rank `rank`'s rows x[rank::world] of a global batch (None stays None): the rows a dataset's
    shard gives the rank too (`data.TrainingData`), so rank r's local row l is global row l·W + r."""
    return x if x is None or world == 1 else x[rank::world].contiguous()


class _AllReduceSum(torch.autograd.Function):
    """Σ_r x_r on every rank; the gradient of rank s's input is Σ_r of the ranks' output gradients
    (every rank's loss depends on every rank's input)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        out = grad.contiguous().clone()
        dist.all_reduce(out)
        return out


def _global_batch_norm(bn: nn.modules.batchnorm._BatchNorm, x: torch.Tensor, world: int) -> torch.Tensor:
    """BatchNorm of x (B_r, C, *) in training mode with the statistics of the global batch, the
    W ranks' batches of equal size together (n = W·B_r·∏*): with d = x − c for a shift c that is the
    same on every rank (the running mean, else 0), one all_reduce with autograd of (Σ d, Σ d²) gives
    μ = c + Σd/n and σ² = Σd²/n − (Σd/n)² (the shift keeps the difference well conditioned once the
    running mean follows μ); the gradient flows through the other ranks' statistics as in one
    process. y = (x − μ)/√(σ² + ε)·γ + β; the running statistics are updated as nn.BatchNorm does
    (σ² unbiased, n/(n − 1)). One collective per layer forward, one backward."""
    C = x.shape[1]
    dims = [0] + list(range(2, x.dim()))
    shape = [1, -1] + [1] * (x.dim() - 2)
    n = world * (x.numel() // C)
    if n <= 1:
        raise ValueError("pyalgo.lab.wireless.train_student: BatchNorm needs more than one value per channel "
                         f"in the global batch, got {n}")
    tracking = bn.track_running_stats and bn.running_mean is not None
    shift = bn.running_mean.detach().to(x.dtype, copy=True) if tracking else x.new_zeros(C)
    d = x - shift.view(shape)
    sums = _AllReduceSum.apply(torch.cat([d.sum(dims), d.square().sum(dims)])) / n
    mean_d = sums[:C]
    var = (sums[C:] - mean_d.square()).clamp_min(0)
    mean = shift + mean_d
    centred = d - mean_d.view(shape)
    y = centred * torch.rsqrt(var + bn.eps).view(shape)
    if bn.affine:
        y = y * bn.weight.view(shape) + bn.bias.view(shape)
    if tracking:
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            factor = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
            bn.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
            bn.running_var.mul_(1 - factor).add_(var.detach() * (n / (n - 1)), alpha=factor)
    return y


def _synced_forward(bn: nn.modules.batchnorm._BatchNorm, world: int, x: torch.Tensor) -> torch.Tensor:
    if bn.training or not bn.track_running_stats or bn.running_mean is None:
        bn._check_input_dim(x)
        return _global_batch_norm(bn, x, world)
    return type(bn).forward(bn, x)          # evaluation: the running statistics, per instance


@contextlib.contextmanager
def sync_batch_norm(module: nn.Module, world: int) -> Iterator[nn.Module]:
    """Within the block, every BatchNorm layer of `module` (world > 1) normalises a training batch
    with the global batch's statistics (`_global_batch_norm`), so W ranks × B/W rows train as one
    process × B rows does; the layers are the caller's (same weights and buffers, same state_dict)
    and get their own forward back on exit. Every rank must call the layers in the same order (the
    statistics are collectives) on batches of the same size (as DDP's averaging of gradients
    assumes). world 1: nothing changes."""
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)] if world > 1 else []
    for bn in layers:
        bn.forward = functools.partial(_synced_forward, bn, world)
    try:
        yield module
    finally:
        for bn in layers:
            del bn.forward
