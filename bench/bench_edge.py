"""Benchmark of the edge AIGC environment and of experience collection (issue 6 §4; spec adsac.md §6).

Cases, all on the `adsac` preset (10 servers × 4 models, 36 observations, 40 actions):

- **env**: environment steps per second with uniformly random actions: the single `EdgeAIGCEnv`
  (legacy and numpy RNG modes), and `BatchedEdgeEnv` with 64 and 1024 envs (env-steps/s = envs ×
  batched steps/s). Episodes auto-reset inside the timing.
- **collect**: collection throughput with the D2SAC diffusion actor (MLP denoiser, hidden 256,
  T = 5) choosing every action: the single env with the actor at batch 1 (what the released code
  does: 1 training env), against the batched env with the actor at batch = envs, eager and
  `torch.compile`d (the whole T-step reverse chain in one compiled function).

Check before timing: the batched env with 1 env reproduces the single env's rewards for the same
seed and actions, and both reproduce the legacy golden return of CrashAvoid (1113.677686).
Timings: `Timer.blocked_autorange` of one (batched) step at explicit threads; reported as median /
p20 / p80 ms per call and env-steps per second. Target (reported as PASS / MISS, never asserted):
collection with the batched env + batched actor ≥ 20× the single-env collection rate.

    python bench/bench_edge.py                  # ~2 min (torch.compile included)
    python bench/bench_edge.py --quick --no-compile
    python bench/bench_edge.py --threads 1 2
"""
from __future__ import annotations

import argparse
import datetime
import platform
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

import pyalgo  # noqa: E402
from pyalgo.edge import BatchedEdgeEnv, EdgeAIGCEnv  # noqa: E402
from pyalgo.edge.agents import DiffusionActor, MLPDenoiser  # noqa: E402
from pyalgo.edge.train import evaluate_heuristic  # noqa: E402

PRESET = "adsac"
ENV_SIZES = [64, 1024]
COLLECT_SIZES = [64, 1024]
HIDDEN = 256
TARGET = 20.0
COLUMNS = ["case", "provider", "num_envs", "threads", "median_ms", "p20_ms", "p80_ms", "runs", "env_steps_per_s",
           "ratio", "status", "torch_version", "pyalgo_version", "git_sha", "machine", "timestamp"]


def single_env_stepper(rng: str, actor=None):
    env = EdgeAIGCEnv(PRESET, world_seed=0, rng=rng)
    state = {"obs": env.reset(seed=0)[0]}
    gen = np.random.default_rng(0)
    n = env.action_space.n

    def step():
        if actor is None:
            a = int(gen.integers(n))
        else:
            with torch.no_grad():
                p = actor(torch.from_numpy(state["obs"])[None])
            a = int(torch.multinomial(p, 1)[0, 0])
        obs, _, term, trunc, _ = env.step(a)
        state["obs"] = env.reset()[0] if term or trunc else obs
    return step


def batched_stepper(num_envs: int, actor=None):
    env = BatchedEdgeEnv(PRESET, num_envs=num_envs, world_seed=0)
    state = {"obs": env.reset(seed=0)[0]}
    gen = np.random.default_rng(0)
    n = env.single_action_space.n

    def step():
        if actor is None:
            a = gen.integers(n, size=num_envs)
        else:
            with torch.no_grad():
                p = actor(torch.from_numpy(state["obs"]))
            a = torch.multinomial(p, 1)[:, 0].numpy()
        state["obs"] = env.step(a)[0]
    return step


def check() -> list:
    failures = []
    golden = evaluate_heuristic("crashavoid", PRESET, 0, seeds=(0,), rng="legacy")["return"][0]
    if abs(golden - 1113.677686) > 1e-4:
        failures.append(f"CrashAvoid legacy return {golden:.6f} != 1113.677686")
    single = EdgeAIGCEnv(PRESET, world_seed=0)
    batched = BatchedEdgeEnv(PRESET, num_envs=1, world_seed=0)
    single.reset(seed=3)
    batched.reset(seed=[3])
    gen = np.random.default_rng(1)
    for _ in range(300):
        a = int(gen.integers(40))
        r1 = single.step(a)[1]
        r2 = batched.step(np.array([a]))[1][0]
        if r1 != r2:
            failures.append(f"batched env differs from the single env: reward {r2} vs {r1}")
            break
    return failures


def make_actor():
    torch.manual_seed(0)
    actor = DiffusionActor(MLPDenoiser(36, 40, HIDDEN), 40, T=5)
    actor.eval()
    return actor


def run(args):
    meta = dict(torch_version=torch.__version__, pyalgo_version=pyalgo.__version__, git_sha=C.git_sha(),
                machine=C.machine(), timestamp=datetime.datetime.now().isoformat(timespec="seconds"))
    failures = check()
    status = "ok" if not failures else "check failed"
    actor = make_actor()
    actors = {"eager": actor.probs}
    if args.compile:
        actors["compiled"] = torch.compile(actor.probs, dynamic=False)
    rows = []

    def add(case, provider, num_envs, threads, call):
        call()                                            # warm-up (compilation, first episode)
        med, p20, p80, runs = C.measure(call, threads, args.min_run_time)
        rows.append(dict(meta, case=case, provider=provider, num_envs=num_envs, threads=threads,
                         median_ms=f"{med:.4f}", p20_ms=f"{p20:.4f}", p80_ms=f"{p80:.4f}", runs=runs,
                         env_steps_per_s=f"{num_envs / med * 1e3:.0f}", ratio="", status=status))

    for threads in args.threads:
        for rng in ("legacy", "numpy"):
            add("env", f"single ({rng})", 1, threads, single_env_stepper(rng))
        for n in args.env_sizes:
            add("env", "batched", n, threads, batched_stepper(n))
        add("collect", "single + actor B=1 (eager)", 1, threads, single_env_stepper("numpy", actor.probs))
        for name, fn in actors.items():
            for n in args.collect_sizes:
                add("collect", f"batched + actor B=envs ({name})", n, threads, batched_stepper(n, fn))
    for threads in args.threads:
        for case, base_provider in (("env", "single (legacy)"), ("collect", "single + actor B=1 (eager)")):
            base = next(float(r["env_steps_per_s"]) for r in rows
                        if r["case"] == case and r["provider"] == base_provider and r["threads"] == threads)
            for r in rows:
                if r["case"] == case and r["threads"] == threads:
                    r["ratio"] = f"{float(r['env_steps_per_s']) / base:.2f}"
    return rows, failures


def report(rows, args, failures, runtime_s):
    header = ["case", "provider", "envs", "threads", "median ms/call", "p20", "p80", "env-steps/s", "× single"]
    body = [[r["case"], r["provider"], r["num_envs"], r["threads"], r["median_ms"], r["p20_ms"], r["p80_ms"],
             r["env_steps_per_s"], r["ratio"] + "×"] for r in rows]
    print(C.text_table(header, body))
    verdicts = []
    for r in rows:
        if r["case"] == "collect" and r["provider"].startswith("batched"):
            ok = float(r["ratio"]) >= TARGET
            verdicts.append([r["provider"], r["num_envs"], r["threads"], r["ratio"] + "×", "PASS" if ok else "MISS"])
    print(f"\ntarget: batched collection >= {TARGET:g}x the single-env collection rate")
    print(C.text_table(["provider", "envs", "threads", "× single", "verdict"], verdicts))
    command = "python bench/bench_edge.py " + " ".join(args.argv)
    md = ["# Edge AIGC benchmark (environment and collection, CPU)\n",
          f"`{command.strip()}` — {rows[0]['machine']}, torch {torch.__version__}, pyalgo {pyalgo.__version__} "
          f"({rows[0]['git_sha']}), Python {platform.python_version()}, {runtime_s:.0f} s.\n",
          "Env-steps/s = envs / median time of one (batched) step; × single = relative to the single legacy env "
          "(env case) or to the single env with the actor at batch 1 (collect case).\n",
          C.md_table(header, body), f"\nTarget: batched collection ≥ {TARGET:g}× single-env collection.\n",
          C.md_table(["provider", "envs", "threads", "× single", "verdict"], verdicts)]
    C.write_outputs(args.out, "edge", md, rows, COLUMNS, failures)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short timings")
    p.add_argument("--threads", type=int, nargs="+", default=[1], help="thread counts (default: 1)")
    p.add_argument("--no-compile", dest="compile", action="store_false", help="skip the torch.compile provider")
    p.add_argument("--out", default=str(C.ROOT / "bench" / "results"))
    args = p.parse_args(argv)
    args.argv = list(argv)
    args.min_run_time = 0.2 if args.quick else 1.0
    args.env_sizes, args.collect_sizes = ENV_SIZES, COLLECT_SIZES
    return args


def main(argv=None):
    return C.run_main(argv, parse_args, run, report)


if __name__ == "__main__":
    sys.exit(main())
