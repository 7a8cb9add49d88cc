"""The objectives of algorithm distillation (Ma et al., arXiv:2308.07511; docs/wireless.md), one
loss function per training mode. t = optimiser step, T = total steps, β_t from `beta_at`,
p_T = the teacher's powers, R = the weighted sum rate in bits, A = `assist_loss`:

    supervised            L = A(p, teacher)
    unsupervised          L = −mean_b R(G, p)
    unsupervised+assist   L = −mean_b R(G, p) + β_t·A(p, teacher)
    rl                    critic: (Q(G, a) − R(G, a))², a = clip(p + N(0, (s·p_max)²), 0, p_max);
                          actor: L = −mean_b Q(G, p)
    rl+assist             actor: L = −mean_b Q(G, p) + β_t·A(p, teacher)

Every mode adds ε·B(p) when `DistillConfig.barrier` ε > 0, B = the interior (log-barrier) term
−mean_b Σ_k [log(p_k/p_max) + log(1 − p_k/p_max)] (`barrier_loss`).

`MODES` maps each name to its loss and to what it needs (the teacher's labels, a critic, β).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from pyalgo.wireless._checks import check_choice, check_int, check_positive
from pyalgo.wireless.ops import sum_rate
from pyalgo.wireless.students import StudentOutput

from .labels import TeacherLabels

if TYPE_CHECKING:
    from .data import Batch

__all__ = ["MODES", "Mode", "ASSISTS", "assist_loss", "barrier_loss", "beta_at", "beta_fixed", "beta_increasing",
           "beta_decreasing", "BETA_SCHEDULES", "ActorCritic", "Step"]

ASSISTS = ("final", "final+state", "final+trajectory", "final+state+trajectory")


# ---- β schedules (t = optimiser step 0..T−1, T = total steps) -------------------------------------

def beta_fixed(beta0: float, t: int, T: int) -> float:
    """β_t = β₀."""
    return beta0


def beta_increasing(beta0: float, t: int, T: int) -> float:
    """β_t = β₀·t/T (0 at the first step)."""
    return beta0 * t / T


def beta_decreasing(beta0: float, t: int, T: int) -> float:
    """β_t = β₀·(1 − t/T) (β₀ at the first step; the paper's best)."""
    return beta0 * (1 - t / T)


BETA_SCHEDULES: Dict[str, Callable[[float, int, int], float]] = {
    "fixed": beta_fixed, "increasing": beta_increasing, "decreasing": beta_decreasing,
}


def beta_at(schedule: str, beta0: float, t: int, T: int) -> float:
    """β_t of `schedule` ("fixed" | "increasing" | "decreasing") at step t of T."""
    fn = "pyalgo.lab.wireless.beta_at"
    check_choice(fn, "schedule", schedule, tuple(BETA_SCHEDULES))
    beta0 = check_positive(fn, "beta0", beta0, allow_zero=True)
    T = check_int(fn, "T", T)
    if not 0 <= check_int(fn, "t", t, minimum=0) < T:
        raise ValueError(f"{fn}: t must be in [0, T) = [0, {T}), got {t}")
    return BETA_SCHEDULES[schedule](beta0, t, T)


# ---- the assistance ------------------------------------------------------------------------------

def assist_loss(out: StudentOutput, teacher: TeacherLabels, G: torch.Tensor, p_max: float,
                assist: str = "final") -> torch.Tensor:
    """The assistance term A (a scalar), a sum of equally weighted parts chosen by `assist`:

    final       mean_b Σ_k (p_k − p_T,k)² / p_max²                      (the paper's ℓ_AD with MSE)
    state       mean_b Σ_k [(û_k − u_k√G_kk)² + (ℓ̂_k − log2 w_k)²]  (the WMMSE state at p_T;
                u√G_kk = S/T ∈ [0, 1) and log2 w = user k's rate, both dimensionless)
    trajectory  mean_s mean_b Σ_k (p⁽ˢ⁾_k − p_T^(t_bs),k)² / p_max²  for the S intermediate
                estimates, t_bs = ⌈s·n_b/(S + 1)⌉ with n_b the teacher's iteration count: the
                student's stages are spread evenly along the teacher's own path to convergence.
    "state" and "trajectory" use the teacher's intermediate information (not in the paper).
    """
    loss = ((out.p - teacher.p) ** 2).sum(-1).mean() / p_max ** 2
    if "state" in assist:
        u_scaled = teacher.u * G.diagonal(dim1=-2, dim2=-1).sqrt()
        target = torch.stack([u_scaled, torch.log2(teacher.w)], dim=-1)
        loss = loss + ((out.state - target) ** 2).sum((-1, -2)).mean()
    if "trajectory" in assist:
        B, S, K = out.iterates.shape
        stages = torch.arange(1, S + 1, device=out.p.device)
        n = teacher.iterations.to(out.p.device, torch.long).unsqueeze(-1)
        index = (n * stages + S) // (S + 1)                                    # ⌈s·n/(S + 1)⌉
        target = teacher.trajectory.gather(1, index.unsqueeze(-1).expand(B, S, K))
        loss = loss + ((out.iterates - target) ** 2).sum(-1).mean() / p_max ** 2
    return loss


# ---- the interior term -----------------------------------------------------------------------------

def barrier_loss(p: torch.Tensor, p_max: float) -> torch.Tensor:
    """B(p) = −mean_b Σ_k [log(x_k) + log(1 − x_k)], x = p/p_max clamped to [1e-6, 1 − 1e-6].

    Through p = p_max·sigmoid(z) its gradient in z is −(1 − 2x_k) per user, bounded and not vanishing
    at the box's faces: ε·B keeps the student's outputs where the sigmoid still passes a gradient
    (|z| ≲ log(|∂R/∂p|/ε)), so a gradient that only becomes informative later (a critic that has
    not learnt the action dependence yet, RL modes) can still move them. Its pull on p is at most ε
    per user in z, so near-binary optima stay reachable (binarised evaluation is unaffected)."""
    x = (p / p_max).clamp(1e-6, 1 - 1e-6)
    return -(torch.log(x) + torch.log1p(-x)).sum(-1).mean()


# ---- one step's loss -------------------------------------------------------------------------------

class ActorCritic:
    """The RL modes' critic: `critic` (its weights), `model` (the same, wrapped in
    DistributedDataParallel under torchrun), its optimiser, and the exploration noise drawn from
    `generator`: under torchrun (shard = (rank, world)) the same stream on every rank draws the
    global batch's noise and the rank keeps its rows rank::world, as it keeps its channels."""

    def __init__(self, critic: nn.Module, model: nn.Module, optimizer: torch.optim.Optimizer, explore_std: float,
                 generator: torch.Generator, critic_steps: int = 1, shard: Tuple[int, int] = (0, 1)):
        self.critic, self.model, self.optimizer = critic, model, optimizer
        self.explore_std, self.generator = explore_std, generator
        self.critic_steps = critic_steps
        self.rank, self.world = shard

    def step(self, batch: Batch, p: torch.Tensor, p_max: float, noise: float) -> Tuple[torch.Tensor, float]:
        """One DDPG-style step: the critic takes `critic_steps` optimiser steps on (Q(G, a) − R(G, a))² for
        explored actions a = clip(p + N(0, (explore_std·p_max)²), 0, p_max) (one draw); returns the actor
        loss −mean Q(G, p) through the updated critic with its weights held fixed, and the critic loss
        (of the first of those steps)."""
        kwargs = batch.student_kwargs()
        with torch.no_grad():
            draw = torch.randn((p.shape[0] * self.world, *p.shape[1:]), generator=self.generator, dtype=p.dtype)
            draw = draw[self.rank::self.world].to(p.device)
            action = (p + self.explore_std * p_max * draw).clamp(0, p_max)
            reward = sum_rate(batch.G, action, noise=noise, weights=batch.weights)
        critic_loss = F.mse_loss(self.model(batch.G, action, **kwargs), reward)
        self.optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.optimizer.step()
        for _ in range(self.critic_steps - 1):
            again = F.mse_loss(self.model(batch.G, action, **kwargs), reward)
            self.optimizer.zero_grad(set_to_none=True)
            again.backward()
            self.optimizer.step()
        frozen = {k: v.detach() for k, v in self.critic.state_dict().items()}
        q = torch.func.functional_call(self.critic, frozen, (batch.G, p), kwargs)
        return -q.mean(), float(critic_loss.detach())


class Step(NamedTuple):
    """What the loss of one optimiser step sees: the student's output on the batch (a
    `pyalgo.lab.wireless.data.Batch`), β_t, the assistance parts, p_max, σ², the critic and the
    weight ε of the interior term."""
    out: StudentOutput
    batch: object
    beta: float
    assist: Optional[str]
    p_max: float
    noise: float
    critic: Optional[ActorCritic]
    barrier: float = 0.0

    def rate(self) -> torch.Tensor:
        """(B,) weighted sum rate of the student's powers."""
        return sum_rate(self.batch.G, self.out.p, noise=self.noise, weights=self.batch.weights)

    def assistance(self) -> torch.Tensor:
        return assist_loss(self.out, self.batch.teacher, self.batch.G, self.p_max, self.assist)


Loss = Tuple[torch.Tensor, torch.Tensor, float]      # (loss, (B,) sum rates, critic loss)


def supervised_loss(s: Step) -> Loss:
    loss = s.assistance()
    with torch.no_grad():
        return loss, s.rate(), 0.0


def unsupervised_loss(s: Step) -> Loss:
    rate = s.rate()
    return -rate.mean(), rate, 0.0


def actor_critic_loss(s: Step) -> Loss:
    with torch.no_grad():
        rate = s.rate()
    loss, critic_loss = s.critic.step(s.batch, s.out.p, s.p_max, s.noise)
    return loss, rate, critic_loss


def assisted(objective: Callable[[Step], Loss]) -> Callable[[Step], Loss]:
    """objective + β_t·A. A is built first, as the graph's first branch: the order in which autograd
    sums the gradients of shared layers follows it."""
    def loss(s: Step) -> Loss:
        teacher_term = s.assistance()
        value, rate, critic_loss = objective(s)
        return value + s.beta * teacher_term, rate, critic_loss
    return loss


def with_barrier(objective: Callable[[Step], Loss]) -> Callable[[Step], Loss]:
    """objective + ε·B(p) (`barrier_loss`) when ε > 0; the objective unchanged otherwise."""
    def loss(s: Step) -> Loss:
        value, rate, critic_loss = objective(s)
        if s.barrier > 0:
            value = value + s.barrier * barrier_loss(s.out.p, s.p_max)
        return value, rate, critic_loss
    return loss


@dataclass(frozen=True)
class Mode:
    """A training mode: its loss, and whether it needs the teacher's labels (and so takes
    `assist`), a critic, and β_t (the "+assist" modes)."""
    loss: Callable[[Step], Loss]
    teacher: bool
    critic: bool
    beta: bool


MODES: Dict[str, Mode] = {
    "supervised": Mode(with_barrier(supervised_loss), teacher=True, critic=False, beta=False),
    "unsupervised": Mode(with_barrier(unsupervised_loss), teacher=False, critic=False, beta=False),
    "unsupervised+assist": Mode(with_barrier(assisted(unsupervised_loss)), teacher=True, critic=False, beta=True),
    "rl": Mode(with_barrier(actor_critic_loss), teacher=False, critic=True, beta=False),
    "rl+assist": Mode(with_barrier(assisted(actor_critic_loss)), teacher=True, critic=True, beta=True),
}
