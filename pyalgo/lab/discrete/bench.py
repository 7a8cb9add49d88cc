"""Benchmark of the fused categorical gradient estimators: `pyalgo bench discrete`.

One case per estimator of `pyalgo.discrete.ESTIMATORS` (named by its key, with its defaults: ST-GS is
`gumbel_softmax` with hard=True, GR-MCK has K = 100), plus `gumbel_softmax_soft` (hard=False), at τ = 1
on logits of N×C = 3000×10, 8192×2, 4096×64 and 65536×1024. Providers, all on the same logits:

- `pyalgo`: the fused op; `reference`: its pure-torch reference (`pyalgo.discrete.reference`), also
  timed under torch.compile (not in --quick);
- what users run today: the `reinmax` package (ReinMax; `pip install reinmax`), `F.gumbel_softmax`
  (ST-GS and the soft Gumbel-softmax), `OneHotCategoricalStraightThrough` (ST, which is the same
  estimator at τ = 1).

The upstream gradient goes to the hard sample only (ReinMax's y_soft gets none, the usual
decoder-input use). Checks before timing: every provider's rows are one-hot (simplex rows for the
soft case) and its gradient finite and non-zero; ReinMax's fused backward on the fused sample equals
the `reinmax` package's backward on that sample (1e-4); ST's gradient equals
OneHotCategoricalStraightThrough's (1e-4). `reinmax_bandwidth` times ReinMax's forward and backward
kernels next to `dst.copy_(src)` of the same bytes (the least either kernel must move). `fixed_cost`
times one ReinMax call at 1×2 against `torch.softmax` fwd+bwd of the same shape.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch.distributions import OneHotCategoricalStraightThrough

from pyalgo.discrete import ESTIMATORS, Estimator

from ..harness.bench import Case, Inputs, Provider, Target, shape_str, speedup

try:
    import reinmax as reinmax_package
    from reinmax.reinmax import ReinMax_Auto
except ImportError:  # the comparison needs `pip install reinmax` (the "bench" extra)
    reinmax_package = None

TITLE = "Discrete estimators: the fused ops against their references and what users run today"
TAU = 1.0          # OneHotCategoricalStraightThrough is ST at τ = 1 only
SHAPES = [(3000, 10), (8192, 2), (4096, 64), (65536, 1024)]
QUICK_SHAPES = [(3000, 10)]
DRAW_SHAPES = [(3000, 10), (4096, 64)]   # the estimators with K Gumbel draws per row (GR-MCK, ReinMax-Rao/CV)
TOLERANCE = 1e-4
PACKAGE, ONE_HOT_ST, COPY = "reinmax package", "OneHotCategoricalStraightThrough", "dst.copy_(src)"
BANDWIDTH_SHAPE, BANDWIDTH_GOAL = (65536, 1024), 0.4
FIXED_SHAPE, FIXED_GOAL, SOFTMAX = (1, 2), 1.5, "torch.softmax"


def _setup(shape: Any, dtype: torch.dtype, device: torch.device) -> Inputs:
    logits = torch.randn(shape).to(device, dtype).requires_grad_()
    return Inputs((logits,), (logits,))


def _upstream(x: torch.Tensor) -> torch.Tensor:
    return torch.randn(x.shape, generator=torch.Generator().manual_seed(1)).to(x)


# -- providers ----------------------------------------------------------------------------------------

def _fused(est: Estimator, **kw: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: est.sample(est(x, TAU, **kw))


def _reference(est: Estimator, **kw: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: est.sample(est.ref(x, TAU, **kw))


def _package(x: torch.Tensor) -> torch.Tensor:
    return reinmax_package.reinmax(x, TAU)[0]


COMPETITORS: Dict[str, List[Provider]] = {
    "reinmax": [Provider(PACKAGE, _package)] if reinmax_package is not None else [],
    "st": [Provider(ONE_HOT_ST, lambda x: OneHotCategoricalStraightThrough(logits=x).rsample())],
    "gumbel_softmax": [Provider("F.gumbel_softmax(hard=True)", lambda x: F.gumbel_softmax(x, TAU, hard=True))],
    "gumbel_softmax_soft": [Provider("F.gumbel_softmax(hard=False)", lambda x: F.gumbel_softmax(x, TAU, hard=False))],
}


# -- checks -------------------------------------------------------------------------------------------

def _output_problem(y: torch.Tensor, shape: torch.Size, soft: bool) -> Optional[str]:
    """Shape, finiteness, and one-hot rows (simplex rows when soft)."""
    if y.shape != shape:
        return f"output shape {tuple(y.shape)} != {tuple(shape)}"
    y = y.detach().float()
    if not torch.isfinite(y).all():
        return "non-finite output"
    if soft:
        return None if (y >= 0).all() and (y.sum(-1) - 1).abs().max() <= TOLERANCE else "rows are not on the simplex"
    hard = y.round()
    if (y - hard).abs().max() > 1e-5 or ((hard != 0) & (hard != 1)).any() or (hard.sum(-1) != 1).any():
        return "rows are not one-hot"
    return None


def _grad_problem(grad: torch.Tensor) -> Optional[str]:
    if not torch.isfinite(grad).all():
        return "non-finite gradient"
    return "gradient is all zero" if grad.abs().max() == 0 else None


def _close(a: torch.Tensor, b: torch.Tensor, what: str) -> Optional[str]:
    err = (a.float() - b.float()).abs().max().item()
    return None if err <= TOLERANCE else f"{what} by {err:.2e}"


Outputs = Dict[str, Any]


def _same_as_package(x: torch.Tensor, g: torch.Tensor, outputs: Outputs, grads: Outputs) -> Optional[str]:
    """ReinMax's fused backward on the fused sample vs the package's backward on the same sample."""
    if reinmax_package is None:
        return None
    x = x.detach()
    y_hard = outputs["pyalgo"].detach()
    ours = ESTIMATORS["reinmax"].given_sample("pyalgo bench discrete", x, y_hard.argmax(-1).to(torch.int32), g, TAU)
    ctx = SimpleNamespace(saved_tensors=(y_hard, x, x.softmax(-1), torch.tensor([TAU], device=x.device)))
    theirs, _ = ReinMax_Auto.backward(ctx, g, torch.zeros_like(g))
    return _close(ours, theirs, "the fused backward differs from the reinmax package's")


def _same_as_torch_st(x: torch.Tensor, g: torch.Tensor, outputs: Outputs, grads: Outputs) -> Optional[str]:
    """ST's gradient does not depend on the sample: it must equal OneHotCategoricalStraightThrough's."""
    if ONE_HOT_ST not in grads:
        return None
    return _close(grads["pyalgo"], grads[ONE_HOT_ST], f"the gradient differs from {ONE_HOT_ST}'s")


def _check(soft: bool, compare: Optional[Callable[..., Optional[str]]] = None):
    def check(inputs: Inputs, outputs: Dict[str, Any]) -> Optional[str]:
        (x,) = inputs.args
        g = _upstream(x)
        grads = {}
        for name, y in outputs.items():
            problem = _output_problem(y, x.shape, soft)
            if problem is None:
                grads[name] = torch.autograd.grad(y, x, g)[0]
                problem = _grad_problem(grads[name])
            if problem:
                return f"{name}: {problem}"
        return compare(x, g, outputs, grads) if compare else None
    return check


# -- cases --------------------------------------------------------------------------------------------

def _case(name: str, soft: bool = False, shapes: List[Any] = SHAPES, compare=None) -> Case:
    est = ESTIMATORS[name]
    kw = {"hard": False} if soft else {}
    key = name + ("_soft" if soft else "")
    options = {"tau": TAU, **est.defaults, **kw}
    call = f"pyalgo.{est.fn.__name__}(" + ", ".join(f"{k}={v!r}" for k, v in options.items()) + ")"
    return Case(key, _setup, [Provider("pyalgo", _fused(est, **kw)), Provider("reference", _reference(est, **kw)),
                              *COMPETITORS.get(key, [])],
                shapes, QUICK_SHAPES, check=_check(soft, compare), compile="reference",
                params=",".join(f"{k}={v}" for k, v in options.items()),
                description=f"{'Gumbel-softmax, the soft relaxation' if soft else est.label}: `{call}`.")


def _bandwidth_setup(shape: Any, dtype: torch.dtype, device: torch.device) -> Inputs:
    """ReinMax reads the logits and writes y_hard, y_soft and the int32 index (forward); it reads the
    logits, the index and the gradient and writes the logits' gradient (backward): 3·N·C values and
    N indices either way. The copy moves the same bytes (half read, half written)."""
    n, c = shape
    x, g = torch.randn(shape).to(device, dtype), torch.randn(shape).to(device, dtype)
    index = torch.randint(0, c, (n,), device=device, dtype=torch.int32)
    nbytes = 3 * n * c * x.element_size() + 4 * n
    src = torch.randn(nbytes // 2 // x.element_size()).to(device, dtype)
    return Inputs((x, index, g, src, torch.empty_like(src)), bytes=nbytes)


def _bandwidth_check(inputs: Inputs, outputs: Dict[str, Any]) -> Optional[str]:
    problem = _output_problem(outputs["pyalgo"][0], inputs.args[0].shape, False)
    bad = [name for name, y in outputs.items() if not torch.isfinite(y[0] if isinstance(y, tuple) else y).all()]
    return problem or (f"non-finite output from {', '.join(bad)}" if bad else None)


BANDWIDTH = Case(
    "reinmax_bandwidth", _bandwidth_setup,
    [Provider("pyalgo", lambda x, index, g, src, dst: ESTIMATORS["reinmax"](x, TAU)),
     Provider("pyalgo backward", lambda x, index, g, src, dst: ESTIMATORS["reinmax"].given_sample(
         "pyalgo bench discrete", x, index, g, TAU)),
     Provider(COPY, lambda x, index, g, src, dst: dst.copy_(src))],
    SHAPES, QUICK_SHAPES, modes=("call",), check=_bandwidth_check, params=f"tau={TAU}",
    description=f"ReinMax's forward (`pyalgo`) and backward kernels against `{COPY}` of the same bytes, without "
                f"autograd. The {COPY} ratio is the share of a copy's bandwidth that the forward achieves.")

def _fixed_check(inputs: Inputs, outputs: Dict[str, Any]) -> Optional[str]:
    return _output_problem(outputs["pyalgo"][0], inputs.args[0].shape, False)


FIXED_COST = Case(
    "fixed_cost", _setup,
    [Provider("pyalgo", lambda x: ESTIMATORS["reinmax"](x, TAU)), Provider(SOFTMAX, lambda x: torch.softmax(x, -1))],
    [FIXED_SHAPE], [FIXED_SHAPE], modes=("forward", "forward+backward"), check=_fixed_check, params=f"tau={TAU}",
    description=f"The fixed cost of one call: `pyalgo.reinmax` (both outputs get a gradient) against `{SOFTMAX}` of "
                "the same shape, the cheapest differentiable op a user could call instead.")

CASES = [
    FIXED_COST,
    _case("reinmax", compare=_same_as_package),
    _case("st", compare=_same_as_torch_st),
    _case("gumbel_softmax"),
    _case("gumbel_softmax", soft=True),
    _case("gst"),
    # GR-MCK's backward does K·C work per row: at 65536×1024 one call takes over a minute on a CPU and
    # the reference's noise alone needs N·K·C floats (27 GB), so its largest shape is left out.
    _case("gumbel_rao", shapes=DRAW_SHAPES),
    # ReinMax-Rao / ReinMax-CV: K = 100 conditional draws per row in backward, like GR-MCK.
    _case("reinmax_rao", shapes=DRAW_SHAPES),
    _case("reinmax_cv", shapes=DRAW_SHAPES),
    BANDWIDTH,
]


def _bandwidth_share(provider: str, text: str) -> Target:
    shape = shape_str(BANDWIDTH_SHAPE)

    def measure(table):
        t = max(table.threads, default=1)
        ours = table.median(case=BANDWIDTH.name, provider=provider, shape=shape, mode="call", threads=t)
        copy = table.median(case=BANDWIDTH.name, provider=COPY, shape=shape, mode="call", threads=t)
        if ours is None or copy is None:
            return None
        return f"{100 * copy / ours:.0f}% ({t} thr)", copy / ours >= BANDWIDTH_GOAL
    return Target(f"ReinMax {text} at {shape}: share of a copy's bandwidth", f">= {100 * BANDWIDTH_GOAL:.0f}%",
                  measure, ((BANDWIDTH.name, shape),))


def _fixed_cost() -> Target:
    shape = shape_str(FIXED_SHAPE)

    def measure(table):
        t = min(table.threads, default=1)
        ours = table.median(case=FIXED_COST.name, provider="pyalgo", shape=shape, mode="forward+backward", threads=t)
        base = table.median(case=FIXED_COST.name, provider=SOFTMAX, shape=shape, mode="forward+backward", threads=t)
        if ours is None or base is None:
            return None
        return f"{ours / base:.2f}x ({t} thr)", ours / base <= FIXED_GOAL
    return Target(f"ReinMax fwd+bwd at {shape}: cost against {SOFTMAX} fwd+bwd", f"<= {FIXED_GOAL:g}x", measure,
                  ((FIXED_COST.name, shape),))


def _draw_cost(name: str, shape: Any) -> Target:
    """ReinMax-Rao / ReinMax-CV: one fwd+bwd call against ReinMax's (reported) and GR-MCK's (goal: no
    dearer than GR-MCK at the same K, the cost their authors state)."""
    key = shape_str(shape)

    def measure(table):
        t = max(table.threads, default=1)
        ours, rm, gr = (table.median(case=case, provider="pyalgo", shape=key, mode="forward+backward", threads=t)
                        for case in (name, "reinmax", "gumbel_rao"))
        if ours is None or gr is None:
            return None
        vs_rm = f"{ours / rm:.0f}x ReinMax, " if rm else ""
        return f"{vs_rm}{ours / gr:.2f}x GR-MCK ({t} thr)", ours <= gr
    return Target(f"{ESTIMATORS[name].label} fwd+bwd at {key}: cost per call", "<= GR-MCK's (K = 100)", measure,
                  ((name, key), ("gumbel_rao", key)))


TARGETS = [
    _fixed_cost(),
    speedup("reinmax", (3000, 10), PACKAGE, 15.0),
    speedup("reinmax", (8192, 2), PACKAGE, 8.0),
    speedup("reinmax", (4096, 64), PACKAGE, 10.0),
    speedup("reinmax", (65536, 1024), PACKAGE, 8.0),
    speedup("gumbel_softmax", (4096, 64), "F.gumbel_softmax(hard=True)", 5.0),
    _draw_cost("reinmax_rao", (4096, 64)),
    _draw_cost("reinmax_cv", (4096, 64)),
    _bandwidth_share("pyalgo", "forward"),
    _bandwidth_share("pyalgo backward", "backward"),
]

NOTES = [
    "Cases are named by their key in `pyalgo.discrete.ESTIMATORS`: `gumbel_softmax` is ST-GS (hard=True), "
    "`gumbel_softmax_soft` the soft relaxation, `gumbel_rao` GR-MCK. The upstream gradient goes to the hard "
    "sample only. torch.compile(reference) is compiled again for each shape and thread count and warmed up "
    "before timing.",
]
