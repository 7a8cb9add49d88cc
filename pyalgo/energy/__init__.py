"""Joint learning of energy-based models and their log-partition (Sander et al., ICML 2025; spec
shared/specs/ebm_partition.md).

- `ops`: fused min-min losses with uniform Philox sampling (`minmin_loss`, `minmin_loss_ranking`)
  and the samplers they use (`sample_bits`, `sample_perms`);
- `reference`: materialised references, exact log-partitions (enumeration, closed form, Ryser);
- `predict`, `metrics`: prediction oracles (threshold, relaxation, argsort, Hungarian), F1 / Hamming /
  Kendall τ;
- `data`: the bundled mulan multilabel and label-ranking datasets (or your own files), a synthetic
  Ising EBM with known log-partition;
- `train`: energy and τ networks, the min-min trainer and its baselines (exact MLE, BCE, MCMC);
- `reproduce`: `pyalgo reproduce energy`.
"""
from .ops import minmin_loss, minmin_loss_ranking, sample_bits, sample_perms
from . import data, metrics, predict, reference, train

__all__ = ["minmin_loss", "minmin_loss_ranking", "sample_bits", "sample_perms",
           "data", "metrics", "predict", "reference", "train"]
