"""Edge AIGC service selection (ADSAC, Liu et al. 2024/25; D2SAC, Du et al. 2024).

- the system model and its presets: `EdgeConfig` (`adsac`, `d2sac`, `small`), `EdgeConfig.obs_layout`,
  and the math (`runtime`, `quality`, `utility`, `crash_penalty`, `released`, `sample_world`,
  `sample_episode`);
- `EdgeAIGCEnv`, the Gymnasium env (numpy and bit-exact legacy modes), and `register_envs()` for its
  Gym ids "AIGCEdge-v0" (adsac preset) and "AIGCEdge-D2SAC-v0" (d2sac preset);
- `BatchedEdgeEnv`, N envs in one struct of arrays (numpy only);
- the heuristic baselines `RandomPolicy`, `RoundRobin`, `CrashAvoid`, `Prophet`;
- `pyalgo.edge.agents`: the diffusion actor, denoisers, SAC / DQN agents, replay buffer, `make_agent`;
- `pyalgo.edge.episodes`: the evaluation protocol (`run_episodes`, `evaluate`, `evaluate_heuristic`).

Importing this package needs numpy only. gymnasium loads when `EdgeAIGCEnv`, `register_envs` or
`ENV_IDS` is first used (they live in `pyalgo.edge.env`, which registers the ids on import). When
gymnasium is already loaded, importing this package registers the ids too, so
`gym.make("pyalgo.edge:AIGCEdge-v0")` works without any prior import (gymnasium imports the module
named before the colon, then looks the id up); `gym.make("pyalgo.edge.env:AIGCEdge-v0")` works
whatever was imported before. The training loop and the reproduction live in the lab (`pyalgo.lab.edge`).
"""
from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any, List

from .batched import BatchedEdgeEnv
from .config import PRESETS, EdgeConfig, ObsLayout
from .core import World, crash_penalty, quality, released, runtime, sample_episode, sample_world, utility
from .heuristics import CrashAvoid, Prophet, RandomPolicy, RoundRobin

if TYPE_CHECKING:  # loaded on first use (they import gymnasium)
    from .env import ENV_IDS, EdgeAIGCEnv, register_envs  # noqa: F401

_GYMNASIUM = ("EdgeAIGCEnv", "register_envs", "ENV_IDS")
_SUBMODULES = ("agents", "episodes")

__all__ = [
    "EdgeConfig", "PRESETS", "ObsLayout", "EdgeAIGCEnv", "BatchedEdgeEnv", "World", "runtime", "quality",
    "utility", "crash_penalty", "released", "sample_world", "sample_episode",
    "RandomPolicy", "RoundRobin", "CrashAvoid", "Prophet", "ENV_IDS", "register_envs",
]


def __getattr__(name: str) -> Any:
    if name in _GYMNASIUM:
        value = getattr(importlib.import_module(".env", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'pyalgo.edge' has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))


if "gymnasium" in sys.modules:  # e.g. gym.make("pyalgo.edge:AIGCEdge-v0") importing this package: register the ids
    importlib.import_module(".env", __name__)
