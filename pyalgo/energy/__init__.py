"""Joint learning of energy-based models and their log-partition (Sander et al., ICML 2025; spec
shared/specs/ebm_partition.md): fused min-min losses with uniform Philox sampling (`ops`), exact
references (`reference`), prediction oracles (`predict`), metrics (`metrics`), bundled datasets
(`data`), and the trainer with its baselines (`train`).
"""
from .ops import minmin_loss, minmin_loss_ranking, sample_bits, sample_perms

__all__ = ["minmin_loss", "minmin_loss_ranking", "sample_bits", "sample_perms"]
