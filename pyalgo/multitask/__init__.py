"""Multi-task loss balancing: GO4Align (Shen et al., NeurIPS 2024) and the standard weighting
baselines behind one interface (Nash-MTL / FAMO style). See docs/multitask.md.

- `weighting`: `create(name, n_tasks, ...)`, `METHODS`, the method classes (LS, SI, RLW, DWA, UW, FAMO,
  MGDA, PCGrad, CAGrad, GO4Align);
- `ops`: `kmeans_1d` (exact 1-D K-means) and GO4Align's step as one host op;
- `kmeans`: Lloyd 1-D K-means (the official code's algorithm);
- `metrics`: `delta_m` (Δm%);
- `reference`: the paper's Algorithm 1 written literally, brute-force K-means.

The offline benchmarks, their trainer, the reproduction and the benchmark live in the lab
(`pyalgo.lab.multitask`; `pyalgo reproduce multitask`, `pyalgo bench multitask`).
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
