"""Configuration of the edge AIGC environment.

`EdgeConfig` holds every constant of the system model; `EdgeConfig.preset(name)` gives the
`adsac` preset (the released ADSAC environment), the `d2sac` preset (the released D2SAC / AGOD
environment) and a CI-sized `small` preset. All value grids are stored exactly as the original code
builds them (`np.arange(...)`), so the legacy mode draws bit-identical floats.
`EdgeConfig.obs_layout` is the one description of the observation vector: the environment builds
and bounds its observations with it, and the attention denoiser splits them with it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence, Tuple, TypeVar, Union, overload

import numpy as np

if TYPE_CHECKING:
    import torch

ArrayT = TypeVar("ArrayT", np.ndarray, "torch.Tensor")

__all__ = ["EdgeConfig", "LAYOUTS", "ObsLayout", "PRESETS", "runtime"]

LAYOUTS = ("adsac", "d2sac")
MAX_SERVERS = MAX_MODELS = MAX_TYPES = 1024   # sizes of the observation / action spaces (documented limits)
MAX_RUNNING = 4096                            # tasks running at once on one server (slots)
MAX_TASKS = 1e7                               # expected tasks per episode, arrival_rate * horizon


def _grid(start, stop, step):
    return tuple(np.arange(start, stop, step).tolist())


@overload
def runtime(t: float, coefs: Sequence[float]) -> float: ...
@overload
def runtime(t: np.ndarray, coefs: Sequence[float]) -> np.ndarray: ...
def runtime(t: Union[float, np.ndarray], coefs: Sequence[float]) -> Union[float, np.ndarray]:
    """τ(t) = (a·t² + b·t + c)·scale for coefs (a, b, c, scale), in the original's operation order.

    Released: (0.001·t² + 2.5·t − 14)·60. Broadcasts.

    Args:
        t: demand(s) t: a number or an array.
        coefs: (a, b, c, scale).

    Returns:
        τ(t), a float for a number, else an array of t's shape.

    Example:
        tau = pyalgo.edge.runtime(np.arange(10, 100, 10), pyalgo.edge.EdgeConfig.preset("adsac").runtime_coefs)
    """
    a, b, c, s = coefs
    return (a * t ** 2 + b * t + c) * s


@dataclass(frozen=True)
class ObsLayout:
    """Where the features sit in an observation of `state_dim` numbers: `task_dim` task features and
    `n_servers` blocks of `server_dim` features, task first (ADSAC) or servers first (D2SAC); the joint
    action is a = server · n_models + model."""
    task_dim: int
    n_servers: int
    server_dim: int
    n_models: int
    servers_first: bool = False

    @property
    def state_dim(self) -> int:
        return self.task_dim + self.n_servers * self.server_dim

    def split(self, s: ArrayT) -> Tuple[ArrayT, ArrayT]:
        """(task features (B, task_dim), server features (B, E, server_dim)) of observations s (B, S);
        numpy arrays or torch tensors."""
        n = self.n_servers * self.server_dim
        servers, task = (s[:, :n], s[:, n:]) if self.servers_first else (s[:, self.task_dim:], s[:, :self.task_dim])
        return task, servers.reshape(s.shape[0], self.n_servers, self.server_dim)

    def join(self, task: np.ndarray, servers: np.ndarray) -> np.ndarray:
        """The inverse of `split` for numpy arrays: task (B, task_dim), servers (B, E, server_dim) → (B, S)."""
        B = task.shape[0]
        if task.shape != (B, self.task_dim) or servers.shape != (B, self.n_servers, self.server_dim):
            raise ValueError(f"pyalgo.edge.ObsLayout.join: expected task ({B}, {self.task_dim}) and servers "
                             f"({B}, {self.n_servers}, {self.server_dim}), got {task.shape} and {servers.shape}")
        parts = [servers.reshape(B, -1), task] if self.servers_first else [task, servers.reshape(B, -1)]
        return np.concatenate(parts, axis=1)


@dataclass(frozen=True)
class EdgeConfig:
    """All constants of the edge AIGC world and task process.

    n_servers (E), n_models (M, models per server), n_types (K task types);
    capacity_values: grid C_e is drawn from; demand_values: grid t_j is drawn from;
    arrival_rate (λ) and horizon (H): N ~ Poisson(λH); crash_coef (κ); bonus_weight (β);
    runtime_coefs (a, b, c, scale): τ(t) = (a·t² + b·t + c)·scale;
    n_users: only consumed as one RNG draw per task in legacy mode;
    bonus_values, ax_values, ay_values, bx_values, by_values: type-bonus / quality-curve grids;
    layout: "adsac" (task part first, then [C/Cmax, avail/C, M] per server) or "d2sac"
    (servers first as [C/Cmax, avail/C], then [t/tmax, τ/τmax]; every task is type 0; no type
    bonus draw).
    """

    n_servers: int = 10
    n_models: int = 4
    n_types: int = 4
    capacity_values: tuple = tuple(range(600, 1500, 100))
    demand_values: tuple = tuple(range(100, 250, 10))
    arrival_rate: float = 0.0015
    horizon: int = 1_000_000
    crash_coef: float = 2.0
    bonus_weight: float = 1.0
    runtime_coefs: tuple = (0.001, 2.5, -14.0, 60.0)
    n_users: int = 1000
    bonus_values: tuple = field(default_factory=lambda: _grid(0, 1, 0.1))
    ax_values: tuple = tuple(range(0, 100, 10))
    ay_values: tuple = field(default_factory=lambda: _grid(0.0, 0.5, 0.05))
    bx_values: tuple = tuple(range(150, 250, 10))
    by_values: tuple = field(default_factory=lambda: _grid(0.5, 1.0, 0.05))
    layout: str = "adsac"

    def __post_init__(self):
        # normalise sequences to tuples (so the dataclass stays hashable and immutable)
        for name in ("capacity_values", "demand_values", "runtime_coefs", "bonus_values",
                     "ax_values", "ay_values", "bx_values", "by_values"):
            val = getattr(self, name)
            try:
                if val is None or isinstance(val, (str, bytes)):
                    raise TypeError(name)
                np.asarray(val, dtype=np.float64)        # numbers only (the values keep their types)
                tup = tuple(np.asarray(val).reshape(-1).tolist())
            except (TypeError, ValueError) as exc:
                raise ValueError(f"EdgeConfig.{name} must be a sequence of numbers, got {val!r}") from exc
            object.__setattr__(self, name, tup)
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        def _int(name, lo):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"EdgeConfig.{name} must be an integer, got {v!r}")
            if v < lo:
                raise ValueError(f"EdgeConfig.{name} must be >= {lo}, got {v!r}")

        def _real(name):
            v = getattr(self, name)
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ValueError(f"EdgeConfig.{name} must be a number, got {v!r}")

        _int("n_servers", 1)
        _int("n_models", 1)
        _int("n_types", 1)
        _int("n_users", 1)
        _int("horizon", 1)
        for name, cap in (("n_servers", MAX_SERVERS), ("n_models", MAX_MODELS), ("n_types", MAX_TYPES),
                          ("n_users", 2 ** 31 - 1), ("horizon", 2 ** 53)):
            if getattr(self, name) > cap:
                raise ValueError(f"EdgeConfig.{name} must be <= {cap}, got {getattr(self, name)!r}")
        for name in ("arrival_rate", "crash_coef", "bonus_weight"):
            _real(name)
        if not isinstance(self.layout, str) or self.layout not in LAYOUTS:
            raise ValueError(f"EdgeConfig.layout must be one of {LAYOUTS}, got {self.layout!r}")
        if not (np.isfinite(self.arrival_rate) and self.arrival_rate > 0):
            raise ValueError(f"EdgeConfig.arrival_rate must be > 0, got {self.arrival_rate!r}")
        if self.arrival_rate * self.horizon > MAX_TASKS:
            raise ValueError(f"EdgeConfig.arrival_rate * horizon (the expected tasks per episode) must be <= "
                             f"{MAX_TASKS:.0e}, got {self.arrival_rate * self.horizon:.3g}")
        if not (np.isfinite(self.crash_coef) and self.crash_coef >= 0):
            raise ValueError(f"EdgeConfig.crash_coef must be >= 0, got {self.crash_coef!r}")
        if not (np.isfinite(self.bonus_weight) and self.bonus_weight >= 0):
            raise ValueError(f"EdgeConfig.bonus_weight must be >= 0, got {self.bonus_weight!r}")
        for name in ("capacity_values", "demand_values", "ax_values", "bx_values"):
            vals = getattr(self, name)
            if len(vals) == 0:
                raise ValueError(f"EdgeConfig.{name} must not be empty")
            if any((not float(v).is_integer()) or abs(v) > 2 ** 31 for v in vals):
                raise ValueError(f"EdgeConfig.{name} must hold integers of magnitude <= 2**31, got {vals!r}")
        if min(self.capacity_values) <= 0:
            raise ValueError(f"EdgeConfig.capacity_values must all be > 0, got {self.capacity_values!r}")
        if min(self.demand_values) <= 0:
            raise ValueError(f"EdgeConfig.demand_values must all be > 0, got {self.demand_values!r}")
        for name in ("bonus_values", "ay_values", "by_values"):
            vals = getattr(self, name)
            if len(vals) == 0:
                raise ValueError(f"EdgeConfig.{name} must not be empty")
            if not all(np.isfinite(v) and v >= 0 for v in vals):
                raise ValueError(f"EdgeConfig.{name} must be finite and >= 0, got {vals!r}")
        if max(self.ax_values) >= min(self.bx_values):
            raise ValueError("EdgeConfig.ax_values must all be < every bx_values entry (a_x < b_x)")
        if max(self.ay_values) > min(self.by_values):
            raise ValueError("EdgeConfig.ay_values must all be <= every by_values entry (a_y <= b_y)")
        if max(self.capacity_values) // min(self.demand_values) > MAX_RUNNING:
            raise ValueError(f"EdgeConfig.capacity_values / demand_values: at most {MAX_RUNNING} tasks may run at once "
                             f"on a server (max capacity // min demand), got {self.max_running}")
        if len(self.runtime_coefs) != 4:
            raise ValueError(f"EdgeConfig.runtime_coefs must be (a, b, c, scale), got {self.runtime_coefs!r}")
        taus = self.runtime(np.asarray(self.demand_values, dtype=np.int64))
        if not np.all(np.isfinite(taus) & (taus > 0)):
            raise ValueError("EdgeConfig.runtime_coefs must give a positive runtime for every demand value")
        if self.layout == "d2sac" and self.bonus_weight != 0:
            raise ValueError("EdgeConfig.bonus_weight must be 0 for layout 'd2sac' (reward = Q only)")

    # ------------------------------------------------------------------ derived quantities
    @property
    def n_actions(self) -> int:
        return self.n_servers * self.n_models

    @property
    def obs_layout(self) -> ObsLayout:
        """adsac: [one_hot(k) (K), t/tmax, τ/τmax] then per server [C/Cmax, avail/C, M]; d2sac: per
        server [C/Cmax, avail/C] then [t/tmax, τ/τmax] (every task is type 0, no model feature)."""
        typed = self.layout == "adsac"
        return ObsLayout(task_dim=(self.n_types if typed else 0) + 2, n_servers=self.n_servers,
                         server_dim=3 if typed else 2, n_models=self.n_models, servers_first=not typed)

    @property
    def obs_dim(self) -> int:
        return self.obs_layout.state_dim

    @property
    def max_running(self) -> int:
        """Upper bound on tasks running at once on one server (slots in the batched env)."""
        return int(max(self.capacity_values) // min(self.demand_values))

    @overload
    def runtime(self, t: float) -> float: ...
    @overload
    def runtime(self, t: np.ndarray) -> np.ndarray: ...
    def runtime(self, t: Union[float, np.ndarray]) -> Union[float, np.ndarray]:
        """τ(t) of this config's `runtime_coefs` (see `runtime`)."""
        return runtime(t, self.runtime_coefs)

    def replace(self, **kw: Any) -> EdgeConfig:
        """A copy with the fields in `kw` changed (validated like a new config)."""
        return dataclasses.replace(self, **kw)

    @classmethod
    def preset(cls, name: str) -> "EdgeConfig":
        try:
            return PRESETS[name]()
        except (KeyError, TypeError):
            raise ValueError(f"unknown EdgeConfig preset {name!r}; choose from {sorted(PRESETS)}") from None


def _adsac() -> EdgeConfig:
    return EdgeConfig()


def _d2sac() -> EdgeConfig:
    # as released with D2SAC (AGOD): 20 flat ASPs, C in {400..900}, λ = 0.001, t in {100..250}, reward = Q only.
    return EdgeConfig(
        n_servers=20,
        n_models=1,
        n_types=5,
        capacity_values=tuple(range(400, 1000, 100)),
        demand_values=tuple(range(100, 260, 10)),
        arrival_rate=0.001,
        bonus_weight=0.0,
        bonus_values=(0.0,),
        layout="d2sac",
    )


def _small() -> EdgeConfig:
    # CI-sized: 3 servers x 2 models, ~100 tasks per episode at ~80 % offered load.
    return EdgeConfig(n_servers=3, n_models=2, horizon=200_000, arrival_rate=0.0005)


PRESETS = {"adsac": _adsac, "d2sac": _d2sac, "small": _small}
