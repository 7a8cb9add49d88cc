"""Multi-task loss balancing (spec shared/specs/go4align.md): GO4Align (Shen et al., NeurIPS 2024) and
the standard weighting baselines behind one interface (Nash-MTL / FAMO style).

- `weighting`: `create(name, n_tasks, ...)`, `METHODS`, the method classes (LS, SI, RLW, DWA, UW, FAMO,
  MGDA, PCGrad, CAGrad, GO4Align);
- `kmeans`: exact (dynamic programming) and Lloyd 1-D K-means;
- `metrics`: `delta_m` (Δm%);
- `reference`: the paper's Algorithm 1 written literally, brute-force K-means;
- `problems`: the offline benchmarks (two-task toy, synthetic grouped regression, digits one-vs-rest)
  and the trainer that runs a method on them;
- `reproduce`: `pyalgo reproduce multitask`.
"""
from .weighting import (CAGrad, DynamicWeightAverage, FAMO, GO4Align, LinearScalarization, METHODS, MGDA, PCGrad,
                        RandomLossWeighting, ScaleInvariant, UncertaintyWeighting, WeightMethod, create,
                        min_norm_weights)
from .kmeans import kmeans_1d_lloyd
from .ops import kmeans_1d
from .metrics import delta_m

__all__ = ["WeightMethod", "LinearScalarization", "ScaleInvariant", "RandomLossWeighting", "DynamicWeightAverage",
           "UncertaintyWeighting", "FAMO", "MGDA", "PCGrad", "CAGrad", "GO4Align", "METHODS", "create",
           "min_norm_weights", "kmeans_1d", "kmeans_1d_lloyd", "delta_m"]
