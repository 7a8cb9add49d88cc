"""The evaluation protocol: whole episodes of a policy on given reset seeds, stepped together in one
`BatchedEdgeEnv`.

    from pyalgo.edge.episodes import evaluate, evaluate_heuristic
    evaluate_heuristic("crashavoid", "adsac", seeds=(0,), rng="legacy")["return"]    # array([1113.677686])
    evaluate(agent, "small", seeds=range(100, 108))["return"].mean()

`evaluate` plays the argmax of an agent's policy (the released test protocol); the diffusion chain's
noise comes from a generator seeded with `seed`, so an evaluation is deterministic.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Literal, Optional, Sequence, Union

import numpy as np
import torch

from .agents import DQNAgent, SACAgent
from .batched import BatchedEdgeEnv
from .config import EdgeConfig
from .core import check_seed, resolve_config
from .heuristics import CrashAvoid, Prophet, RandomPolicy, RoundRobin

__all__ = ["HEURISTICS", "run_episodes", "evaluate", "evaluate_heuristic"]

HEURISTICS = ("random", "roundrobin", "crashavoid", "prophet")


MAX_EPISODES = 2 ** 16


def _check_run(who: str, world_seed, seeds, rng) -> list:
    """The reset seeds as a list, or a ValueError naming `who` and the argument."""
    if not isinstance(rng, str) or rng not in ("numpy", "legacy"):
        raise ValueError(f"{who}: rng must be 'numpy' or 'legacy', got {rng!r}")
    check_seed(who, "world_seed", world_seed, rng == "legacy")
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__") or not 1 <= len(seeds) <= MAX_EPISODES:
        raise ValueError(f"{who}: seeds must be a non-empty sequence of at most {MAX_EPISODES} reset seeds, "
                         f"got {seeds!r}")
    return [check_seed(who, "seeds", s, rng == "legacy") for s in seeds]


def run_episodes(act: Callable[[np.ndarray, Dict[str, Any], BatchedEdgeEnv], np.ndarray], cfg: EdgeConfig,
                 world_seed: int, seeds: Sequence[int], rng: Literal["numpy", "legacy"] = "numpy",
                 env: Optional[BatchedEdgeEnv] = None) -> Dict[str, np.ndarray]:
    """One episode per reset seed, all stepped together in one batched env.

    An env that has finished keeps stepping (auto-reset) but is no longer counted.

    Args:
        act: act(obs, info, env) -> actions (N,).
        cfg: the configuration.
        world_seed: the world's seed.
        seeds: one reset seed per episode.
        rng: "numpy" or "legacy".
        env: a `BatchedEdgeEnv` to reuse (None: one is built).

    Returns:
        Per-episode return, steps, server crash events, tasks crashed and finished, each (N,).

    Raises:
        TypeError: `act` is not callable.

    Example:
        out = run_episodes(lambda obs, info, env: np.zeros(len(obs), np.int64), cfg, 0, seeds=range(8))
    """
    if not callable(act):
        raise TypeError(f"pyalgo.edge.episodes.run_episodes: act must be callable, got {type(act).__name__}")
    seeds = _check_run("pyalgo.edge.episodes.run_episodes", world_seed, seeds, rng)
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


def heuristic_act(name: str, cfg: EdgeConfig, seed: int = 0) -> Callable:
    """act(obs, info, env) of a heuristic baseline (`HEURISTICS`); `seed` seeds Random."""
    if name == "prophet":
        cache = {}

        def act(obs, info, env):
            if id(env) not in cache:
                cache[id(env)] = Prophet(env)
            return cache[id(env)].act_batch(obs, info)
        return act
    policies: Dict[str, Callable[[], Union[RandomPolicy, RoundRobin, CrashAvoid]]] = {"random": lambda: RandomPolicy(cfg.n_actions, seed=seed),
                "roundrobin": lambda: RoundRobin(cfg.n_actions), "crashavoid": lambda: CrashAvoid(cfg.n_models)}
    if name not in policies:
        raise ValueError(f"pyalgo.edge.episodes: heuristic must be one of {HEURISTICS}, got {name!r}")
    policy = policies[name]()
    return lambda obs, info, env: policy.act_batch(obs, info)


def evaluate_heuristic(name: str, cfg: Union[str, EdgeConfig], world_seed: int = 0, seeds: Sequence[int] = (0,),
                       rng: Literal["numpy", "legacy"] = "numpy", seed: int = 0) -> Dict[str, np.ndarray]:
    """Episodes of a heuristic on the given reset seeds.

    Args:
        name: "random", "roundrobin", "crashavoid" or "prophet".
        cfg: the configuration or a preset name.
        world_seed: the world's seed.
        seeds: one reset seed per episode.
        rng: "numpy" or "legacy".
        seed: the seed of the random policy.

    Returns:
        Per-episode return, steps, server crash events, tasks crashed and finished, each (N,).

    Raises:
        ValueError: unknown `name` or invalid seeds.

    Example:
        evaluate_heuristic("crashavoid", "adsac", seeds=(0,), rng="legacy")["return"]
    """
    who = "pyalgo.edge.episodes.evaluate_heuristic"
    if not isinstance(name, str) or name not in HEURISTICS:
        raise ValueError(f"{who}: name: pyalgo.edge.episodes: heuristic must be one of {HEURISTICS}, got {name!r}")
    cfg = _config(who, cfg)
    _check_run(who, world_seed, seeds, rng)
    check_seed(who, "seed", seed, False)
    return run_episodes(heuristic_act(name, cfg, seed), cfg, world_seed, seeds, rng)


def evaluate(agent: Union[SACAgent, DQNAgent], cfg: Union[str, EdgeConfig], world_seed: int = 0,
             seeds: Sequence[int] = (0,),
             rng: Literal["numpy", "legacy"] = "numpy", deterministic: bool = True,
             seed: int = 0) -> Dict[str, np.ndarray]:
    """Episodes of an agent on the given reset seeds.

    The agent acts by the argmax of π by default (the released test protocol), with its networks in
    eval mode (restored afterwards); the diffusion chain's noise comes from a generator seeded with
    `seed`.

    Args:
        agent: a `SACAgent` or `DQNAgent`.
        cfg: the configuration or a preset name.
        world_seed: the world's seed.
        seeds: one reset seed per episode.
        rng: "numpy" or "legacy".
        deterministic: act by the argmax of π instead of sampling.
        seed: the seed of the diffusion noise.

    Returns:
        Per-episode return, steps, server crash events, tasks crashed and finished, each (N,).

    Raises:
        TypeError: `agent` is not an agent.
        ValueError: invalid seeds.

    Example:
        evaluate(result.agent, "small", seeds=range(100, 108))["return"].mean()
    """
    who = "pyalgo.edge.episodes.evaluate"
    if not isinstance(agent, (SACAgent, DQNAgent)):
        raise TypeError(f"{who}: agent must be a SACAgent or DQNAgent (pyalgo.edge.agents), got {type(agent).__name__}")
    cfg = _config(who, cfg)
    if (agent.state_dim, agent.action_dim) != (cfg.obs_dim, cfg.n_actions):
        raise ValueError(f"{who}: agent (state_dim {agent.state_dim}, actions {agent.action_dim}) does not fit cfg "
                         f"(obs_dim {cfg.obs_dim}, n_actions {cfg.n_actions})")
    _check_run(who, world_seed, seeds, rng)
    check_seed(who, "seed", seed, True)          # torch.Generator.manual_seed: < 2**64; keep to 32 bits
    gen = torch.Generator().manual_seed(seed)
    modules = _modules(agent)
    was_training = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        return run_episodes(lambda obs, info, env: agent.act(obs, deterministic, gen), cfg, world_seed, seeds, rng)
    finally:
        for m, flag in zip(modules, was_training):
            m.train(flag)


def _config(who: str, cfg) -> EdgeConfig:
    try:
        return resolve_config(cfg)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{who}: cfg: {exc}") from None


def _modules(agent) -> List[torch.nn.Module]:
    return [agent.policy] if isinstance(agent, SACAgent) else [agent.q]
