"""The training batches of distillation: a dataset reshuffled every epoch and sharded by rank, or
a sampler drawing fresh channels for every step (the teacher then runs on each minibatch).

Under torchrun a sampler's `batch_size` is the global batch: every rank draws all of it from the
same stream and keeps its rows (batch_size/W of them), so W ranks train on exactly the channels one
process draws. The cost: each rank draws W× the channels it uses (cheap next to a training step);
the teacher, the expensive part, runs on the rank's rows only. A dataset's `batch_size` is per rank
(W ranks take W·batch_size rows per step: when W divides N, the rows one process with
W·batch_size takes)."""
from __future__ import annotations

from typing import Callable, Iterator, NamedTuple, Optional, Tuple, Union

import torch

from pyalgo.wireless._checks import Weights, check_dataset_weights, check_gain_values, check_gains, check_int

from pyalgo.wireless.channels import D2DChannels

from .distributed import shard_rows
from .labels import TeacherLabels, rows, run_teacher, teacher_labels

# a dataset: gains (N, K, K) or an object with `.gains` / `.adjacency` (D2DChannels)
Dataset = Union[torch.Tensor, D2DChannels]
# a channel sampler: (batch_size, generator) -> gains (batch_size, K, K)
Sampler = Callable[[int, torch.Generator], torch.Tensor]

__all__ = ["Batch", "TrainingData", "unpack_channels", "student_kwargs"]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def unpack_channels(fn: str, name: str, channels: Dataset) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """A gains tensor, or an object with `.gains` and optionally `.adjacency` (e.g. D2DChannels)."""
    if hasattr(channels, "gains"):
        return check_gains(fn, name, channels.gains), getattr(channels, "adjacency", None)
    return check_gains(fn, name, channels), None


def student_kwargs(weights: Weights, adjacency: Optional[torch.Tensor]) -> dict:
    """Only what there is: an MLPStudent without weights takes neither argument."""
    kwargs = {}
    if weights is not None:
        kwargs["weights"] = weights
    if adjacency is not None:
        kwargs["adjacency"] = adjacency
    return kwargs


class Batch(NamedTuple):
    G: torch.Tensor
    weights: Weights
    adjacency: Optional[torch.Tensor]
    teacher: Optional[TeacherLabels]

    def to(self, device: torch.device, dtype: torch.dtype) -> "Batch":
        def move(x):
            if x is None:
                return None
            return x.to(device, dtype) if x.is_floating_point() else x.to(device)
        teacher = None if self.teacher is None else TeacherLabels(*map(move, self.teacher))
        return Batch(move(self.G), move(self.weights), move(self.adjacency), teacher)

    def student_kwargs(self) -> dict:
        return student_kwargs(self.weights, self.adjacency)


def _dataset_labels(fn: str, teacher, label_cache: Optional[str], gains: torch.Tensor, p_max: float,
                    noise: float, weights: Weights, assist: str, progress: bool) -> TeacherLabels:
    """The teacher labels of a dataset: given (powers or TeacherLabels) or computed/cached."""
    N, K = gains.shape[0], gains.shape[-1]
    trajectory = "trajectory" in assist
    if teacher is None:
        return teacher_labels(gains, p_max=p_max, noise=noise, weights=weights, trajectory=trajectory,
                              cache_path=label_cache, progress=progress)
    if label_cache is not None:
        raise ValueError(f"{fn}: give either teacher or label_cache, not both")
    if isinstance(teacher, torch.Tensor):
        teacher = TeacherLabels(teacher, None, None, None, None)
    if not isinstance(teacher, TeacherLabels) or teacher.p.shape != (N, K):
        got = tuple(teacher.p.shape) if isinstance(teacher, TeacherLabels) else type(teacher).__name__
        raise ValueError(f"{fn}: teacher must be None, TeacherLabels or powers of shape (N, K) = ({N}, {K}), "
                         f"got {got}")
    if ("state" in assist and teacher.u is None) or (trajectory and teacher.trajectory is None):
        raise ValueError(f"{fn}: assist {assist!r} needs the teacher's state/trajectory: pass "
                         "teacher_labels(..., trajectory=True) or teacher=None")
    return teacher


class TrainingData:
    """One rank's training batches of `batch_size`: a dataset (gains (N, K, K) or an object with
    `.gains` / `.adjacency`) reshuffled every epoch and sharded by rank like DistributedSampler
    (padded by wrapping, so every rank takes the same number of steps), or a sampler
    ``sampler(batch_size, generator) -> gains`` drawing `steps_per_epoch` global batches of
    `batch_size` (a multiple of the world size) from a generator that is the same on every rank,
    each rank keeping rows rank::world. With `assist` (the modes with a teacher) each batch carries
    its teacher labels (the teacher runs on the rank's rows only)."""

    def __init__(self, fn: str, channels: Union[Dataset, Sampler], *, steps_per_epoch: Optional[int], batch_size: int,
                 weights: Weights, teacher: Union[None, torch.Tensor, TeacherLabels], label_cache: Optional[str],
                 assist: Optional[str], p_max: float, noise: float,
                 rank: int, world: int, progress: bool):
        self.weights, self.batch_size, self.rank, self.world = weights, batch_size, rank, world
        self.assist, self.p_max, self.noise = assist, p_max, noise
        self.sampler = channels if callable(channels) and not isinstance(channels, torch.Tensor) else None
        if self.sampler is not None:
            self._check_sampler(fn, steps_per_epoch, teacher, label_cache)
            if batch_size % world:
                raise ValueError(f"{fn}: with a sampler, batch_size is the global batch and must be a multiple "
                                 f"of the world size {world}, got {batch_size}")
            self.steps = steps_per_epoch
            return
        if steps_per_epoch is not None:
            raise ValueError(f"{fn}: steps_per_epoch applies to a channel sampler; a dataset's epoch "
                             "is one pass over it")
        self.gains, self.adjacency = unpack_channels(fn, "channels", channels)
        N, K = self.gains.shape[0], self.gains.shape[-1]
        if N == 0:
            raise ValueError(f"{fn}: channels must hold at least one instance")
        check_gain_values(fn, "channels", self.gains)
        check_dataset_weights(fn, weights, N, K)
        self.steps = _ceil_div(_ceil_div(N, world), batch_size)
        self.labels = None if assist is None else _dataset_labels(
            fn, teacher, label_cache, self.gains, p_max, noise, weights, assist, progress)

    def _check_sampler(self, fn: str, steps_per_epoch: Optional[int], teacher, label_cache) -> None:
        if steps_per_epoch is None:
            raise ValueError(f"{fn}: a channel sampler needs steps_per_epoch")
        check_int(fn, "steps_per_epoch", steps_per_epoch)
        if teacher is not None or label_cache is not None:
            raise ValueError(f"{fn}: teacher/label_cache apply to a channel dataset; with a sampler "
                             "the teacher runs on every minibatch")
        if self.weights is not None and (not isinstance(self.weights, torch.Tensor) or self.weights.dim() != 1):
            raise ValueError(f"{fn}: with a sampler, weights must be None or shared (K,)")

    def epoch(self, data_gen: torch.Generator, sample_gen: torch.Generator) -> Iterator[Batch]:
        """One epoch's batches of this rank: the shuffling draws from `data_gen`, the sampler from
        `sample_gen` (both the same on every rank)."""
        if self.sampler is not None:
            for _ in range(self.steps):
                G, adjacency = unpack_channels("pyalgo.lab.wireless.train_student", "the sampler's output",
                                               self.sampler(self.batch_size, sample_gen))
                G, adjacency = shard_rows(G, self.rank, self.world), shard_rows(adjacency, self.rank, self.world)
                teacher = None if self.assist is None else run_teacher(
                    G, self.p_max, self.noise, self.weights, trajectory="trajectory" in self.assist)
                yield Batch(G, self.weights, adjacency, teacher)
            return
        N = self.gains.shape[0]
        padded = _ceil_div(N, self.world) * self.world
        perm = torch.randperm(N, generator=data_gen)
        perm = perm.repeat(_ceil_div(padded, N))[:padded]
        for index in perm[self.rank::self.world].split(self.batch_size):
            yield Batch(self.gains[index], rows(self.weights, index),
                        None if self.adjacency is None else self.adjacency[index],
                        None if self.labels is None else self.labels.take(index))
