"""Training of the edge agents (ADSAC, D2SAC, discrete SAC, DQN) on the batched env.

    from pyalgo.lab.edge.train import TrainConfig, train
    result = train(TrainConfig(agent="adsac", env="small", epochs=20))
    result.curves["eval_return"]                      # one evaluation per epoch (NaN on others)

Each epoch: collect `steps_per_epoch` env steps with the stochastic policy over `num_envs` batched
envs into the n-step replay buffer, run `updates_per_epoch` gradient updates at `batch_size`, then
evaluate deterministic (argmax) episodes on fixed seeds (`pyalgo.edge.episodes.evaluate`). The
released schedule is 1000 epochs × (1000 steps, 1000 updates at batch 512, 1 test episode):
`TrainConfig.released()`.

With `checkpoint_dir`, the run is saved to `<checkpoint_dir>/last.pt` through `harness.fit`: the
agent and its optimisers, the envs, the replay buffer and every RNG state, as tensors and plain data.
`resume=True` continues exactly where a run stopped, and refuses (CheckpointMismatch, naming the
settings) a checkpoint made with other settings; only `epochs` may grow.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np
import torch

from pyalgo.edge.agents import (AGENTS, MAX_STEPS, MAX_WIDTH, DQNAgent, ReplayBuffer, SACAgent, check_agent_kwargs,
                                make_agent)
from pyalgo.edge.batched import BatchedEdgeEnv
from pyalgo.edge.config import EdgeConfig
from pyalgo.edge.core import resolve_config
from pyalgo.edge.episodes import evaluate

from ..harness import Checkpoint, GlobalTorchRNG, TrainState, fit

__all__ = ["TrainConfig", "TrainResult", "train", "check_counts", "check_seeds"]

WHO = "pyalgo.lab.edge.train"
# fields that say how a run is driven, not what it computes: a resumed run may change them
RUN_CONTROL = ("epochs", "checkpoint_dir", "checkpoint_every", "resume", "progress")


MAX_COUNT = 2 ** 31 - 1     # epochs, steps, sizes: larger values would not finish or not fit in memory


def check_counts(where: str, obj: Any, positive: tuple, non_negative: tuple = ()) -> None:
    """ValueError naming `where` and the field unless each field in `positive` is an integer in [1, MAX_COUNT]
    and each in `non_negative` one in [0, MAX_COUNT]."""
    for names, low in ((positive, 1), (non_negative, 0)):
        for name in names:
            v = getattr(obj, name)
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or not low <= v <= MAX_COUNT:
                raise ValueError(f"{where}: {name} must be an integer >= {low} (at most {MAX_COUNT}), got {v!r}")


def check_seeds(where: str, name: str, seeds: Any, allow_empty: bool = False) -> tuple:
    """`seeds` as a tuple of integers in [0, 2**32), or ValueError naming `where.name`."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (tuple, list)):
        raise ValueError(f"{where}.{name} must be a tuple of integer seeds, got {seeds!r}")
    if not seeds and not allow_empty:
        raise ValueError(f"{where}.{name} must not be empty")
    for v in seeds:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or not 0 <= v < 2 ** 32:
            raise ValueError(f"{where}.{name} must hold integers in [0, 2**32), got {v!r}")
    return tuple(int(v) for v in seeds)


def check_seed(where: str, name: str, v: Any) -> None:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or not 0 <= v < 2 ** 32:
        raise ValueError(f"{where}.{name} must be an integer in [0, 2**32), got {v!r}")


def check_choice(where: str, name: str, v: Any, choices: tuple) -> None:
    if not isinstance(v, str) or v not in choices:
        raise ValueError(f"{where}.{name} must be one of {choices}, got {v!r}")


def check_flag(where: str, name: str, v: Any) -> None:
    if not isinstance(v, (bool, np.bool_)):
        raise ValueError(f"{where}.{name} must be a bool, got {v!r}")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Defaults are a small CPU-sized schedule; `released()` is the paper's."""
    agent: str = "adsac"
    env: Union[str, EdgeConfig] = "adsac"
    world_seed: int = 0
    rng: str = "numpy"
    seed: int = 0
    num_envs: int = 8
    epochs: int = 20
    steps_per_epoch: int = 1000
    updates_per_epoch: int = 250
    batch_size: int = 256
    buffer_size: int = 200_000
    n_step: int = 3
    gamma: float = 0.95
    hidden: int = 256
    T: int = 5
    attention_mode: str = "server_tokens"
    eval_seeds: tuple = (0,)
    eval_every: int = 1
    warmup_steps: int = 0
    agent_kwargs: dict = field(default_factory=dict)
    checkpoint_dir: Optional[str] = None
    checkpoint_every: int = 1
    resume: bool = False
    progress: bool = True

    def __post_init__(self):
        where = f"{WHO}.TrainConfig"
        check_choice(where, "agent", self.agent, AGENTS)
        check_counts(where, self, ("num_envs", "epochs", "steps_per_epoch", "batch_size", "buffer_size", "n_step",
                                   "eval_every", "checkpoint_every", "hidden"), ("updates_per_epoch", "warmup_steps"))
        if isinstance(self.T, (bool, np.bool_)) or not isinstance(self.T, (int, np.integer)) or not 1 <= self.T <= MAX_STEPS:
            raise ValueError(f"{where}.T must be an integer in [1, {MAX_STEPS}], got {self.T!r}")
        if self.hidden > MAX_WIDTH:
            raise ValueError(f"{where}.hidden must be an integer in [1, {MAX_WIDTH}], got {self.hidden!r}")
        if self.buffer_size < self.num_envs:
            raise ValueError(f"{where}.buffer_size must be >= num_envs ({self.num_envs}), got {self.buffer_size!r}")
        check_seed(where, "world_seed", self.world_seed)
        check_seed(where, "seed", self.seed)
        check_choice(where, "rng", self.rng, ("numpy", "legacy"))
        check_choice(where, "attention_mode", self.attention_mode, ("server_tokens", "legacy_batch"))
        if self.agent == "adsac" and self.attention_mode == "server_tokens" and (self.hidden < 8 or (self.hidden // 2) % 4):
            raise ValueError(f"{where}.hidden must be >= 8 with hidden // 2 a multiple of 4 for adsac's attention, got {self.hidden!r}")
        if isinstance(self.gamma, (bool, np.bool_)) or not isinstance(self.gamma, (int, float, np.integer, np.floating)) \
                or not 0 <= self.gamma <= 1:
            raise ValueError(f"{where}.gamma must be a number in [0, 1], got {self.gamma!r}")
        object.__setattr__(self, "eval_seeds", check_seeds(where, "eval_seeds", self.eval_seeds))
        if not isinstance(self.agent_kwargs, dict):
            raise ValueError(f"{where}.agent_kwargs must be a dict, got {self.agent_kwargs!r}")
        check_agent_kwargs(f"{where}.agent_kwargs", self.agent, self.agent_kwargs)
        if self.checkpoint_dir is not None and not isinstance(self.checkpoint_dir, (str, os.PathLike)):
            raise ValueError(f"{where}.checkpoint_dir must be a path or None, got {self.checkpoint_dir!r}")
        check_flag(where, "resume", self.resume)
        check_flag(where, "progress", self.progress)
        if self.resume and self.checkpoint_dir is None:
            raise ValueError(f"{where}.resume=True needs a checkpoint_dir")
        if not isinstance(self.env, (str, dict, EdgeConfig)):
            raise ValueError(f"{where}.env must be an EdgeConfig, a preset name or a dict of EdgeConfig fields, "
                             f"got {self.env!r}")
        try:
            resolve_config(self.env)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}.env: {exc}") from None

    @classmethod
    def released(cls, agent: str = "adsac", **kw: Any) -> "TrainConfig":
        """The released schedule: 1000 epochs × (1000 env steps on 1 env, 1000 updates at batch 512,
        1 test episode), buffer 1e6, n = 3, γ = 0.95."""
        base = dict(agent=agent, num_envs=1, epochs=1000, steps_per_epoch=1000, updates_per_epoch=1000,
                    batch_size=512, buffer_size=1_000_000)
        base.update(kw)
        return cls(**base)

    def settings(self) -> Dict[str, Any]:
        """What the run computes, as plain data (the checkpoint's config): every field but `RUN_CONTROL`."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in RUN_CONTROL}
        out["env"] = dataclasses.asdict(self.env) if isinstance(self.env, EdgeConfig) else self.env
        return out


@dataclass
class TrainResult:
    """The trained agent, the per-epoch curves (eval_* NaN on epochs without evaluation; `seconds`
    since the run began) and the wall time."""
    agent: Union[SACAgent, DQNAgent]
    curves: Dict[str, List[float]]
    seconds: float


class _Loop:
    """The moving parts of a run besides the agent: envs, replay buffer, the current observations,
    the running episode returns and the step / update counters. All its randomness comes from `gen`."""

    def __init__(self, c: TrainConfig, cfg: EdgeConfig, agent, gen: torch.Generator):
        self.c, self.cfg, self.agent, self.gen = c, cfg, agent, gen
        self.env = BatchedEdgeEnv(cfg, num_envs=c.num_envs, world_seed=c.world_seed, rng=c.rng)
        self.buffer = ReplayBuffer(c.buffer_size, cfg.obs_dim, c.num_envs, c.n_step, c.gamma)
        self.obs, _ = self.env.reset(seed=c.seed * 1000 + 1)
        self.episode_return = np.zeros(c.num_envs)
        self.finished: List[float] = []          # returns of the last finished episodes (at most num_envs)
        self.env_steps = self.updates = 0

    def collect(self) -> None:
        """`steps_per_epoch` env steps (rounded down to whole batched steps, at least one) into the buffer."""
        c = self.c
        for _ in range(max(1, c.steps_per_epoch // c.num_envs)):
            if self.env_steps < c.warmup_steps:
                action = torch.randint(self.cfg.n_actions, (c.num_envs,), generator=self.gen).numpy()
            else:
                action = self.agent.act(self.obs, generator=self.gen)
            next_obs, reward, term, trunc, info = self.env.step(action)
            ended = term | trunc
            real_next = np.where(ended[:, None], info["final_obs"], next_obs) if ended.any() else next_obs
            self.buffer.add(self.obs, action, reward, real_next, term, trunc)
            self.episode_return += reward
            self.finished = (self.finished + self.episode_return[ended].tolist())[-c.num_envs:]
            self.episode_return[ended] = 0.0
            self.obs = next_obs
            self.env_steps += c.num_envs

    def learn(self) -> List[float]:
        """`updates_per_epoch` updates once the buffer holds a batch; their critic losses."""
        c = self.c
        if len(self.buffer) < c.batch_size:
            return []
        losses = [self.agent.update(self.buffer.sample(c.batch_size, self.gen), self.gen)["critic_loss"]
                  for _ in range(c.updates_per_epoch)]
        self.updates += len(losses)
        return losses

    def run_epoch(self, epoch: int) -> Dict[str, float]:
        c = self.c
        self.collect()
        losses = self.learn()
        ev = None
        if (epoch + 1) % c.eval_every == 0 or epoch + 1 == c.epochs:
            ev = evaluate(self.agent, self.cfg, c.world_seed, c.eval_seeds, c.rng, seed=c.seed)
        nan = float("nan")
        return {"epoch": epoch, "env_steps": self.env_steps, "updates": self.updates,
                "train_return": float(np.mean(self.finished)) if self.finished else nan,
                "eval_return": float(ev["return"].mean()) if ev else nan,
                "eval_crashes": float(ev["server_crashes"].mean()) if ev else nan,
                "critic_loss": float(np.mean(losses)) if losses else nan}

    def state_dict(self) -> Dict[str, Any]:
        return {"env": self.env.state_dict(), "buffer": self.buffer.state_dict(), "obs": torch.from_numpy(self.obs),
                "episode_return": torch.from_numpy(self.episode_return.copy()), "finished": list(self.finished),
                "env_steps": self.env_steps, "updates": self.updates}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.env.load_state_dict(state["env"])
        self.buffer.load_state_dict(state["buffer"])
        self.obs = state["obs"].numpy().copy()
        self.episode_return = state["episode_return"].numpy().copy()
        self.finished = list(state["finished"])
        self.env_steps, self.updates = int(state["env_steps"]), int(state["updates"])


def train(c: TrainConfig, log: Optional[Callable[[dict], None]] = None) -> TrainResult:
    """Trains `c.agent` (see the module docstring); `log` receives each epoch's row of the curves.

    Everything random is seeded from `c.seed`; the caller's global torch RNG state is restored
    afterwards (the networks' initialisation and dropout draw from it inside the run)."""
    if not isinstance(c, TrainConfig):
        raise TypeError(f"{WHO}.train: c must be a TrainConfig, got {type(c).__name__}")
    if log is not None and not callable(log):
        raise TypeError(f"{WHO}.train: log must be callable or None, got {type(log).__name__}")
    cfg = resolve_config(c.env)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(c.seed)
        gen = torch.Generator().manual_seed(c.seed)
        agent = make_agent(c.agent, cfg, c.hidden, c.T, attention_mode=c.attention_mode, **c.agent_kwargs)
        loop = _Loop(c, cfg, agent, gen)
        ckpt = Checkpoint(Path(c.checkpoint_dir) / "last.pt", c.settings(), owner=WHO) if c.checkpoint_dir else None
        state = TrainState(agent=agent, loop=loop, generator=gen, torch_rng=GlobalTorchRNG())
        curves = fit(c.epochs, loop.run_epoch, state=state, checkpoint=ckpt, resume=c.resume,
                     every=c.checkpoint_every, desc=f"edge: {c.agent}", progress=c.progress, log=log)
    return TrainResult(agent, curves, curves["seconds"][-1] if curves.get("seconds") else 0.0)
