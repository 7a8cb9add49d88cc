"""Multi-task loss weighting: GO4Align and the standard baselines behind one interface.

The interface is the one of the Nash-MTL / FAMO / GO4Align code bases:

    method = pyalgo.multitask.create("go4align", n_tasks=3, num_groups=2)
    loss, extras = method.backward(losses, shared_parameters=list(model.shared.parameters()))
    optimizer.step()
    method.update(new_losses)        # FAMO only (a no-op elsewhere): losses after the step

`losses` is a 1-D tensor of the M task losses (or a sequence of M scalar tensors).
`get_weighted_loss(...) -> (loss, extras)` returns the scalar to differentiate and
`extras["weights"]`, the (M,) per-task weights it applies; `backward(...)` also differentiates it.

Loss-based methods (LS, SI, RLW, DWA, UW, FAMO, GO4Align) read loss values only. Gradient methods
(MGDA, PCGrad, CAGrad) need `shared_parameters`: they take the M per-task gradients of those
parameters, and their combined direction d is always a linear combination Σ α_m g_m of them, so
`get_weighted_loss` returns Σ α_m L_m, whose gradient on the shared parameters is exactly d.
`backward` follows the papers: the shared parameters get d, every other parameter (the task heads)
the plain sum of the task gradients.
"""
from __future__ import annotations

import abc
import copy
import math
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .kmeans import cluster_means, kmeans_1d_lloyd
from .ops import go4align_weights

__all__ = [
    "WeightMethod", "LinearScalarization", "ScaleInvariant", "RandomLossWeighting", "DynamicWeightAverage",
    "UncertaintyWeighting", "FAMO", "MGDA", "PCGrad", "CAGrad", "GO4Align", "METHODS", "create",
    "min_norm_weights",
]

Losses = Union[torch.Tensor, Sequence[torch.Tensor]]
Params = Optional[Sequence[torch.Tensor]]
Device = Union[str, torch.device, None]
# (the scalar loss to differentiate, extras: "weights" (M,) and method-specific entries)
Weighted = Tuple[torch.Tensor, Dict[str, Any]]


def _stack_losses(losses: Losses, n_tasks: int, where: str) -> torch.Tensor:
    """The (M,) loss vector, with clear errors for the wrong count, shape or type."""
    if isinstance(losses, torch.Tensor):
        if losses.dim() != 1:
            raise ValueError(f"{where}: losses must be a 1-D tensor of {n_tasks} task losses (or a sequence of "
                             f"scalar tensors), got shape {tuple(losses.shape)}")
        stacked = losses
    elif isinstance(losses, (list, tuple)):
        for i, l in enumerate(losses):
            if not isinstance(l, torch.Tensor):
                raise TypeError(f"{where}: losses[{i}] must be a tensor, got {type(l).__name__}")
            if l.numel() != 1:
                raise ValueError(f"{where}: losses[{i}] must be a scalar (reduce each task's loss, e.g. with "
                                 f".mean()), got shape {tuple(l.shape)}")
        stacked = torch.stack([l.reshape(()) for l in losses]) if len(losses) else torch.empty(0)
    else:
        raise TypeError(f"{where}: losses must be a tensor or a sequence of scalar tensors, got {type(losses).__name__}")
    if stacked.shape[0] != n_tasks:
        raise ValueError(f"{where}: expected {n_tasks} losses (n_tasks), got {stacked.shape[0]}")
    if not stacked.is_floating_point():
        raise TypeError(f"{where}: losses must be floating point, got {stacked.dtype}")
    if not bool(torch.isfinite(stacked.detach()).all()):  # one host sync; NaN/inf would poison training
        raise ValueError(f"{where}: losses must be finite, got {stacked.detach().cpu().tolist()}")
    return stacked


def _loss_values(losses: torch.Tensor, where: str, offset: float = 0.0, eps: float = 0.0) -> np.ndarray:
    """Detached loss values + offset as float64 NumPy, all > 0: non-finite or negative values raise;
    zeros raise unless eps > 0, in which case values below eps are raised to eps."""
    values = losses.detach().to("cpu", torch.float64).numpy()
    if offset:
        values = values + offset
    low, high = values.min(), values.max()       # NaN propagates into both
    if low > 0 and high < math.inf:
        return values
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{where}: losses must be finite, got {values.tolist()}")
    if low < 0 or eps <= 0:
        shifted = f" (after loss_offset={offset})" if offset else ""
        raise ValueError(f"{where}: losses must be > 0{shifted}, got {values.tolist()}; pass loss_offset= for "
                         f"losses that can be negative, eps= to clamp losses that can reach 0")
    return np.maximum(values, eps)


MAX_TASKS = 1 << 20   # n_tasks cap: the methods keep (M,) to (M, M) state


def _check_n_tasks(n_tasks, where: str) -> int:
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, (int, np.integer)) or n_tasks < 1:
        raise ValueError(f"{where}: n_tasks must be an integer >= 1, got {n_tasks!r}")
    if n_tasks > MAX_TASKS:
        raise ValueError(f"{where}: n_tasks must be at most {MAX_TASKS}, got {n_tasks!r}")
    return int(n_tasks)


def _check_generator(generator, where: str) -> Optional[torch.Generator]:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{where}: generator must be a torch.Generator or None, got {type(generator).__name__}")
    return generator


def _check_offset(loss_offset, where: str) -> float:
    if loss_offset is None:
        return 0.0
    if isinstance(loss_offset, bool) or not isinstance(loss_offset, (int, float, np.integer, np.floating)) \
            or not math.isfinite(loss_offset):
        raise ValueError(f"{where}: loss_offset must be finite, got {loss_offset!r}")
    return float(loss_offset)


def _check_positive(value, name: str, where: str, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{where}: {name} must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


class WeightMethod(abc.ABC):
    """Base class: a per-step weighting of M task losses (Nash-MTL's `WeightMethod` interface).

    Subclasses implement `get_weighted_loss`; stateful ones `state_dict` / `load_state_dict` / `reset`.
    """

    name = "base"
    needs_gradients = False   # True: get_weighted_loss needs shared_parameters

    def __init__(self, n_tasks: int, device: Union[str, torch.device, None] = None):
        self.n_tasks = _check_n_tasks(n_tasks, f"pyalgo.multitask.{self.name}")
        try:
            self.device = torch.device(device) if device is not None else torch.device("cpu")
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"pyalgo.multitask.{self.name}: device must be a torch.device or a device string, "
                             f"got {device!r} ({exc})") from None

    @property
    def _where(self) -> str:
        return f"pyalgo.multitask.{self.name}"

    def _losses(self, losses: Losses) -> torch.Tensor:
        return _stack_losses(losses, self.n_tasks, self._where)

    @abc.abstractmethod
    def get_weighted_loss(self, losses: Losses, shared_parameters: Params = None,
                          task_specific_parameters: Params = None, **kwargs: Any) -> Weighted:
        """(scalar loss to differentiate, extras with "weights": (M,) weights it applies)."""

    def backward(self, losses: Losses, shared_parameters: Params = None,
                 task_specific_parameters: Params = None, **kwargs: Any) -> Weighted:
        """`get_weighted_loss` followed by `loss.backward()`; returns the same pair."""
        loss, extras = self.get_weighted_loss(losses, shared_parameters=shared_parameters,
                                              task_specific_parameters=task_specific_parameters, **kwargs)
        loss.backward()
        return loss, extras

    def parameters(self) -> List[torch.Tensor]:
        """Learnable parameters of the method itself (to add to the optimizer; UW only)."""
        return []

    def update(self, losses: Losses) -> None:
        """Post-step hook with the losses after `optimizer.step()` (FAMO; a no-op elsewhere)."""

    def state_dict(self) -> Dict[str, Any]:
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        unknown = set(state) - set(self.state_dict())
        if unknown:
            raise KeyError(f"{self._where}.load_state_dict: unknown keys {sorted(unknown)}")

    def reset(self) -> None:
        """Back to the state right after construction."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_tasks={self.n_tasks})"


class LinearScalarization(WeightMethod):
    """LS: Σ_m L_m (all weights 1)."""

    name = "ls"

    def get_weighted_loss(self, losses: Losses, shared_parameters: Params = None,
                          task_specific_parameters: Params = None, **kwargs: Any) -> Weighted:
        L = self._losses(losses)
        return L.sum(), {"weights": torch.ones_like(L.detach())}


class ScaleInvariant(WeightMethod):
    """SI: Σ_m log L_m, i.e. weights 1/L_m on the gradients (Nash-MTL's `ScaleInvariantLinearScalarization`).

    Losses must be > 0; `eps` > 0 clamps losses that can underflow to 0 (where log 0 would
    otherwise end training), `loss_offset` shifts losses that can be negative.
    """

    name = "si"

    def __init__(self, n_tasks: int, device: Device = None, eps: float = 0.0, loss_offset: Optional[float] = None):
        super().__init__(n_tasks, device)
        self.eps = _check_positive(eps, "eps", self._where, allow_zero=True)
        self.loss_offset = _check_offset(loss_offset, self._where)

    def get_weighted_loss(self, losses: Losses, shared_parameters: Params = None,
                          task_specific_parameters: Params = None, **kwargs: Any) -> Weighted:
        L = self._losses(losses)
        values = _loss_values(L, self._where, self.loss_offset, self.eps)
        shifted = L + self.loss_offset if self.loss_offset else L
        loss = torch.log(shifted.clamp_min(self.eps) if self.eps > 0 else shifted).sum()
        return loss, {"weights": torch.from_numpy(1.0 / values).to(L.device, L.dtype)}


class RandomLossWeighting(WeightMethod):
    """RLW (Lin et al., 2022): weights softmax(z), z ~ N(0, I) drawn afresh every step from `generator`
    (the default generator when None)."""

    name = "rlw"

    def __init__(self, n_tasks: int, device: Device = None, generator: Optional[torch.Generator] = None):
        super().__init__(n_tasks, device)
        self.generator = _check_generator(generator, self._where)

    def get_weighted_loss(self, losses: Losses, shared_parameters: Params = None,
                          task_specific_parameters: Params = None, **kwargs: Any) -> Weighted:
        L = self._losses(losses)
        w = torch.softmax(torch.randn(self.n_tasks, generator=self.generator, dtype=torch.float64), 0)
        w = w.to(L.device, L.dtype)
        return (w * L).sum(), {"weights": w}


class DynamicWeightAverage(WeightMethod):
    """DWA (Liu et al., CVPR 2019, MTAN Eq. 6): λ_m = M·softmax_m(r_m / T), r_m = L̄_m(t−1)/L̄_m(t−2).

    L̄(t) is the mean loss over "epoch" t, here a window of `iteration_window` steps (Nash-MTL's
    step-based variant). λ = 1 until two full windows have been seen; the weights of a step depend on
    earlier steps only. Loss = Σ_m λ_m L_m (weights sum to M, as in MTAN).
    """

    name = "dwa"

    def __init__(self, n_tasks: int, device: Device = None, iteration_window: int = 25, temperature: float = 2.0):
        super().__init__(n_tasks, device)
        if isinstance(iteration_window, bool) or not isinstance(iteration_window, (int, np.integer)) \
                or iteration_window < 1:
            raise ValueError(f"{self._where}: iteration_window must be an integer >= 1, got {iteration_window!r}")
        if iteration_window > (1 << 25) // self.n_tasks:
            raise ValueError(f"{self._where}: iteration_window must be at most 2**25 / n_tasks (the loss history "
                             f"holds 2 x iteration_window x n_tasks values), got {iteration_window!r}")
        iteration_window = int(iteration_window)
        self.iteration_window = iteration_window
        self.temperature = _check_positive(temperature, "temperature", self._where)
        self.reset()

    def reset(self) -> None:
        self.history = np.zeros((2 * self.iteration_window, self.n_tasks))
        self.steps = 0

    def weights(self) -> np.ndarray:
        """The weights the next step applies, (M,)."""
        if self.steps < 2 * self.iteration_window:
            return np.ones(self.n_tasks)
        w = self.iteration_window
        with np.errstate(over="ignore", invalid="ignore"):
            logits = self.history[w:].mean(0) / self.history[:w].mean(0) / self.temperature
        if not np.all(np.isfinite(logits)):  # huge losses (a window's sum overflows) or a tiny temperature
            top = self.history.max(0)      # per-task scale: the ratio of means is scale-free
            ratio = (self.history[w:] / top).mean(0) / (self.history[:w] / top).mean(0)
            logits = (ratio - ratio.max()) / self.temperature
        e = np.exp(logits - logits.max())
        return self.n_tasks * e / e.sum()

    def get_weighted_loss(self, losses: Losses, shared_parameters: Params = None,
                          task_specific_parameters: Params = None, **kwargs: Any) -> Weighted:
        L = self._losses(losses)
        values = _loss_values(L, self._where)
        w = torch.from_numpy(self.weights()).to(L.device, L.dtype)
        self.history[:-1] = self.history[1:]
        self.history[-1] = values
        self.steps += 1
        return (w * L).sum(), {"weights": w}

    def state_dict(self) -> Dict[str, Any]:
        return {"history": self.history.copy(), "steps": self.steps}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        super().load_state_dict(state)
        history = np.array(state["history"], dtype=np.float64)
        if history.shape != (2 * self.iteration_window, self.n_tasks) or not np.all(np.isfinite(history)):
            raise ValueError(f"{self._where}.load_state_dict: history must be {2 * self.iteration_window} x "
                             f"{self.n_tasks} finite values, got shape {history.shape}")
        self.history = history
        self.steps = int(state["steps"])


class UncertaintyWeighting(WeightMethod):
    """UW (Kendall et al., CVPR 2018), as in Nash-MTL: Σ_m ½(exp(−s_m) L_m + s_m), s = log σ² learned.

    Add `parameters()` (s, initialised to 0) to the optimizer.
    """

    name = "uw"

    def __init__(self, n_tasks: int, device: Device = None):
        super().__init__(n_tasks, device)
        self.log_sigma = torch.zeros(self.n_tasks, device=self.device, requires_grad=True)

    def parameters(self) -> List[torch.Tensor]:
        return [self.log_sigma]

    def get_weighted_loss(self, losses: Losses, shared_parameters: Params = None,
                          task_specific_parameters: Params = None, **kwargs: Any) -> Weighted:
        L = self._losses(losses)
        if L.device != self.log_sigma.device:
            raise ValueError(f"{self._where}: losses are on {L.device} but the method's parameters on "
                             f"{self.log_sigma.device}; create it with device={str(L.device)!r}")
        loss = 0.5 * (torch.exp(-self.log_sigma) * L + self.log_sigma).sum()
        return loss, {"weights": 0.5 * torch.exp(-self.log_sigma.detach())}

    def state_dict(self) -> Dict[str, Any]:
        return {"log_sigma": self.log_sigma.detach().clone()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        super().load_state_dict(state)
        with torch.no_grad():
            self.log_sigma.copy_(state["log_sigma"])

    def reset(self) -> None:
        with torch.no_grad():
            self.log_sigma.zero_()


class FAMO(WeightMethod):
    """FAMO (Liu et al., NeurIPS 2023; the authors' standalone `famo.py`).

    Loss Σ_m z_m log(L_m − ℓ*_m + 1e-8) / c with z = softmax(w), c = Σ_m z_m / (L_m − ℓ*_m + 1e-8),
    i.e. weights z_m / (c (L_m − ℓ*_m)). After `optimizer.step()` call `update(new_losses)` with
    the losses of the same batch: w takes an Adam step (lr `w_lr`, weight decay `gamma`) along the
    softmax Jacobian times the drop in log loss (w has its own optimiser: `parameters()` is empty).
    `backward` clips the gradient norm of `shared_parameters` to `max_norm` as the authors do (only
    when shared_parameters are passed; 0: no clipping). ℓ* (`set_min_losses`) defaults to 0.
    """

    name = "famo"

    def __init__(self, n_tasks: int, device: Device = None,
                 gamma: float = 0.01, w_lr: float = 0.025, max_norm: float = 1.0):
        super().__init__(n_tasks, device)
        self.gamma = _check_positive(gamma, "gamma", self._where, allow_zero=True)
        self.w_lr = _check_positive(w_lr, "w_lr", self._where)
        self.max_norm = _check_positive(max_norm, "max_norm", self._where, allow_zero=True)
        self.reset()

    def reset(self) -> None:
        self.min_losses = torch.zeros(self.n_tasks, device=self.device)
        self.w = torch.zeros(self.n_tasks, device=self.device, requires_grad=True)
        self.w_opt = torch.optim.Adam([self.w], lr=self.w_lr, weight_decay=self.gamma)
        self.prev_losses: Optional[torch.Tensor] = None

    def set_min_losses(self, losses: Losses) -> None:
        """ℓ*_m, the lowest value each loss can take (0 for MSE / cross-entropy)."""
        # a copy: the caller's tensor is neither kept (later in-place changes would leak in) nor changed
        self.min_losses = self._losses(losses).detach().to(self.device).clone()

    def _gaps(self, L: torch.Tensor) -> torch.Tensor:
        gaps = L - self.min_losses.to(L.device, L.dtype) + 1e-8
        _loss_values(gaps, self._where)
        return gaps

    def get_weighted_loss(self, losses: Losses, shared_parameters: Params = None,
                          task_specific_parameters: Params = None, **kwargs: Any) -> Weighted:
        L = self._losses(losses)
        gaps = self._gaps(L)
        self.prev_losses = L.detach()
        z = torch.softmax(self.w.detach(), -1).to(L.device, L.dtype)
        c = (z / gaps.detach()).sum()
        loss = (gaps.log() * z / c).sum()
        return loss, {"weights": z / (c * gaps.detach())}

    def backward(self, losses: Losses, shared_parameters: Params = None,
                 task_specific_parameters: Params = None, **kwargs: Any) -> Weighted:
        loss, extras = self.get_weighted_loss(losses)
        loss.backward()
        if self.max_norm > 0 and shared_parameters is not None:
            torch.nn.utils.clip_grad_norm_(list(shared_parameters), self.max_norm)
        return loss, extras

    def update(self, losses: Losses) -> None:
        if self.prev_losses is None:
            raise RuntimeError(f"{self._where}.update: call get_weighted_loss (or backward) before update")
        new = self._losses(losses).detach()
        delta = self._gaps(self.prev_losses).log() - self._gaps(new).log()
        with torch.enable_grad():
            direction = torch.autograd.grad(torch.softmax(self.w, -1), self.w,
                                            grad_outputs=delta.to(self.w.device, self.w.dtype))[0]
        self.w_opt.zero_grad()
        self.w.grad = direction
        self.w_opt.step()

    def state_dict(self) -> Dict[str, Any]:
        # deep copies: torch's optimizer state_dict holds the live moment tensors
        return {"w": self.w.detach().clone(), "w_opt": copy.deepcopy(self.w_opt.state_dict()),
                "min_losses": self.min_losses.clone()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        super().load_state_dict(state)
        with torch.no_grad():
            self.w.copy_(state["w"])
        self.w_opt.load_state_dict(copy.deepcopy(state["w_opt"]))  # the caller's dict is not aliased
        self.min_losses = torch.as_tensor(state["min_losses"]).detach().to(self.device).clone()


# ---------------------------------------------------------------------------------------------
# gradient methods


def min_norm_weights(gram: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """argmin_{α ∈ simplex} αᵀ G α, the min-norm point of the convex hull of the task gradients
    (MGDA, Sener & Koltun 2018), for a PSD Gram matrix G (M, M).

    Closed form for M ≤ 2; otherwise Wolfe's active-set algorithm for the min-norm point of a
    polytope (finite, exact up to rounding), stopped when the Frank–Wolfe gap αᵀGα − min_m (Gα)_m
    (a bound on the suboptimality) is below tol · max diag(G); accelerated projected gradient
    finishes the rare case the active set cannot (rounding on near-singular G).

    Args:
        gram: (M, M) finite PSD Gram matrix of the task gradients.
        tol: relative Frank–Wolfe gap, finite and > 0.

    Returns:
        α (M,) float64 on the simplex.

    Raises:
        TypeError: `gram` is not a real matrix.
        ValueError: `gram` is not finite, square and non-empty, or `tol` is invalid.

    Example:
        g = torch.randn(3, 10)
        alpha = pyalgo.multitask.min_norm_weights((g @ g.T).numpy())
    """
    if not (isinstance(tol, (int, float, np.integer, np.floating)) and not isinstance(tol, bool)
            and math.isfinite(tol) and tol > 0):
        raise ValueError(f"pyalgo.multitask.min_norm_weights: tol must be a finite number > 0, got {tol!r}")
    try:
        G = np.asarray(gram, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"pyalgo.multitask.min_norm_weights: gram must be a real square matrix ({exc})") from None
    if G.ndim != 2 or G.shape[0] != G.shape[1] or G.shape[0] == 0 or not np.isfinite(G).all():
        raise ValueError(f"pyalgo.multitask.min_norm_weights: gram must be a finite, non-empty square matrix, "
                         f"got shape {G.shape}" + ("" if G.size == 0 or np.isfinite(G).all() else " with non-finite entries"))
    m = G.shape[0]
    if m == 1:
        return np.ones(1)
    scale = max(float(np.max(np.diag(G))), 1e-300)
    if scale > 1e-300:  # the weights are scale-free; the KKT systems below mix G with 1s: max diag in [0.5, 1)
        G = np.ldexp(G, -math.frexp(scale)[1])
        scale = max(float(np.max(np.diag(G))), 1e-300)
    if m == 2:
        denom = G[0, 0] + G[1, 1] - 2 * G[0, 1]
        a = 0.5 if denom <= 1e-15 * scale else float(np.clip((G[1, 1] - G[0, 1]) / denom, 0.0, 1.0))
        return np.array([a, 1.0 - a])
    alpha = np.zeros(m)
    alpha[int(np.argmin(np.diag(G)))] = 1.0
    for _ in range(20 * m):
        g = G @ alpha
        j = int(np.argmin(g))
        if alpha @ g - g[j] <= tol * scale:
            return alpha
        support = alpha > 0
        support[j] = True
        for _ in range(m + 1):  # minimise over the affine hull of the support; walk back while it leaves the
            # simplex (each walk-back drops >= 1 index from the support, so m + 1 passes always suffice)
            idx = np.flatnonzero(support)
            k = idx.size
            kkt = np.zeros((k + 1, k + 1))
            kkt[:k, :k] = G[np.ix_(idx, idx)]
            kkt[:k, k] = kkt[k, :k] = 1.0
            rhs = np.zeros(k + 1)
            rhs[k] = 1.0
            beta = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:k]
            if np.all(beta > 0) and np.all(np.isfinite(beta)):
                alpha = np.zeros(m)
                alpha[idx] = beta
                break
            if not np.all(np.isfinite(beta)):  # a singular KKT system lstsq could not solve: finish by FISTA
                return _min_norm_projected_gradient(G, alpha, tol * scale)
            current = alpha[idx]
            shrinking = beta <= 0
            t = float(np.min(current[shrinking] / (current[shrinking] - beta[shrinking])))
            alpha[idx] = current + t * (beta - current)
            alpha[np.abs(alpha) <= 1e-15] = 0.0
            alpha = np.maximum(alpha, 0.0)
            if not alpha.sum() > 0:  # rounding emptied the support: finish by FISTA from the centre
                return _min_norm_projected_gradient(G, np.full(m, 1.0 / m), tol * scale)
            alpha /= alpha.sum()
            support = alpha > 0
    return _min_norm_projected_gradient(G, alpha, tol * scale)


def _min_norm_projected_gradient(G: np.ndarray, alpha: np.ndarray, gap_tol: float, max_iter: int = 10000) -> np.ndarray:
    """FISTA on the simplex from `alpha` until the Frank–Wolfe gap ≤ gap_tol."""
    step = 1.0 / max(float(np.linalg.eigvalsh(G)[-1]), 1e-300)
    y, t = alpha.copy(), 1.0
    for _ in range(max_iter):
        new = _project_simplex(y - step * (G @ y))
        t_next = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
        y = new + (t - 1) / t_next * (new - alpha)
        alpha, t = new, t_next
        g = G @ alpha
        if alpha @ g - g.min() <= gap_tol:
            break
    return alpha


def _project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the probability simplex (Duchi et al. 2008)."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    k = np.nonzero(u * np.arange(1, v.size + 1) > css)[0][-1]
    return np.maximum(v - css[k] / (k + 1), 0.0)


class _GradientMethod(WeightMethod):
    """Shared part of MGDA / PCGrad / CAGrad: per-task gradients of the shared parameters → weights α."""

    needs_gradients = True

    @abc.abstractmethod
    def _weights(self, gram: np.ndarray, loss_values: Optional[np.ndarray]) -> np.ndarray:
        """α (M,) from the Gram matrix G = g gᵀ of the task gradients (float64)."""

    def weights_from_gradients(self, grads: torch.Tensor, losses: Optional[Losses] = None) -> torch.Tensor:
        """α (M,) for per-task gradients `grads` (M, P) that you computed yourself (e.g. a Jacobian):
        the method's direction is αᵀ grads. `losses` (M,) only for MGDA's loss normalisations."""
        if not isinstance(grads, torch.Tensor) or grads.dim() != 2 or grads.shape[0] != self.n_tasks:
            raise ValueError(f"{self._where}: grads must be a (n_tasks={self.n_tasks}, P) tensor, got "
                             f"{tuple(grads.shape) if isinstance(grads, torch.Tensor) else type(grads).__name__}")
        if not grads.is_floating_point():
            raise TypeError(f"{self._where}: grads must be a floating-point tensor, got {grads.dtype}")
        values = None if losses is None else _loss_values(self._losses(losses), self._where)
        g = grads.detach().double()
        gram = (g @ g.T).cpu().numpy()
        factor = 1.0
        if not np.isfinite(gram).all():
            if not bool(torch.isfinite(g).all()):  # the solvers would not terminate (MGDA) or return NaN
                raise ValueError(f"{self._where}: the task gradients must be finite (grads has "
                                 f"{int((~torch.isfinite(g)).sum())} non-finite entries)")
            # finite gradients whose Gram matrix overflows: solve on gradients scaled by a power of two
            # (every method's direction is scale-free; α of MGDA's l2 / loss+ scales with 1/‖g‖)
            factor = math.ldexp(1.0, -math.frexp(float(g.abs().max()))[1])
            gs = g * factor
            gram = (gs @ gs.T).cpu().numpy()
        alpha = self._weights(gram, values)
        if factor != 1.0 and getattr(self, "normalization", None) in ("l2", "loss+"):
            alpha = alpha * factor
        return torch.from_numpy(alpha).to(grads.device, grads.dtype)

    def _task_gradients(self, L: torch.Tensor, params: List[torch.Tensor]) -> torch.Tensor:
        """(M, P) per-task gradients of the shared parameters (one vmapped backward when possible)."""
        eye = torch.eye(self.n_tasks, dtype=L.dtype, device=L.device)
        try:
            grads = torch.autograd.grad(L, params, grad_outputs=eye, retain_graph=True, allow_unused=True,
                                        is_grads_batched=True)
        except RuntimeError:  # an op without a batching rule: one backward per task
            per_task = [torch.autograd.grad(L[m], params, retain_graph=True, allow_unused=True)
                        for m in range(self.n_tasks)]
            grads = [torch.stack([g[i] if g[i] is not None else torch.zeros_like(p) for g in per_task])
                     for i, p in enumerate(params)]
        return torch.cat([(g if g is not None else torch.zeros((self.n_tasks,) + p.shape, dtype=p.dtype,
                                                               device=p.device)).reshape(self.n_tasks, -1)
                          for g, p in zip(grads, params)], dim=1)

    def _shared(self, shared_parameters: Params) -> List[torch.Tensor]:
        if shared_parameters is None:
            raise ValueError(f"{self._where}: needs shared_parameters (the parameters all tasks share)")
        params = [p for p in shared_parameters]
        if not params or not all(isinstance(p, torch.Tensor) and p.requires_grad for p in params):
            raise ValueError(f"{self._where}: shared_parameters must be a non-empty sequence of tensors that "
                             f"require grad")
        return params

    def _combine(self, losses, shared_parameters):
        L = self._losses(losses)
        params = self._shared(shared_parameters)
        if not L.requires_grad:
            raise ValueError(f"{self._where}: losses must require grad (computed from the shared parameters)")
        grads = self._task_gradients(L, params)
        alpha = self.weights_from_gradients(grads, L if getattr(self, "uses_losses", False) else None)
        return L, params, grads, alpha.to(L.dtype)

    def get_weighted_loss(self, losses: Losses, shared_parameters: Params = None,
                          task_specific_parameters: Params = None, **kwargs: Any) -> Weighted:
        L, _, _, alpha = self._combine(losses, shared_parameters)
        return (alpha * L).sum(), {"weights": alpha}

    def backward(self, losses: Losses, shared_parameters: Params = None,
                 task_specific_parameters: Params = None, **kwargs: Any) -> Weighted:
        """Shared parameters get d = Σ α_m g_m; all other parameters Σ_m ∇L_m. Gradients accumulate."""
        L, params, grads, alpha = self._combine(losses, shared_parameters)
        L.sum().backward()
        correction = (alpha - 1.0) @ grads                               # d − Σ_m g_m
        offset = 0
        for p in params:
            n = p.numel()
            step = correction[offset:offset + n].view_as(p)
            if p.grad is None:        # a shared parameter no loss depends on: its gradient is 0
                p.grad = step.clone()
            else:
                p.grad.add_(step)
            offset += n
        return (alpha.detach() * L.detach()).sum(), {"weights": alpha}


class MGDA(_GradientMethod):
    """MGDA (Désidéri 2012; Sener & Koltun 2018): d = Σ α_m g_m with α the min-norm point of the
    convex hull of the task gradients (`min_norm_weights`). `normalization` rescales each g_m first
    (Nash-MTL's options): "none", "l2" (‖g_m‖), "loss" (L_m), "loss+" (L_m ‖g_m‖); α is returned for
    the unnormalised gradients."""

    name = "mgda"

    def __init__(self, n_tasks: int, device: Device = None,
                 normalization: Literal["none", "l2", "loss", "loss+"] = "none"):
        super().__init__(n_tasks, device)
        if normalization not in ("none", "l2", "loss", "loss+"):
            raise ValueError(f"{self._where}: normalization must be 'none', 'l2', 'loss' or 'loss+', got {normalization!r}")
        self.normalization = normalization
        self.uses_losses = normalization in ("loss", "loss+")

    def _weights(self, gram, loss_values):
        if self.uses_losses and loss_values is None:
            raise ValueError(f"{self._where}: normalization={self.normalization!r} needs the losses")
        norms = np.sqrt(np.maximum(np.diag(gram), 1e-300))
        if self.normalization == "none":
            n = np.ones(self.n_tasks)
        elif self.normalization == "l2":
            n = norms
        elif self.normalization == "loss":
            n = loss_values
        else:
            n = loss_values * norms
        alpha = min_norm_weights(gram / np.outer(n, n))
        return alpha / n


class PCGrad(_GradientMethod):
    """PCGrad (Yu et al., NeurIPS 2020): for each task i, in a random order of j, while g_i^pc · g_j < 0
    project g_i^pc onto the normal plane of g_j; d = Σ_i g_i^pc. Every projection subtracts a multiple
    of an original g_j, so the whole procedure runs on the Gram matrix (O(M³), never O(M²·P)).
    The orders come from `generator` (the default generator when None)."""

    name = "pcgrad"

    def __init__(self, n_tasks: int, device: Device = None, generator: Optional[torch.Generator] = None):
        super().__init__(n_tasks, device)
        self.generator = _check_generator(generator, self._where)

    def _weights(self, gram, loss_values):
        m = self.n_tasks
        coeff = np.eye(m)                        # row i: g_i^pc = Σ_j coeff[i, j] g_j
        for i in range(m):
            for j in torch.randperm(m, generator=self.generator).tolist():
                dot = coeff[i] @ gram[:, j]
                if dot < 0 and gram[j, j] > 0:
                    coeff[i, j] -= dot / gram[j, j]
        return coeff.sum(0)


class CAGrad(_GradientMethod):
    """CAGrad (Liu et al., NeurIPS 2021), as in Nash-MTL: w = argmin_{w ∈ simplex} wᵀG b + r‖g_w‖ with
    b = 1/M, r = `c`·‖g_0‖ (SLSQP as the authors; exact closed form for M = 2);
    d = (g_0 + r/‖g_w‖ · g_w) / (1 + c²) (rescale=1), i.e. α_m = (1/M + λ w_m) / (1 + c²)."""

    name = "cagrad"

    def __init__(self, n_tasks: int, device: Device = None, c: float = 0.4):
        super().__init__(n_tasks, device)
        self.c = _check_positive(c, "c", self._where, allow_zero=True)
        if self.c > 1e6:
            raise ValueError(f"{self._where}: c must be at most 1e6 (the direction scales with 1/(1 + c^2)), got {c!r}")

    def _weights(self, gram, loss_values):
        m = self.n_tasks
        b = np.full(m, 1.0 / m)
        g0_norm = math.sqrt(max(b @ gram @ b, 0.0) + 1e-8)
        radius = self.c * g0_norm + 1e-8

        def objective(w):
            return float(w @ gram @ b + radius * math.sqrt(max(w @ gram @ w, 0.0) + 1e-8))

        if m == 2:
            w = _cagrad_two_tasks(gram, radius, objective)
        else:
            from scipy.optimize import minimize

            w = minimize(objective, b.copy(), bounds=[(0.0, 1.0)] * m,
                         constraints={"type": "eq", "fun": lambda w: 1.0 - w.sum()}).x
        gw_norm = math.sqrt(max(w @ gram @ w, 0.0))
        lam = radius / (gw_norm + 1e-8)
        return (b + lam * w) / (1.0 + self.c ** 2)


def _cagrad_two_tasks(gram: np.ndarray, radius: float, objective) -> np.ndarray:
    """CAGrad's inner problem for M = 2 exactly: w = (a, 1 − a), f(a) = D a + r √(A a² + B a + C) is
    convex on [0, 1]; its minimum is at an end or where f' = 0 (a quadratic after squaring)."""
    gb = gram @ np.full(2, 0.5)
    D = gb[0] - gb[1]
    A = gram[0, 0] - 2 * gram[0, 1] + gram[1, 1]
    B = 2 * gram[0, 1] - 2 * gram[1, 1]
    C = gram[1, 1] + 1e-8
    r2, d2 = radius * radius, D * D
    qa, qb, qc = 4 * r2 * A * A - 4 * d2 * A, 4 * r2 * A * B - 4 * d2 * B, r2 * B * B - 4 * d2 * C
    candidates = [0.0, 1.0]
    if abs(qa) > 1e-300:
        disc = qb * qb - 4 * qa * qc
        if disc >= 0:
            candidates += [(-qb + s * math.sqrt(disc)) / (2 * qa) for s in (1.0, -1.0)]
    elif abs(qb) > 1e-300:
        candidates.append(-qc / qb)
    best = min((a for a in candidates if 0.0 <= a <= 1.0), key=lambda a: objective(np.array([a, 1.0 - a])))
    return np.array([best, 1.0 - best])


class GO4Align(WeightMethod):
    """GO4Align (Shen et al., NeurIPS 2024): weights from dynamic task grouping.

    Each step, on detached losses L (M,):
      P = mean(L) / L                        Eq. 5 (scale="sum": sum(L) / L, the official code)
      log q ← log_softmax(log q − β L)       Eq. 6, q_0 = 1/M (a softmin over cumulative losses)
      γ = P ⊙ q                              Eq. 7
      groups = 1-D K-means of γ into K       Eq. 3 (exact DP by default; "lloyd" as the code)
      w_m = mean of γ over m's group         Eq. 3–4 (ω = γ G⁺)
    and the loss is Σ_m w_m L_m with w constant. K = 1 gives every task mean(γ); K = M gives w = γ.

    Args: num_groups K (1 ≤ K ≤ M; default min(2, M), the paper's NYUv2 choice); beta β ≥ 0 (alias robust_step_size, the code's flag);
    loss_offset added to every loss first (for losses that can be ≤ 0, e.g. the toy problem);
    eps > 0 clamps losses below eps (otherwise a zero loss raises); generator for Lloyd's initial points.
    """

    name = "go4align"

    def __init__(self, n_tasks: int, device: Device = None,
                 num_groups: Optional[int] = None, beta: float = 1e-4, scale: Literal["mean", "sum"] = "mean",
                 clustering: Literal["exact1d", "lloyd"] = "exact1d", eps: float = 0.0,
                 loss_offset: Optional[float] = None,
                 robust_step_size: Optional[float] = None, generator: Optional[torch.Generator] = None):
        super().__init__(n_tasks, device)
        if num_groups is None:
            num_groups = min(2, self.n_tasks)
        if isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer)) \
                or not 1 <= num_groups <= self.n_tasks:
            raise ValueError(f"{self._where}: num_groups must be an integer in [1, n_tasks={self.n_tasks}], "
                             f"got {num_groups!r}")
        if robust_step_size is not None:
            beta = robust_step_size
        if scale not in ("mean", "sum"):
            raise ValueError(f"{self._where}: scale must be 'mean' (paper Eq. 5) or 'sum' (official code), got {scale!r}")
        if clustering not in ("exact1d", "lloyd"):
            raise ValueError(f"{self._where}: clustering must be 'exact1d' or 'lloyd', got {clustering!r}")
        self.num_groups = int(num_groups)
        self.beta = _check_positive(beta, "beta", self._where, allow_zero=True)
        self.scale = scale
        self.clustering = clustering
        self.eps = _check_positive(eps, "eps", self._where, allow_zero=True)
        self.loss_offset = _check_offset(loss_offset, self._where)
        self.generator = _check_generator(generator, self._where)
        self.reset()

    @property
    def robust_step_size(self) -> float:
        return self.beta

    def reset(self) -> None:
        self.log_q = torch.full((self.n_tasks,), -math.log(self.n_tasks), dtype=torch.float64)

    def get_weighted_loss(self, losses: Losses, shared_parameters: Params = None,
                          task_specific_parameters: Params = None, **kwargs: Any) -> Weighted:
        L = self._losses(losses)
        # the whole step in one host op (C++): a handful of NumPy/torch calls would cost more than it
        weights, groups, gamma, P, q, self.log_q = go4align_weights(
            L.detach().to("cpu", torch.float64), self.log_q, self.num_groups, self.beta, self.scale == "sum",
            self.loss_offset, self.eps)
        if self.clustering == "lloyd" and self.num_groups > 1:
            groups = kmeans_1d_lloyd(gamma.numpy(), self.num_groups, generator=self.generator)
            weights = torch.from_numpy(cluster_means(gamma.numpy(), groups.numpy()))
        w = weights.to(L.device, L.dtype)
        shifted = L + self.loss_offset if self.loss_offset else L
        extras = {"weights": w, "groups": groups, "indicators": gamma, "P": P, "Q": q}
        return (w * shifted).sum(), extras

    def state_dict(self) -> Dict[str, Any]:
        return {"log_q": self.log_q.clone()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        super().load_state_dict(state)
        log_q = torch.as_tensor(state["log_q"]).detach().to("cpu", torch.float64).clone()
        if log_q.shape != (self.n_tasks,) or not bool(torch.isfinite(log_q).all()):
            raise ValueError(f"{self._where}.load_state_dict: log_q must be {self.n_tasks} finite values, "
                             f"got shape {tuple(log_q.shape)}")
        self.log_q = log_q

    def __repr__(self) -> str:
        return (f"GO4Align(n_tasks={self.n_tasks}, num_groups={self.num_groups}, beta={self.beta}, "
                f"scale={self.scale!r}, clustering={self.clustering!r})")


METHODS = {cls.name: cls for cls in (LinearScalarization, ScaleInvariant, RandomLossWeighting, DynamicWeightAverage,
                                     UncertaintyWeighting, FAMO, MGDA, PCGrad, CAGrad, GO4Align)}
_ALIASES = {"scaleinvls": "si"}


def create(name: str, n_tasks: int, device: Device = None, **kwargs: Any) -> WeightMethod:
    """The weighting method registered as `name`.

    Args:
        name: a key of `METHODS` (case-insensitive; "scaleinvls" is an alias of "si").
        n_tasks: the number of tasks M >= 1.
        device: where the method keeps its state (default CPU).
        **kwargs: the method's own options (e.g. ``num_groups`` for GO4Align).

    Returns:
        A new `WeightMethod`.

    Raises:
        ValueError: unknown `name`, or an invalid option of the method.

    Example:
        method = pyalgo.multitask.create("go4align", n_tasks=3, num_groups=2)
        loss, extras = method.get_weighted_loss(torch.tensor([1.0, 2.0, 3.0]))
    """
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in METHODS:
        raise ValueError(f"pyalgo.multitask.create: unknown method {name!r}; choose one of {sorted(METHODS)}")
    return METHODS[key](n_tasks, device=device, **kwargs)
