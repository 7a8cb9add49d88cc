"""The distillation trainer: `train_student(student, DistillConfig(mode, ...), channels=...)` trains a
student of `pyalgo.wireless` in one of the modes of `pyalgo.lab.wireless.losses.MODES`, on the lab's
training loop (`harness.fit`: checkpoints saved atomically, loaded weights-only, the settings
compared on resume, exact resume), and unchanged under torchrun (DistributedDataParallel, the data
sharded by rank, metrics averaged over ranks, rank 0 writes the files).

Under torchrun with a channel sampler, W ranks train as one process does (up to the order of float
reductions): the global batch of `batch_size` is drawn from one stream on every rank and split by
rows, BatchNorm layers use the global batch's statistics (`distributed.sync_batch_norm`; with a
dataset too), and DDP averages the per-rank mean losses' gradients (equal shares); the RL modes'
exploration noise is the global batch's too (`python -m pyalgo.lab.wireless.scaleout` runs the
comparison).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Union

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from pyalgo.wireless._checks import Weights, check_choice, check_dataset_weights, check_int, check_positive
from pyalgo.wireless.ops import sum_rate
from pyalgo.wireless.students import StudentOutput, default_critic

from ..harness import TrainState, fit
from ..harness.config import Validated
from .data import Batch, Dataset, Sampler, TrainingData, student_kwargs, unpack_channels
from .distributed import RankGenerators, RankZeroCheckpoint, rank_and_world, rank_seed, sync_batch_norm
from .labels import TeacherLabels, rows, teacher_labels
from .losses import ASSISTS, BETA_SCHEDULES, MODES, ActorCritic, Step, beta_at

__all__ = ["DistillConfig", "train_student", "evaluate_student", "OPTIMIZERS", "LR_SCHEDULES", "lr_at"]

OPTIMIZERS = ("adam", "sgd", "rmsprop")
LR_SCHEDULES = ("constant", "cosine")
FN = "pyalgo.lab.wireless.train_student"


@dataclass(frozen=True)
class DistillConfig(Validated):
    """The settings of one distillation run (the checkpoint compares them on resume).

    mode: a key of `MODES`. assist: the parts of `assist_loss` (modes with a teacher only; default
    "final"). β_t = beta_at(beta_schedule, beta, t, T) weighs it in the "+assist" modes ("supervised"
    uses A alone: β would only rescale the learning rate). An epoch is one pass over a dataset of
    `batch_size` batches, or `steps_per_epoch` batches of a sampler. The critic of the RL modes takes
    `critic_steps` `optimizer` steps (lr `critic_lr`, default `lr`) per batch on one draw of
    explored actions, with noise of std explore_std·p_max. lr_schedule: the student's learning rate
    at step t of T, "constant" or "cosine" (lr·½(1 + cos(πt/T)), `lr_at`; the critic's stays
    constant). critic_warmup: the first optimiser steps of the RL modes train the critic only (the
    student's weights stay put). barrier: weight ε of the interior term ε·B(p) added to every mode's loss
    (`losses.barrier_loss`; 0 = off). noise: σ². seed: shuffling, exploration, sampled channels and
    the default critic's initial weights (the student's are the caller's).

    The RL modes need wider exploration, more critic steps and the barrier to leave max power
    (issue 18, Sun's setting at K = 10): the critic's ∂Q/∂p carries only the batch-mean direction of
    ∂R/∂p at first (per-instance cosine ≈ 0 once the mean is removed), which drives the actor onto
    max power, where the saturated sigmoid passes no gradient; 4 critic steps with explore_std 0.3
    make ∂Q/∂p informative (centred cosine ≈ 0.7 after ~600 steps) and barrier 3e-3 keeps the actor
    where it can still follow it. With lr 1e-3, critic_lr 3e-3, explore_std 0.3, critic_steps 4,
    critic_warmup 400 and barrier 1e-2, the MLP student reached 81–82 % of WMMSE (88–89 % binarised)
    in 1950 steps for 3 of 3 seeds (barrier 3e-3: 2 of 3 seeds left max power).
    """
    PUBLIC_NAME = "pyalgo.lab.wireless.DistillConfig"      # the name errors give (not a field)

    mode: str
    assist: Optional[str] = None
    beta: float = 1.0
    beta_schedule: str = "fixed"
    epochs: int = 10
    batch_size: int = 256
    steps_per_epoch: Optional[int] = None
    lr: float = 1e-3
    optimizer: str = "adam"
    critic_lr: Optional[float] = None
    explore_std: float = 0.1
    noise: float = 1.0
    seed: int = 0
    critic_steps: int = 1
    barrier: float = 0.0
    lr_schedule: str = "constant"
    critic_warmup: int = 0

    def __post_init__(self):
        fn = "pyalgo.lab.wireless.DistillConfig"
        mode = MODES[check_choice(fn, "mode", self.mode, tuple(MODES))]
        if mode.teacher:
            object.__setattr__(self, "assist", check_choice(fn, "assist", self.assist or "final", ASSISTS))
        elif self.assist is not None:
            raise ValueError(f"{fn}: assist applies to the modes with a teacher "
                             f"({', '.join(m for m, v in MODES.items() if v.teacher)}), not to mode {self.mode!r}")
        check_positive(fn, "beta", self.beta, allow_zero=True)
        check_choice(fn, "beta_schedule", self.beta_schedule, tuple(BETA_SCHEDULES))
        check_int(fn, "epochs", self.epochs)
        check_int(fn, "batch_size", self.batch_size)
        if self.steps_per_epoch is not None:
            check_int(fn, "steps_per_epoch", self.steps_per_epoch)
        check_positive(fn, "lr", self.lr)
        check_choice(fn, "optimizer", self.optimizer, OPTIMIZERS)
        if self.critic_lr is not None:
            check_positive(fn, "critic_lr", self.critic_lr)
        check_positive(fn, "explore_std", self.explore_std, allow_zero=True)
        check_positive(fn, "noise", self.noise)
        check_int(fn, "seed", self.seed, minimum=0)
        check_int(fn, "critic_steps", self.critic_steps)
        check_int(fn, "critic_warmup", self.critic_warmup, minimum=0)
        for name, unset in (("critic_steps", 1), ("critic_warmup", 0)):
            if getattr(self, name) != unset and not mode.critic:
                raise ValueError(f"{fn}: {name} applies to the RL modes "
                                 f"({', '.join(m for m, v in MODES.items() if v.critic)}), not to mode {self.mode!r}")
        check_positive(fn, "barrier", self.barrier, allow_zero=True)
        check_choice(fn, "lr_schedule", self.lr_schedule, LR_SCHEDULES)


def lr_at(schedule: str, lr: float, t: int, T: int) -> float:
    """The student's learning rate at optimiser step t of T: lr ("constant") or lr·½(1 + cos(πt/T))
    ("cosine"). A function of t alone, so a resumed run follows the same schedule."""
    if schedule == "cosine":
        return lr * 0.5 * (1.0 + math.cos(math.pi * t / T))
    return lr


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)                    # the AD paper's optimiser
    return torch.optim.RMSprop(params, lr=lr, alpha=0.9)         # Sun et al.: RMSProp, decay 0.9


def _check_student(student: nn.Module, c: DistillConfig, critic: Optional[nn.Module], teacher, label_cache,
                   checkpoint, resume: bool) -> None:
    if not isinstance(student, nn.Module) or not hasattr(student, "p_max"):
        raise TypeError(f"{FN}: student must be an nn.Module with a p_max attribute (MLPStudent, "
                        f"GNNStudent), got {type(student).__name__}")
    if c.assist and "state" in c.assist and getattr(student, "state_head", None) is None:
        raise ValueError(f"{FN}: assist {c.assist!r} needs a student built with state_head=True")
    if c.assist and "trajectory" in c.assist and not getattr(student, "trajectory_heads", None):
        raise ValueError(f"{FN}: assist {c.assist!r} needs a student built with trajectory_heads=True")
    if not MODES[c.mode].teacher and (teacher is not None or label_cache is not None):
        raise ValueError(f"{FN}: mode {c.mode!r} uses no teacher; teacher and label_cache must be None")
    if critic is not None and not MODES[c.mode].critic:
        raise ValueError(f"{FN}: critic applies to the RL modes only, not to mode {c.mode!r}")
    if resume and checkpoint is None:
        raise ValueError(f"{FN}: resume=True needs a checkpoint path")


def _aux_needs(student: nn.Module, assist: Optional[str]) -> tuple:
    """(the loss needs the student's auxiliary outputs, the student has weights the loss leaves
    unused, which DistributedDataParallel must be told about)."""
    uses_state = assist is not None and "state" in assist
    uses_trajectory = assist is not None and "trajectory" in assist
    has_state = getattr(student, "state_head", None) is not None
    has_trajectory = isinstance(getattr(student, "trajectory_heads", None), nn.Module)  # GNN: no weights
    unused = (has_state and not uses_state) or (has_trajectory and not uses_trajectory)
    return uses_state or uses_trajectory, unused


def _evaluator(student: nn.Module, eval_channels, eval_weights: Weights, weights: Weights, noise: float,
               progress: bool) -> Optional[Callable[[], Dict[str, float]]]:
    """The per-epoch score on `eval_channels` against their own teacher labels, or None."""
    if eval_channels is None:
        return None
    gains, _ = unpack_channels(FN, "eval_channels", eval_channels)
    if eval_weights is None and isinstance(weights, torch.Tensor) and weights.dim() == 2:
        raise ValueError(f"{FN}: per-instance weights need eval_weights for eval_channels")
    eval_weights = weights if eval_weights is None else eval_weights
    teacher_p = teacher_labels(gains, p_max=student.p_max, noise=noise, weights=eval_weights, progress=progress).p

    def evaluate() -> Dict[str, float]:
        r = evaluate_student(student, eval_channels, noise=noise, weights=eval_weights, teacher_p=teacher_p)
        return {"eval_sum_rate": r["sum_rate"], "eval_pct_teacher": r["pct_teacher"]}
    return evaluate


def _actor_critic(student: nn.Module, critic: Optional[nn.Module], c: DistillConfig, generator: torch.Generator,
                  rank: int, world: int) -> ActorCritic:
    """The critic (default `default_critic(student)`, initialised from `seed`), its optimiser and its
    DistributedDataParallel wrapper under torchrun."""
    like = next(student.parameters())
    if critic is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed)
            critic = default_critic(student).to(like.device, like.dtype)
    optimizer = make_optimizer(c.optimizer, critic.parameters(), c.lr if c.critic_lr is None else c.critic_lr)
    model = DistributedDataParallel(critic) if world > 1 else critic
    return ActorCritic(critic, model, optimizer, c.explore_std, generator, c.critic_steps, shard=(rank, world))


def train_student(student: nn.Module, config: DistillConfig, *, channels: Union[Dataset, Sampler],
                  teacher: Union[None, torch.Tensor, TeacherLabels] = None, label_cache: Optional[str] = None,
                  weights: Weights = None, critic: Optional[nn.Module] = None,
                  eval_channels: Optional[Dataset] = None,
                  eval_weights: Weights = None, callback: Optional[Callable[[int, Mapping[str, float], nn.Module], None]] = None,
                  checkpoint: Optional[str] = None, resume: bool = False, progress: bool = True) -> Dict[str, List[float]]:
    """Trains `student` (in place) as `config` says and returns its history.

    channels: a dataset (gains (N, K, K) or an object with `.gains` / `.adjacency`, e.g.
    D2DChannels) or a sampler ``sampler(batch_size, generator) -> gains`` (config.steps_per_epoch
    batches per epoch; the teacher then runs per minibatch). Under torchrun a sampler's
    `config.batch_size` is the global batch (a multiple of the world size), a dataset's is per rank.
    weights α: None, (K,), or (N, K) with a dataset. The teacher of a dataset is `teacher` ((N, K)
    powers or `TeacherLabels`), else `teacher_labels(channels, cache_path=label_cache)`. p_max is
    the student's. `eval_channels` (with `eval_weights`, default `weights` unless per instance) are
    scored after every epoch.
    `callback(epoch, record, student)` runs on every rank after each epoch (epoch counts from 1).
    With `checkpoint` (a file) the run is saved after every epoch; `resume=True` continues from it
    exactly (or starts afresh if it does not exist), and refuses one made with other settings.

    Returns per-epoch lists: "epoch", "loss", "train_sum_rate" (the student's mean sum rate on its
    training batches), "beta" (β_t at the epoch's last step, "+assist" modes), "critic_loss" (RL
    modes), "eval_sum_rate" and "eval_pct_teacher" (with `eval_channels`), "seconds" (since the start).
    """
    c, mode = config, MODES[config.mode]
    _check_student(student, c, critic, teacher, label_cache, checkpoint, resume)
    like = next(student.parameters())
    rank, world = rank_and_world(like.device)
    data = TrainingData(FN, channels, steps_per_epoch=c.steps_per_epoch, batch_size=c.batch_size, weights=weights,
                        teacher=teacher, label_cache=label_cache, assist=c.assist, p_max=float(student.p_max),
                        noise=c.noise, rank=rank, world=world, progress=progress)
    evaluate = _evaluator(student, eval_channels, eval_weights, weights, c.noise, progress)
    data_gen = torch.Generator().manual_seed(c.seed)          # the same on every rank: the shuffling
    rank_gen = torch.Generator().manual_seed(rank_seed(c.seed, rank))
    opt = make_optimizer(c.optimizer, student.parameters(), c.lr)
    parts = dict(student=student, optimizer=opt, data_rng=data_gen, rank_rng=RankGenerators(rank_gen, rank, world))
    # a sampler's global batches and the global exploration noise: one process draws them from
    # rank_gen (interleaved, as ever); W ranks from a stream with rank 0's seed, the same on every rank
    sample_gen = rank_gen if world == 1 else torch.Generator().manual_seed(rank_seed(c.seed, 0))
    if world > 1 and (data.sampler is not None or mode.critic):
        parts.update(sample_rng=sample_gen)
    actor_critic = _actor_critic(student, critic, c, sample_gen, rank, world) if mode.critic else None
    if actor_critic is not None:
        parts.update(critic=actor_critic.critic, critic_optimizer=actor_critic.optimizer)
    needs_aux, unused_heads = _aux_needs(student, c.assist)
    model = DistributedDataParallel(student, find_unused_parameters=unused_heads) if world > 1 else student
    total = c.epochs * data.steps

    def run_epoch(epoch: int) -> Dict[str, float]:
        model.train()
        sums = torch.zeros(4, dtype=torch.float64)       # Σ_b loss, Σ_b sum rate, Σ_b critic loss, B
        for step, b in enumerate(data.epoch(data_gen, sample_gen)):
            b = b.to(like.device, like.dtype)
            beta_t = beta_at(c.beta_schedule, c.beta, epoch * data.steps + step, total)
            if c.lr_schedule != "constant":
                for group in opt.param_groups:
                    group["lr"] = lr_at(c.lr_schedule, c.lr, epoch * data.steps + step, total)
            actor_learns = epoch * data.steps + step >= c.critic_warmup
            with torch.set_grad_enabled(actor_learns):
                out = _forward(model, b, needs_aux)
            loss, rate, critic_loss = mode.loss(Step(out, b, beta_t, c.assist, float(student.p_max), c.noise,
                                                     actor_critic, c.barrier))
            if actor_learns:
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            B = b.G.shape[0]
            sums += torch.tensor([float(loss.detach()) * B, float(rate.detach().sum()), critic_loss * B, B],
                                 dtype=torch.float64)
        if world > 1:
            dist.all_reduce(sums)
        record = {"epoch": epoch + 1, "loss": float(sums[0] / sums[3]), "train_sum_rate": float(sums[1] / sums[3])}
        if mode.beta:
            record["beta"] = beta_t
        if mode.critic:
            record["critic_loss"] = float(sums[2] / sums[3])
        if evaluate is not None:
            record.update(evaluate())
        return record

    settings = dict(dataclasses.asdict(c), steps=data.steps, world=world, eval=evaluate is not None)
    with sync_batch_norm(student, world):
        return fit(c.epochs, run_epoch, state=TrainState(**parts), resume=resume, progress=progress and rank == 0,
                   checkpoint=RankZeroCheckpoint(checkpoint, settings, FN, rank) if checkpoint else None,
                   log=(lambda record: callback(int(record["epoch"]), record, student)) if callback else None,
                   desc=f"train {c.mode}", name=FN, map_location="cpu")


def _forward(model: nn.Module, b: Batch, needs_aux: bool) -> StudentOutput:
    if needs_aux:
        return model(b.G, **b.student_kwargs(), return_aux=True)
    return StudentOutput(model(b.G, **b.student_kwargs()), None, None)


@torch.no_grad()
def evaluate_student(student: nn.Module, channels: Dataset, *, noise: float = 1.0, weights: Weights = None,
                     teacher_p: Optional[torch.Tensor] = None, binarize: bool = False,
                     batch_size: int = 4096) -> Dict[str, float]:
    """Mean weighted sum rate (bits/s/Hz) of the student on channels (N, K, K) (or an object with
    `.gains`/`.adjacency`) and, given the teacher's powers (N, K), the teacher's and the student's
    percentage of it as a ratio of totals (Sun et al.'s protocol). `binarize` rounds p to
    {0, p_max} at p_max/2 (Sun et al.'s test-time rule)."""
    fn = "pyalgo.lab.wireless.evaluate_student"
    G_all, adjacency = unpack_channels(fn, "channels", channels)
    N, K = G_all.shape[0], G_all.shape[-1]
    check_dataset_weights(fn, weights, N, K)
    like = next(student.parameters())
    was_training = student.training
    student.eval()
    total = teacher_total = 0.0
    for sl in (slice(i, i + batch_size) for i in range(0, N, batch_size)):
        G = G_all[sl].to(like.device, like.dtype)
        w = None if weights is None else rows(weights, sl).to(like.device, like.dtype)
        adj = None if adjacency is None else adjacency[sl].to(like.device)
        p = student(G, **student_kwargs(w, adj))
        if binarize:
            p = torch.where(p >= student.p_max / 2, torch.full_like(p, student.p_max), torch.zeros_like(p))
        total += float(sum_rate(G, p, noise=noise, weights=w).sum())
        if teacher_p is not None:
            teacher_total += float(sum_rate(G, teacher_p[sl].to(G), noise=noise, weights=w).sum())
    student.train(was_training)
    result = {"sum_rate": total / N}
    if teacher_p is not None:
        result["teacher_sum_rate"] = teacher_total / N
        result["pct_teacher"] = 100.0 * total / teacher_total
    return result
