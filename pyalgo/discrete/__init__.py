"""Categorical gradient estimators: ReinMax and its peers as fused CPU/CUDA ops.

Pure-torch references live in `pyalgo.discrete.reference`; exact-gradient diagnostics for small
problems in `pyalgo.discrete.diagnostics`.
"""
from .ops import reinmax, straight_through, gumbel_softmax, gst, gumbel_rao

ESTIMATORS = {
    "reinmax": reinmax,
    "st": straight_through,
    "gumbel_softmax": gumbel_softmax,
    "gst": gst,
    "gumbel_rao": gumbel_rao,
}

__all__ = ["reinmax", "straight_through", "gumbel_softmax", "gst", "gumbel_rao", "ESTIMATORS"]
