"""Reproduction of the min-min EBM experiments (Sander et al., ICML 2025): `pyalgo reproduce energy`.

1. **Multilabel F1** on yeast, emotions, scene (the bundled mulan train/test split), unary model, the methods
   of `protocol.ML_METHODS` (minmin / sparsemax / exact_mle / mcmc / bce, and gfy / minmax once the trainer
   has them), next to the slides' numbers. One decoding for every method (`Config.decoding`; default the
   mode over the non-empty label sets, since every training row of the bundled sets has a label), and the
   F1 of the other decodings (the plain mode, the expected-F1 set) beside it; the issue's targets judged.
2. **Label ranking Kendall τ** on iris, wine, glass, vehicle, stock, authorship (seeded k-fold CV from
   `pyalgo.energy.data.kfold_indices`), permutahedron model, the methods of `protocol.RK_METHODS`.
3. **Model comparison**: unary vs pairwise (Ising) on multilabel, permutahedron vs Birkhoff on ranking.
4. **Number of samples m**: test F1 and the final exact-MLE training objective against m, with the
   exact-MLE run as reference; the exact training NLL per epoch.
5. **Learned τ(x) vs exact LSE** on unseen (test) x of each multilabel dataset (the minmin models of 1.).
6. **Synthetic Ising toy**: exact MLE (enumeration) vs min-min on a pairwise linear model; test NLL and
   mean |τ − LSE| against std(LSE).

Every training is one seeded job, and all of them run through one `runtime.map`: results do not
depend on the number of workers. Hyper-parameters and the published numbers are in `protocol`. `dataset` = the path
of a user's ARFF train file or label-ranking CSV runs 1. (or 2.) on that file only. An ARFF is evaluated on the
test file beside it (`-train` in the name replaced by `-test`, or `<stem>-test.arff`), or with `split` (a seeded
hold-out, that fraction of the rows to test) or `dataset_folds` (seeded k-fold CV, mean ± std over folds) on the
file alone; features are standardised with the train rows of each split. A CSV uses the ranking CV folds, or
`split` / `dataset_folds` likewise. `labels` = N: the last N ARFF attributes are the labels (else the XML beside
the file, a MEKA `-C N` header or the trailing {0,1} attributes), or the CSV's N trailing rank columns. The
protocol is stated in `results["protocol"]`.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from pyalgo.energy.data import (LABEL_RANKING, MULTILABEL, holdout_indices, kfold_indices, load_label_ranking,
                                load_multilabel, synthetic_ising)
from pyalgo.energy.evaluate import DECODINGS, evaluate_multilabel, tau_vs_lse
from pyalgo.energy.models import TauNet, UnaryEnergy
from pyalgo.energy.reference import energy_bits, exact_lse_bits

from ..harness import Preset, Runtime
from ..harness.config import Validated
from . import many_labels
from .protocol import ML_METHODS, RK_METHODS, hparams, published
from .report import render  # noqa: F401  (the experiment protocol: reproduce.render)
from .train import MULTILABEL_METHODS, RANKING_METHODS, train_multilabel, train_ranking

TITLE = "Min-min EBM training (Sander et al., ICML 2025): reproduction"
_WHERE = "pyalgo.lab.energy.reproduce.Config"


def _require(ok: bool, name: str, msg: str, value) -> None:
    if not ok:
        raise ValueError(f"{_WHERE}: {name} {msg}, got {value!r}")


@dataclass(frozen=True)
class Toy(Validated):
    """The synthetic Ising toy: k labels, d features, a linear unary+pairwise energy, τ = MLP(tau_hidden).
    lr 3e-3, not the reference's 1e-2: with 1e-2 our min-min run has loss spikes late in training (τ lags
    the LSE and the weights e^{g−τ} blow up) and ends at a worse NLL; 3e-3 is stable."""
    train: int = 4000
    test: int = 1000
    steps: int = 3000
    k: int = 8
    d: int = 20
    lr: float = 3e-3
    batch_size: int = 128
    num_samples: int = 32
    tau_hidden: int = 64

    def __post_init__(self):
        for name in ("train", "test", "steps", "k", "d", "batch_size", "num_samples"):
            _require(getattr(self, name) >= 1, f"toy.{name}", "must be >= 1", getattr(self, name))
        _require(self.k <= 12, "toy.k", "must be <= 12 (the exact log-partition enumerates 2^k states)", self.k)
        _require(self.tau_hidden >= 0, "toy.tau_hidden", "must be >= 0", self.tau_hidden)
        _require(self.lr > 0 and math.isfinite(self.lr), "toy.lr", "must be a finite positive float", self.lr)


@dataclass(frozen=True)
class Config(Preset, Validated):
    """The sizes of a run. `seeds`: the multilabel runs are averaged over them; `seed`: ranking folds,
    the m sweep and the toy. Epoch counts are the tuned ones (`protocol.HPARAMS`) times the scales."""
    ml_datasets: Tuple[str, ...] = MULTILABEL
    ml_methods: Tuple[str, ...] = ML_METHODS
    rk_datasets: Tuple[str, ...] = LABEL_RANKING
    rk_methods: Tuple[str, ...] = RK_METHODS
    folds: int = 10
    max_folds: Optional[int] = None          # run only the first max_folds of the `folds` splits
    cv_seed: int = 0
    seed: int = 0
    seeds: Tuple[int, ...] = (0, 1, 2)
    epoch_scale: float = 1.0                 # multiplies the tuned ranking epoch counts
    ml_epoch_scale: float = 1.0              # the same for multilabel
    model_ml: Tuple[str, ...] = ("yeast",)   # unary vs pairwise on these
    model_rk: Tuple[str, ...] = ("iris", "glass")   # permutahedron vs Birkhoff on these
    m_values: Tuple[int, ...] = (1, 10, 100, 1000)
    m_dataset: str = "yeast"
    m_epochs: int = 200                      # ≈ 4800 iterations on yeast (paper: 5000)
    tau_points: int = 100                    # unseen x on which τ is compared with the exact LSE
    toy: Toy = Toy()
    max_rows: Optional[int] = None           # subsample the data (tests)
    dataset: Optional[str] = None            # a user's ARFF train file or label-ranking CSV
    many_labels: Optional[str] = "quick"     # the many-labels section's size (many_labels.SIZES), None: skip
    labels: Optional[int] = None             # dataset: the last N ARFF attributes / N trailing CSV columns are labels
    split: Optional[float] = None            # dataset: a seeded hold-out (seed cv_seed), this fraction to test
    dataset_folds: Optional[int] = None      # dataset: seeded k-fold CV (seed cv_seed), mean ± std over folds
    # the multilabel prediction every method shares: "nonempty" = the mode over the non-empty label sets
    # (used only where every training row has a label, else "mode"), "mode" = the unrestricted mode (the
    # slides' threshold u ≥ 0); every row also reports the F1 of the other decodings (DECODINGS)
    decoding: str = "nonempty"

    @classmethod
    def quick(cls) -> "Config":
        return cls(seeds=(0,), folds=5, max_folds=2, epoch_scale=0.75, model_ml=(), model_rk=("iris",),
                   m_epochs=20, toy=Toy(train=1000, test=500, steps=400))

    @classmethod
    def full(cls) -> "Config":
        return cls(model_ml=("yeast", "emotions"), model_rk=("iris", "wine", "glass"), many_labels="full")

    @classmethod
    def tiny(cls) -> "Config":
        return cls(seeds=(0,), ml_datasets=("emotions",), ml_methods=("minmin", "exact_mle"), rk_datasets=("iris",),
                   rk_methods=("minmin",), folds=3, max_folds=1, epoch_scale=0.1, ml_epoch_scale=0.1,
                   model_ml=("emotions",), model_rk=("iris",), m_values=(1, 10), m_dataset="emotions", m_epochs=2,
                   tau_points=20, toy=Toy(train=200, test=100, steps=20, k=4, d=5), max_rows=200, many_labels="tiny")

    def __post_init__(self):
        for name, allowed in (("ml_datasets", MULTILABEL), ("ml_methods", MULTILABEL_METHODS),
                              ("rk_datasets", LABEL_RANKING), ("rk_methods", RANKING_METHODS), ("model_ml", MULTILABEL),
                              ("model_rk", LABEL_RANKING)):
            value = getattr(self, name)
            _require(all(v in allowed for v in value), name, f"must hold names from {allowed}", value)
        _require(self.folds >= 2, "folds", "must be >= 2", self.folds)
        _require(self.max_folds is None or 1 <= self.max_folds <= self.folds, "max_folds",
                 f"must be None or in [1, folds={self.folds}]", self.max_folds)
        _require(len(self.seeds) >= 1 and len(set(self.seeds)) == len(self.seeds) and min(self.seeds) >= 0, "seeds",
                 "must be distinct ints >= 0 (at least one)", self.seeds)
        _require(self.seed >= 0 and self.cv_seed >= 0, "seed and cv_seed", "must be >= 0", (self.seed, self.cv_seed))
        for name in ("epoch_scale", "ml_epoch_scale"):
            _require(getattr(self, name) > 0, name, "must be > 0", getattr(self, name))
        _require(len(self.m_values) >= 1 and min(self.m_values) >= 1, "m_values", "must be ints >= 1 (at least one)",
                 self.m_values)
        _require(self.m_dataset in MULTILABEL, "m_dataset", f"must be one of {MULTILABEL}", self.m_dataset)
        _require(self.m_epochs >= 1, "m_epochs", "must be >= 1", self.m_epochs)
        _require(self.tau_points >= 0, "tau_points", "must be >= 0", self.tau_points)
        _require(self.max_rows is None or self.max_rows >= 1, "max_rows", "must be None or >= 1", self.max_rows)
        _require(self.many_labels is None or self.many_labels in many_labels.SIZES, "many_labels",
                 f"must be None or one of {tuple(many_labels.SIZES)}", self.many_labels)
        _require(self.decoding in ("mode", "nonempty"), "decoding", "must be 'mode' or 'nonempty'", self.decoding)
        _require(self.labels is None or self.labels >= 1, "labels", "must be None or an int >= 1", self.labels)
        _require(self.split is None or 0 < self.split < 1, "split", "must be None or a fraction in (0, 1)", self.split)
        _require(self.dataset_folds is None or self.dataset_folds >= 2, "dataset_folds", "must be None or >= 2",
                 self.dataset_folds)
        _require(self.split is None or self.dataset_folds is None, "split and dataset_folds",
                 "cannot both be set (a hold-out or k-fold CV)", (self.split, self.dataset_folds))
        if self.dataset is not None:
            user_dataset(self.dataset, self.split, self.dataset_folds)


# -- data -----------------------------------------------------------------------------------------

def _arff_test_file(path: Path) -> Path:
    stem = path.name[:-len(path.suffix)]
    candidates = [path.with_name(stem.replace("-train", "-test") + path.suffix)] if "-train" in stem else []
    candidates.append(path.with_name(stem + "-test" + path.suffix))
    test = next((c for c in candidates if c.is_file() and c != path), None)
    if test is None:
        raise ValueError(f"{_WHERE}: dataset {str(path)!r} needs a test file next to it "
                         f"({' or '.join(c.name for c in candidates)}), or a split of the file itself: "
                         f"split=F (`--split 0.3`: a seeded hold-out) or dataset_folds=K (`--folds 5`: k-fold CV)")
    return test


def user_dataset(path: str, split: Optional[float] = None, folds: Optional[int] = None) -> Tuple[str, str]:
    """(kind "multilabel" | "ranking", name) of a user's file; ValueError when it cannot be used (an ARFF
    needs a test file beside it unless `split` or `folds` is given)."""
    p = Path(path)
    _require(p.is_file() and p.suffix.lower() in (".arff", ".csv"), "dataset", "must be an existing .arff or .csv file",
             path)
    if p.suffix.lower() == ".csv":
        return "ranking", p.stem
    if split is None and folds is None:
        _arff_test_file(p)
    return "multilabel", p.name[:-len(p.suffix)].replace("-train", "")


def _cut(ds, r: Optional[int]):
    if r is None:
        return ds
    return replace(ds, x_train=ds.x_train[:r], y_train=ds.y_train[:r], x_test=ds.x_test[:r], y_test=ds.y_test[:r])


@functools.lru_cache(maxsize=None)
def _user_rows(path: str, labels: Optional[int], max_rows: Optional[int]):
    """A user's ARFF alone (no test file), unstandardised, cut to max_rows: the rows that `split` cuts."""
    return _cut(load_multilabel(path, labels=labels, standardize=False), max_rows)


def _user_split(n: int, protocol: tuple) -> Tuple[np.ndarray, np.ndarray]:
    """(train_idx, test_idx) of ("split", fraction, seed) or ("fold", folds, seed, i)."""
    if protocol[0] == "split":
        return holdout_indices(n, protocol[1], seed=protocol[2])
    return kfold_indices(n, folds=protocol[1], seed=protocol[2])[protocol[3]]


@functools.lru_cache(maxsize=None)
def _multilabel(source, max_rows: Optional[int]):
    """A bundled multilabel dataset by name, or a user's ARFF: `source` = (path, labels, protocol) with protocol
    None (the test file beside it), ("split", fraction, seed) or ("fold", folds, seed, i); cached per process,
    cut to max_rows (a split cuts the first max_rows rows of the file)."""
    if isinstance(source, str) and source in MULTILABEL:
        return _cut(load_multilabel(source), max_rows)
    path, labels, protocol = (source, None, None) if isinstance(source, str) else source
    if protocol is None:
        p = Path(path)
        return _cut(load_multilabel(str(p), test_path=str(_arff_test_file(p)), labels=labels), max_rows)
    rows = _user_rows(path, labels, max_rows)
    return rows.split(*_user_split(rows.x_train.shape[0], protocol))


@functools.lru_cache(maxsize=None)
def _ranking(source, max_rows: Optional[int]):
    """A bundled ranking dataset by name, or a user's CSV: `source` = a path or (path, labels)."""
    path, labels = (source, None) if isinstance(source, str) else source
    ds = load_label_ranking(path, labels=labels)
    return ds if max_rows is None else replace(ds, x=ds.x[:max_rows], ranks=ds.ranks[:max_rows])


def _tau_check(energy, tau, x) -> dict:
    t = tau_vs_lse(energy, tau, x)
    return dict(t, tau=t["tau"].tolist(), lse=t["lse"].tolist())


# -- jobs (module level: they run in worker processes) --------------------------------------------------

def _decoding(source, max_rows: Optional[int], decoding: str) -> str:
    """The decoding a dataset (a `_multilabel` source) gets: "nonempty" only where every training row has a label."""
    if decoding == "nonempty" and not bool((_multilabel(source, max_rows).y_train.sum(1) > 0).all()):
        return "mode"
    return decoding


def _decoded(energy, ds, decoding: str) -> dict:
    """{decoding: F1 example, F1 micro, Hamming} on the test split for every decoding that applies (expected F1:
    unary models), and the given one's copied to the top level (with the test NLL)."""
    x, y = ds.x_test.float(), ds.y_test.float()
    names = DECODINGS if isinstance(energy, UnaryEnergy) else tuple(d for d in DECODINGS if d != "expected_f1")
    by = {d: evaluate_multilabel(energy, x, y, decode=d) for d in names}
    top = dict(by[decoding])
    return dict(top, by_decoding={d: {k: v for k, v in m.items() if k != "nll"} for d, m in by.items()})


def _multilabel_job(source, max_rows, method, model, seed, hp, tau_points, decoding="mode") -> dict:
    ds = _multilabel(source, max_rows)
    r = train_multilabel(ds, method, model=model, seed=seed, **hp)
    out = dict(metrics=_decoded(r.energy, ds, decoding), curve=r.curve, seconds=r.seconds)
    if method == "minmin" and tau_points > 0 and isinstance(r.tau, TauNet):
        out["tau_vs_lse"] = _tau_check(r.energy, r.tau, ds.x_test[:min(tau_points, ds.x_test.shape[0])])
    return out


def _ranking_job(source, max_rows, method, model, train_idx, test_idx, seed, hp) -> dict:
    r = train_ranking(_ranking(source, max_rows), method, model=model, train_idx=train_idx, test_idx=test_idx,
                      seed=seed, **hp)
    return dict(kendall_tau=r.metrics["kendall_tau"], seconds=r.seconds)


def _m_sweep_job(source, max_rows, method, num_samples, hp, seed, decoding="mode") -> dict:
    ds = _multilabel(source, max_rows)
    r = train_multilabel(ds, method, seed=seed, track_nll=True, **dict(hp, num_samples=num_samples))
    m = _decoded(r.energy, ds, decoding)
    return dict(f1_example=m["f1_example"], f1_micro=m["f1_micro"], test_nll=r.metrics["nll"],
                by_decoding=m["by_decoding"], train_nll=r.train_nll[-1], train_nll_curve=r.train_nll,
                seconds=r.seconds)


@functools.lru_cache(maxsize=None)
def _toy_data(toy: Toy, seed: int):
    return synthetic_ising(toy.train, toy.test, k=toy.k, d=toy.d, seed=seed, dtype=torch.float32)


def _toy_epochs(toy: Toy) -> Tuple[int, int]:
    """(epochs, steps per epoch): the whole epochs closest to `toy.steps` optimiser steps."""
    per_epoch = math.ceil(toy.train / toy.batch_size)
    return max(1, round(toy.steps / per_epoch)), per_epoch


def _toy_job(toy: Toy, method: str, seed: int) -> dict:
    data = _toy_data(toy, seed)
    r = train_multilabel(data, method, model="pairwise", hidden=0, tau_hidden=toy.tau_hidden, lr=toy.lr,
                         batch_size=toy.batch_size, epochs=_toy_epochs(toy)[0], num_samples=toy.num_samples, seed=seed)
    out = dict(test_nll=r.metrics["nll"], f1_example=r.metrics["f1_example"], seconds=r.seconds, curve=r.curve)
    if method == "minmin":
        out["tau_vs_lse"] = _tau_check(r.energy, r.tau, data.x_test)
    return out


_JOBS = dict(multilabel=_multilabel_job, ranking=_ranking_job, m_sweep=_m_sweep_job, toy=_toy_job,
             many_labels=many_labels.job)


def _job(kind: str, args: tuple) -> dict:
    """One training of any section: the one function the workers run, so that every training of the
    run shares one pool (the long ranking ones are queued first)."""
    return _JOBS[kind](*args)


# -- sections: each plans its jobs ({key: (kind, args)}), then reads its results from the finished jobs --

def _sources(cfg: Config) -> Tuple[Dict[str, str], Dict[str, str]]:
    """({name: source} multilabel, {name: source} ranking): the bundled names, or the user's file."""
    if cfg.dataset is None:
        unused = {k: v for k, v in (("labels", cfg.labels), ("split", cfg.split), ("dataset_folds", cfg.dataset_folds))
                  if v is not None}
        _require(not unused, "labels, split and dataset_folds", "apply to a user's dataset only (set dataset)", unused)
        return {n: n for n in cfg.ml_datasets}, {n: n for n in cfg.rk_datasets}
    kind, name = user_dataset(cfg.dataset, cfg.split, cfg.dataset_folds)
    return ({name: cfg.dataset}, {}) if kind == "multilabel" else ({}, {name: cfg.dataset})


def _ml_splits(cfg: Config, source: str) -> list:
    """The data sources of one multilabel dataset: one per CV fold, else one."""
    if cfg.dataset is None:
        return [source]
    if cfg.split is not None or cfg.dataset_folds is not None:  # fail here, not in a worker
        n = _user_rows(source, cfg.labels, cfg.max_rows).x_train.shape[0]
        _require(n >= max(2, cfg.dataset_folds or 2), "split and dataset_folds",
                 f"need at least 2 rows and at least dataset_folds rows, the dataset has {n}",
                 (cfg.split, cfg.dataset_folds))
    if cfg.split is not None:
        return [(source, cfg.labels, ("split", float(cfg.split), cfg.cv_seed))]
    if cfg.dataset_folds is not None:
        return [(source, cfg.labels, ("fold", cfg.dataset_folds, cfg.cv_seed, i)) for i in range(cfg.dataset_folds)]
    return [(source, cfg.labels, None)]


def _dataset_decoding(cfg: Config, source: str) -> str:
    """The decoding of a multilabel dataset: cfg.decoding, but "nonempty" only where every training row of
    every split has a label."""
    if cfg.decoding == "nonempty" and any(_decoding(spec, cfg.max_rows, "nonempty") == "mode"
                                          for spec in _ml_splits(cfg, source)):
        return "mode"
    return cfg.decoding


def protocol_text(cfg: Config) -> Optional[str]:
    """How a user's dataset is evaluated, in words (results["protocol"]); None for the bundled datasets."""
    if cfg.dataset is None:
        return None
    kind, _ = user_dataset(cfg.dataset, cfg.split, cfg.dataset_folds)
    if kind == "multilabel":
        if cfg.split is None and cfg.dataset_folds is None:
            return f"train on {Path(cfg.dataset).name}, test on {_arff_test_file(Path(cfg.dataset)).name}"
        n = _user_rows(cfg.dataset, cfg.labels, cfg.max_rows).x_train.shape[0]
    else:
        n = _ranking(_rk_source(cfg, cfg.dataset), cfg.max_rows).x.shape[0]
    what = f"{n} rows of {Path(cfg.dataset).name}"
    scaled = "features standardised with the train rows of each split" if kind == "multilabel" else \
        "features as in the file"
    if cfg.split is not None:
        n_test = len(holdout_indices(n, cfg.split, seed=cfg.cv_seed)[1])
        return (f"seeded hold-out (seed {cfg.cv_seed}): {cfg.split:g} of the {what} to test ({n_test} rows), the rest "
                f"to train; {scaled}")
    if cfg.dataset_folds is not None:
        return (f"seeded {cfg.dataset_folds}-fold CV (seed {cfg.cv_seed}) on the {what}, mean ± std over the "
                f"folds; {scaled}")
    first = f", the first {cfg.max_folds}" if cfg.max_folds else ""
    return f"seeded {cfg.folds}-fold CV (seed {cfg.cv_seed}{first}) on the {what}, mean ± std over the folds"


def _rk_source(cfg: Config, source: str):
    return source if cfg.dataset is None else (source, cfg.labels)


def _plan(cfg: Config, sources: Dict[str, str], ranking: bool) -> Dict[Tuple[str, str], tuple]:
    """{(dataset, row key): (source, method, model, hp)}: every method on the base model, and logistic
    min-min on the other model (pairwise, Birkhoff) for the datasets of the model comparison."""
    base, other = ("permutahedron", "birkhoff") if ranking else ("unary", "pairwise")
    methods, compared = (cfg.rk_methods, cfg.model_rk) if ranking else (cfg.ml_methods, cfg.model_ml)
    plan = {}
    for name, source in sources.items():
        runs = [(m, base) for m in methods] + ([("minmin", other)] if name in compared and cfg.dataset is None else [])
        for method, model in runs:
            key = method if model == base else f"{method}_{model}"
            hp = hparams(name, method, ranking, cfg.epoch_scale if ranking else cfg.ml_epoch_scale,
                         model=None if model == base else model)
            plan[name, key] = (source, method, model, hp)
    return plan


def _seed_mean(runs: list, seeds) -> dict:
    """Metrics averaged over seeds (+ the F1 spread, per-seed F1); the curve and τ check of the first seed."""
    row = {k: float(np.mean([r["metrics"][k] for r in runs])) for k in runs[0]["metrics"] if k != "by_decoding"}
    row["by_decoding"] = {d: {k: float(np.mean([r["metrics"]["by_decoding"][d][k] for r in runs])) for k in m}
                          for d, m in runs[0]["metrics"]["by_decoding"].items()}
    f1s = [r["metrics"]["f1_example"] for r in runs]
    row.update(f1_example_std=float(np.std(f1s)), f1_example_seeds=f1s, seeds=list(seeds),
               seconds=float(sum(r["seconds"] for r in runs)), curve=runs[0]["curve"])
    if "tau_vs_lse" in runs[0]:
        row["tau_vs_lse"] = runs[0]["tau_vs_lse"]
    return row


def multilabel_jobs(cfg: Config, sources: Dict[str, str]) -> dict:
    """Section 1 (and 3: unary vs pairwise; 5: τ vs LSE of the first seed's minmin model): one job per seed
    (and per CV fold of a user's dataset with `dataset_folds`)."""
    jobs = {}
    for (name, key), (source, method, model, hp) in _plan(cfg, sources, ranking=False).items():
        splits = _ml_splits(cfg, source)
        decoding = _dataset_decoding(cfg, source)
        for f, spec in enumerate(splits):
            for i, seed in enumerate(cfg.seeds):
                tau_points = cfg.tau_points if i == 0 and f == 0 and model == "unary" else 0
                args = (spec, cfg.max_rows, method, model, seed, hp, tau_points, decoding)
                jobs[("multilabel", name, key, seed) + ((f,) if len(splits) > 1 else ())] = ("multilabel", args)
    return jobs


def multilabel_results(cfg: Config, sources: Dict[str, str], done: dict) -> dict:
    """{dataset: {row key: metrics averaged over `cfg.seeds`, hp, decoding}}; with CV folds (a user's dataset with
    `dataset_folds`) the per-fold seed means are averaged over the folds, `f1_example_std` is their std over
    the folds (population), `f1_example_folds` the per-fold F1 and `n_folds` their number."""
    out: Dict[str, dict] = {name: {} for name in sources}
    for (name, key), (source, _, _, hp) in _plan(cfg, sources, ranking=False).items():
        n_splits = len(_ml_splits(cfg, source))
        decoding = _dataset_decoding(cfg, source)
        if n_splits == 1:
            out[name][key] = dict(_seed_mean([done["multilabel", name, key, s] for s in cfg.seeds], cfg.seeds), hp=hp,
                                  decoding=decoding)
            continue
        per_fold = [_seed_mean([done["multilabel", name, key, s, f] for s in cfg.seeds], cfg.seeds)
                    for f in range(n_splits)]
        metric_keys = [k for k in per_fold[0] if isinstance(per_fold[0][k], float) and k not in
                       ("seconds", "f1_example_std")]
        row = {k: float(np.mean([r[k] for r in per_fold])) for k in metric_keys}
        row["by_decoding"] = {d: {k: float(np.mean([r["by_decoding"][d][k] for r in per_fold])) for k in m}
                              for d, m in per_fold[0]["by_decoding"].items()}
        f1s = [r["f1_example"] for r in per_fold]
        row.update(f1_example_std=float(np.std(f1s)), f1_example_folds=f1s, n_folds=len(f1s), seeds=list(cfg.seeds),
                   seconds=float(sum(r["seconds"] for r in per_fold)), curve=per_fold[0]["curve"], hp=hp,
                   decoding=decoding)
        if "tau_vs_lse" in per_fold[0]:
            row["tau_vs_lse"] = per_fold[0]["tau_vs_lse"]
        out[name][key] = row
    return out


def _folds(cfg: Config, source: str) -> list:
    """(train_idx, test_idx) of each ranking evaluation: the CV folds (the first max_folds), or for a user's
    dataset with `split` one seeded hold-out, with `dataset_folds` all its folds."""
    n = _ranking(_rk_source(cfg, source), cfg.max_rows).x.shape[0]
    if cfg.dataset is not None and cfg.split is not None:
        return [holdout_indices(n, cfg.split, seed=cfg.cv_seed)]
    if cfg.dataset is not None and cfg.dataset_folds is not None:
        return kfold_indices(n, folds=cfg.dataset_folds, seed=cfg.cv_seed)
    return kfold_indices(n, folds=cfg.folds, seed=cfg.cv_seed)[: cfg.max_folds]


def ranking_jobs(cfg: Config, sources: Dict[str, str]) -> dict:
    """Section 2 (and 3: permutahedron vs Birkhoff): one job per CV fold."""
    jobs = {}
    for (name, key), (source, method, model, hp) in _plan(cfg, sources, ranking=True).items():
        for f, (tr, te) in enumerate(_folds(cfg, source)):
            jobs["ranking", name, key, f] = ("ranking", (_rk_source(cfg, source), cfg.max_rows, method, model, tr, te,
                                                         cfg.seed, hp))
    return jobs


def ranking_results(cfg: Config, sources: Dict[str, str], done: dict) -> dict:
    """{dataset: {row key: mean ± std (population) over CV folds of the per-fold Kendall τ, hp}}."""
    out: Dict[str, dict] = {name: {} for name in sources}
    for (name, key), (source, _, _, hp) in _plan(cfg, sources, ranking=True).items():
        runs = [done["ranking", name, key, f] for f in range(len(_folds(cfg, source)))]
        taus = [r["kendall_tau"] for r in runs]
        out[name][key] = dict(kendall_tau=float(np.mean(taus)), std=float(np.std(taus)), folds=taus,
                              seconds=float(sum(r["seconds"] for r in runs)), hp=hp)
    return out


def _m_runs(cfg: Config) -> list:
    """(row key, method, m) of the m sweep: minmin with each m, then exact MLE."""
    return [(str(m), "minmin", int(m)) for m in cfg.m_values] + [("exact_mle", "exact_mle", 1)]


def _m_sweep_hp(cfg: Config) -> dict:
    """min-min's settings with the paper's uniform q (the sweep is about m uniform samples; exact MLE shares them)."""
    hp = dict(hparams(cfg.m_dataset, "minmin", False), epochs=cfg.m_epochs)
    hp.pop("proposal", None)
    return hp


def m_sweep_jobs(cfg: Config) -> dict:
    """Section 4: minmin with m samples, and exact MLE, same network and optimiser; exact training NLL per epoch."""
    decoding = _decoding(cfg.m_dataset, cfg.max_rows, cfg.decoding)
    return {("m_sweep", key): ("m_sweep", (cfg.m_dataset, cfg.max_rows, method, m, _m_sweep_hp(cfg), cfg.seed,
                                            decoding))
            for key, method, m in _m_runs(cfg)}


def m_sweep_results(cfg: Config, done: dict) -> dict:
    rows = {key: done["m_sweep", key] for key, _, _ in _m_runs(cfg)}
    return dict(dataset=cfg.m_dataset, epochs=cfg.m_epochs, hp=_m_sweep_hp(cfg), rows=rows,
                decoding=_decoding(cfg.m_dataset, cfg.max_rows, cfg.decoding))


def toy_jobs(cfg: Config) -> dict:
    """Section 6: exact MLE vs min-min on data from a known Ising EBM."""
    return {("toy", m): ("toy", (cfg.toy, m, cfg.seed)) for m in ("exact_mle", "minmin")}


def toy_results(cfg: Config, done: dict) -> dict:
    """The two runs, the steps they took, and the ground truth's test NLL and spread of its LSE."""
    data = _toy_data(cfg.toy, cfg.seed)
    u, U = data.true_parameters(data.x_test)
    true_lse = exact_lse_bits(u.double(), U.double())
    true_nll = float((true_lse - energy_bits(u.double(), data.y_test.double(), U.double())).mean())
    epochs, per_epoch = _toy_epochs(cfg.toy)
    return dict(epochs=epochs, steps=epochs * per_epoch, true_nll=true_nll, std_true_lse=float(true_lse.std()),
                runs={m: done["toy", m] for m in ("exact_mle", "minmin")})


def many_labels_jobs(cfg: Config) -> dict:
    """Section 7: learning with many labels on synthetic data with a known truth (`many_labels`)."""
    if cfg.many_labels is None:
        return {}
    return {("many_labels",) + key: ("many_labels", (args,)) for key, args in many_labels.jobs(cfg.many_labels).items()}


def many_labels_results(cfg: Config, done: dict) -> Optional[dict]:
    if cfg.many_labels is None:
        return None
    runs = {key[1:]: r for key, r in done.items() if key[0] == "many_labels"}
    return dict(size=cfg.many_labels, settings=dict(many_labels.SIZES[cfg.many_labels]),
                rows=many_labels.table(runs), multilabel_rows=many_labels.multilabel_table(runs))


def run(cfg: Config, runtime: Runtime) -> dict:
    """All sections (only 1. or 2. for a user's dataset), every training in one pool of jobs; the
    published numbers copied in."""
    ml, rk = _sources(cfg)
    jobs = {**ranking_jobs(cfg, rk), **multilabel_jobs(cfg, ml)}
    if cfg.dataset is None:
        jobs.update({**many_labels_jobs(cfg), **m_sweep_jobs(cfg), **toy_jobs(cfg)})
    with runtime.timed("trainings"):
        done = runtime.map(_job, jobs, "energy: trainings")
    results: dict = dict(published=published(), dataset=None if cfg.dataset is None else dict(
        zip(("kind", "name"), user_dataset(cfg.dataset, cfg.split, cfg.dataset_folds))), protocol=protocol_text(cfg))
    results["multilabel"] = multilabel_results(cfg, ml, done)
    results["ranking"] = ranking_results(cfg, rk, done)
    if cfg.dataset is None:
        results["m_sweep"] = m_sweep_results(cfg, done)
        results["toy"] = toy_results(cfg, done)
        results["many_labels"] = many_labels_results(cfg, done)
    return results
