"""The system model of edge AIGC service selection, in numpy only (no gymnasium).

All the math lives here, once, as pure numpy functions that broadcast over any leading batch shape:
`runtime`, `quality`, `utility`, `crash_penalty`, `released`, the world and episode samplers,
`build_obs`, and `core_step`, which advances a struct-of-arrays `SlotState` (envs × servers ×
running-task slots, release through a finish-time array) by one step. The Gymnasium env
`EdgeAIGCEnv` (env.py) is that state with one env; `BatchedEdgeEnv` (batched.py) is the same state
with N.

Two seeds: `world_seed` fixes capacities and hidden utilities, the episode generator fixes the
arrival stream. rng="numpy" draws the world from `np.random.default_rng(world_seed)`; rng="legacy"
from `np.random.RandomState(world_seed)` in the released code's draw order (bit-exact). The global
`np.random` state is never touched.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Literal, Mapping, Optional, Tuple, Union, cast, overload

import numpy as np

from .config import EdgeConfig, runtime

__all__ = [
    "World", "SlotState", "runtime", "quality", "utility", "crash_penalty", "released", "sample_world",
    "sample_episode", "build_obs", "obs_bounds", "core_step", "step_info", "check_action", "check_seed", "resolve_config",
]

ENV_NAME = "pyalgo.edge.EdgeAIGCEnv"

# a number or an array that broadcasts with the others
Num = Union[float, np.ndarray]
# one episode's arrival stream: (arrivals, types, demand indices), int64 (N+1,) each
Episode = Tuple[np.ndarray, np.ndarray, np.ndarray]


# ---------------------------------------------------------------------------------- the math
def quality(t: Num, ax: Num, ay: Num, bx: Num, by: Num) -> np.ndarray:
    """Piecewise-linear quality curve Q(t).

    0 below a_x, (b_y−a_y)/(b_x−a_x)·(t−a_x) on [a_x, b_x], b_y−a_y above b_x (a_y is not added
    back). Broadcasts.

    Args:
        t: demand(s).
        ax: a_x, where the quality starts to rise.
        ay: a_y.
        bx: b_x, where it saturates.
        by: b_y.

    Returns:
        Q(t), the broadcast shape of the arguments.

    Example:
        q = pyalgo.edge.quality(np.arange(0, 100, 10), 20, 0.5, 80, 1.5)
    """
    lin = (by - ay) / (bx - ax) * (t - ax)
    return np.where(t < ax, 0.0, np.where(t > bx, by - ay, lin))


def utility(bonus: Num, ax: Num, ay: Num, bx: Num, by: Num, t: Num, beta: float) -> np.ndarray:
    """User utility U = β·B_{e,m,k} + Q_{e,m}(t). Broadcasts.

    Args:
        bonus: type bonus B_{e,m,k}.
        ax: a_x of the quality curve (see `quality`).
        ay: a_y.
        bx: b_x.
        by: b_y.
        t: demand(s).
        beta: the bonus weight β.

    Returns:
        U, the broadcast shape of the arguments.

    Example:
        u = pyalgo.edge.utility(1.0, 20, 0.5, 80, 1.5, np.array([10, 50, 90]), beta=0.5)
    """
    return beta * bonus + quality(t, ax, ay, bx, by)


def crash_penalty(arr: np.ndarray, tau: np.ndarray, active: np.ndarray, now: Num,
                  kappa: float) -> np.ndarray:
    """Crash penalty magnitude κ + Σ_i κ·(1 − (now − arr_i)/τ_i) over the active slots.

    The reward of a crash is minus this.

    Args:
        arr: (..., S) arrival times of the crashing server's slots.
        tau: (..., S) runtimes τ of those slots.
        active: (..., S) bool, the slots that hold a task.
        now: (...,) the current time.
        kappa: the crash coefficient κ.

    Returns:
        The penalty (...,).

    Example:
        arr, tau, active = np.array([0.0, 5.0]), np.array([10.0, 10.0]), np.array([True, False])
        pen = pyalgo.edge.crash_penalty(arr, tau, active, now=5.0, kappa=2.0)   # 3.0
    """
    now = np.asarray(now)
    prog = (now[..., None] - arr) / tau
    terms = np.where(active, (1 - prog) * kappa, 0.0)
    return kappa + terms.sum(axis=-1)


def released(fin: np.ndarray, now: Num) -> np.ndarray:
    """Slots whose task is done at time `now`: now ≥ arr + τ.

    Args:
        fin: finish times arr + τ (+inf for an empty slot).
        now: the current time, broadcast against `fin`.

    Returns:
        A bool array of the broadcast shape.

    Example:
        done = pyalgo.edge.released(np.array([3.0, np.inf]), 5.0)   # [True, False]
    """
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


def resolve_config(config: Union[EdgeConfig, str, Dict[str, Any]]) -> EdgeConfig:
    """An `EdgeConfig` from a config, a preset name or a dict of EdgeConfig fields.

    Args:
        config: an EdgeConfig, "adsac", "d2sac", "small" or a dict of fields.

    Returns:
        The `EdgeConfig`.

    Raises:
        ValueError: unknown fields or preset.
        TypeError: any other type.

    Example:
        cfg = resolve_config({"n_servers": 3})
    """
    if isinstance(config, EdgeConfig):
        return config
    if isinstance(config, str):
        return EdgeConfig.preset(config)
    if isinstance(config, dict):
        names = {f.name for f in dataclasses.fields(EdgeConfig)}
        unknown = sorted(map(str, set(config) - names))
        if unknown:
            raise ValueError(f"{ENV_NAME}: config has unknown EdgeConfig fields {unknown}")
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


def sample_world(cfg: EdgeConfig, world_seed: int = 0, rng: Literal["numpy", "legacy"] = "numpy") -> World:
    """Draw the hidden world (capacities, type bonuses, quality curves and the utility table).

    legacy: RandomState(world_seed) in the original order (adsac: for each server, for each model K
    bonuses then a_x, a_y, b_x, b_y; then C_e. d2sac: n_users location draws, then per ASP a_x, a_y,
    b_x, b_y, C, location). numpy: one Generator, vectorised.

    Args:
        cfg: the configuration.
        world_seed: the world's seed.
        rng: "numpy" or "legacy" (bit-exact with the released code).

    Returns:
        The `World`.

    Raises:
        ValueError: unknown `rng`.

    Example:
        world = pyalgo.edge.sample_world(pyalgo.edge.EdgeConfig.preset("small"), world_seed=1)
    """
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


def sample_episode(cfg: EdgeConfig, gen: Union[np.random.Generator, np.random.RandomState], legacy: bool) -> Episode:
    """Arrival stream of one episode.

    legacy (gen = RandomState): poisson(λH), random_sample(N), then per task user choice / type
    randint / demand choice (d2sac: user / demand), exactly the original order. numpy (gen =
    Generator): the same distributions, drawn vectorised. N = 0 is bumped to 1.

    Args:
        cfg: the configuration.
        gen: a np.random.RandomState (legacy) or np.random.Generator (numpy).
        legacy: draw in the released code's order.

    Returns:
        (arrivals int64 (N+1,), types (N+1,), demand indices (N+1,)).

    Example:
        cfg = pyalgo.edge.EdgeConfig.preset("small")
        arrivals, types, didx = pyalgo.edge.sample_episode(cfg, np.random.default_rng(0), legacy=False)
    """
    lam_h = cfg.arrival_rate * cfg.horizon
    D = len(cfg.demand_values)
    if legacy:
        gen = cast(np.random.RandomState, gen)
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
    gen = cast(np.random.Generator, gen)
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
def feature_scales(cfg: EdgeConfig, legacy: bool) -> Dict[str, Any]:
    """The normalised features of the observation: t/tmax and τ/τmax per demand index (D,), the
    capacity scale Cmax (the last capacity value) and the model feature (M in legacy mode, else 1)."""
    dem = np.asarray(cfg.demand_values, dtype=np.int64)
    return dict(t_norm=dem / dem[-1],
                tau_norm=runtime(dem, cfg.runtime_coefs) / runtime(dem.max(), cfg.runtime_coefs),
                cap_max=np.asarray(cfg.capacity_values, dtype=np.int64)[-1],
                model_feat=float(cfg.n_models) if legacy else 1.0)


class SlotState:
    """Struct of arrays for N envs: running tasks in (N, E, S) slots plus the episode streams."""

    # the arrays that change while envs run (a checkpoint of the envs is these arrays)
    ARRAYS = ("dem", "arr", "tau", "fin", "active", "used", "arrivals", "types", "didx", "n_arr", "j", "num_steps",
              "n_crashes", "server_crashes", "tasks_finished", "tasks_crashed")

    def __init__(self, cfg: EdgeConfig, world: World, n_envs: int, legacy: bool):
        self.cfg = cfg
        self.world = world
        self.legacy = legacy
        N, E, S = n_envs, cfg.n_servers, cfg.max_running
        self.N, self.E, self.M, self.S = N, E, cfg.n_models, S
        scales = feature_scales(cfg, legacy)
        self.demand = np.asarray(cfg.demand_values, dtype=np.int64)
        self.tau_vals = runtime(self.demand, cfg.runtime_coefs)
        self.t_norm, self.tau_norm = scales["t_norm"], scales["tau_norm"]
        self.cap = world.capacity.astype(np.int64)
        self.cap_norm = self.cap / scales["cap_max"]
        self.model_feat = scales["model_feat"]
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

    def arrays(self) -> Dict[str, np.ndarray]:
        """Copies of the changing arrays (`ARRAYS`), by name."""
        return {name: getattr(self, name).copy() for name in self.ARRAYS}

    def set_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Restores what `arrays` returned (shapes checked against this state's envs and servers)."""
        for name in self.ARRAYS:
            new, old = np.asarray(arrays[name]), getattr(self, name)
            streams = name in ("arrivals", "types", "didx")      # padded to the longest episode seen
            if (new.shape[:1] != old.shape[:1]) if streams else (new.shape != old.shape):
                raise ValueError(f"pyalgo.edge.SlotState: saved {name} has shape {new.shape}, expected {old.shape}")
            setattr(self, name, new.astype(old.dtype, copy=True))

    def load(self, i: int, episode: Episode) -> None:
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
    def task(self) -> Episode:
        """(type, demand index, arrival time) of every env's current task, each (N,)."""
        n = np.arange(self.N)
        return self.types[n, self.j], self.didx[n, self.j], self.arrivals[n, self.j]

    def free(self) -> np.ndarray:
        """Free capacity (N, E)."""
        return self.cap - self.used  # (N, E)


def assemble_obs(cfg: EdgeConfig, onehot: np.ndarray, t: np.ndarray, tau: np.ndarray, cap: Num, avail: Num,
                 model: Num) -> np.ndarray:
    """Observations (B, obs_dim) in the order of `cfg.obs_layout` from their features: the task's
    one-hot type (B, K) (adsac only), t/tmax and τ/τmax (B,); per server C/Cmax and avail/C (B, E)
    and the model feature (adsac only); server features broadcast to (B, E)."""
    layout, typed = cfg.obs_layout, cfg.layout == "adsac"
    task = np.column_stack(([onehot] if typed else []) + [t, tau])
    servers = [cap, avail] + ([model] if typed else [])
    shape = (task.shape[0], cfg.n_servers)
    return layout.join(task, np.stack([np.broadcast_to(x, shape) for x in servers], axis=-1))


def build_obs(st: SlotState) -> np.ndarray:
    """Observations of every env in `st`: see `EdgeConfig.obs_layout`.

    Args:
        st: the envs' state.

    Returns:
        (N, obs_dim) float32.

    Example:
        obs = build_obs(env.unwrapped._state)
    """
    k, d, _ = st.task()
    onehot = np.zeros((st.N, st.cfg.n_types))
    onehot[np.arange(st.N), k] = 1.0
    avail = (st.cap - st.used) / st.cap  # (N, E)
    obs = assemble_obs(st.cfg, onehot, st.t_norm[d], st.tau_norm[d], st.cap_norm, avail, st.model_feat)
    return obs.astype(np.float32)


def obs_bounds(cfg: EdgeConfig, legacy: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Box bounds that contain every observation.

    Args:
        cfg: the configuration.
        legacy: the legacy observation (raw model count).

    Returns:
        (low, high), each (obs_dim,) float32.

    Example:
        low, high = obs_bounds(EdgeConfig.preset("small"), legacy=False)
    """
    f = feature_scales(cfg, legacy)
    c_norm = np.asarray(cfg.capacity_values, dtype=np.int64) / f["cap_max"]
    K = cfg.n_types
    lo = assemble_obs(cfg, np.zeros((1, K)), np.array([min(0.0, f["t_norm"].min())]),
                      np.array([min(0.0, f["tau_norm"].min())]), 0.0, 0.0, 0.0)
    hi = assemble_obs(cfg, np.ones((1, K)), np.array([max(1.0, f["t_norm"].max())]),
                      np.array([max(1.0, f["tau_norm"].max())]), max(1.0, c_norm.max()), 1.0, max(1.0, f["model_feat"]))
    return lo[0].astype(np.float32), hi[0].astype(np.float32)


def core_step(st: SlotState, actions: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Advance every env in `st` by one step with joint actions a = e·M + m (validated).

    1. crash if t_j > C_e − used_e: reward −crash_penalty, server e emptied, task dropped;
       else admit to (e, m) with reward U. 2. move to task j+1, release slots with now ≥ arr+τ.

    Args:
        st: the envs' state, advanced in place.
        actions: (N,) int64 joint actions.

    Returns:
        (reward, crashed, penalty, util, terminated), each (N,).

    Example:
        reward, crashed, penalty, util, terminated = core_step(st, np.zeros(st.N, np.int64))
    """
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


def step_info(st: SlotState, crashed: np.ndarray, penalty: np.ndarray, util: np.ndarray) -> Dict[str, Any]:
    """Batched info dict (arrays with a leading N axis).

    Args:
        st: the envs' state.
        crashed: (N,) bool, from `core_step`.
        penalty: (N,) crash penalties.
        util: (N,) utilities.

    Returns:
        dict of num_steps, curr_time, crashed, crash_penalty, utility, server_util, n_crashes,
        tasks_finished, tasks_crashed, action_mask, server_free, task_type, task_demand,
        task_demand_idx.

    Example:
        info = step_info(st, *core_step(st, actions)[1:4])
    """
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


@overload
def check_seed(who: str, name: str, seed: Optional[int], legacy: bool, optional: Literal[False] = ...) -> int: ...
@overload
def check_seed(who: str, name: str, seed: Optional[int], legacy: bool, optional: bool) -> Optional[int]: ...
def check_seed(who: str, name: str, seed: Optional[int], legacy: bool, optional: bool = False) -> Optional[int]:
    """`seed` as an int (None with `optional`), or a ValueError naming `who` and `name`.

    Args:
        who: the function named in the error.
        name: the argument named in the error.
        seed: an integer >= 0, below 2**32 in legacy mode (numpy's RandomState) and below 2**128
            otherwise.
        legacy: the legacy bound.
        optional: None is allowed (and returned).

    Returns:
        The seed as an int, or None.

    Raises:
        ValueError: an invalid seed.

    Example:
        seed = check_seed("my_fn", "seed", 7, legacy=False)
    """
    if optional and seed is None:
        return None
    limit = 2 ** 32 if legacy else 2 ** 128
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < limit:
        raise ValueError(f"{who}: {name} must be an integer in [0, 2**{32 if legacy else 128})"
                         f"{' or None' if optional else ''}, got {seed!r}")
    return int(seed)


# ---------------------------------------------------------------------------------- actions
def check_action(action: Union[int, np.integer, np.ndarray], n_actions: int, who: str = ENV_NAME) -> int:
    """Validate one joint action.

    Args:
        action: an integer (or a one-element array).
        n_actions: the number of actions.
        who: the name in the errors.

    Returns:
        The action as an int.

    Raises:
        TypeError: not an integer.
        ValueError: not one value, or out of range [0, n_actions).

    Example:
        a = check_action(np.int64(3), 10)
    """
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
