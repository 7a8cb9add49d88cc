"""The energy experiments (Sander et al., ICML 2025) on the lab's harness:

- `train`: the min-min trainer and its baselines (exact MLE, BCE, MCMC) over the energies of
  `pyalgo.energy.models`, with checkpoints and exact resume;
- `protocol`: the published numbers and the tuned hyper-parameters;
- `reproduce` (+ `report`): `pyalgo reproduce energy`;
- `bench`: `pyalgo bench energy`, the fused min-min loss against the materialised reference.
"""
