"""The protocol of the multi-task reproduction: the methods and their labels, GO4Align's (K, β) per
benchmark, the paper's published numbers, and the toy's known answers. `reproduce.run` copies what
the report shows into the results, so the report reads every number from results.json."""
from __future__ import annotations

import inspect
import math
from typing import Any, Dict

from pyalgo.multitask import weighting as W

from . import problems as P

METHOD_ORDER = ("ls", "si", "rlw", "dwa", "uw", "famo", "mgda", "pcgrad", "cagrad", "go4align")
LABELS = {"ls": "LS", "si": "SI", "rlw": "RLW", "dwa": "DWA", "uw": "UW", "famo": "FAMO", "mgda": "MGDA",
          "pcgrad": "PCGrad", "cagrad": "CAGrad", "go4align": "GO4Align"}
BENCHMARKS = ("regression", "digits")
# A minibatch loss can underflow to 0 on B3 (BCE of an easy batch), where log 0 or 1/0 would end the run.
GUARDED = {"si": dict(eps=1e-8), "go4align": dict(eps=1e-8)}

# GO4Align's (K, β). Toy: K = M = 2, β = 0, the scale-invariant case. B2, B3: chosen by
# `reproduce.select_go4align` on validation data over K ∈ {1, 2, 3, M/2, M} × β ∈ {0, 1e-4, 1e-3} with
# the full preset's step counts (3000 / 1500), seeds 100–102. Validation Δm% of the winners:
# regression K = 6, β = 0: −15.7 ± 9.7 (next: K = 3, β = 1e-4: −10.9); digits K = 2, β = 1e-3:
# −1.17 ± 1.59 (next: K = 3, β = 0: −0.96; K = 2, β = 0: −0.60). The full preset reruns the selection.
HPARAMS = {
    "toy": dict(num_groups=2, beta=0.0),
    "regression": dict(num_groups=6, beta=0.0),
    "digits": dict(num_groups=2, beta=1e-3),
}

# NYUv2 Δm% (MR) of the paper's Table 1 (Shen et al., NeurIPS 2024); not reproducible offline (it needs
# the data set and a GPU).
PAPER_NYUV2 = {"mgda": 1.38, "pcgrad": 3.97, "cagrad": 0.20, "ls": 5.59, "si": 4.39, "rlw": 7.78, "dwa": 3.57,
               "uw": 4.05, "famo": -4.10, "go4align": -6.08, "nashmtl": -4.04}
GOAL_BEST_ON = 2                      # benchmarks GO4Align should win (of the three offline ones)

# The toy: f1 scaled by TOY_SCALE (the "imbalanced" toy of Nash-MTL / FAMO). GO4Align's scale invariance is
# checked at INVARIANCE_SCALE too (next to LS, which is not invariant), from the initial points
# INVARIANCE_POINTS (indices into TOY_INITS).
TOY_SCALE, INVARIANCE_SCALE = 0.1, 1.0
INVARIANCE_METHODS = ("ls", "go4align")
INVARIANCE_POINTS = (3, 4)
RECORD_EVERY = 25                     # toy trajectory: one point every 25 steps
PARETO_X2, PARETO_X1_MAX = -8.3552, 7.0   # the Pareto set: x2 ≈ −8.3552, |x1| ≤ 7
FRONT_TOLERANCE = 0.05                # "on the front": within this distance of the Pareto set


def ls_toy_x1(scale: float) -> float:
    """Where LS ends on the toy's front: the x1 where the gradient of scale·h1 + h2 vanishes,
    7(s − 1)/(s + 1) (−63/11 at s = 0.1; the centre at s = 1)."""
    return 7.0 * (scale - 1.0) / (scale + 1.0)


# GO4Align with K = 2, β = 0 ends at x1 = ∓√39 from INVARIANCE_POINTS, whatever the scale (its weights
# are invariant to a loss's scale).
GO4ALIGN_TOY_X1 = math.sqrt(39.0)


def method_kwargs(problem: str, method: str, hparams: Dict[str, dict]) -> dict:
    """The keyword arguments of `method` on `problem`: the guards, and GO4Align's (K, β)."""
    kw = dict(GUARDED.get(method, {}))
    if method == "go4align":
        kw.update(hparams[problem])
    return kw


def _defaults(cls: type, *names: str) -> Dict[str, Any]:
    params = inspect.signature(cls.__init__).parameters
    return {n: params[n].default for n in names}


def protocol() -> Dict[str, Any]:
    """The settings and known answers the report states, as plain data (from the code that uses them)."""
    train = inspect.signature(P.train_method).parameters
    return {
        "paper_nyuv2": dict(PAPER_NYUV2),
        "goal_best_on": GOAL_BEST_ON,
        "defaults": {"dwa": _defaults(W.DynamicWeightAverage, "iteration_window", "temperature"),
                     "famo": _defaults(W.FAMO, "gamma", "w_lr", "max_norm"),
                     "cagrad": _defaults(W.CAGrad, "c"), "mgda": _defaults(W.MGDA, "normalization"),
                     "uw_lr": train["method_params_lr"].default},
        "guarded": {m: dict(kw) for m, kw in GUARDED.items()},
        "validation_fraction": inspect.signature(P.Split.hold_out).parameters["fraction"].default,
        "networks": {name: {"lr": cls.lr, "batch_size": cls.batch_size, "hidden": cls.hidden, "depth": cls.depth}
                     for name, cls in P.PROBLEMS.items()},
        "toy": {"scale": TOY_SCALE, "invariance_scale": INVARIANCE_SCALE, "inits": [list(p) for p in P.TOY_INITS],
                "offsets": {f"{s:g}": list(P.toy_offsets(s)) for s in (TOY_SCALE, INVARIANCE_SCALE)},
                "invariance_points": list(INVARIANCE_POINTS), "record_every": RECORD_EVERY,
                "pareto_x2": PARETO_X2, "pareto_x1_max": PARETO_X1_MAX, "front_tolerance": FRONT_TOLERANCE,
                "go4align_x1": GO4ALIGN_TOY_X1, "ls_x1": ls_toy_x1(TOY_SCALE)},
    }
