"""Agents for edge AIGC service selection: the diffusion actor of D2SAC / ADSAC with
MLP and attention denoisers, a double-Q critic, discrete soft actor-critic, DQN and an n-step replay
buffer. Plain PyTorch modules; observations are float32 (B, S), actions indices in [0, A).

- `DiffusionActor(denoiser, action_dim, T=5, schedule="vp")`: x_T ~ N(0, I); T reverse steps
  x̂₀ = √(1/ᾱ_i) x_i − √(1/ᾱ_i − 1) ε̂, μ = c1_i x̂₀ + c2_i x_i, x_{i−1} = μ + σ_i z (i > 0);
  π(·|s) = softmax(x₀). The noise is reparameterised, so the actor loss reaches the denoiser
  through all T steps.
- `MLPDenoiser` (D2SAC's released `MLP`) and `AttentionDenoiser` with `mode="server_tokens"` (one token
  per server, attention across servers: permutation-equivariant, no dependence on other batch rows)
  or `mode="legacy_batch"` (the released ADSAC layer, whose 2-D input makes every sample attend to
  the other samples of the minibatch; kept to compare).
- `SACAgent(policy, critic, ...)`: discrete SAC with the released defaults (α = 0.05 fixed, no entropy
  term in the target, target actor and critic soft-updated with τ = 0.005); `soft_target_entropy`
  and a working `auto_alpha` are options. D2SAC / ADSAC = SACAgent(DiffusionActor(...)); the
  discrete-SAC baseline = SACAgent(CategoricalPolicy(...)).
- `DQNAgent`: ε-greedy n-step DQN with a hard target update (the released baseline's settings).
- `ReplayBuffer`: per-env circular storage of (s, a, r, done); samples n-step returns.
- `make_agent(name, config)`: ADSAC, D2SAC, discrete SAC or DQN sized for an `EdgeConfig`.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Dict, Literal, Optional, Sequence, Tuple, Union, overload

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import EdgeConfig, ObsLayout

__all__ = ["beta_schedule", "DiffusionActor", "MLPDenoiser", "AttentionDenoiser", "ObsLayout", "CategoricalPolicy",
           "DoubleQCritic", "SACAgent", "DQNAgent", "QNetwork", "ReplayBuffer", "Batch", "AGENTS", "make_agent"]

AGENTS = ("adsac", "d2sac", "sac", "dqn")
Schedule = Literal["vp", "linear", "cosine"]
AttentionMode = Literal["server_tokens", "legacy_batch"]
# observations (B, S): an array, a tensor or nested sequences of numbers
Obs = Union[np.ndarray, torch.Tensor, Sequence[Any]]


# ---------------------------------------------------------------------------------------------
# diffusion


def beta_schedule(kind: Schedule, T: int) -> torch.Tensor:
    """β_1..β_T (float64) of a diffusion noise schedule.

    `vp` (default: β_i = 1 − exp(−b_min/T − ½(b_max − b_min)(2i − 1)/T²), b_min = 0.1, b_max = 10),
    `linear` (1e-4 → 2e-2) or `cosine` (s = 0.008).

    Args:
        kind: "vp", "linear" or "cosine".
        T: the number of diffusion steps.

    Returns:
        (T,) float64.

    Raises:
        ValueError: unknown `kind`.

    Example:
        betas = beta_schedule("vp", 5)
    """
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"pyalgo.edge.beta_schedule: T must be an integer >= 1, got {T!r}")
    if kind == "vp":
        i = torch.arange(1, T + 1, dtype=torch.float64)
        b_min, b_max = 0.1, 10.0
        return 1 - torch.exp(-b_min / T - 0.5 * (b_max - b_min) * (2 * i - 1) / T ** 2)
    if kind == "linear":
        return torch.linspace(1e-4, 2e-2, T, dtype=torch.float64)
    if kind == "cosine":
        s = 0.008
        x = torch.linspace(0, T, T + 1, dtype=torch.float64)
        abar = torch.cos(((x / T) + s) / (1 + s) * math.pi * 0.5) ** 2
        abar = abar / abar[0]
        return torch.clamp(1 - abar[1:] / abar[:-1], 0, 0.999)
    raise ValueError(f"pyalgo.edge.beta_schedule: schedule must be 'vp', 'linear' or 'cosine', got {kind!r}")


class SinusoidalPosEmb(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freq = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32) * -(math.log(10000) / (half - 1)))
        arg = t.float()[:, None] * freq[None, :]
        return torch.cat([arg.sin(), arg.cos()], dim=-1)


def _time_mlp(t_dim: int) -> nn.Module:
    return nn.Sequential(SinusoidalPosEmb(t_dim), nn.Linear(t_dim, 2 * t_dim), nn.Mish(), nn.Linear(2 * t_dim, t_dim))


MAX_STEPS = 1000          # diffusion steps T (the released T is 5)
MAX_WIDTH = 2 ** 16       # hidden / state / action sizes above this would not fit in memory anyway


def _check_sizes(where: str, **sizes) -> None:
    """ValueError naming `where` and the argument unless each size is an integer in [1, MAX_WIDTH]."""
    for name, v in sizes.items():
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or not 1 <= v <= MAX_WIDTH:
            raise ValueError(f"{where}: {name} must be an integer in [1, {MAX_WIDTH}], got {v!r}")


def _obs_tensor(where: str, obs) -> torch.Tensor:
    """Observations (B, S) as a float32 tensor, or a ValueError naming `where` and `obs`."""
    try:
        return torch.as_tensor(np.asarray(obs, np.float32))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: obs must be a (batch, state_dim) array of numbers ({exc})") from None


def _check_obs(where: str, s: torch.Tensor, state_dim: int) -> None:
    if not isinstance(s, torch.Tensor) or s.dim() != 2 or s.shape[1] != state_dim:
        shape = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
        raise ValueError(f"{where}: observations must have shape (batch, {state_dim}), got {shape}")
    if not s.is_floating_point():
        raise ValueError(f"{where}: observations must be floating point, got {s.dtype}")
    if not bool(torch.isfinite(s).all()):
        raise ValueError(f"{where}: observations must be finite (NaN or inf found)")


class MLPDenoiser(nn.Module):
    """ε̂(x, t, s) of D2SAC: concat[x, emb(t), s] → 256 → Mish → 256 → Mish → A → Tanh."""

    def __init__(self, state_dim: int, action_dim: int, hidden: int = 256, t_dim: int = 16):
        _check_sizes("pyalgo.edge.MLPDenoiser", state_dim=state_dim, action_dim=action_dim, hidden=hidden)
        super().__init__()
        self.state_dim, self.action_dim = state_dim, action_dim
        self.time = _time_mlp(t_dim)
        self.body = nn.Sequential(nn.Linear(action_dim + t_dim + state_dim, hidden), nn.Mish(),
                                  nn.Linear(hidden, hidden), nn.Mish(), nn.Linear(hidden, action_dim), nn.Tanh())

    def forward(self, x: torch.Tensor, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([x, self.time(t), s], dim=-1))


class AttentionDenoiser(nn.Module):
    """ε̂(x, t, s) with self-attention.

    mode="server_tokens" (default): token e = [server e's features, x's logits of server e's M models,
    task embedding, time embedding] → d → Mish; one multi-head attention layer across the E tokens
    (no positional encoding) with a residual LayerNorm, then each token emits its server's M outputs.
    Permuting the server blocks of s and x permutes the output blocks the same way, and a sample never
    sees other rows of the batch.

    mode="legacy_batch": the released ADSAC `Diffusion_Attention`: the 2-D (B, 256) features
    go through `nn.MultiheadAttention`, which reads them as ONE unbatched sequence of length B, so the
    samples of a minibatch attend to each other. Dropout 0.4 as released.
    """

    def __init__(self, layout: ObsLayout, hidden: int = 256, t_dim: int = 16, heads: int = 4,
                 mode: AttentionMode = "server_tokens", dropout: float = 0.0):
        super().__init__()
        if mode not in ("server_tokens", "legacy_batch"):
            raise ValueError(f"pyalgo.edge.AttentionDenoiser: mode must be 'server_tokens' or 'legacy_batch', got {mode!r}")
        _check_sizes("pyalgo.edge.AttentionDenoiser", hidden=hidden, heads=heads)
        if mode == "server_tokens" and (hidden // 2 < heads or (hidden // 2) % heads):
            raise ValueError(f"pyalgo.edge.AttentionDenoiser: hidden // 2 must be a positive multiple of heads={heads} "
                             f"(mode 'server_tokens'), got hidden={hidden!r}")
        self.layout, self.mode = layout, mode
        self.state_dim, self.action_dim = layout.state_dim, layout.n_servers * layout.n_models
        self.time = _time_mlp(t_dim)
        if mode == "legacy_batch":
            p = 0.4 if dropout == 0.0 else dropout
            self.ex = nn.Sequential(nn.Linear(self.action_dim + t_dim + self.state_dim, hidden), nn.Mish(),
                                    nn.Linear(hidden, hidden), nn.Mish())
            self.x_proj = nn.Sequential(nn.Linear(self.action_dim, 64), nn.Mish(), nn.Dropout(p))
            self.s_proj = nn.Sequential(nn.Linear(self.state_dim, 128), nn.Mish(), nn.Dropout(p))
            self.mix = nn.Sequential(nn.Linear(64 + 128 + t_dim, hidden), nn.Mish(), nn.Dropout(p))
            self.attn = nn.MultiheadAttention(hidden, 1, dropout=p)
            self.norm = nn.LayerNorm(hidden)
            self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.Mish(), nn.Linear(hidden, self.action_dim), nn.Tanh())
            return
        d = hidden // 2
        self.task_proj = nn.Sequential(nn.Linear(layout.task_dim, d), nn.Mish())
        self.token = nn.Sequential(nn.Linear(layout.server_dim + layout.n_models + d + t_dim, d), nn.Mish(),
                                   nn.Linear(d, d))
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Sequential(nn.Linear(d, d), nn.Mish(), nn.Linear(d, layout.n_models), nn.Tanh())

    def forward(self, x: torch.Tensor, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        temb = self.time(t)
        if self.mode == "legacy_batch":
            z = self.mix(torch.cat([self.x_proj(x), self.s_proj(s), temb], dim=-1))         # (B, 256)
            a, _ = self.attn(z, z, z, need_weights=False)                                   # attends across B
            y = self.norm(z + a) + self.ex(torch.cat([x, temb, s], dim=-1))
            return self.head(y)
        L = self.layout
        task, servers = L.split(s)
        B = s.shape[0]
        ctx = torch.cat([self.task_proj(task), temb], dim=-1)[:, None, :].expand(B, L.n_servers, -1)
        tokens = self.token(torch.cat([servers, x.reshape(B, L.n_servers, L.n_models), ctx], dim=-1))
        a, _ = self.attn(tokens, tokens, tokens, need_weights=False)
        return self.head(self.norm(tokens + a)).reshape(B, self.action_dim)


class DiffusionActor(nn.Module):
    """π(·|s) = softmax(x₀) of a T-step reverse diffusion chain driven by `denoiser`."""

    def __init__(self, denoiser: nn.Module, action_dim: int, T: int = 5, schedule: Schedule = "vp"):
        super().__init__()
        self.denoiser, self.action_dim, self.T = denoiser, action_dim, T
        self.state_dim = denoiser.state_dim
        betas = beta_schedule(schedule, T)
        alphas = 1 - betas
        abar = torch.cumprod(alphas, 0)
        abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
        posterior_var = betas * (1 - abar_prev) / (1 - abar)
        for name, value in dict(betas=betas, alphas_cumprod=abar, alphas_cumprod_prev=abar_prev,
                                posterior_variance=posterior_var,
                                posterior_log_std=0.5 * torch.log(torch.clamp(posterior_var, min=1e-20)),
                                sqrt_recip_abar=torch.sqrt(1 / abar), sqrt_recipm1_abar=torch.sqrt(1 / abar - 1),
                                coef1=betas * torch.sqrt(abar_prev) / (1 - abar),
                                coef2=(1 - abar_prev) * torch.sqrt(alphas) / (1 - abar)).items():
            self.register_buffer(name, value.float())

    def sample_logits(self, s: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """x₀ (B, A): the reverse chain from x_T ~ N(0, I) (differentiable; noise from `generator`)."""
        _check_obs("pyalgo.edge.DiffusionActor", s, self.state_dim)
        B = s.shape[0]
        x = torch.randn(B, self.action_dim, generator=generator, device=s.device) if generator is not None \
            else torch.randn(B, self.action_dim, device=s.device)
        for i in reversed(range(self.T)):
            t = torch.full((B,), i, device=s.device, dtype=torch.long)
            eps = self.denoiser(x, t, s)
            x0 = self.sqrt_recip_abar[i] * x - self.sqrt_recipm1_abar[i] * eps       # no clamp, as released
            mean = self.coef1[i] * x0 + self.coef2[i] * x
            if i > 0:
                z = torch.randn(x.shape, generator=generator, device=s.device) if generator is not None \
                    else torch.randn_like(x)
                x = mean + torch.exp(self.posterior_log_std[i]) * z
            else:
                x = mean
        return x

    def probs(self, s: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """π(·|s), (B, A): softmax of the chain's x₀."""
        return torch.softmax(self.sample_logits(s, generator), dim=-1)


class CategoricalPolicy(nn.Module):
    """The discrete-SAC actor: s → 256 → Mish → 256 → Mish → A logits; π = softmax."""

    def __init__(self, state_dim: int, action_dim: int, hidden: int = 256):
        _check_sizes("pyalgo.edge.CategoricalPolicy", state_dim=state_dim, action_dim=action_dim, hidden=hidden)
        super().__init__()
        self.state_dim, self.action_dim = state_dim, action_dim
        self.net = nn.Sequential(nn.Linear(state_dim, hidden), nn.Mish(), nn.Linear(hidden, hidden), nn.Mish(),
                                 nn.Linear(hidden, action_dim))

    def probs(self, s: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        _check_obs("pyalgo.edge.CategoricalPolicy", s, self.state_dim)
        return torch.softmax(self.net(s), dim=-1)


class QNetwork(nn.Module):
    """s → 256 → Mish → 256 → Mish → Q(s, ·) (A,)."""

    def __init__(self, state_dim: int, action_dim: int, hidden: int = 256):
        _check_sizes("pyalgo.edge.QNetwork", state_dim=state_dim, action_dim=action_dim, hidden=hidden)
        super().__init__()
        self.state_dim, self.action_dim = state_dim, action_dim
        self.net = nn.Sequential(nn.Linear(state_dim, hidden), nn.Mish(), nn.Linear(hidden, hidden), nn.Mish(),
                                 nn.Linear(hidden, action_dim))

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        _check_obs("pyalgo.edge.QNetwork", s, self.state_dim)
        return self.net(s)


class DoubleQCritic(nn.Module):
    """Two independent Q networks; `forward` returns (Q1, Q2), each (B, A)."""

    def __init__(self, state_dim: int, action_dim: int, hidden: int = 256):
        super().__init__()
        self.q1, self.q2 = QNetwork(state_dim, action_dim, hidden), QNetwork(state_dim, action_dim, hidden)

    def forward(self, s: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.q1(s), self.q2(s)


# ---------------------------------------------------------------------------------------------
# argument checks (shared by the agents and the lab's TrainConfig, which names its own field)


def _is_real(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _check_kw(where: str, name: str, v, *, lo: Optional[float] = None, hi: Optional[float] = None,
              lo_open: bool = False, hi_open: bool = False, optional: bool = False, kind: str = "real") -> None:
    """ValueError naming `where` and `name` unless v is a finite number (an integer with kind="int",
    a bool with kind="bool") in the given range (None allowed with `optional`)."""
    if optional and v is None:
        return
    if kind == "bool":
        if not isinstance(v, (bool, np.bool_)):
            raise ValueError(f"{where}: {name} must be a bool, got {v!r}")
        return
    if kind == "int":
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{where}: {name} must be an integer, got {v!r}")
    elif not _is_real(v) or not math.isfinite(float(v)):
        raise ValueError(f"{where}: {name} must be a finite number, got {v!r}")
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise ValueError(f"{where}: {name} must be {'>' if lo_open else '>='} {lo}, got {v!r}")
    if hi is not None and (v >= hi if hi_open else v > hi):
        raise ValueError(f"{where}: {name} must be {'<' if hi_open else '<='} {hi}, got {v!r}")


SAC_KWARGS = dict(alpha=dict(lo=0, lo_open=True), auto_alpha=dict(kind="bool"), target_entropy=dict(optional=True),
                  alpha_lr=dict(lo=0, lo_open=True), soft_target_entropy=dict(kind="bool"),
                  actor_lr=dict(lo=0, lo_open=True), critic_lr=dict(lo=0, lo_open=True), weight_decay=dict(lo=0),
                  tau=dict(lo=0, hi=1, lo_open=True), grad_clip=dict(lo=0, lo_open=True, optional=True))
DQN_KWARGS = dict(lr=dict(lo=0, lo_open=True), epsilon=dict(lo=0, hi=1),
                  target_update=dict(kind="int", lo=1, hi=2 ** 62))


def check_agent_kwargs(where: str, agent: str, kwargs) -> None:
    """ValueError naming `where` unless `kwargs` are valid keyword arguments of the agent `agent`
    (`SACAgent` for adsac / d2sac / sac, `DQNAgent` for dqn): known names, finite values in range."""
    if not isinstance(kwargs, dict):
        raise ValueError(f"{where}: agent_kwargs must be a dict, got {type(kwargs).__name__}")
    spec = DQN_KWARGS if agent == "dqn" else SAC_KWARGS
    unknown = sorted(set(map(str, kwargs)) - set(spec))
    if unknown or not all(isinstance(k, str) for k in kwargs):
        raise ValueError(f"{where}: agent_kwargs has unknown keys {unknown} for agent {agent!r}; "
                         f"known: {', '.join(spec)}")
    for name, v in kwargs.items():
        _check_kw(where, name, v, **spec[name])


# ---------------------------------------------------------------------------------------------
# replay


@dataclass
class Batch:
    """n-step transitions: obs (B, S), action (B,), ret = Σ_{k<n} γ^k r_{t+k} (B,), next_obs = s_{t+n'}
    (B, S), discount = γ^{n'} (1 − done) (B,) with n' ≤ n the steps before an episode end."""
    obs: torch.Tensor
    action: torch.Tensor
    ret: torch.Tensor
    next_obs: torch.Tensor
    discount: torch.Tensor


class ReplayBuffer:
    """Circular storage per environment stream (n_envs streams of `capacity // n_envs` steps). `add`
    takes one step of every env: (obs, action, reward, next_obs, terminated, truncated). `sample` draws
    indices from `generator` and builds n-step returns, cut at episode ends (no bootstrap after a
    termination; bootstrap from the last observation after a truncation)."""

    def __init__(self, capacity: int, state_dim: int, n_envs: int = 1, n_step: int = 3, gamma: float = 0.95):
        if capacity < n_envs or n_envs < 1 or n_step < 1 or not 0 <= gamma <= 1:
            raise ValueError(f"pyalgo.edge.ReplayBuffer: need capacity >= n_envs >= 1, n_step >= 1, 0 <= gamma <= 1; "
                             f"got capacity={capacity}, n_envs={n_envs}, n_step={n_step}, gamma={gamma}")
        self.size_per_env = capacity // n_envs
        self.n_envs, self.n_step, self.gamma, self.state_dim = n_envs, n_step, gamma, state_dim
        shape = (self.size_per_env, n_envs)
        self.obs = np.zeros(shape + (state_dim,), np.float32)
        self.next_obs = np.zeros(shape + (state_dim,), np.float32)
        self.action = np.zeros(shape, np.int64)
        self.reward = np.zeros(shape, np.float32)
        self.terminated = np.zeros(shape, bool)
        self.end = np.zeros(shape, bool)          # terminated or truncated: the n-step sum stops here
        self.pos, self.full = 0, False

    def __len__(self) -> int:
        return (self.size_per_env if self.full else self.pos) * self.n_envs

    def add(self, obs: np.ndarray, action: np.ndarray, reward: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, truncated: np.ndarray) -> None:
        obs = np.asarray(obs, np.float32).reshape(self.n_envs, self.state_dim)
        p = self.pos
        self.obs[p] = obs
        self.next_obs[p] = np.asarray(next_obs, np.float32).reshape(self.n_envs, self.state_dim)
        self.action[p] = np.asarray(action).reshape(self.n_envs)
        self.reward[p] = np.asarray(reward).reshape(self.n_envs)
        self.terminated[p] = np.asarray(terminated).reshape(self.n_envs)
        self.end[p] = self.terminated[p] | np.asarray(truncated).reshape(self.n_envs)
        self.pos = (p + 1) % self.size_per_env
        self.full = self.full or self.pos == 0

    def sample(self, batch_size: int, generator: Optional[torch.Generator] = None) -> Batch:
        filled = self.size_per_env if self.full else self.pos
        if filled == 0:
            raise RuntimeError("pyalgo.edge.ReplayBuffer.sample: the buffer is empty")
        t = torch.randint(filled, (batch_size,), generator=generator).numpy()
        e = torch.randint(self.n_envs, (batch_size,), generator=generator).numpy()
        ret = np.zeros(batch_size, np.float64)
        discount = np.ones(batch_size, np.float64)
        last = t.copy()
        alive = np.ones(batch_size, bool)
        newest = (self.pos - 1) % self.size_per_env
        for k in range(self.n_step):
            idx = (t + k) % self.size_per_env
            ret += alive * discount * self.reward[idx, e]
            last = np.where(alive, idx, last)
            discount = np.where(alive, discount * self.gamma, discount)
            stop = self.end[idx, e] | (idx == newest)          # an episode end, or no later step stored yet
            alive &= ~stop
        discount *= ~self.terminated[last, e]
        return Batch(torch.from_numpy(self.obs[t, e]), torch.from_numpy(self.action[t, e]),
                     torch.from_numpy(ret.astype(np.float32)), torch.from_numpy(self.next_obs[last, e]),
                     torch.from_numpy(discount.astype(np.float32)))

    _ARRAYS = ("obs", "next_obs", "action", "reward", "terminated", "end")

    def state_dict(self) -> dict:
        """The stored steps (the filled rows only) as tensors, and the write position."""
        filled = self.size_per_env if self.full else self.pos
        shape = (self.size_per_env, self.n_envs, self.state_dim)
        return {"shape": list(shape), "pos": self.pos, "full": self.full,
                **{name: torch.from_numpy(getattr(self, name)[:filled].copy()) for name in self._ARRAYS}}

    def load_state_dict(self, state: dict) -> None:
        """Restores `state_dict()` of a buffer of the same capacity, envs and state size (else ValueError)."""
        shape = (self.size_per_env, self.n_envs, self.state_dim)
        if tuple(state["shape"]) != shape:
            raise ValueError(f"pyalgo.edge.ReplayBuffer.load_state_dict: saved (size per env, envs, state dim) = "
                             f"{tuple(state['shape'])}, this buffer has {shape}")
        for name in self._ARRAYS:
            rows = state[name].numpy()
            getattr(self, name)[:len(rows)] = rows
        self.pos, self.full = int(state["pos"]), bool(state["full"])


# ---------------------------------------------------------------------------------------------
# agents


def _soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters()):
            t.lerp_(s, tau)


class SACAgent:
    """Discrete soft actor-critic over a policy with `.probs(s)`.

    Critic target y = R^n + γ^n (1 − d) Σ_a π'(a|s') [min(Q1', Q2')(s', a) − α log π'(a|s') if
    `soft_target_entropy`], with the target actor π' (a soft-updated copy, as released). Critic loss
    MSE(Q1(s, a), y) + MSE(Q2(s, a), y). Actor loss −mean_s[α H(π(·|s)) + Σ_a π(a|s) min(Q1, Q2)(s, a)]
    with Q detached. α fixed (0.05) or, with `auto_alpha`, learned: log α minimises α (H(π) − H̄),
    H̄ = `target_entropy` (default 0.6 log A). Adam with weight decay 1e-4; τ = 0.005 soft updates of
    the target actor and critic after every update.
    """

    def __init__(self, policy: nn.Module, critic: DoubleQCritic, *, alpha: float = 0.05, auto_alpha: bool = False,
                 target_entropy: Optional[float] = None, alpha_lr: float = 3e-4, soft_target_entropy: bool = False,
                 actor_lr: float = 1e-4, critic_lr: float = 1e-3, weight_decay: float = 1e-4, tau: float = 0.005,
                 grad_clip: Optional[float] = None):
        check_agent_kwargs("pyalgo.edge.SACAgent", "sac", dict(
            alpha=alpha, auto_alpha=auto_alpha, target_entropy=target_entropy, alpha_lr=alpha_lr,
            soft_target_entropy=soft_target_entropy, actor_lr=actor_lr, critic_lr=critic_lr,
            weight_decay=weight_decay, tau=tau, grad_clip=grad_clip))
        for name, net in (("policy", policy), ("critic", critic)):
            if not isinstance(net, nn.Module):
                raise TypeError(f"pyalgo.edge.SACAgent: {name} must be an nn.Module, got {type(net).__name__}")
        self.policy, self.critic = policy, critic
        self.target_policy, self.target_critic = copy.deepcopy(policy), copy.deepcopy(critic)
        for p in list(self.target_policy.parameters()) + list(self.target_critic.parameters()):
            p.requires_grad_(False)
        self.state_dim, self.action_dim = policy.state_dim, policy.action_dim
        self.actor_opt = torch.optim.Adam(policy.parameters(), lr=actor_lr, weight_decay=weight_decay)
        self.critic_opt = torch.optim.Adam(critic.parameters(), lr=critic_lr, weight_decay=weight_decay)
        self.log_alpha = torch.tensor(math.log(alpha), requires_grad=auto_alpha)
        self.auto_alpha = auto_alpha
        self.target_entropy = 0.6 * math.log(self.action_dim) if target_entropy is None else float(target_entropy)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=alpha_lr) if auto_alpha else None
        self.soft_target_entropy, self.tau, self.grad_clip = soft_target_entropy, tau, grad_clip

    @property
    def alpha(self) -> float:
        return float(self.log_alpha.detach().exp())

    def act(self, obs: Obs, deterministic: bool = False, generator: Optional[torch.Generator] = None) -> np.ndarray:
        """Actions (B,) for observations (B, S): a sample of π, or its argmax when deterministic."""
        s = _obs_tensor("pyalgo.edge.SACAgent.act", obs)
        with torch.no_grad():
            p = self.policy.probs(s, generator)
        if not bool(torch.isfinite(p).all()):
            raise ValueError("pyalgo.edge.SACAgent.act: the policy gave non-finite probabilities for obs (finite "
                             "but far outside the env's observation range, or diverged weights)")
        if deterministic:
            return p.argmax(-1).numpy()
        return torch.multinomial(p, 1, generator=generator).squeeze(1).numpy()

    def update(self, batch: Batch, generator: Optional[torch.Generator] = None) -> Dict[str, float]:
        with torch.no_grad():
            p_next = self.target_policy.probs(batch.next_obs, generator)
            q1t, q2t = self.target_critic(batch.next_obs)
            v = (p_next * torch.min(q1t, q2t)).sum(-1)
            if self.soft_target_entropy:
                v = v - self.alpha * (p_next * torch.log(p_next.clamp_min(1e-12))).sum(-1)
            y = batch.ret + batch.discount * v
        q1, q2 = self.critic(batch.obs)
        a = batch.action[:, None]
        critic_loss = F.mse_loss(q1.gather(1, a).squeeze(1), y) + F.mse_loss(q2.gather(1, a).squeeze(1), y)
        self.critic_opt.zero_grad()
        critic_loss.backward()
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.critic.parameters(), self.grad_clip)
        self.critic_opt.step()

        p = self.policy.probs(batch.obs, generator)
        entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(-1)
        with torch.no_grad():
            q1, q2 = self.critic(batch.obs)
            q = torch.min(q1, q2)
        actor_loss = -(self.alpha * entropy + (p * q).sum(-1)).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.policy.parameters(), self.grad_clip)
        self.actor_opt.step()
        if self.auto_alpha:
            alpha_loss = self.log_alpha.exp() * (entropy.detach().mean() - self.target_entropy)
            self.alpha_opt.zero_grad()
            alpha_loss.backward()
            self.alpha_opt.step()
        _soft_update(self.target_policy, self.policy, self.tau)
        _soft_update(self.target_critic, self.critic, self.tau)
        return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item(), "entropy": entropy.mean().item(),
                "alpha": self.alpha}

    def state_dict(self) -> dict:
        return {"policy": self.policy.state_dict(), "critic": self.critic.state_dict(),
                "target_policy": self.target_policy.state_dict(), "target_critic": self.target_critic.state_dict(),
                "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
                "log_alpha": self.log_alpha.detach().clone(),
                "alpha_opt": self.alpha_opt.state_dict() if self.alpha_opt else None}

    def load_state_dict(self, state: dict) -> None:
        self.policy.load_state_dict(state["policy"])
        self.critic.load_state_dict(state["critic"])
        self.target_policy.load_state_dict(state["target_policy"])
        self.target_critic.load_state_dict(state["target_critic"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        if self.alpha_opt and state["alpha_opt"]:
            self.alpha_opt.load_state_dict(state["alpha_opt"])


class DQNAgent:
    """n-step DQN with ε-greedy exploration (ε = 0.1) and a hard target update every `target_update`
    updates (the released baseline: lr 1e-3, [256, 256], n = 3, γ = 0.95, target update 320)."""

    def __init__(self, q_net: QNetwork, *, lr: float = 1e-3, epsilon: float = 0.1, target_update: int = 320):
        check_agent_kwargs("pyalgo.edge.DQNAgent", "dqn", dict(lr=lr, epsilon=epsilon, target_update=target_update))
        if not isinstance(q_net, nn.Module):
            raise TypeError(f"pyalgo.edge.DQNAgent: q_net must be an nn.Module, got {type(q_net).__name__}")
        self.q, self.target_q = q_net, copy.deepcopy(q_net)
        self.state_dim, self.action_dim = q_net.state_dim, q_net.action_dim
        self.opt = torch.optim.Adam(q_net.parameters(), lr=lr)
        self.epsilon, self.target_update, self.updates = epsilon, target_update, 0

    def act(self, obs: Obs, deterministic: bool = False, generator: Optional[torch.Generator] = None) -> np.ndarray:
        s = _obs_tensor("pyalgo.edge.DQNAgent.act", obs)
        with torch.no_grad():
            greedy = self.q(s).argmax(-1)
        if deterministic:
            return greedy.numpy()
        explore = torch.rand(s.shape[0], generator=generator) < self.epsilon
        random = torch.randint(self.action_dim, (s.shape[0],), generator=generator)
        return torch.where(explore, random, greedy).numpy()

    def update(self, batch: Batch, generator: Optional[torch.Generator] = None) -> Dict[str, float]:
        with torch.no_grad():
            y = batch.ret + batch.discount * self.target_q(batch.next_obs).max(-1).values
        q = self.q(batch.obs).gather(1, batch.action[:, None]).squeeze(1)
        loss = F.mse_loss(q, y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.updates += 1
        if self.updates % self.target_update == 0:
            self.target_q.load_state_dict(self.q.state_dict())
        return {"critic_loss": loss.item()}

    def state_dict(self) -> dict:
        return {"q": self.q.state_dict(), "target_q": self.target_q.state_dict(), "opt": self.opt.state_dict(),
                "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.q.load_state_dict(state["q"])
        self.target_q.load_state_dict(state["target_q"])
        self.opt.load_state_dict(state["opt"])
        self.updates = int(state["updates"])


# ---------------------------------------------------------------------------------------------
# the agents of the ADSAC comparison


@overload
def make_agent(name: Literal["dqn"], config: EdgeConfig, hidden: int = ..., T: int = ..., schedule: Schedule = ...,
               attention_mode: AttentionMode = ..., **agent_kwargs: Any) -> DQNAgent: ...
@overload
def make_agent(name: Literal["adsac", "d2sac", "sac"], config: EdgeConfig, hidden: int = ..., T: int = ...,
               schedule: Schedule = ..., attention_mode: AttentionMode = ..., **agent_kwargs: Any) -> SACAgent: ...
@overload
def make_agent(name: str, config: EdgeConfig, hidden: int = ..., T: int = ..., schedule: Schedule = ...,
               attention_mode: AttentionMode = ..., **agent_kwargs: Any) -> Union[SACAgent, DQNAgent]: ...
def make_agent(name: str, config: EdgeConfig, hidden: int = 256, T: int = 5, schedule: Schedule = "vp",
               attention_mode: AttentionMode = "server_tokens", **agent_kwargs: Any) -> Union[SACAgent, DQNAgent]:
    """An agent sized for `config`'s observations and actions.

    `adsac` (diffusion actor, attention denoiser over `config.obs_layout`), `d2sac` (diffusion
    actor, MLP denoiser), `sac` (categorical actor) or `dqn`.

    Args:
        name: "adsac", "d2sac", "sac" or "dqn".
        config: the env's configuration.
        hidden: the networks' width.
        T: diffusion steps (adsac, d2sac).
        schedule: the diffusion noise schedule (see `beta_schedule`).
        attention_mode: adsac's denoiser, "server_tokens" or "legacy_batch".
        **agent_kwargs: go to `SACAgent` / `DQNAgent` (learning rates, ...).

    Returns:
        A `DQNAgent` for "dqn", else a `SACAgent`.

    Raises:
        ValueError: unknown `name` or an invalid size or option.
        TypeError: `config` is not an EdgeConfig.

    Example:
        agent = make_agent("adsac", EdgeConfig.preset("small"), hidden=128)
    """
    where = "pyalgo.edge.agents.make_agent"
    if name not in AGENTS:
        raise ValueError(f"{where}: agent must be one of {AGENTS}, got {name!r}")
    if not isinstance(config, EdgeConfig):
        raise TypeError(f"{where}: config must be an EdgeConfig, got {type(config).__name__}")
    _check_sizes(where, hidden=hidden)
    if name == "adsac" and attention_mode == "server_tokens" and (hidden < 8 or (hidden // 2) % 4):
        raise ValueError(f"{where}: hidden must be >= 8 with hidden // 2 a multiple of 4 for adsac's attention (4 heads), "
                         f"got hidden={hidden!r}")
    if name in ("adsac", "d2sac"):
        if isinstance(T, (bool, np.bool_)) or not isinstance(T, (int, np.integer)) or not 1 <= T <= MAX_STEPS:
            raise ValueError(f"{where}: T must be an integer in [1, {MAX_STEPS}], got {T!r}")
    check_agent_kwargs(where, name, agent_kwargs)
    S, A = config.obs_dim, config.n_actions
    if name == "dqn":
        return DQNAgent(QNetwork(S, A, hidden), **agent_kwargs)
    policy: nn.Module
    if name == "sac":
        policy = CategoricalPolicy(S, A, hidden)
    elif name == "d2sac":
        policy = DiffusionActor(MLPDenoiser(S, A, hidden), A, T=T, schedule=schedule)
    elif name == "adsac":
        denoiser = AttentionDenoiser(config.obs_layout, hidden, mode=attention_mode)
        policy = DiffusionActor(denoiser, A, T=T, schedule=schedule)
    else:
        raise ValueError(f"pyalgo.edge.agents.make_agent: agent must be one of {AGENTS}, got {name!r}")
    return SACAgent(policy, DoubleQCritic(S, A, hidden), **agent_kwargs)
