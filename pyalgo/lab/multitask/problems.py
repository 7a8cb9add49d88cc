"""The offline multi-task benchmarks (sized for 2 CPU cores) and the trainer that runs any weighting
method of `pyalgo.multitask` on them (docs/multitask.md describes them).

- `toy_losses` / `run_toy`: the two-task toy of CAGrad / Nash-MTL / FAMO (B1), five initial points,
  each with its own method state, all shared parameters;
- `GroupedRegression` (B2): synthetic regression with latent task groups and loss scales 1 : 9 : 100;
- `DigitsOneVsRest` (B3): scikit-learn's bundled `load_digits` as 10 one-vs-rest tasks, tasks 0–4's
  BCE ×10, F1 per task;
- `train_method` / `train_single_task`: multi-task training with a `WeightMethod` (per-step time
  measured), and the single-task (STL) baselines Δm is measured against.

Every run is seeded: the seed fixes the data draw (B2), the split (B3), the initialisation and the
minibatches. Nothing is downloaded.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from pyalgo.multitask.metrics import delta_m
from pyalgo.multitask.weighting import FAMO, WeightMethod, create

__all__ = ["toy_losses", "TOY_INITS", "TOY_LOWER", "run_toy", "ToyResult", "GroupedRegression", "DigitsOneVsRest",
           "MLP", "train_method", "train_single_task", "RunResult", "PROBLEMS"]

# ---------------------------------------------------------------------------------------------
# B1: two-task toy (experiments/toy/problem.py of Nash-MTL / FAMO)

TOY_LOWER = 5e-6
TOY_INITS = ((-8.5, 7.5), (0.0, 0.0), (9.0, 9.0), (-7.5, -0.5), (9.0, -1.0))


def toy_losses(x: torch.Tensor, scale: float = 0.1) -> torch.Tensor:
    """The toy's objectives (f1, f2) for points x (..., 2) → (..., 2); f1 is scaled by `scale`
    (0.1: the "imbalanced" version of Nash-MTL / FAMO, 1: CAGrad's original). The Pareto set is
    x2 ≈ −8.3552, x1 ∈ [−7, 7]; f1 is least at x1 = 7, f2 at x1 = −7."""
    x1, x2 = x[..., 0], x[..., 1]
    lower = torch.tensor(TOY_LOWER, dtype=x.dtype, device=x.device)
    g1 = torch.log(torch.maximum((0.5 * (-x1 - 7) - torch.tanh(-x2)).abs(), lower)) + 6
    g2 = torch.log(torch.maximum((0.5 * (-x1 + 3) + torch.tanh(-x2) + 2).abs(), lower)) + 6
    h1 = ((-x1 + 7) ** 2 + 0.1 * (-x2 - 8) ** 2) / 10 - 20
    h2 = ((-x1 - 7) ** 2 + 0.1 * (-x2 - 8) ** 2) / 10 - 20
    c1 = torch.clamp(torch.tanh(0.5 * x2), min=0)
    c2 = torch.clamp(torch.tanh(-0.5 * x2), min=0)
    return torch.stack([scale * (c1 * g1 + c2 * h1), c1 * g2 + c2 * h2], dim=-1)


def toy_offsets(scale: float) -> Tuple[float, float]:
    """Shifts that make both toy losses > 0 (f1 ≥ −20·scale, f2 ≥ −20): FAMO's min_losses (−21s, −21)."""
    return 21.0 * scale, 21.0


@dataclass
class ToyResult:
    """Trajectories (P, T, 2) of the P initial points, final points (P, 2) and final losses (P, 2)."""
    method: str
    scale: float
    trajectory: np.ndarray
    final: np.ndarray
    final_losses: np.ndarray
    seconds_per_step: float


def run_toy(method: str, scale: float = 0.1, steps: int = 5000, lr: float = 5e-3,
            inits: Sequence[Tuple[float, float]] = TOY_INITS, record_every: int = 25, seed: int = 0,
            **method_kwargs: Any) -> ToyResult:
    """Adam on x from each initial point, weighting the offset losses L = f + (21s, 21) with `method`
    (one method instance per point; every parameter is shared). The points are independent and run
    as one (P, 2) tensor: Adam is elementwise, and a gradient method gets each point's 2 × 2 task
    Jacobian through `weights_from_gradients`."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.tensor(inits, dtype=torch.float64, requires_grad=True)
    methods = [_make(method, 2, gen, method_kwargs) for _ in inits]
    offsets = torch.tensor(toy_offsets(scale), dtype=torch.float64)
    eye = torch.eye(2, dtype=torch.float64)
    opt = torch.optim.Adam([x], lr=lr)
    trajectory = [x.detach().numpy().copy()]
    start = time.perf_counter()
    for step in range(steps):
        losses = toy_losses(x, scale) + offsets                                    # (P, 2)
        if methods[0].needs_gradients:
            jac = torch.autograd.grad(losses.sum(0), x, grad_outputs=eye, is_grads_batched=True,
                                      retain_graph=True)[0]                         # (task, P, 2)
            alpha = torch.stack([m.weights_from_gradients(jac[:, i]) for i, m in enumerate(methods)])
            total = (alpha * losses).sum()
        else:
            total = sum(m.get_weighted_loss(losses[i])[0] for i, m in enumerate(methods))
        opt.zero_grad()
        total.backward()
        opt.step()
        if isinstance(methods[0], FAMO):
            with torch.no_grad():
                new = toy_losses(x, scale) + offsets
            for i, m in enumerate(methods):
                m.update(new[i])
        if (step + 1) % record_every == 0:
            trajectory.append(x.detach().numpy().copy())
    elapsed = time.perf_counter() - start
    final = x.detach()
    return ToyResult(method, scale, np.stack(trajectory, axis=1), final.numpy().copy(),
                     (toy_losses(final, scale) + offsets).numpy(), elapsed / max(steps, 1))


def toy_single_task_optima(scale: float) -> np.ndarray:
    """The least offset loss of each toy task on its own (the STL baseline of the toy's Δm), found by
    minimising each task alone from every initial point (L-BFGS from scipy, then the best)."""
    from scipy.optimize import minimize

    best = np.full(2, np.inf)
    for task in range(2):
        def f(v, task=task):
            return float(toy_losses(torch.tensor(v, dtype=torch.float64), scale)[task]) + toy_offsets(scale)[task]
        for init in TOY_INITS + ((7.0, -8.4), (-7.0, -8.4)):
            best[task] = min(best[task], minimize(f, np.array(init), method="Nelder-Mead",
                                                  options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000}).fun)
    return best


# ---------------------------------------------------------------------------------------------
# networks


class MLP(torch.nn.Module):
    """E independent ReLU MLPs d_in → hidden (× depth) → n_out, evaluated together with batched
    matmuls; E = 1 is the multi-task network (shared trunk + one output column per task), E = M the
    M single-task networks (Adam is elementwise, so training them on the sum of their losses is
    training each alone). Input (B, d_in) → output (E, B, n_out)."""

    def __init__(self, copies: int, d_in: int, hidden: int, depth: int, n_out: int, generator: torch.Generator):
        super().__init__()
        sizes = [d_in] + [hidden] * depth + [n_out]
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):  # nn.Linear's default init
            bound = 1.0 / math.sqrt(fan_in)
            self.weights.append(torch.nn.Parameter((torch.rand(copies, fan_in, fan_out, generator=generator) * 2 - 1) * bound))
            self.biases.append(torch.nn.Parameter((torch.rand(copies, 1, fan_out, generator=generator) * 2 - 1) * bound))

    def shared_parameters(self) -> List[torch.nn.Parameter]:
        return [p for pair in zip(self.weights[:-1], self.biases[:-1]) for p in pair]

    def task_specific_parameters(self) -> List[torch.nn.Parameter]:
        return [self.weights[-1], self.biases[-1]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(0).expand(self.weights[0].shape[0], -1, -1)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < len(self.weights) - 1:
                h = torch.relu(h)
        return h


# ---------------------------------------------------------------------------------------------
# B2, B3


@dataclass
class Split:
    """Training and test rows of one benchmark draw."""
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def hold_out(self, fraction: float = 0.25) -> "Split":
        """The training rows alone: the last `fraction` of them become the test rows (validation data
        for hyper-parameter selection; the rows are in random order, so the cut is a random split)."""
        n = self.x_train.shape[0]
        cut = n - int(round(fraction * n))
        return Split(self.x_train[:cut], self.y_train[:cut], self.x_train[cut:], self.y_train[cut:])


class GroupedRegression:
    """B2: x ~ N(0, I_20); task m of latent group g(m) has y_m = s_m [tanh(2 xᵀA_g)·b_g/4 + 0.3 u_mᵀx
    + 0.1 ε], A_g ~ N(0, 1/20)^{20×16}, b_g ~ N(0, I_16), u_m ~ N(0, I/20). Defaults: groups
    (0,0,1,1,2,2), scales (1,1,3,3,10,10) so the MSE scales are 1 : 9 : 100. Metric: per-task test MSE
    (lower is better). MLP 20→64→64 with 6 heads, Adam 1e-3, batch 64, 3000 steps."""

    name = "regression"
    hidden, depth, lr, batch_size, steps = 64, 2, 1e-3, 64, 3000

    def __init__(self, groups: Sequence[int] = (0, 0, 1, 1, 2, 2), scales: Sequence[float] = (1, 1, 3, 3, 10, 10),
                 d_in: int = 20, latent: int = 16, n_train: int = 512, n_test: int = 4096):
        self.groups, self.scales = list(groups), torch.tensor(scales, dtype=torch.float32)
        self.n_tasks, self.d_in, self.latent, self.n_train, self.n_test = len(groups), d_in, latent, n_train, n_test
        self.metric_names = [f"MSE task {m} (s={s:g})" for m, s in enumerate(scales)]
        self.higher_is_better = [False] * self.n_tasks

    def data(self, seed: int) -> Split:
        g = torch.Generator().manual_seed(seed)
        G = max(self.groups) + 1
        A = torch.randn(G, self.d_in, self.latent, generator=g) / math.sqrt(self.d_in)
        b = torch.randn(G, self.latent, generator=g)
        u = torch.randn(self.n_tasks, self.d_in, generator=g) / math.sqrt(self.d_in)
        x = torch.randn(self.n_train + self.n_test, self.d_in, generator=g)
        eps = torch.randn(x.shape[0], self.n_tasks, generator=g)
        gi = torch.tensor(self.groups)
        latent = (torch.tanh(2 * torch.einsum("nd,gdl->ngl", x, A)) * b).sum(-1) / 4      # (n, G)
        signal = latent[:, gi] + 0.3 * x @ u.T + 0.1 * eps
        y = self.scales * signal
        return Split(x[:self.n_train], y[:self.n_train], x[self.n_train:], y[self.n_train:])

    def task_losses(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """out (E, B, n_out), y (B, M) → (E, M) per-task mean squared errors (E = 1: the MTL net;
        E = M: copy m's single output is task m's prediction)."""
        if out.shape[0] == 1:
            return ((out[0] - y) ** 2).mean(0).unsqueeze(0)
        return ((out[:, :, 0].T - y) ** 2).mean(0).unsqueeze(0)

    def metrics(self, out: torch.Tensor, y: torch.Tensor) -> np.ndarray:
        return self.task_losses(out, y)[0].numpy().astype(np.float64)


class DigitsOneVsRest:
    """B3: `sklearn.datasets.load_digits` (1797 × 64, pixels / 16), 10 one-vs-rest binary tasks, seeded
    stratified split with 400 training images. BCE per task, tasks 0–4 ×10 (loss-scale imbalance).
    Metric: per-task test F1 (higher is better). MLP 64→64→64 with 10 heads, Adam 1e-3, batch 64,
    1500 steps."""

    name = "digits"
    hidden, depth, lr, batch_size, steps = 64, 2, 1e-3, 64, 1500

    def __init__(self, n_train: int = 400, heavy_tasks: int = 5, heavy_scale: float = 10.0):
        self.n_tasks, self.d_in, self.n_train = 10, 64, n_train
        self.loss_scale = torch.tensor([heavy_scale] * heavy_tasks + [1.0] * (10 - heavy_tasks))
        self.metric_names = [f"F1 digit {m}" for m in range(10)]
        self.higher_is_better = [True] * 10

    def data(self, seed: int) -> Split:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
        y = F.one_hot(torch.tensor(digits.target), 10).float()
        train, test = train_test_split(np.arange(len(x)), train_size=self.n_train, stratify=digits.target,
                                       random_state=seed)
        return Split(x[train], y[train], x[test], y[test])

    def task_losses(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = out[0] if out.shape[0] == 1 else out[:, :, 0].T
        bce = F.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(0)
        return (self.loss_scale * bce).unsqueeze(0)

    def metrics(self, out: torch.Tensor, y: torch.Tensor) -> np.ndarray:
        pred = ((out[0] if out.shape[0] == 1 else out[:, :, 0].T) > 0).float()
        tp = (pred * y).sum(0)
        fp = (pred * (1 - y)).sum(0)
        fn = ((1 - pred) * y).sum(0)
        return (100.0 * 2 * tp / torch.clamp(2 * tp + fp + fn, min=1)).numpy().astype(np.float64)


PROBLEMS = {"regression": GroupedRegression, "digits": DigitsOneVsRest}


# ---------------------------------------------------------------------------------------------
# trainer


Problem = Union[GroupedRegression, DigitsOneVsRest]   # the offline benchmarks


@dataclass
class RunResult:
    """One training run: test metrics (S,), Δm% against the STL metrics (when given), mean wall time
    per training step, and the last step's weights."""
    method: str
    seed: int
    metrics: np.ndarray
    seconds_per_step: float
    delta_m: Optional[float] = None
    final_weights: Optional[np.ndarray] = None
    curve: List[float] = field(default_factory=list)


def _make(method: str, n_tasks: int, gen: torch.Generator, kwargs: dict) -> WeightMethod:
    kw = dict(kwargs)
    if method in ("rlw", "pcgrad") or (method == "go4align" and kw.get("clustering") == "lloyd"):
        kw.setdefault("generator", gen)  # seeded from the run's seed, never the global RNG
    return create(method, n_tasks, **kw)


def train_method(problem: Problem, method: str, seed: int, steps: Optional[int] = None, split: Optional[Split] = None,
                 stl_metrics: Optional[np.ndarray] = None, method_params_lr: float = 0.025,
                 record_every: int = 0, **method_kwargs: Any) -> RunResult:
    """Trains the multi-task MLP of `problem` with weighting `method` (registry name + kwargs).

    UW's log σ² go into Adam with lr `method_params_lr` (Nash-MTL's --method-params-lr); FAMO gets
    its `update` with the same batch after every step (its second forward pass is timed too)."""
    steps = problem.steps if steps is None else steps
    split = problem.data(seed) if split is None else split
    gen = torch.Generator().manual_seed(seed)
    net = MLP(1, problem.d_in, problem.hidden, problem.depth, problem.n_tasks, gen)
    weighting = _make(method, problem.n_tasks, gen, method_kwargs)
    groups = [{"params": list(net.parameters()), "lr": problem.lr}]
    if weighting.parameters():
        groups.append({"params": weighting.parameters(), "lr": method_params_lr})
    opt = torch.optim.Adam(groups)
    shared, heads = net.shared_parameters(), net.task_specific_parameters()
    curve: List[float] = []
    extras: Dict = {}
    start = time.perf_counter()
    for step in range(steps):
        idx = torch.randint(split.x_train.shape[0], (problem.batch_size,), generator=gen)
        x, y = split.x_train[idx], split.y_train[idx]
        losses = problem.task_losses(net(x), y)[0]
        opt.zero_grad()
        _, extras = weighting.backward(losses, shared_parameters=shared, task_specific_parameters=heads)
        opt.step()
        if isinstance(weighting, FAMO):
            with torch.no_grad():
                weighting.update(problem.task_losses(net(x), y)[0])
        if record_every and step % record_every == 0:
            curve.append(float(losses.detach().sum()))
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        metrics = problem.metrics(net(split.x_test), split.y_test)
    dm = None if stl_metrics is None else float(delta_m(metrics, stl_metrics, problem.higher_is_better))
    weights = extras.get("weights")
    return RunResult(method, seed, metrics, elapsed / max(steps, 1), dm,
                     None if weights is None else weights.detach().double().numpy(), curve)


def train_single_task(problem: Problem, seed: int, steps: Optional[int] = None,
                      split: Optional[Split] = None) -> np.ndarray:
    """Test metrics (S,) of M single-task networks (same architecture, one output each, trained alone on
    their task's loss with the same optimiser, batches and steps): the Δm baselines."""
    steps = problem.steps if steps is None else steps
    split = problem.data(seed) if split is None else split
    gen = torch.Generator().manual_seed(seed + 10_000)
    nets = MLP(problem.n_tasks, problem.d_in, problem.hidden, problem.depth, 1, gen)
    opt = torch.optim.Adam(nets.parameters(), lr=problem.lr)
    for _ in range(steps):
        idx = torch.randint(split.x_train.shape[0], (problem.batch_size,), generator=gen)
        opt.zero_grad()
        problem.task_losses(nets(split.x_train[idx]), split.y_train[idx])[0].sum().backward()
        opt.step()
    with torch.no_grad():
        return problem.metrics(nets(split.x_test), split.y_test)
