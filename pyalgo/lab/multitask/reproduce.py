"""Reproduction of GO4Align's comparison on the offline benchmarks: `pyalgo reproduce multitask`.

Trains LS, SI, RLW, DWA, UW, FAMO, MGDA, PCGrad, CAGrad and GO4Align on

- B1, the two-task toy (f1 scaled by 0.1): Δm% of the offset losses at the end against each task's
  single-task optimum, over the 5 initial points; GO4Align's scale invariance (scale 0.1 vs 1);
- B2, synthetic grouped regression (loss scales 1 : 9 : 100): per-task test MSE against 6 STL nets;
- B3, digits one-vs-rest (tasks 0–4's BCE ×10): per-task test F1 against 10 STL nets,

and reports Δm% (mean ± std over seeds), the time per training step, the toy's end points and
trajectories, and the paper's NYUv2 numbers next to ours. GO4Align's (K, β) per benchmark are in
`protocol.HPARAMS`, chosen on validation data only (`select_go4align`: a 25 % hold-out of the
training rows, seeds distinct from the evaluation seeds, never the test rows); the full preset
reruns the selection. Every run is an independent seeded job (`runtime.map`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

import numpy as np

from pyalgo.multitask.metrics import delta_m

from ..harness import Preset, Runtime, mean_std
from ..harness.config import Validated
from . import problems as P
from .protocol import (BENCHMARKS, FRONT_TOLERANCE, HPARAMS, INVARIANCE_METHODS, INVARIANCE_SCALE,
                       METHOD_ORDER, PARETO_X1_MAX, PARETO_X2, RECORD_EVERY, TOY_SCALE, method_kwargs, protocol)
from .report import render

__all__ = ["TITLE", "Config", "run", "render", "select_go4align"]

TITLE = "GO4Align and multi-task weighting baselines: offline reproduction"


@dataclass(frozen=True)
class Config(Preset, Validated):
    """seeds: evaluation seeds (data draw, split, initialisation, minibatches); toy_steps / toy_lr: Adam
    on the toy; regression_steps / digits_steps: training steps of B2 / B3; select: rerun GO4Align's
    (K, β) selection on validation data over K ∈ {1, 2, 3, M/2, M} × selection_betas with
    selection_seeds, each run selection_steps_factor × the benchmark's steps."""
    seeds: tuple = (0, 1, 2)
    toy_steps: int = 5000
    toy_lr: float = 5e-3
    regression_steps: int = 1500
    digits_steps: int = 1000
    select: bool = False
    selection_seeds: tuple = (100, 101, 102)
    selection_betas: tuple = (0.0, 1e-4, 1e-3)
    selection_steps_factor: float = 1.0

    def __post_init__(self):
        where = "pyalgo.lab.multitask.reproduce.Config"
        for name in ("seeds", "selection_seeds", "selection_betas"):
            if not getattr(self, name):
                raise ValueError(f"{where}.{name} must not be empty")
        for name in ("toy_steps", "regression_steps", "digits_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{where}.{name} must be an int >= 1, got {value!r}")
        if not self.toy_lr > 0:
            raise ValueError(f"{where}.toy_lr must be > 0, got {self.toy_lr!r}")
        if not self.selection_steps_factor > 0:
            raise ValueError(f"{where}.selection_steps_factor must be > 0, got {self.selection_steps_factor!r}")
        if any(not b >= 0 for b in self.selection_betas):
            raise ValueError(f"{where}.selection_betas must be >= 0, got {self.selection_betas!r}")

    @classmethod
    def tiny(cls) -> "Config":
        return cls(seeds=(0, 1), toy_steps=40, regression_steps=30, digits_steps=200)

    @classmethod
    def quick(cls) -> "Config":
        return cls()

    @classmethod
    def full(cls) -> "Config":
        return cls(seeds=(0, 1, 2, 3, 4), toy_steps=35000, toy_lr=1e-3, regression_steps=3000, digits_steps=1500,
                   select=True)

    def steps(self, problem: str) -> int:
        return {"regression": self.regression_steps, "digits": self.digits_steps}[problem]


# -- jobs (module-level: they run in worker processes) -----------------------------------------------

def _job(kind: str, args: tuple) -> Any:
    """One seeded run: "toy" (method, scale, steps, lr, kwargs), "toy_optima" (scale,), "stl" (problem,
    seed, steps, validation) or "mtl" (problem, seed, steps, validation, method, kwargs)."""
    if kind == "toy":
        method, scale, steps, lr, kw = args
        r = P.run_toy(method, scale, steps=steps, lr=lr, record_every=RECORD_EVERY, **kw)
        return {"trajectory": r.trajectory.tolist(), "final": r.final.tolist(), "final_losses": r.final_losses.tolist(),
                "ms_per_step": 1e3 * r.seconds_per_step}
    if kind == "toy_optima":
        return P.toy_single_task_optima(args[0]).tolist()
    name, seed, steps, validation = args[:4]
    problem = P.PROBLEMS[name]()
    split = problem.data(seed)
    if validation:
        split = split.hold_out()
    if kind == "stl":
        return P.train_single_task(problem, seed, steps=steps, split=split).tolist()
    r = P.train_method(problem, args[4], seed, steps=steps, split=split, **args[5])
    return {"metrics": r.metrics.tolist(), "ms_per_step": 1e3 * r.seconds_per_step,
            "final_weights": None if r.final_weights is None else r.final_weights.tolist()}


def _grid(n_tasks: int) -> List[int]:
    return sorted({1, 2, 3, max(1, n_tasks // 2), n_tasks})


# -- GO4Align's (K, β) on validation data ------------------------------------------------------------

def select_go4align(cfg: Config, runtime: Runtime, problems: Sequence[str] = BENCHMARKS) -> Dict[str, dict]:
    """GO4Align's (K, β) per benchmark with the least mean validation Δm% (25 % of the training rows
    held out; cfg.selection_seeds, distinct from the evaluation seeds).
    Returns {problem: {"best": {num_groups, beta}, "table": [rows]}}."""
    steps = {name: int(cfg.steps(name) * cfg.selection_steps_factor) for name in problems}
    grids = {name: [(k, float(b)) for k in _grid(P.PROBLEMS[name]().n_tasks) for b in cfg.selection_betas]
             for name in problems}
    jobs = {}
    for name in problems:
        for seed in cfg.selection_seeds:
            jobs[f"stl/{name}/{seed}"] = ("stl", (name, seed, steps[name], True))
            for k, beta in grids[name]:
                kw = method_kwargs(name, "go4align", {name: dict(num_groups=k, beta=beta)})
                jobs[f"go4align/{name}/{seed}/{k}/{beta:g}"] = ("mtl", (name, seed, steps[name], True, "go4align", kw))
    res = runtime.map(_job, jobs, "multitask: GO4Align (K, β) on validation")
    out = {}
    for name in problems:
        better = P.PROBLEMS[name]().higher_is_better
        rows = []
        for k, beta in grids[name]:
            dms = [delta_m(res[f"go4align/{name}/{s}/{k}/{beta:g}"]["metrics"], res[f"stl/{name}/{s}"], better)
                   for s in cfg.selection_seeds]
            rows.append({"num_groups": k, "beta": beta, "val_delta_m": float(np.mean(dms)),
                         "val_delta_m_std": float(np.std(dms))})
        best = min(rows, key=lambda r: r["val_delta_m"])
        out[name] = {"best": {"num_groups": best["num_groups"], "beta": best["beta"]}, "table": rows}
    return out


# -- the reproduction ---------------------------------------------------------------------------------

def _toy_key(method: str, scale: float) -> str:
    return f"{method}@{scale:g}"


def _jobs(cfg: Config, hparams: Dict[str, dict]) -> Dict[str, tuple]:
    """Every evaluation run: the toy's single-task optima, the toy per method (and LS / GO4Align at the
    invariance scale), the STL networks and every method on B2 and B3 per seed."""
    jobs: Dict[str, tuple] = {f"toy_optima/{s:g}": ("toy_optima", (s,)) for s in (TOY_SCALE, INVARIANCE_SCALE)}
    toy = [(m, TOY_SCALE) for m in METHOD_ORDER] + [(m, INVARIANCE_SCALE) for m in INVARIANCE_METHODS]
    for method, scale in toy:
        jobs["toy/" + _toy_key(method, scale)] = ("toy", (method, scale, cfg.toy_steps, cfg.toy_lr,
                                                          method_kwargs("toy", method, hparams)))
    for name in BENCHMARKS:
        for seed in cfg.seeds:
            jobs[f"stl/{name}/{seed}"] = ("stl", (name, seed, cfg.steps(name), False))
            for method in METHOD_ORDER:
                jobs[f"mtl/{name}/{method}/{seed}"] = ("mtl", (name, seed, cfg.steps(name), False, method,
                                                               method_kwargs(name, method, hparams)))
    return jobs


def _on_front(final: np.ndarray) -> int:
    """The final points within FRONT_TOLERANCE of the Pareto set."""
    near = np.abs(final[:, 1] - PARETO_X2) < FRONT_TOLERANCE
    return int(np.sum(near & (np.abs(final[:, 0]) <= PARETO_X1_MAX + 1e-6)))


def _toy(res: Dict[str, Any]) -> Dict[str, dict]:
    """Per toy run: its trajectory and end, Δm% per initial point against the single-task optima."""
    out = {}
    for key, value in res.items():
        if not key.startswith("toy/"):
            continue
        method, scale = key[4:].split("@")
        optima = np.asarray(res[f"toy_optima/{scale}"])
        dm = delta_m(np.asarray(value["final_losses"]), optima, False)            # one Δm% per initial point
        m, sd = mean_std(dm)
        out[key[4:]] = dict(value, method=method, scale=float(scale), delta_m=m, delta_m_std=sd,
                            delta_m_per_init=dm.tolist(), on_front=_on_front(np.asarray(value["final"])))
    return out


def _benchmark(name: str, res: Dict[str, Any], seeds: Sequence[int]) -> dict:
    """Per method on one benchmark: Δm% per seed against that seed's STL networks, and their mean."""
    problem = P.PROBLEMS[name]()
    stl = {seed: np.asarray(res[f"stl/{name}/{seed}"]) for seed in seeds}
    methods = {}
    for method in METHOD_ORDER:
        runs = [res[f"mtl/{name}/{method}/{seed}"] for seed in seeds]
        dms = [delta_m(r["metrics"], stl[seed], problem.higher_is_better) for r, seed in zip(runs, seeds)]
        m, sd = mean_std(dms)
        methods[method] = {"delta_m": m, "delta_m_std": sd, "delta_m_per_seed": dms,
                           "metrics_mean": np.mean([r["metrics"] for r in runs], axis=0).tolist(),
                           "ms_per_step": float(np.mean([r["ms_per_step"] for r in runs])),
                           "final_weights_seed0": runs[0]["final_weights"]}
    return {"metric_names": problem.metric_names, "higher_is_better": problem.higher_is_better,
            "stl_mean": np.mean([stl[s] for s in seeds], axis=0).tolist(), "methods": methods}


def run(cfg: Config, runtime: Runtime) -> dict:
    """The selection (full preset), then every evaluation run as one batch of independent jobs."""
    hparams = {k: dict(v) for k, v in HPARAMS.items()}
    selection = None
    if cfg.select:
        with runtime.timed("selection"):
            selection = select_go4align(cfg, runtime)
        for name, sel in selection.items():
            hparams[name] = dict(sel["best"])
    with runtime.timed("training runs"):
        res = runtime.map(_job, _jobs(cfg, hparams), "multitask: training runs")
    return {"hparams": hparams, "selection": selection, "toy": _toy(res),
            "toy_optima": {k.split("/")[1]: v for k, v in res.items() if k.startswith("toy_optima/")},
            "benchmarks": {name: _benchmark(name, res, cfg.seeds) for name in BENCHMARKS}, "protocol": protocol()}
