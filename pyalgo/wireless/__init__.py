"""Wireless power control: the batched WMMSE teacher (SISO power control and MISO beamforming) with
fused CPU/CUDA kernels, the differentiable sum rate, seeded channel generators, and the neural
students and critics of algorithm distillation (Ma et al., arXiv 2308.07511). The distillation
trainer, the reproduction and the benchmark are in the lab: `pyalgo.lab.wireless`. See
docs/wireless.md.
"""
from .ops import MISOResult, WMMSEResult, mrt_init, sum_rate, sum_rate_miso, wmmse, wmmse_miso
from .channels import D2DChannels, d2d, rayleigh, rayleigh_miso
from .students import (GNNCritic, GNNStudent, MLPCritic, MLPStudent, StudentOutput, UnrolledWMMSEStudent,
                       default_critic)

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
    "MLPStudent",
    "GNNStudent",
    "UnrolledWMMSEStudent",
    "MLPCritic",
    "GNNCritic",
    "StudentOutput",
    "default_critic",
]
