"""Reproduction of the ADSAC comparison: `pyalgo reproduce edge`.

Trains ADSAC (diffusion actor, server-token attention denoiser), D2SAC (MLP denoiser), discrete SAC
and DQN, evaluates them with the deterministic (argmax) test protocol next to the heuristics Random,
RoundRobin, CrashAvoid and Prophet on the same episodes, and reports returns, crash rates and
training curves.

- quick: the CI-sized `small` preset (3 servers × 2 models, ~100 tasks per episode), a short
  schedule (1000 updates; actor lr 1e-3 for the SAC-family agents, since the released 1e-4 is tuned
  for 1e6 updates), 2 training seeds.
- full: the `adsac` preset in legacy mode (the released environment; the report checks the
  heuristics against the released env's returns on reset seed 0) with the released schedule, 3
  seeds, checkpoints in `<out>/checkpoints/`: rerunning resumes where it stopped. Days on a CPU.
- tiny: the tests' seconds-long run.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from pyalgo.edge.agents import MAX_WIDTH, SACAgent, make_agent
from pyalgo.edge.config import PRESETS as EDGE_PRESETS
from pyalgo.edge.episodes import evaluate, evaluate_heuristic

from ..harness.config import Validated
from ..harness import Markdown, Preset, Runtime, header, num, pm, plots
from .train import TrainConfig, check_counts, check_flag, check_seeds, train

TITLE = "ADSAC and baselines on edge AIGC service selection"
AGENT_ORDER = ("adsac", "d2sac", "sac", "dqn")
HEURISTIC_ORDER = ("random", "roundrobin", "crashavoid", "prophet")
LABELS = {"adsac": "ADSAC", "d2sac": "D2SAC", "sac": "SAC (discrete)", "dqn": "DQN", "random": "Random",
          "roundrobin": "RoundRobin", "crashavoid": "CrashAvoid", "prophet": "Prophet (oracle)"}
# the released environment (adsac preset, legacy mode, world seed 0, reset seed 0): (return, server crashes)
GOLDEN_LEGACY = {"roundrobin": (148.211467, 141), "crashavoid": (1113.677686, 9), "prophet": (1963.214182, 4)}
# the papers' claims against prior methods on their schedule (percent)
PUBLISHED = {"crash_rate_lower_pct": 58, "utility_higher_pct": 30}


@dataclass(frozen=True)
class Schedule(Validated):
    """The training schedule of every agent (fields of `pyalgo.lab.edge.train.TrainConfig`)."""
    epochs: int = 10
    steps_per_epoch: int = 400
    updates_per_epoch: int = 100
    batch_size: int = 128
    num_envs: int = 8
    hidden: int = 128
    eval_every: int = 1
    eval_seeds: tuple = (100, 101, 102, 103)
    buffer_size: int = 100_000

    def __post_init__(self):
        where = "pyalgo.lab.edge.reproduce.Schedule"
        check_counts(where, self, ("epochs", "steps_per_epoch", "batch_size", "num_envs", "hidden", "eval_every",
                                   "buffer_size"), ("updates_per_epoch",))
        if self.hidden > MAX_WIDTH or self.hidden < 8 or (self.hidden // 2) % 4:
            raise ValueError(f"{where}.hidden must be >= 8 with hidden // 2 a multiple of 4 (adsac's attention), at most {MAX_WIDTH}, "
                             f"got {self.hidden!r}")
        if self.buffer_size < self.num_envs:
            raise ValueError(f"{where}.buffer_size must be >= num_envs ({self.num_envs}), got {self.buffer_size!r}")
        object.__setattr__(self, "eval_seeds", check_seeds(where, "eval_seeds", self.eval_seeds))


@dataclass(frozen=True)
class Config(Preset, Validated):
    """env: the `EdgeConfig` preset; rng: "numpy" or "legacy"; seeds: training seeds; eval_seeds: the
    reset seeds of the final evaluation; actor_lr: of the SAC-family agents; checkpoints: save and
    resume every training run under `<out>/checkpoints/`."""
    env: str = "small"
    rng: str = "numpy"
    seeds: tuple = (0, 1)
    eval_seeds: tuple = tuple(range(100, 108))
    train: Schedule = field(default_factory=Schedule)
    actor_lr: float = 1e-3
    checkpoints: bool = False

    def __post_init__(self):
        where = "pyalgo.lab.edge.reproduce.Config"
        if self.env not in EDGE_PRESETS:
            raise ValueError(f"{where}.env must be one of {sorted(EDGE_PRESETS)}, got {self.env!r}")
        if self.rng not in ("numpy", "legacy"):
            raise ValueError(f"{where}.rng must be 'numpy' or 'legacy', got {self.rng!r}")
        object.__setattr__(self, "seeds", check_seeds(where, "seeds", self.seeds))
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"{where}.seeds must be distinct, got {self.seeds!r}")
        object.__setattr__(self, "eval_seeds", check_seeds(where, "eval_seeds", self.eval_seeds))
        if not isinstance(self.train, Schedule):
            raise ValueError(f"{where}.train must be a Schedule, got {self.train!r}")
        if isinstance(self.actor_lr, bool) or not isinstance(self.actor_lr, (int, float)) \
                or not (math.isfinite(self.actor_lr) and self.actor_lr > 0):
            raise ValueError(f"{where}.actor_lr must be > 0 (and finite), got {self.actor_lr!r}")
        check_flag(where, "checkpoints", self.checkpoints)

    @classmethod
    def tiny(cls) -> "Config":
        return cls(seeds=(0,), eval_seeds=(100, 101),
                   train=Schedule(epochs=2, steps_per_epoch=64, updates_per_epoch=4, batch_size=32, num_envs=4,
                                  hidden=32, eval_every=1, eval_seeds=(100,), buffer_size=1000))

    @classmethod
    def quick(cls) -> "Config":
        return cls()

    @classmethod
    def full(cls) -> "Config":
        return cls(env="adsac", rng="legacy", seeds=(0, 1, 2), eval_seeds=tuple(range(0, 10)), actor_lr=1e-4,
                   train=Schedule(epochs=1000, steps_per_epoch=1000, updates_per_epoch=1000, batch_size=512,
                                  num_envs=1, hidden=256, buffer_size=1_000_000, eval_every=10, eval_seeds=(0,)),
                   checkpoints=True)


# -- jobs (module-level: they run in worker processes) -----------------------------------------------

def _train_config(agent: str, seed: int, cfg: Config, out: str):
    """The TrainConfig of one training run."""
    ckpt = str(Path(out) / "checkpoints" / f"{agent}_seed{seed}") if cfg.checkpoints else None
    kwargs = {} if agent == "dqn" else {"agent_kwargs": {"actor_lr": cfg.actor_lr}}
    return TrainConfig(agent=agent, env=cfg.env, rng=cfg.rng, seed=seed, checkpoint_dir=ckpt, resume=cfg.checkpoints,
                       progress=False, **kwargs, **dataclasses.asdict(cfg.train))


def _train_job(agent: str, seed: int, cfg: Config, out: str) -> dict:
    """One training run and its final evaluation."""
    tc = _train_config(agent, seed, cfg, out)
    result = train(tc)
    final = evaluate(result.agent, cfg.env, tc.world_seed, cfg.eval_seeds, cfg.rng, seed=seed)
    return {"curves": result.curves, "seconds": result.seconds, "final": {k: v.tolist() for k, v in final.items()}}


def _heuristic_job(name: str, cfg: Config, world_seed: int) -> dict:
    final = evaluate_heuristic(name, cfg.env, world_seed, cfg.eval_seeds, cfg.rng)
    out = {"final": {k: v.tolist() for k, v in final.items()}, "seed0": None}
    if cfg.env == "adsac" and cfg.rng == "legacy" and name in GOLDEN_LEGACY:
        golden = evaluate_heuristic(name, cfg.env, world_seed, (0,), "legacy")
        out["seed0"] = [float(golden["return"][0]), int(golden["server_crashes"][0])]
    return out


def _job(kind: str, *args) -> dict:
    return _train_job(*args) if kind == "train" else _heuristic_job(*args)


# -- results ----------------------------------------------------------------------------------------

def _summary(final: Dict[str, List[float]]) -> dict:
    """Means over the evaluation episodes (return_std: their std)."""
    ret = np.asarray(final["return"], dtype=np.float64)
    crashes = np.asarray(final["server_crashes"], dtype=np.float64)
    steps = np.asarray(final["steps"], dtype=np.float64)
    return {"return": float(ret.mean()), "return_std": float(ret.std()), "crashes": float(crashes.mean()),
            "crash_rate": float(crashes.sum() / steps.sum()),
            "tasks_crashed": float(np.mean(final["tasks_crashed"])),
            "tasks_finished": float(np.mean(final["tasks_finished"]))}


def _agent(runs: List[dict]) -> dict:
    """Means over the training seeds (return_std_over_seeds: the std of the per-seed returns)."""
    per_seed = [_summary(r["final"]) for r in runs]
    mean = lambda key: float(np.mean([p[key] for p in per_seed]))  # noqa: E731
    return {"return": mean("return"), "return_std_over_seeds": float(np.std([p["return"] for p in per_seed])),
            "crash_rate": mean("crash_rate"), "crashes": mean("crashes"), "tasks_crashed": mean("tasks_crashed"),
            "tasks_finished": mean("tasks_finished"), "per_seed": per_seed,
            "seconds": float(np.mean([r["seconds"] for r in runs])), "curves": [r["curves"] for r in runs]}


def _protocol(cfg: Config, out: str) -> dict:
    """The settings the report names that are not in the config: the trainer's and agents' defaults,
    and the released schedule the quick actor lr departs from."""
    tc = _train_config(AGENT_ORDER[0], cfg.seeds[0], cfg, out)
    sac = inspect.signature(SACAgent).parameters
    released = TrainConfig.released()
    return {"world_seed": tc.world_seed, "T": tc.T,
            "schedule": inspect.signature(make_agent).parameters["schedule"].default, "n_step": tc.n_step,
            "gamma": tc.gamma, "alpha": sac["alpha"].default, "critic_lr": sac["critic_lr"].default,
            "released_actor_lr": sac["actor_lr"].default,
            "released_updates": released.epochs * released.updates_per_epoch}


def run(cfg: Config, runtime: Runtime) -> dict:
    """Trains and evaluates every agent on every seed and evaluates the heuristics (independent jobs)."""
    out = str(runtime.out)
    protocol = _protocol(cfg, out)
    jobs = {f"train/{a}/{s}": ("train", a, s, cfg, out) for a in AGENT_ORDER for s in cfg.seeds}
    jobs.update({f"heuristic/{h}": ("heuristic", h, cfg, protocol["world_seed"]) for h in HEURISTIC_ORDER})
    with runtime.timed("training and evaluation"):
        res = runtime.map(_job, jobs, "edge: training runs")
    heuristics = {}
    for h in HEURISTIC_ORDER:
        r = res[f"heuristic/{h}"]
        heuristics[h] = dict(_summary(r["final"]), seed0=r["seed0"])
    return {"agents": {a: _agent([res[f"train/{a}/{s}"] for s in cfg.seeds]) for a in AGENT_ORDER},
            "heuristics": heuristics, "protocol": protocol,
            "golden_legacy": {h: list(v) for h, v in GOLDEN_LEGACY.items()}, "published": dict(PUBLISHED)}


# -- the report -------------------------------------------------------------------------------------

def render(doc: Dict[str, Any], out: Path) -> str:
    c, r = doc["config"], doc["results"]
    t, p = c["train"], r["protocol"]
    md = Markdown()
    header(md, doc)
    md.p(f"Preset `{c['env']}` (rng `{c['rng']}`, world seed {p['world_seed']}); training seeds {c['seeds']}; "
         f"{t['epochs']} epochs × ({t['steps_per_epoch']} env steps over {t['num_envs']} envs, "
         f"{t['updates_per_epoch']} updates at batch {t['batch_size']}); hidden {t['hidden']}; T = {p['T']} "
         f"({p['schedule']}); n-step {p['n_step']}, γ = {p['gamma']:g}, α = {p['alpha']:g} fixed, critic lr "
         f"{_sci(p['critic_lr'])} (released defaults); actor lr {c['actor_lr']:g} (released: "
         f"{_sci(p['released_actor_lr'])} for ~{_sci(p['released_updates'])} updates).")
    seeds = c["eval_seeds"]
    md.h(2, f"1. Final evaluation on {len(seeds)} episodes (reset seeds {seeds[0]}–{seeds[-1]})")
    md.p("Deterministic test protocol (argmax of π; the diffusion chain's noise seeded). Crash rate = server crash "
         "events per step. Agents: mean over training seeds (± std over seeds); heuristics: mean over the "
         "episodes (± std over episodes).")
    _final_table(md, r)
    _comparison(md, r)
    _plot(r, c, out / "reward_curves.png")
    md.p("![reward curves](reward_curves.png)")
    md.h(2, "2. Training time")
    md.table(["agent", f"seconds per run (one process, {doc['environment']['threads']} torch thread(s))"],
             [[LABELS[a], num(r["agents"][a]["seconds"], 0)] for a in AGENT_ORDER])
    return md.text()


def _sci(x: float) -> str:
    """1e-3, 1e6: a power of ten as the papers write it."""
    return f"{x:.0e}".replace("e-0", "e-").replace("e+0", "e")


def _final_table(md: Markdown, r: dict) -> None:
    rows = [(a, r["agents"][a], r["agents"][a]["return_std_over_seeds"]) for a in AGENT_ORDER]
    rows += [(h, r["heuristics"][h], r["heuristics"][h]["return_std"]) for h in HEURISTIC_ORDER]
    md.table(["policy", "return", "crash rate", "server crashes / episode", "tasks crashed / finished"],
             [[LABELS[name], pm(row["return"], spread), num(row["crash_rate"], 4), num(row["crashes"]),
               f"{num(row['tasks_crashed'], 1)} / {num(row['tasks_finished'], 1)}"] for name, row, spread in rows])


def _comparison(md: Markdown, r: dict) -> None:
    """The ranking, the papers' goal ADSAC > D2SAC > SAC, ADSAC against the heuristics and against the
    best other agent, and the legacy anchors when the run has them."""
    ag, he, pub = r["agents"], r["heuristics"], r["published"]
    order = sorted(AGENT_ORDER, key=lambda a: -ag[a]["return"])
    goal = ag["adsac"]["return"] > ag["d2sac"]["return"] > ag["sac"]["return"]
    above = ag["adsac"]["return"] > he["crashavoid"]["return"]
    lines = ["Ranking of the agents by return: " + " > ".join(LABELS[a] for a in order) + ".",
             f"Goal ADSAC > D2SAC > SAC: **{'met' if goal else 'not met'}**. ADSAC vs CrashAvoid: "
             f"{num(ag['adsac']['return'])} vs {num(he['crashavoid']['return'])} "
             f"(**{'above' if above else 'below'}**); "
             f"vs Prophet (oracle) {num(he['prophet']['return'])}."]
    best = max(("d2sac", "sac", "dqn"), key=lambda a: ag[a]["return"])
    prior = ag[best]
    if prior["crash_rate"] > 0 and prior["return"] > 0:
        crash = 100 * (1 - ag["adsac"]["crash_rate"] / prior["crash_rate"])
        gain = 100 * (ag["adsac"]["return"] / prior["return"] - 1)
        lines.append(f"Against the best other agent ({LABELS[best]}): ADSAC's crash rate is {num(abs(crash), 1)} % "
                     f"{'lower' if crash >= 0 else 'higher'} and its return {num(abs(gain), 1)} % "
                     f"{'higher' if gain >= 0 else 'lower'} (papers: ≥ {pub['crash_rate_lower_pct']} % lower crash "
                     f"rate and ≥ {pub['utility_higher_pct']} % higher utility than prior methods, on their "
                     "schedule).")
    md.p(*lines)
    anchors = [h for h in r["golden_legacy"] if he[h].get("seed0")]
    if anchors:
        md.p("Legacy anchors (reset seed 0), against the released environment's values: " + ", ".join(
            f"{LABELS[h]} {num(he[h]['seed0'][0], 6)} ({he[h]['seed0'][1]} crashes; released "
            f"{num(r['golden_legacy'][h][0], 6)}, {r['golden_legacy'][h][1]} crashes)" for h in anchors) + ".")


def _plot(r: dict, c: dict, path: Path) -> None:
    """Evaluation return against env steps: mean ± std over training seeds; the heuristics as lines."""
    fig, (ax,) = plots.subplots(1, cols=1, size=(7.5, 4.5))
    for a in AGENT_ORDER:
        curves = r["agents"][a]["curves"]
        steps = np.asarray(curves[0]["env_steps"], dtype=np.float64)
        ev = np.asarray([cv["eval_return"] for cv in curves], dtype=np.float64)
        keep = ~np.isnan(ev).any(0)
        plots.band(ax, steps[keep], ev[:, keep], LABELS[a], marker="o", ms=3)
    for h, style in zip(HEURISTIC_ORDER, (":", "-.", "--", "-")):
        ax.axhline(r["heuristics"][h]["return"], color="0.4", ls=style, lw=1, label=LABELS[h])
    ax.set_xlabel("environment steps")
    ax.set_ylabel("evaluation return (argmax policy)")
    ax.set_title(f"{c['env']} preset: mean ± std over {len(c['seeds'])} training seed(s)")
    plots.legend_outside(fig, [ax])
    plots.save(fig, path)
