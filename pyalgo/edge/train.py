"""Training and evaluation for edge AIGC service selection (spec adsac.md §2 "Training length").

    from pyalgo.edge.train import TrainConfig, train
    result = train(TrainConfig(agent="adsac", env="small", epochs=20))
    result.curves["eval_return"]                      # one evaluation per epoch

Each epoch: collect `steps_per_epoch` env steps with the stochastic policy over `num_envs`
batched envs into the n-step replay buffer, run `updates_per_epoch` gradient updates at
`batch_size`, then evaluate deterministic (argmax) episodes on fixed seeds. The released schedule
is 1000 epochs × (1000 steps, 1000 updates at batch 512, 1 test episode); `TrainConfig.released()`.
Checkpoints (agent, optimisers, buffer, env and RNG states) make `resume=True` continue exactly
where a run stopped.
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch

from .agents import (AttentionDenoiser, CategoricalPolicy, DiffusionActor, DoubleQCritic, DQNAgent, MLPDenoiser,
                     ObsLayout, QNetwork, ReplayBuffer, SACAgent)
from .batched import BatchedEdgeEnv
from .config import EdgeConfig
from .env import resolve_config
from .heuristics import CrashAvoid, Prophet, RandomPolicy, RoundRobin

__all__ = ["AGENTS", "HEURISTICS", "layout_of", "make_agent", "evaluate", "evaluate_heuristic", "TrainConfig",
           "TrainResult", "train"]

AGENTS = ("adsac", "d2sac", "sac", "dqn")
HEURISTICS = ("random", "roundrobin", "crashavoid", "prophet")


def layout_of(cfg: EdgeConfig) -> ObsLayout:
    """Where the per-server features sit in `cfg`'s observation."""
    if cfg.layout == "adsac":
        return ObsLayout(task_dim=cfg.n_types + 2, n_servers=cfg.n_servers, server_dim=3, n_models=cfg.n_models)
    return ObsLayout(task_dim=2, n_servers=cfg.n_servers, server_dim=2, n_models=cfg.n_models, servers_first=True)


def make_agent(name: str, cfg: EdgeConfig, hidden: int = 256, T: int = 5, schedule: str = "vp",
               attention_mode: str = "server_tokens", **agent_kwargs):
    """`adsac` (diffusion actor, attention denoiser), `d2sac` (diffusion actor, MLP denoiser), `sac`
    (categorical actor) or `dqn`, sized for `cfg`'s observation and action spaces."""
    S, A = cfg.obs_dim, cfg.n_actions
    if name == "dqn":
        return DQNAgent(QNetwork(S, A, hidden), **agent_kwargs)
    if name == "sac":
        policy = CategoricalPolicy(S, A, hidden)
    elif name == "d2sac":
        policy = DiffusionActor(MLPDenoiser(S, A, hidden), A, T=T, schedule=schedule)
    elif name == "adsac":
        policy = DiffusionActor(AttentionDenoiser(layout_of(cfg), hidden, mode=attention_mode), A, T=T, schedule=schedule)
    else:
        raise ValueError(f"pyalgo.edge.make_agent: agent must be one of {AGENTS}, got {name!r}")
    return SACAgent(policy, DoubleQCritic(S, A, hidden), **agent_kwargs)


def run_episodes(act: Callable, cfg: EdgeConfig, world_seed: int, seeds: Sequence[int], rng: str = "numpy",
                 env: Optional[BatchedEdgeEnv] = None) -> Dict[str, np.ndarray]:
    """One episode per reset seed, all stepped together in one batched env; act(obs, info, env) ->
    actions (N,). An env that has finished keeps stepping (auto-reset) but is no longer counted.
    Returns per-episode return, steps, server crash events, tasks crashed and finished."""
    env = env or BatchedEdgeEnv(cfg, num_envs=len(seeds), world_seed=world_seed, rng=rng)
    obs, info = env.reset(seed=list(seeds))
    n = len(seeds)
    out = {"return": np.zeros(n), "steps": np.zeros(n, np.int64), "server_crashes": np.zeros(n, np.int64),
           "tasks_crashed": np.zeros(n, np.int64), "tasks_finished": np.zeros(n, np.int64)}
    live = np.ones(n, bool)
    while live.any():
        obs, reward, term, trunc, info = env.step(np.asarray(act(obs, info, env), dtype=np.int64))
        out["return"] += np.where(live, reward, 0.0)
        out["steps"] += live
        ended = live & (term | trunc)
        if ended.any():
            final = info["final_info"]
            for key, name in (("server_crashes", "n_crashes"), ("tasks_crashed", "tasks_crashed"),
                              ("tasks_finished", "tasks_finished")):
                out[key][ended] = np.asarray(final[name])[ended]
            live &= ~ended
    return out


def _heuristic(name: str, cfg: EdgeConfig, seed: int = 0):
    """act(obs, info, env) of a heuristic baseline."""
    if name == "random":
        policy = RandomPolicy(cfg.n_actions, seed=seed)
    elif name == "roundrobin":
        policy = RoundRobin(cfg.n_actions)
    elif name == "crashavoid":
        policy = CrashAvoid(cfg.n_models)
    elif name == "prophet":
        cache = {}

        def act(obs, info, env):
            if id(env) not in cache:
                cache[id(env)] = Prophet(env)
            return cache[id(env)].act_batch(obs, info)
        return act
    else:
        raise ValueError(f"pyalgo.edge: heuristic must be one of {HEURISTICS}, got {name!r}")
    return lambda obs, info, env: policy.act_batch(obs, info)


def evaluate_heuristic(name: str, cfg: Union[str, EdgeConfig], world_seed: int = 0, seeds: Sequence[int] = (0,),
                       rng: str = "numpy", seed: int = 0) -> Dict[str, np.ndarray]:
    """Episodes of a heuristic (`random`, `roundrobin`, `crashavoid`, `prophet`) on the given reset seeds."""
    cfg = resolve_config(cfg)
    return run_episodes(_heuristic(name, cfg, seed), cfg, world_seed, seeds, rng)


def evaluate(agent, cfg: Union[str, EdgeConfig], world_seed: int = 0, seeds: Sequence[int] = (0,),
             rng: str = "numpy", deterministic: bool = True, seed: int = 0) -> Dict[str, np.ndarray]:
    """Episodes of an agent (argmax of π by default, as the released test protocol) on the given reset
    seeds; the diffusion chain's noise comes from a generator seeded with `seed`."""
    cfg = resolve_config(cfg)
    gen = torch.Generator().manual_seed(seed)
    was_training = [m.training for m in _modules(agent)]
    for m in _modules(agent):
        m.eval()
    try:
        return run_episodes(lambda obs, info, env: agent.act(obs, deterministic, gen), cfg, world_seed, seeds, rng)
    finally:
        for m, flag in zip(_modules(agent), was_training):
            m.train(flag)


def _modules(agent) -> List[torch.nn.Module]:
    return [agent.policy] if isinstance(agent, SACAgent) else [agent.q]


@dataclass
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

    @classmethod
    def released(cls, agent: str = "adsac", **kw) -> "TrainConfig":
        """The released schedule: 1000 epochs × (1000 env steps on 1 env, 1000 updates at batch 512,
        1 test episode), buffer 1e6, n = 3, γ = 0.95 (spec §2)."""
        base = dict(agent=agent, num_envs=1, epochs=1000, steps_per_epoch=1000, updates_per_epoch=1000,
                    batch_size=512, buffer_size=1_000_000)
        base.update(kw)
        return cls(**base)


@dataclass
class TrainResult:
    """The trained agent, the per-epoch curves (eval_* NaN on epochs without evaluation) and the time."""
    agent: object
    curves: Dict[str, List[float]]
    seconds: float


def _validate(c: TrainConfig) -> EdgeConfig:
    if c.agent not in AGENTS:
        raise ValueError(f"pyalgo.edge.train: agent must be one of {AGENTS}, got {c.agent!r}")
    for name in ("num_envs", "epochs", "steps_per_epoch", "batch_size", "buffer_size", "n_step", "eval_every"):
        v = getattr(c, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"pyalgo.edge.train: {name} must be an integer >= 1, got {v!r}")
    if c.updates_per_epoch < 0:
        raise ValueError(f"pyalgo.edge.train: updates_per_epoch must be >= 0, got {c.updates_per_epoch!r}")
    return resolve_config(c.env)


def train(c: TrainConfig, log: Optional[Callable[[dict], None]] = None) -> TrainResult:
    """Trains `c.agent` (see module docstring); `log` receives each epoch's row of the curves.

    Everything random is seeded from `c.seed`; the caller's global torch RNG state is restored
    afterwards (the networks' initialisation and dropout draw from it inside the run)."""
    cfg = _validate(c)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(c.seed)
        return _train(c, cfg, log)


def _train(c: TrainConfig, cfg: EdgeConfig, log: Optional[Callable[[dict], None]]) -> TrainResult:
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(c.seed)
    agent = make_agent(c.agent, cfg, c.hidden, c.T, attention_mode=c.attention_mode, **c.agent_kwargs)
    env = BatchedEdgeEnv(cfg, num_envs=c.num_envs, world_seed=c.world_seed, rng=c.rng)
    buffer = ReplayBuffer(c.buffer_size, cfg.obs_dim, c.num_envs, c.n_step, c.gamma)
    curves: Dict[str, List[float]] = {k: [] for k in ("epoch", "env_steps", "updates", "train_return",
                                                      "eval_return", "eval_crashes", "critic_loss", "seconds")}
    obs, _ = env.reset(seed=c.seed * 1000 + 1)
    episode_return = np.zeros(c.num_envs)
    finished: List[float] = []
    start_epoch, env_steps, updates, elapsed = 0, 0, 0, 0.0
    ckpt = Path(c.checkpoint_dir) / "last.pt" if c.checkpoint_dir else None
    if c.resume and ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        agent.load_state_dict(state["agent"])
        env, buffer, obs, episode_return = state["env"], state["buffer"], state["obs"], state["episode_return"]
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        curves, start_epoch, env_steps, updates, elapsed = (state["curves"], state["epoch"] + 1, state["env_steps"],
                                                            state["updates"], state["seconds"])
    steps_per_collect = max(1, c.steps_per_epoch // c.num_envs)
    bar = tqdm(range(start_epoch, c.epochs), desc=f"edge: {c.agent}", disable=not c.progress)
    t0 = time.perf_counter() - elapsed
    for epoch in bar:
        for _ in range(steps_per_collect):
            if env_steps < c.warmup_steps:
                action = torch.randint(cfg.n_actions, (c.num_envs,), generator=gen).numpy()
            else:
                action = agent.act(obs, generator=gen)
            next_obs, reward, term, trunc, info = env.step(action)
            ended = term | trunc
            real_next = np.where(ended[:, None], info["final_obs"], next_obs) if ended.any() else next_obs
            buffer.add(obs, action, reward, real_next, term, trunc)
            episode_return += reward
            finished.extend(episode_return[ended].tolist())
            episode_return[ended] = 0.0
            obs = next_obs
            env_steps += c.num_envs
        losses = [agent.update(buffer.sample(c.batch_size, gen), gen)["critic_loss"]
                  for _ in range(c.updates_per_epoch)] if len(buffer) >= c.batch_size else []
        updates += len(losses)
        last = epoch + 1 == c.epochs
        ev = evaluate(agent, cfg, c.world_seed, c.eval_seeds, c.rng, seed=c.seed) \
            if (epoch + 1) % c.eval_every == 0 or last else None
        row = {"epoch": epoch, "env_steps": env_steps, "updates": updates,
               "train_return": float(np.mean(finished[-c.num_envs:])) if finished else float("nan"),
               "eval_return": float(ev["return"].mean()) if ev else float("nan"),
               "eval_crashes": float(ev["server_crashes"].mean()) if ev else float("nan"),
               "critic_loss": float(np.mean(losses)) if losses else float("nan"),
               "seconds": time.perf_counter() - t0}
        for k, v in row.items():
            curves[k].append(v)
        if ev:
            bar.set_postfix(eval=f"{row['eval_return']:.1f}", crashes=f"{row['eval_crashes']:.0f}")
        if log:
            log(row)
        if ckpt is not None and ((epoch + 1) % c.checkpoint_every == 0 or epoch + 1 == c.epochs):
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            tmp = ckpt.with_suffix(".tmp")
            torch.save({"agent": agent.state_dict(), "env": env, "buffer": buffer, "obs": obs,
                        "episode_return": episode_return, "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
                        "curves": curves, "epoch": epoch, "env_steps": env_steps, "updates": updates,
                        "seconds": row["seconds"], "config": dataclasses.asdict(c) | {"env": str(c.env)}}, tmp)
            os.replace(tmp, ckpt)
    bar.close()
    return TrainResult(agent, curves, time.perf_counter() - t0)
