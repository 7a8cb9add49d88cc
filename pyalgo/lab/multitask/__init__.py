"""The multi-task experiments on the lab's harness:

- `problems`: the offline benchmarks (the two-task toy, synthetic grouped regression, digits
  one-vs-rest) and the trainer that runs a weighting method of `pyalgo.multitask` on them;
- `protocol`: the methods, GO4Align's (K, β) per benchmark, the paper's numbers, the toy's answers;
- `reproduce` (+ `report`): `pyalgo reproduce multitask`;
- `bench`: `pyalgo bench multitask`, the per-step cost of every weighting method and the host ops
  against their reference and what users run today.
"""
