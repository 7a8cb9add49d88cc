"""Learning with many labels: label ranking on synthetic Plackett–Luce data at k = 8, 11, 16.

Data: `pyalgo.energy.data.synthetic_plackett_luce` (x ~ N(0, I_20), true scores θ*(x) = x W, y ~ PL(θ*(x)),
scale 2: the true model's own Kendall τ ×100 ≈ 64–65 at every k). Every method trains the permutahedron
energy (MLP, `BASE`) with the same epochs and batch size, and gets the same search budget: the configurations
of its grid (`GRIDS`, the same number for every method) are trained on 80 % of the training rows and scored by
Kendall τ on the other 20 % (validation, never the test rows); the best one is retrained on all training
rows and evaluated once on the test rows. Methods (`METHODS`):

- "minmin"          the paper's min-min loss with uniform q (m uniform permutations out of k!);
- "minmin_centered" the same with θ centred in the loss and a near-uniform initial model (center=True,
                    init_scale=0.1, gradient clipping): the uncentred loss spends its gradient on the
                    common part of θ, which only shifts g by (k+1)/2·Σθ_i (module doc of `train`);
- "minmin_model"    + importance sampling from the model's own Plackett–Luce proposal PL(s·θ(x)), θ detached;
- "minmin_learned"  + a jointly learned PL proposal head (maximum likelihood of the observed y);
- "mcmc"            contrastive divergence with Metropolis random-swap chains from the data (CD-k; the grid
                    tunes chain length, chains per example and lr);
- "exact_mle"       the exact NLL (enumerates k! permutations: k ≤ 8 only).

Multilabel (the same protocol): data from a known pairwise (Ising) EBM, `synthetic_ising` (exact samples up
to k = 16), a linear pairwise energy like the truth (hidden = 0, τ = MLP(64)); methods "minmin",
"minmin_model" (Bernoulli(σ(u(x))) proposal), "minmin_learned", "mcmc" (Gibbs CD-k), "exact_mle" (k ≤ 12: it
enumerates 2^k states per training row); the configuration is chosen by validation NLL (exact, k ≤ 16);
reported: test F1 (example, ×100), test NLL next to the true model's, and the true model's F1 (its mode by
the same predictor).

The ranking table reports test Kendall τ ×100, its ratio to the true model's own Kendall τ on the same test rows
(Bayes-optimal predictions argsort θ*), the training seconds of the final run and of the search, and seeds.
`jobs(size)` → {key: args}, `job(args)` → dict (picklable, one seeded job: search + final run), and
`table(results)` → rows, for the lab's job runner (reproduce.py's `_job`/`_plan` pattern).
"""
from __future__ import annotations

import functools
import itertools
import time
from types import SimpleNamespace
from typing import Dict, List, Sequence, Tuple

import torch

from pyalgo.energy.data import synthetic_ising, synthetic_plackett_luce
from pyalgo.energy.evaluate import MAX_EXACT_PERMS
from pyalgo.energy.metrics import f1_example, kendall_tau
from pyalgo.energy.predict import predict_pairwise
from pyalgo.energy.reference import energy_bits, exact_lse_bits

from .train import train_multilabel, train_ranking

__all__ = ["SIZES", "METHODS", "ML_METHODS", "GRIDS", "ML_GRIDS", "BASE", "ML_BASE", "jobs", "job", "table"]

METHODS = ("minmin", "minmin_centered", "minmin_model", "minmin_learned", "mcmc", "exact_mle")

# shared by every method (the energy, the optimiser's batch and the τ network)
BASE = dict(model="permutahedron", hidden=64, batch_size=32)
# per method: fixed settings, then the grid searched on validation (4 configurations each: the same budget)
FIXED: Dict[str, dict] = {
    "minmin": dict(method="minmin"),
    "minmin_centered": dict(method="minmin", center=True, init_scale=0.1, grad_clip=1.0),
    "minmin_model": dict(method="minmin", proposal="model", center=True, init_scale=0.1, lr=3e-3, num_samples=64),
    "minmin_learned": dict(method="minmin", proposal="learned", center=True, init_scale=0.1, num_samples=64),
    "mcmc": dict(method="mcmc"),
    "exact_mle": dict(method="exact_mle"),
}
GRIDS: Dict[str, Dict[str, Sequence]] = {
    "minmin": dict(lr=(1e-3, 3e-3), num_samples=(32, 128)),
    "minmin_centered": dict(lr=(1e-3, 3e-3), num_samples=(32, 128)),
    "minmin_model": dict(proposal_scale=(1.0, 2.0), grad_clip=(1.0, 5.0)),
    "minmin_learned": dict(lr=(1e-3, 3e-3), grad_clip=(1.0, 5.0)),
    "mcmc": dict(lr=(1e-3, 3e-3), chain_length=(1, 5)),
    "exact_mle": dict(lr=(1e-3, 3e-3), weight_decay=(0.0, 1e-4)),
}

ML_METHODS = ("minmin", "minmin_model", "minmin_learned", "mcmc", "exact_mle")
ML_BASE = dict(model="pairwise", hidden=0, tau_hidden=64, batch_size=64)
ML_FIXED: Dict[str, dict] = {
    "minmin": dict(method="minmin"),
    "minmin_model": dict(method="minmin", proposal="model"),
    "minmin_learned": dict(method="minmin", proposal="learned"),
    "mcmc": dict(method="mcmc"),
    "exact_mle": dict(method="exact_mle"),
}
ML_GRIDS: Dict[str, Dict[str, Sequence]] = {
    "minmin": dict(lr=(1e-3, 3e-3), num_samples=(32, 128)),
    "minmin_model": dict(lr=(1e-3, 3e-3), num_samples=(32, 128)),
    "minmin_learned": dict(lr=(1e-3, 3e-3), num_samples=(32, 128)),
    "mcmc": dict(lr=(1e-3, 3e-3), chain_length=(1, 5)),
    "exact_mle": dict(lr=(1e-3, 3e-3), weight_decay=(0.0, 1e-4)),
}
ML_MAX_EXACT_MLE = 12   # exact MLE enumerates 2^k states for every training row of every step

# The configuration each method's search chose most often on the validation splits of the `full` size (seeds
# 0–2, k = 11 and 16): the `quick` size trains these directly instead of searching.
CHOSEN: Dict[str, dict] = {
    "minmin": dict(lr=3e-3, num_samples=128),
    "minmin_centered": dict(lr=1e-3, num_samples=128),
    "minmin_model": dict(proposal_scale=2.0, grad_clip=5.0),
    "minmin_learned": dict(lr=1e-3, grad_clip=1.0),
    "mcmc": dict(lr=1e-3, chain_length=5),
    "exact_mle": dict(lr=1e-3, weight_decay=0.0),
}

# grid_limit: None = the method's whole grid on validation, then the best retrained; 0 = no search, CHOSEN.
# quick: k = 11 and 16, the chosen settings, 1000 rows, 10 epochs (a demonstration, ~1 CPU-minute);
# full: the search, 2000 rows, 20 epochs, three seeds (~2 CPU-hours, most of it exact MLE at k = 8).
SIZES = {
    "tiny": dict(ks=(8,), methods=("minmin_model", "mcmc"), train=300, test=200, epochs=2, seeds=(0,),
                 grid_limit=1, ml_ks=(6,), ml_methods=("minmin_model", "exact_mle"), ml_train=300, ml_epochs=2),
    "quick": dict(ks=(11, 16), methods=("minmin", "minmin_centered", "minmin_model", "mcmc"), train=1000, test=1000,
                  epochs=10, seeds=(0,), grid_limit=0, ml_ks=(), ml_methods=ML_METHODS, ml_train=1000, ml_epochs=10),
    "full": dict(ks=(8, 11, 16), methods=METHODS, train=2000, test=1000, epochs=20, seeds=(0, 1, 2), grid_limit=None,
                 ml_ks=(8, 11, 16), ml_methods=ML_METHODS, ml_train=2000, ml_epochs=20),
}
D = 20           # features
DATA_SEED = 0    # the ground truth (W) and the data; `seeds` are the training seeds


def _configs(method: str, limit=None, grids=None) -> List[dict]:
    if limit == 0:
        return [dict(CHOSEN[method])] if grids is None else [{}]
    grid = (GRIDS if grids is None else grids)[method]
    out = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    return out[:limit] if limit else out


def jobs(size: str = "quick", sections: Sequence[str] = ("ranking", "multilabel")) -> Dict[Tuple, tuple]:
    """{(section, k, method, seed): args of `job`} for a size of `SIZES`, section "ranking" (exact MLE only
    where k ≤ 8) and/or "multilabel" (exact MLE only where k ≤ 12)."""
    if size not in SIZES:
        raise ValueError(f"pyalgo.lab.energy.many_labels.jobs: size must be one of {tuple(SIZES)}, got {size!r}")
    z = SIZES[size]
    out = {}
    for k in sorted(z["ks"], reverse=True) if "ranking" in sections else ():   # the longest jobs first
        for method in z["methods"]:
            if method == "exact_mle" and k > MAX_EXACT_PERMS:
                continue
            for seed in z["seeds"]:
                out["ranking", k, method, seed] = ("ranking", k, method, seed, z["train"], z["test"], z["epochs"],
                                                   z["grid_limit"])
    for k in sorted(z["ml_ks"], reverse=True) if "multilabel" in sections else ():
        for method in z["ml_methods"]:
            if method == "exact_mle" and k > ML_MAX_EXACT_MLE:
                continue
            for seed in z["seeds"]:
                out["multilabel", k, method, seed] = ("multilabel", k, method, seed, z["ml_train"], z["test"],
                                                      z["ml_epochs"], z["grid_limit"])
    return out


def _data(k: int, train: int, test: int):
    pl = synthetic_plackett_luce(train, test, k=k, d=D, seed=DATA_SEED)
    nv = train // 5
    val = SimpleNamespace(x_train=pl.x_train[nv:], y_train=pl.y_train[nv:], x_test=pl.x_train[:nv],
                          y_test=pl.y_train[:nv], name=f"synthetic_pl_k{k}_val")
    return pl, val


def job(args: tuple) -> dict:
    """One seeded job: the method's grid on the validation split, then the best configuration retrained on
    all training rows and evaluated on the test rows. Runs on the CPU with the caller's thread count."""
    if args[0] == "multilabel":
        return _multilabel_job(*args[1:])
    _, k, method, seed, train, test, epochs, limit = args
    pl, val = _data(k, train, test)
    settings = dict(BASE, **FIXED[method], epochs=epochs, seed=seed)
    t0 = time.perf_counter()
    configs, scores = _configs(method, limit), []
    for cfg in configs if limit != 0 else ():   # limit 0: the chosen configuration, no search
        r = train_ranking(val, **dict(settings, **cfg))
        scores.append(r.metrics["kendall_tau"])
    search_seconds = time.perf_counter() - t0
    config = configs[max(range(len(scores)), key=lambda i: scores[i])] if scores else configs[0]
    r = train_ranking(pl, **dict(settings, **config))
    true_val = kendall_tau(val.y_test, pl.true_predictions(val.x_test))
    true_test = kendall_tau(pl.y_test, pl.true_predictions(pl.x_test))
    return dict(k=k, method=method, seed=seed, kendall_tau=r.metrics["kendall_tau"], true_kendall_tau=true_test,
                ratio=r.metrics["kendall_tau"] / true_test, config=config, val_scores=scores,
                true_val_kendall_tau=true_val, seconds=r.seconds, search_seconds=search_seconds,
                train=train, test=test, epochs=epochs, curve=r.curve, section="ranking")


@functools.lru_cache(maxsize=4)
def _ml_data(k: int, train: int, test: int):
    s = synthetic_ising(train, test, k=k, d=D, seed=DATA_SEED, dtype=torch.float32)
    nv = train // 5
    val = SimpleNamespace(x_train=s.x_train[nv:], y_train=s.y_train[nv:], x_test=s.x_train[:nv], y_test=s.y_train[:nv])
    return s, val


def _true_multilabel(s, x, y) -> dict:
    """The true model's test NLL (q-normalised, exact) and F1 of its mode (the library's pairwise predictor)."""
    u, U = s.true_parameters(x)
    lse = torch.cat([exact_lse_bits(u[i:i + 256].double(), U[i:i + 256].double()) for i in range(0, len(x), 256)])
    nll = float((lse - energy_bits(u.double(), y.double(), U.double())).mean())
    return dict(nll=nll, f1_example=float(f1_example(y, predict_pairwise(u, U))))


def _multilabel_job(k, method, seed, train, test, epochs, limit) -> dict:
    s, val = _ml_data(k, train, test)
    settings = dict(ML_BASE, **ML_FIXED[method], epochs=epochs, seed=seed)
    configs = _configs(method, limit, ML_GRIDS)
    t0 = time.perf_counter()
    scores = []
    for cfg in configs:
        m = train_multilabel(val, **dict(settings, **cfg)).metrics
        scores.append(-m["nll"] if "nll" in m else m["f1_example"])
    search_seconds = time.perf_counter() - t0
    config = configs[max(range(len(scores)), key=lambda i: scores[i])]
    r = train_multilabel(s, **dict(settings, **config))
    truth = _true_multilabel(s, s.x_test, s.y_test)
    return dict(section="multilabel", k=k, method=method, seed=seed, f1_example=r.metrics["f1_example"],
                nll=r.metrics.get("nll"), true_nll=truth["nll"], true_f1_example=truth["f1_example"],
                config=config, val_scores=scores, seconds=r.seconds, search_seconds=search_seconds,
                train=train, test=test, epochs=epochs, curve=r.curve)


def table(results: Dict[Tuple, dict]) -> List[dict]:
    """Ranking rows (k, method): mean test Kendall τ ×100 over seeds, the true model's, their ratio, seconds
    per final run (mean), search seconds (total), the seeds and each seed's chosen configuration."""
    groups: Dict[Tuple[int, str], List[dict]] = {}
    for r in results.values():
        if r.get("section", "ranking") == "ranking":
            groups.setdefault((r["k"], r["method"]), []).append(r)
    rows = []
    order = {m: i for i, m in enumerate(METHODS)}
    for (k, method), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99))):
        rs = sorted(rs, key=lambda r: r["seed"])
        kt = sum(r["kendall_tau"] for r in rs) / len(rs)
        true = sum(r["true_kendall_tau"] for r in rs) / len(rs)
        rows.append(dict(k=k, method=method, kendall_tau=kt, true_kendall_tau=true, ratio=kt / true,
                         kendall_tau_seeds=[r["kendall_tau"] for r in rs],
                         seconds=sum(r["seconds"] for r in rs) / len(rs),
                         search_seconds=sum(r["search_seconds"] for r in rs), seeds=[r["seed"] for r in rs],
                         configs=[r["config"] for r in rs]))
    return rows


def multilabel_table(results: Dict[Tuple, dict]) -> List[dict]:
    """Multilabel rows (k, method): mean test F1 example ×100 and NLL over seeds, the true model's, seconds."""
    groups: Dict[Tuple[int, str], List[dict]] = {}
    for r in results.values():
        if r.get("section") == "multilabel":
            groups.setdefault((r["k"], r["method"]), []).append(r)
    order = {m: i for i, m in enumerate(ML_METHODS)}
    rows = []
    for (k, method), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99))):
        rs = sorted(rs, key=lambda r: r["seed"])
        mean = lambda key: sum(r[key] for r in rs) / len(rs)  # noqa: E731
        rows.append(dict(k=k, method=method, f1_example=mean("f1_example"), true_f1_example=mean("true_f1_example"),
                         nll=None if rs[0]["nll"] is None else mean("nll"), true_nll=mean("true_nll"),
                         seconds=mean("seconds"), search_seconds=sum(r["search_seconds"] for r in rs),
                         seeds=[r["seed"] for r in rs], configs=[r["config"] for r in rs]))
    return rows


def markdown(rows: List[dict]) -> str:
    """The table as markdown (Kendall τ ×100 on the test rows; ratio = to the true model's own)."""
    lines = ["| k | method | Kendall τ ×100 | true model | ratio | s / run | search s | seeds | chosen |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        chosen = "; ".join(", ".join(f"{a}={b}" for a, b in c.items()) for c in r["configs"])
        lines.append(f"| {r['k']} | {r['method']} | {r['kendall_tau']:.2f} | {r['true_kendall_tau']:.2f} | "
                     f"{r['ratio']:.3f} | {r['seconds']:.1f} | {r['search_seconds']:.0f} | "
                     f"{','.join(map(str, r['seeds']))} | {chosen} |")
    return "\n".join(lines)


def multilabel_markdown(rows: List[dict]) -> str:
    """The multilabel table as markdown (test F1 example ×100, test NLL; the true model's next to them)."""
    lines = ["| k | method | F1 ×100 | true model F1 | NLL | true NLL | s / run | search s | seeds | chosen |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        chosen = "; ".join(", ".join(f"{a}={b}" for a, b in c.items()) for c in r["configs"])
        nll = "—" if r["nll"] is None else f"{r['nll']:.3f}"
        lines.append(f"| {r['k']} | {r['method']} | {r['f1_example']:.2f} | {r['true_f1_example']:.2f} | {nll} | "
                     f"{r['true_nll']:.3f} | {r['seconds']:.1f} | {r['search_seconds']:.0f} | "
                     f"{','.join(map(str, r['seeds']))} | {chosen} |")
    return "\n".join(lines)


if __name__ == "__main__":   # python -m pyalgo.lab.energy.many_labels [size] [workers]
    import json
    import sys
    from concurrent.futures import ProcessPoolExecutor

    size = sys.argv[1] if len(sys.argv) > 1 else "quick"
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    sections = tuple(sys.argv[3].split(",")) if len(sys.argv) > 3 else ("ranking", "multilabel")
    planned = jobs(size, sections)
    torch.set_num_threads(1)
    done = {}
    with ProcessPoolExecutor(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        for key, res in zip(planned, pool.map(job, planned.values())):
            done[key] = res
            print(json.dumps(dict(key=key, **{a: res.get(a) for a in ("kendall_tau", "ratio", "f1_example", "nll",
                                                                      "true_nll", "config", "val_scores", "seconds",
                                                                      "search_seconds")})),
                  file=sys.stderr, flush=True)
    rows, ml_rows = table(done), multilabel_table(done)
    print(markdown(rows))
    print()
    print(multilabel_markdown(ml_rows))
    print(json.dumps(dict(rows=rows, multilabel_rows=ml_rows, runs={"/".join(map(str, k)): v for k, v in done.items()}),
                     default=str))
