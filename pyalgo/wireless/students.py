"""Neural power-control students and their critics, the models that algorithm distillation trains
(Ma et al., arXiv:2308.07511; the trainer is `pyalgo.lab.wireless.train_student`).

Students map gains G (B, K, K) (G[b, i, j] = gain from transmitter j to receiver i) and optional
user weights α (B, K) to powers p ∈ [0, p_max]^K:

- `MLPStudent`: Sun et al.'s DNN, K² → 200 → 80 → 80 → K (ReLU, LayerNorm before each ReLU by
  default: without it the sum-rate objective collapses the student onto max power), output
  p_max·sigmoid.
- `GNNStudent`: permutation-equivariant message passing over the interference graph (the AD
  paper's eqs. 6–7): m_i = max/sum/mean_{j ∈ N(i)} φ(x_j, G_ij, G_ji), x_i ← ψ(x_i, m_i), shared
  by all nodes, x_i⁰ = (G_ii, α_i); works for any K.
- `UnrolledWMMSEStudent`: L WMMSE iterations from full power whose MSE weights a small per-user MLP
  rescales at each layer; starts exactly at L WMMSE iterations; works for any K.

Critics Q(G, p) ≈ weighted sum rate (`MLPCritic`, `GNNCritic`) serve the RL modes;
`default_critic(student)` builds the one that matches a student.
"""
from __future__ import annotations

from typing import List, Literal, NamedTuple, Optional, Sequence, Union, overload

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (MAX_SIZE, Weights, allocating, check_choice, check_gains, check_int, check_positive,
                      check_powers, expand_weights)

__all__ = ["MLPStudent", "GNNStudent", "UnrolledWMMSEStudent", "MLPCritic", "GNNCritic", "StudentOutput", "default_critic",
           "INPUTS", "AGGREGATIONS", "NORMS"]

INPUTS = ("gain", "amplitude", "log")
AGGREGATIONS = ("max", "sum", "mean")
NORMS = ("layer", "batch", "none")
Inputs = Literal["gain", "amplitude", "log"]
Aggregation = Literal["max", "sum", "mean"]
Norm = Literal["layer", "batch", "none"]


# ---- students -----------------------------------------------------------------------------------

class StudentOutput(NamedTuple):
    """What a student returns with ``return_aux=True``.

    p (B, K) powers; state (B, K, 2) the predicted WMMSE state at the teacher's solution,
    (u_k·√G_kk ∈ [0, 1), log2 w_k ≥ 0), or None without a state head; iterates (B, S, K) the S
    intermediate power estimates in [0, p_max], or None without trajectory heads."""
    p: torch.Tensor
    state: Optional[torch.Tensor]
    iterates: Optional[torch.Tensor]


def _features(G: torch.Tensor, inputs: Inputs) -> torch.Tensor:
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


def _norm_layer(norm: Norm, width: int) -> Optional[nn.Module]:
    if norm == "layer":
        return nn.LayerNorm(width)
    if norm == "batch":
        return nn.BatchNorm1d(width)
    return None


_LN_RANGE = 1e9      # LayerNorm's fp32 variance overflows for activations beyond ~1e19


def _normalise(norm: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """norm(h), with rows whose activations exceed 1e9 scaled down first (a constant, detached):
    LayerNorm is scale-invariant there (the variance dwarfs its ε) and its fp32 variance would
    overflow for activations beyond ~1e19 (gains of 1e30 with ``inputs="gain"``)."""
    if isinstance(norm, nn.LayerNorm):
        h = h / (h.detach().abs().amax(-1, keepdim=True).clamp_min(_LN_RANGE) / _LN_RANGE)
    return norm(h)


def _state_from_raw(raw: torch.Tensor) -> torch.Tensor:
    """Raw head output (..., 2) -> (u·√G_kk = sigmoid, log2 w = softplus)."""
    return torch.stack([torch.sigmoid(raw[..., 0]), F.softplus(raw[..., 1])], dim=-1)


def _check_student_args(fn: str, p_max: float, inputs: Inputs) -> float:
    check_choice(fn, "inputs", inputs, INPUTS)
    return check_positive(fn, "p_max", p_max)


class MLPStudent(nn.Module):
    """Sun et al.'s DNN (TSP 2018, `function_dnn_powercontrol.py`): flattened gains → `hidden`
    (ReLU) → K, with p = p_max·sigmoid(·) (the AD paper) instead of their relu6(x)/6.

    ``norm`` normalises each hidden layer before its ReLU: "layer" (default; LayerNorm, per
    instance, so the same at any batch size and under torchrun), "batch" (BatchNorm1d: batch
    statistics in training, running ones in eval mode; needs batches of ≥ 2 in training and is not
    synchronised across torchrun ranks) or "none" (Sun et al.'s plain DNN). Without it the
    unsupervised (sum-rate) and RL objectives collapse the student onto max power: the batch-mean
    gradient dR/dp is > 0 for every user (max power is the best input-independent policy), Adam
    moves every weight of every layer in that common direction, the un-normalised ReLU activations
    grow multiplicatively with depth (last hidden layer ×80 in 10 steps at lr 3e-3), the output
    pre-activations reach ≈ +8 before any input dependence is learnt, and the saturated sigmoid's
    gradient is exactly 0 in fp32 from then on. Normalisation pins the activation scale, so the
    common drift can only grow linearly through the output layer, and the input-dependent part
    of the policy has time to form.

    The K×K matrix is flattened column-major, as Sun et al.'s ``H.reshape(K², order='F')``, after
    the `inputs` scaling (see `_features`; default "amplitude", their |h|). With ``weighted=True``
    the K user weights are appended to the input (K² + K), else the student takes no weights.
    Optional heads for the assistance: ``state_head`` (Linear on the last hidden layer → (B, K, 2))
    and ``trajectory_heads`` (one Linear → K per hidden layer, sigmoid·p_max: S = len(hidden)
    intermediate estimates).
    """

    def __init__(self, K: int, hidden: Sequence[int] = (200, 80, 80), p_max: float = 1.0,
                 inputs: Inputs = "amplitude", weighted: bool = False, state_head: bool = False,
                 trajectory_heads: bool = False, norm: Norm = "layer"):
        super().__init__()
        fn = "pyalgo.wireless.MLPStudent"
        self.norm = check_choice(fn, "norm", norm, NORMS)
        self.K = check_int(fn, "K", K, maximum=MAX_SIZE)
        self.hidden_sizes = tuple(check_int(fn, "hidden sizes", h, maximum=MAX_SIZE) for h in hidden)
        if not self.hidden_sizes:
            raise ValueError(f"{fn}: hidden must list at least one layer size, got {tuple(hidden)}")
        self.p_max = _check_student_args(fn, p_max, inputs)
        self.inputs, self.weighted = inputs, bool(weighted)
        sizes = [K * K + (K if weighted else 0), *self.hidden_sizes]
        with allocating(fn, f"the model for K={K}, hidden={self.hidden_sizes}"):
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            self.norms = None if norm == "none" else nn.ModuleList(_norm_layer(norm, b) for b in self.hidden_sizes)
            self.out = nn.Linear(sizes[-1], K)
            self.state_head = nn.Linear(sizes[-1], 2 * K) if state_head else None
            self.trajectory_heads = (nn.ModuleList(nn.Linear(h, K) for h in self.hidden_sizes)
                                     if trajectory_heads else None)

    @overload
    def forward(self, G: torch.Tensor, weights: Weights = ..., return_aux: Literal[False] = ...) -> torch.Tensor: ...
    @overload
    def forward(self, G: torch.Tensor, weights: Weights = ..., *, return_aux: Literal[True]) -> StudentOutput: ...
    @overload
    def forward(self, G: torch.Tensor, weights: Weights, return_aux: Literal[True]) -> StudentOutput: ...
    @overload
    def forward(self, G: torch.Tensor, weights: Weights = ...,
                return_aux: bool = ...) -> Union[torch.Tensor, StudentOutput]: ...
    def forward(self, G: torch.Tensor, weights: Weights = None,
                return_aux: bool = False) -> Union[torch.Tensor, StudentOutput]:
        """G (B, K, K), weights (B, K)/(K,) or None -> p (B, K), or `StudentOutput` with return_aux."""
        fn = "pyalgo.wireless.MLPStudent"
        check_gains(fn, "G", G, self.K)
        B, K = G.shape[0], self.K
        x = _features(G, self.inputs).transpose(-1, -2).reshape(B, K * K)
        if self.weighted:
            x = torch.cat([x, expand_weights(fn, weights, B, K, x)], dim=-1)
        elif weights is not None:
            raise ValueError(f"{fn}: weights given to a student built with weighted=False; "
                             "build it with weighted=True")
        iterates = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if self.norms is not None:
                x = _normalise(self.norms[i], x)
            x = torch.relu(x)
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
    """One shared layer (the AD paper's eqs. 6–7): m_i = AGG_{j: mask[i, j]} φ(x_j, e_ij),
    x_i' = ψ(x_i, m_i); φ and ψ are 2-layer ReLU MLPs, so messages are ≥ 0 and the max over an
    empty neighbourhood is taken as 0.

    φ's first layer W[x_j; e_ij] + b is computed as (W_x x_j + b) per node plus W_e e_ij per edge:
    the same function, with the d_node-wide product done K times instead of K² times."""

    def __init__(self, d_node: int, d_edge: int, hidden: int, aggregation: Aggregation):
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

    def __init__(self, d_extra: int, hidden: int, layers: int, aggregation: Aggregation, inputs: Inputs):
        super().__init__()
        self.inputs = inputs
        dims = [2 + d_extra] + [hidden] * layers
        self.layers = nn.ModuleList(_MessagePassing(a, 2, hidden, aggregation) for a in dims[:-1])

    def forward(self, G, weights, adjacency, extra, fn) -> List[torch.Tensor]:
        """Node embeddings (B, K, hidden) after each layer."""
        B, K = G.shape[0], G.shape[-1]
        f = _features(G, self.inputs)
        nodes = [f.diagonal(dim1=-2, dim2=-1), expand_weights(fn, weights, B, K, f), *extra]
        x = torch.stack(nodes, dim=-1)
        edges = torch.stack([f, f.transpose(-1, -2)], dim=-1)
        mask = _neighbour_mask(G, adjacency, fn)
        embeddings = []
        for layer in self.layers:
            x = layer(x, edges, mask)
            embeddings.append(x)
        return embeddings


class GNNStudent(nn.Module):
    """Permutation-equivariant message-passing GNN over the interference graph (the AD paper's eqs. 6–7;
    pure torch, dense (B, K, K) layout, any K).

    x_i⁰ = (f(G_ii), α_i); layer l: m_i = AGG_{j ∈ N(i)} φ_l(x_j, f(G_ij), f(G_ji)),
    x_i = ψ_l(x_i, m_i); p_i = p_max·sigmoid(ρ(x_i^L)). N(i) = all j ≠ i, or those with
    ``adjacency[b, i, j]`` (B, K, K) bool. f is the `inputs` scaling (default "log": ln(1 + G)).
    Optional heads: ``state_head`` (Linear(hidden, 2) per node) and ``trajectory_heads`` (the
    readout ρ applied after layers 1..L−1: S = layers − 1 intermediate estimates, no extra weights).
    Trained unsupervised on Rayleigh gains (Sun's setting) it collapses onto max power like the
    un-normalised MLP unless `DistillConfig.barrier` > 0 (issue 18, K = 10: 50.2 % without; with
    barrier 3e-3, 2000 steps of 64 fresh channels: 99.2 % continuous, 100.5–100.7 % binarised, 3 seeds);
    on D2D layouts it trains without one.
    """

    def __init__(self, hidden: int = 64, layers: int = 3, aggregation: Aggregation = "max", p_max: float = 1.0,
                 inputs: Inputs = "log", state_head: bool = False, trajectory_heads: bool = False):
        super().__init__()
        fn = "pyalgo.wireless.GNNStudent"
        self.hidden = check_int(fn, "hidden", hidden, maximum=MAX_SIZE)
        check_int(fn, "layers", layers, minimum=2 if trajectory_heads else 1, maximum=MAX_SIZE)
        check_choice(fn, "aggregation", aggregation, AGGREGATIONS)
        self.p_max = _check_student_args(fn, p_max, inputs)
        self.inputs = inputs
        with allocating(fn, f"the model for hidden={hidden}, layers={layers}"):
            self.encoder = _GraphEncoder(0, hidden, layers, aggregation, inputs)
            self.readout = nn.Linear(hidden, 1)
        self.state_head = nn.Linear(hidden, 2) if state_head else None
        self.trajectory_heads = bool(trajectory_heads)

    @overload
    def forward(self, G: torch.Tensor, weights: Weights = ..., adjacency: Optional[torch.Tensor] = ...,
                return_aux: Literal[False] = ...) -> torch.Tensor: ...
    @overload
    def forward(self, G: torch.Tensor, weights: Weights = ..., adjacency: Optional[torch.Tensor] = ..., *,
                return_aux: Literal[True]) -> StudentOutput: ...
    @overload
    def forward(self, G: torch.Tensor, weights: Weights, adjacency: Optional[torch.Tensor],
                return_aux: Literal[True]) -> StudentOutput: ...
    @overload
    def forward(self, G: torch.Tensor, weights: Weights = ..., adjacency: Optional[torch.Tensor] = ...,
                return_aux: bool = ...) -> Union[torch.Tensor, StudentOutput]: ...
    def forward(self, G: torch.Tensor, weights: Weights = None, adjacency: Optional[torch.Tensor] = None,
                return_aux: bool = False) -> Union[torch.Tensor, StudentOutput]:
        """G (B, K, K), weights (B, K)/(K,) or None, adjacency (B, K, K) bool or None -> p (B, K),
        or `StudentOutput` with return_aux."""
        fn = "pyalgo.wireless.GNNStudent"
        check_gains(fn, "G", G)
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


_UNROLLED_FEATURES = 5


class UnrolledWMMSEStudent(nn.Module):
    """L unrolled WMMSE iterations with learned per-user weight modulation (in the spirit of UWMMSE,
    Chowdhury et al. 2021); permutation equivariant, any K.

    With g = G, amplitudes v = √p (v⁰ = √p_max, WMMSE's full-power start), layer l = 1..L computes
    the WMMSE state at v (Shi et al. 2011, stable form)
        S_k = g_kk v_k²,  I_k = Σ_{j≠k} g_kj v_j² + σ²,  u_k = √g_kk v_k / (S_k + I_k),  w_k = 1 + S_k/I_k,
    modulates the MSE weights  w̃_k = w_k · exp(a_k),  a_k = MLP_l(x_k)  (shared by all users), on the
    local features x_k = (ln(1 + g_kk), ln I_k, ln w_k, v_k/√p_max, ln(1 + Σ_{j≠k} g_jk v_k²)) (what user
    k receives, achieves and leaks), and takes the Jacobi v-update with w̃:
        v_k ← min(α_k w̃_k u_k √g_kk / Σ_j α_j w̃_j u_j² g_jk, √p_max) (0 when the numerator is 0),  p = v².
    Each MLP's last layer starts at zero (a = 0), so an untrained student is exactly `layers`
    iterations of `pyalgo.wireless.wmmse` from full power (tol ≤ 0); training moves it off WMMSE's
    path, e.g. past its local optimum (issue 18, Sun's Rayleigh setting: L = 10, 500 unsupervised
    steps of 256 fresh channels, cosine lr 1e-3, reached 100.7–100.8 % of the tol-1e-3 teacher and
    100.5–100.6 % of converged WMMSE at K = 10 on 3 of 3 seeds; untrained 99.2 %). With
    ``trajectory_heads`` the powers after layers 1..L−1 are the S = L − 1 intermediate estimates (no
    extra weights).
    """

    def __init__(self, layers: int = 10, hidden: int = 32, p_max: float = 1.0, noise: float = 1.0,
                 trajectory_heads: bool = False):
        super().__init__()
        fn = "pyalgo.wireless.UnrolledWMMSEStudent"
        self.layers = check_int(fn, "layers", layers, minimum=2 if trajectory_heads else 1, maximum=MAX_SIZE)
        self.hidden = check_int(fn, "hidden", hidden, maximum=MAX_SIZE)
        self.p_max = check_positive(fn, "p_max", p_max)
        self.noise = check_positive(fn, "noise", noise)
        self.state_head = None
        self.trajectory_heads = bool(trajectory_heads)
        with allocating(fn, f"the model for layers={layers}, hidden={hidden}"):
            self.modulation = nn.ModuleList(_mlp([_UNROLLED_FEATURES, hidden, hidden, 1], final_relu=False)
                                            for _ in range(layers))
        for mlp in self.modulation:
            nn.init.zeros_(mlp[-1].weight)
            nn.init.zeros_(mlp[-1].bias)

    @overload
    def forward(self, G: torch.Tensor, weights: Weights = ..., return_aux: Literal[False] = ...) -> torch.Tensor: ...
    @overload
    def forward(self, G: torch.Tensor, weights: Weights = ..., *, return_aux: Literal[True]) -> StudentOutput: ...
    @overload
    def forward(self, G: torch.Tensor, weights: Weights, return_aux: Literal[True]) -> StudentOutput: ...
    @overload
    def forward(self, G: torch.Tensor, weights: Weights = ...,
                return_aux: bool = ...) -> Union[torch.Tensor, StudentOutput]: ...
    def forward(self, G: torch.Tensor, weights: Weights = None,
                return_aux: bool = False) -> Union[torch.Tensor, StudentOutput]:
        """G (B, K, K), weights α (B, K)/(K,) or None -> p (B, K), or `StudentOutput` with return_aux."""
        fn = "pyalgo.wireless.UnrolledWMMSEStudent"
        check_gains(fn, "G", G)
        B, K = G.shape[0], G.shape[-1]
        G = G.clamp_min(0)
        alpha = expand_weights(fn, weights, B, K, G)
        direct = G.diagonal(dim1=-2, dim2=-1)                                  # g_kk (B, K)
        h_kk, v_max = direct.sqrt(), self.p_max ** 0.5
        cross = G - torch.diag_embed(direct)                                   # g_kj, j ≠ k
        log_direct, leak_gain = torch.log1p(direct), cross.sum(-2)             # Σ_{j≠k} g_jk
        v = torch.full_like(direct, v_max)
        iterates = []
        for l, mlp in enumerate(self.modulation):
            p = v * v
            S = direct * p
            I = (cross * p.unsqueeze(-2)).sum(-1) + self.noise
            u = h_kk * v / (S + I)
            w = 1 + S / I
            x = torch.stack([log_direct, torch.log(I), torch.log(w), v / v_max, torch.log1p(leak_gain * p)], dim=-1)
            w = w * torch.exp(mlp(x).squeeze(-1))
            aw = alpha * w
            num = aw * u * h_kk
            den = ((aw * u * u).unsqueeze(-1) * G).sum(-2)                    # Σ_j α_j w̃_j u_j² g_jk
            on = num > 0                  # else v_k = 0 (v_k = 0, α_k = 0 or g_kk = 0: WMMSE's 0/0 rule)
            v = torch.where(on, num / torch.where(on, den, torch.ones_like(den)), torch.zeros_like(num))
            v = v.clamp(max=v_max)
            if self.trajectory_heads and l < self.layers - 1:
                iterates.append(torch.clamp(v * v, max=self.p_max))
        p = torch.clamp(v * v, max=self.p_max)
        if not return_aux:
            return p
        return StudentOutput(p, None, torch.stack(iterates, 1) if iterates else None)


# ---- critics (RL modes) -------------------------------------------------------------------------

class MLPCritic(nn.Module):
    """Q(G, p) ≈ weighted sum rate: MLP on (flattened f(G), p/p_max[, α]) → `hidden` (ReLU) → 1."""

    def __init__(self, K: int, hidden: Sequence[int] = (200, 80), p_max: float = 1.0,
                 inputs: Inputs = "amplitude", weighted: bool = False):
        super().__init__()
        fn = "pyalgo.wireless.MLPCritic"
        self.K = check_int(fn, "K", K, maximum=MAX_SIZE)
        self.p_max = _check_student_args(fn, p_max, inputs)
        self.inputs, self.weighted = inputs, bool(weighted)
        hidden = tuple(check_int(fn, "hidden sizes", h, maximum=MAX_SIZE) for h in hidden)
        with allocating(fn, f"the model for K={K}, hidden={hidden}"):
            self.net = _mlp([K * K + K + (K if weighted else 0), *hidden, 1], final_relu=False)

    def forward(self, G: torch.Tensor, p: torch.Tensor, weights: Weights = None) -> torch.Tensor:
        """G (B, K, K), p (B, K) -> Q (B,)."""
        fn = "pyalgo.wireless.MLPCritic"
        check_gains(fn, "G", G, self.K)
        B, K = G.shape[0], self.K
        p = check_powers(fn, p, B, K)
        parts = [_features(G, self.inputs).transpose(-1, -2).reshape(B, K * K), p / self.p_max]
        if self.weighted:
            parts.append(expand_weights(fn, weights, B, K, p))
        elif weights is not None:
            raise ValueError(f"{fn}: weights given to a critic built with weighted=False")
        return self.net(torch.cat(parts, dim=-1)).squeeze(-1)


class GNNCritic(nn.Module):
    """Q(G, p) = Σ_i ρ(x_i^L): the student's message passing with p_i/p_max as a third node
    feature and a per-node readout summed over users (permutation invariant, any K)."""

    def __init__(self, hidden: int = 64, layers: int = 2, aggregation: Aggregation = "max", p_max: float = 1.0,
                 inputs: Inputs = "log"):
        super().__init__()
        fn = "pyalgo.wireless.GNNCritic"
        check_int(fn, "hidden", hidden, maximum=MAX_SIZE)
        check_int(fn, "layers", layers, maximum=MAX_SIZE)
        check_choice(fn, "aggregation", aggregation, AGGREGATIONS)
        self.p_max = _check_student_args(fn, p_max, inputs)
        with allocating(fn, f"the model for hidden={hidden}, layers={layers}"):
            self.encoder = _GraphEncoder(1, hidden, layers, aggregation, inputs)
            self.readout = nn.Linear(hidden, 1)

    def forward(self, G: torch.Tensor, p: torch.Tensor, weights: Weights = None,
                adjacency: Optional[torch.Tensor] = None) -> torch.Tensor:
        """G (B, K, K), p (B, K) -> Q (B,)."""
        fn = "pyalgo.wireless.GNNCritic"
        check_gains(fn, "G", G)
        p = check_powers(fn, p, G.shape[0], G.shape[-1])
        x = self.encoder(G, weights, adjacency, (p / self.p_max,), fn)[-1]
        return self.readout(x).squeeze(-1).sum(-1)


def default_critic(student: nn.Module) -> nn.Module:
    """The critic `pyalgo.lab.wireless.train_student` builds for the RL modes.

    Args:
        student: an `MLPStudent`, a `GNNStudent` or an `UnrolledWMMSEStudent`.

    Returns:
        `MLPCritic` (same K, p_max, inputs, weighting) for an `MLPStudent`, a 2-layer `GNNCritic` of
        the same width for a `GNNStudent` (width 64 for an `UnrolledWMMSEStudent`).

    Raises:
        TypeError: `student` is neither.

    Example:
        critic = pyalgo.wireless.default_critic(pyalgo.wireless.MLPStudent(10))
    """
    if isinstance(student, MLPStudent):
        return MLPCritic(student.K, p_max=student.p_max, inputs=student.inputs, weighted=student.weighted)
    if isinstance(student, GNNStudent):
        return GNNCritic(student.hidden, layers=2, p_max=student.p_max, inputs=student.inputs)
    if isinstance(student, UnrolledWMMSEStudent):
        return GNNCritic(64, layers=2, p_max=student.p_max)
    raise TypeError("pyalgo.wireless.default_critic: no default critic for "
                    f"{type(student).__name__}; pass critic=")
