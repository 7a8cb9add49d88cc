"""Categorical gradient estimators: ReinMax, ReinMax-Rao/CV and their peers as fused CPU/CUDA ops.

`ESTIMATORS` is the registry (name → `Estimator`: the op, its reference, the paper's label and the
defaults that make the op that estimator). Pure-torch references live in
`pyalgo.discrete.reference`; exact-gradient diagnostics for small problems in
`pyalgo.discrete.diagnostics`. See docs/discrete.md.
"""
from .beyond import reinmax_cv, reinmax_rao
from .estimators import ESTIMATORS, Estimator, get_estimator
from .ops import gst, gumbel_rao, gumbel_softmax, reinmax, straight_through

__all__ = ["reinmax", "straight_through", "gumbel_softmax", "gst", "gumbel_rao", "reinmax_rao", "reinmax_cv",
           "ESTIMATORS", "Estimator", "get_estimator"]
