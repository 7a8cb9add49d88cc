"""The edge AIGC service-selection environment (spec adsac.md §1, §4, §7).

All the system-model math lives here, once, as pure numpy functions that broadcast over any
leading batch shape: `runtime`, `quality`, `utility`, `crash_penalty`, `released`, the world and
episode samplers, `build_obs`, and `core_step`, which advances a struct-of-arrays `SlotState`
(envs × servers × running-task slots, release through a finish-time array) by one step.
`EdgeAIGCEnv` is that state with one env; `BatchedEdgeEnv` (batched.py) is the same state with N.

Two seeds: `world_seed` (constructor) fixes capacities and hidden utilities, `reset(seed)` fixes
the arrival stream. The global `np.random` state is never touched.

rng="numpy": world from `np.random.default_rng(world_seed)`, task stream from `self.np_random`.
rng="legacy": `np.random.RandomState(world_seed)` for the world with the original draw order
([ADSAC-code] / [AGOD] env/), and a `RandomState` for the task stream: `reset(seed=s)` starts
`RandomState(s)`, `reset()` continues the current stream (the first one is `RandomState(0)`);
`legacy_reseed=True` makes every `reset()` restart `RandomState(0)` like the original
`if_test=True` protocol. Legacy observations are the float32 cast of the original values (the
raw model count M stays, with Box high = M).
"""
from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .config import EdgeConfig

__all__ = [
    "EdgeAIGCEnv", "World", "SlotState", "runtime", "quality", "utility", "crash_penalty",
    "released", "sample_world", "sample_episode", "build_obs", "core_step", "resolve_config",
]

ENV_NAME = "EdgeAIGCEnv"


# ---------------------------------------------------------------------------------- the math
def runtime(t, coefs):
    """τ(t) = (a·t² + b·t + c)·scale (original: (0.001·t² + 2.5·t − 14)·60)."""
    a, b, c, s = coefs
    return (a * t ** 2 + b * t + c) * s


def quality(t, ax, ay, bx, by):
    """Piecewise-linear quality curve Q(t): 0 below a_x, (b_y−a_y)/(b_x−a_x)·(t−a_x) on
    [a_x, b_x], b_y−a_y above b_x (a_y is not added back). Broadcasts."""
    lin = (by - ay) / (bx - ax) * (t - ax)
    return np.where(t < ax, 0.0, np.where(t > bx, by - ay, lin))


def utility(bonus, ax, ay, bx, by, t, beta):
    """User utility U = β·B_{e,m,k} + Q_{e,m}(t). Broadcasts."""
    return beta * bonus + quality(t, ax, ay, bx, by)


def crash_penalty(arr, tau, active, now, kappa):
    """Crash penalty magnitude κ + Σ_i κ·(1 − (now − arr_i)/τ_i) over the active slots.

    arr, tau, active: (..., S) slots of the crashing server; now: (...,). The reward is minus this."""
    now = np.asarray(now)
    prog = (now[..., None] - arr) / tau
    terms = np.where(active, (1 - prog) * kappa, 0.0)
    return kappa + terms.sum(axis=-1)


def released(fin, now):
    """Slots whose task is done at time `now`: now ≥ arr + τ (fin = arr + τ, +inf when empty)."""
    return fin <= now


# ---------------------------------------------------------------------------------- world
@dataclass
class World:
    """The hidden, fixed world: capacities, type bonuses, quality-curve parameters."""

    capacity: np.ndarray   # (E,) int64
    bonus: np.ndarray      # (E, M, K) float64
    ax: np.ndarray         # (E, M)
    ay: np.ndarray
    bx: np.ndarray
    by: np.ndarray
    util_table: np.ndarray  # (E, M, K, D): U for every (server, model, type, demand index)


def resolve_config(config) -> EdgeConfig:
    if isinstance(config, EdgeConfig):
        return config
    if isinstance(config, str):
        return EdgeConfig.preset(config)
    if isinstance(config, dict):
        return EdgeConfig(**config)
    raise TypeError(f"{ENV_NAME}: config must be an EdgeConfig, a preset name or a dict, got {type(config).__name__}")


def _grids(cfg: EdgeConfig):
    return dict(
        cap=np.asarray(cfg.capacity_values, dtype=np.int64),
        dem=np.asarray(cfg.demand_values, dtype=np.int64),
        bonus=np.asarray(cfg.bonus_values, dtype=np.float64),
        ax=np.asarray(cfg.ax_values, dtype=np.int64),
        ay=np.asarray(cfg.ay_values, dtype=np.float64),
        bx=np.asarray(cfg.bx_values, dtype=np.int64),
        by=np.asarray(cfg.by_values, dtype=np.float64),
    )


def sample_world(cfg: EdgeConfig, world_seed: int = 0, rng: str = "numpy") -> World:
    """Draw the world. legacy: RandomState(world_seed) in the original order (adsac: for each
    server, for each model K bonuses then a_x, a_y, b_x, b_y; then C_e. d2sac: n_users location
    draws, then per ASP a_x, a_y, b_x, b_y, C, location). numpy: one Generator, vectorised."""
    g = _grids(cfg)
    E, M, K = cfg.n_servers, cfg.n_models, cfg.n_types
    if rng == "legacy":
        rs = np.random.RandomState(world_seed)
        cap = np.zeros(E, np.int64)
        bonus = np.zeros((E, M, K))
        ax = np.zeros((E, M), np.int64)
        bx = np.zeros((E, M), np.int64)
        ay = np.zeros((E, M))
        by = np.zeros((E, M))
        if cfg.layout == "adsac":
            for e in range(E):
                for m in range(M):
                    for k in range(K):
                        bonus[e, m, k] = rs.choice(g["bonus"])
                    ax[e, m] = rs.choice(g["ax"])
                    ay[e, m] = rs.choice(g["ay"])
                    bx[e, m] = rs.choice(g["bx"])
                    by[e, m] = rs.choice(g["by"])
                cap[e] = rs.choice(g["cap"])
        else:  # d2sac: users draw a (unused) location first; each flat ASP draws a location last
            for _ in range(cfg.n_users):
                rs.randint((0, 0), (100, 100), size=(1, 2))
            for e in range(E):
                for m in range(M):
                    ax[e, m] = rs.choice(g["ax"])
                    ay[e, m] = rs.choice(g["ay"])
                    bx[e, m] = rs.choice(g["bx"])
                    by[e, m] = rs.choice(g["by"])
                cap[e] = rs.choice(g["cap"])
                rs.randint((0, 0), (100, 100), size=(1, 2))
    elif rng == "numpy":
        gen = np.random.default_rng(world_seed)
        cap = gen.choice(g["cap"], size=E)
        bonus = gen.choice(g["bonus"], size=(E, M, K))
        if cfg.layout == "d2sac":
            bonus = np.zeros((E, M, K))
        ax = gen.choice(g["ax"], size=(E, M))
        ay = gen.choice(g["ay"], size=(E, M))
        bx = gen.choice(g["bx"], size=(E, M))
        by = gen.choice(g["by"], size=(E, M))
    else:
        raise ValueError(f"{ENV_NAME}: rng must be 'numpy' or 'legacy', got {rng!r}")
    t = g["dem"]
    table = utility(bonus[..., None], ax[..., None, None], ay[..., None, None], bx[..., None, None],
                    by[..., None, None], t, cfg.bonus_weight)
    return World(capacity=cap, bonus=bonus, ax=ax, ay=ay, bx=bx, by=by, util_table=table)


def sample_episode(cfg: EdgeConfig, gen, legacy: bool):
    """Arrival stream of one episode: (arrivals int64 (N+1,), types (N+1,), demand indices (N+1,)).

    legacy (gen = RandomState): poisson(λH), random_sample(N), then per task user choice /
    type randint / demand choice (d2sac: user / demand), exactly the original order.
    numpy (gen = Generator): the same distributions, drawn vectorised. N = 0 is bumped to 1."""
    lam_h = cfg.arrival_rate * cfg.horizon
    D = len(cfg.demand_values)
    if legacy:
        n = gen.poisson(lam_h)
        arrivals = np.hstack([[0], np.sort(gen.random_sample(n) * cfg.horizon)]).astype(np.int64)
        if len(arrivals) < 2:
            arrivals = np.zeros(2, np.int64)
        L = len(arrivals)
        types = np.zeros(L, np.int64)
        didx = np.zeros(L, np.int64)
        typed = cfg.layout == "adsac"
        # RandomState.choice(n) draws exactly randint(0, n) (same stream, 4x cheaper to call)
        randint, U, K = gen.randint, cfg.n_users, cfg.n_types
        for j in range(L):
            randint(0, U)                 # user choice (no effect but one draw)
            if typed:
                types[j] = randint(0, K)  # task type
            didx[j] = randint(0, D)       # demand choice
        return arrivals, types, didx
    n = max(int(gen.poisson(lam_h)), 1)
    arrivals = np.concatenate([[0.0], np.sort(gen.random(n) * cfg.horizon)]).astype(np.int64)
    L = n + 1
    if cfg.layout == "adsac":
        types = gen.integers(0, cfg.n_types, size=L)
    else:
        types = np.zeros(L, np.int64)
    didx = gen.integers(0, D, size=L)
    return arrivals, types.astype(np.int64), didx.astype(np.int64)


# ---------------------------------------------------------------------------------- state
class SlotState:
    """Struct of arrays for N envs: running tasks in (N, E, S) slots plus the episode streams."""

    def __init__(self, cfg: EdgeConfig, world: World, n_envs: int, legacy: bool):
        self.cfg = cfg
        self.world = world
        self.legacy = legacy
        N, E, S = n_envs, cfg.n_servers, cfg.max_running
        self.N, self.E, self.M, self.S = N, E, cfg.n_models, S
        self.demand = np.asarray(cfg.demand_values, dtype=np.int64)
        self.tau_vals = runtime(self.demand, cfg.runtime_coefs)
        self.t_norm = self.demand / self.demand[-1]
        self.tau_norm = self.tau_vals / runtime(self.demand.max(), cfg.runtime_coefs)
        self.cap = world.capacity.astype(np.int64)
        self.cap_norm = self.cap / np.asarray(cfg.capacity_values, dtype=np.int64)[-1]
        self.model_feat = float(cfg.n_models) if legacy else 1.0
        self.dem = np.zeros((N, E, S), np.int64)
        self.arr = np.zeros((N, E, S), np.int64)
        self.tau = np.ones((N, E, S))
        self.fin = np.full((N, E, S), np.inf)
        self.active = np.zeros((N, E, S), bool)
        self.used = np.zeros((N, E), np.int64)
        self.arrivals = np.zeros((N, 2), np.int64)
        self.types = np.zeros((N, 2), np.int64)
        self.didx = np.zeros((N, 2), np.int64)
        self.n_arr = np.full(N, 2, np.int64)
        self.j = np.zeros(N, np.int64)
        self.num_steps = np.zeros(N, np.int64)
        self.n_crashes = np.zeros(N, np.int64)
        self.server_crashes = np.zeros((N, E), np.int64)
        self.tasks_finished = np.zeros(N, np.int64)
        self.tasks_crashed = np.zeros(N, np.int64)

    def load(self, i: int, episode) -> None:
        """Start env i on a fresh episode (empty servers, counters zero)."""
        arrivals, types, didx = episode
        L = len(arrivals)
        if L > self.arrivals.shape[1]:
            pad = L - self.arrivals.shape[1]
            self.arrivals = np.pad(self.arrivals, ((0, 0), (0, pad)))
            self.types = np.pad(self.types, ((0, 0), (0, pad)))
            self.didx = np.pad(self.didx, ((0, 0), (0, pad)))
        self.arrivals[i, :L] = arrivals
        self.types[i, :L] = types
        self.didx[i, :L] = didx
        self.n_arr[i] = L
        self.dem[i] = 0
        self.arr[i] = 0
        self.tau[i] = 1.0
        self.fin[i] = np.inf
        self.active[i] = False
        self.used[i] = 0
        for a in (self.j, self.num_steps, self.n_crashes, self.tasks_finished, self.tasks_crashed):
            a[i] = 0
        self.server_crashes[i] = 0

    # current task of every env
    def task(self):
        n = np.arange(self.N)
        return self.types[n, self.j], self.didx[n, self.j], self.arrivals[n, self.j]

    def free(self):
        return self.cap - self.used  # (N, E)


def build_obs(st: SlotState) -> np.ndarray:
    """Observations (N, obs_dim) float32. adsac: [one_hot(k), t/tmax, τ/τmax] then per server
    [C/Cmax, avail/C, M or 1]; d2sac: per server [C/Cmax, avail/C] then [t/tmax, τ/τmax]."""
    cfg = st.cfg
    k, d, _ = st.task()
    N, E = st.N, st.E
    avail = (st.cap - st.used) / st.cap  # (N, E)
    if cfg.layout == "adsac":
        K = cfg.n_types
        obs = np.zeros((N, K + 2 + 3 * E))
        obs[np.arange(N), k] = 1.0
        obs[:, K] = st.t_norm[d]
        obs[:, K + 1] = st.tau_norm[d]
        srv = obs[:, K + 2:].reshape(N, E, 3)
        srv[:, :, 0] = st.cap_norm
        srv[:, :, 1] = avail
        srv[:, :, 2] = st.model_feat
    else:
        obs = np.zeros((N, 2 * E + 2))
        srv = obs[:, :2 * E].reshape(N, E, 2)
        srv[:, :, 0] = st.cap_norm
        srv[:, :, 1] = avail
        obs[:, 2 * E] = st.t_norm[d]
        obs[:, 2 * E + 1] = st.tau_norm[d]
    return obs.astype(np.float32)


def obs_bounds(cfg: EdgeConfig, legacy: bool):
    """Box bounds that contain every observation (float32)."""
    dem = np.asarray(cfg.demand_values, dtype=np.int64)
    t_norm = dem / dem[-1]
    tau_norm = runtime(dem, cfg.runtime_coefs) / runtime(dem.max(), cfg.runtime_coefs)
    caps = np.asarray(cfg.capacity_values, dtype=np.int64)
    c_norm = caps / caps[-1]
    task_lo = [min(0.0, t_norm.min()), min(0.0, tau_norm.min())]
    task_hi = [max(1.0, t_norm.max()), max(1.0, tau_norm.max())]
    srv_lo = [0.0, 0.0]
    srv_hi = [max(1.0, c_norm.max()), 1.0]
    E = cfg.n_servers
    if cfg.layout == "adsac":
        mfeat = float(cfg.n_models) if legacy else 1.0
        lo = [0.0] * cfg.n_types + task_lo + (srv_lo + [0.0]) * E
        hi = [1.0] * cfg.n_types + task_hi + (srv_hi + [max(1.0, mfeat)]) * E
    else:
        lo = srv_lo * E + task_lo
        hi = srv_hi * E + task_hi
    return np.asarray(lo, np.float32), np.asarray(hi, np.float32)


def core_step(st: SlotState, actions: np.ndarray):
    """Advance every env in `st` by one step with joint actions a = e·M + m (validated).

    1. crash if t_j > C_e − used_e: reward −crash_penalty, server e emptied, task dropped;
       else admit to (e, m) with reward U. 2. move to task j+1, release slots with now ≥ arr+τ.
    Returns (reward, crashed, penalty, util, terminated) arrays of shape (N,)."""
    cfg, w = st.cfg, st.world
    N = st.N
    n = np.arange(N)
    e = actions // st.M
    m = actions % st.M
    k, d, now = st.task()
    t = st.demand[d]
    crashed = t > st.cap[e] - st.used[n, e]
    penalty = np.zeros(N)
    util = np.zeros(N)
    if crashed.any():
        ci, ce = n[crashed], e[crashed]
        act = st.active[ci, ce]
        penalty[ci] = crash_penalty(st.arr[ci, ce], st.tau[ci, ce], act, now[ci], cfg.crash_coef)
        st.tasks_crashed[ci] += act.sum(axis=-1)
        st.active[ci, ce] = False
        st.dem[ci, ce] = 0
        st.arr[ci, ce] = 0
        st.tau[ci, ce] = 1.0
        st.fin[ci, ce] = np.inf
        st.used[ci, ce] = 0
        st.n_crashes[ci] += 1
        st.server_crashes[ci, ce] += 1
    adm = ~crashed
    if adm.any():
        ai, ae, ad = n[adm], e[adm], d[adm]
        slot = np.argmin(st.active[ai, ae], axis=-1)  # first empty slot
        tau = st.tau_vals[ad]
        st.active[ai, ae, slot] = True
        st.dem[ai, ae, slot] = t[adm]
        st.arr[ai, ae, slot] = now[adm]
        st.tau[ai, ae, slot] = tau
        st.fin[ai, ae, slot] = now[adm] + tau
        st.used[ai, ae] += t[adm]
        util[ai] = w.util_table[ae, m[adm], k[adm], ad]
    reward = np.where(crashed, -penalty, util)
    st.j += 1
    st.num_steps += 1
    now2 = st.arrivals[n, st.j]
    rel = released(st.fin, now2[:, None, None])
    if rel.any():
        st.tasks_finished += rel.sum(axis=(1, 2))
        st.active[rel] = False
        st.dem[rel] = 0
        st.arr[rel] = 0
        st.tau[rel] = 1.0
        st.fin[rel] = np.inf
        st.used = st.dem.sum(axis=-1)
    terminated = st.j >= st.n_arr - 1
    return reward, crashed, penalty, util, terminated


def step_info(st: SlotState, crashed, penalty, util):
    """Batched info dict (arrays with a leading N axis)."""
    k, d, now = st.task()
    free = st.free()
    t = st.demand[d]
    room = free >= t[:, None]
    return {
        "num_steps": st.num_steps.copy(),
        "curr_time": now,
        "crashed": crashed,
        "crash_penalty": penalty,
        "utility": util,
        "server_util": st.used / st.cap,
        "n_crashes": st.n_crashes.copy(),
        "tasks_finished": st.tasks_finished.copy(),
        "tasks_crashed": st.tasks_crashed.copy(),
        "action_mask": np.repeat(room, st.M, axis=1),
        "server_free": free,
        "task_type": k,
        "task_demand": t,
        "task_demand_idx": d,
    }


# ---------------------------------------------------------------------------------- the env
def check_action(action, n_actions: int, who: str = ENV_NAME) -> int:
    """Validate one joint action; raise a clear TypeError / ValueError naming env and action."""
    a = action
    if isinstance(a, np.ndarray):
        if a.size != 1:
            raise ValueError(f"{who}: invalid action {action!r}: expected one integer in [0, {n_actions})")
        a = a.reshape(-1)[0]
    if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
        raise TypeError(f"{who}: invalid action {action!r} of type {type(action).__name__}: "
                        f"expected an integer in [0, {n_actions})")
    a = int(a)
    if not 0 <= a < n_actions:
        raise ValueError(f"{who}: invalid action {action!r}: out of range [0, {n_actions})")
    return a


class EdgeAIGCEnv(gym.Env):
    """Route AIGC requests to (edge server, model) pairs with hidden utilities and overload crashes.

    Args:
        config: EdgeConfig, preset name ("adsac", "d2sac", "small") or dict of EdgeConfig fields.
        world_seed: seed of the hidden world (capacities, bonuses, quality curves).
        rng: "numpy" (Generator streams, normalised model count) or "legacy" (bit-exact original).
        end_as_truncation: report the end of the arrival list as truncated instead of terminated.
        legacy_reseed: legacy only; every reset() without a seed restarts RandomState(0)
            (the original if_test protocol). Default: reset() continues the stream.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, config="adsac", world_seed: int = 0, rng: str = "numpy",
                 end_as_truncation: bool = False, legacy_reseed: bool = False, render_mode=None):
        super().__init__()
        if rng not in ("numpy", "legacy"):
            raise ValueError(f"{ENV_NAME}: rng must be 'numpy' or 'legacy', got {rng!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"{ENV_NAME}: unsupported render_mode {render_mode!r}")
        self.config = resolve_config(config)
        self.world_seed = world_seed
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
        self._legacy_rs = None
        self._needs_reset = True
        self._last = (np.zeros(1, bool), np.zeros(1), np.zeros(1))

    # ---- gymnasium API
    def reset(self, *, seed=None, options=None):
        """options={"episode": (arrivals, types, demand_idx)} plays a given arrival stream
        (arrivals int, non-decreasing, length >= 2, starting the episode; types in [0, K);
        demand_idx indices into config.demand_values) instead of sampling one."""
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

    def step(self, action):
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

    def render(self):
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
    def current_task(self):
        """(type k, demand t, demand index, arrival time) of the task to route now."""
        k, d, now = self._state.task()
        return int(k[0]), int(self._state.demand[d[0]]), int(d[0]), int(now[0])

    @property
    def arrivals(self) -> np.ndarray:
        return self._state.arrivals[0, :self._state.n_arr[0]].copy()

    @property
    def server_crashes(self) -> np.ndarray:
        return self._state.server_crashes[0].copy()
