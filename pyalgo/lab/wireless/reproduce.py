"""Reproduction of algorithm distillation for wireless power control: `pyalgo reproduce wireless`.

1. **Sun et al.'s setting** (TSP 2018): Rayleigh gains, σ² = 1, p_max = 1, a test set from Sun's
   seed; the WMMSE teacher, max-power and random-power baselines against the published numbers, and
   Sun's MLP (`MLPStudent`, BatchNorm) trained in the five modes of `train_student` over several seeds:
   % of WMMSE as a ratio of totals, continuous and binarised, mean ± 95 % CI next to Sun's DNN; the
   assisted mode also with fixed / increasing β at the first K.
2. **GNN on the D2D model** (the AD paper's Fig. 4a pattern): `GNNStudent` on `d2d` layouts with the
   adjacency as interference graph; supervised, unsupervised and unsupervised+assist with fixed /
   increasing / decreasing β over seeds; % of WMMSE on a held-out set and learning curves.
3. **The paper's claim** (assistance vs supervised vs unsupervised): paired differences over seeds
   with a 95 % Student-t CI; "beyond noise" only when the CI excludes 0.
4. **Unrolled WMMSE** (`UnrolledWMMSEStudent`): L WMMSE updates with learned per-user weight
   modulation, trained unsupervised on Sun's setting — the student meant to pass the teacher; scored
   against the teacher and against converged WMMSE (1000 iterations, tol 0), next to its untrained
   self (= L WMMSE updates), so a gain over WMMSE is learnt, not early stopping.
5. **Intermediate information**: assistance with the teacher's final powers only vs final + WMMSE
   state vs final + WMMSE trajectory (`assist` of `DistillConfig`; not in the paper).
6. **Decisions per second**: WMMSE vs a trained student's forward on the same test batch.

The recipe (issue 18): fresh channels every step (a sampler; the teacher runs per minibatch in the
teacher modes), BatchNorm, cosine lr decay; the RL modes with 4 critic steps, explore std 0.3, a
critic warm-up and the interior barrier. `n_train > 0` keeps the fixed-dataset protocol (cached labels).

Every training run is a job seeded by the config alone: channels from `torch.Generator`s with the
config's seeds, each student initialised from its seed (`seed`, `seed + 1`, ...) and trained with it,
so results do not depend on the workers or on which runs were done before.
"""
from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, cast

import numpy as np
import torch

import pyalgo.wireless as wireless
from pyalgo.wireless import MLPStudent, UnrolledWMMSEStudent, d2d, rayleigh, sum_rate, wmmse
from pyalgo.wireless._checks import check_choice, check_int, check_positive
from pyalgo.wireless.students import NORMS, Norm

from ..harness import Markdown, Preset, Runtime, header, num, plots
from ..harness.config import Validated
from .labels import TEACHER_MAX_ITER, TEACHER_TOL, teacher_labels
from .losses import ASSISTS, BETA_SCHEDULES, MODES
from .train import LR_SCHEDULES, OPTIMIZERS, DistillConfig, evaluate_student, train_student

TITLE = "Wireless power control: WMMSE teacher and distilled students"
WHERE = "pyalgo.lab.wireless.reproduce"
PARTS = ("sun", "gnn", "unrolled", "intermediate", "timing")
CONVERGED_ITER = 1000    # "converged WMMSE": this many iterations, tol 0 (the teacher stops at tol 1e-3)
# Sun et al. (TSP 2018), their code and checkpoints on their test set (seed 7, 1000 instances): WMMSE
# bit/s/Hz; max / random power as % of WMMSE; their DNN's % of WMMSE (binarised, continuous).
SUN_WMMSE = {10: 2.792, 20: 3.655, 30: 4.124}
SUN_BASELINES = {10: (50.2, 45.6), 20: (39.4, 37.7), 30: (34.7, 33.7)}
SUN_DNN = {10: (98.2, 94.9), 20: (92.1, 85.1), 30: (86.1, 77.5)}
TEACHER_GOAL = 100.0     # issue 18: at least one student at ≥ 100 % of WMMSE
# GNN runs: (label, mode, β schedule or None)
GNN_RUNS = (("supervised", "supervised", None), ("unsupervised", "unsupervised", None),
            ("assist, fixed β", "unsupervised+assist", "fixed"),
            ("assist, increasing β", "unsupervised+assist", "increasing"),
            ("assist, decreasing β", "unsupervised+assist", "decreasing"))
STUCK = 0.5     # a student within this many points of the max-power baseline has collapsed onto it
# t_{0.975, df} for df = 1..30 (two-sided 95 %; scipy.stats.t.ppf(0.975, df), 4 digits); 1.96 beyond
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042)


def _counts(where: str, obj: Any, names: Sequence[str], minimum: int = 1) -> None:
    for name in names:
        value = getattr(obj, name)
        for v in value if isinstance(value, tuple) else (value,):
            check_int(where, name, v, minimum)


def _subset(where: str, name: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    for v in values:
        check_choice(where, name, v, allowed)


def _per_K(where: str, name: str, values: Tuple[int, ...], Ks: Tuple[int, ...], empty: bool) -> None:
    if len(values) not in (1, len(Ks)) and not (empty and not values):
        raise ValueError(f"{where}: {name} must hold one entry for every K or one for all Ks (Ks = {Ks}), "
                         f"got {values!r} (with --set, change {name} before Ks)")


@dataclass(frozen=True)
class SunConfig(Preset, Validated):
    """Sun et al.'s setting: MLP students K² → hidden → K on Rayleigh channels.

    n_train: 0 = fresh `rayleigh` channels every step (`steps_per_epoch` batches per epoch, the
    teacher per minibatch); > 0 = a fixed training set of that size with cached WMMSE labels (the
    old protocol; an epoch is one pass). n_seeds / epochs_at: one entry per K of `Ks` (or one for
    all; `epochs_at` empty = `epochs` at every K); the seeds are `Config.seed`, +1, ....
    unsupervised+assist and rl+assist use `beta_schedule`; `assist_schedules` adds
    unsupervised+assist runs with other schedules at the first K. The RL modes use rl_lr, critic_lr,
    explore_std, critic_steps, critic_warmup and rl_barrier (issue 18's settings: they leave max power)."""
    Ks: Tuple[int, ...] = (10,)
    n_train: int = 0
    steps_per_epoch: int = 250
    n_test: int = 1000
    train_seed: int = 0
    test_seed: int = 7                      # Sun's test seed (our generator, not NumPy's)
    baseline_seed: int = 11                 # random-power baseline draws
    hidden: Tuple[int, ...] = (200, 80, 80)
    norm: str = "batch"
    modes: Tuple[str, ...] = tuple(MODES)
    n_seeds: Tuple[int, ...] = (2,)
    epochs: int = 8
    epochs_at: Tuple[int, ...] = ()
    batch_size: int = 256
    lr: float = 3e-3
    lr_schedule: str = "cosine"
    beta_unsup: float = 1.0                  # β₀ of unsupervised+assist
    beta_rl: float = 10.0                    # β₀ of rl+assist
    beta_schedule: str = "decreasing"
    assist_schedules: Tuple[str, ...] = ("fixed", "increasing")
    rl_lr: float = 1e-3
    critic_lr: float = 3e-3
    explore_std: float = 0.3
    critic_steps: int = 4
    critic_warmup: int = 400
    rl_barrier: float = 1e-2

    def __post_init__(self):
        where = f"{WHERE}.SunConfig"
        _counts(where, self, ("Ks", "steps_per_epoch", "n_test", "hidden", "epochs", "epochs_at", "batch_size",
                              "n_seeds", "critic_steps"))
        _counts(where, self, ("n_train", "train_seed", "test_seed", "baseline_seed", "critic_warmup"), 0)
        _subset(where, "modes", self.modes, tuple(MODES))
        _subset(where, "assist_schedules", self.assist_schedules, tuple(BETA_SCHEDULES))
        check_choice(where, "norm", self.norm, NORMS)
        check_choice(where, "lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_choice(where, "beta_schedule", self.beta_schedule, tuple(BETA_SCHEDULES))
        _per_K(where, "n_seeds", self.n_seeds, self.Ks, empty=False)
        _per_K(where, "epochs_at", self.epochs_at, self.Ks, empty=True)
        for name in ("lr", "rl_lr", "critic_lr", "beta_unsup", "beta_rl", "explore_std", "rl_barrier"):
            check_positive(where, name, getattr(self, name), allow_zero=name in ("beta_unsup", "beta_rl",
                                                                                  "explore_std", "rl_barrier"))

    def at(self, name: str, K: int) -> int:
        """n_seeds or epochs at K."""
        values = {"n_seeds": self.n_seeds, "epochs": self.epochs_at or (self.epochs,)}[name]
        return values[0] if len(values) == 1 else values[self.Ks.index(K)]

    def steps(self) -> int:
        """Optimiser steps per epoch."""
        return self.steps_per_epoch if self.n_train == 0 else -(-self.n_train // self.batch_size)

    def runs(self, K: int) -> List[Tuple[str, str, Optional[str]]]:
        """(label, mode, β schedule or None) at K: each mode, then the extra assist schedules at Ks[0]."""
        runs = [(m, m, self.beta_schedule if MODES[m].beta else None) for m in self.modes]
        if K == self.Ks[0] and "unsupervised+assist" in self.modes:
            runs += [(f"unsupervised+assist, {b} β", "unsupervised+assist", b) for b in self.assist_schedules
                     if b != self.beta_schedule]
        return runs


@dataclass(frozen=True)
class GNNConfig(Preset, Validated):
    """Students on D2D layouts; `runs` are (label, mode, β schedule or None), each over `n_seeds`
    seeds (`Config.seed`, +1, ...). n_train: 0 = fresh `d2d` layouts every step (`steps_per_epoch`
    batches per epoch, the teacher per minibatch), > 0 = a fixed training set. student: a class of
    `pyalgo.wireless` built as student(hidden=hidden, layers=layers, **dict(student_options)) for
    GNNStudent, student(**dict(student_options)) otherwise (a hook for other students and recipes)."""
    K: int = 12
    n_train: int = 0
    steps_per_epoch: int = 100
    n_test: int = 500
    train_seed: int = 1
    test_seed: int = 2
    n_seeds: int = 2
    epochs: int = 10
    batch_size: int = 64
    lr: float = 3e-3
    lr_schedule: str = "cosine"
    beta: float = 1.0
    hidden: int = 64
    layers: int = 3
    student: str = "GNNStudent"
    student_options: Tuple[Tuple[str, Any], ...] = ()
    runs: Tuple[Tuple[str, str, Optional[str]], ...] = GNN_RUNS

    def __post_init__(self):
        where = f"{WHERE}.GNNConfig"
        _counts(where, self, ("K", "steps_per_epoch", "n_test", "n_seeds", "epochs", "batch_size", "hidden",
                              "layers"))
        _counts(where, self, ("n_train", "train_seed", "test_seed"), 0)
        check_positive(where, "lr", self.lr)
        check_choice(where, "lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_positive(where, "beta", self.beta, allow_zero=True)
        cls = getattr(wireless, self.student, None)
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise ValueError(f"{where}: student must name a student class of pyalgo.wireless, got {self.student!r}")
        accepted = inspect.signature(cls).parameters
        for item in self.student_options:
            if not (isinstance(item, tuple) and len(item) == 2 and item[0] in accepted):
                raise ValueError(f"{where}: student_options must hold (name, value) pairs naming arguments of "
                                 f"{self.student} ({', '.join(accepted)}), got {item!r}")
        for run in self.runs:
            if not (isinstance(run, tuple) and len(run) == 3 and run[1] in MODES
                    and (run[2] is None or run[2] in BETA_SCHEDULES)):
                raise ValueError(f"{where}: runs must hold (label, mode, β schedule or None) with a mode of "
                                 f"{tuple(MODES)} and a schedule of {tuple(BETA_SCHEDULES)}, got {run!r}")

    def steps(self) -> int:
        """Optimiser steps per epoch."""
        return self.steps_per_epoch if self.n_train == 0 else -(-self.n_train // self.batch_size)

    def build(self) -> torch.nn.Module:
        cls = getattr(wireless, self.student)
        base = dict(hidden=self.hidden, layers=self.layers) if self.student == "GNNStudent" else {}
        return cls(**{**base, **dict(self.student_options)})


@dataclass(frozen=True)
class UnrolledConfig(Preset, Validated):
    """`UnrolledWMMSEStudent(layers, hidden)` trained unsupervised on fresh Rayleigh channels at each K
    of `Ks` (`steps_per_epoch` × `epochs` steps, cosine lr), `n_seeds` seeds from `Config.seed` on,
    scored on Sun's test set (the Sun part's `n_test`, `test_seed`)."""
    Ks: Tuple[int, ...] = (10,)
    layers: int = 10
    hidden: int = 32
    steps_per_epoch: int = 100
    epochs: int = 5
    batch_size: int = 256
    lr: float = 1e-3
    lr_schedule: str = "cosine"
    n_seeds: int = 2

    def __post_init__(self):
        where = f"{WHERE}.UnrolledConfig"
        _counts(where, self, ("Ks", "layers", "hidden", "steps_per_epoch", "epochs", "batch_size", "n_seeds"))
        check_positive(where, "lr", self.lr)
        check_choice(where, "lr_schedule", self.lr_schedule, LR_SCHEDULES)

    def build(self) -> torch.nn.Module:
        return UnrolledWMMSEStudent(layers=self.layers, hidden=self.hidden)


@dataclass(frozen=True)
class IntermediateConfig(Preset, Validated):
    """MLP unsupervised+assist (Sun's β schedule) at K with each assistance and seed (Sun's data and
    recipe)."""
    K: int = 10
    assists: Tuple[str, ...] = ("final", "final+state", "final+trajectory")
    seeds: Tuple[int, ...] = (0,)

    def __post_init__(self):
        where = f"{WHERE}.IntermediateConfig"
        _counts(where, self, ("K",))
        _counts(where, self, ("seeds",), 0)
        _subset(where, "assists", self.assists, ASSISTS)


@dataclass(frozen=True)
class Config(Preset, Validated):
    """seed: the first seed of the Sun, GNN and unrolled parts (they run seed, seed + 1, ...; the
    intermediate part uses its own seeds); parts: which of PARTS to run."""
    sun: SunConfig = field(default_factory=SunConfig)
    gnn: GNNConfig = field(default_factory=GNNConfig)
    unrolled: UnrolledConfig = field(default_factory=UnrolledConfig)
    intermediate: IntermediateConfig = field(default_factory=IntermediateConfig)
    seed: int = 0
    optimizer: str = "adam"
    timing_repeats: int = 5
    parts: Tuple[str, ...] = PARTS

    def __post_init__(self):
        where = f"{WHERE}.Config"
        if not isinstance(self.parts, tuple) or not set(self.parts) <= set(PARTS):
            raise ValueError(f"{where}: parts must be a subset of {PARTS}, got {self.parts!r}")
        check_choice(where, "optimizer", self.optimizer, OPTIMIZERS)
        _counts(where, self, ("timing_repeats",))
        _counts(where, self, ("seed",), 0)

    @classmethod
    def tiny(cls) -> "Config":
        return cls(sun=SunConfig(Ks=(4,), steps_per_epoch=8, n_test=128, n_seeds=(1,), epochs=2, batch_size=128,
                                 critic_warmup=4),
                   gnn=GNNConfig(K=6, n_train=128, n_test=64, epochs=2, batch_size=64, hidden=16, layers=2),
                   unrolled=UnrolledConfig(Ks=(4,), layers=2, hidden=8, steps_per_epoch=4, epochs=2, batch_size=64,
                                           n_seeds=1),
                   intermediate=IntermediateConfig(K=4), timing_repeats=1)

    @classmethod
    def quick(cls) -> "Config":
        """K = 10, 2 seeds × 7 MLP runs of 2000 steps, 2 seeds × 5 GNN runs, 2 intermediate runs: 26 jobs,
        ≈ 220 CPU seconds, ≈ 2 min on 2 workers of a free 2-core machine."""
        return cls()

    @classmethod
    def full(cls) -> "Config":
        """K = 10/20/30 × the five modes with 5/3/3 seeds (16 000 / 8000 / 6000 steps; fixed and
        increasing β at K = 10 too), 5 seeds × 5 GNN runs on fresh layouts (1500 steps), 3 seeds of the
        intermediate part: 96 jobs, 903 500 steps (`plan`); at the per-step CPU costs of `plan`'s
        docstring ≈ 5700 CPU seconds (+ ≈ 8 % set-up and evaluation, measured), ≈ 50–55 min on 2
        workers of a free 2-core machine."""
        return cls(sun=SunConfig(Ks=(10, 20, 30), steps_per_epoch=1000, n_seeds=(5, 3, 3), epochs=16,
                                 epochs_at=(16, 8, 6)),
                   gnn=GNNConfig(steps_per_epoch=200, epochs=10, n_seeds=5),
                   unrolled=UnrolledConfig(Ks=(10, 20, 30), epochs=10, n_seeds=3),
                   intermediate=IntermediateConfig(seeds=(0, 1, 2)))


# ---- data ------------------------------------------------------------------------------------------

def _rayleigh_test(s: SunConfig, K: int) -> torch.Tensor:
    """Sun's test gains at K."""
    return rayleigh(s.n_test, K, generator=torch.Generator().manual_seed(s.test_seed))


def _rayleigh_train(s: SunConfig, K: int):
    """The training channels at K: a fixed set (n_train > 0) or a sampler of fresh ones."""
    if s.n_train:
        return rayleigh(s.n_train, K, generator=torch.Generator().manual_seed(s.train_seed))
    return _Sampler(rayleigh, K)


class _Sampler:
    """sampler(batch, generator) -> fresh channels of `draw` at K (picklable, unlike a lambda)."""

    def __init__(self, draw: Callable, K: int):
        self.draw, self.K = draw, K

    def __call__(self, batch: int, generator: torch.Generator):
        return self.draw(batch, self.K, generator=generator)


def _d2d_test(g: GNNConfig):
    return d2d(g.n_test, g.K, generator=torch.Generator().manual_seed(g.test_seed))


def _d2d_train(g: GNNConfig):
    if g.n_train:
        return d2d(g.n_train, g.K, generator=torch.Generator().manual_seed(g.train_seed))
    return _Sampler(d2d, g.K)


def _teacher(G: torch.Tensor) -> torch.Tensor:
    return wmmse(G, max_iter=TEACHER_MAX_ITER, tol=TEACHER_TOL)


def _converged(G: torch.Tensor) -> torch.Tensor:
    """WMMSE run to CONVERGED_ITER iterations with tol 0: the local optimum the teacher stops short of."""
    return wmmse(G, max_iter=CONVERGED_ITER, tol=0.0)


def _pct(G: torch.Tensor, p: torch.Tensor, p_teacher: torch.Tensor) -> float:
    return 100.0 * float(sum_rate(G, p).sum()) / float(sum_rate(G, p_teacher).sum())


def _seeded(seed: int, build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """build() with the global torch RNG seeded from `seed` (restored afterwards)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _labels(train, mode: str, trajectory: bool = False):
    """Cached WMMSE labels of a fixed training set in the teacher modes (a sampler: per minibatch)."""
    if callable(train) or not MODES[mode].teacher:
        return None
    return teacher_labels(getattr(train, "gains", train), trajectory=trajectory, progress=False)


# ---- training jobs -------------------------------------------------------------------------------------

def _mlp_job(cfg: Config, K: int, mode: str, schedule: Optional[str], assist: Optional[str],
             seed: int) -> Dict[str, Any]:
    """One MLP student on Sun's setting at K; `assist` None: the mode's default."""
    s = cfg.sun
    train, G_test = _rayleigh_train(s, K), _rayleigh_test(s, K)
    trajectory = assist is not None and "trajectory" in assist
    student = _seeded(seed, lambda: MLPStudent(K, hidden=s.hidden, norm=cast(Norm, s.norm),
                                               state_head=bool(assist and "state" in assist),
                                               trajectory_heads=trajectory))
    options: Dict[str, Any] = dict(lr=s.lr)
    if MODES[mode].critic:
        options.update(lr=s.rl_lr, critic_lr=s.critic_lr, explore_std=s.explore_std, critic_steps=s.critic_steps,
                       critic_warmup=s.critic_warmup, barrier=s.rl_barrier)
    if schedule is not None:
        options.update(beta=s.beta_rl if MODES[mode].critic else s.beta_unsup, beta_schedule=schedule)
    config = DistillConfig(mode, assist=assist, epochs=s.at("epochs", K), batch_size=s.batch_size,
                           steps_per_epoch=None if s.n_train else s.steps_per_epoch, lr_schedule=s.lr_schedule,
                           optimizer=cfg.optimizer, seed=seed, **options)
    return _fit(student, config, train, _labels(train, mode, trajectory), G_test, _teacher(G_test))


def _gnn_job(cfg: Config, mode: str, schedule: Optional[str], seed: int) -> Dict[str, Any]:
    """One GNN student on the D2D layouts."""
    g = cfg.gnn
    train, test = _d2d_train(g), _d2d_test(g)
    student = _seeded(seed, g.build)
    config = DistillConfig(mode, epochs=g.epochs, batch_size=g.batch_size, lr=g.lr, lr_schedule=g.lr_schedule,
                           steps_per_epoch=None if g.n_train else g.steps_per_epoch, optimizer=cfg.optimizer,
                           seed=seed, **({} if schedule is None else dict(beta=g.beta, beta_schedule=schedule)))
    return _fit(student, config, train, _labels(train, mode), test, _teacher(test.gains))


def _unrolled_job(cfg: Config, K: int, seed: int) -> Dict[str, Any]:
    """One unrolled-WMMSE student on Sun's setting at K, unsupervised; also its untrained score."""
    u, G_test = cfg.unrolled, _rayleigh_test(cfg.sun, K)
    student, p_test = _seeded(seed, u.build), _teacher(G_test)
    initial = evaluate_student(student, G_test, teacher_p=p_test)["pct_teacher"]
    config = DistillConfig("unsupervised", epochs=u.epochs, batch_size=u.batch_size, steps_per_epoch=u.steps_per_epoch,
                           lr=u.lr, lr_schedule=u.lr_schedule, optimizer=cfg.optimizer, seed=seed)
    return dict(_fit(student, config, _Sampler(rayleigh, K), None, G_test, p_test), initial=initial)


def _fit(student: torch.nn.Module, config: DistillConfig, train, labels, test, p_test: torch.Tensor) -> Dict[str, Any]:
    """Trains, then scores on `test` (continuous and binarised); the weights come back for the timing."""
    start = time.perf_counter()
    history = train_student(student, config, channels=train, teacher=labels, eval_channels=test, progress=False)
    seconds = time.perf_counter() - start
    continuous = evaluate_student(student, test, teacher_p=p_test)
    binarised = evaluate_student(student, test, teacher_p=p_test, binarize=True)
    return dict(continuous=continuous["pct_teacher"], binarised=binarised["pct_teacher"],
                rate=continuous["sum_rate"], curve=list(history["eval_pct_teacher"]), seconds=seconds,
                state=student.state_dict())


def train_job(cfg: Config, kind: str, *args: Any) -> Dict[str, Any]:
    """A training job of `runtime.map`: ("mlp", K, mode, schedule, assist, seed), ("gnn", mode,
    schedule, seed) or ("unrolled", K, seed)."""
    return {"mlp": _mlp_job, "gnn": _gnn_job, "unrolled": _unrolled_job}[kind](cfg, *args)


def sun_seeds(cfg: Config, K: int) -> List[int]:
    return [cfg.seed + i for i in range(cfg.sun.at("n_seeds", K))]


def gnn_seeds(cfg: Config) -> List[int]:
    return [cfg.seed + i for i in range(cfg.gnn.n_seeds)]


def unrolled_seeds(cfg: Config) -> List[int]:
    return [cfg.seed + i for i in range(cfg.unrolled.n_seeds)]


def _reuses_sun(cfg: Config, assist: str, seed: int) -> bool:
    """The intermediate run (final, seed) is the Sun part's unsupervised+assist run at the same K."""
    K = cfg.intermediate.K
    return (assist == "final" and "sun" in cfg.parts and K in cfg.sun.Ks and seed in sun_seeds(cfg, K)
            and "unsupervised+assist" in cfg.sun.modes)


def _jobs(cfg: Config) -> Dict[str, Tuple]:
    jobs: Dict[str, Tuple] = {}
    if "sun" in cfg.parts:
        for K in cfg.sun.Ks:
            jobs.update({f"sun/{K}/{label}/{seed}": (cfg, "mlp", K, mode, schedule, None, seed)
                         for label, mode, schedule in cfg.sun.runs(K) for seed in sun_seeds(cfg, K)})
    if "gnn" in cfg.parts:
        jobs.update({f"gnn/{label}/{seed}": (cfg, "gnn", mode, schedule, seed)
                     for label, mode, schedule in cfg.gnn.runs for seed in gnn_seeds(cfg)})
    if "unrolled" in cfg.parts:
        jobs.update({f"unrolled/{K}/{seed}": (cfg, "unrolled", K, seed)
                     for K in cfg.unrolled.Ks for seed in unrolled_seeds(cfg)})
    if "intermediate" in cfg.parts:
        inter = cfg.intermediate
        jobs.update({f"intermediate/{a}/{seed}": (cfg, "mlp", inter.K, "unsupervised+assist", cfg.sun.beta_schedule,
                                                  a, seed)
                     for a in inter.assists for seed in inter.seeds if not _reuses_sun(cfg, a, seed)})
    return jobs


def plan(cfg: Config) -> Dict[str, int]:
    """The training jobs of `cfg` and their optimiser steps in total: {"jobs", "steps", and per part
    "sun/K", "gnn", "intermediate": steps}. The run's cost is about Σ steps × the per-step cost of
    each mode and K (CPU time, one thread, measured for issue 18: the MLP at batch 256 takes 2.1 (unsupervised),
    2.7–2.8 (supervised, +assist), 6.9–7.7 (RL) ms per step at K = 10; 3.7, 5.8–6.0, 12–15 ms at
    K = 20; 6.6, 12, 21–27 ms at K = 30; the GNN at K = 12, batch 64 ≈ 19–20 ms)."""
    out: Dict[str, int] = {"jobs": 0, "steps": 0}
    for key, args in _jobs(cfg).items():
        part = key.split("/")[0]
        if args[1] == "mlp":
            steps = cfg.sun.at("epochs", args[2]) * cfg.sun.steps()
            part = f"sun/{args[2]}" if part == "sun" else part
        elif args[1] == "unrolled":
            steps = cfg.unrolled.epochs * cfg.unrolled.steps_per_epoch
        else:
            steps = cfg.gnn.epochs * cfg.gnn.steps()
        out[part] = out.get(part, 0) + steps
        out["jobs"] += 1
        out["steps"] += steps
    return out


# ---- statistics over seeds -------------------------------------------------------------------------------

def t975(df: int) -> float:
    """The two-sided 95 % quantile t_{0.975, df} of Student's t (a table; 1.96 beyond df = 30)."""
    check_int(f"{WHERE}.t975", "df", df)
    return T975[df - 1] if df <= len(T975) else 1.96


def mean_ci(values: Sequence[float]) -> Tuple[float, float]:
    """(mean, half-width of the 95 % CI) over seeds: t_{0.975, n−1}·s/√n (s the sample std); the
    half-width is nan for one seed."""
    a = np.asarray(list(values), dtype=np.float64)
    if a.size < 2:
        return float(a.mean()), float("nan")
    return float(a.mean()), t975(a.size - 1) * float(a.std(ddof=1)) / math.sqrt(a.size)


def paired(a: Sequence[float], b: Sequence[float]) -> Dict[str, Any]:
    """The paired comparison a − b over the same seeds: mean difference, its 95 % CI half-width and
    the verdict ("better beyond noise" / "worse beyond noise" when the CI excludes 0, else "within
    noise"; "one seed" without a CI)."""
    if len(a) != len(b) or not len(a):
        raise ValueError(f"{WHERE}.paired: a and b must hold one value per seed, got {len(a)} and {len(b)}")
    mean, half = mean_ci([x - y for x, y in zip(a, b)])
    if not math.isfinite(half):
        verdict = "one seed"
    elif mean - half > 0:
        verdict = "better beyond noise"
    elif mean + half < 0:
        verdict = "worse beyond noise"
    else:
        verdict = "within noise"
    return dict(mean=mean, half=half, n=len(a), verdict=verdict)


def _over_seeds(per_seed: List[Dict[str, Any]], seeds: List[int]) -> Dict[str, Any]:
    """A label's runs over seeds: means (continuous, binarised, curve, seconds) and the per-seed values."""
    curves = np.asarray([r["curve"] for r in per_seed], dtype=np.float64)
    return dict(continuous=float(np.mean([r["continuous"] for r in per_seed])),
                binarised=float(np.mean([r["binarised"] for r in per_seed])),
                curve=[float(x) for x in curves.mean(0)], seconds=float(np.mean([r["seconds"] for r in per_seed])),
                seeds=list(seeds), runs=dict(continuous=[r["continuous"] for r in per_seed],
                                             binarised=[r["binarised"] for r in per_seed],
                                             curves=[r["curve"] for r in per_seed],
                                             seconds=[r["seconds"] for r in per_seed]))


# ---- the parts -------------------------------------------------------------------------------------------

def _sun_setting(s: SunConfig, K: int) -> Dict[str, Any]:
    """The teacher and the baselines on Sun's test set at K."""
    G = _rayleigh_test(s, K)
    r = wmmse(G, max_iter=TEACHER_MAX_ITER, tol=TEACHER_TOL, return_state=True)
    p_rand = torch.rand(s.n_test, K, generator=torch.Generator().manual_seed(s.baseline_seed))
    return dict(wmmse=float(sum_rate(G, r.p).mean()), iterations=float(r.iterations.float().mean()),
                max_power=_pct(G, torch.ones_like(r.p), r.p), random_power=_pct(G, p_rand, r.p),
                converged=_pct(G, _converged(G), r.p))


def _gnn_setting(g: GNNConfig) -> Dict[str, Any]:
    test = _d2d_test(g)
    p = _teacher(test.gains)
    return dict(wmmse=float(sum_rate(test.gains, p).mean()), max_power=_pct(test.gains, torch.ones_like(p), p),
                density=float(test.adjacency.float().mean()), converged=_pct(test.gains, _converged(test.gains), p))


def _unrolled(cfg: Config, done: Dict[str, Any]) -> Dict[str, Any]:
    """Per K: converged WMMSE (% of the teacher), the untrained students' scores and the trained runs."""
    seeds, out = unrolled_seeds(cfg), {}
    for K in cfg.unrolled.Ks:
        G = _rayleigh_test(cfg.sun, K)
        per_seed = [done[f"unrolled/{K}/{seed}"] for seed in seeds]
        out[str(K)] = dict(converged=_pct(G, _converged(G), _teacher(G)), initial=[r["initial"] for r in per_seed],
                           run=_over_seeds(per_seed, seeds))
    return out


def _intermediate(cfg: Config, done: Dict[str, Any]) -> Dict[str, Any]:
    inter, runs = cfg.intermediate, {}
    for assist in inter.assists:
        per_seed = [done[f"sun/{inter.K}/unsupervised+assist/{seed}"] if _reuses_sun(cfg, assist, seed)
                    else done[f"intermediate/{assist}/{seed}"] for seed in inter.seeds]
        runs[assist] = dict(continuous=[r["continuous"] for r in per_seed], binarised=[r["binarised"] for r in per_seed],
                            curves=[r["curve"] for r in per_seed], seconds=float(sum(r["seconds"] for r in per_seed)))
    return dict(K=inter.K, runs=runs)


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


@torch.no_grad()
def _timing_row(setting: str, K: int, student: torch.nn.Module, G: torch.Tensor, repeats: int, **kwargs) -> Dict[str, Any]:
    student.eval()
    return dict(setting=setting, K=K, student=type(student).__name__, batch=G.shape[0],
                teacher_s=_median_time(lambda: _teacher(G), repeats),
                student_s=_median_time(lambda: student(G, **kwargs), repeats))


def _timing(cfg: Config, done: Dict[str, Any]) -> List[Dict[str, Any]]:
    """WMMSE vs the first trained student of each setting (first seed) on the whole test set, one batch."""
    rows, s = [], cfg.sun
    for K in s.Ks if "sun" in cfg.parts else ():
        mlp = MLPStudent(K, hidden=s.hidden, norm=cast(Norm, s.norm))
        if s.modes:
            mlp.load_state_dict(done[f"sun/{K}/{s.modes[0]}/{cfg.seed}"]["state"])
        rows.append(_timing_row("Rayleigh", K, mlp, _rayleigh_test(s, K), cfg.timing_repeats))
    if "gnn" in cfg.parts and cfg.gnn.runs:
        g = cfg.gnn
        gnn = g.build()
        gnn.load_state_dict(done[f"gnn/{g.runs[0][0]}/{cfg.seed}"]["state"])
        test = _d2d_test(g)
        rows.append(_timing_row("D2D", g.K, gnn, test.gains, cfg.timing_repeats, adjacency=test.adjacency))
    if "unrolled" in cfg.parts:
        u, K = cfg.unrolled, cfg.unrolled.Ks[0]
        unrolled = u.build()
        unrolled.load_state_dict(done[f"unrolled/{K}/{cfg.seed}"]["state"])
        rows.append(_timing_row("Rayleigh", K, unrolled, _rayleigh_test(cfg.sun, K), cfg.timing_repeats))
    return rows


def _published() -> Dict[str, Any]:
    return dict(wmmse={str(K): v for K, v in SUN_WMMSE.items()},
                baselines={str(K): dict(max_power=m, random_power=r) for K, (m, r) in SUN_BASELINES.items()},
                sun_dnn={str(K): dict(binarised=b, continuous=c) for K, (b, c) in SUN_DNN.items()},
                teacher_goal=TEACHER_GOAL)


def _setting() -> Dict[str, Any]:
    """The fixed parts of the protocol: σ², p_max, the teacher's stop rule, the D2D geometry."""
    defaults = inspect.signature(d2d).parameters
    geometry = ("area_per_pair", "d_min", "d_max", "pathloss_exponent", "snr_db", "threshold")
    return dict(noise=1.0, p_max=1.0, teacher_max_iter=TEACHER_MAX_ITER, teacher_tol=TEACHER_TOL,
                d2d={name: defaults[name].default for name in geometry})


def run(cfg: Config, runtime: Runtime) -> Dict[str, Any]:
    with runtime.timed("training"):
        done = runtime.map(train_job, _jobs(cfg), desc="wireless: training runs")
    results: Dict[str, Any] = dict(published=_published(), setting=_setting(), sun={}, gnn=None, unrolled=None,
                                   intermediate=None, timing=[], plan=plan(cfg))
    for K in cfg.sun.Ks if "sun" in cfg.parts else ():
        seeds = sun_seeds(cfg, K)
        modes = {label: _over_seeds([done[f"sun/{K}/{label}/{seed}"] for seed in seeds], seeds)
                 for label, _, _ in cfg.sun.runs(K)}
        results["sun"][str(K)] = dict(_sun_setting(cfg.sun, K), modes=modes)
    if "gnn" in cfg.parts:
        seeds = gnn_seeds(cfg)
        results["gnn"] = dict(_gnn_setting(cfg.gnn), runs={
            label: _over_seeds([done[f"gnn/{label}/{seed}"] for seed in seeds], seeds) for label, _, _ in cfg.gnn.runs})
    if "unrolled" in cfg.parts:
        results["unrolled"] = _unrolled(cfg, done)
    if "intermediate" in cfg.parts:
        results["intermediate"] = _intermediate(cfg, done)
    if "timing" in cfg.parts:
        with runtime.timed("timing"):
            results["timing"] = _timing(cfg, done)
    return results


# ---- verdicts (from results alone) -----------------------------------------------------------------------

def claim_pairs(labels: Sequence[str]) -> List[Tuple[str, str]]:
    """The paper's comparisons among `labels`: every assisted run vs supervised and vs unsupervised,
    and rl+assist vs rl."""
    assisted = [x for x in labels if x.startswith("assist") or x.startswith("unsupervised+assist")]
    pairs = [(a, b) for a in assisted for b in ("supervised", "unsupervised") if b in labels]
    return pairs + ([("rl+assist", "rl")] if "rl+assist" in labels and "rl" in labels else [])


def claim(runs: Dict[str, Any], metric: str) -> List[Dict[str, Any]]:
    """Paired differences (a − b over seeds, `metric` "continuous" or "binarised") for `claim_pairs`."""
    return [dict(a=a, b=b, **paired(runs[a]["runs"][metric], runs[b]["runs"][metric]))
            for a, b in claim_pairs(list(runs))]


def stuck(runs: Dict[str, Any], max_power: float) -> List[str]:
    """"label (seed s)" for every run that ended within STUCK points of the max-power baseline,
    continuous or binarised (a policy held just inside the corner, e.g. by the barrier, scores a
    little below max power continuous and exactly max power binarised)."""
    return [f"{label} (seed {seed})" for label, v in runs.items()
            for seed, x, y in zip(v["seeds"], v["runs"]["continuous"], v["runs"]["binarised"])
            if min(abs(x - max_power), abs(y - max_power)) < STUCK]


def _lower(values: Sequence[float]) -> float:
    """The lower end of the 95 % CI of the mean (−inf for one seed)."""
    mean, half = mean_ci(values)
    return mean - half if math.isfinite(half) else -math.inf


def sun_verdicts(K: str, row: Dict[str, Any], published: Dict[str, Any]) -> List[str]:
    """Sun's DNN (binarised) and the teacher vs the best mode's mean over seeds at K ("beyond noise"
    names every mode whose CI lies above Sun's number)."""
    if not row["modes"]:
        return []
    lines = []
    best, v = max(row["modes"].items(), key=lambda kv: kv[1]["binarised"])
    mean, half = mean_ci(v["runs"]["binarised"])
    ci = f" ± {half:.1f}" if math.isfinite(half) else ""
    n = len(v["seeds"])
    dnn = published["sun_dnn"].get(K, {}).get("binarised")
    if dnn is not None:
        sure = [m for m, x in row["modes"].items() if _lower(x["runs"]["binarised"]) >= dnn]
        if sure:
            word = f"**reached** (beyond noise: {', '.join(sure)})"
        elif mean >= dnn:
            word = f"**reached** ({'by the mean, not beyond noise' if n > 1 else 'one seed'})"
        else:
            word = "**not reached**"
        lines.append(f"K = {K}: Sun's DNN {dnn:.1f} % (binarised): best {best} {mean:.1f}{ci} % over {n} seed(s) — {word}.")
    goal = published["teacher_goal"]
    top, tv = max(((m, max(x["continuous"], x["binarised"])) for m, x in row["modes"].items()), key=lambda kv: kv[1])
    lines.append(f"K = {K}: ≥ {goal:.0f} % of WMMSE (mean over seeds, continuous or binarised): best {top} {tv:.1f} % "
                 f"— **{'reached' if tv >= goal else 'not reached'}**{_converged_text(row)}.")
    stuck_runs = stuck(row["modes"], row["max_power"])
    if stuck_runs:
        lines.append(f"K = {K}: STUCK at the max-power baseline ({row['max_power']:.1f} %): {', '.join(stuck_runs)}. "
                     "Cause (issue 18): un-normalised ReLU layers let the common mode of the sum-rate gradient grow "
                     "multiplicatively until the sigmoid saturates at p_max, where it passes no gradient (absorbing); "
                     "RL's critic passes only that common mode at first. BatchNorm, the critic settings and the barrier "
                     "fix it at K = 10 — a stuck run here means these settings (tuned at K = 10) did not get out within this budget "
                     "or seed.")
    else:
        lines.append(f"K = {K}: no run is stuck at the max-power baseline ({row['max_power']:.1f} %).")
    return lines


def _converged_text(setting: Dict[str, Any]) -> str:
    """", converged WMMSE: x % of the teacher" where the results hold it."""
    return f" (converged WMMSE: {setting['converged']:.2f} % of the teacher)" if "converged" in setting else ""


def gnn_verdict(runs: Dict[str, Any], goal: float, setting: Optional[Dict[str, Any]] = None) -> str:
    top, tv = max(((m, max(x["continuous"], x["binarised"])) for m, x in runs.items()), key=lambda kv: kv[1])
    mean, half = mean_ci(runs[top]["runs"]["continuous" if runs[top]["continuous"] >= runs[top]["binarised"]
                                            else "binarised"])
    ci = f" ± {half:.1f}" if math.isfinite(half) else ""
    return (f"GNN: ≥ {goal:.0f} % of WMMSE: best {top} {mean:.1f}{ci} % over {len(runs[top]['seeds'])} seed(s) — "
            f"**{'reached' if tv >= goal else 'not reached'}**{_converged_text(setting or {})}.")


# ---- the report ------------------------------------------------------------------------------------------

def render(doc: Dict[str, Any], out: Path) -> str:
    c, r = doc["config"], doc["results"]
    md = Markdown()
    header(md, doc)
    if r["sun"]:
        _render_sun(md, c, r, out)
    if r["gnn"] is not None:
        _render_gnn(md, c, r, out)
    if r.get("unrolled"):
        _render_unrolled(md, c, r, out)
    if r["intermediate"] is not None:
        _render_intermediate(md, c, r, out)
    if r["timing"]:
        _render_timing(md, c, r, doc["environment"])
    return md.text()


def _f(x: float, digits: int = 1) -> str:
    return num(x, digits)


def _ci(values: Sequence[float], digits: int = 1) -> str:
    """"mean ± 95 % CI half-width" over seeds (the mean alone for one seed)."""
    mean, half = mean_ci(values)
    return _f(mean, digits) if not math.isfinite(half) else f"{_f(mean, digits)} ± {_f(half, digits)}"


def _steps(part: Dict[str, Any]) -> int:
    return part["steps_per_epoch"] if part["n_train"] == 0 else -(-part["n_train"] // part["batch_size"])


def _data_text(part: Dict[str, Any], what: str) -> str:
    if part["n_train"] == 0:
        return f"fresh {what} every step ({part['steps_per_epoch']} steps of batch {part['batch_size']} per epoch)"
    return f"a fixed set of {part['n_train']} {what} (seed {part['train_seed']}), batch {part['batch_size']}"


def _render_sun(md: Markdown, c: dict, r: dict, out: Path) -> None:
    s, st, pub = c["sun"], r["setting"], r["published"]
    md.h(2, f"Sun et al.'s setting (Rayleigh, σ² = {st['noise']:g}, p_max = {st['p_max']:g})")
    md.p(f"Test set: {s['n_test']} instances per K from `rayleigh(..., generator=seed {s['test_seed']})`; WMMSE "
         f"teacher ({st['teacher_max_iter']} iterations, tol {st['teacher_tol']:g}, p⁰ = p_max). Random-power "
         f"baseline p ~ U(0, p_max) (seed {s['baseline_seed']}). Percentages are ratios of totals over the test set "
         "(Sun's protocol); \"Sun\" columns are the numbers Sun et al. publish for their code and checkpoints.")
    rows = []
    for K, row in r["sun"].items():
        base = pub["baselines"].get(K, {})
        rows.append([K, num(row["wmmse"], 3), num(pub["wmmse"].get(K), 3), _f(row["iterations"]),
                     _f(row["max_power"]), _f(base.get("max_power")), _f(row["random_power"]),
                     _f(base.get("random_power"))])
    md.table(["K", "WMMSE (bit/s/Hz)", "Sun", "mean WMMSE iterations", "max power %", "Sun", "random power %",
              "Sun"], rows)
    epochs = dict(zip(map(str, s["Ks"]), s["epochs_at"] or [s["epochs"]] * len(s["Ks"])))
    md.p(f"MLP student (Sun's K² → {' → '.join(map(str, s['hidden']))} → K, {s['norm']} norm, amplitude inputs, "
         f"p = p_max·sigmoid), trained on {_data_text(s, 'Rayleigh channels')} — the teacher modes run WMMSE on each "
         f"minibatch or use cached labels —, {c['optimizer']} lr {s['lr']:g} ({s['lr_schedule']}), epochs per K "
         f"{', '.join(f'{K}: {e}' for K, e in epochs.items())}; n seeds from {c['seed']} on, n = "
         f"{', '.join(map(str, s['n_seeds']))} {'per K' if len(s['n_seeds']) > 1 else 'at every K'}. unsupervised+assist: {s['beta_schedule']} β, β₀ = {s['beta_unsup']:g} "
         f"(other schedules at K = {s['Ks'][0]}); rl+assist: β₀ = {s['beta_rl']:g}. RL modes: lr {s['rl_lr']:g}, "
         f"critic lr {s['critic_lr']:g}, exploration std {s['explore_std']:g}·p_max, {s['critic_steps']} critic "
         f"steps per batch, {s['critic_warmup']} critic-only warm-up steps, barrier {s['rl_barrier']:g}. Numbers: "
         "mean ± 95 % CI over seeds (Student t).")
    rows = []
    for K, row in r["sun"].items():
        dnn = pub["sun_dnn"].get(K, {})
        rows += [[K, mode, _ci(m["runs"]["continuous"]), _ci(m["runs"]["binarised"]),
                  f"{_f(dnn.get('binarised'))} / {_f(dnn.get('continuous'))}", len(m["seeds"]), _f(m["seconds"])]
                 for mode, m in row["modes"].items()]
    md.table(["K", "mode", "% of WMMSE (continuous)", "% of WMMSE (binarised at half of p_max)",
              "Sun's DNN (binarised / continuous)", "seeds", "train time per run (s)"], rows)
    md.bullets([line for K, row in r["sun"].items() for line in sun_verdicts(K, row, pub)])
    for K, row in r["sun"].items():
        _render_claim(md, f"MLP, Rayleigh K = {K}", row["modes"], ("continuous", "binarised"))
    for K, row in r["sun"].items():
        if row["modes"]:
            _plot_curves(out / f"mlp_curves_K{K}.png", {m: v["runs"]["curves"] for m, v in row["modes"].items()},
                         f"MLP students, Rayleigh K = {K}", steps_per_epoch=_steps(s))
            md.p(f"![MLP learning curves, K = {K}](mlp_curves_K{K}.png)")


def _render_claim(md: Markdown, what: str, runs: Dict[str, Any], metrics: Sequence[str]) -> None:
    """The paper's ordering as paired differences over seeds, one table per setting."""
    tables = {metric: claim(runs, metric) for metric in metrics}
    first = tables[metrics[0]]
    if not first:
        return
    md.p(f"Paper's ordering, {what}: paired differences a − b over the same seeds (points of % of WMMSE, mean ± "
         "95 % CI half-width); \"beyond noise\" only when the CI excludes 0.")
    rows = []
    for i, pair in enumerate(first):
        row = [pair["a"], pair["b"], pair["n"]]
        for metric in metrics:
            d = tables[metric][i]
            row += [f"{d['mean']:+.2f}" + (f" ± {d['half']:.2f}" if math.isfinite(d["half"]) else ""), d["verdict"]]
        rows.append(row)
    md.table(["a", "b", "seeds"] + [x for m in metrics for x in (f"a − b ({m})", "verdict")], rows)


def _render_gnn(md: Markdown, c: dict, r: dict, out: Path) -> None:
    g, gr, geo = c["gnn"], r["gnn"], r["setting"]["d2d"]
    md.h(2, "GNN on the D2D model")
    options = ", ".join(f"{k}={v!r}" for k, v in g["student_options"])
    student = (f"GNNStudent (hidden {g['hidden']}, {g['layers']} layers, max aggregation, log inputs"
               f"{', ' + options if options else ''})" if g["student"] == "GNNStudent" else f"{g['student']}({options})")
    md.p(f"`d2d` layouts ({geo['area_per_pair']:g} m² per pair, pair distance {geo['d_min']:g}–{geo['d_max']:g} m, "
         f"path-loss exponent {geo['pathloss_exponent']:g}, {geo['snr_db']:g} dB SNR at d_max, Rayleigh fading), "
         f"K = {g['K']}; interference graph = the adjacency (links closer than {geo['threshold']:g} m; edge density "
         f"{gr['density']:.2f}); σ² = {r['setting']['noise']:g}, p_max = {r['setting']['p_max']:g}. Trained on "
         f"{_data_text(g, 'layouts')}, held-out {g['n_test']} (seed {g['test_seed']}). {student}, {c['optimizer']} lr "
         f"{g['lr']:g} ({g['lr_schedule']}), {g['epochs']} epochs, {g['n_seeds']} seeds from {c['seed']} on; "
         f"β₀ = {g['beta']:g}. WMMSE on the held-out set: {gr['wmmse']:.3f} bit/s/Hz; max power "
         f"{gr['max_power']:.1f} % of it. Numbers: mean ± 95 % CI over seeds.")
    md.table(["mode", "% of WMMSE (final epoch)", "best epoch (mean curve)", "binarised", "seeds",
              "train time per run (s)"],
             [[label, _ci(v["runs"]["continuous"]), _f(max(v["curve"])), _ci(v["runs"]["binarised"]), len(v["seeds"]),
               _f(v["seconds"])] for label, v in gr["runs"].items()])
    if gr["runs"]:
        md.bullets([gnn_verdict(gr["runs"], r["published"]["teacher_goal"], gr)]
                   + ([f"GNN: STUCK at max power: {', '.join(x)}."] if (x := stuck(gr["runs"], gr["max_power"])) else []))
    _render_claim(md, f"GNN, D2D K = {g['K']}", gr["runs"], ("continuous", "binarised"))
    if gr["runs"]:
        base = "unsupervised" if "unsupervised" in gr["runs"] else next(iter(gr["runs"]))
        _plot_curves(out / "gnn_curves.png", {k: v["runs"]["curves"] for k, v in gr["runs"].items()},
                     f"GNN students, D2D K = {g['K']}", baseline=base, steps_per_epoch=_steps(g))
        md.p("![GNN learning curves](gnn_curves.png)")


def unrolled_verdicts(K: str, row: Dict[str, Any], goal: float) -> List[str]:
    """The unrolled student at K against the teacher and converged WMMSE (means over seeds, continuous
    or binarised, whichever is higher)."""
    v = row["run"]
    metric = "continuous" if v["continuous"] >= v["binarised"] else "binarised"
    mean, half = mean_ci(v["runs"][metric])
    ci = f" ± {half:.2f}" if math.isfinite(half) else ""
    vs_converged = 100.0 * mean / row["converged"]
    sure = " (beyond noise)" if _lower(v["runs"][metric]) >= goal else ""
    return [f"K = {K}: unrolled WMMSE {mean:.2f}{ci} % of WMMSE ({metric}, {len(v['seeds'])} seed(s)) — ≥ {goal:.0f} %: "
            f"**{'reached' + sure if mean >= goal else 'not reached'}**; {vs_converged:.2f} % of converged WMMSE "
            f"(**{'past' if vs_converged >= goal else 'below'}** WMMSE's local optimum); untrained (= its WMMSE updates) "
            f"{float(np.mean(row['initial'])):.2f} %."]


def _render_unrolled(md: Markdown, c: dict, r: dict, out: Path) -> None:
    u, s, st = c["unrolled"], c["sun"], r["setting"]
    md.h(2, "Unrolled WMMSE student: past the teacher")
    md.p(f"`UnrolledWMMSEStudent(layers={u['layers']}, hidden={u['hidden']})`: {u['layers']} Jacobi WMMSE updates from "
         "full power whose MSE weights each layer rescales per user by a small shared MLP (zero-initialised, so the "
         f"untrained student *is* {u['layers']} WMMSE iterations). Trained unsupervised (−sum rate) on fresh Rayleigh "
         f"channels, {u['steps_per_epoch'] * u['epochs']} steps of batch {u['batch_size']}, {c['optimizer']} lr "
         f"{u['lr']:g} ({u['lr_schedule']}), {u['n_seeds']} seed(s) from {c['seed']} on; Sun's test set ({s['n_test']} "
         f"instances, seed {s['test_seed']}). “Converged WMMSE” runs {CONVERGED_ITER} iterations with tol 0: the "
         f"teacher (tol {st['teacher_tol']:g}) stops a little short of its own local optimum, so beating the teacher "
         "is only meaningful next to that column.")
    rows = [[K, _f(float(np.mean(row["initial"])), 2), _ci(row["run"]["runs"]["continuous"], 2),
             _ci(row["run"]["runs"]["binarised"], 2), _f(row["converged"], 2),
             _f(100.0 * row["run"]["continuous"] / row["converged"], 2), len(row["run"]["seeds"]),
             _f(row["run"]["seconds"])] for K, row in r["unrolled"].items()]
    md.table(["K", "untrained (% of WMMSE)", "trained, continuous", "trained, binarised",
              "converged WMMSE (% of teacher)", "trained, % of converged WMMSE", "seeds", "train time per run (s)"],
             rows)
    md.bullets([line for K, row in r["unrolled"].items()
                for line in unrolled_verdicts(K, row, r["published"]["teacher_goal"])])
    curves = {f"K = {K}": row["run"]["runs"]["curves"] for K, row in r["unrolled"].items()}
    _plot_curves(out / "unrolled_curves.png", curves, "Unrolled WMMSE, Rayleigh", steps_per_epoch=u["steps_per_epoch"])
    md.p("![unrolled WMMSE learning curves](unrolled_curves.png)")


def _render_intermediate(md: Markdown, c: dict, r: dict, out: Path) -> None:
    inter, s = r["intermediate"], c["sun"]
    runs = inter["runs"]
    md.h(2, "Intermediate information (teacher state / trajectory) vs final-only assistance")
    md.p(f"MLP, K = {inter['K']}, unsupervised+assist with {s['beta_schedule']} β (β₀ = {s['beta_unsup']:g}), the "
         f"same data, recipe and steps as Sun's setting at that K; seeds {list(c['intermediate']['seeds'])} (mean ± "
         "95 % CI over seeds when more than one). final+state adds a head regressing WMMSE's (u·√G_kk, log2 w) at the "
         "teacher's solution; final+trajectory matches the outputs of per-layer heads to WMMSE iterates spread "
         "along the teacher's path (see `pyalgo.lab.wireless.assist_loss`).")
    base = float(np.mean(runs["final"]["continuous"])) if "final" in runs else float("nan")
    md.table(["assistance", "% of WMMSE (continuous)", "binarised", "Δ vs final (continuous)", "train time (s)"],
             [[a, _ci(v["continuous"]), _ci(v["binarised"]),
               f"{float(np.mean(v['continuous'])) - base:+.2f}", _f(v["seconds"])] for a, v in runs.items()])
    if "final" in runs and len(runs) > 1:
        others = {a: float(np.mean(v["continuous"])) - base for a, v in runs.items() if a != "final"}
        best = max(others, key=others.get)
        n = len(c["intermediate"]["seeds"])
        if others[best] > 0:
            md.p(f"Best: {best}, {others[best]:+.2f} points over final-only assistance ({n} seed(s); treat "
                 "sub-point differences as noise).")
        else:
            md.p(f"No intermediate-information variant beat final-only assistance here (best {best}: "
                 f"{others[best]:+.2f} points).")
    if runs:
        _plot_curves(out / "intermediate_curves.png", {a: v["curves"] for a, v in runs.items()},
                     f"Intermediate information, MLP K = {inter['K']}",
                     baseline="final" if "final" in runs else None, steps_per_epoch=_steps(s))
        md.p("![intermediate information](intermediate_curves.png)")


def _render_timing(md: Markdown, c: dict, r: dict, env: dict) -> None:
    st = r["setting"]
    md.h(2, "Teacher vs student: decisions per second")
    md.p(f"CPU, {env['threads']} torch thread(s), median of {c['timing_repeats']} runs after a warm-up, the whole "
         f"test set as one batch; WMMSE at most {st['teacher_max_iter']} iterations, tol {st['teacher_tol']:g} (C++ "
         "kernel); the student's forward under no_grad (the first trained student of the setting).")
    md.table(["setting", "batch", "WMMSE (s)", "WMMSE decisions/s", "student", "student (s)", "student decisions/s",
              "speed-up"],
             [[f"{t['setting']} K={t['K']}", t["batch"], num(t["teacher_s"], 4), f"{t['batch'] / t['teacher_s']:.3g}",
               t["student"], num(t["student_s"], 4), f"{t['batch'] / t['student_s']:.3g}",
               f"{t['teacher_s'] / t['student_s']:.2f}×"] for t in r["timing"]])


def _plot_curves(path: Path, curves: Dict[str, Any], title: str, baseline: Optional[str] = None,
                 steps_per_epoch: int = 1) -> None:
    """% of WMMSE after each epoch vs optimiser steps (mean ± std over seeds where a label has several
    curves), and with a `baseline`, each curve's difference from it."""
    fig, axes = plots.subplots(2 if baseline else 1, cols=2, size=(5.2, 3.6))
    ref = np.atleast_2d(np.asarray(curves[baseline], dtype=np.float64)).mean(0) if baseline else None
    for i, (label, curve) in enumerate(curves.items()):
        values = np.atleast_2d(np.asarray(curve, dtype=np.float64))
        epochs = np.arange(1, values.shape[1] + 1) * steps_per_epoch
        style = dict(marker="osD^vx"[i % 6], markersize=3, ls="-" if i % 2 == 0 else "--")  # coinciding curves stay visible
        plots.band(axes[0], epochs, values, label, **style)
        if baseline:
            plots.band(axes[1], epochs, values - ref, label, **style)
    axes[0].set_ylabel("held-out sum rate, % of WMMSE")
    axes[0].set_title(title, fontsize=9)
    if baseline:
        axes[1].axhline(0.0, color="k", lw=0.8, ls="--")
        axes[1].set_ylabel(f"difference from {baseline} (points)")
        axes[1].set_title("differences", fontsize=9)
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.set_xlabel("optimiser step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    plots.legend_outside(fig, axes)
    plots.save(fig, path)
