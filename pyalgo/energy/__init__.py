"""Joint learning of energy-based models and their log-partition (Sander et al., ICML 2025; see
docs/energy.md).

- `ops`: fused min-min losses with uniform or proposal (importance-weighted) Philox sampling
  (`minmin_loss`, `minmin_loss_ranking`) and the samplers they use (`sample_bits`, `sample_perms`);
- `reference`: materialised references, exact log-partitions (enumeration, closed form, Ryser);
- `models`: the energies (unary, pairwise Ising, permutahedron, Birkhoff) and τ networks a model is
  built from;
- `mcmc`: Gibbs (bits) and Metropolis (permutations) samplers, for the contrastive-divergence baseline;
- `predict`, `metrics`, `evaluate`: prediction oracles (threshold, relaxation, argsort, Hungarian),
  F1 / Hamming / Kendall τ, test metrics of a model and its learned τ against the exact LSE;
- `baselines`: the paper's baselines in pure torch: the generalized Fenchel–Young loss and the min-max
  (logistic) loss with a learned Bernoulli / Plackett–Luce sampler;
- `data`: the bundled mulan multilabel and label-ranking datasets (or your own files), a synthetic
  Ising EBM with known log-partition.

The trainers and `pyalgo reproduce energy` are in the lab: `pyalgo.lab.energy`.
"""
from .ops import minmin_loss, minmin_loss_ranking, sample_bits, sample_perms
from . import baselines, data, evaluate, mcmc, metrics, models, predict, reference

__all__ = ["minmin_loss", "minmin_loss_ranking", "sample_bits", "sample_perms",
           "baselines", "data", "evaluate", "mcmc", "metrics", "models", "predict", "reference"]
