"""Categorical gradient estimators: ReinMax and its peers as fused CPU/CUDA ops.

`ESTIMATORS` is the registry (name → `Estimator`: the op, its reference, the paper's label and the
defaults that make the op that estimator). Pure-torch references live in
`pyalgo.discrete.reference`; exact-gradient diagnostics for small problems in
`pyalgo.discrete.diagnostics`. See docs/discrete.md.
"""
from .estimators import ESTIMATORS, Estimator, get_estimator
from .ops import gst, gumbel_rao, gumbel_softmax, reinmax, straight_through

__all__ = ["reinmax", "straight_through", "gumbel_softmax", "gst", "gumbel_rao", "ESTIMATORS", "Estimator",
           "get_estimator"]
