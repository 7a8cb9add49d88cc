"""pyalgo: fused CPU/CUDA PyTorch kernels for recent ML methods.

- `pyalgo.discrete`: ReinMax, ReinMax-Rao/CV and the other categorical gradient estimators (re-exported here);
- `pyalgo.wireless`: the batched WMMSE teacher, the sum rate, students and critics;
- `pyalgo.energy`: min-min losses for energy models and their log-partition, samplers, energies;
- `pyalgo.multitask`: GO4Align and the multi-task loss-weighting baselines;
- `pyalgo.edge`: the edge AIGC Gymnasium environment and the ADSAC / D2SAC agents;
- `pyalgo.lab`: reproductions of the papers' results and benchmarks (`pyalgo reproduce`, `pyalgo bench`).

Submodules and the re-exported ops load on first use, so `import pyalgo` is cheap and the command
line starts without loading torch.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, List

from .version import __version__

_SUBMODULES = ("discrete", "wireless", "energy", "multitask", "edge", "lab")
_ATTRIBUTES = {
    "has_cuda": "._ext", "build_info": "._ext", "philox_uniform": "._rng",
    "reinmax": ".discrete", "straight_through": ".discrete", "gumbel_softmax": ".discrete", "gst": ".discrete",
    "gumbel_rao": ".discrete", "reinmax_rao": ".discrete", "reinmax_cv": ".discrete",
}

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time these load lazily
    from . import discrete, edge, energy, lab, multitask, wireless  # noqa: F401
    from ._ext import build_info, has_cuda  # noqa: F401
    from ._rng import philox_uniform  # noqa: F401
    from .discrete import gst, gumbel_rao, gumbel_softmax, reinmax, reinmax_cv, reinmax_rao, straight_through  # noqa: F401

__all__ = ["__version__", *_ATTRIBUTES, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _ATTRIBUTES:
        value = getattr(importlib.import_module(_ATTRIBUTES[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pyalgo' has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
