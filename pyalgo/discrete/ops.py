"""Fused categorical gradient estimators (docs/discrete.md).

Each estimator is one forward op (sample + outputs in one pass per row, saving only the int32
index) and one backward op (softmaxes recomputed from the logits in one pass), registered in
csrc/ops.cpp with CPU and CUDA kernels, and wired here with `register_fake` (shapes for
torch.compile / meta tensors) and `register_autograd`.

Every sample k ~ Cat(softmax(logits)) along `dim`, whatever `tau` is. Samples are drawn from a
Philox stream seeded from `generator` (see `pyalgo._rng`).

NaN policy: on CPU a row containing NaN or +inf, or made only of -inf, raises a RuntimeError
naming the function. On CUDA the check would need a host synchronisation, so such a row instead
produces NaN in every output of that row (and NaN gradients); no other row is affected.
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Callable, Literal, Optional, Tuple, Union

import torch

from .. import _ext  # noqa: F401  (registers torch.ops.pyalgo)
from .._autograd import double_backward_wanted, reference_grads
from .._rng import draw_scratch_seed, draw_seed

_ops = torch.ops.pyalgo
_FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


# ---- argument checks (used by the wrappers and, identically, by the fake kernels) ------------

MAX_CATEGORIES = (1 << 31) - 1  # the sampled index is int32 (also checked in C++)

def _check_logits(fn: str, logits, dim) -> list:
    """Validates logits/dim and returns the index shape (logits.shape without `dim`)."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"{fn}: logits must be a torch.Tensor, got {type(logits).__name__}")
    if logits.dtype not in _FLOATS:
        raise TypeError(f"{fn}: logits must be float32, float64, float16 or bfloat16, got {logits.dtype}")
    if logits.dim() == 0:
        raise ValueError(f"{fn}: logits must have at least one dimension (the categories), got a 0-d tensor")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{fn}: dim must be an int, got {type(dim).__name__}")
    n = logits.dim()
    if not -n <= dim < n:
        raise IndexError(f"{fn}: dim must be in [{-n}, {n - 1}] for logits of {n} dimensions, got {dim}")
    d = dim % n
    if logits.shape[d] == 0:
        raise ValueError(f"{fn}: logits must have at least one category along dim {dim}, got size 0")
    if logits.shape[d] > MAX_CATEGORIES:
        raise ValueError(f"{fn}: logits may have at most {MAX_CATEGORIES} categories along dim {dim} (the sampled "
                         f"index is int32), got {logits.shape[d]}")
    return [s for i, s in enumerate(logits.shape) if i != d]


def min_tau(dtype: torch.dtype) -> float:
    """The smallest `tau` for logits of `dtype` (also checked in C++).

    1/tau must stay finite, with room for the Gumbel noise, in the compute dtype (float for
    float32/float16/bfloat16).

    Args:
        dtype: the logits' dtype.

    Returns:
        1e-300 for float64, else 1e-30.

    Example:
        min_tau(torch.float32)   # 1e-30
    """
    return 1e-300 if dtype == torch.float64 else 1e-30


def _check_tau(fn: str, tau, dtype: Optional[torch.dtype] = None) -> float:
    if isinstance(tau, torch.Tensor) and tau.numel() == 1:
        tau = tau.item()
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real):
        raise TypeError(f"{fn}: tau must be a real number, got {type(tau).__name__}")
    tau = float(tau)
    if not (math.isfinite(tau) and tau > 0):
        raise ValueError(f"{fn}: tau must be a finite number > 0, got {tau}")
    if dtype is not None and tau < min_tau(dtype):
        raise ValueError(f"{fn}: tau must be >= {min_tau(dtype):g} for {dtype} logits (1/tau must stay finite "
                         f"in the compute dtype), got {tau:g}")
    return tau


# GR-MCK costs O(k·C) per row in backward; beyond this many draws a call would run for hours
# (also checked in C++).
MAX_DRAWS = 1 << 20


def _check_draws(fn: str, k) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= MAX_DRAWS:
        raise ValueError(f"{fn}: k (the number of Gumbel-Rao draws) must be an int in [1, {MAX_DRAWS}], got {k!r}")
    return int(k)


def _check_hard(fn: str, hard) -> bool:
    if not isinstance(hard, bool):
        raise TypeError(f"{fn}: hard must be a bool, got {hard!r}")
    return bool(hard)


def _check_gap(fn: str, gap) -> Tuple[float, bool]:
    if isinstance(gap, str):
        if gap == "p":
            return 0.0, True
        raise ValueError(f'{fn}: gap must be a number >= 0 or "p", got {gap!r}')
    if isinstance(gap, bool) or not isinstance(gap, numbers.Real) or not (math.isfinite(gap) and gap >= 0):
        raise ValueError(f'{fn}: gap must be a finite number >= 0 or "p", got {gap!r}')
    return float(gap), False


_REAL_TYPES = (float, int)


def _plain(logits, tau, dim) -> bool:
    """Whether `tau` and `dim` are plain Python numbers and `logits` a tensor: the fast path then
    hands them to the op, whose C++ checks their values (nanoseconds); anything else goes through
    the Python checks first."""
    return isinstance(logits, torch.Tensor) and tau.__class__ in _REAL_TYPES and dim.__class__ is int


def _check_args(fn: str, logits, tau, dim) -> float:
    """The Python checks of logits, tau and dim (typed errors: TypeError, ValueError, IndexError)."""
    _check_logits(fn, logits, dim)
    return _check_tau(fn, tau, logits.dtype)


def _run(fn: str, lean: "_Lean", args: tuple, generator: Optional[torch.Generator], check: Callable[[], object]):
    """`lean(fn, args, generator)`; when the op's C++ checks fail, `check()` re-runs the Python checks so that the
    error is the typed one they raise (TypeError, ValueError, IndexError), not a RuntimeError. A
    failure they do not explain (e.g. a NaN row) is raised as it came."""
    try:
        return lean(fn, args, generator)
    except RuntimeError as error:
        failure = error
    check()  # outside the except block, so that a typed error is not chained to the C++ one
    raise failure


def _contiguous_empty(logits: torch.Tensor) -> torch.Tensor:
    return torch.empty(logits.shape, dtype=logits.dtype, device=logits.device)


def _empty_index(logits: torch.Tensor, shape) -> torch.Tensor:
    return torch.empty(shape, dtype=torch.int32, device=logits.device)


# ---- public API -------------------------------------------------------------------------------

def reinmax(logits: torch.Tensor, tau: float = 1.0, hard: bool = True, dim: int = -1,
            generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """ReinMax (Liu et al., NeurIPS 2023, Algorithm 2): second-order (Heun) straight-through.

    Drop-in for ``reinmax.reinmax(logits, tau)``. ``y_hard`` is exactly one-hot along `dim` with
    k ~ Cat(softmax(logits)) (the sample ignores tau); ``y_soft = softmax(logits)``. Backward:
    ∂L/∂θ = 2 J(π₁) g − ½ J(π₀) g + J(π₀) g_soft, π₁ = (y_hard + softmax(θ/τ))/2, row-centred.
    tau < 1 warns (the authors advise tau >= 1).

    Args:
        logits: float32/float64/float16/bfloat16 tensor, categories along `dim`.
        tau: temperature of the backward, finite and > 0.
        hard: accepted and ignored, like the PyPI package.
        dim: the categories' dimension.
        generator: the random source of the sample (None: the device's default generator).

    Returns:
        ``(y_hard, y_soft)``, both shaped like `logits`.

    Raises:
        TypeError: `logits`, `dim` or `generator` has the wrong type or dtype.
        ValueError: invalid `tau` or an empty category dimension.
        IndexError: `dim` out of range.
        RuntimeError: on CPU, a row with NaN, +inf or only -inf.

    Example:
        logits = torch.randn(32, 10, requires_grad=True)
        y_hard, y_soft = pyalgo.reinmax(logits, tau=1.0)
        (y_hard * torch.randn(32, 10)).sum().backward()
    """
    fn = "pyalgo.reinmax"
    if not _plain(logits, tau, dim):
        tau = _check_args(fn, logits, tau, dim)
    args = (logits, tau, dim)
    y_hard, y_soft = _run(fn, _REINMAX, args, generator, lambda: _check_args(fn, logits, tau, dim))
    if tau < 1.0 and not torch.compiler.is_compiling():
        warnings.warn(f"{fn}: tau={tau} < 1; the ReinMax authors recommend tau >= 1", stacklevel=2)
    return y_hard, y_soft


def straight_through(logits: torch.Tensor, tau: float = 1.0, dim: int = -1,
                     generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Straight-through (Bengio et al. 2013): y = one_hot(k), k ~ Cat(softmax(logits)).

    Backward (1/τ) J(softmax(θ/τ)) g.

    Args:
        logits: float tensor, categories along `dim`.
        tau: temperature of the backward, finite and > 0.
        dim: the categories' dimension.
        generator: the random source of the sample (None: the device's default generator).

    Returns:
        y, one-hot, shaped like `logits`.

    Raises:
        TypeError: `logits`, `dim` or `generator` has the wrong type or dtype.
        ValueError: invalid `tau` or an empty category dimension.
        IndexError: `dim` out of range.
        RuntimeError: on CPU, a row with NaN, +inf or only -inf.

    Example:
        y = pyalgo.straight_through(torch.randn(32, 10, requires_grad=True))
    """
    fn = "pyalgo.straight_through"
    if not _plain(logits, tau, dim):
        tau = _check_args(fn, logits, tau, dim)
    args = (logits, tau, dim)
    return _run(fn, _STRAIGHT_THROUGH, args, generator, lambda: _check_args(fn, logits, tau, dim))


def _check_eps(fn: str, eps: object) -> None:
    # A real, non-integer number: an int in this slot is most likely a `dim` from before `eps`
    # took the 4th positional place (torch's order), which would otherwise be ignored silently.
    if isinstance(eps, numbers.Integral) or not isinstance(eps, numbers.Real):
        raise TypeError(f"{fn}: eps must be a float (it is accepted for F.gumbel_softmax's calling convention and "
                        f"ignored), got {type(eps).__name__} {eps!r}; pass dim by keyword (dim=...)")


def gumbel_softmax(logits: torch.Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1,
                   *, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Gumbel-softmax (Jang et al. 2017) with `torch.nn.functional.gumbel_softmax` semantics.

    y_soft = softmax((θ + G)/τ), G ~ Gumbel(0, 1). ``hard=False`` returns y_soft; ``hard=True``
    returns the exactly one-hot argmax (ST-GS) with the gradient of y_soft, (1/τ) J(y_soft) g.
    The Gumbels are regenerated in backward from the seed, never stored.

    The positional order is torch's, ``(logits, tau, hard, eps, dim)``, so a call
    ``F.gumbel_softmax(...)`` ports by renaming it ``pyalgo.gumbel_softmax(...)``.

    Args:
        logits: float32/float64/float16/bfloat16 tensor, categories along `dim`.
        tau: temperature, a finite number > 0 (at least `min_tau(logits.dtype)`).
        hard: return the one-hot argmax (straight-through) instead of the soft sample.
        eps: accepted for torch's calling convention and ignored (torch ignores it too; it is
            deprecated there). No eps is needed: G = −log(−log U) with U drawn in the open
            interval (0, 1), never 0 or 1, so both logarithms are always finite. Must be a float
            (an int raises TypeError: it is most likely a `dim` passed in torch's `eps` slot).
        dim: the category dimension.
        generator: keyword only; the `torch.Generator` the Philox seed is drawn from (the
            device's default generator when None, so `torch.manual_seed` reproduces a call).

    Returns:
        A tensor shaped like `logits` (contiguous), of the logits' dtype: y_soft, or with
        ``hard=True`` an exact one-hot along `dim`.

    Raises:
        TypeError: `logits` is not a float tensor, `tau` not a real number, `hard` not a bool,
            `eps` not a float, `dim` not an int, or `generator` not a torch.Generator.
        ValueError: `tau` is not finite and > 0 (or below `min_tau`), or `logits` is 0-d or has
            no category along `dim`.
        IndexError: `dim` is out of range.
        RuntimeError: (CPU) a row of `logits` holds NaN or +inf, or only -inf.

    Example:
        >>> import torch, pyalgo
        >>> y = pyalgo.gumbel_softmax(torch.randn(4, 10), 0.5, True)   # as F.gumbel_softmax(logits, 0.5, True)
        >>> bool((y.sum(-1) == 1).all())
        True
    """
    fn = "pyalgo.gumbel_softmax"
    if not (_plain(logits, tau, dim) and hard.__class__ is bool and eps.__class__ is float):
        tau = _check_args(fn, logits, tau, dim)
        hard = _check_hard(fn, hard)
        _check_eps(fn, eps)
    args = (logits, tau, hard, dim)
    return _run(fn, _GUMBEL_SOFTMAX, args, generator, lambda: _check_args(fn, logits, tau, dim))


def gst(logits: torch.Tensor, tau: float = 1.0, gap: Union[float, Literal["p"]] = 1.0, dim: int = -1,
        generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Gapped straight-through (Fan et al., ICML 2022). GST-1.0 by default.

    y = one_hot(k); backward (1/τ) J(softmax(θ̃/τ)) g where θ̃ lifts the sampled logit to the row max m
    and caps the others at m − gap. ``gap="p"`` is GST-p (gap = −log(1 − π_k)/π_k).

    Args:
        logits: float tensor, categories along `dim`.
        tau: temperature of the backward, finite and > 0.
        gap: a finite number >= 0, or "p".
        dim: the categories' dimension.
        generator: the random source of the sample (None: the device's default generator).

    Returns:
        y, one-hot, shaped like `logits`.

    Raises:
        TypeError: `logits`, `dim` or `generator` has the wrong type or dtype.
        ValueError: invalid `tau` or `gap`, or an empty category dimension.
        IndexError: `dim` out of range.
        RuntimeError: on CPU, a row with NaN, +inf or only -inf.

    Example:
        y = pyalgo.gst(torch.randn(32, 10, requires_grad=True), gap="p")
    """
    fn = "pyalgo.gst"
    if not _plain(logits, tau, dim):
        tau = _check_args(fn, logits, tau, dim)
    gap_value, gap_is_p = _check_gap(fn, gap)
    args = (logits, tau, gap_value, gap_is_p, dim)
    return _run(fn, _GST, args, generator, lambda: _check_args(fn, logits, tau, dim))


def gumbel_rao(logits: torch.Tensor, tau: float = 1.0, k: int = 100, dim: int = -1,
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Gumbel-Rao Monte Carlo, GR-MCK (Paulus et al., ICLR 2021).

    y = one_hot(s), s ~ Cat(softmax(logits)); backward (1/(Kτ)) Σ_r J(softmax((θ + G_r)/τ)) g with
    G_r the r-th of `k` Gumbel draws conditioned on argmax = s (regenerated in backward, O(k·C) per
    row).

    Args:
        logits: float tensor, categories along `dim`.
        tau: temperature of the backward, finite and > 0.
        k: the number of Gumbel draws K, in [1, 2^20].
        dim: the categories' dimension.
        generator: the random source of the sample (None: the device's default generator).

    Returns:
        y, one-hot, shaped like `logits`.

    Raises:
        TypeError: `logits`, `dim` or `generator` has the wrong type or dtype.
        ValueError: invalid `tau` or `k`, or an empty category dimension.
        IndexError: `dim` out of range.
        RuntimeError: on CPU, a row with NaN, +inf or only -inf.

    Example:
        y = pyalgo.gumbel_rao(torch.randn(32, 10, requires_grad=True), k=100)
    """
    fn = "pyalgo.gumbel_rao"
    if not _plain(logits, tau, dim):
        tau = _check_args(fn, logits, tau, dim)
    k = _check_draws(fn, k)
    args = (logits, tau, k, dim)
    return _run(fn, _GUMBEL_RAO, args, generator, lambda: _check_args(fn, logits, tau, dim))


# ---- the backward for a given sample (exact expectations in pyalgo.discrete.diagnostics) ---------
# logits (N, L, C) with categories last, index (N, L) int32, grad (N, L, C) -> dL/dlogits. `fn`
# names the public function whose arguments are checked.

def reinmax_given_sample(fn: str, logits: torch.Tensor, index: torch.Tensor, grad: torch.Tensor,
                         tau: float) -> torch.Tensor:
    """ReinMax's backward for a given sample (the exact expectations of `pyalgo.discrete.diagnostics`).

    Args:
        fn: the public function whose arguments are checked (named in errors).
        logits: (N, L, C), categories last.
        index: (N, L) int32 sample.
        grad: (N, L, C) gradient of y_hard.
        tau: the temperature.

    Returns:
        dL/dlogits (N, L, C).

    Example:
        g = reinmax_given_sample("f", logits, index, grad, 1.0)
    """
    return _ops.reinmax_backward(logits, index, grad, None, tau, -1)


def straight_through_given_sample(fn: str, logits: torch.Tensor, index: torch.Tensor, grad: torch.Tensor,
                                  tau: float) -> torch.Tensor:
    """Straight-through's backward for a given sample (it does not depend on the sample).

    Args:
        fn: the public function whose arguments are checked (named in errors).
        logits: (N, L, C), categories last.
        index: (N, L) int32 sample (unused).
        grad: (N, L, C) gradient of y.
        tau: the temperature.

    Returns:
        dL/dlogits (N, L, C).

    Example:
        g = straight_through_given_sample("f", logits, index, grad, 1.0)
    """
    return _ops.straight_through_backward(logits, grad, tau, -1)


def gst_given_sample(fn: str, logits: torch.Tensor, index: torch.Tensor, grad: torch.Tensor, tau: float,
                     gap: Union[float, str] = 1.0) -> torch.Tensor:
    """GST's backward for a given sample.

    Args:
        fn: the public function whose arguments are checked (named in errors).
        logits: (N, L, C), categories last.
        index: (N, L) int32 sample.
        grad: (N, L, C) gradient of y.
        tau: the temperature.
        gap: a number >= 0 or "p".

    Returns:
        dL/dlogits (N, L, C).

    Example:
        g = gst_given_sample("f", logits, index, grad, 1.0, gap="p")
    """
    gap_value, gap_is_p = _check_gap(fn, gap)
    return _ops.gst_backward(logits, index, grad, tau, gap_value, gap_is_p, -1)


# ---- fake (meta) kernels: same rules, same output shapes/dtypes/strides -------------------------

@torch.library.register_fake("pyalgo::reinmax")
def _reinmax_fake(logits, tau, dim, seed):
    shape = _check_logits("pyalgo.reinmax", logits, dim)
    return _contiguous_empty(logits), _contiguous_empty(logits), _empty_index(logits, shape)


@torch.library.register_fake("pyalgo::straight_through")
def _straight_through_fake(logits, tau, dim, seed):
    shape = _check_logits("pyalgo.straight_through", logits, dim)
    return _contiguous_empty(logits), _empty_index(logits, shape)


@torch.library.register_fake("pyalgo::gst")
def _gst_fake(logits, tau, gap, gap_is_p, dim, seed):
    shape = _check_logits("pyalgo.gst", logits, dim)
    return _contiguous_empty(logits), _empty_index(logits, shape)


@torch.library.register_fake("pyalgo::gumbel_rao")
def _gumbel_rao_fake(logits, tau, k, dim, seed):
    shape = _check_logits("pyalgo.gumbel_rao", logits, dim)
    return _contiguous_empty(logits), _empty_index(logits, shape)


@torch.library.register_fake("pyalgo::gumbel_softmax")
def _gumbel_softmax_fake(logits, tau, hard, dim, seed):
    shape = _check_logits("pyalgo.gumbel_softmax", logits, dim)
    return _contiguous_empty(logits), _empty_index(logits, shape)


def _backward_fake(logits, *args, **kwargs):
    return _contiguous_empty(logits)


for _name in ("reinmax_backward", "straight_through_backward", "gst_backward",
              "gumbel_rao_backward", "gumbel_softmax_backward"):
    torch.library.register_fake(f"pyalgo::{_name}", _backward_fake)


@torch.library.register_fake("pyalgo::philox_uniform")
def _philox_uniform_fake(seed, rows, cols, stream, dtype):
    return torch.empty((rows, cols), dtype=dtype, device=seed.device)


# ---- autograd ---------------------------------------------------------------------------------
# Setup: only the logits and the int32 index (plus the 2-element seed where noise is regenerated)
# are saved, with the scalar arguments the backward needs. Grads are not materialised: an unused output costs nothing in backward.
#
# Double backward (create_graph=True, e.g. gradient penalties): the fused backward ops have no
# derivative of their own, so under create_graph the backward is recomputed once with the
# pure-torch reference fed the same sample and noise, and differentiated by autograd. First-order
# backward always runs the fused kernel.

def _none_grads(n):
    return (None,) * n


def _reference_backward(logits, dim, grads, forward):
    """d(outputs)/d(logits)·grads through the reference `forward` (categories last), keeping the
    graph so that the result can be differentiated again (grads: one per output, None for none)."""
    def outputs(x):
        out = forward(x.movedim(dim, -1))
        return tuple(o.movedim(-1, dim) for o in (out if isinstance(out, tuple) else (out,)))

    (grad,) = reference_grads([logits], grads, outputs)
    return grad if grad is not None else torch.zeros_like(logits)


def _reinmax_backward(ctx, grad_hard, grad_soft, _grad_index):
    logits, index = ctx.saved_tensors
    if grad_hard is None and grad_soft is None:
        return _none_grads(4)
    if double_backward_wanted(logits, grad_hard, grad_soft):
        from .reference import reinmax_ref
        grad = _reference_backward(logits, ctx.dim, (grad_hard, grad_soft),
                                   lambda x: reinmax_ref(x, ctx.tau, index=index))
        return grad, None, None, None
    if grad_hard is None:
        grad_hard = torch.zeros_like(logits)
    grad = _ops.reinmax_backward(logits, index, grad_hard, grad_soft, ctx.tau, ctx.dim)
    return grad, None, None, None


def _reinmax_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0], output[2])
    ctx.set_materialize_grads(False)
    ctx.tau, ctx.dim = inputs[1], inputs[2]


def _straight_through_backward(ctx, grad, _grad_index):
    if grad is None:
        return _none_grads(4)
    (logits,) = ctx.saved_tensors
    if double_backward_wanted(logits, grad):
        from .reference import straight_through_ref
        index = torch.zeros(logits.movedim(ctx.dim, -1).shape[:-1], dtype=torch.long, device=logits.device)
        out = _reference_backward(logits, ctx.dim, (grad,),
                                  lambda x: straight_through_ref(x, ctx.tau, index=index))
        return out, None, None, None
    return _ops.straight_through_backward(logits, grad, ctx.tau, ctx.dim), None, None, None


def _straight_through_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])
    ctx.set_materialize_grads(False)
    ctx.tau, ctx.dim = inputs[1], inputs[2]


def _gst_backward(ctx, grad, _grad_index):
    if grad is None:
        return _none_grads(6)
    logits, index = ctx.saved_tensors
    if double_backward_wanted(logits, grad):
        from .reference import gst_ref
        gap = "p" if ctx.gap_is_p else ctx.gap
        out = _reference_backward(logits, ctx.dim, (grad,), lambda x: gst_ref(x, ctx.tau, gap, index=index))
        return out, None, None, None, None, None
    out = _ops.gst_backward(logits, index, grad, ctx.tau, ctx.gap, ctx.gap_is_p, ctx.dim)
    return out, None, None, None, None, None


def _gst_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0], output[1])
    ctx.set_materialize_grads(False)
    ctx.tau, ctx.gap, ctx.gap_is_p, ctx.dim = inputs[1:5]


def _gumbel_rao_backward(ctx, grad, _grad_index):
    if grad is None:
        return _none_grads(5)
    logits, index, seed = ctx.saved_tensors
    if double_backward_wanted(logits, grad):
        from .reference import gumbel_rao_ref, philox_exp_noise
        out = _reference_backward(logits, ctx.dim, (grad,), lambda x: gumbel_rao_ref(
            x, ctx.tau, ctx.k, index=index, exp_noise=philox_exp_noise(seed, x.detach(), ctx.k)))
        return out, None, None, None, None
    out = _ops.gumbel_rao_backward(logits, index, grad, ctx.tau, ctx.k, ctx.dim, seed)
    return out, None, None, None, None


def _gumbel_rao_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0], output[1], inputs[4])
    ctx.set_materialize_grads(False)
    ctx.tau, ctx.k, ctx.dim = inputs[1:4]


def _gumbel_softmax_backward(ctx, grad, _grad_index):
    if grad is None:
        return _none_grads(5)
    logits, seed = ctx.saved_tensors
    if double_backward_wanted(logits, grad):
        from .reference import gumbel_softmax_ref, philox_gumbels
        out = _reference_backward(logits, ctx.dim, (grad,), lambda x: gumbel_softmax_ref(
            x, ctx.tau, hard=False, gumbels=philox_gumbels(seed, x.detach())))
        return out, None, None, None, None
    out = _ops.gumbel_softmax_backward(logits, grad, ctx.tau, ctx.dim, seed)
    return out, None, None, None, None


def _gumbel_softmax_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0], inputs[4])
    ctx.set_materialize_grads(False)
    ctx.tau, ctx.dim = inputs[1], inputs[3]


# ---- the two call paths ----------------------------------------------------------------------
# A custom op's Python autograd registration costs ~15 µs per call in eager mode (dispatch to the
# Python autograd kernel, pytree handling of inputs and outputs). Eagerly, the public functions
# therefore run each op through a plain autograd.Function that calls the op below autograd; under
# torch.compile, torch.export and torch.func transforms they call the op itself, whose registered
# autograd (below) has the same setup and backward. Both paths run the same kernels.

_below_autograd = torch._C._AutoDispatchBelowAutograd
_FUNCTION_APPLY = torch._C._FunctionBase.__dict__["apply"]


class _Lean:
    """One estimator's call paths: the op `name` (arguments: the public function's, then the seed;
    outputs: the public function's `outputs` leading ones, then the int32 index), its autograd
    `setup`/`backward`, and whether `setup` keeps the seed (noise regenerated in backward)."""

    def __init__(self, name: str, setup: Callable[..., None], backward: Callable[..., Any], outputs: int,
                 keeps_seed: bool = False):
        op = getattr(_ops, name).default
        setup_fn, backward_fn = setup, backward  # (a class body does not see names it assigns)
        torch.library.register_autograd(f"pyalgo::{name}", backward, setup_context=setup)

        class Function(torch.autograd.Function):
            @staticmethod
            def forward(*args):  # type: ignore[override]
                with _below_autograd():
                    return op(*args)

            setup_context = staticmethod(setup_fn)
            backward = staticmethod(backward_fn)

        Function.__name__ = Function.__qualname__ = f"{name}_function"
        self.op, self.outputs, self.keeps_seed, self.function = op, outputs, keeps_seed, Function
        # autograd.Function.apply's Python layer (default-argument binding, a pytree pass over the
        # arguments for torch.func) costs ~2 µs: eagerly, outside torch.func transforms, the C++
        # apply underneath does the same.
        self.apply = _FUNCTION_APPLY.__get__(None, Function)

    def __call__(self, fn: str, args: tuple, generator: Optional[torch.Generator]) -> Any:
        logits = args[0]
        if torch.compiler.is_compiling():
            out = self.op(*args, draw_seed(generator, logits.device, fn))
        elif torch._C._are_functorch_transforms_active():
            out = self.function.apply(*args, draw_seed(generator, logits.device, fn))
        else:
            grad = logits.requires_grad and torch.is_grad_enabled()
            # A CPU op reads its seed during the call: unless autograd keeps it, a reused buffer will do.
            if logits.is_cpu and not (grad and self.keeps_seed):
                seed = draw_scratch_seed(generator, fn)
            else:
                seed = draw_seed(generator, logits.device, fn)
            if grad:
                out = self.apply(*args, seed)
            else:
                with _below_autograd():
                    out = self.op(*args, seed)
        return out[:self.outputs] if self.outputs > 1 else out[0]


_REINMAX = _Lean("reinmax", _reinmax_setup, _reinmax_backward, outputs=2)
_STRAIGHT_THROUGH = _Lean("straight_through", _straight_through_setup, _straight_through_backward, outputs=1)
_GST = _Lean("gst", _gst_setup, _gst_backward, outputs=1)
_GUMBEL_RAO = _Lean("gumbel_rao", _gumbel_rao_setup, _gumbel_rao_backward, outputs=1, keeps_seed=True)
_GUMBEL_SOFTMAX = _Lean("gumbel_softmax", _gumbel_softmax_setup, _gumbel_softmax_backward, outputs=1,
                       keeps_seed=True)
