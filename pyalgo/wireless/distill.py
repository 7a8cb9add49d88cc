"""Algorithm distillation: neural power-control students trained with the WMMSE teacher's help
(Ma et al., arXiv:2308.07511; shared/specs/wmmse.md §1, §3, §7).

Students map gains G (B, K, K) (G[b, i, j] = gain from transmitter j to receiver i) and optional
user weights α (B, K) to powers p ∈ [0, p_max]^K:

- `MLPStudent`: Sun et al.'s DNN, K² → 200 → 80 → 80 → K (ReLU), output p_max·sigmoid.
- `GNNStudent`: permutation-equivariant message passing over the interference graph (spec §1,
  eqs. 6–7): m_i = max/sum/mean_{j ∈ N(i)} φ(x_j, G_ij, G_ji), x_i ← ψ(x_i, m_i), shared by all
  nodes, x_i⁰ = (G_ii, α_i); works for any K.

`train_student(student, mode, ...)` trains either one in five modes (spec §7; t = optimiser step,
T = total steps, β_t from `beta_at`, p_T = teacher powers, R = weighted sum rate in bits):

    supervised            L = A(p, teacher)
    unsupervised          L = −mean_b R(G, p)
    unsupervised+assist   L = −mean_b R(G, p) + β_t·A(p, teacher)
    rl                    critic: (Q(G, a) − R(G, a))², a = clip(p + N(0, (s·p_max)²), 0, p_max);
                          actor: L = −mean_b Q(G, p)
    rl+assist             actor: L = −mean_b Q(G, p) + β_t·A(p, teacher)

The assistance A (`assist`) always holds the final-solution term mean_b ‖p − p_T‖²/p_max² (the paper's
ℓ_AD with MSE, spec §7) and optionally the teacher's intermediate information (not in the paper):
"state" regresses the WMMSE state at p_T through a student head, "trajectory" matches the
student's intermediate power estimates to WMMSE iterates (see `assist_loss`).

Teacher labels (`teacher_labels`) are computed in chunks, optionally cached to disk and resumed,
and everything runs unchanged under `torchrun` (process group from the environment, labels
sharded by rank and gathered, the student wrapped in DistributedDataParallel).
"""
from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import time
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from .ops import sum_rate, wmmse

__all__ = [
    "MLPStudent", "GNNStudent", "MLPCritic", "GNNCritic", "StudentOutput", "TeacherLabels",
    "default_critic", "teacher_labels", "assist_loss", "train_student", "evaluate_student",
    "beta_at", "beta_fixed", "beta_increasing", "beta_decreasing", "BETA_SCHEDULES",
    "MODES", "ASSISTS", "INPUTS", "AGGREGATIONS", "OPTIMIZERS",
]

MODES = ("supervised", "unsupervised", "unsupervised+assist", "rl", "rl+assist")
ASSISTS = ("final", "final+state", "final+trajectory", "final+state+trajectory")
INPUTS = ("gain", "amplitude", "log")
AGGREGATIONS = ("max", "sum", "mean")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
_TEACHER_MODES = ("supervised", "unsupervised+assist", "rl+assist")
TEACHER_MAX_ITER, TEACHER_TOL = 100, 1e-3      # spec §7 / Sun et al.: 100 iterations or Δrate <= 1e-3

Weights = Optional[torch.Tensor]


# ---- argument checks ----------------------------------------------------------------------------

def _check_choice(fn: str, name: str, value, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{fn}: {name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _check_positive(fn: str, name: str, value, allow_zero: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{fn}: {name} must be a finite number {bound}, got {value!r}")
    return float(value)


def _check_int(fn: str, name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{fn}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_gains(fn: str, name: str, G, K: Optional[int] = None) -> torch.Tensor:
    if not isinstance(G, torch.Tensor) or not G.is_floating_point():
        raise TypeError(f"{fn}: {name} must be a real floating-point tensor (B, K, K), got "
                        f"{type(G).__name__ if not isinstance(G, torch.Tensor) else G.dtype}")
    if G.dim() != 3 or G.shape[-1] != G.shape[-2] or G.shape[-1] == 0:
        raise ValueError(f"{fn}: {name} must have shape (B, K, K) with K >= 1, got {tuple(G.shape)}")
    if K is not None and G.shape[-1] != K:
        raise ValueError(f"{fn}: {name} must have K = {K} users (the student's), got {tuple(G.shape)}")
    return G


def _check_gain_values(fn: str, name: str, G: torch.Tensor) -> None:
    if not bool(torch.isfinite(G).all()) or bool((G < 0).any()):
        raise ValueError(f"{fn}: {name} must hold finite gains >= 0")


def _check_dataset_weights(fn: str, weights: Weights, N: int, K: int) -> None:
    if weights is None:
        return
    if not isinstance(weights, torch.Tensor) or weights.shape not in ((K,), (N, K)):
        shape = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise ValueError(f"{fn}: weights must be None, (K,) = ({K},) or (N, K) = ({N}, {K}), got {shape}")
    if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()):
        raise ValueError(f"{fn}: weights must be finite and >= 0")


def _expand_weights(fn: str, weights: Weights, B: int, K: int, like: torch.Tensor) -> torch.Tensor:
    """None (ones) or a tensor broadcastable to (B, K) -> (B, K) in like's dtype/device."""
    if weights is None:
        return torch.ones(B, K, dtype=like.dtype, device=like.device)
    if not isinstance(weights, torch.Tensor):
        raise TypeError(f"{fn}: weights must be None or a tensor broadcastable to (B, K) = ({B}, {K}), "
                        f"got {type(weights).__name__}")
    try:
        return weights.to(like.dtype).expand(B, K)
    except RuntimeError:
        raise ValueError(f"{fn}: weights must be broadcastable to (B, K) = ({B}, {K}), "
                         f"got {tuple(weights.shape)}") from None


# ---- students -----------------------------------------------------------------------------------

class StudentOutput(NamedTuple):
    """What a student returns with ``return_aux=True``.

    p (B, K) powers; state (B, K, 2) the predicted WMMSE state at the teacher's solution,
    (u_k·√G_kk ∈ [0, 1), log2 w_k ≥ 0), or None without a state head; iterates (B, S, K) the S
    intermediate power estimates in [0, p_max], or None without trajectory heads."""
    p: torch.Tensor
    state: Optional[torch.Tensor]
    iterates: Optional[torch.Tensor]


def _features(G: torch.Tensor, inputs: str) -> torch.Tensor:
    """Input scaling of the gains: "gain" G, "amplitude" √G (|h|, what Sun et al.'s DNN sees),
    "log" ln(1 + G) (= ln(1 + SNR) at σ² = 1; compresses path-loss gains spanning decades and is
    ≈ G for weak interference links)."""
    if inputs == "gain":
        return G
    if inputs == "amplitude":
        return G.clamp_min(0).sqrt()
    return torch.log1p(G.clamp_min(0))


def _mlp(sizes: Sequence[int], final_relu: bool) -> nn.Sequential:
    layers: List[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if final_relu or i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _state_from_raw(raw: torch.Tensor) -> torch.Tensor:
    """Raw head output (..., 2) -> (u·√G_kk = sigmoid, log2 w = softplus)."""
    return torch.stack([torch.sigmoid(raw[..., 0]), F.softplus(raw[..., 1])], dim=-1)


def _check_student_args(fn: str, p_max, inputs: str) -> float:
    _check_choice(fn, "inputs", inputs, INPUTS)
    return _check_positive(fn, "p_max", p_max)


class MLPStudent(nn.Module):
    """Sun et al.'s DNN (TSP 2018, `function_dnn_powercontrol.py`): flattened gains → `hidden`
    (ReLU) → K, with p = p_max·sigmoid(·) (spec §7) instead of their relu6(x)/6.

    The K×K matrix is flattened column-major, as Sun et al.'s ``H.reshape(K², order='F')``, after
    the `inputs` scaling (see `_features`; default "amplitude", their |h|). With ``weighted=True``
    the K user weights are appended to the input (K² + K), else the student takes no weights.
    Optional heads for the assistance: ``state_head`` (Linear on the last hidden layer → (B, K, 2))
    and ``trajectory_heads`` (one Linear → K per hidden layer, sigmoid·p_max: S = len(hidden)
    intermediate estimates).
    """

    def __init__(self, K: int, hidden: Sequence[int] = (200, 80, 80), p_max: float = 1.0,
                 inputs: str = "amplitude", weighted: bool = False, state_head: bool = False,
                 trajectory_heads: bool = False):
        super().__init__()
        fn = "pyalgo.wireless.MLPStudent"
        self.K = _check_int(fn, "K", K)
        self.hidden_sizes = tuple(_check_int(fn, "hidden sizes", h) for h in hidden)
        if not self.hidden_sizes:
            raise ValueError(f"{fn}: hidden must list at least one layer size, got {tuple(hidden)}")
        self.p_max = _check_student_args(fn, p_max, inputs)
        self.inputs, self.weighted = inputs, bool(weighted)
        sizes = [K * K + (K if weighted else 0), *self.hidden_sizes]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(sizes[-1], K)
        self.state_head = nn.Linear(sizes[-1], 2 * K) if state_head else None
        self.trajectory_heads = (nn.ModuleList(nn.Linear(h, K) for h in self.hidden_sizes)
                                 if trajectory_heads else None)

    def forward(self, G: torch.Tensor, weights: Weights = None, return_aux: bool = False):
        """G (B, K, K), weights (B, K)/(K,) or None -> p (B, K), or `StudentOutput` with return_aux."""
        fn = "pyalgo.wireless.MLPStudent"
        _check_gains(fn, "G", G, self.K)
        B, K = G.shape[0], self.K
        x = _features(G, self.inputs).transpose(-1, -2).reshape(B, K * K)
        if self.weighted:
            x = torch.cat([x, _expand_weights(fn, weights, B, K, x)], dim=-1)
        elif weights is not None:
            raise ValueError(f"{fn}: weights given to a student built with weighted=False; "
                             "build it with weighted=True")
        iterates = []
        for i, layer in enumerate(self.layers):
            x = torch.relu(layer(x))
            if self.trajectory_heads is not None:
                iterates.append(self.p_max * torch.sigmoid(self.trajectory_heads[i](x)))
        p = self.p_max * torch.sigmoid(self.out(x))
        if not return_aux:
            return p
        state = None if self.state_head is None else _state_from_raw(self.state_head(x).view(B, K, 2))
        return StudentOutput(p, state, torch.stack(iterates, 1) if iterates else None)


def _neighbour_mask(G: torch.Tensor, adjacency: Optional[torch.Tensor], fn: str) -> torch.Tensor:
    """(B, K, K) bool: mask[b, i, j] = j sends a message to i (j ≠ i, and adjacency[b, i, j])."""
    B, K = G.shape[0], G.shape[-1]
    off_diagonal = ~torch.eye(K, dtype=torch.bool, device=G.device)
    if adjacency is None:
        return off_diagonal.expand(B, K, K)
    is_mask = isinstance(adjacency, torch.Tensor) and adjacency.dtype == torch.bool
    if not (is_mask and adjacency.shape == G.shape):
        got = (f"{adjacency.dtype} {tuple(adjacency.shape)}" if isinstance(adjacency, torch.Tensor)
               else type(adjacency).__name__)
        raise ValueError(f"{fn}: adjacency must be a bool tensor of G's shape {tuple(G.shape)}, got {got}")
    return adjacency & off_diagonal


class _MessagePassing(nn.Module):
    """One shared layer (spec §1, eqs. 6–7): m_i = AGG_{j: mask[i, j]} φ(x_j, e_ij),
    x_i' = ψ(x_i, m_i); φ and ψ are 2-layer ReLU MLPs, so messages are ≥ 0 and the max over an
    empty neighbourhood is taken as 0.

    φ's first layer W[x_j; e_ij] + b is computed as (W_x x_j + b) per node plus W_e e_ij per edge:
    the same function, with the d_node-wide product done K times instead of K² times."""

    def __init__(self, d_node: int, d_edge: int, hidden: int, aggregation: str):
        super().__init__()
        self.phi_node = nn.Linear(d_node, hidden)
        self.phi_edge = nn.Linear(d_edge, hidden, bias=False)
        self.phi_out = _mlp([hidden, hidden], final_relu=True)
        self.psi = _mlp([d_node + hidden, hidden, hidden], final_relu=True)
        self.aggregation = aggregation

    def forward(self, x: torch.Tensor, edges: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        first = torch.relu(self.phi_node(x).unsqueeze(1) + self.phi_edge(edges))    # (B, i, j, hidden)
        messages = self.phi_out(first) * mask.unsqueeze(-1).to(first.dtype)
        if self.aggregation == "max":
            m = messages.amax(dim=2)
        else:
            m = messages.sum(dim=2)
            if self.aggregation == "mean":
                m = m / mask.sum(dim=2, keepdim=True).clamp_min(1).to(m.dtype)
        return self.psi(torch.cat([x, m], dim=-1))


class _GraphEncoder(nn.Module):
    """`layers` message-passing layers over node features (f(G_ii), α_i, extra...) and edge
    features e_ij = (f(G_ij), f(G_ji)): the interference j causes at i and i causes at j."""

    def __init__(self, d_extra: int, hidden: int, layers: int, aggregation: str, inputs: str):
        super().__init__()
        self.inputs = inputs
        dims = [2 + d_extra] + [hidden] * layers
        self.layers = nn.ModuleList(_MessagePassing(a, 2, hidden, aggregation) for a in dims[:-1])

    def forward(self, G, weights, adjacency, extra, fn) -> List[torch.Tensor]:
        """Node embeddings (B, K, hidden) after each layer."""
        B, K = G.shape[0], G.shape[-1]
        f = _features(G, self.inputs)
        nodes = [f.diagonal(dim1=-2, dim2=-1), _expand_weights(fn, weights, B, K, f), *extra]
        x = torch.stack(nodes, dim=-1)
        edges = torch.stack([f, f.transpose(-1, -2)], dim=-1)
        mask = _neighbour_mask(G, adjacency, fn)
        embeddings = []
        for layer in self.layers:
            x = layer(x, edges, mask)
            embeddings.append(x)
        return embeddings


class GNNStudent(nn.Module):
    """Permutation-equivariant message-passing GNN over the interference graph (spec §1, eqs. 6–7;
    pure torch, dense (B, K, K) layout, any K).

    x_i⁰ = (f(G_ii), α_i); layer l: m_i = AGG_{j ∈ N(i)} φ_l(x_j, f(G_ij), f(G_ji)),
    x_i = ψ_l(x_i, m_i); p_i = p_max·sigmoid(ρ(x_i^L)). N(i) = all j ≠ i, or those with
    ``adjacency[b, i, j]`` (B, K, K) bool. f is the `inputs` scaling (default "log": ln(1 + G)).
    Optional heads: ``state_head`` (Linear(hidden, 2) per node) and ``trajectory_heads`` (the
    readout ρ applied after layers 1..L−1: S = layers − 1 intermediate estimates, no extra weights).
    """

    def __init__(self, hidden: int = 64, layers: int = 3, aggregation: str = "max", p_max: float = 1.0,
                 inputs: str = "log", state_head: bool = False, trajectory_heads: bool = False):
        super().__init__()
        fn = "pyalgo.wireless.GNNStudent"
        self.hidden = _check_int(fn, "hidden", hidden)
        _check_int(fn, "layers", layers, minimum=2 if trajectory_heads else 1)
        _check_choice(fn, "aggregation", aggregation, AGGREGATIONS)
        self.p_max = _check_student_args(fn, p_max, inputs)
        self.inputs = inputs
        self.encoder = _GraphEncoder(0, hidden, layers, aggregation, inputs)
        self.readout = nn.Linear(hidden, 1)
        self.state_head = nn.Linear(hidden, 2) if state_head else None
        self.trajectory_heads = bool(trajectory_heads)

    def forward(self, G: torch.Tensor, weights: Weights = None, adjacency: Optional[torch.Tensor] = None,
                return_aux: bool = False):
        """G (B, K, K), weights (B, K)/(K,) or None, adjacency (B, K, K) bool or None -> p (B, K),
        or `StudentOutput` with return_aux."""
        fn = "pyalgo.wireless.GNNStudent"
        _check_gains(fn, "G", G)
        embeddings = self.encoder(G, weights, adjacency, (), fn)
        p = self._powers(embeddings[-1])
        if not return_aux:
            return p
        state = None if self.state_head is None else _state_from_raw(self.state_head(embeddings[-1]))
        iterates = (torch.stack([self._powers(x) for x in embeddings[:-1]], 1) if self.trajectory_heads
                    else None)
        return StudentOutput(p, state, iterates)

    def _powers(self, x: torch.Tensor) -> torch.Tensor:
        return self.p_max * torch.sigmoid(self.readout(x).squeeze(-1))


# ---- critics (RL modes) -------------------------------------------------------------------------

class MLPCritic(nn.Module):
    """Q(G, p) ≈ weighted sum rate: MLP on (flattened f(G), p/p_max[, α]) → `hidden` (ReLU) → 1."""

    def __init__(self, K: int, hidden: Sequence[int] = (200, 80), p_max: float = 1.0,
                 inputs: str = "amplitude", weighted: bool = False):
        super().__init__()
        fn = "pyalgo.wireless.MLPCritic"
        self.K = _check_int(fn, "K", K)
        self.p_max = _check_student_args(fn, p_max, inputs)
        self.inputs, self.weighted = inputs, bool(weighted)
        self.net = _mlp([K * K + K + (K if weighted else 0), *hidden, 1], final_relu=False)

    def forward(self, G: torch.Tensor, p: torch.Tensor, weights: Weights = None) -> torch.Tensor:
        """G (B, K, K), p (B, K) -> Q (B,)."""
        fn = "pyalgo.wireless.MLPCritic"
        _check_gains(fn, "G", G, self.K)
        B, K = p.shape
        parts = [_features(G, self.inputs).transpose(-1, -2).reshape(B, K * K), p / self.p_max]
        if self.weighted:
            parts.append(_expand_weights(fn, weights, B, K, p))
        elif weights is not None:
            raise ValueError(f"{fn}: weights given to a critic built with weighted=False")
        return self.net(torch.cat(parts, dim=-1)).squeeze(-1)


class GNNCritic(nn.Module):
    """Q(G, p) = Σ_i ρ(x_i^L): the student's message passing with p_i/p_max as a third node
    feature and a per-node readout summed over users (permutation invariant, any K)."""

    def __init__(self, hidden: int = 64, layers: int = 2, aggregation: str = "max", p_max: float = 1.0,
                 inputs: str = "log"):
        super().__init__()
        fn = "pyalgo.wireless.GNNCritic"
        _check_int(fn, "hidden", hidden)
        _check_int(fn, "layers", layers)
        _check_choice(fn, "aggregation", aggregation, AGGREGATIONS)
        self.p_max = _check_student_args(fn, p_max, inputs)
        self.encoder = _GraphEncoder(1, hidden, layers, aggregation, inputs)
        self.readout = nn.Linear(hidden, 1)

    def forward(self, G: torch.Tensor, p: torch.Tensor, weights: Weights = None,
                adjacency: Optional[torch.Tensor] = None) -> torch.Tensor:
        """G (B, K, K), p (B, K) -> Q (B,)."""
        fn = "pyalgo.wireless.GNNCritic"
        _check_gains(fn, "G", G)
        x = self.encoder(G, weights, adjacency, (p / self.p_max,), fn)[-1]
        return self.readout(x).squeeze(-1).sum(-1)


def default_critic(student: nn.Module) -> nn.Module:
    """The critic `train_student` builds for the RL modes: `MLPCritic` (same K, p_max, inputs,
    weighting) for an `MLPStudent`, a 2-layer `GNNCritic` of the same width for a `GNNStudent`."""
    if isinstance(student, MLPStudent):
        return MLPCritic(student.K, p_max=student.p_max, inputs=student.inputs, weighted=student.weighted)
    if isinstance(student, GNNStudent):
        return GNNCritic(student.hidden, layers=2, p_max=student.p_max, inputs=student.inputs)
    raise TypeError("pyalgo.wireless.default_critic: no default critic for "
                    f"{type(student).__name__}; pass critic=")


# ---- β schedules (spec §7; t = optimiser step 0..T−1, T = total steps) ----------------------------

def beta_fixed(beta0: float, t: int, T: int) -> float:
    """β_t = β₀."""
    return beta0


def beta_increasing(beta0: float, t: int, T: int) -> float:
    """β_t = β₀·t/T (0 at the first step)."""
    return beta0 * t / T


def beta_decreasing(beta0: float, t: int, T: int) -> float:
    """β_t = β₀·(1 − t/T) (β₀ at the first step; the paper's best)."""
    return beta0 * (1 - t / T)


BETA_SCHEDULES: Dict[str, Callable[[float, int, int], float]] = {
    "fixed": beta_fixed, "increasing": beta_increasing, "decreasing": beta_decreasing,
}


def beta_at(schedule: str, beta0: float, t: int, T: int) -> float:
    """β_t of `schedule` ("fixed" | "increasing" | "decreasing") at step t of T."""
    fn = "pyalgo.wireless.beta_at"
    _check_choice(fn, "schedule", schedule, tuple(BETA_SCHEDULES))
    beta0 = _check_positive(fn, "beta0", beta0, allow_zero=True)
    T = _check_int(fn, "T", T)
    if not 0 <= _check_int(fn, "t", t, minimum=0) < T:
        raise ValueError(f"{fn}: t must be in [0, T) = [0, {T}), got {t}")
    return BETA_SCHEDULES[schedule](beta0, t, T)


# ---- distributed helpers -------------------------------------------------------------------------

def _distributed(device: torch.device) -> Tuple[int, int]:
    """(rank, world size). Under torchrun (WORLD_SIZE > 1 in the environment) the default process
    group is initialised here if the caller has not (gloo on CPU, nccl on CUDA)."""
    if not dist.is_available():
        return 0, 1
    if not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if not dist.is_initialized():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def _broadcast_from_rank0(obj, world: int):
    if world == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _gather(obj, world: int) -> list:
    if world == 1:
        return [obj]
    out = [None] * world
    dist.all_gather_object(out, obj)
    return out


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _atomic_save(obj, path: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(obj, tmp)
    os.replace(tmp, path)


# ---- teacher labels -------------------------------------------------------------------------------

class TeacherLabels(NamedTuple):
    """WMMSE teacher output for N instances: p (N, K); u, w (N, K) the state at p; iterations (N,)
    int32; trajectory (N, max_iter + 1, K) p⁰, p¹, ... (final p repeated after the stop) or None."""
    p: torch.Tensor
    u: torch.Tensor
    w: torch.Tensor
    iterations: torch.Tensor
    trajectory: Optional[torch.Tensor]


def _take(labels: TeacherLabels, index) -> TeacherLabels:
    return TeacherLabels(*(None if x is None else x[index] for x in labels))


def _concat(parts: Sequence[TeacherLabels]) -> TeacherLabels:
    return TeacherLabels(*(None if xs[0] is None else torch.cat(xs) for xs in zip(*parts)))


def _rows(weights: Weights, index) -> Weights:
    """Per-instance weights (N, K) follow the instances; None and (K,) are shared."""
    return weights[index] if isinstance(weights, torch.Tensor) and weights.dim() == 2 else weights


def _run_teacher(G: torch.Tensor, p_max: float, noise: float, weights: Weights, max_iter: int, tol: float,
                 trajectory: bool) -> TeacherLabels:
    r = wmmse(G, p_max=p_max, noise=noise, weights=weights, max_iter=max_iter, tol=tol,
              return_state=True, return_trajectory=trajectory)
    return TeacherLabels(r.p, r.u, r.w, r.iterations, r.trajectory if trajectory else None)


def _fingerprint(channels: torch.Tensor, weights: Weights, settings: dict) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for t in (channels, weights):
        if t is not None:
            t = t.detach().cpu().contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.numpy().tobytes())
    return h.hexdigest()


def _cache_status(cache_path: str, fingerprint: str, n_chunks: int) -> Union[str, List[int]]:
    """On rank 0: creates/validates the cache folder; returns the chunks still to compute, or an
    error message."""
    os.makedirs(cache_path, exist_ok=True)
    meta_path = os.path.join(cache_path, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as fh:
            if json.load(fh).get("fingerprint") != fingerprint:
                return (f"cache_path {cache_path!r} holds labels for other channels or settings; "
                        "remove it or choose another cache_path")
    else:
        tmp = f"{meta_path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"fingerprint": fingerprint, "chunks": n_chunks}, fh)
        os.replace(tmp, meta_path)
    return [c for c in range(n_chunks) if not os.path.exists(_chunk_file(cache_path, c))]


def _chunk_file(cache_path: str, c: int) -> str:
    return os.path.join(cache_path, f"chunk_{c:06d}.pt")


def teacher_labels(channels: torch.Tensor, *, p_max: float = 1.0, noise: float = 1.0, weights: Weights = None,
                   max_iter: int = TEACHER_MAX_ITER, tol: float = TEACHER_TOL, trajectory: bool = False,
                   chunk: int = 4096, cache_path: Optional[str] = None, progress: bool = True) -> TeacherLabels:
    """WMMSE teacher labels (spec §7: 100 iterations, ε = 1e-3, p⁰ = p_max) for channels (N, K, K).

    Runs `wmmse` over chunks of `chunk` instances with a progress bar. With `cache_path` (a folder)
    every finished chunk is written there at once (atomically), and a later call with the same
    channels and settings loads the finished chunks and computes only the missing ones, so an
    interrupted run loses at most the chunks in flight. A folder made for other channels/settings
    is refused. Under torch.distributed the missing chunks are shared round-robin by rank and
    gathered, so every rank returns the full labels; only rank 0 writes (the folder must be visible
    to all ranks). `trajectory=True` also keeps every iterate: N·(max_iter + 1)·K values.
    """
    fn = "pyalgo.wireless.teacher_labels"
    _check_gains(fn, "channels", channels)
    _check_gain_values(fn, "channels", channels)
    N, K = channels.shape[0], channels.shape[-1]
    p_max = _check_positive(fn, "p_max", p_max)
    noise = _check_positive(fn, "noise", noise)
    max_iter = _check_int(fn, "max_iter", max_iter)
    tol = _check_positive(fn, "tol", tol, allow_zero=True)
    chunk = _check_int(fn, "chunk", chunk)
    if N == 0:
        raise ValueError(f"{fn}: channels must hold at least one instance, got shape {tuple(channels.shape)}")
    _check_dataset_weights(fn, weights, N, K)
    rank, world = _distributed(channels.device)
    n_chunks = _ceil_div(N, chunk)

    if cache_path is None:
        missing: List[int] = list(range(n_chunks))
    else:
        settings = dict(p_max=p_max, noise=noise, max_iter=max_iter, tol=tol, trajectory=bool(trajectory),
                        chunk=chunk)
        fingerprint = _fingerprint(channels, weights, settings)
        status = _cache_status(cache_path, fingerprint, n_chunks) if rank == 0 else None
        status = _broadcast_from_rank0(status, world)
        if isinstance(status, str):
            raise ValueError(f"{fn}: {status}")
        missing = status

    parts: Dict[int, TeacherLabels] = {}
    with tqdm(total=n_chunks, initial=n_chunks - len(missing), desc="WMMSE labels", unit="chunk",
              disable=not progress or rank != 0, dynamic_ncols=True, leave=False) as bar:
        for start in range(0, len(missing), world):
            todo = missing[start:start + world]
            mine = None
            if rank < len(todo):
                sl = slice(todo[rank] * chunk, min(N, (todo[rank] + 1) * chunk))
                mine = _run_teacher(channels[sl], p_max, noise, _rows(weights, sl), max_iter, tol, trajectory)
            for c, part in zip(todo, _gather(mine, world)):
                parts[c] = part
                if cache_path is not None and rank == 0:
                    _atomic_save(part._asdict(), _chunk_file(cache_path, c))
            bar.update(len(todo))
    for c in range(n_chunks):
        if c not in parts:
            parts[c] = TeacherLabels(**torch.load(_chunk_file(cache_path, c), weights_only=True))
    return _concat([parts[c] for c in range(n_chunks)])


# ---- losses ---------------------------------------------------------------------------------------

def assist_loss(out: StudentOutput, teacher: TeacherLabels, G: torch.Tensor, p_max: float,
                assist: str = "final") -> torch.Tensor:
    """The assistance term A (a scalar), a sum of equally weighted parts chosen by `assist`:

    final       mean_b Σ_k (p_k − p_T,k)² / p_max²                      (spec §7, the paper's ℓ_AD)
    state       mean_b Σ_k [(û_k − u_k√G_kk)² + (ℓ̂_k − log2 w_k)²]  (the WMMSE state at p_T;
                u√G_kk = S/T ∈ [0, 1) and log2 w = user k's rate, both dimensionless)
    trajectory  mean_s mean_b Σ_k (p⁽ˢ⁾_k − p_T^(t_bs),k)² / p_max²  for the S intermediate
                estimates, t_bs = ⌈s·n_b/(S + 1)⌉ with n_b the teacher's iteration count: the
                student's stages are spread evenly along the teacher's own path to convergence.
    """
    loss = ((out.p - teacher.p) ** 2).sum(-1).mean() / p_max ** 2
    if "state" in assist:
        u_scaled = teacher.u * G.diagonal(dim1=-2, dim2=-1).sqrt()
        target = torch.stack([u_scaled, torch.log2(teacher.w)], dim=-1)
        loss = loss + ((out.state - target) ** 2).sum((-1, -2)).mean()
    if "trajectory" in assist:
        B, S, K = out.iterates.shape
        stages = torch.arange(1, S + 1, device=out.p.device)
        n = teacher.iterations.to(out.p.device, torch.long).unsqueeze(-1)
        index = (n * stages + S) // (S + 1)                                    # ⌈s·n/(S + 1)⌉
        target = teacher.trajectory.gather(1, index.unsqueeze(-1).expand(B, S, K))
        loss = loss + ((out.iterates - target) ** 2).sum(-1).mean() / p_max ** 2
    return loss


# ---- evaluation -------------------------------------------------------------------------------------

def _unpack_channels(fn: str, name: str, channels) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """A gains tensor, or an object with `.gains` and optionally `.adjacency` (e.g. D2DChannels)."""
    if hasattr(channels, "gains"):
        return _check_gains(fn, name, channels.gains), getattr(channels, "adjacency", None)
    return _check_gains(fn, name, channels), None


def _student_kwargs(weights: Weights, adjacency: Optional[torch.Tensor]) -> dict:
    """Only what there is: an MLPStudent without weights takes neither argument."""
    kwargs = {}
    if weights is not None:
        kwargs["weights"] = weights
    if adjacency is not None:
        kwargs["adjacency"] = adjacency
    return kwargs


def _param_like(module: nn.Module) -> torch.Tensor:
    return next(module.parameters())


@torch.no_grad()
def evaluate_student(student: nn.Module, channels, *, noise: float = 1.0, weights: Weights = None,
                     teacher_p: Optional[torch.Tensor] = None, binarize: bool = False,
                     batch_size: int = 4096) -> Dict[str, float]:
    """Mean weighted sum rate (bits/s/Hz) of the student on channels (N, K, K) (or an object with
    `.gains`/`.adjacency`) and, given the teacher's powers (N, K), the teacher's and the student's
    percentage of it as a ratio of totals (Sun et al.'s protocol). `binarize` rounds p to
    {0, p_max} at p_max/2 (Sun et al.'s test-time rule)."""
    fn = "pyalgo.wireless.evaluate_student"
    G_all, adjacency = _unpack_channels(fn, "channels", channels)
    N, K = G_all.shape[0], G_all.shape[-1]
    _check_dataset_weights(fn, weights, N, K)
    like = _param_like(student)
    was_training = student.training
    student.eval()
    total = teacher_total = 0.0
    for sl in (slice(i, i + batch_size) for i in range(0, N, batch_size)):
        G = G_all[sl].to(like.device, like.dtype)
        w = None if weights is None else _rows(weights, sl).to(like.device, like.dtype)
        adj = None if adjacency is None else adjacency[sl].to(like.device)
        p = student(G, **_student_kwargs(w, adj))
        if binarize:
            p = torch.where(p >= student.p_max / 2, torch.full_like(p, student.p_max), torch.zeros_like(p))
        total += float(sum_rate(G, p, noise=noise, weights=w).sum())
        if teacher_p is not None:
            teacher_total += float(sum_rate(G, teacher_p[sl].to(G), noise=noise, weights=w).sum())
    student.train(was_training)
    result = {"sum_rate": total / N}
    if teacher_p is not None:
        result["teacher_sum_rate"] = teacher_total / N
        result["pct_teacher"] = 100.0 * total / teacher_total
    return result


# ---- training ---------------------------------------------------------------------------------------

class _Batch(NamedTuple):
    G: torch.Tensor
    weights: Weights
    adjacency: Optional[torch.Tensor]
    teacher: Optional[TeacherLabels]

    def to(self, device: torch.device, dtype: torch.dtype) -> "_Batch":
        def move(x):
            if x is None:
                return None
            return x.to(device, dtype) if x.is_floating_point() else x.to(device)
        teacher = None if self.teacher is None else TeacherLabels(*map(move, self.teacher))
        return _Batch(move(self.G), move(self.weights), move(self.adjacency), teacher)


class _TrainingData:
    """One rank's training batches: a dataset reshuffled every epoch and sharded by rank like
    DistributedSampler (padded by wrapping, so every rank takes the same number of steps), or a
    sampler drawing fresh channels for every step from the rank's generator, the teacher run on each."""

    def __init__(self, fn: str, channels, *, steps_per_epoch: Optional[int], weights: Weights, teacher,
                 label_cache: Optional[str], assist: Optional[str], p_max: float, noise: float,
                 batch_size: int, rank: int, world: int, progress: bool):
        self.weights, self.batch_size, self.rank, self.world = weights, batch_size, rank, world
        self.assist, self.p_max, self.noise = assist, p_max, noise
        trajectory = assist is not None and "trajectory" in assist
        self.sampler = channels if callable(channels) and not isinstance(channels, torch.Tensor) else None
        if self.sampler is not None:
            if steps_per_epoch is None:
                raise ValueError(f"{fn}: a channel sampler needs steps_per_epoch")
            self.steps = _check_int(fn, "steps_per_epoch", steps_per_epoch)
            if teacher is not None or label_cache is not None:
                raise ValueError(f"{fn}: teacher/label_cache apply to a channel dataset; with a sampler "
                                 "the teacher runs on every minibatch")
            if weights is not None and (not isinstance(weights, torch.Tensor) or weights.dim() != 1):
                raise ValueError(f"{fn}: with a sampler, weights must be None or shared (K,)")
            return
        if steps_per_epoch is not None:
            raise ValueError(f"{fn}: steps_per_epoch applies to a channel sampler; a dataset's epoch "
                             "is one pass over it")
        self.gains, self.adjacency = _unpack_channels(fn, "channels", channels)
        N, K = self.gains.shape[0], self.gains.shape[-1]
        if N == 0:
            raise ValueError(f"{fn}: channels must hold at least one instance")
        _check_gain_values(fn, "channels", self.gains)
        _check_dataset_weights(fn, weights, N, K)
        self.steps = _ceil_div(_ceil_div(N, world), batch_size)
        self.labels = None if assist is None else _dataset_labels(
            fn, teacher, label_cache, self.gains, p_max, noise, weights, trajectory, assist, progress)

    def epoch(self, data_gen: torch.Generator, rank_gen: torch.Generator) -> Iterator[_Batch]:
        if self.sampler is not None:
            for _ in range(self.steps):
                G, adjacency = _unpack_channels("pyalgo.wireless.train_student", "the sampler's output",
                                                self.sampler(self.batch_size, rank_gen))
                teacher = None if self.assist is None else _run_teacher(
                    G, self.p_max, self.noise, self.weights, TEACHER_MAX_ITER, TEACHER_TOL,
                    "trajectory" in self.assist)
                yield _Batch(G, self.weights, adjacency, teacher)
            return
        N = self.gains.shape[0]
        padded = _ceil_div(N, self.world) * self.world
        perm = torch.randperm(N, generator=data_gen)
        perm = perm.repeat(_ceil_div(padded, N))[:padded]
        for index in perm[self.rank::self.world].split(self.batch_size):
            yield _Batch(self.gains[index], _rows(self.weights, index),
                         None if self.adjacency is None else self.adjacency[index],
                         None if self.labels is None else _take(self.labels, index))


def _make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)                    # the paper's optimiser
    return torch.optim.RMSprop(params, lr=lr, alpha=0.9)         # Sun et al.: RMSProp, decay 0.9


def _rank_seed(seed: int, rank: int) -> int:
    """Seed of a rank's own stream (exploration noise, sampled channels), distinct per rank."""
    return (seed * 1_000_003 + rank + 1) % 2 ** 63


def _aux_needs(student: nn.Module, assist: Optional[str]) -> Tuple[bool, bool]:
    """(the loss needs the student's auxiliary outputs, the student has weights the loss leaves
    unused, which DistributedDataParallel must be told about)."""
    uses_state = assist is not None and "state" in assist
    uses_trajectory = assist is not None and "trajectory" in assist
    has_state = getattr(student, "state_head", None) is not None
    has_trajectory = isinstance(getattr(student, "trajectory_heads", None), nn.Module)  # GNN: no weights
    unused = (has_state and not uses_state) or (has_trajectory and not uses_trajectory)
    return uses_state or uses_trajectory, unused


def _critic_step_and_actor_loss(critic: nn.Module, critic_model: nn.Module, critic_opt: torch.optim.Optimizer,
                                b: _Batch, p: torch.Tensor, *, p_max: float, noise: float, explore_std: float,
                                generator: torch.Generator) -> Tuple[torch.Tensor, float]:
    """One DDPG-style step (spec §7): the critic takes an optimiser step on (Q(G, a) − R(G, a))² for
    explored actions a = clip(p + N(0, (explore_std·p_max)²), 0, p_max); returns the actor loss
    −mean Q(G, p) through the updated critic with its weights held fixed, and the critic loss."""
    kwargs = _student_kwargs(b.weights, b.adjacency)
    with torch.no_grad():
        draw = torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
        action = (p + explore_std * p_max * draw).clamp(0, p_max)
        reward = sum_rate(b.G, action, noise=noise, weights=b.weights)
    critic_loss = F.mse_loss(critic_model(b.G, action, **kwargs), reward)
    critic_opt.zero_grad(set_to_none=True)
    critic_loss.backward()
    critic_opt.step()
    frozen = {k: v.detach() for k, v in critic.state_dict().items()}
    q = torch.func.functional_call(critic, frozen, (b.G, p), kwargs)
    return -q.mean(), float(critic_loss.detach())


def train_student(student: nn.Module, mode: str, *, channels,
                  teacher: Union[None, torch.Tensor, TeacherLabels] = None, label_cache: Optional[str] = None,
                  weights: Weights = None, noise: float = 1.0,
                  assist: Optional[str] = None, beta: float = 1.0, beta_schedule: str = "fixed",
                  epochs: int = 10, batch_size: int = 256, steps_per_epoch: Optional[int] = None,
                  lr: float = 1e-3, optimizer: str = "adam", critic: Optional[nn.Module] = None,
                  critic_lr: Optional[float] = None, explore_std: float = 0.1,
                  eval_channels=None, eval_weights: Weights = None,
                  callback: Optional[Callable[[int, Dict[str, list], nn.Module], None]] = None,
                  seed: int = 0, checkpoint: Optional[str] = None, resume: bool = False,
                  progress: bool = True) -> Dict[str, list]:
    """Trains `student` (in place) in one of `MODES` (module docstring) and returns its history.

    Data. `channels` is either a dataset, gains (N, K, K) or an object with `.gains`/`.adjacency`
    (e.g. D2DChannels), reshuffled every epoch (`batch_size` per step, the last batch smaller); or
    a sampler ``sampler(batch_size, generator) -> gains`` (or such an object) drawing fresh channels
    for each of `steps_per_epoch` steps (the online pattern; the teacher then runs per minibatch).
    `weights` α: None, (K,), or (N, K) with a dataset. The teacher for a dataset is `teacher`
    ((N, K) powers or `TeacherLabels`), else `teacher_labels(channels, cache_path=label_cache)`.
    p_max is the student's; `noise` is σ² (float). `eval_channels` (like a dataset, with
    `eval_weights`, default `weights` unless those are per instance) is scored after every epoch
    against its own teacher labels.

    Loss. `assist` (modes with a teacher only; default "final") picks the parts of `assist_loss`.
    β_t = `beta_at(beta_schedule, beta, t, T)` weighs it in the "+assist" modes; "supervised"
    uses A alone (β would only rescale the learning rate). RL, per batch: the critic (default
    `default_critic(student)`, initialised from `seed`) takes one `optimizer` step (lr
    `critic_lr`, default `lr`) on (Q(G, a) − R(G, a))² for explored actions
    a = clip(p + N(0, (explore_std·p_max)²), 0, p_max), then the student one on −Q(G, p)
    (+ β_t·A) through the updated critic, whose weights are held fixed for it.

    Reproducibility and checkpoints. Shuffling, exploration and sampled channels come from
    generators seeded by `seed`; the student's initial weights are the caller's. With `checkpoint`
    (a file) the student, optimiser(s), critic, history and generator states are saved atomically
    after every epoch; `resume=True` continues from it (or starts afresh if it does not exist) and
    ends with what an uninterrupted run gives. Settings that shape the run must match it.

    Scale-out. Under torchrun every rank calls this unchanged: the process group comes from the
    environment, the student (and critic) are wrapped in DistributedDataParallel, the dataset is
    sharded by rank each epoch like DistributedSampler (`batch_size` per rank), the labels are
    gathered onto every rank, metrics are averaged over ranks, rank 0 writes the files. (Checked
    with gloo on CPU; on GPUs put each rank's student on cuda:LOCAL_RANK and set that device.)

    Returns a dict of per-epoch lists: "epoch", "train_loss", "train_sum_rate" (the student's
    mean sum rate on its training batches), "beta" (β_t at the epoch's last step, "+assist" modes),
    "critic_loss" (RL modes), "eval_sum_rate" and "eval_pct_teacher" (with `eval_channels`),
    "seconds". `callback(epoch, history, student)` runs on every rank after each epoch.
    """
    fn = "pyalgo.wireless.train_student"
    if not isinstance(student, nn.Module) or not hasattr(student, "p_max"):
        raise TypeError(f"{fn}: student must be an nn.Module with a p_max attribute (MLPStudent, "
                        f"GNNStudent), got {type(student).__name__}")
    _check_choice(fn, "mode", mode, MODES)
    rl = mode.startswith("rl")
    if mode in _TEACHER_MODES:
        assist = _check_choice(fn, "assist", "final" if assist is None else assist, ASSISTS)
        if "state" in assist and getattr(student, "state_head", None) is None:
            raise ValueError(f"{fn}: assist {assist!r} needs a student built with state_head=True")
        if "trajectory" in assist and not getattr(student, "trajectory_heads", None):
            raise ValueError(f"{fn}: assist {assist!r} needs a student built with trajectory_heads=True")
    elif assist is not None:
        raise ValueError(f"{fn}: assist applies to the modes with a teacher ({', '.join(_TEACHER_MODES)}), "
                         f"not to mode {mode!r}")
    elif teacher is not None or label_cache is not None:
        raise ValueError(f"{fn}: mode {mode!r} uses no teacher; teacher and label_cache must be None")
    beta = _check_positive(fn, "beta", beta, allow_zero=True)
    _check_choice(fn, "beta_schedule", beta_schedule, tuple(BETA_SCHEDULES))
    epochs = _check_int(fn, "epochs", epochs)
    batch_size = _check_int(fn, "batch_size", batch_size)
    lr = _check_positive(fn, "lr", lr)
    critic_lr = lr if critic_lr is None else _check_positive(fn, "critic_lr", critic_lr)
    _check_choice(fn, "optimizer", optimizer, OPTIMIZERS)
    noise = _check_positive(fn, "noise", noise)
    explore_std = _check_positive(fn, "explore_std", explore_std, allow_zero=True)
    seed = _check_int(fn, "seed", seed, minimum=0)
    if resume and checkpoint is None:
        raise ValueError(f"{fn}: resume=True needs a checkpoint path")
    if critic is not None and not rl:
        raise ValueError(f"{fn}: critic applies to the RL modes only, not to mode {mode!r}")
    p_max = float(student.p_max)
    like = _param_like(student)
    device, dtype = like.device, like.dtype
    rank, world = _distributed(device)

    data = _TrainingData(fn, channels, steps_per_epoch=steps_per_epoch, weights=weights, teacher=teacher,
                         label_cache=label_cache, assist=assist, p_max=p_max, noise=noise,
                         batch_size=batch_size, rank=rank, world=world, progress=progress)
    total_steps = epochs * data.steps
    if eval_channels is not None:
        eval_gains, _ = _unpack_channels(fn, "eval_channels", eval_channels)
        if eval_weights is None and isinstance(weights, torch.Tensor) and weights.dim() == 2:
            raise ValueError(f"{fn}: per-instance weights need eval_weights for eval_channels")
        eval_weights = weights if eval_weights is None else eval_weights
        eval_teacher = teacher_labels(eval_gains, p_max=p_max, noise=noise, weights=eval_weights,
                                      progress=progress).p

    # -- models, optimisers, history, checkpoint ----------------------------------------------------
    needs_aux, unused_heads = _aux_needs(student, assist)
    if rl and critic is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            critic = default_critic(student).to(device, dtype)
    opt = _make_optimizer(optimizer, student.parameters(), lr)
    critic_opt = _make_optimizer(optimizer, critic.parameters(), critic_lr) if rl else None
    data_gen = torch.Generator().manual_seed(seed)          # the same on every rank: the shuffling
    rank_gen = torch.Generator().manual_seed(_rank_seed(seed, rank))
    config = dict(mode=mode, assist=assist, beta=beta, beta_schedule=beta_schedule, epochs=epochs,
                  batch_size=batch_size, steps=data.steps, lr=lr, critic_lr=critic_lr, optimizer=optimizer,
                  noise=noise, explore_std=explore_std, seed=seed, world=world,
                  eval=eval_channels is not None)
    keys = ["epoch", "train_loss", "train_sum_rate", "seconds"]
    keys += ["beta"] if mode.endswith("+assist") else []
    keys += ["critic_loss"] if rl else []
    keys += ["eval_sum_rate", "eval_pct_teacher"] if eval_channels is not None else []
    history: Dict[str, list] = {k: [] for k in keys}
    start_epoch = 0
    if resume and os.path.exists(checkpoint):
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        saved = state["config"]
        changed = ", ".join(f"{k}={saved.get(k)!r} (now {v!r})" for k, v in config.items()
                            if saved.get(k) != v)
        if changed:
            raise ValueError(f"{fn}: checkpoint {checkpoint!r} was made with other settings: {changed}")
        student.load_state_dict(state["student"])
        opt.load_state_dict(state["optimizer"])
        if rl:
            critic.load_state_dict(state["critic"])
            critic_opt.load_state_dict(state["critic_optimizer"])
        data_gen.set_state(state["data_rng"])
        rank_gen.set_state(state["rank_rng"][rank])
        history, start_epoch = state["history"], state["epoch"]

    model, critic_model = student, critic
    if world > 1:
        model = DistributedDataParallel(student, find_unused_parameters=unused_heads)
        if rl:
            critic_model = DistributedDataParallel(critic)

    # -- loop -----------------------------------------------------------------------------------------
    bar = tqdm(total=total_steps, initial=start_epoch * data.steps, desc=f"train {mode}", unit="step",
               disable=not progress or rank != 0, dynamic_ncols=True, leave=False)
    for epoch in range(start_epoch, epochs):
        started = time.perf_counter()
        model.train()
        sums = torch.zeros(4, dtype=torch.float64)       # Σ_b loss, Σ_b sum rate, Σ_b critic loss, B
        for step, b in enumerate(data.epoch(data_gen, rank_gen)):
            b = b.to(device, dtype)
            beta_t = beta_at(beta_schedule, beta, epoch * data.steps + step, total_steps)
            kwargs = _student_kwargs(b.weights, b.adjacency)
            if needs_aux:
                out = model(b.G, **kwargs, return_aux=True)
            else:
                out = StudentOutput(model(b.G, **kwargs), None, None)
            teacher_term = 0.0 if assist is None else assist_loss(out, b.teacher, b.G, p_max, assist)
            critic_loss = 0.0
            if mode.startswith("unsupervised"):
                rate = sum_rate(b.G, out.p, noise=noise, weights=b.weights)
                loss = -rate.mean() + beta_t * teacher_term
            else:
                with torch.no_grad():
                    rate = sum_rate(b.G, out.p, noise=noise, weights=b.weights)
                if mode == "supervised":
                    loss = teacher_term
                else:
                    loss, critic_loss = _critic_step_and_actor_loss(
                        critic, critic_model, critic_opt, b, out.p, p_max=p_max, noise=noise,
                        explore_std=explore_std, generator=rank_gen)
                    loss = loss + beta_t * teacher_term
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            B = b.G.shape[0]
            sums += torch.tensor([float(loss.detach()) * B, float(rate.detach().sum()), critic_loss * B, B],
                                 dtype=torch.float64)
            bar.update(1)
        if world > 1:
            dist.all_reduce(sums)
        history["epoch"].append(epoch + 1)
        history["train_loss"].append(float(sums[0] / sums[3]))
        history["train_sum_rate"].append(float(sums[1] / sums[3]))
        if "beta" in history:
            history["beta"].append(beta_t)
        if rl:
            history["critic_loss"].append(float(sums[2] / sums[3]))
        postfix = {"loss": f"{history['train_loss'][-1]:.4g}"}
        if eval_channels is not None:
            result = evaluate_student(student, eval_channels, noise=noise, weights=eval_weights,
                                      teacher_p=eval_teacher)
            history["eval_sum_rate"].append(result["sum_rate"])
            history["eval_pct_teacher"].append(result["pct_teacher"])
            postfix["eval"] = f"{result['pct_teacher']:.1f}%"
        history["seconds"].append(time.perf_counter() - started)
        bar.set_postfix(postfix)
        if checkpoint is not None:
            rank_states = _gather(rank_gen.get_state(), world)
            if rank == 0:
                state = dict(config=config, epoch=epoch + 1, history=history, student=student.state_dict(),
                             optimizer=opt.state_dict(), data_rng=data_gen.get_state(), rank_rng=rank_states)
                if rl:
                    state.update(critic=critic.state_dict(), critic_optimizer=critic_opt.state_dict())
                _atomic_save(state, checkpoint)
        if callback is not None:
            callback(epoch + 1, history, student)
    bar.close()
    return history


def _dataset_labels(fn: str, teacher, label_cache: Optional[str], gains: torch.Tensor, p_max: float,
                    noise: float, weights: Weights, trajectory: bool, assist: str,
                    progress: bool) -> TeacherLabels:
    """The teacher labels of a dataset: given (powers or TeacherLabels) or computed/cached."""
    N, K = gains.shape[0], gains.shape[-1]
    if teacher is None:
        return teacher_labels(gains, p_max=p_max, noise=noise, weights=weights, trajectory=trajectory,
                              cache_path=label_cache, progress=progress)
    if label_cache is not None:
        raise ValueError(f"{fn}: give either teacher or label_cache, not both")
    if isinstance(teacher, torch.Tensor):
        teacher = TeacherLabels(teacher, None, None, None, None)
    if not isinstance(teacher, TeacherLabels) or teacher.p.shape != (N, K):
        got = tuple(teacher.p.shape) if isinstance(teacher, TeacherLabels) else type(teacher).__name__
        raise ValueError(f"{fn}: teacher must be None, TeacherLabels or powers of shape (N, K) = ({N}, {K}), "
                         f"got {got}")
    if ("state" in assist and teacher.u is None) or (trajectory and teacher.trajectory is None):
        raise ValueError(f"{fn}: assist {assist!r} needs the teacher's state/trajectory: pass "
                         "teacher_labels(..., trajectory=True) or teacher=None")
    return teacher
