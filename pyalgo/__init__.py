"""pyalgo: fused CPU/CUDA PyTorch kernels for recent ML methods.

Discrete gradient estimators (ReinMax and peers) live in `pyalgo.discrete` and are re-exported
here; the WMMSE teacher, sum rate and distillation trainer live in `pyalgo.wireless`; the
min-min energy-model losses, samplers and trainer in `pyalgo.energy`; GO4Align and the multi-task
weighting baselines in `pyalgo.multitask`; the edge AIGC Gymnasium environment and the ADSAC / D2SAC
agents in `pyalgo.edge` (agents in `pyalgo.edge.agents`).
"""
from .version import __version__
from ._ext import has_cuda, build_info
from ._rng import philox_uniform
from .discrete import reinmax, straight_through, gumbel_softmax, gst, gumbel_rao
from . import wireless
from . import energy
from . import multitask
from . import edge

__all__ = [
    "__version__",
    "has_cuda",
    "build_info",
    "philox_uniform",
    "reinmax",
    "straight_through",
    "gumbel_softmax",
    "gst",
    "gumbel_rao",
    "wireless",
    "energy",
    "multitask",
    "edge",
]
