"""Benchmark of the edge AIGC environment and of experience collection: `pyalgo bench edge`.

Both cases run on the `adsac` preset (10 servers × 4 models: 36 observations, 40 actions), mode
"call", and count N env-steps per call (the per-second column is env-steps per second):

- **env**: N env steps with uniformly random actions. pyalgo is one step of `BatchedEdgeEnv` with N
  envs; the others are N steps of one `EdgeAIGCEnv` (numpy, and legacy: the released env's draws)
  and one step of gymnasium's `SyncVectorEnv` over N `EdgeAIGCEnv`s. Episodes auto-reset inside the
  timing.
- **collect**: N env steps with the D2SAC diffusion actor (MLP denoiser, hidden 256, T = 5) choosing
  every action. pyalgo is the batched env with the actor at batch N (and, with compilation on,
  the same with the actor's reverse chain under `torch.compile`); the other is the released loop:
  one env, the actor at batch 1, N times.

Checks before timing: the batched env with 1 env reproduces the single env's rewards for the same
seed and actions, the legacy env reproduces the released CrashAvoid return, and every provider's N
rewards / actions are valid. Target (PASS / MISS, never asserted): batched collection ≥ 20× the
released single-env loop.
"""
from __future__ import annotations

import functools
from typing import Any, Dict, Optional

import numpy as np
import torch

from pyalgo.edge import BatchedEdgeEnv, EdgeAIGCEnv, EdgeConfig
from pyalgo.edge.agents import DiffusionActor, MLPDenoiser
from pyalgo.edge.episodes import evaluate_heuristic

from ..harness.bench import Case, Inputs, Provider, speedup
from .reproduce import GOLDEN_LEGACY

TITLE = "Edge AIGC benchmark: environment steps and experience collection"
PRESET = "adsac"
HIDDEN = 256
TARGET = 20.0
SIZES = (64, 1024)
CRASHAVOID_LEGACY = GOLDEN_LEGACY["crashavoid"][0]    # the released env's return (world seed 0, reset seed 0)
OBS_DIM, N_ACTIONS = EdgeConfig.preset(PRESET).obs_dim, EdgeConfig.preset(PRESET).n_actions
SINGLE = "EdgeAIGCEnv ×N (numpy)"
SINGLE_LEGACY = "EdgeAIGCEnv ×N (legacy)"
VECTOR = "gymnasium SyncVectorEnv"
RELEASED_LOOP = "EdgeAIGCEnv + actor B=1, ×N (released loop)"


# -- steppers: each provider steps its own envs; one call = N env-steps, returning (actions, rewards) --

class _Single:
    """One EdgeAIGCEnv stepped N times per call; actions from `policy(obs)` or uniformly random."""

    def __init__(self, rng: str, policy=None):
        self.env = EdgeAIGCEnv(PRESET, world_seed=0, rng=rng)
        self.obs = self.env.reset(seed=0)[0]
        self.gen = np.random.default_rng(0)
        self.policy = policy

    def steps(self, n: int):
        actions, rewards = np.empty(n, np.int64), np.empty(n)
        for i in range(n):
            a = self.policy(self.obs[None])[0] if self.policy else self.gen.integers(self.env.action_space.n)
            obs, rewards[i], term, trunc, _ = self.env.step(int(a))
            actions[i] = a
            self.obs = self.env.reset()[0] if term or trunc else obs
        return actions, rewards


class _Batched:
    """One step of a BatchedEdgeEnv (or a gymnasium SyncVectorEnv) with N envs; actions from
    `policy(obs)` or uniformly random."""

    def __init__(self, n: int, policy=None, vector: bool = False):
        if vector:
            from gymnasium.vector import SyncVectorEnv

            self.env = SyncVectorEnv([functools.partial(EdgeAIGCEnv, PRESET, world_seed=0) for _ in range(n)])
        else:
            self.env = BatchedEdgeEnv(PRESET, num_envs=n, world_seed=0)
        self.obs = self.env.reset(seed=0)[0]
        self.gen, self.n, self.policy = np.random.default_rng(0), n, policy

    def step(self):
        actions = self.policy(self.obs) if self.policy else self.gen.integers(N_ACTIONS, size=self.n)
        return self._env_step(actions)

    @torch.compiler.disable
    def _env_step(self, actions):
        """The env step stays eager under torch.compile (numpy)."""
        actions = np.asarray(actions, dtype=np.int64)
        self.obs, reward = self.env.step(actions)[:2]
        return actions, reward


class _Actor:
    """The D2SAC actor on `device`: observations (B, S) numpy → sampled actions (B,) (a tensor)."""

    def __init__(self, device: torch.device):
        torch.manual_seed(0)
        self.net = DiffusionActor(MLPDenoiser(OBS_DIM, N_ACTIONS, HIDDEN), N_ACTIONS, T=5).to(device).eval()
        self.device = device

    def __call__(self, obs: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            p = self.net.probs(torch.from_numpy(obs).to(self.device))
        return torch.multinomial(p, 1)[:, 0].cpu()


# -- cases --------------------------------------------------------------------------------------

class _EnvSet:
    """The env case's providers' envs at N envs."""

    def __init__(self, n: int):
        self.n = n
        self.batched, self.vector = _Batched(n), _Batched(n, vector=True)
        self.single, self.legacy = _Single("numpy"), _Single("legacy")


class _CollectSet:
    """The collect case's: one actor, the batched env at N envs and the single env."""

    def __init__(self, n: int, device: torch.device):
        self.n, actor = n, _Actor(device)
        self.batched, self.single = _Batched(n, actor), _Single("numpy", actor)


def _env_setup(n: int, dtype: torch.dtype, device: torch.device) -> Inputs:
    return Inputs(args=(_EnvSet(n),), items=n)


def _collect_setup(n: int, dtype: torch.dtype, device: torch.device) -> Inputs:
    return Inputs(args=(_CollectSet(n, device),), items=n)


@functools.lru_cache(maxsize=1)
def _env_parity() -> Optional[str]:
    """The environments' own checks (once per run): batched(1) == single, and the legacy golden."""
    golden = evaluate_heuristic("crashavoid", PRESET, 0, seeds=(0,), rng="legacy")["return"][0]
    if abs(golden - CRASHAVOID_LEGACY) > 1e-4:
        return f"CrashAvoid legacy return {golden:.6f} != {CRASHAVOID_LEGACY}"
    single, batched = EdgeAIGCEnv(PRESET, world_seed=0), BatchedEdgeEnv(PRESET, num_envs=1, world_seed=0)
    single.reset(seed=3)
    batched.reset(seed=[3])
    gen = np.random.default_rng(1)
    for _ in range(300):
        a = int(gen.integers(N_ACTIONS))
        r1, r2 = single.step(a)[1], batched.step(np.array([a]))[1][0]
        if r1 != r2:
            return f"the batched env differs from the single env: reward {r2} vs {r1}"
    return None


def _check(inputs: Inputs, outputs: Dict[str, Any]) -> Optional[str]:
    """The env parity, then every provider's (actions, rewards): N valid actions, N finite rewards."""
    problem = _env_parity()
    if problem:
        return problem
    n = inputs.args[0].n
    for name, (actions, rewards) in outputs.items():
        actions, rewards = np.asarray(actions), np.asarray(rewards)
        if actions.shape != (n,) or not np.all((actions >= 0) & (actions < N_ACTIONS)):
            return f"{name}: {actions.shape} actions, expected {n} in [0, {N_ACTIONS})"
        if rewards.shape != (n,) or not np.all(np.isfinite(rewards)):
            return f"{name}: {rewards.shape} rewards, expected {n} finite ones"
    return None


def _batched(s):
    """One step of the batched env (with the actor at batch N in the collect case)."""
    return s.batched.step()


def _single(s):
    """N steps of one env (with the actor at batch 1 in the collect case)."""
    return s.single.steps(s.n)


CASES = [
    Case("env", _env_setup, [
        Provider("pyalgo", _batched),
        Provider(SINGLE, _single),
        Provider(SINGLE_LEGACY, lambda s: s.legacy.steps(s.n)),
        Provider(VECTOR, lambda s: s.vector.step()),
    ], shapes=SIZES, modes=("call",), devices=("cpu",), check=_check, params=f"{PRESET} preset, random actions",
        description="N env-steps per call: one step of N batched envs against N steps of one env, and one step "
                    "of gymnasium's SyncVectorEnv over N envs."),
    Case("collect", _collect_setup, [
        Provider("pyalgo", _batched),
        Provider(RELEASED_LOOP, _single),
    ], shapes=SIZES, quick_shapes=SIZES[:1], modes=("call",), check=_check, compile="pyalgo",
        params=f"{PRESET} preset, D2SAC actor (MLP denoiser, hidden {HIDDEN}, T = 5)",
        description="N env-steps per call, the actor choosing every action: the batched env with the actor at "
                    "batch N against the released loop (one env, the actor at batch 1, N times). Under "
                    "torch.compile the actor's reverse chain is compiled; the env step stays eager."),
]

TARGETS = [speedup("collect", n, RELEASED_LOOP, TARGET, mode="call",
                   text=f"collection at {n} envs: batched env + actor vs the released loop") for n in SIZES]

NOTES = [
    "Every call does N env-steps, so a provider's ratio (its time / pyalgo's) is how many times more env-steps "
    "per second the batched env gives: the \"× single env\" speed-up. The `pyalgo extra` column holds pyalgo's "
    "env-steps per second.",
    "The actor's five denoiser calls dominate collection; on a CPU they are compute-bound, so torch.compile "
    "gains little. The quick and tiny presets time the collect case at the smaller N only and skip torch.compile.",
]
