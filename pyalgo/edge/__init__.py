"""Edge AIGC service selection (spec adsac.md): the Gymnasium env `AIGCEdge-v0` (numpy and
bit-exact legacy modes, `adsac` / `d2sac` / `small` presets), the native batched env and the
heuristic baselines. Importing this package registers "AIGCEdge-v0" (adsac preset) and
"AIGCEdge-D2SAC-v0" (d2sac preset) with gymnasium. Agents are not imported here.
"""
import gymnasium as _gym

from .config import EdgeConfig, PRESETS
from .env import (EdgeAIGCEnv, World, crash_penalty, quality, released, runtime, sample_episode,
                  sample_world, utility)
from .batched import BatchedEdgeEnv
from .heuristics import CrashAvoid, Prophet, RandomPolicy, RoundRobin

__all__ = [
    "EdgeConfig", "PRESETS", "EdgeAIGCEnv", "BatchedEdgeEnv", "World", "runtime", "quality",
    "utility", "crash_penalty", "released", "sample_world", "sample_episode",
    "RandomPolicy", "RoundRobin", "CrashAvoid", "Prophet", "ENV_IDS",
]

ENV_IDS = {"AIGCEdge-v0": "adsac", "AIGCEdge-D2SAC-v0": "d2sac"}

for _id, _preset in ENV_IDS.items():
    if _id not in _gym.registry:
        _gym.register(id=_id, entry_point="pyalgo.edge.env:EdgeAIGCEnv", kwargs={"config": _preset})
