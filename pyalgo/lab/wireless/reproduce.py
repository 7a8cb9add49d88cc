"""Reproduction of algorithm distillation for wireless power control: `pyalgo reproduce wireless`.

1. **Sun et al.'s setting** (TSP 2018): Rayleigh gains, σ² = 1, p_max = 1, a test set from Sun's
   seed; the WMMSE teacher, max-power and random-power baselines against the published numbers, and
   Sun's MLP (`MLPStudent`) trained in the five modes of `train_student`: % of WMMSE as a ratio of
   totals, continuous and binarised, next to Sun's DNN.
2. **GNN on the D2D model** (the AD paper's Fig. 4a pattern): `GNNStudent` on `d2d` layouts with the
   adjacency as interference graph; supervised, unsupervised and unsupervised+assist with fixed /
   increasing / decreasing β; % of WMMSE on a held-out set and learning curves.
3. **Intermediate information**: assistance with the teacher's final powers only vs final + WMMSE
   state vs final + WMMSE trajectory (`assist` of `DistillConfig`; not in the paper).
4. **Decisions per second**: WMMSE vs a trained student's forward on the same test batch.

Every training run is a job seeded by the config alone: channels from `torch.Generator`s with the
config's seeds, each student initialised from `seed` (or one of `intermediate.seeds`) and trained
with that seed, so results do not depend on the workers or on which runs were done before.
"""
from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from pyalgo.wireless import GNNStudent, MLPStudent, d2d, rayleigh, sum_rate, wmmse
from pyalgo.wireless._checks import check_choice, check_int, check_positive

from ..harness import Markdown, Preset, Runtime, header, mean_std, num, plots, pm
from ..harness.config import Validated
from .labels import TEACHER_MAX_ITER, TEACHER_TOL, teacher_labels
from .losses import ASSISTS, BETA_SCHEDULES, MODES
from .train import OPTIMIZERS, DistillConfig, evaluate_student, train_student

TITLE = "Wireless power control: WMMSE teacher and distilled students"
WHERE = "pyalgo.lab.wireless.reproduce"
PARTS = ("sun", "gnn", "intermediate", "timing")
# Sun et al. (TSP 2018), their code and checkpoints on their test set (seed 7, 1000 instances): WMMSE
# bit/s/Hz; max / random power as % of WMMSE; their DNN's % of WMMSE (binarised, continuous).
SUN_WMMSE = {10: 2.792, 20: 3.655, 30: 4.124}
SUN_BASELINES = {10: (50.2, 45.6), 20: (39.4, 37.7), 30: (34.7, 33.7)}
SUN_DNN = {10: (98.2, 94.9), 20: (92.1, 85.1), 30: (86.1, 77.5)}
GOALS = {10: 100.0, 30: 97.0}        # issue 3: the best student's % of WMMSE
# GNN runs: (label, mode, β schedule or None)
GNN_RUNS = (("supervised", "supervised", None), ("unsupervised", "unsupervised", None),
            ("assist, fixed β", "unsupervised+assist", "fixed"),
            ("assist, increasing β", "unsupervised+assist", "increasing"),
            ("assist, decreasing β", "unsupervised+assist", "decreasing"))
STUCK = 0.5     # a student within this many points of the max-power baseline has collapsed onto it


def _counts(where: str, obj: Any, names: Sequence[str], minimum: int = 1) -> None:
    for name in names:
        value = getattr(obj, name)
        for v in value if isinstance(value, tuple) else (value,):
            check_int(where, name, v, minimum)


def _subset(where: str, name: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    for v in values:
        check_choice(where, name, v, allowed)


@dataclass(frozen=True)
class SunConfig(Preset, Validated):
    """Sun et al.'s setting: MLP students K² → hidden → K on Rayleigh channels."""
    Ks: Tuple[int, ...] = (10,)
    n_train: int = 20000
    n_test: int = 1000
    train_seed: int = 0
    test_seed: int = 7                      # Sun's test seed (our generator, not NumPy's)
    baseline_seed: int = 11                 # random-power baseline draws
    hidden: Tuple[int, ...] = (200, 80, 80)
    modes: Tuple[str, ...] = tuple(MODES)
    epochs: int = 25
    batch_size: int = 256
    lr: float = 3e-3
    beta_unsup: float = 1.0                  # β₀ of unsupervised+assist (decreasing)
    beta_rl: float = 10.0                    # β₀ of rl+assist (decreasing)
    explore_std: float = 0.1

    def __post_init__(self):
        where = f"{WHERE}.SunConfig"
        _counts(where, self, ("Ks", "n_train", "n_test", "hidden", "epochs", "batch_size"))
        _counts(where, self, ("train_seed", "test_seed", "baseline_seed"), 0)
        _subset(where, "modes", self.modes, tuple(MODES))
        for name in ("lr", "beta_unsup", "beta_rl", "explore_std"):
            check_positive(where, name, getattr(self, name), allow_zero=name != "lr")


@dataclass(frozen=True)
class GNNConfig(Preset, Validated):
    """GNN students on D2D layouts; `runs` are (label, mode, β schedule or None)."""
    K: int = 12
    n_train: int = 1000
    n_test: int = 500
    train_seed: int = 1
    test_seed: int = 2
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    beta: float = 1.0
    hidden: int = 64
    layers: int = 3
    runs: Tuple[Tuple[str, str, Optional[str]], ...] = GNN_RUNS

    def __post_init__(self):
        where = f"{WHERE}.GNNConfig"
        _counts(where, self, ("K", "n_train", "n_test", "epochs", "batch_size", "hidden", "layers"))
        _counts(where, self, ("train_seed", "test_seed"), 0)
        check_positive(where, "lr", self.lr)
        check_positive(where, "beta", self.beta, allow_zero=True)
        for run in self.runs:
            if not (isinstance(run, tuple) and len(run) == 3 and run[1] in MODES
                    and (run[2] is None or run[2] in BETA_SCHEDULES)):
                raise ValueError(f"{where}: runs must hold (label, mode, β schedule or None) with a mode of "
                                 f"{tuple(MODES)} and a schedule of {tuple(BETA_SCHEDULES)}, got {run!r}")


@dataclass(frozen=True)
class IntermediateConfig(Preset, Validated):
    """MLP unsupervised+assist (decreasing β) at K with each assistance and seed (Sun's data)."""
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
    """seed: every student's initial weights and training seed (the intermediate part uses its own
    seeds); parts: which of "sun", "gnn", "intermediate", "timing" to run."""
    sun: SunConfig = field(default_factory=SunConfig)
    gnn: GNNConfig = field(default_factory=GNNConfig)
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
        return cls(sun=SunConfig(Ks=(4,), n_train=512, n_test=128, epochs=2, batch_size=128),
                   gnn=GNNConfig(K=6, n_train=128, n_test=64, epochs=2, batch_size=64, hidden=16, layers=2),
                   intermediate=IntermediateConfig(K=4), timing_repeats=1)

    @classmethod
    def quick(cls) -> "Config":
        return cls()

    @classmethod
    def full(cls) -> "Config":
        return cls(sun=SunConfig(Ks=(10, 20, 30), n_train=100000, epochs=60, batch_size=500),
                   gnn=GNNConfig(K=20, n_train=10000, epochs=40), intermediate=IntermediateConfig(seeds=(0, 1, 2)))


# ---- data ------------------------------------------------------------------------------------------

def _rayleigh(s: SunConfig, K: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """(train, test) gains of Sun's setting at K."""
    return (rayleigh(s.n_train, K, generator=torch.Generator().manual_seed(s.train_seed)),
            rayleigh(s.n_test, K, generator=torch.Generator().manual_seed(s.test_seed)))


def _d2d(g: GNNConfig):
    """(train, test) D2D layouts."""
    return (d2d(g.n_train, g.K, generator=torch.Generator().manual_seed(g.train_seed)),
            d2d(g.n_test, g.K, generator=torch.Generator().manual_seed(g.test_seed)))


def _teacher(G: torch.Tensor) -> torch.Tensor:
    return wmmse(G, max_iter=TEACHER_MAX_ITER, tol=TEACHER_TOL)


def _pct(G: torch.Tensor, p: torch.Tensor, p_teacher: torch.Tensor) -> float:
    return 100.0 * float(sum_rate(G, p).sum()) / float(sum_rate(G, p_teacher).sum())


def _seeded(seed: int, build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """build() with the global torch RNG seeded from `seed` (restored afterwards)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


# ---- training jobs -------------------------------------------------------------------------------------

def _mlp_job(cfg: Config, K: int, mode: str, assist: Optional[str], seed: int) -> Dict[str, Any]:
    """One MLP student on Sun's setting at K; `assist` None: the mode's default."""
    s = cfg.sun
    G_train, G_test = _rayleigh(s, K)
    trajectory = assist is not None and "trajectory" in assist
    labels = teacher_labels(G_train, trajectory=trajectory, progress=False) if MODES[mode].teacher else None
    student = _seeded(seed, lambda: MLPStudent(K, hidden=s.hidden, state_head=bool(assist and "state" in assist),
                                               trajectory_heads=trajectory))
    beta = {"unsupervised+assist": s.beta_unsup, "rl+assist": s.beta_rl}.get(mode)
    config = DistillConfig(mode, assist=assist, epochs=s.epochs, batch_size=s.batch_size, lr=s.lr,
                           optimizer=cfg.optimizer, explore_std=s.explore_std, seed=seed,
                           **({} if beta is None else dict(beta=beta, beta_schedule="decreasing")))
    return _fit(student, config, G_train, labels, G_test, _teacher(G_test))


def _gnn_job(cfg: Config, mode: str, schedule: Optional[str]) -> Dict[str, Any]:
    """One GNN student on the D2D layouts."""
    g = cfg.gnn
    train, test = _d2d(g)
    labels = teacher_labels(train.gains, progress=False) if MODES[mode].teacher else None
    student = _seeded(cfg.seed, lambda: GNNStudent(hidden=g.hidden, layers=g.layers))
    config = DistillConfig(mode, epochs=g.epochs, batch_size=g.batch_size, lr=g.lr, optimizer=cfg.optimizer,
                           seed=cfg.seed, **({} if schedule is None else dict(beta=g.beta, beta_schedule=schedule)))
    return _fit(student, config, train, labels, test, _teacher(test.gains))


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
    """A training job of `runtime.map`: ("mlp", K, mode, assist, seed) or ("gnn", mode, schedule)."""
    return _mlp_job(cfg, *args) if kind == "mlp" else _gnn_job(cfg, *args)


def _reuses_sun(cfg: Config, assist: str, seed: int) -> bool:
    """The intermediate run (final, seed) is the Sun part's unsupervised+assist run at the same K."""
    return (assist == "final" and seed == cfg.seed and "sun" in cfg.parts and cfg.intermediate.K in cfg.sun.Ks
            and "unsupervised+assist" in cfg.sun.modes)


def _jobs(cfg: Config) -> Dict[str, Tuple]:
    jobs: Dict[str, Tuple] = {}
    if "sun" in cfg.parts:
        for K in cfg.sun.Ks:
            jobs.update({f"sun/{K}/{mode}": (cfg, "mlp", K, mode, None, cfg.seed) for mode in cfg.sun.modes})
    if "gnn" in cfg.parts:
        jobs.update({f"gnn/{label}": (cfg, "gnn", mode, schedule) for label, mode, schedule in cfg.gnn.runs})
    if "intermediate" in cfg.parts:
        inter = cfg.intermediate
        jobs.update({f"intermediate/{a}/{seed}": (cfg, "mlp", inter.K, "unsupervised+assist", a, seed)
                     for a in inter.assists for seed in inter.seeds if not _reuses_sun(cfg, a, seed)})
    return jobs


# ---- the parts -------------------------------------------------------------------------------------------

def _sun_setting(s: SunConfig, K: int) -> Dict[str, Any]:
    """The teacher and the baselines on Sun's test set at K."""
    _, G = _rayleigh(s, K)
    r = wmmse(G, max_iter=TEACHER_MAX_ITER, tol=TEACHER_TOL, return_state=True)
    p_rand = torch.rand(s.n_test, K, generator=torch.Generator().manual_seed(s.baseline_seed))
    return dict(wmmse=float(sum_rate(G, r.p).mean()), iterations=float(r.iterations.float().mean()),
                max_power=_pct(G, torch.ones_like(r.p), r.p), random_power=_pct(G, p_rand, r.p))


def _gnn_setting(g: GNNConfig) -> Dict[str, Any]:
    train, test = _d2d(g)
    p = _teacher(test.gains)
    return dict(wmmse=float(sum_rate(test.gains, p).mean()), max_power=_pct(test.gains, torch.ones_like(p), p),
                density=float(train.adjacency.float().mean()))


def _scores(run: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in run.items() if k != "state"}


def _intermediate(cfg: Config, done: Dict[str, Any]) -> Dict[str, Any]:
    inter, runs = cfg.intermediate, {}
    for assist in inter.assists:
        per_seed = [done[f"sun/{inter.K}/unsupervised+assist"] if _reuses_sun(cfg, assist, seed)
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
    """WMMSE vs the first trained student of each setting on the whole test set, one batch."""
    rows = []
    for K in cfg.sun.Ks if "sun" in cfg.parts else ():
        student = MLPStudent(K, hidden=cfg.sun.hidden)
        if cfg.sun.modes:
            student.load_state_dict(done[f"sun/{K}/{cfg.sun.modes[0]}"]["state"])
        rows.append(_timing_row("Rayleigh", K, student, _rayleigh(cfg.sun, K)[1], cfg.timing_repeats))
    if "gnn" in cfg.parts and cfg.gnn.runs:
        g = cfg.gnn
        student = GNNStudent(hidden=g.hidden, layers=g.layers)
        student.load_state_dict(done[f"gnn/{g.runs[0][0]}"]["state"])
        test = _d2d(g)[1]
        rows.append(_timing_row("D2D", g.K, student, test.gains, cfg.timing_repeats, adjacency=test.adjacency))
    return rows


def _published() -> Dict[str, Any]:
    return dict(wmmse={str(K): v for K, v in SUN_WMMSE.items()},
                baselines={str(K): dict(max_power=m, random_power=r) for K, (m, r) in SUN_BASELINES.items()},
                sun_dnn={str(K): dict(binarised=b, continuous=c) for K, (b, c) in SUN_DNN.items()},
                goals={str(K): v for K, v in GOALS.items()})


def _setting() -> Dict[str, Any]:
    """The fixed parts of the protocol: σ², p_max, the teacher's stop rule, the D2D geometry."""
    defaults = inspect.signature(d2d).parameters
    geometry = ("area_per_pair", "d_min", "d_max", "pathloss_exponent", "snr_db", "threshold")
    return dict(noise=1.0, p_max=1.0, teacher_max_iter=TEACHER_MAX_ITER, teacher_tol=TEACHER_TOL,
                d2d={name: defaults[name].default for name in geometry})


def run(cfg: Config, runtime: Runtime) -> Dict[str, Any]:
    with runtime.timed("training"):
        done = runtime.map(train_job, _jobs(cfg), desc="wireless: training runs")
    results: Dict[str, Any] = dict(published=_published(), setting=_setting(), sun={}, gnn=None, intermediate=None,
                                   timing=[])
    for K in cfg.sun.Ks if "sun" in cfg.parts else ():
        modes = {mode: _scores(done[f"sun/{K}/{mode}"]) for mode in cfg.sun.modes}
        results["sun"][str(K)] = dict(_sun_setting(cfg.sun, K), modes=modes)
    if "gnn" in cfg.parts:
        results["gnn"] = dict(_gnn_setting(cfg.gnn), runs={label: _scores(done[f"gnn/{label}"])
                                                             for label, _, _ in cfg.gnn.runs})
    if "intermediate" in cfg.parts:
        results["intermediate"] = _intermediate(cfg, done)
    if "timing" in cfg.parts:
        with runtime.timed("timing"):
            results["timing"] = _timing(cfg, done)
    return results


# ---- the report ------------------------------------------------------------------------------------------

def render(doc: Dict[str, Any], out: Path) -> str:
    c, r = doc["config"], doc["results"]
    md = Markdown()
    header(md, doc)
    if r["sun"]:
        _render_sun(md, c, r, out)
    if r["gnn"] is not None:
        _render_gnn(md, c, r, out)
    if r["intermediate"] is not None:
        _render_intermediate(md, c, r, out)
    if r["timing"]:
        _render_timing(md, c, r, doc["environment"])
    return md.text()


def _f(x: float, digits: int = 1) -> str:
    return num(x, digits)


def _over_seeds(xs: Sequence[float]) -> str:
    """The mean, ± the sample std over seeds when there are several."""
    mean, std = mean_std(xs)
    return _f(mean) if len(xs) == 1 else pm(mean, std, 1)


def _render_sun(md: Markdown, c: dict, r: dict, out: Path) -> None:
    s, st, pub = c["sun"], r["setting"], r["published"]
    md.h(2, f"Sun et al.'s setting (Rayleigh, σ² = {st['noise']:g}, p_max = {st['p_max']:g})")
    md.p(f"Test set: {s['n_test']} instances per K from `rayleigh(..., generator=seed {s['test_seed']})`; training "
         f"set {s['n_train']} instances (seed {s['train_seed']}), WMMSE labels ({st['teacher_max_iter']} iterations, "
         f"tol {st['teacher_tol']:g}, p⁰ = p_max). Random-power baseline p ~ U(0, p_max) (seed {s['baseline_seed']}). "
         "Percentages are ratios of totals over the test set (Sun's protocol); \"Sun\" columns are the numbers "
         "Sun et al. publish for their code and checkpoints.")
    rows = []
    for K, row in r["sun"].items():
        base = pub["baselines"].get(K, {})
        rows.append([K, num(row["wmmse"], 3), num(pub["wmmse"].get(K), 3), _f(row["iterations"]),
                     _f(row["max_power"]), _f(base.get("max_power")), _f(row["random_power"]),
                     _f(base.get("random_power"))])
    md.table(["K", "WMMSE (bit/s/Hz)", "Sun", "mean WMMSE iterations", "max power %", "Sun", "random power %",
              "Sun"], rows)
    md.p(f"MLP student (Sun's K² → {' → '.join(map(str, s['hidden']))} → K, amplitude inputs, p = p_max·sigmoid), "
         f"{c['optimizer']} lr {s['lr']:g}, batch {s['batch_size']}, {s['epochs']} epochs over {s['n_train']} "
         f"instances, init/train seed {c['seed']}. unsupervised+assist: decreasing β, β₀ = {s['beta_unsup']:g}; "
         f"rl+assist: decreasing β, β₀ = {s['beta_rl']:g}; RL exploration std {s['explore_std']:g}·p_max, "
         "default critic.")
    rows = []
    for K, row in r["sun"].items():
        dnn = pub["sun_dnn"].get(K, {})
        rows += [[K, mode, _f(m["continuous"]), _f(m["binarised"]),
                  f"{_f(dnn.get('binarised'))} / {_f(dnn.get('continuous'))}", _f(m["seconds"])]
                 for mode, m in row["modes"].items()]
    md.table(["K", "mode", "% of WMMSE (continuous)", "% of WMMSE (binarised at half of p_max)",
              "Sun's DNN (binarised / continuous)", "train time (s)"], rows)
    md.bullets([line for K, row in r["sun"].items() for line in _sun_verdicts(K, row, pub["goals"].get(K))])
    for K, row in r["sun"].items():
        if row["modes"]:
            _plot_curves(out / f"mlp_curves_K{K}.png", {m: v["curve"] for m, v in row["modes"].items()},
                         f"MLP students, Rayleigh K = {K}")
            md.p(f"![MLP learning curves, K = {K}](mlp_curves_K{K}.png)")


def _sun_verdicts(K: str, row: dict, goal: Optional[float]) -> List[str]:
    if not row["modes"]:
        return []
    best_mode, best = max(((m, max(v["continuous"], v["binarised"])) for m, v in row["modes"].items()),
                          key=lambda x: x[1])
    verdict = "" if goal is None else f" — issue goal ≥ {goal:.0f} %: **{'reached' if best >= goal else 'not reached'}**"
    lines = [f"K = {K}: best student {best_mode} at {best:.1f} % of WMMSE{verdict}."]
    stuck = [m for m, v in row["modes"].items() if abs(v["continuous"] - row["max_power"]) < STUCK]
    if stuck:
        lines.append(f"K = {K}: {', '.join(stuck)} ended at the max-power baseline ({row['max_power']:.1f} %): the "
                     "sum-rate gradient first pushes every output up, the sigmoid saturates at p_max and the gradient "
                     "vanishes (also seen in tuning with other learning rates, SGD, larger batches, log inputs and a "
                     "negative output bias); the teacher's term is what gets the assisted modes out of it.")
    return lines


def _render_gnn(md: Markdown, c: dict, r: dict, out: Path) -> None:
    g, gr, geo = c["gnn"], r["gnn"], r["setting"]["d2d"]
    md.h(2, "GNN on the D2D model")
    md.p(f"`d2d` layouts ({geo['area_per_pair']:g} m² per pair, pair distance {geo['d_min']:g}–{geo['d_max']:g} m, "
         f"path-loss exponent {geo['pathloss_exponent']:g}, {geo['snr_db']:g} dB SNR at d_max, Rayleigh fading), "
         f"K = {g['K']}; interference graph = the adjacency (links closer than {geo['threshold']:g} m; edge density "
         f"{gr['density']:.2f}); σ² = {r['setting']['noise']:g}, p_max = {r['setting']['p_max']:g}. Train "
         f"{g['n_train']} layouts (seed {g['train_seed']}), held-out {g['n_test']} (seed {g['test_seed']}). "
         f"GNNStudent (hidden {g['hidden']}, {g['layers']} layers, max aggregation, log inputs), {c['optimizer']} lr "
         f"{g['lr']:g}, batch {g['batch_size']}, {g['epochs']} epochs, seed {c['seed']}; β₀ = {g['beta']:g}. WMMSE on "
         f"the held-out set: {gr['wmmse']:.3f} bit/s/Hz; max power {gr['max_power']:.1f} % of it.")
    md.table(["mode", "% of WMMSE (final epoch)", "best epoch", "binarised", "train time (s)"],
             [[label, _f(v["curve"][-1]), _f(max(v["curve"])), _f(v["binarised"]), _f(v["seconds"])]
              for label, v in gr["runs"].items()])
    verdict = _gnn_verdict(gr["runs"])
    if verdict:
        md.p(verdict)
    if gr["runs"]:
        base = "unsupervised" if "unsupervised" in gr["runs"] else next(iter(gr["runs"]))
        _plot_curves(out / "gnn_curves.png", {k: v["curve"] for k, v in gr["runs"].items()},
                     f"GNN students, D2D K = {g['K']}", baseline=base)
        md.p("![GNN learning curves](gnn_curves.png)")


def _gnn_verdict(runs: dict) -> str:
    """The paper's ordering: every assisted schedule at least as good as both plain modes."""
    plain = [runs[k]["curve"][-1] for k in ("supervised", "unsupervised") if k in runs]
    assisted = {k: v["curve"][-1] for k, v in runs.items() if k.startswith("assist")}
    if not plain or not assisted:
        return ""
    best_plain = max(plain)
    ok = {k: v >= best_plain for k, v in assisted.items()}
    if all(ok.values()):
        verdict = "**reproduced**: every assisted schedule is ≥ both plain modes"
    elif any(ok.values()):
        verdict = ("**partly reproduced**: " + ", ".join(k for k, v in ok.items() if v) + " ≥ both plain modes; "
                   + ", ".join(k for k, v in ok.items() if not v) + " below")
    else:
        verdict = "**not reproduced**: no assisted schedule reaches the better plain mode"
    return (f"Paper's ordering (assistance ≥ supervised and unsupervised), final-epoch numbers: {verdict} (best plain "
            f"{best_plain:.1f} %, assisted " + ", ".join(f"{k} {v:.1f} %" for k, v in assisted.items())
            + "). A single seed: differences of a fraction of a percent are within seed noise.")


def _render_intermediate(md: Markdown, c: dict, r: dict, out: Path) -> None:
    inter, s = r["intermediate"], c["sun"]
    runs = inter["runs"]
    md.h(2, "Intermediate information (teacher state / trajectory) vs final-only assistance")
    md.p(f"MLP, K = {inter['K']}, unsupervised+assist with decreasing β (β₀ = {s['beta_unsup']:g}), the same data, "
         f"lr, batch and {s['epochs']} epochs as Sun's setting; seeds {list(c['intermediate']['seeds'])} (mean ± std "
         "over seeds when more than one). final+state adds a head regressing WMMSE's (u·√G_kk, log2 w) at the "
         "teacher's solution; final+trajectory matches the outputs of per-layer heads to WMMSE iterates spread "
         "along the teacher's path (see `pyalgo.lab.wireless.assist_loss`).")
    base = float(np.mean(runs["final"]["continuous"])) if "final" in runs else float("nan")
    md.table(["assistance", "% of WMMSE (continuous)", "binarised", "Δ vs final (continuous)", "train time (s)"],
             [[a, _over_seeds(v["continuous"]), _over_seeds(v["binarised"]),
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
                     baseline="final" if "final" in runs else None)
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


def _plot_curves(path: Path, curves: Dict[str, Any], title: str, baseline: Optional[str] = None) -> None:
    """% of WMMSE per epoch (mean ± std over seeds where a label has several curves), and with a
    `baseline`, each curve's difference from it (the curves lie within a point of each other)."""
    fig, axes = plots.subplots(2 if baseline else 1, cols=2, size=(5.2, 3.6))
    ref = np.atleast_2d(np.asarray(curves[baseline], dtype=np.float64)).mean(0) if baseline else None
    for i, (label, curve) in enumerate(curves.items()):
        values = np.atleast_2d(np.asarray(curve, dtype=np.float64))
        epochs = np.arange(1, values.shape[1] + 1)
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
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    plots.legend_outside(fig, axes)
    plots.save(fig, path)
