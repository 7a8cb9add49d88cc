"""Heuristic baselines of the ADSAC paper.

Every policy has `act(obs, info)` for the single env (info of `EdgeAIGCEnv`) and
`act_batch(obs, info)` for `BatchedEdgeEnv` (info arrays with a leading env axis).
- RandomPolicy(seed): uniform joint action from its own Generator.
- RoundRobin: a = num_steps mod |A| (steps taken in this episode).
- CrashAvoid: the server with the most free capacity (first on ties), always model 0.
- Prophet(env): oracle; the (e, m) with the highest immediate utility among servers with room,
  first strict maximum in (e, m) order, action 0 if no utility is > 0 (as the original).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional, Union

import numpy as np

if TYPE_CHECKING:
    from .batched import BatchedEdgeEnv
    from .env import EdgeAIGCEnv

__all__ = ["RandomPolicy", "RoundRobin", "CrashAvoid", "Prophet", "POLICIES"]


def _count(who: str, name: str, v) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or not 1 <= v <= 2 ** 31 - 1:
        raise ValueError(f"pyalgo.edge.{who}: {name} must be an integer in [1, 2**31), got {v!r}")
    return int(v)


class RandomPolicy:
    def __init__(self, n_actions: int, seed: Optional[int] = None) -> None:
        self.n_actions = _count("RandomPolicy", "n_actions", n_actions)
        if seed is not None and (isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise ValueError(f"pyalgo.edge.RandomPolicy: seed must be an integer >= 0 or None, got {seed!r}")
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return int(self.rng.integers(self.n_actions))

    def act_batch(self, obs: np.ndarray, info: Mapping[str, Any]) -> np.ndarray:
        return self.rng.integers(self.n_actions, size=len(info["num_steps"]))


class RoundRobin:
    def __init__(self, n_actions: int) -> None:
        self.n_actions = _count("RoundRobin", "n_actions", n_actions)

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return int(info["num_steps"]) % self.n_actions

    def act_batch(self, obs: np.ndarray, info: Mapping[str, Any]) -> np.ndarray:
        return np.asarray(info["num_steps"]) % self.n_actions


class CrashAvoid:
    def __init__(self, n_models: int) -> None:
        self.n_models = _count("CrashAvoid", "n_models", n_models)

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return int(np.argmax(info["server_free"])) * self.n_models

    def act_batch(self, obs: np.ndarray, info: Mapping[str, Any]) -> np.ndarray:
        return np.argmax(info["server_free"], axis=1) * self.n_models


class Prophet:
    """Oracle: reads the env's hidden utility table (`env.unwrapped.world.util_table`)."""

    def __init__(self, env: Union[EdgeAIGCEnv, BatchedEdgeEnv]) -> None:
        world = getattr(getattr(env, "unwrapped", None), "world", None)
        if world is None or not hasattr(world, "util_table"):
            raise TypeError(f"pyalgo.edge.Prophet: env must be an EdgeAIGCEnv or BatchedEdgeEnv, "
                            f"got {type(env).__name__}")
        self.table = world.util_table  # (E, M, K, D)
        self.n_models = self.table.shape[1]

    def _pick(self, free: np.ndarray, k: np.ndarray, d: np.ndarray, t: np.ndarray) -> np.ndarray:
        # free: (N, E); k, d, t: (N,)
        u = self.table[:, :, k, d]                      # (E, M, N)
        u = np.moveaxis(u, -1, 0)                       # (N, E, M)
        room = (free >= t[:, None])[:, :, None]
        vals = np.where(room, u, -np.inf).reshape(len(k), -1)
        best = np.argmax(vals, axis=1)
        ok = vals[np.arange(len(k)), best] > 0.0
        return np.where(ok, best, 0)

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        a = self._pick(np.asarray(info["server_free"])[None], np.array([info["task_type"]]),
                       np.array([info["task_demand_idx"]]), np.array([info["task_demand"]]))
        return int(a[0])

    def act_batch(self, obs: np.ndarray, info: Mapping[str, Any]) -> np.ndarray:
        return self._pick(np.asarray(info["server_free"]), np.asarray(info["task_type"]),
                          np.asarray(info["task_demand_idx"]), np.asarray(info["task_demand"]))


POLICIES = {"random": RandomPolicy, "roundrobin": RoundRobin, "crashavoid": CrashAvoid, "prophet": Prophet}
