"""Wireless power control (shared/specs/wmmse.md): the batched WMMSE teacher (SISO power control
and MISO beamforming) with fused CPU/CUDA kernels, the differentiable sum rate, seeded channel
generators, and the algorithm-distillation trainer of Ma et al. (arXiv 2308.07511) in
`pyalgo.wireless.distill`.
"""
from .ops import MISOResult, WMMSEResult, mrt_init, sum_rate, sum_rate_miso, wmmse, wmmse_miso
from .channels import D2DChannels, d2d, rayleigh, rayleigh_miso

__all__ = [
    "wmmse",
    "wmmse_miso",
    "sum_rate",
    "sum_rate_miso",
    "mrt_init",
    "WMMSEResult",
    "MISOResult",
    "rayleigh",
    "rayleigh_miso",
    "d2d",
    "D2DChannels",
]
