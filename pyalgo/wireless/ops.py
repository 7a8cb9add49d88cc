"""Fused wireless power-control ops (docs/wireless.md): the batched WMMSE teacher for SISO
power control and MISO beamforming, and the differentiable sum rate used as the unsupervised
loss. Kernels in csrc/wireless/ (one body for CPU and CUDA); schemas in csrc/ops.cpp.

Conventions
- SISO `H`: real (B, K, K); **H[b, i, j] is the power gain |h|² from transmitter j to receiver i**
  (row = receiver, as in Sun et al.'s code, which stores amplitudes: pass ``amplitude=True``).
- MISO `H`: complex (B, K, N); row H[b, i] is user i's channel, y_i = Σ_j (H[b, i] · V[b, j]) x_j + n_i
  (plain product, no conjugation), so the total transmit power is Σ_j ‖V[b, j]‖².
- `p_max`, `noise` (σ²) and `weights` (α) are numbers or tensors: (B,) per instance, or any
  shape that broadcasts to (B, K) (e.g. (1, K) per user). For MISO, p_max is per instance.
- Rates are in bits/s/Hz.

Value checks (negative/non-finite gains, noise <= 0, ...) are fused into the kernels, which check
every precondition in their pass over the data, so that a direct ``torch.ops.pyalgo`` call,
``validate=False`` or ``torch.compile`` cannot skip them: the CPU kernels raise, the CUDA kernels
(which do not synchronise) return NaN for the instances or users concerned. With ``validate=True``
(the default) the wrappers turn a refusal into the Python checks' typed error: they run those
checks only when the CPU kernel raised or, on CUDA, when the result is not finite (the one host
synchronisation of a validated CUDA call; ``validate=False`` skips it). A valid call therefore
makes no Python pass over the data (issue 18). Rules the kernels do not share (amplitudes, whose
squares are valid gains; a given init <= p_max) are still checked in Python first.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Dict, Literal, NamedTuple, Optional, Union, overload

import torch

from .. import _ext  # noqa: F401  (registers torch.ops.pyalgo)
from .._autograd import double_backward_wanted, reference_grads

_ops = torch.ops.pyalgo
Value = Union[float, torch.Tensor]
SisoInit = Literal["full", "random"]

MAX_SISO_USERS = 46340  # K * K < 2^31 gains per instance (also checked by the kernels)
MAX_ITER = 2**24        # WMMSE updates per call (also checked by the kernels)


class WMMSEResult(NamedTuple):
    """Output of `wmmse(..., return_state=True or return_trajectory=True)`.

    p (B, K) powers; u, w (B, K) the final MMSE receivers and weights (w = 1 + SINR) when
    `return_state`; iterations (B,) int32 updates done per instance; objective (B, max_iter + 1)
    weighted sum rate after each update and trajectory (B, max_iter + 1, K) the powers, both
    repeating the final value after an instance stopped, when `return_trajectory`.
    """
    p: torch.Tensor
    u: Optional[torch.Tensor]
    w: Optional[torch.Tensor]
    iterations: torch.Tensor
    objective: Optional[torch.Tensor]
    trajectory: Optional[torch.Tensor]


class MISOResult(NamedTuple):
    """Output of `wmmse_miso` with state or trajectory: V (B, K, N) complex beamformers, u (B, K)
    complex receivers, w (B, K) weights, iterations (B,), objective (B, T+1), trajectory
    (B, T+1, K, N)."""
    V: torch.Tensor
    u: Optional[torch.Tensor]
    w: Optional[torch.Tensor]
    iterations: torch.Tensor
    objective: Optional[torch.Tensor]
    trajectory: Optional[torch.Tensor]


# ---- argument checks -------------------------------------------------------------------------

def _checking(validate: bool) -> bool:
    return validate and not torch.compiler.is_compiling()


def _check_channels(fn: str, H, complex_: bool, validate: bool) -> None:
    if not isinstance(H, torch.Tensor):
        raise TypeError(f"{fn}: H must be a torch.Tensor, got {type(H).__name__}")
    if complex_:
        if H.dtype not in (torch.complex64, torch.complex128):
            raise TypeError(f"{fn}: H must be complex64 or complex128 (B, K, N), got {H.dtype}")
        if H.dim() != 3:
            raise ValueError(f"{fn}: H must have shape (B, K, N), got {tuple(H.shape)}")
        if H.shape[2] == 0:
            raise ValueError(f"{fn}: H must have at least one antenna (N >= 1), got shape {tuple(H.shape)}")
    else:
        if H.is_complex():
            raise TypeError(f"{fn}: H must be real power gains; for complex channels use |h|**2 "
                            f"(or the MISO functions), got {H.dtype}")
        if H.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{fn}: H must be float32 or float64, got {H.dtype}")
        if H.dim() != 3 or H.shape[1] != H.shape[2]:
            raise ValueError(f"{fn}: H must have shape (B, K, K), got {tuple(H.shape)}")
    if H.shape[1] == 0:
        raise ValueError(f"{fn}: H must have at least one user (K >= 1), got shape {tuple(H.shape)}")
    if not complex_ and H.shape[1] > MAX_SISO_USERS:
        raise ValueError(f"{fn}: H has too many users (K = {H.shape[1]}; at most {MAX_SISO_USERS})")
    if complex_ and H.shape[1] > 2**20:
        raise ValueError(f"{fn}: H has too many users (K = {H.shape[1]}; at most 2^20)")
    if complex_ and H.shape[2] > 2**20:
        raise ValueError(f"{fn}: H has too many antennas (N = {H.shape[2]}; at most 2^20)")
    if _checking(validate) and H.numel():
        if not bool(torch.isfinite(H).all()):
            raise ValueError(f"{fn}: H must be finite (found NaN or inf)")
        if not complex_ and bool((H < 0).any()):
            raise ValueError(f"{fn}: H holds power gains and must be >= 0 (found a negative entry)")


def _per_user(fn: str, name: str, value, B: int, K: int, dtype, device, *, positive: bool,
              validate: bool, per_instance_only: bool = False) -> torch.Tensor:
    """A number or tensor ((B,) per instance, or broadcastable to (B, K)) as a (B, K) tensor
    (or (B,) when `per_instance_only`)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, torch.Tensor)):
        raise TypeError(f"{fn}: {name} must be a number or a tensor, got {type(value).__name__}")
    if isinstance(value, torch.Tensor):
        if value.is_complex() or not value.is_floating_point():
            raise TypeError(f"{fn}: {name} must be a real floating tensor, got {value.dtype}")
        t = value.to(device=device, dtype=dtype)
        target = (B,) if per_instance_only else (B, K)
        if not per_instance_only and t.dim() == 1 and t.shape[0] == B:
            t = t.unsqueeze(1)
        try:
            t = torch.broadcast_to(t, target)
        except RuntimeError:
            allowed = "a number or shape (B,)" if per_instance_only else "a number, shape (B,) or a shape broadcastable to (B, K)"
            raise ValueError(f"{fn}: {name} must be {allowed} with B={B}, K={K}, got shape {tuple(value.shape)}") from None
    else:
        t = torch.full((B,) if per_instance_only else (B, K), float(value), dtype=dtype, device=device)
    if _checking(validate) and t.numel():
        ok = torch.isfinite(t).all() & ((t > 0).all() if positive else (t >= 0).all())
        if not bool(ok):
            raise ValueError(f"{fn}: {name} must be finite and {'> 0' if positive else '>= 0'}")
    return t.contiguous()


def _check_iterations(fn: str, max_iter, tol) -> None:
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"{fn}: max_iter must be an int >= 1, got {max_iter!r}")
    if max_iter > MAX_ITER:
        raise ValueError(f"{fn}: max_iter must be an int >= 1 and at most 2^24 = {MAX_ITER}, got {max_iter!r}")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not math.isfinite(tol):
        raise ValueError(f"{fn}: tol must be a finite number (<= 0 runs exactly max_iter updates), got {tol!r}")


def _gains(H: torch.Tensor, amplitude: bool) -> torch.Tensor:
    return H * H if amplitude else H


_NOT_FINITE = "the solution is not finite"
_WIDER = {torch.float32: torch.float64, torch.complex64: torch.complex128}


def _call(fn: str, what: str, op, *args):
    """op(*args), with an allocation failure (outputs too large) turned into an error naming `what`."""
    try:
        return op(*args)
    except RuntimeError as exc:
        text = str(exc)
        if "allocate" in text or "out of memory" in text or "overflow" in text:
            raise RuntimeError(f"{fn}: the outputs for {what} do not fit in memory ({text.splitlines()[0][:200]})") from None
        raise


def _teacher(fn: str, what: str, op, tensors, rest, validate: bool, recheck: Optional[Callable[[], object]] = None):
    """Runs a WMMSE op; if its float32 / complex64 solution left the floating-point range (an
    extreme SNR or scale: the CPU kernel raises, the CUDA one returns NaN), solves again in float64
    and casts back. Outside the float64 range too: a ValueError naming the function.

    The value checks are fused into the kernels: `recheck` (the Python value checks) runs only when
    the op refused its inputs (CPU: a RuntimeError; CUDA: NaN in the solution, the one host
    synchronisation of a validated call), so that the error raised is their typed one."""
    if not _checking(validate):
        return op(*tensors, *rest)
    failure: Optional[RuntimeError] = None
    try:
        out = _call(fn, what, op, *tensors, *rest)
        # A CPU kernel raises for a solution that is not finite (kBadResult): no check needed.
        if tensors[0].is_cpu or out[0].numel() == 0 or bool(torch.isfinite(out[0]).all()):
            return out
    except RuntimeError as exc:
        if _NOT_FINITE not in str(exc):
            failure = exc
    if recheck is not None:
        recheck()  # outside the except block: a typed error is not chained to the C++ one
    if failure is not None:
        raise failure
    wide = _WIDER.get(tensors[0].dtype)
    if wide is not None:
        real = torch.float64
        up = [t.to(wide if t.is_complex() else real) for t in tensors]
        try:
            out = _call(fn, what, op, *up, *rest)
            if bool(torch.isfinite(out[0]).all()):
                narrow = tensors[0].dtype
                return tuple(o if not (o.is_floating_point() or o.is_complex())
                             else o.to(narrow if o.is_complex() else tensors[1].dtype) for o in out)
        except RuntimeError as exc:
            if _NOT_FINITE not in str(exc):
                raise
    raise ValueError(f"{fn}: {_NOT_FINITE} even in float64: H, p_max and noise (the peak SNR H_kk p_max / noise, "
                     f"or their scale) exceed the floating-point range (docs/wireless.md, Numerics)")


# ---- SISO ------------------------------------------------------------------------------------

@overload
def wmmse(H: torch.Tensor, p_max: Value = ..., noise: Value = ..., weights: Optional[Value] = ...,
          max_iter: int = ..., tol: float = ..., init: Union[SisoInit, torch.Tensor] = ..., amplitude: bool = ...,
          return_state: Literal[False] = ..., return_trajectory: Literal[False] = ...,
          generator: Optional[torch.Generator] = ..., validate: bool = ...) -> torch.Tensor: ...
@overload
def wmmse(H: torch.Tensor, p_max: Value = ..., noise: Value = ..., weights: Optional[Value] = ...,
          max_iter: int = ..., tol: float = ..., init: Union[SisoInit, torch.Tensor] = ..., amplitude: bool = ..., *,
          return_state: Literal[True], return_trajectory: bool = ...,
          generator: Optional[torch.Generator] = ..., validate: bool = ...) -> WMMSEResult: ...
@overload
def wmmse(H: torch.Tensor, p_max: Value = ..., noise: Value = ..., weights: Optional[Value] = ...,
          max_iter: int = ..., tol: float = ..., init: Union[SisoInit, torch.Tensor] = ..., amplitude: bool = ..., *,
          return_state: bool = ..., return_trajectory: Literal[True],
          generator: Optional[torch.Generator] = ..., validate: bool = ...) -> WMMSEResult: ...
@overload
def wmmse(H: torch.Tensor, p_max: Value = ..., noise: Value = ..., weights: Optional[Value] = ...,
          max_iter: int = ..., tol: float = ..., init: Union[SisoInit, torch.Tensor] = ..., amplitude: bool = ...,
          return_state: bool = ..., return_trajectory: bool = ...,
          generator: Optional[torch.Generator] = ..., validate: bool = ...) -> Union[torch.Tensor, WMMSEResult]: ...
def wmmse(H: torch.Tensor, p_max: Value = 1.0, noise: Value = 1.0, weights: Optional[Value] = None,
          max_iter: int = 100, tol: float = 1e-3, init: Union[SisoInit, torch.Tensor] = "full",
          amplitude: bool = False, return_state: bool = False, return_trajectory: bool = False,
          generator: Optional[torch.Generator] = None, validate: bool = True) -> Union[torch.Tensor, WMMSEResult]:
    """Batched WMMSE power control (Shi et al. 2011; Sun et al. 2018 Sec. IV), fused per instance.

    Maximises Σ_k α_k log2(1 + H_kk p_k / (Σ_{j≠k} H_kj p_j + σ_k²)) over 0 <= p <= p_max by
    Jacobi WMMSE updates (Shi et al. 2011) with w = 1 + SINR in its stable form, stopping an
    instance once an update raises the rate by <= `tol` bits (Sun et al.'s rule; other instances
    go on; ``tol <= 0`` runs exactly `max_iter` updates). Not differentiable (a teacher): the
    inputs are detached. A float32 problem whose solution leaves the float32 range (an SNR beyond
    ~1e38, e.g. ``noise=1e-44``) is solved in float64 and cast back (``validate=True``;
    docs/wireless.md, Numerics).

    Args:
        H: (B, K, K) power gains, H[b, i, j] from transmitter j to receiver i (``amplitude=True``:
            amplitudes |h|).
        p_max: power budget: a number, (B,) or broadcastable to (B, K).
        noise: noise power σ² > 0, same shapes as `p_max`.
        weights: rate weights α >= 0 (None: all 1), same shapes as `p_max`.
        max_iter: at most this many updates (1 .. 2^24).
        tol: per-instance stopping threshold in bits (<= 0: run `max_iter` updates).
        init: "full" (p = p_max, the standard), "random" (U(0, p_max) from `generator`) or a (B, K)
            tensor in [0, p_max].
        amplitude: `H` holds amplitudes, squared before use.
        return_state: also return the final receivers u and weights w.
        return_trajectory: also return the objective and the powers after each update.
        generator: the generator of ``init="random"``.
        validate: check values (one host synchronisation on CUDA).

    Returns:
        p (B, K), or a `WMMSEResult` when `return_state` or `return_trajectory`.

    Raises:
        TypeError: `H` or an argument has the wrong type or dtype.
        ValueError: a shape or value is invalid (negative gains, noise <= 0, max_iter < 1, ...).
        RuntimeError: the outputs do not fit in memory.

    Example:
        H = pyalgo.wireless.rayleigh(64, 10)
        p = pyalgo.wireless.wmmse(H, p_max=1.0, noise=1.0)            # (64, 10)
        res = pyalgo.wireless.wmmse(H, return_trajectory=True)         # WMMSEResult
    """
    fn = "pyalgo.wireless.wmmse"
    # The value checks are fused into the kernel (csrc/wireless): the Python ones run first only
    # where the kernel does not check the same rule (amplitudes, whose squares are valid gains
    # even when negative; a given init, which must not exceed p_max), else only when the kernel
    # refuses the inputs (`recheck`), for their typed error.
    upfront = _checking(validate) and (amplitude or not isinstance(init, str))
    _check_channels(fn, H, False, upfront)
    _check_iterations(fn, max_iter, tol)
    B, K = H.shape[0], H.shape[1]
    H_in, H = H, _gains(H.detach(), amplitude)
    detach = lambda x: x.detach() if isinstance(x, torch.Tensor) else x  # noqa: E731
    weights = 1.0 if weights is None else detach(weights)
    p_max, noise = detach(p_max), detach(noise)

    def per_user(check: bool):
        args: Dict[str, Any] = dict(B=B, K=K, dtype=H.dtype, device=H.device, validate=check)
        return (_per_user(fn, "p_max", p_max, positive=True, **args), _per_user(fn, "noise", noise, positive=True, **args),
                _per_user(fn, "weights", weights, positive=False, **args))

    p_max_t, noise_t, alpha = per_user(upfront)
    p0 = _initial_powers(fn, init, p_max_t, generator, validate)

    def recheck():
        _check_channels(fn, H_in, False, True)
        per_user(True)

    p, u, w, iterations, objective, trajectory = _teacher(
        fn, f"max_iter={max_iter} with return_trajectory (B={B}, K={K})", _ops.wmmse_siso,
        (H, p_max_t, noise_t, alpha, p0), (int(max_iter), float(tol), bool(return_trajectory)), validate, recheck)
    if not (return_state or return_trajectory):
        return p
    return WMMSEResult(p, u if return_state else None, w if return_state else None, iterations,
                       objective if return_trajectory else None, trajectory if return_trajectory else None)


def _initial_powers(fn, init, p_max, generator, validate) -> torch.Tensor:
    if isinstance(init, str):
        if init == "full":
            return p_max
        if init == "random":
            if generator is not None and not isinstance(generator, torch.Generator):
                raise TypeError(f"{fn}: generator must be a torch.Generator or None, got {type(generator).__name__}")
            u = torch.rand(p_max.shape, dtype=p_max.dtype, device=p_max.device, generator=generator)
            return u * p_max
        raise ValueError(f'{fn}: init must be "full", "random" or a (B, K) tensor, got {init!r}')
    if not isinstance(init, torch.Tensor):
        raise TypeError(f'{fn}: init must be "full", "random" or a (B, K) tensor, got {type(init).__name__}')
    if init.shape != p_max.shape:
        raise ValueError(f"{fn}: init must have shape {tuple(p_max.shape)}, got {tuple(init.shape)}")
    p0 = init.detach().to(dtype=p_max.dtype, device=p_max.device).contiguous()
    if _checking(validate) and p0.numel() and not bool((torch.isfinite(p0) & (p0 >= 0) & (p0 <= p_max)).all()):
        raise ValueError(f"{fn}: init powers must be finite and in [0, p_max]")
    return p0


def sum_rate(H: torch.Tensor, p: torch.Tensor, noise: Value = 1.0, weights: Optional[Value] = None,
             amplitude: bool = False, per_user: bool = False, validate: bool = True) -> torch.Tensor:
    """Weighted sum rate Σ_k α_k log2(1 + H_kk p_k / (Σ_{j≠k} H_kj p_j + σ_k²)) in bits/s/Hz.

    Differentiable w.r.t. H, p, noise and weights with a fused backward (the unsupervised loss of
    Sun et al. / Ma et al. eq. 3 is ``-sum_rate(H, p).mean()``).

    Args:
        H: (B, K, K) gains (``amplitude=True``: amplitudes |h|).
        p: (B, K) powers >= 0, H's dtype and device.
        noise: noise power σ² > 0: a number, (B,) or broadcastable to (B, K).
        weights: rate weights α >= 0 (None: all 1), same shapes as `noise`.
        amplitude: `H` holds amplitudes, squared before use.
        per_user: return the weighted per-user rates instead of their sum.
        validate: check values (one host synchronisation on CUDA).

    Returns:
        (B,) sum rates, or (B, K) with ``per_user=True``.

    Raises:
        TypeError: wrong types, dtypes or devices.
        ValueError: wrong shapes or invalid values.

    Example:
        H = pyalgo.wireless.rayleigh(64, 10)
        loss = -pyalgo.wireless.sum_rate(H, torch.rand(64, 10)).mean()
    """
    fn = "pyalgo.wireless.sum_rate"
    # As in `wmmse`: the kernel checks the values (gains, powers, noise) in its pass over them; the
    # Python checks run only when it refuses them (CPU: a RuntimeError; CUDA: non-finite rates, the
    # one host synchronisation of a validated call), for their typed error. Amplitudes are checked
    # first (a negative amplitude squares to a valid gain).
    check = _checking(validate)
    _check_channels(fn, H, False, check and amplitude)
    B, K = H.shape[0], H.shape[1]
    p = _check_powers(fn, p, B, K, H, False)
    G = _gains(H, amplitude)
    noise_t = _per_user(fn, "noise", noise, B, K, H.dtype, H.device, positive=True, validate=False)

    def recheck():
        _check_channels(fn, H, False, True)
        _check_powers(fn, p, B, K, H, True)
        _per_user(fn, "noise", noise, B, K, H.dtype, H.device, positive=True, validate=True)

    rates = _rates(_siso_rates, (G, p, noise_t), check, recheck)
    return _weighted(fn, rates, weights, B, K, H, validate, per_user)


def _rates(op, args, check: bool, recheck: Callable[[], object]) -> torch.Tensor:
    """op(*args), a rates op whose kernel checks its inputs' values: when it refuses them (CPU: a
    RuntimeError; CUDA: non-finite rates, the one host synchronisation of a validated call) and
    `check`, `recheck` (the Python value checks) raises their typed error."""
    failure: Optional[RuntimeError] = None
    try:
        rates = op(*args)
    except RuntimeError as exc:
        failure = exc
    if failure is not None:
        if check:
            recheck()  # outside the except block: a typed error is not chained to the C++ one
        raise failure
    if check and not rates.is_cpu and rates.numel() and not bool(torch.isfinite(rates).all()):
        recheck()
    return rates


def _check_powers(fn, p, B, K, H, validate) -> torch.Tensor:
    if not isinstance(p, torch.Tensor):
        raise TypeError(f"{fn}: p must be a torch.Tensor, got {type(p).__name__}")
    if p.shape != (B, K):
        raise ValueError(f"{fn}: p must have shape {(B, K)} to match H, got {tuple(p.shape)}")
    if p.dtype != H.dtype or p.device != H.device:
        raise TypeError(f"{fn}: p must have H's dtype and device ({H.dtype}, {H.device}), got {p.dtype}, {p.device}")
    if _checking(validate) and p.numel() and not bool((torch.isfinite(p) & (p >= 0)).all()):
        raise ValueError(f"{fn}: p must be finite and >= 0")
    return p


def _weighted(fn, rates, weights, B, K, like, validate, per_user) -> torch.Tensor:
    if weights is not None:
        dtype = rates.dtype
        rates = rates * _per_user(fn, "weights", weights, B, K, dtype, like.device, positive=False, validate=validate)
    return rates if per_user else rates.sum(-1)


# ---- MISO ------------------------------------------------------------------------------------

def mrt_init(H: torch.Tensor, p_max: Value = 1.0) -> torch.Tensor:
    """Maximum-ratio transmission V_i = conj(H_i), scaled to total power p_max.

    Args:
        H: (B, K, N) complex channels, finite.
        p_max: a number or (B,) tensor, finite and > 0 (always checked: a negative budget has no
            square root).

    Returns:
        V (B, K, N) complex, with Σ‖V_i‖² = p_max per instance.

    Raises:
        TypeError: `H` is not a complex tensor.
        ValueError: wrong shapes or invalid values.

    Example:
        V = pyalgo.wireless.mrt_init(pyalgo.wireless.rayleigh_miso(8, 4, 6), p_max=10.0)
    """
    fn = "pyalgo.wireless.mrt_init"
    _check_channels(fn, H, True, True)
    p_max = _per_user(fn, "p_max", p_max.detach() if isinstance(p_max, torch.Tensor) else p_max, H.shape[0],
                      H.shape[1], H.real.dtype, H.device, positive=True, validate=True, per_instance_only=True)
    return _mrt(H, p_max)


def _mrt(H: torch.Tensor, p_max: Value) -> torch.Tensor:
    V = H.conj().resolve_conj()
    total = (V.abs() ** 2).sum(dim=(1, 2))
    P = p_max if not isinstance(p_max, torch.Tensor) else p_max.to(total)
    scale = torch.where(total > 0, torch.sqrt(P / total.clamp_min(torch.finfo(total.dtype).tiny)), torch.zeros_like(total))
    return V * scale[:, None, None].to(V.dtype)


@overload
def wmmse_miso(H: torch.Tensor, p_max: Value = ..., noise: Value = ..., weights: Optional[Value] = ...,
               max_iter: int = ..., tol: float = ..., bisection_tol: float = ...,
               init: Union[Literal["mrt"], torch.Tensor] = ..., return_state: Literal[False] = ...,
               return_trajectory: Literal[False] = ..., validate: bool = ...) -> torch.Tensor: ...
@overload
def wmmse_miso(H: torch.Tensor, p_max: Value = ..., noise: Value = ..., weights: Optional[Value] = ...,
               max_iter: int = ..., tol: float = ..., bisection_tol: float = ...,
               init: Union[Literal["mrt"], torch.Tensor] = ..., *, return_state: Literal[True],
               return_trajectory: bool = ..., validate: bool = ...) -> MISOResult: ...
@overload
def wmmse_miso(H: torch.Tensor, p_max: Value = ..., noise: Value = ..., weights: Optional[Value] = ...,
               max_iter: int = ..., tol: float = ..., bisection_tol: float = ...,
               init: Union[Literal["mrt"], torch.Tensor] = ..., *, return_state: bool = ...,
               return_trajectory: Literal[True], validate: bool = ...) -> MISOResult: ...
@overload
def wmmse_miso(H: torch.Tensor, p_max: Value = ..., noise: Value = ..., weights: Optional[Value] = ...,
               max_iter: int = ..., tol: float = ..., bisection_tol: float = ...,
               init: Union[Literal["mrt"], torch.Tensor] = ..., return_state: bool = ...,
               return_trajectory: bool = ..., validate: bool = ...) -> Union[torch.Tensor, MISOResult]: ...
def wmmse_miso(H: torch.Tensor, p_max: Value = 1.0, noise: Value = 1.0, weights: Optional[Value] = None,
               max_iter: int = 100, tol: float = 1e-4, bisection_tol: float = 1e-4,
               init: Union[Literal["mrt"], torch.Tensor] = "mrt", return_state: bool = False,
               return_trajectory: bool = False, validate: bool = True) -> Union[torch.Tensor, MISOResult]:
    """Batched single-cell MISO WMMSE beamforming (Shi et al. 2011 §III).

    Each update solves V_i = (A + μI)⁻¹ α_i w_i u_i conj(H_i),
    A = Σ_i α_i w_i |u_i|² conj(H_i)ᵀ H_i, with μ = 0 if that meets Σ‖V_i‖² <= p_max, else μ by
    bisection until the power is within a factor (1 - bisection_tol) of p_max (never above).
    Stops as `wmmse`. Not differentiable.

    Args:
        H: (B, K, N) complex channels (row i: user i's channel).
        p_max: total power per instance: a number or (B,).
        noise: noise power σ² > 0: a number, (B,) or broadcastable to (B, K).
        weights: rate weights α >= 0 (None: all 1), same shapes as `noise`.
        max_iter: at most this many updates (1 .. 2^24).
        tol: per-instance stopping threshold in bits (<= 0: run `max_iter` updates).
        bisection_tol: relative power tolerance of the μ bisection, in (0, 1).
        init: "mrt" (conjugate channels at full power) or a (B, K, N) complex tensor.
        return_state: also return the final receivers u and weights w.
        return_trajectory: also return the objective and the beamformers after each update.
        validate: check values (one host synchronisation on CUDA).

    Returns:
        V (B, K, N), or a `MISOResult` when `return_state` or `return_trajectory`.

    Raises:
        TypeError: `H` or `init` has the wrong type or dtype.
        ValueError: a shape or value is invalid.
        RuntimeError: the outputs do not fit in memory.

    Example:
        H = pyalgo.wireless.rayleigh_miso(32, 4, 8)
        V = pyalgo.wireless.wmmse_miso(H, p_max=10.0)                  # (32, 4, 8) complex
        rate = pyalgo.wireless.sum_rate_miso(H, V)                       # (32,)
    """
    fn = "pyalgo.wireless.wmmse_miso"
    # As in `wmmse`: the kernel checks H, p_max, noise, weights and the initial beamformers in its
    # pass over them; the Python value checks run first only for a given init (its power <= p_max
    # is not a kernel precondition), else only when the kernel refuses (`recheck`).
    upfront = _checking(validate) and not isinstance(init, str)
    _check_channels(fn, H, True, upfront)
    _check_iterations(fn, max_iter, tol)
    if isinstance(bisection_tol, bool) or not isinstance(bisection_tol, numbers.Real) or not 0 < bisection_tol < 1:
        raise ValueError(f"{fn}: bisection_tol must be a number in (0, 1), got {bisection_tol!r}")
    H_in, H = H, H.detach()
    B, K, N = H.shape
    real = H.real.dtype
    detach = lambda x: x.detach() if isinstance(x, torch.Tensor) else x  # noqa: E731

    def per_user(check: bool):
        args: Dict[str, Any] = dict(B=B, K=K, dtype=real, device=H.device, positive=True, validate=check)
        return (_per_user(fn, "p_max", detach(p_max), per_instance_only=True, **args),
                _per_user(fn, "noise", detach(noise), **args),
                _per_user(fn, "weights", 1.0 if weights is None else detach(weights), **{**args, "positive": False}))

    p_max_t, noise_t, alpha = per_user(upfront)

    def recheck():
        _check_channels(fn, H_in, True, True)
        per_user(True)

    if isinstance(init, str):
        if init != "mrt":
            raise ValueError(f'{fn}: init must be "mrt" or a (B, K, N) complex tensor, got {init!r}')
        V0 = _mrt(H, p_max_t)
    elif isinstance(init, torch.Tensor):
        if init.shape != H.shape or not init.is_complex():
            raise ValueError(f"{fn}: init must be a complex tensor of shape {tuple(H.shape)}, got "
                             f"{init.dtype} {tuple(init.shape)}")
        V0 = init.detach().to(dtype=H.dtype, device=H.device)
        if _checking(validate) and V0.numel():
            power = (V0.abs() ** 2).sum(dim=(1, 2))
            if not bool((torch.isfinite(power) & (power <= p_max_t * (1 + 1e-6))).all()):
                raise ValueError(f"{fn}: init must be finite with total power <= p_max")
    else:
        raise TypeError(f'{fn}: init must be "mrt" or a tensor, got {type(init).__name__}')
    V, u, w, iterations, objective, trajectory = _teacher(
        fn, f"max_iter={max_iter} with return_trajectory (B={B}, K={K}, N={N})", _ops.wmmse_miso,
        (H, p_max_t, noise_t, alpha, V0.contiguous()),
        (int(max_iter), float(tol), float(bisection_tol), bool(return_trajectory)), validate, recheck)
    if not (return_state or return_trajectory):
        return V
    return MISOResult(V, u if return_state else None, w if return_state else None, iterations,
                      objective if return_trajectory else None, trajectory if return_trajectory else None)


def sum_rate_miso(H: torch.Tensor, V: torch.Tensor, noise: Value = 1.0, weights: Optional[Value] = None,
                  per_user: bool = False, validate: bool = True) -> torch.Tensor:
    """Weighted MISO sum rate Σ_i α_i log2(1 + |H_i·V_i|² / (Σ_{j≠i} |H_i·V_j|² + σ_i²)) in bits.

    Differentiable w.r.t. H, V (torch's complex-gradient convention), noise and weights, with a
    fused backward.

    Args:
        H: (B, K, N) complex channels.
        V: (B, K, N) complex beamformers, H's dtype and device.
        noise: noise power σ² > 0: a number, (B,) or broadcastable to (B, K).
        weights: rate weights α >= 0 (None: all 1), same shapes as `noise`.
        per_user: return the weighted per-user rates instead of their sum.
        validate: check values (one host synchronisation on CUDA).

    Returns:
        (B,) sum rates, or (B, K) with ``per_user=True``.

    Raises:
        TypeError: wrong types or dtypes.
        ValueError: wrong shapes or invalid values.

    Example:
        H = pyalgo.wireless.rayleigh_miso(8, 4, 6)
        rate = pyalgo.wireless.sum_rate_miso(H, pyalgo.wireless.mrt_init(H))
    """
    fn = "pyalgo.wireless.sum_rate_miso"
    # As in `sum_rate`: the kernel checks H, V and noise; the Python value checks run only when it
    # refuses them (CPU: a RuntimeError; CUDA: non-finite rates), for their typed error.
    check = _checking(validate)
    _check_channels(fn, H, True, False)
    if not isinstance(V, torch.Tensor):
        raise TypeError(f"{fn}: V must be a torch.Tensor, got {type(V).__name__}")
    if V.shape != H.shape or V.dtype != H.dtype or V.device != H.device:
        raise ValueError(f"{fn}: V must match H's shape, dtype and device {tuple(H.shape)} {H.dtype} {H.device}, "
                         f"got {tuple(V.shape)} {V.dtype} {V.device}")
    B, K, _ = H.shape
    noise_t = _per_user(fn, "noise", noise, B, K, H.real.dtype, H.device, positive=True, validate=False)

    def recheck():
        _check_channels(fn, H, True, True)
        if V.numel() and not bool(torch.isfinite(V).all()):
            raise ValueError(f"{fn}: V must be finite")
        _per_user(fn, "noise", noise, B, K, H.real.dtype, H.device, positive=True, validate=True)

    rates = _rates(_ops.miso_rates, (H, V, noise_t), check, recheck)
    return _weighted(fn, rates, weights, B, K, H, validate, per_user)


# ---- fake kernels ----------------------------------------------------------------------------

@torch.library.register_fake("pyalgo::wmmse_siso")
def _wmmse_siso_fake(gains, p_max, noise, weights, p_init, max_iter, tol, record):
    B, K = gains.shape[0], gains.shape[1]
    T = max_iter + 1 if record else 0
    e = lambda *s: gains.new_empty(s)  # noqa: E731
    return e(B, K), e(B, K), e(B, K), gains.new_empty((B,), dtype=torch.int32), e(B, T), e(B, T, K)


@torch.library.register_fake("pyalgo::siso_rates")
def _siso_rates_fake(gains, p, noise):
    return gains.new_empty(p.shape), gains.new_empty(p.shape)


@torch.library.register_fake("pyalgo::siso_rates_backward")
def _siso_rates_backward_fake(gains, p, noise, interference, grad, gains_grad):
    return gains.new_empty(gains.shape if gains_grad else (0,)), gains.new_empty(p.shape), gains.new_empty(p.shape)


@torch.library.register_fake("pyalgo::wmmse_miso")
def _wmmse_miso_fake(channels, p_max, noise, weights, v_init, max_iter, tol, bisection_tol, record):
    B, K, N = channels.shape
    T = max_iter + 1 if record else 0
    real = noise.dtype
    return (channels.new_empty((B, K, N)), channels.new_empty((B, K)), noise.new_empty((B, K), dtype=real),
            channels.new_empty((B,), dtype=torch.int32), noise.new_empty((B, T)), channels.new_empty((B, T, K, N)))


@torch.library.register_fake("pyalgo::miso_rates")
def _miso_rates_fake(channels, v, noise):
    return noise.new_empty(noise.shape)


@torch.library.register_fake("pyalgo::miso_rates_backward")
def _miso_rates_backward_fake(channels, v, noise, grad, channels_grad):
    return (channels.new_empty(channels.shape if channels_grad else (0,)), channels.new_empty(channels.shape),
            noise.new_empty(noise.shape))


# ---- autograd --------------------------------------------------------------------------------
# First-order backward runs the fused kernels. Under create_graph (double backward) the rates are
# recomputed with the pure-torch reference and differentiated by autograd.

def _rates_setup(ctx, inputs, output):
    ctx.save_for_backward(*inputs)
    ctx.set_materialize_grads(False)


def _siso_rates_setup(ctx, inputs, output):
    # siso_rates -> (rates, interference): the interference I = Σ_{j≠k} g_kj p_j + σ²_k is saved
    # for the fused backward (which then skips recomputing it) and is not differentiable.
    interference = output[1]
    ctx.mark_non_differentiable(interference)
    ctx.save_for_backward(*inputs, interference)
    ctx.set_materialize_grads(False)


def _rates_backward(fused_backward, reference_name: str):
    """Backward of a rates op (channels, powers or beamformers, noise) -> (B, K) rates; with
    siso_rates' interference output (saved last by `_siso_rates_setup`) the fused backward takes it."""
    def backward(ctx, grad, *_non_differentiable):
        if grad is None:
            return None, None, None
        inputs, saved = ctx.saved_tensors[:3], ctx.saved_tensors[3:]
        if double_backward_wanted(*inputs, grad):
            from . import reference
            rates_ref = getattr(reference, reference_name)
            return tuple(reference_grads(inputs, grad, lambda h, x, n: rates_ref(h, x, n, per_user=True)))
        want_h, _, want_noise = ctx.needs_input_grad
        grad_h, grad_x, grad_noise = fused_backward(*inputs, *saved, grad.contiguous(), want_h)
        return grad_h if want_h else None, grad_x, grad_noise if want_noise else None
    return backward


torch.library.register_autograd("pyalgo::siso_rates", _rates_backward(_ops.siso_rates_backward, "sum_rate_ref"),
                                setup_context=_siso_rates_setup)
torch.library.register_autograd("pyalgo::miso_rates", _rates_backward(_ops.miso_rates_backward, "sum_rate_miso_ref"),
                                setup_context=_rates_setup)


# ---- the eager call path of sum_rate ---------------------------------------------------------
# A custom op's Python autograd registration costs ~15 µs per call in eager mode (see
# pyalgo/discrete/ops.py, `_Lean`): eagerly, `sum_rate` runs `siso_rates` through a plain
# autograd.Function that calls the op below autograd (same setup and backward); under
# torch.compile it calls the op itself; under torch.func transforms, the Function's public apply.

_below_autograd = torch._C._AutoDispatchBelowAutograd
_SISO_RATES = _ops.siso_rates.default
_SISO_RATES_BACKWARD = _rates_backward(_ops.siso_rates_backward, "sum_rate_ref")


class _SisoRatesFunction(torch.autograd.Function):
    @staticmethod
    def forward(gains, p, noise):  # type: ignore[override]
        with _below_autograd():
            return _SISO_RATES(gains, p, noise)

    setup_context = staticmethod(_siso_rates_setup)
    backward = staticmethod(_SISO_RATES_BACKWARD)


_SISO_RATES_APPLY = torch._C._FunctionBase.__dict__["apply"].__get__(None, _SisoRatesFunction)


def _siso_rates(gains: torch.Tensor, p: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """(B, K) rates of siso_rates (its interference output stays with the autograd graph)."""
    if torch.compiler.is_compiling():
        return _ops.siso_rates(gains, p, noise)[0]
    if torch._C._are_functorch_transforms_active():
        # The Function's public apply (torch.func.grad works through its setup_context; the op's
        # registered autograd does not support functorch).
        return _SisoRatesFunction.apply(gains, p, noise)[0]
    if torch.is_grad_enabled() and (gains.requires_grad or p.requires_grad or noise.requires_grad):
        return _SISO_RATES_APPLY(gains, p, noise)[0]
    with _below_autograd():
        return _SISO_RATES(gains, p, noise)[0]
