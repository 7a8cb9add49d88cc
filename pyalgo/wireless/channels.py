"""Seeded channel generators (docs/wireless.md).

SISO gains follow the ops' convention G[b, i, j] = |h|² from transmitter j to receiver i
(row = receiver). Randomness comes from the `generator` (torch's default one when None) and is
drawn on the generator's device, so the same seed gives the same channels on every `device`.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional, Union

import torch

from ._checks import allocating


def _check_count(fn: str, name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"pyalgo.wireless.{fn}: {name} must be an int >= {minimum}, got {value!r}")
    if value > MAX_COUNT:
        raise ValueError(f"pyalgo.wireless.{fn}: {name} must be at most 2^40, got {value!r}")


# A count above this is refused before any arithmetic with it; a product of counts that torch cannot
# allocate is reported by `_checks.allocating`, naming the counts.
MAX_COUNT = 2**40


def _check_size(fn: str, names: str, *counts) -> None:
    total = 1
    for c in counts:
        total *= c
    if total > 2**62:
        raise ValueError(f"pyalgo.wireless.{fn}: {names} are too large together ({total} elements)")




def _check_positive(fn: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"pyalgo.wireless.{fn}: {name} must be a finite number > 0, got {value!r}")


def _check_generator(fn: str, generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"pyalgo.wireless.{fn}: generator must be a torch.Generator or None, "
                        f"got {type(generator).__name__}")


def _check_dtype(fn: str, dtype, allowed) -> None:
    if dtype not in allowed:
        names = ", ".join(str(d) for d in allowed)
        raise ValueError(f"pyalgo.wireless.{fn}: dtype must be one of {names}, got {dtype}")


def _draw_device(generator: Optional[torch.Generator], device) -> torch.device:
    return generator.device if generator is not None else torch.device(device)


def rayleigh(batch: int, K: int, *, generator: Optional[torch.Generator] = None,
             dtype: torch.dtype = torch.float32, device: Union[str, torch.device] = "cpu",
             amplitude: bool = False) -> torch.Tensor:
    """K-user Gaussian interference channel of Sun et al. (`generate_Gaussian`).

    h_ij ~ CN(0, 1) i.i.d., i.e. (a + ib)/√2 with a, b ~ N(0, 1) -> gains |h_ij|² ~ Exp(1), or the
    amplitudes |h_ij| (Rayleigh) with amplitude=True.

    Args:
        batch: B >= 0 instances.
        K: users >= 1.
        generator: the random source (None: torch's default); draws on its device.
        dtype: float32 or float64.
        device: where the result goes.
        amplitude: return |h| instead of |h|².

    Returns:
        (B, K, K) gains (or amplitudes).

    Raises:
        TypeError: `generator` is not a torch.Generator.
        ValueError: invalid counts or dtype.
        RuntimeError: the channels do not fit in memory.

    Example:
        H = pyalgo.wireless.rayleigh(64, 10, generator=torch.Generator().manual_seed(0))
    """
    _check_count("rayleigh", "batch", batch, 0)
    _check_count("rayleigh", "K", K, 1)
    _check_generator("rayleigh", generator)
    _check_dtype("rayleigh", dtype, (torch.float32, torch.float64))
    _check_size("rayleigh", "batch and K", batch, K, K, 2)
    with allocating("pyalgo.wireless.rayleigh", f"the channels for batch={batch}, K={K}"):
        parts = torch.randn(batch, K, K, 2, generator=generator, dtype=dtype,
                            device=_draw_device(generator, device))
        gains = (parts ** 2).sum(-1).to(device) / 2
        return gains.sqrt() if amplitude else gains


def rayleigh_miso(batch: int, K: int, N: int, *, generator: Optional[torch.Generator] = None,
                  dtype: torch.dtype = torch.complex64, device: Union[str, torch.device] = "cpu") -> torch.Tensor:
    """Single-cell MISO downlink channels H, i.i.d. CN(0, 1) entries (Shi et al. 2011).

    Args:
        batch: B >= 0 instances.
        K: users >= 1.
        N: transmit antennas >= 1.
        generator: the random source (None: torch's default); draws on its device.
        dtype: complex64 or complex128.
        device: where the result goes.

    Returns:
        (B, K, N) complex channels.

    Raises:
        TypeError: `generator` is not a torch.Generator.
        ValueError: invalid counts or dtype.
        RuntimeError: the channels do not fit in memory.

    Example:
        H = pyalgo.wireless.rayleigh_miso(32, 4, 8)
    """
    _check_count("rayleigh_miso", "batch", batch, 0)
    _check_count("rayleigh_miso", "K", K, 1)
    _check_count("rayleigh_miso", "N", N, 1)
    _check_generator("rayleigh_miso", generator)
    _check_dtype("rayleigh_miso", dtype, (torch.complex64, torch.complex128))
    _check_size("rayleigh_miso", "batch, K and N", batch, K, N, 2)
    with allocating("pyalgo.wireless.rayleigh_miso", f"the channels for batch={batch}, K={K}, N={N}"):
        H = torch.randn(batch, K, N, generator=generator, dtype=dtype, device=_draw_device(generator, device))
        return H.to(device)


class D2DChannels(NamedTuple):
    """The output of `d2d`: three (B, K, K) tensors."""
    gains: torch.Tensor      # (B, K, K) G[b, i, j] = gain from transmitter j to receiver i
    distances: torch.Tensor  # (B, K, K) ||rx_i − tx_j|| in metres (diagonal: pair lengths)
    adjacency: torch.Tensor  # (B, K, K) bool, edge j -> i when tx j is within `threshold` of rx i, i != j


def d2d(batch: int, K: int, *, generator: Optional[torch.Generator] = None, area_per_pair: float = 5000.0,
        d_min: float = 2.0, d_max: float = 65.0, pathloss_exponent: float = 3.7, snr_db: float = 10.0,
        threshold: float = 150.0, fading: bool = True, dtype: torch.dtype = torch.float32,
        device: Union[str, torch.device] = "cpu") -> D2DChannels:
    """Device-to-device layouts with path loss and Rayleigh fading (AD paper §II-A; geometry of
    Cui, Shen & Yu's spatial-learning generator, `yshenaw/GNN-Resource-Management`).

    Layout, per instance: K transmitters uniform in a square of side √(K · area_per_pair) metres
    (default 5000 m² per pair, i.e. 500 m × 500 m for K = 50, so the density does not change
    with K); receiver i at a uniform distance in [d_min, d_max] (default 2-65 m) and a uniform
    angle from transmitter i (it may fall slightly outside the square).
    Gain from tx j to rx i, with d = max(distances[i, j], d_min) (no near-field blow-up):
        G_ij = 10^(snr_db/10) · (d / d_max)^(−pathloss_exponent) · |h_ij|²,  h_ij ~ CN(0, 1)
    (|h|² = 1 with fading=False). So with p = 1 and noise = 1, a direct link at the longest pair
    distance d_max has mean SNR `snr_db` (default 10 dB), shorter links more.
    Interference graph (the AD paper's): an edge j -> i (i != j) when ||rx_i − tx_j|| < threshold
    (default 150 m, where the mean interference is ≈ 13 dB below a d_max signal for exponent 3.7;
    math.inf gives the complete graph). Positions and fading are drawn in float64, then cast.

    Args:
        batch: B >= 0 instances.
        K: pairs >= 1.
        generator: the random source (None: torch's default).
        area_per_pair: m² of the square per pair, > 0.
        d_min: shortest pair length (and distance floor) in metres, > 0.
        d_max: longest pair length in metres, >= d_min.
        pathloss_exponent: > 0.
        snr_db: mean SNR of a direct link of length d_max.
        threshold: interference-graph radius in metres, > 0 (math.inf: complete graph).
        fading: multiply by |h|² ~ Exp(1).
        dtype: float32 or float64.
        device: where the results go.

    Returns:
        `D2DChannels(gains, distances, adjacency)`, all (B, K, K).

    Raises:
        TypeError: `generator` is not a torch.Generator.
        ValueError: an invalid count, distance, exponent, threshold or dtype.
        RuntimeError: the channels do not fit in memory.

    Example:
        ch = pyalgo.wireless.d2d(16, 50, generator=torch.Generator().manual_seed(0))
        p = pyalgo.wireless.wmmse(ch.gains)
    """
    fn = "d2d"
    _check_count(fn, "batch", batch, 0)
    _check_count(fn, "K", K, 1)
    _check_generator(fn, generator)
    _check_dtype(fn, dtype, (torch.float32, torch.float64))
    for name, value in [("area_per_pair", area_per_pair), ("d_min", d_min), ("d_max", d_max),
                        ("pathloss_exponent", pathloss_exponent)]:
        _check_positive(fn, name, value)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise ValueError(f"pyalgo.wireless.{fn}: threshold must be a number > 0 (math.inf for a complete "
                         f"graph), got {threshold!r}")
    if d_min > d_max:
        raise ValueError(f"pyalgo.wireless.{fn}: d_min must be <= d_max, got d_min={d_min}, d_max={d_max}")
    if isinstance(snr_db, bool) or not isinstance(snr_db, (int, float)) or not math.isfinite(snr_db):
        raise ValueError(f"pyalgo.wireless.{fn}: snr_db must be a finite number, got {snr_db!r}")

    _check_size(fn, "batch and K", batch, K, K, 2)
    with allocating(f"pyalgo.wireless.{fn}", f"the channels for batch={batch}, K={K}"):
        return _d2d(batch, K, generator, area_per_pair, d_min, d_max, pathloss_exponent, snr_db, threshold,
                    fading, dtype, device)


def _d2d(batch, K, generator, area_per_pair, d_min, d_max, pathloss_exponent, snr_db, threshold, fading,
         dtype, device) -> D2DChannels:
    draw = dict(generator=generator, dtype=torch.float64, device=_draw_device(generator, device))
    side = math.sqrt(K * area_per_pair)
    tx = side * torch.rand(batch, K, 2, **draw)
    pair_length = d_min + (d_max - d_min) * torch.rand(batch, K, **draw)
    angle = 2 * math.pi * torch.rand(batch, K, **draw)
    rx = tx + pair_length.unsqueeze(-1) * torch.stack([angle.cos(), angle.sin()], dim=-1)
    distances = (rx.unsqueeze(2) - tx.unsqueeze(1)).norm(dim=-1)  # [b, i, j] = ||rx_i − tx_j||

    gains = 10 ** (snr_db / 10) * (distances.clamp_min(d_min) / d_max) ** (-pathloss_exponent)
    if fading:
        gains = gains * (torch.randn(batch, K, K, 2, **draw) ** 2).sum(-1) / 2
    off_diagonal = ~torch.eye(K, dtype=torch.bool, device=distances.device)
    adjacency = (distances < threshold) & off_diagonal
    return D2DChannels(gains.to(device=device, dtype=dtype), distances.to(device=device, dtype=dtype),
                       adjacency.to(device))


__all__ = ["rayleigh", "rayleigh_miso", "D2DChannels", "d2d"]
