"""Fused min-min losses and uniform samplers (Sander et al., ICML 2025; docs/energy.md).

The loss of one example (x, y) with affinity g, log-partition estimate τ and uniform prior q:

    ℓ = τ + E_{y'~q}[f*(g(y') − τ)] − g(y),     f*(s) = e^s − 1           (kind="logistic")
                                                 f*(s) = ½[1+s]_+² − ½      (kind="sparsemax", α = 2)
                                                 ([1+(α−1)s]_+^{α/(α−1)} − 1)/α   (kind="entmax", α > 1)

with E_q replaced by the mean over `num_samples` fresh uniform samples: an unbiased estimate of the
loss and of its gradients (the loss is linear in E_q). The kernels (csrc/energy/) draw each sample
from a Philox stream, evaluate its energy and add its weight w = (f*)'(g − τ) to the gradient in
the same pass: no (B, m, k) tensor is ever formed. Minimising over τ gives τ* = log E_q e^g (the
q-normalised log-partition, = logsumexp_y g − log|Y|) for the logistic loss.

Overflow (logistic): with L = log((1/m) Σ_j e^{g_j − τ}) computed in log space, e^L is continued
linearly above L = c (c = 80 in float32, 700 in float64): the loss is τ + e^c(1 + L − c) − 1 − g(y),
finite and convex in τ with the same optimum, and ∂ℓ/∂τ = 1 − e^{min(L, c)}. Below c it is exact.

Proposal sampling (`proposal=`; docs/energy.md, "Proposal sampling"): samples from a Bernoulli proposal
σ(a) (bits) or a Plackett–Luce proposal with scores s (permutations) instead of q, each sample term weighted
by w = q/r in the same pass (logistic: ℓ = τ + (1/m) Σ_j w_j e^{g_j − τ} − 1 − g(y); α > 1:
ℓ = τ + (1/m) Σ_j w_j [f*(g_j − τ) + 1/α] − 1/α − g(y)), still unbiased for the uniform-q loss. The
proposal is a constant (no gradient) and is read in float64.

Conventions: multilabel y ∈ {0,1}^k, g = ⟨u, y⟩ + ½ yᵀUy (U used as given). A ranking y is an int64
(B, n) permutation of 0..n−1, y[i] = score position of item i (n − 1 = most preferred; from
1-based ranks, y = n − rank); permutahedron g = Σ_i θ_i (y_i + 1), Birkhoff g = Σ_i Θ[i, y_i].
Samples come from the caller's `generator` (the default generator when None): `sample_bits` /
`sample_perms` called with a generator in the same state return exactly the samples a loss call
draws, whatever the device or thread count.
"""
from __future__ import annotations

import math
import numbers
from typing import Literal, Optional, Tuple, Union, overload

import torch

from .. import _ext  # noqa: F401  (registers torch.ops.pyalgo)
from .._autograd import double_backward_wanted, reference_grads
from .._rng import draw_seed

_ops = torch.ops.pyalgo
_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
KINDS = ("logistic", "sparsemax", "entmax")
Kind = Literal["logistic", "sparsemax", "entmax"]


# ---- argument checks -------------------------------------------------------------------------

def _checking(validate: bool) -> bool:
    return validate and not torch.compiler.is_compiling()


# Limits of the kernels (csrc/energy/minmin.h): labels per example, items per permutation, samples per row.
MAX_LABELS = 4096
MAX_ITEMS = 256
MAX_SAMPLES = 1 << 31
_MAX_OUTPUT_BYTES = 1 << 40   # a sampler output beyond 1 TiB is refused before allocating


def _count(fn: str, name: str, value, minimum: int, maximum: int = (1 << 62)) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value}")
    if value > maximum:
        raise ValueError(f"{fn}: {name} must be in [{minimum}, {maximum}], got {value}")
    return int(value)


def _check_output_size(fn: str, batch: int, num_samples: int, size: int, itemsize: int) -> None:
    nbytes = batch * num_samples * size * itemsize
    if nbytes > _MAX_OUTPUT_BYTES:
        raise ValueError(f"{fn}: batch × num_samples = {batch} × {num_samples} samples of {size} entries "
                         f"({nbytes} bytes) is too large to allocate (limit {_MAX_OUTPUT_BYTES} bytes)")


def _alpha_of(fn: str, kind, alpha) -> float:
    if kind not in KINDS:
        raise ValueError(f"{fn}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "entmax":
        if alpha is None or isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) \
                or not math.isfinite(alpha) or alpha <= 1:
            raise ValueError(f"{fn}: kind='entmax' needs a finite alpha > 1, got {alpha!r}")
        return float(alpha)
    implied = 1.0 if kind == "logistic" else 2.0
    if alpha is not None and alpha != implied:
        raise ValueError(f"{fn}: kind={kind!r} means alpha = {implied:g}, got alpha={alpha!r} "
                         "(use kind='entmax' for other values)")
    return implied


def _float_tensor(fn: str, name: str, x, dims: tuple[int, ...]) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in _FLOATS:
        raise TypeError(f"{fn}: {name} must be a floating tensor (float16/bfloat16/float32/float64), got {x.dtype}")
    if x.dim() not in dims:
        raise ValueError(f"{fn}: {name} must have {' or '.join(str(d) for d in dims)} dimensions, got shape "
                         f"{tuple(x.shape)}")


def _check_tau(fn: str, tau, B: int, device) -> None:
    _float_tensor(fn, "tau", tau, (1,))
    if tau.shape[0] != B:
        raise ValueError(f"{fn}: tau must have shape (B,) = ({B},), got {tuple(tau.shape)}")
    if tau.device != device:
        raise ValueError(f"{fn}: tau must be on {device}, got {tau.device}")


def _check_finite(fn: str, **tensors) -> None:
    for name, x in tensors.items():
        if x is not None and not bool(torch.isfinite(x).all()):
            raise ValueError(f"{fn}: {name} must be finite (no NaN or inf energies)")


def _labels(fn: str, y, B: int, k: int, device) -> torch.Tensor:
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{fn}: y must be a torch.Tensor, got {type(y).__name__}")
    if tuple(y.shape) != (B, k):
        raise ValueError(f"{fn}: y must have shape (B, k) = ({B}, {k}) like unary, got {tuple(y.shape)}")
    if y.is_complex():
        raise TypeError(f"{fn}: y must hold 0/1 labels, got {y.dtype}")
    if y.device != device:
        raise ValueError(f"{fn}: y must be on {device}, got {y.device}")
    return y.detach()


def _compute_dtype(*tensors) -> torch.dtype:
    dt = tensors[0].dtype
    for t in tensors[1:]:
        if t is not None:
            dt = torch.promote_types(dt, t.dtype)
    # half precision is computed in float32 (the loss is returned in the input dtype)
    return torch.float32 if dt in (torch.float16, torch.bfloat16) else dt


def _check_proposal(fn: str, proposal, B: int, size: int, axis: str, device) -> Optional[torch.Tensor]:
    """The proposal's logits/scores (B, size), detached (no gradient flows into a proposal)."""
    if proposal is None:
        return None
    if not isinstance(proposal, torch.Tensor):
        raise TypeError(f"{fn}: proposal must be a torch.Tensor or None, got {type(proposal).__name__}")
    if proposal.dtype not in _FLOATS:
        raise TypeError(f"{fn}: proposal must be a floating tensor (float16/bfloat16/float32/float64), "
                        f"got {proposal.dtype}")
    if tuple(proposal.shape) != (B, size):
        raise ValueError(f"{fn}: proposal must have shape (B, {axis}) = ({B}, {size}), got {tuple(proposal.shape)}")
    if device is not None and proposal.device != torch.device(device):
        raise ValueError(f"{fn}: proposal must be on {device}, got {proposal.device}")
    return proposal.detach()


def _check_proposal_finite(fn: str, proposal: torch.Tensor) -> None:
    if not bool(torch.isfinite(proposal).all()):
        raise ValueError(f"{fn}: proposal must be finite (no NaN or inf logits/scores)")


def _proposal64(proposal: torch.Tensor) -> torch.Tensor:
    """The kernels read a proposal as float64 (so the samples do not depend on the loss's dtype)."""
    return proposal.to(torch.float64).contiguous()


# ---- samplers --------------------------------------------------------------------------------

def _check_generator(fn: str, generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{fn}: generator must be a torch.Generator or None, got {type(generator).__name__}")


def _sampler_device(fn: str, generator, device) -> torch.device:
    if device is not None:
        try:
            return torch.device(device)
        except (RuntimeError, TypeError) as e:
            raise ValueError(f"{fn}: device must be a torch.device or a device string, got {device!r}") from e
    return generator.device if generator is not None else torch.device("cpu")


@overload
def sample_bits(batch: int, num_samples: int, k: int, generator: Optional[torch.Generator] = ...,
                device: Union[str, torch.device, None] = ..., proposal: None = ...) -> torch.Tensor: ...


@overload
def sample_bits(batch: int, num_samples: int, k: int, generator: Optional[torch.Generator] = ...,
                device: Union[str, torch.device, None] = ..., *,
                proposal: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]: ...


@overload
def sample_bits(batch: int, num_samples: int, k: int, generator: Optional[torch.Generator] = ...,
                device: Union[str, torch.device, None] = ...,
                proposal: Optional[torch.Tensor] = ...) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    ...


def sample_bits(batch: int, num_samples: int, k: int, generator: Optional[torch.Generator] = None,
                device: Union[str, torch.device, None] = None,
                proposal: Optional[torch.Tensor] = None) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """Uniform label sets of iid fair bits (or proposal samples): the samples `minmin_loss` draws when
    called with `generator` in the same state (and the same `proposal`).

    Args:
        batch: B >= 0.
        num_samples: m >= 1 samples per example.
        k: labels >= 1.
        generator: the random source (None: the default generator of `device`).
        device: where to draw (None: the proposal's device, else the generator's, else CPU).
        proposal: (batch, k) float logits a, or None (uniform). With a proposal, bit i is drawn
            from Bernoulli(σ(a_i)) independently, and the log importance weights are returned too.

    Returns:
        Without a proposal: samples, uint8 (batch, num_samples, k) of 0/1. With a proposal: the tuple
        (samples, log_weight), samples as above and log_weight (batch, num_samples) float64
        = log q(y') − log r(y') = Σ_i softplus(a_i) − ⟨a, y'⟩ − k log 2 (a loss call uses it cast to its
        compute dtype). The samples depend on the proposal's float64 values only, not on its dtype or on
        the loss's.

    Raises:
        TypeError: `generator` is not a torch.Generator.
        ValueError: an invalid count or device, or an output too large.

    Example:
        bits = pyalgo.energy.sample_bits(4, 16, 8, generator=torch.Generator().manual_seed(0))
        bits, log_w = pyalgo.energy.sample_bits(4, 16, 8, proposal=torch.randn(4, 8))
    """
    fn = "pyalgo.energy.sample_bits"
    batch = _count(fn, "batch", batch, 0)
    num_samples = _count(fn, "num_samples", num_samples, 1, MAX_SAMPLES)
    k = _count(fn, "k", k, 1, MAX_LABELS)
    _check_output_size(fn, batch, num_samples, k, 1)
    _check_generator(fn, generator)
    if proposal is not None:
        dev = _sampler_device(fn, None, device) if device is not None else \
            (proposal.device if isinstance(proposal, torch.Tensor) else None)
        a = _check_proposal(fn, proposal, batch, k, "k", dev)
        if _checking(True):
            _check_proposal_finite(fn, a)
        return _ops.energy_sample_bits_proposal(draw_seed(generator, a.device, fn), _proposal64(a), num_samples)
    dev = _sampler_device(fn, generator, device)
    return _ops.energy_sample_bits(draw_seed(generator, dev, fn), batch, num_samples, k)


@overload
def sample_perms(batch: int, num_samples: int, n: int, generator: Optional[torch.Generator] = ...,
                 device: Union[str, torch.device, None] = ..., proposal: None = ...) -> torch.Tensor: ...


@overload
def sample_perms(batch: int, num_samples: int, n: int, generator: Optional[torch.Generator] = ...,
                 device: Union[str, torch.device, None] = ..., *,
                 proposal: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]: ...


@overload
def sample_perms(batch: int, num_samples: int, n: int, generator: Optional[torch.Generator] = ...,
                 device: Union[str, torch.device, None] = ...,
                 proposal: Optional[torch.Tensor] = ...) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    ...


def sample_perms(batch: int, num_samples: int, n: int, generator: Optional[torch.Generator] = None,
                 device: Union[str, torch.device, None] = None,
                 proposal: Optional[torch.Tensor] = None) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """Uniform permutations of 0..n−1 (Fisher–Yates), or Plackett–Luce proposal samples: the samples
    `minmin_loss_ranking` draws when called with `generator` in the same state (and the same `proposal`).

    Args:
        batch: B >= 0.
        num_samples: m >= 1 samples per example.
        n: items >= 1.
        generator: the random source (None: the default generator of `device`).
        device: where to draw (None: the proposal's device, else the generator's, else CPU).
        proposal: (batch, n) float Plackett–Luce scores s, or None (uniform). With a proposal, a sample
            is the order argsort(s + Gumbel) (descending: first = most preferred), returned in the
            position convention (y[i] = score position of item i, n − 1 = most preferred), and the log
            importance weights are returned too.

    Returns:
        Without a proposal: samples, int64 (batch, num_samples, n), each row a permutation. With a
        proposal: the tuple (samples, log_weight), samples as above and log_weight (batch, num_samples)
        float64 = log q(σ) − log r(σ) = −log n! − log r(σ).

    Raises:
        TypeError: `generator` is not a torch.Generator.
        ValueError: an invalid count or device, or an output too large.

    Example:
        perms = pyalgo.energy.sample_perms(4, 16, 5)
        perms, log_w = pyalgo.energy.sample_perms(4, 16, 5, proposal=torch.randn(4, 5))
    """
    fn = "pyalgo.energy.sample_perms"
    batch = _count(fn, "batch", batch, 0)
    num_samples = _count(fn, "num_samples", num_samples, 1, MAX_SAMPLES)
    n = _count(fn, "n", n, 1, MAX_ITEMS)
    _check_output_size(fn, batch, num_samples, n, 8)
    _check_generator(fn, generator)
    if proposal is not None:
        dev = _sampler_device(fn, None, device) if device is not None else \
            (proposal.device if isinstance(proposal, torch.Tensor) else None)
        s = _check_proposal(fn, proposal, batch, n, "n", dev)
        if _checking(True):
            _check_proposal_finite(fn, s)
        return _ops.energy_sample_perms_proposal(draw_seed(generator, s.device, fn), _proposal64(s), num_samples)
    dev = _sampler_device(fn, generator, device)
    return _ops.energy_sample_perms(draw_seed(generator, dev, fn), batch, num_samples, n)


# ---- losses ----------------------------------------------------------------------------------

def minmin_loss(unary: torch.Tensor, tau: torch.Tensor, y: torch.Tensor, num_samples: int,
                pairwise: Optional[torch.Tensor] = None, kind: Kind = "logistic", alpha: Optional[float] = None,
                generator: Optional[torch.Generator] = None, validate: bool = True,
                proposal: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Per-example min-min loss for multilabel energies g = ⟨u, y⟩ + ½ yᵀUy.

    ℓ = τ + E_{y'~q}[f*(g(y') − τ)] − g(y) with E_q estimated by `num_samples` uniform samples.
    Differentiable w.r.t. unary, pairwise and tau (fused gradient; double backward through the
    materialised reference on the same samples).

    Args:
        unary: (B, k) unary energies u.
        tau: (B,) log-partition estimates τ.
        y: (B, k) 0/1 labels (any real or bool dtype).
        num_samples: m uniform samples per example.
        pairwise: (B, k, k) pairwise energies U, or None.
        kind: the conjugate f*: "logistic", "sparsemax" or "entmax" (with `alpha`).
        alpha: the entmax α > 1 (only with ``kind="entmax"``; otherwise implied).
        generator: the random source of the samples.
        validate: check values (y binary, finite energies): a host synchronisation on CUDA.
        proposal: (B, k) float logits a of an independent-Bernoulli proposal r (y'_i ~ Bernoulli(σ(a_i))),
            or None (uniform q). A constant (no gradient flows into it). Each sample term is weighted by
            w = q/r (docs/energy.md, "Proposal sampling"), so the loss stays unbiased for the uniform-q loss:
            ℓ = τ + (1/m) Σ_j w_j f*(g_j − τ) − g(y), with the constant part kept exact.

    Returns:
        loss (B,).

    Raises:
        TypeError: wrong types or dtypes.
        ValueError: wrong shapes, devices or values.

    Example:
        u, tau = torch.randn(8, 5, requires_grad=True), torch.zeros(8, requires_grad=True)
        y = torch.randint(0, 2, (8, 5))
        pyalgo.energy.minmin_loss(u, tau, y, num_samples=32).mean().backward()
    """
    fn = "pyalgo.energy.minmin_loss"
    _float_tensor(fn, "unary", unary, (2,))
    B, k = unary.shape
    if k == 0:
        raise ValueError(f"{fn}: unary must have at least one label (k >= 1), got shape {tuple(unary.shape)}")
    _check_tau(fn, tau, B, unary.device)
    labels = _labels(fn, y, B, k, unary.device)
    if pairwise is not None:
        _float_tensor(fn, "pairwise", pairwise, (3,))
        if tuple(pairwise.shape) != (B, k, k):
            raise ValueError(f"{fn}: pairwise must have shape (B, k, k) = ({B}, {k}, {k}), got {tuple(pairwise.shape)}")
        if pairwise.device != unary.device:
            raise ValueError(f"{fn}: pairwise must be on {unary.device}, got {pairwise.device}")
    m = _count(fn, "num_samples", num_samples, 1, MAX_SAMPLES)
    a = _alpha_of(fn, kind, alpha)
    _check_generator(fn, generator)
    if not isinstance(validate, bool):
        raise TypeError(f"{fn}: validate must be a bool, got {type(validate).__name__}")
    prop = _check_proposal(fn, proposal, B, k, "k", unary.device)
    if _checking(validate):
        if not bool(((labels == 0) | (labels == 1)).all()):
            raise ValueError(f"{fn}: y must be binary (every entry 0 or 1)")
        _check_finite(fn, unary=unary.detach(), pairwise=None if pairwise is None else pairwise.detach(),
                      tau=tau.detach())
        if prop is not None:
            _check_proposal_finite(fn, prop)
    out_dtype = torch.promote_types(unary.dtype, tau.dtype) if pairwise is None else \
        torch.promote_types(torch.promote_types(unary.dtype, tau.dtype), pairwise.dtype)
    dt = _compute_dtype(unary, tau, pairwise)
    grad = torch.is_grad_enabled() and (unary.requires_grad or tau.requires_grad or
                                        (pairwise is not None and pairwise.requires_grad))
    seed = draw_seed(generator, unary.device, fn)
    loss = _ops.minmin_bits(unary.to(dt), None if pairwise is None else pairwise.to(dt), tau.to(dt),
                            labels.to(dt), m, a, grad, seed, None if prop is None else _proposal64(prop))[0]
    return loss.to(out_dtype)


def minmin_loss_ranking(theta: torch.Tensor, tau: torch.Tensor, y: torch.Tensor, num_samples: int,
                        kind: Kind = "logistic", alpha: Optional[float] = None,
                        generator: Optional[torch.Generator] = None, validate: bool = True,
                        proposal: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Per-example min-min loss over permutations.

    theta (B, n) gives the permutahedron energy ⟨θ, y + 1⟩, theta (B, n, n) the Birkhoff energy
    ⟨Θ, P_y⟩. Differentiable w.r.t. theta and tau.

    Args:
        theta: (B, n) or (B, n, n) energies.
        tau: (B,) log-partition estimates τ.
        y: int (B, n), each row a permutation of 0..n−1 (y[i] = score position of item i).
        num_samples: m uniform permutations per example.
        kind: the conjugate f*: "logistic", "sparsemax" or "entmax" (with `alpha`).
        alpha: the entmax α > 1 (only with ``kind="entmax"``).
        generator: the random source of the samples.
        validate: check values (permutations, finite energies): a host synchronisation on CUDA.
        proposal: (B, n) float Plackett–Luce scores s of a proposal r (a sample is argsort(s + Gumbel),
            most preferred first), or None (uniform q). A constant (no gradient flows into it). Each sample
            term is weighted by w = q/r, so the loss stays unbiased for the uniform-q loss.

    Returns:
        loss (B,).

    Raises:
        TypeError: wrong types or dtypes.
        ValueError: wrong shapes, devices or values.

    Example:
        theta, tau = torch.randn(8, 5, requires_grad=True), torch.zeros(8, requires_grad=True)
        y = torch.stack([torch.randperm(5) for _ in range(8)])
        pyalgo.energy.minmin_loss_ranking(theta, tau, y, num_samples=32).mean().backward()
    """
    fn = "pyalgo.energy.minmin_loss_ranking"
    _float_tensor(fn, "theta", theta, (2, 3))
    B, n = theta.shape[0], theta.shape[1]
    if theta.dim() == 3 and theta.shape[2] != n:
        raise ValueError(f"{fn}: theta must be (B, n) or square (B, n, n), got {tuple(theta.shape)}")
    if n == 0:
        raise ValueError(f"{fn}: theta must have at least one item (n >= 1), got shape {tuple(theta.shape)}")
    _check_tau(fn, tau, B, theta.device)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{fn}: y must be a torch.Tensor, got {type(y).__name__}")
    if y.dtype.is_floating_point or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"{fn}: y must be an integer tensor (a permutation of 0..n-1 per row), got {y.dtype}")
    if tuple(y.shape) != (B, n):
        raise ValueError(f"{fn}: y must have shape (B, n) = ({B}, {n}), got {tuple(y.shape)}")
    if y.device != theta.device:
        raise ValueError(f"{fn}: y must be on {theta.device}, got {y.device}")
    m = _count(fn, "num_samples", num_samples, 1, MAX_SAMPLES)
    a = _alpha_of(fn, kind, alpha)
    _check_generator(fn, generator)
    if not isinstance(validate, bool):
        raise TypeError(f"{fn}: validate must be a bool, got {type(validate).__name__}")
    perm = y.detach().to(torch.int64).contiguous()
    prop = _check_proposal(fn, proposal, B, n, "n", theta.device)
    if _checking(validate):
        if B > 0 and not bool((perm.sort(dim=1).values == torch.arange(n, device=perm.device)).all()):
            raise ValueError(f"{fn}: y must hold a permutation of 0..n-1 in every row")
        _check_finite(fn, theta=theta.detach(), tau=tau.detach())
        if prop is not None:
            _check_proposal_finite(fn, prop)
    out_dtype = torch.promote_types(theta.dtype, tau.dtype)
    dt = _compute_dtype(theta, tau)
    grad = torch.is_grad_enabled() and (theta.requires_grad or tau.requires_grad)
    seed = draw_seed(generator, theta.device, fn)
    loss = _ops.minmin_perms(theta.to(dt), tau.to(dt), perm, m, a, grad, seed,
                             None if prop is None else _proposal64(prop))[0]
    return loss.to(out_dtype)


# ---- fake kernels ----------------------------------------------------------------------------

@torch.library.register_fake("pyalgo::energy_sample_bits")
def _sample_bits_fake(seed, batch, num_samples, k):
    return seed.new_empty((batch, num_samples, k), dtype=torch.uint8)


@torch.library.register_fake("pyalgo::energy_sample_perms")
def _sample_perms_fake(seed, batch, num_samples, n):
    return seed.new_empty((batch, num_samples, n), dtype=torch.int64)


@torch.library.register_fake("pyalgo::energy_sample_bits_proposal")
def _sample_bits_proposal_fake(seed, proposal, num_samples):
    torch._check(proposal.dim() == 2, lambda: "pyalgo.energy.sample_bits: proposal must have shape (B, k)")
    B, k = proposal.shape
    return proposal.new_empty((B, num_samples, k), dtype=torch.uint8), \
        proposal.new_empty((B, num_samples), dtype=torch.float64)


@torch.library.register_fake("pyalgo::energy_sample_perms_proposal")
def _sample_perms_proposal_fake(seed, proposal, num_samples):
    torch._check(proposal.dim() == 2, lambda: "pyalgo.energy.sample_perms: proposal must have shape (B, n)")
    B, n = proposal.shape
    return proposal.new_empty((B, num_samples, n), dtype=torch.int64), \
        proposal.new_empty((B, num_samples), dtype=torch.float64)


@torch.library.register_fake("pyalgo::minmin_bits")
def _minmin_bits_fake(unary, pairwise, tau, y, num_samples, alpha, compute_grad, seed, proposal=None):
    torch._check(unary.dim() == 2, lambda: "pyalgo.energy.minmin_loss: unary must have shape (B, k)")
    B, k = unary.shape
    torch._check(num_samples >= 1, lambda: "pyalgo.energy.minmin_loss: num_samples must be >= 1")
    grad_u = unary.new_empty((B, k) if compute_grad else (0,))
    grad_U = unary.new_empty((B, k, k) if compute_grad and pairwise is not None else (0,))
    return unary.new_empty((B,)), grad_u, grad_U, unary.new_empty((B,) if compute_grad else (0,))


@torch.library.register_fake("pyalgo::minmin_perms")
def _minmin_perms_fake(theta, tau, y, num_samples, alpha, compute_grad, seed, proposal=None):
    torch._check(theta.dim() in (2, 3), lambda: "pyalgo.energy.minmin_loss_ranking: theta must be (B, n) or (B, n, n)")
    torch._check(num_samples >= 1, lambda: "pyalgo.energy.minmin_loss_ranking: num_samples must be >= 1")
    B = theta.shape[0]
    grad_th = theta.new_empty(theta.shape if compute_grad else (0,))
    return theta.new_empty((B,)), grad_th, theta.new_empty((B,) if compute_grad else (0,))


# ---- autograd --------------------------------------------------------------------------------
# The forward pass already computed the per-example gradients (compute_grad): backward scales
# them by the incoming gradient. For double backward, the loss is recomputed with the
# materialised reference on the very same samples (regenerated from the saved seed).

def _scaled(grad_loss, saved, wanted):
    if not wanted or saved.numel() == 0:
        return None
    return grad_loss.reshape((-1,) + (1,) * (saved.dim() - 1)) * saved


def _bits_setup(ctx, inputs, output):
    unary, pairwise, tau, y, num_samples, alpha, compute_grad, seed = inputs[:8]
    proposal = inputs[8] if len(inputs) > 8 else None
    _, grad_u, grad_U, grad_t = output
    ctx.num_samples, ctx.alpha = num_samples, alpha
    ctx.save_for_backward(grad_u, grad_U, grad_t, unary, pairwise, tau, y, seed, proposal)


def _bits_backward(ctx, grad_loss, *_unused):
    none = (None,) * 6
    if grad_loss is None:
        return (None, None, None) + none
    grad_u, grad_U, grad_t, unary, pairwise, tau, y, seed, proposal = ctx.saved_tensors
    if double_backward_wanted(unary, pairwise, tau, grad_loss) or (grad_u.numel() == 0 and unary.numel() > 0):
        from .reference import minmin_loss_ref
        if proposal is None:
            samples = _ops.energy_sample_bits(seed, unary.shape[0], ctx.num_samples, unary.shape[1])
            log_w = None
        else:
            samples, log_w = _ops.energy_sample_bits_proposal(seed, proposal, ctx.num_samples)
            log_w = log_w.to(unary.dtype)
        g = reference_grads([unary, pairwise, tau], grad_loss,
                             lambda u, U, t: minmin_loss_ref(u, t, y, samples, U, ctx.alpha, log_w))
        return (g[0], g[1], g[2]) + none
    want_u, want_U, want_t = ctx.needs_input_grad[:3]
    return (_scaled(grad_loss, grad_u, want_u), _scaled(grad_loss, grad_U, want_U),
            _scaled(grad_loss, grad_t, want_t)) + none


def _perms_setup(ctx, inputs, output):
    theta, tau, y, num_samples, alpha, compute_grad, seed = inputs[:7]
    proposal = inputs[7] if len(inputs) > 7 else None
    _, grad_th, grad_t = output
    ctx.num_samples, ctx.alpha = num_samples, alpha
    ctx.save_for_backward(grad_th, grad_t, theta, tau, y, seed, proposal)


def _perms_backward(ctx, grad_loss, *_unused):
    none = (None,) * 6
    if grad_loss is None:
        return (None, None) + none
    grad_th, grad_t, theta, tau, y, seed, proposal = ctx.saved_tensors
    if double_backward_wanted(theta, tau, grad_loss) or (grad_th.numel() == 0 and theta.numel() > 0):
        from .reference import minmin_loss_ranking_ref
        if proposal is None:
            perms = _ops.energy_sample_perms(seed, theta.shape[0], ctx.num_samples, theta.shape[1])
            log_w = None
        else:
            perms, log_w = _ops.energy_sample_perms_proposal(seed, proposal, ctx.num_samples)
            log_w = log_w.to(theta.dtype)
        g = reference_grads([theta, tau], grad_loss,
                             lambda th, t: minmin_loss_ranking_ref(th, t, y, perms, ctx.alpha, log_w))
        return (g[0], g[1]) + none
    want_th, want_t = ctx.needs_input_grad[:2]
    return (_scaled(grad_loss, grad_th, want_th), _scaled(grad_loss, grad_t, want_t)) + none


torch.library.register_autograd("pyalgo::minmin_bits", _bits_backward, setup_context=_bits_setup)
torch.library.register_autograd("pyalgo::minmin_perms", _perms_backward, setup_context=_perms_setup)
