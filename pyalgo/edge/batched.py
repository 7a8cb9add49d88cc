"""Native batched edge AIGC environment: N envs in one struct of arrays.

`BatchedEdgeEnv` steps N copies of `EdgeAIGCEnv` at once through the same `core_step` /
`build_obs` math (envs × servers × running slots; release via a finish-time array). Env i
seeded with s_i gives exactly the trajectory of `EdgeAIGCEnv(config, world_seed, rng)` after
`reset(seed=s_i)` (same world for every env). Finished envs auto-reset in the same step
(their next episode continues that env's stream, like `reset()` without a seed); the last
observation of the finished episode is in `info["final_obs"]` with mask `info["_final_obs"]`.

It needs numpy only: its Gymnasium spaces are built (importing gymnasium) when first asked for.
`state_dict()` / `load_state_dict()` save and restore the running envs and their episode
generators as tensors and plain data (for checkpoints loaded with `torch.load(weights_only=True)`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .core import (SlotState, build_obs, check_action, check_seed, core_step, obs_bounds, resolve_config, sample_episode,
                   sample_world, step_info)
from .config import EdgeConfig

if TYPE_CHECKING:
    from gymnasium import spaces

__all__ = ["BatchedEdgeEnv"]

NAME = "pyalgo.edge.BatchedEdgeEnv"


MAX_ENVS = 2 ** 20


class BatchedEdgeEnv:
    """N edge AIGC envs sharing one world.

    Args: config, world_seed, rng ("numpy" | "legacy"), end_as_truncation as in EdgeAIGCEnv;
    num_envs N; autoreset (same-step auto-reset of finished envs, default True).
    """

    def __init__(self, config: Union[EdgeConfig, str, Dict[str, Any]] = "adsac", num_envs: int = 64,
                 world_seed: int = 0, rng: Literal["numpy", "legacy"] = "numpy", end_as_truncation: bool = False,
                 autoreset: bool = True) -> None:
        if rng not in ("numpy", "legacy"):
            raise ValueError(f"{NAME}: rng must be 'numpy' or 'legacy', got {rng!r}")
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or not 1 <= num_envs <= MAX_ENVS:
            raise ValueError(f"{NAME}: num_envs must be a positive integer <= {MAX_ENVS}, got {num_envs!r}")
        self.config = resolve_config(config)
        self.num_envs = int(num_envs)
        self.world_seed = check_seed(NAME, "world_seed", world_seed, rng == "legacy")
        self.rng_mode = rng
        self.legacy = rng == "legacy"
        self.end_as_truncation = bool(end_as_truncation)
        self.autoreset = bool(autoreset)
        self.world = sample_world(self.config, world_seed, rng)
        self._spaces: Optional[Dict[str, Any]] = None
        self._state = SlotState(self.config, self.world, self.num_envs, self.legacy)
        self._gens: List[Union[np.random.Generator, np.random.RandomState, None]] = [None] * self.num_envs
        self._done = np.ones(self.num_envs, bool)
        self._zero = (np.zeros(self.num_envs, bool), np.zeros(self.num_envs), np.zeros(self.num_envs))

    @property
    def unwrapped(self) -> BatchedEdgeEnv:
        """This env (for code written against gymnasium's wrappers)."""
        return self

    # ---- Gymnasium spaces (gymnasium loads here, on first use)
    def _space(self, name: str) -> Any:
        if self._spaces is None:
            from gymnasium import spaces

            lo, hi = obs_bounds(self.config, self.legacy)
            N, A = self.num_envs, self.config.n_actions
            self._spaces = dict(
                single_observation_space=spaces.Box(lo, hi, dtype=np.float32),
                single_action_space=spaces.Discrete(A),
                observation_space=spaces.Box(np.tile(lo, (N, 1)), np.tile(hi, (N, 1)), dtype=np.float32),
                action_space=spaces.MultiDiscrete(np.full(N, A)))
        return self._spaces[name]

    @property
    def single_observation_space(self) -> spaces.Box:
        """The Box of one env's observation (obs_dim,) float32."""
        return self._space("single_observation_space")

    @property
    def single_action_space(self) -> spaces.Discrete:
        """Discrete(n_actions): one env's joint action."""
        return self._space("single_action_space")

    @property
    def observation_space(self) -> spaces.Box:
        """The Box of the batched observations (N, obs_dim) float32."""
        return self._space("observation_space")

    @property
    def action_space(self) -> spaces.MultiDiscrete:
        """MultiDiscrete([n_actions] * N): the batched actions."""
        return self._space("action_space")

    def _new_gen(self, seed: Optional[int]) -> Union[np.random.Generator, np.random.RandomState]:
        """The episode generator of one env: RandomState(seed or 0) in legacy mode, else the PCG64
        Generator that gymnasium's `Env.reset(seed=seed)` makes (fresh entropy when seed is None)."""
        limit = 2 ** 32 if self.legacy else 2 ** 128
        if seed is not None and (isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer))
                                 or not 0 <= seed < limit):
            raise ValueError(f"{NAME}: seeds must be integers >= 0 or None (below 2**{32 if self.legacy else 128}), "
                             f"got {seed!r}")
        if self.legacy:
            return np.random.RandomState(0 if seed is None else seed)
        return np.random.default_rng(seed)

    def reset(self, *, seed: Union[int, Sequence[Optional[int]], None] = None,
              options: Optional[Dict[str, Any]] = None) -> Tuple[np.ndarray, Dict[str, Any]]:
        """seed: None, an int s (env i gets s + i) or a sequence of N seeds."""
        N = self.num_envs
        seeds: List[Optional[int]]
        if seed is None:
            seeds = [None] * N
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
            seeds = [int(seed) + i for i in range(N)]
        else:
            if isinstance(seed, (str, bytes, bool, np.bool_, float)) or not hasattr(seed, "__len__"):
                raise ValueError(f"{NAME}: reset seed must be None, an integer or a sequence of {N} seeds, "
                                 f"got {seed!r}")
            seeds = list(seed)
            if len(seeds) != N:
                raise ValueError(f"{NAME}: reset got {len(seeds)} seeds for {N} envs")
        for i, s in enumerate(seeds):
            gen = self._gens[i]
            if s is not None or gen is None:
                gen = self._gens[i] = self._new_gen(s)
            self._state.load(i, sample_episode(self.config, gen, self.legacy))
        self._done[:] = False
        return build_obs(self._state), step_info(self._state, *self._zero)

    def _check_actions(self, actions: Union[np.ndarray, Sequence[int]]) -> np.ndarray:
        a = np.asarray(actions)
        if a.shape != (self.num_envs,):
            raise ValueError(f"{NAME}: actions must have shape ({self.num_envs},), got {a.shape}")
        if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"{NAME}: actions must be integers, got dtype {a.dtype}")
        bad = (a < 0) | (a >= self.config.n_actions)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            check_action(int(a[i]), self.config.n_actions, who=f"{NAME}[env {i}]")
        return a.astype(np.int64)

    def step(self, actions: Union[np.ndarray, Sequence[int]]
             ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Dict[str, Any]]:
        """Steps every env: (obs (N, obs_dim), reward (N,), terminated (N,), truncated (N,), info)."""
        if self._done.any():
            raise RuntimeError(f"{NAME}: step() called before reset() or on finished envs without autoreset")
        a = self._check_actions(actions)
        st = self._state
        reward, crashed, penalty, util, term = core_step(st, a)
        obs = build_obs(st)
        info = step_info(st, crashed, penalty, util)
        terminated = term & (not self.end_as_truncation)
        truncated = term & self.end_as_truncation
        if term.any():
            if self.autoreset:
                info["final_obs"] = obs.copy()
                info["_final_obs"] = term.copy()
                info["final_info"] = {k: np.copy(v) for k, v in info.items() if not k.startswith(("final", "_final"))}
                for i in np.flatnonzero(term).tolist():
                    gen = self._gens[i]
                    assert gen is not None   # every env was reset
                    st.load(i, sample_episode(self.config, gen, self.legacy))
                obs = build_obs(st)
                fresh = step_info(st, *self._zero)
                for key, val in fresh.items():
                    cur = info[key]
                    if isinstance(cur, np.ndarray) and cur.shape[:1] == (self.num_envs,):
                        cur = cur.copy()
                        cur[term] = val[term]
                        info[key] = cur
            else:
                self._done |= term
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        """Nothing to release (for the gymnasium vector-env interface)."""
        pass

    # ---- checkpoints
    def state_dict(self) -> Dict[str, Any]:
        """The running envs and their episode generators, as tensors and plain data."""
        import torch

        return {"num_envs": self.num_envs, "world_seed": int(self.world_seed), "rng": self.rng_mode,
                "arrays": {k: torch.from_numpy(v) for k, v in self._state.arrays().items()},
                "done": torch.from_numpy(self._done.copy()), "generators": [_gen_state(g) for g in self._gens]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores `state_dict()` of an env with the same num_envs, world_seed and rng (else ValueError)."""
        mine = (self.num_envs, self.world_seed, self.rng_mode)
        saved = (state["num_envs"], state["world_seed"], state["rng"])
        if saved != mine:
            raise ValueError(f"{NAME}.load_state_dict: saved (num_envs, world_seed, rng) = {saved}, "
                             f"this env has {mine}")
        self._state.set_arrays({k: v.numpy() for k, v in state["arrays"].items()})
        self._done = state["done"].numpy().copy()
        self._gens = [_set_gen_state(s) for s in state["generators"]]


def _gen_state(gen: Union[np.random.Generator, np.random.RandomState, None]) -> Optional[Dict[str, Any]]:
    """An episode generator as plain data and tensors (None stays None)."""
    if gen is None:
        return None
    if isinstance(gen, np.random.RandomState):
        import torch

        name, key, pos, has_gauss, cached = gen.get_state()
        return {"kind": "RandomState", "key": torch.from_numpy(key.astype(np.int64)), "pos": int(pos),
                "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}
    return {"kind": "Generator", "state": gen.bit_generator.state}


def _set_gen_state(state: Optional[Mapping[str, Any]]) -> Union[np.random.Generator, np.random.RandomState, None]:
    if state is None:
        return None
    if state["kind"] == "RandomState":
        gen = np.random.RandomState()
        gen.set_state(("MT19937", state["key"].numpy().astype(np.uint32), state["pos"], state["has_gauss"],
                       state["cached_gaussian"]))
        return gen
    fresh = np.random.default_rng()
    fresh.bit_generator.state = state["state"]
    return fresh
