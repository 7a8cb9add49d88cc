"""The registry of categorical gradient estimators: one record per estimator, one name each.

`ESTIMATORS[name]` holds the fused op, its pure-torch reference, the paper's label and the keyword
arguments that make the op that estimator (ST-GS is `gumbel_softmax(hard=True)`, GST-1.0 is
`gst(gap=1.0)`, GR-MCK is `gumbel_rao(k=100)`, the paper code's K; ReinMax-Rao is `reinmax_rao(k=100)` and
ReinMax-CV `reinmax_cv(eta=0.5, tau2=1.0, k=100, cv_noise="soft")`, Wang & Bui 2026). The diagnostics, the
reproduction and the benchmark take their names, labels and calls from here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional

import torch

from . import beyond, ops, reference


@dataclass(frozen=True)
class Estimator:
    """A categorical gradient estimator.

    - `name`: its key in `ESTIMATORS` (what `pyalgo.discrete.diagnostics` takes);
    - `label`: the paper's name ("ReinMax", "ST", "ST-GS", "GST-1.0", "GR-MCK", "ReinMax-Rao", "ReinMax-CV");
    - `fn` / `reference`: the fused op and its pure-torch reference, called as
      `fn(logits, tau, **defaults, **kw)`;
    - `defaults`: the keyword arguments that make `fn` this estimator;
    - `pair`: whether it returns (y_hard, y_soft) (ReinMax, ReinMax-Rao, ReinMax-CV) rather than y alone;
    - `given_sample`: its backward for a given sample, (fn_name, logits (N, L, C), index (N, L) int32,
      grad (N, L, C), tau, **defaults) -> dL/dlogits; None where the gradient is random given the
      sample (it draws Gumbels)."""
    name: str
    label: str
    fn: Callable[..., Any]
    reference: Callable[..., Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    pair: bool = False
    given_sample: Optional[Callable[..., torch.Tensor]] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))

    def __call__(self, logits: torch.Tensor, tau: float = 1.0, **kw: Any) -> Any:
        """The fused op with this estimator's defaults (`kw` overrides them)."""
        return self.fn(logits, tau, **{**self.defaults, **kw})

    def ref(self, logits: torch.Tensor, tau: float = 1.0, **kw: Any) -> Any:
        """The pure-torch reference with the same defaults (categories along the last dim)."""
        return self.reference(logits, tau, **{**self.defaults, **kw})

    def sample(self, outputs: Any) -> torch.Tensor:
        """The output that carries the estimator's gradient: y_hard of a pair, else y."""
        return outputs[0] if self.pair else outputs


ESTIMATORS: Mapping[str, Estimator] = MappingProxyType({e.name: e for e in (
    Estimator("reinmax", "ReinMax", ops.reinmax, reference.reinmax_ref, pair=True,
              given_sample=ops.reinmax_given_sample),
    Estimator("st", "ST", ops.straight_through, reference.straight_through_ref,
              given_sample=ops.straight_through_given_sample),
    Estimator("gumbel_softmax", "ST-GS", ops.gumbel_softmax, reference.gumbel_softmax_ref, {"hard": True}),
    Estimator("gst", "GST-1.0", ops.gst, reference.gst_ref, {"gap": 1.0}, given_sample=ops.gst_given_sample),
    Estimator("gumbel_rao", "GR-MCK", ops.gumbel_rao, reference.gumbel_rao_ref, {"k": 100}),
    Estimator("reinmax_rao", "ReinMax-Rao", beyond.reinmax_rao, reference.reinmax_rao_ref, {"k": 100}, pair=True),
    Estimator("reinmax_cv", "ReinMax-CV", beyond.reinmax_cv, reference.reinmax_cv_ref,
              {"eta": 0.5, "tau2": 1.0, "k": 100, "cv_noise": "soft"}, pair=True),
)})


def get_estimator(name: str, fn: str = "pyalgo.discrete.get_estimator") -> Estimator:
    """`ESTIMATORS[name]`, or a ValueError from `fn` listing the names.

    Args:
        name: "reinmax", "st", "gumbel_softmax", "gst", "gumbel_rao", "reinmax_rao" or "reinmax_cv".
        fn: the function named in the error.

    Returns:
        The `Estimator`.

    Raises:
        ValueError: unknown `name`.

    Example:
        est = pyalgo.discrete.get_estimator("gst")
        y = est(torch.randn(8, 5))
    """
    if name not in ESTIMATORS:
        raise ValueError(f"{fn}: estimator must be one of {', '.join(ESTIMATORS)}, got {name!r}")
    return ESTIMATORS[name]


__all__ = ["Estimator", "ESTIMATORS", "get_estimator"]
