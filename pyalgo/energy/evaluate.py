"""Diagnostics of a trained conditional EBM: test metrics, the exact NLL where it is tractable, and
the learned τ(x) against the exact log-partition (the check that τ tracks LSE on unseen x).

Exact log-partitions: closed form (unary), enumeration (Ising k ≤ `MAX_EXACT_BITS`, permutations
n ≤ `MAX_EXACT_PERMS`), else Ryser's permanent (permutations, n ≤ 20). Log-partitions are
q-normalised: LSE(x) = log E_{y~q} e^{g(x, y)} = logsumexp_y g − log|Y|.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Dict, Iterator, Optional, Tuple

import numpy as np
import torch
from torch import nn

from . import reference as _ref
from .metrics import f1_example, f1_micro, hamming_loss, kendall_tau
from .models import BirkhoffEnergy, PairwiseEnergy, PermutahedronEnergy, TauNet, UnaryEnergy
from .predict import predict_birkhoff, predict_expected_f1, predict_pairwise, predict_permutahedron, predict_unary

__all__ = ["MAX_EXACT_BITS", "MAX_EXACT_PERMS", "DECODINGS", "unary_pairwise", "exact_nll_multilabel",
           "evaluate_multilabel",
           "evaluate_ranking", "tau_vs_lse"]

MAX_EXACT_BITS = 16     # exact Ising LSE by enumerating 2^k label vectors (a cost limit, per training batch too)
MAX_EXACT_PERMS = 8     # exact LSE by enumerating n! permutations
DECODINGS = ("mode", "nonempty", "expected_f1")   # evaluate_multilabel's label-set predictions


def _check_eval(fn: str, energy, x, y=None, kinds=(UnaryEnergy, PairwiseEnergy), size_attr="k") -> None:
    """Clear errors for the arguments of the evaluation functions (the networks would raise raw shape errors)."""
    if not isinstance(energy, kinds):
        raise TypeError(f"pyalgo.energy.{fn}: energy must be one of {', '.join(k.__name__ for k in kinds)}, got "
                        f"{type(energy).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"pyalgo.energy.{fn}: x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 2 or x.shape[1] != energy.d:
        raise ValueError(f"pyalgo.energy.{fn}: x must have shape (B, d) = (B, {energy.d}), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"pyalgo.energy.{fn}: x must be a floating tensor, got {x.dtype}")
    if x.shape[0] == 0:
        raise ValueError(f"pyalgo.energy.{fn}: x must have at least one row, got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"pyalgo.energy.{fn}: x must be finite (no NaN or inf features)")
    if y is not None:
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"pyalgo.energy.{fn}: y must be a torch.Tensor, got {type(y).__name__}")
        size = getattr(energy, size_attr)
        if tuple(y.shape) != (x.shape[0], size):
            raise ValueError(f"pyalgo.energy.{fn}: y must have shape (B, {size_attr}) = ({x.shape[0]}, {size}), "
                             f"got {tuple(y.shape)}")


def unary_pairwise(energy: nn.Module, x: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """(u, U) of a multilabel energy (UnaryEnergy gives U = None).

    Args:
        energy: a `UnaryEnergy` or `PairwiseEnergy`.
        x: (B, d) inputs.

    Returns:
        (u (B, k), U (B, k, k) or None).

    Example:
        u, U = unary_pairwise(PairwiseEnergy(20, 8), torch.randn(4, 20))
    """
    out = energy(x)
    return (out, None) if isinstance(out, torch.Tensor) else out


def _batched(fn: Callable, x: torch.Tensor, batch: int = 2048):
    outs = [fn(x[s:s + batch]) for s in range(0, x.shape[0], batch)]
    if isinstance(outs[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*outs))
    return torch.cat(outs)


@contextlib.contextmanager
def _in_eval(*modules: nn.Module) -> Iterator[None]:
    """The modules in eval mode (no dropout) for the block, their modes restored afterwards."""
    was = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, w in zip(modules, was):
            m.train(w)


@torch.no_grad()
def exact_nll_multilabel(energy: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Optional[float]:
    """Mean exact −log p(y|x) = LSE(x) − g(x, y) (q-normalised: the +k log 2 term dropped).

    Args:
        energy: a multilabel energy.
        x: (B, d) inputs.
        y: (B, k) 0/1 labels.

    Returns:
        The mean NLL, or None when the LSE is not tractable (pairwise with k > MAX_EXACT_BITS).

    Example:
        nll = exact_nll_multilabel(energy, data.x_test, data.y_test)
    """
    _check_eval("exact_nll_multilabel", energy, x, y)
    if not isinstance(energy, UnaryEnergy) and y.shape[1] > MAX_EXACT_BITS:
        return None

    def one(xb, yb):
        u, U = unary_pairwise(energy, xb)
        if U is None:
            return _ref.unary_nll(u, yb)
        return _ref.exact_lse_bits(u, U) - _ref.energy_bits(u, yb, U)

    bs = 2048 if isinstance(energy, UnaryEnergy) else max(1, 2 ** 20 // 2 ** y.shape[1])
    with _in_eval(energy):
        vals = [one(x[s:s + bs], y[s:s + bs]) for s in range(0, x.shape[0], bs)]
    return float(torch.cat(vals).mean())


@torch.no_grad()
def evaluate_multilabel(energy: nn.Module, x: torch.Tensor, y: torch.Tensor,
                        predict_steps: int = 100, decode: str = "mode") -> Dict[str, float]:
    """Test metrics: F1 example/micro (×100), Hamming loss, and the exact NLL where tractable.

    decode (`DECODINGS`): "mode" = the mode of g, a threshold (unary) or `predict_pairwise` (Ising);
    "nonempty" = the mode over the non-empty label sets (for data in which every row has a label);
    "expected_f1" = the non-empty set of the largest expected F1 under the model (`predict_expected_f1`,
    unary only).

    Args:
        energy: a multilabel energy.
        x: (B, d) inputs.
        y: (B, k) 0/1 labels.
        predict_steps: gradient steps of `predict_pairwise`.
        decode: "mode", "nonempty" or "expected_f1" (unary only).

    Returns:
        dict of floats: f1_example, f1_micro, hamming and (where tractable) nll.

    Raises:
        ValueError: an unknown `decode`, or "expected_f1" with a pairwise energy.

    Example:
        metrics = evaluate_multilabel(energy, data.x_test, data.y_test)
    """
    _check_eval("evaluate_multilabel", energy, x, y)
    if decode not in DECODINGS:
        raise ValueError(f"pyalgo.energy.evaluate_multilabel: decode must be one of {DECODINGS}, got {decode!r}")
    if decode == "expected_f1" and not isinstance(energy, UnaryEnergy):
        raise ValueError("pyalgo.energy.evaluate_multilabel: decode='expected_f1' needs a UnaryEnergy (independent "
                         f"labels), got {type(energy).__name__}")
    with _in_eval(energy):
        if isinstance(energy, UnaryEnergy):
            u = _batched(energy, x)
            pred = predict_expected_f1(u, nonempty=True) if decode == "expected_f1" else \
                predict_unary(u, nonempty=decode == "nonempty")
        else:
            u, U = _batched(energy, x)
            pred = predict_pairwise(u, U, steps=predict_steps, nonempty=decode == "nonempty")
    out = dict(f1_example=float(f1_example(y, pred)), f1_micro=float(f1_micro(y, pred)),
               hamming=float(hamming_loss(y, pred)))
    nll = exact_nll_multilabel(energy, x, y)
    if nll is not None:
        out["nll"] = nll
    return out


@torch.no_grad()
def evaluate_ranking(energy: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Dict[str, float]:
    """Test metrics: Kendall τ (×100), mean over rows.

    argsort (permutahedron) or Hungarian (Birkhoff) prediction.

    Args:
        energy: a `PermutahedronEnergy` or `BirkhoffEnergy`.
        x: (B, d) inputs.
        y: (B, n) permutations.

    Returns:
        dict of floats with kendall_tau.

    Example:
        metrics = evaluate_ranking(energy, split.x_test, split.y_test)
    """
    _check_eval("evaluate_ranking", energy, x, y, (PermutahedronEnergy, BirkhoffEnergy), "n")
    with _in_eval(energy):
        theta = _batched(energy, x)
    pred = predict_permutahedron(theta) if theta.dim() == 2 else predict_birkhoff(theta)
    return dict(kendall_tau=float(kendall_tau(y, pred)))


def _exact_lse(energy: nn.Module, params) -> torch.Tensor:
    if isinstance(energy, UnaryEnergy):
        return _ref.unary_lse(params)
    if isinstance(energy, PairwiseEnergy):
        if energy.k > MAX_EXACT_BITS:
            raise ValueError(f"pyalgo.energy.tau_vs_lse: pairwise exact LSE needs k <= {MAX_EXACT_BITS}, got {energy.k}")
        bs = max(1, 2 ** 20 // 2 ** energy.k)
        return torch.cat([_ref.exact_lse_bits(params[0][s:s + bs], params[1][s:s + bs])
                          for s in range(0, params[0].shape[0], bs)])
    n = params.shape[1]
    return _ref.exact_lse_perms(params) if n <= MAX_EXACT_PERMS else _ref.lse_perms_ryser(params)


@torch.no_grad()
def tau_vs_lse(energy: nn.Module, tau: nn.Module, x: torch.Tensor) -> Dict[str, object]:
    """The learned τ(x) against the exact log-partition LSE(x) on inputs x.

    Args:
        energy: a multilabel or ranking energy with a tractable LSE.
        tau: the τ network.
        x: (B, d) inputs.

    Returns:
        dict(tau (B,) numpy, lse (B,) numpy, mean_abs_err, bias = mean(τ − LSE), std_lse,
        corr = the correlation of τ and LSE over x, nan when either is constant).

    Raises:
        TypeError: an energy of an unknown kind.
        ValueError: the LSE is not tractable.

    Example:
        report = tau_vs_lse(energy, tau_net, data.x_test)
    """
    if not isinstance(tau, TauNet):
        raise TypeError(f"pyalgo.energy.tau_vs_lse: tau must be a TauNet (a FreeTau cannot predict unseen x), "
                        f"got {type(tau).__name__}")
    _check_eval("tau_vs_lse", energy, x, None, (UnaryEnergy, PairwiseEnergy, PermutahedronEnergy, BirkhoffEnergy))
    if next(m for m in tau.net.modules() if isinstance(m, nn.Linear)).in_features != x.shape[1]:
        raise ValueError(f"pyalgo.energy.tau_vs_lse: tau takes d = {x.shape[1]} features like energy, got a TauNet "
                         f"for a different d")
    with _in_eval(energy, tau):
        params = energy(x)
        t = tau(x)
    lse = _exact_lse(energy, params)
    t_np, l_np = t.double().cpu().numpy(), lse.double().cpu().numpy()
    corr = float(np.corrcoef(t_np, l_np)[0, 1]) if len(t_np) > 1 and l_np.std() > 0 and t_np.std() > 0 else float("nan")
    return dict(tau=t_np, lse=l_np, mean_abs_err=float(np.abs(t_np - l_np).mean()), bias=float((t_np - l_np).mean()),
                std_lse=float(l_np.std()), corr=corr)
