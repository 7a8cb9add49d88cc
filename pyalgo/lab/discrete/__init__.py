"""The ReinMax experiments on the lab's harness:

- `poly`: polynomial programming (binary latents, |z − target|^p) trained through an estimator;
- `vae`: the categorical VAE on binarised digits, its training run and the gradient-accuracy analysis;
- `reproduce` (+ `report`): `pyalgo reproduce discrete`;
- `bench`: `pyalgo bench discrete`, the fused estimators against their references and what users
  run today.
"""
