"""The Gymnasium environment of edge AIGC service selection (ADSAC, Liu et al.; D2SAC, Du et al.).

`EdgeAIGCEnv` routes each arriving AIGC request to an (edge server, model) pair; the system model
(core.py) is shared with the batched env. This module is the only one of `pyalgo.edge` that imports
gymnasium, and importing it registers the Gym ids `ENV_IDS` ("AIGCEdge-v0": the adsac preset,
"AIGCEdge-D2SAC-v0": the d2sac preset). So either of

    gym.make("pyalgo.edge:AIGCEdge-v0")              # gymnasium imports pyalgo.edge, which imports this module
    gym.make("pyalgo.edge.env:AIGCEdge-v0")          # gymnasium imports this module, then looks the id up
    pyalgo.edge.register_envs(); gym.make("AIGCEdge-v0")

makes the env; `pyalgo.edge.EdgeAIGCEnv(...)` builds it directly.

Two seeds: `world_seed` (constructor) fixes capacities and hidden utilities, `reset(seed)` fixes
the arrival stream. The global `np.random` state is never touched.

rng="numpy": world from `np.random.default_rng(world_seed)`, task stream from `self.np_random`.
rng="legacy": `np.random.RandomState(world_seed)` for the world with the released code's draw
order, and a `RandomState` for the task stream: `reset(seed=s)` starts `RandomState(s)`, `reset()`
continues the current stream (the first one is `RandomState(0)`); `legacy_reseed=True` makes every
`reset()` restart `RandomState(0)` like the released `if_test=True` protocol. Legacy observations
are the float32 cast of the original values (the raw model count M stays, with Box high = M).
"""
from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from typing import Any, Literal

from .config import EdgeConfig
from .core import (ENV_NAME, SlotState, build_obs, check_action, check_seed, core_step, obs_bounds, resolve_config,
                   sample_episode, sample_world, step_info)

__all__ = ["EdgeAIGCEnv", "ENV_IDS", "register_envs"]

ENV_IDS = {"AIGCEdge-v0": "adsac", "AIGCEdge-D2SAC-v0": "d2sac"}


def register_envs() -> None:
    """Registers `ENV_IDS` with gymnasium (done when this module is imported; repeating is harmless).

    Example:
        pyalgo.edge.register_envs()
        env = gymnasium.make("AIGCEdge-v0")
    """
    for env_id, preset in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="pyalgo.edge.env:EdgeAIGCEnv", kwargs={"config": preset})


class EdgeAIGCEnv(gym.Env):
    """Route AIGC requests to (edge server, model) pairs with hidden utilities and overload crashes.

    Args:
        config: EdgeConfig, preset name ("adsac", "d2sac", "small") or dict of EdgeConfig fields.
        world_seed: seed of the hidden world (capacities, bonuses, quality curves).
        rng: "numpy" (Generator streams, normalised model count) or "legacy" (bit-exact original).
        end_as_truncation: report the end of the arrival list as truncated instead of terminated.
        legacy_reseed: legacy only; every reset() without a seed restarts RandomState(0)
            (the original if_test protocol). Default: reset() continues the stream.
        render_mode: None or "ansi" (`render()` returns a one-line status). Any other mode warns,
            as gymnasium does, and the env runs with render_mode None (SB3's `make_vec_env`
            passes "rgb_array").
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, config: EdgeConfig | str | dict[str, Any] = "adsac", world_seed: int = 0,
                 rng: Literal["numpy", "legacy"] = "numpy", end_as_truncation: bool = False,
                 legacy_reseed: bool = False, render_mode: str | None = None) -> None:
        super().__init__()
        if rng not in ("numpy", "legacy"):
            raise ValueError(f"{ENV_NAME}: rng must be 'numpy' or 'legacy', got {rng!r}")
        if render_mode is not None and not isinstance(render_mode, str):
            raise TypeError(f"{ENV_NAME}: render_mode must be a str or None, got {type(render_mode).__name__}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            # Gymnasium's convention (gym.make): an unsupported mode warns and the env still works.
            # SB3's make_vec_env passes render_mode="rgb_array" to every env it makes.
            warnings.warn(f"{ENV_NAME}: unsupported render_mode {render_mode!r} (supported: "
                          f"{self.metadata['render_modes']}); rendering is off (render_mode=None, render() "
                          f"returns None)", UserWarning, stacklevel=2)
            render_mode = None
        self.config = resolve_config(config)
        self.world_seed = check_seed(ENV_NAME, "world_seed", world_seed, rng == "legacy")
        self.rng_mode = rng
        self.legacy = rng == "legacy"
        self.end_as_truncation = bool(end_as_truncation)
        self.legacy_reseed = bool(legacy_reseed)
        self.render_mode = render_mode
        self.world = sample_world(self.config, world_seed, rng)
        lo, hi = obs_bounds(self.config, self.legacy)
        self.observation_space = spaces.Box(lo, hi, dtype=np.float32)
        self.action_space = spaces.Discrete(self.config.n_actions)
        self._state = SlotState(self.config, self.world, 1, self.legacy)
        self._legacy_rs: np.random.RandomState | None = None
        self._needs_reset = True
        self._last = (np.zeros(1, bool), np.zeros(1), np.zeros(1))

    # ---- gymnasium API
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """options={"episode": (arrivals, types, demand_idx)} plays a given arrival stream
        (arrivals int, non-decreasing, length >= 2, starting the episode; types in [0, K);
        demand_idx indices into config.demand_values) instead of sampling one."""
        check_seed(ENV_NAME, "seed", seed, self.legacy, optional=True)
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"{ENV_NAME}: options must be a dict or None, got {type(options).__name__}")
        super().reset(seed=seed)
        episode = (options or {}).get("episode")
        if episode is not None:
            self._state.load(0, self._check_episode(episode))
        else:
            if self.legacy:
                if seed is not None or self._legacy_rs is None or self.legacy_reseed:
                    self._legacy_rs = np.random.RandomState(0 if seed is None else seed)
                gen = self._legacy_rs
            else:
                gen = self.np_random
            self._state.load(0, sample_episode(self.config, gen, self.legacy))
        self._needs_reset = False
        self._last = (np.zeros(1, bool), np.zeros(1), np.zeros(1))
        return self._obs(), self._info()

    def step(self, action: int | np.integer | np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError(f"{ENV_NAME}: step() called before reset() or after the episode ended")
        a = check_action(action, self.config.n_actions)
        reward, crashed, penalty, util, term = core_step(self._state, np.array([a], np.int64))
        self._last = (crashed, penalty, util)
        done = bool(term[0])
        if done:
            self._needs_reset = True
        terminated = done and not self.end_as_truncation
        truncated = done and self.end_as_truncation
        return self._obs(), float(reward[0]), terminated, truncated, self._info()

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            st = self._state
            return (f"step {int(st.num_steps[0])} time {int(st.task()[2][0])} used {st.used[0].tolist()} "
                    f"cap {st.cap.tolist()} crashes {int(st.n_crashes[0])}")
        return None

    # ---- helpers
    def _check_episode(self, episode):
        try:
            arrivals, types, didx = (np.asarray(x) for x in episode)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{ENV_NAME}: options['episode'] must be (arrivals, types, demand_idx)") from exc
        L = len(arrivals)
        if L < 2 or types.shape != (L,) or didx.shape != (L,) or arrivals.shape != (L,):
            raise ValueError(f"{ENV_NAME}: options['episode'] arrays must be 1-D of one length >= 2")
        for name, x in (("arrivals", arrivals), ("types", types), ("demand_idx", didx)):
            if not np.issubdtype(x.dtype, np.integer):
                raise ValueError(f"{ENV_NAME}: options['episode'] {name} must be integers")
        if np.any(np.diff(arrivals) < 0) or arrivals[0] < 0:
            raise ValueError(f"{ENV_NAME}: options['episode'] arrivals must be >= 0 and non-decreasing")
        if types.min() < 0 or types.max() >= self.config.n_types:
            raise ValueError(f"{ENV_NAME}: options['episode'] types must lie in [0, {self.config.n_types})")
        if didx.min() < 0 or didx.max() >= len(self.config.demand_values):
            raise ValueError(f"{ENV_NAME}: options['episode'] demand_idx out of range")
        return arrivals.astype(np.int64), types.astype(np.int64), didx.astype(np.int64)

    def _obs(self):
        return build_obs(self._state)[0]

    def _info(self):
        info = step_info(self._state, *self._last)
        out = {}
        for key, val in info.items():
            v = val[0]
            if np.ndim(v) == 0:
                v = v.item()
            out[key] = v
        return out

    @property
    def server_free(self) -> np.ndarray:
        return self._state.free()[0]

    @property
    def current_task(self) -> tuple[int, int, int, int]:
        """(type k, demand t, demand index, arrival time) of the task to route now."""
        k, d, now = self._state.task()
        return int(k[0]), int(self._state.demand[d[0]]), int(d[0]), int(now[0])

    @property
    def arrivals(self) -> np.ndarray:
        return self._state.arrivals[0, :self._state.n_arr[0]].copy()

    @property
    def server_crashes(self) -> np.ndarray:
        return self._state.server_crashes[0].copy()


register_envs()
