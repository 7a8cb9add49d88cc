"""Benchmark of the fused min-min loss: `pyalgo bench energy`.

The per-example logistic min-min loss (uniform prior) with gradients to the energies and τ, "forward"
and "forward+backward", for

- unary           B = 256, k = 14, m = 1000   (the target shape: yeast's 14 labels)  and  k = 100, m = 100
- pairwise        B = 256, k = 14, m = 1000
- permutahedron   B = 64,  n = 8,  m = 1000
- birkhoff        B = 64,  n = 8,  m = 1000

Providers: `pyalgo` (`pyalgo.energy.minmin_loss` / `minmin_loss_ranking`: sampling, energies, loss and
gradient in one pass, no (B, m, k) tensor); `reference` (the materialised `minmin_loss_ref` /
`minmin_loss_ranking_ref` on the samples of `sample_bits` / `sample_perms`, i.e. pyalgo's own samples,
differentiated by autograd); `torch` (what a user writes today: draw the samples with torch, `randint`
bits or `argsort(rand)` permutations, and differentiate the materialised reference). Every call draws
its samples from a generator seeded alike, so pyalgo and the reference see the same samples.

Proposal sampling (`proposal=`, importance-weighted; logistic):

- unary-proposal          B = 256, k = 14, m = 1000   Bernoulli proposal a = u + noise
- permutahedron-proposal  B = 64,  n = 8,  m = 1000   Plackett–Luce proposal s = θ + noise
- unary-large-m           B = 4,   k = 14, m = 10², 10³, 10⁴, 10⁵ (quick: 10², 10⁴)   memory flat in m

with providers `pyalgo` (the fused op with the proposal), `reference` (the materialised reference with
`log_weight`, on the samples of `sample_bits` / `sample_perms` with the same proposal) and `uniform` (the
fused op without a proposal, the same shape: the cost of proposal sampling).

Check before timing: on those samples pyalgo's loss and gradients equal the reference's to 1e-4
relative, and the torch provider's loss is finite. Peak memory (`memory=True`): the most CPU tensor
memory allocated at once during one call. Targets (PASS / MISS, never asserted): at the target shape,
forward+backward ≥ 5× faster than `torch` and ≤ 1/10 of its peak memory.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch

from pyalgo.energy import reference as R
from pyalgo.energy.ops import minmin_loss, minmin_loss_ranking, sample_bits, sample_perms

from ..harness.bench import Case, Inputs, Provider, Table, Target, shape_str, speedup

TITLE = "Energy benchmark: the fused min-min loss (logistic, uniform prior)"
MODES = ("forward", "forward+backward")
SAMPLE_SEED = 1
TOLERANCE = 1e-4
TARGET_CASE, TARGET_SHAPE = "unary", dict(B=256, k=14, m=1000)
TARGET_SPEEDUP, TARGET_MEMORY = 5.0, 10.0


def _generator(device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(SAMPLE_SEED)


# -- label sets: g = ⟨u, y⟩ (+ ½ yᵀUy) ---------------------------------------------------------------

def _bits_setup(pairwise: bool):
    def setup(shape: Dict[str, int], dtype: torch.dtype, device: torch.device) -> Inputs:
        B, k, m = shape["B"], shape["k"], shape["m"]
        tau = torch.randn(B).to(device, dtype).requires_grad_()
        u = torch.randn(B, k).to(device, dtype).requires_grad_()
        U = (0.1 * torch.randn(B, k, k)).to(device, dtype).requires_grad_() if pairwise else None
        y = torch.randint(0, 2, (B, k)).to(device, dtype)
        grad_of = (u, U, tau) if pairwise else (u, tau)
        return Inputs((u, U, tau, y, m), grad_of, items=B * m)
    return setup


def _bits_pyalgo(u, U, tau, y, m):
    return minmin_loss(u, tau, y, m, pairwise=U, generator=_generator(u.device))


def _bits_reference(u, U, tau, y, m):
    samples = sample_bits(u.shape[0], m, u.shape[1], generator=_generator(u.device))
    return R.minmin_loss_ref(u, tau, y, samples, U)


def _bits_torch(u, U, tau, y, m):
    samples = torch.randint(0, 2, (u.shape[0], m, u.shape[1]), generator=_generator(u.device), device=u.device,
                            dtype=torch.uint8)
    return R.minmin_loss_ref(u, tau, y, samples, U)


# -- permutations: g = Σ θ_i (y_i + 1) (permutahedron) or Σ Θ[i, y_i] (Birkhoff) --------------------------

def _perms_setup(birkhoff: bool):
    def setup(shape: Dict[str, int], dtype: torch.dtype, device: torch.device) -> Inputs:
        B, n, m = shape["B"], shape["n"], shape["m"]
        tau = torch.randn(B).to(device, dtype).requires_grad_()
        theta = (0.3 * torch.randn(*((B, n, n) if birkhoff else (B, n)))).to(device, dtype).requires_grad_()
        y = torch.rand(B, n).argsort(1).to(device)
        return Inputs((theta, tau, y, m), (theta, tau), items=B * m)
    return setup


def _perms_pyalgo(theta, tau, y, m):
    return minmin_loss_ranking(theta, tau, y, m, generator=_generator(theta.device))


def _perms_reference(theta, tau, y, m):
    perms = sample_perms(theta.shape[0], m, theta.shape[1], generator=_generator(theta.device))
    return R.minmin_loss_ranking_ref(theta, tau, y, perms)


def _perms_torch(theta, tau, y, m):
    B, n = theta.shape[0], theta.shape[1]
    perms = torch.rand(B, m, n, generator=_generator(theta.device), device=theta.device).argsort(-1)
    return R.minmin_loss_ranking_ref(theta, tau, y, perms)


# -- proposal sampling: Bernoulli bits, Plackett–Luce permutations -----------------------------------------

def _bits_proposal_setup(shape: Dict[str, int], dtype: torch.dtype, device: torch.device) -> Inputs:
    B, k, m = shape["B"], shape["k"], shape["m"]
    tau = torch.randn(B).to(device, dtype).requires_grad_()
    u = torch.randn(B, k).to(device, dtype).requires_grad_()
    y = torch.randint(0, 2, (B, k)).to(device, dtype)
    a = (u.detach() + 0.5 * torch.randn(B, k).to(device, dtype)).contiguous()
    return Inputs((u, None, tau, y, m, a), (u, tau), items=B * m)


def _bits_proposal_pyalgo(u, U, tau, y, m, a):
    return minmin_loss(u, tau, y, m, pairwise=U, generator=_generator(u.device), proposal=a)


def _bits_proposal_reference(u, U, tau, y, m, a):
    samples, log_w = sample_bits(u.shape[0], m, u.shape[1], generator=_generator(u.device), proposal=a)
    return R.minmin_loss_ref(u, tau, y, samples, U, log_weight=log_w.to(u.dtype))


def _bits_proposal_uniform(u, U, tau, y, m, a):
    return minmin_loss(u, tau, y, m, pairwise=U, generator=_generator(u.device))


def _perms_proposal_setup(shape: Dict[str, int], dtype: torch.dtype, device: torch.device) -> Inputs:
    B, n, m = shape["B"], shape["n"], shape["m"]
    tau = torch.randn(B).to(device, dtype).requires_grad_()
    theta = (0.3 * torch.randn(B, n)).to(device, dtype).requires_grad_()
    y = torch.rand(B, n).argsort(1).to(device)
    s = (theta.detach() + 0.3 * torch.randn(B, n).to(device, dtype)).contiguous()
    return Inputs((theta, tau, y, m, s), (theta, tau), items=B * m)


def _perms_proposal_pyalgo(theta, tau, y, m, s):
    return minmin_loss_ranking(theta, tau, y, m, generator=_generator(theta.device), proposal=s)


def _perms_proposal_reference(theta, tau, y, m, s):
    perms, log_w = sample_perms(theta.shape[0], m, theta.shape[1], generator=_generator(theta.device), proposal=s)
    return R.minmin_loss_ranking_ref(theta, tau, y, perms, log_weight=log_w.to(theta.dtype))


def _perms_proposal_uniform(theta, tau, y, m, s):
    return minmin_loss_ranking(theta, tau, y, m, generator=_generator(theta.device))


# -- the check ------------------------------------------------------------------------------------

def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach() - b.detach()).abs().max() / b.detach().abs().max().clamp_min(1e-12))


def same_samples_check(inputs: Inputs, outputs: Dict[str, Any]) -> Optional[str]:
    """pyalgo == reference on the same samples (loss and every gradient, relative error); torch finite."""
    if "pyalgo" not in outputs or "reference" not in outputs:
        return "pyalgo or the reference produced no output"
    a, b = outputs["pyalgo"], outputs["reference"]
    ga = torch.autograd.grad(a.sum(), inputs.grad_of, retain_graph=True)
    gb = torch.autograd.grad(b.sum(), inputs.grad_of, retain_graph=True)
    err = max(_relative(x, z) for x, z in zip((a, *ga), (b, *gb)))
    if err >= TOLERANCE:
        return f"pyalgo differs from the reference on the same samples (relative error {err:.2e})"
    if "torch" in outputs and not bool(torch.isfinite(outputs["torch"]).all()):
        return "the torch provider's loss is not finite"
    return None


def _providers(fn_pyalgo, fn_reference, fn_torch):
    return [Provider("pyalgo", fn_pyalgo), Provider("reference", fn_reference), Provider("torch", fn_torch)]


_BITS = _providers(_bits_pyalgo, _bits_reference, _bits_torch)
_PERMS = _providers(_perms_pyalgo, _perms_reference, _perms_torch)
_COMMON = dict(modes=MODES, check=same_samples_check, memory=True, params="logistic, uniform q")
_BITS_PROPOSAL = [Provider("pyalgo", _bits_proposal_pyalgo), Provider("reference", _bits_proposal_reference),
                  Provider("uniform", _bits_proposal_uniform)]
_PERMS_PROPOSAL = [Provider("pyalgo", _perms_proposal_pyalgo), Provider("reference", _perms_proposal_reference),
                   Provider("uniform", _perms_proposal_uniform)]
_PROPOSAL = dict(modes=MODES, check=same_samples_check, memory=True, params="logistic, proposal r, weights q/r")
LARGE_M = [dict(B=4, k=14, m=m) for m in (100, 1000, 10_000, 100_000)]

CASES = [
    Case("unary", _bits_setup(False), _BITS, shapes=[TARGET_SHAPE, dict(B=256, k=100, m=100)], **_COMMON,
         description="g = ⟨u, y⟩, y ∈ {0,1}^k; gradients to u and τ."),
    Case("pairwise", _bits_setup(True), _BITS, shapes=[dict(B=256, k=14, m=1000)], **_COMMON,
         description="g = ⟨u, y⟩ + ½ yᵀUy (Ising); gradients to u, U and τ."),
    Case("permutahedron", _perms_setup(False), _PERMS, shapes=[dict(B=64, n=8, m=1000)], **_COMMON,
         description="g = Σ_i θ_i (y_i + 1) over permutations; gradients to θ and τ."),
    Case("birkhoff", _perms_setup(True), _PERMS, shapes=[dict(B=64, n=8, m=1000)], **_COMMON,
         description="g = Σ_i Θ[i, y_i] over permutations; gradients to Θ and τ."),
    Case("unary-proposal", _bits_proposal_setup, _BITS_PROPOSAL, shapes=[dict(B=256, k=14, m=1000)], **_PROPOSAL,
         description="g = ⟨u, y⟩, samples from the Bernoulli proposal σ(a), a = u + noise, weighted by q/r."),
    Case("permutahedron-proposal", _perms_proposal_setup, _PERMS_PROPOSAL, shapes=[dict(B=64, n=8, m=1000)],
         **_PROPOSAL, description="g = Σ_i θ_i (y_i + 1), samples from the Plackett–Luce proposal s = θ + noise."),
    Case("unary-large-m", _bits_proposal_setup, _BITS_PROPOSAL, shapes=LARGE_M, quick_shapes=[LARGE_M[0], LARGE_M[2]],
         **_PROPOSAL, description="a few rows with many samples: pyalgo's peak memory stays flat in m (the "
                                  "reference's grows with B·m·k); m > 4096 splits a row over threads."),
]


# -- targets ---------------------------------------------------------------------------------------

def _peak_mb(row: Optional[Dict[str, Any]]) -> Optional[float]:
    for item in (row or {}).get("extra", "").split(";"):
        key, _, value = item.strip().partition("=")
        if key == "peak_mb":
            return float(value)
    return None


def memory_target(case: str, shape: Any, vs: str, goal: float, mode: str = "forward+backward") -> Target:
    """pyalgo's peak memory at most 1/goal of provider `vs`'s (at the most threads timed)."""
    def measure(table: Table) -> Optional[Tuple[str, bool]]:
        at = dict(case=case, shape=shape_str(shape), mode=mode, threads=max(table.threads, default=1))
        ours, theirs = _peak_mb(table.find(provider="pyalgo", **at)), _peak_mb(table.find(provider=vs, **at))
        if ours is None or theirs is None:
            return None
        ratio = theirs / max(ours, 1e-6)
        return f"1/{ratio:.0f} ({ours:.3f} vs {theirs:.2f} MB)", ratio >= goal
    return Target(f"{case} {shape_str(shape)} {mode} peak memory vs {vs}", f"<= 1/{goal:g}", measure,
                  ((case, shape_str(shape)),))


def targets(shape: Dict[str, int] = TARGET_SHAPE) -> list:
    """At `shape` of the unary case, forward+backward: the speed-up over `torch` on 1 thread and on the
    most threads timed, and the peak-memory ratio."""
    where = f"{TARGET_CASE} {shape_str(shape)} forward+backward"
    return [speedup(TARGET_CASE, shape, "torch", TARGET_SPEEDUP, threads=1, text=f"{where}, 1 thread, vs torch"),
            speedup(TARGET_CASE, shape, "torch", TARGET_SPEEDUP, text=f"{where}, most threads, vs torch"),
            memory_target(TARGET_CASE, shape, "torch", TARGET_MEMORY)]


TARGETS = targets()
NOTES = [
    "`reference` differentiates the materialised loss on pyalgo's own samples; `torch` is what a user writes "
    "today (torch samples, the same materialised loss). Both hold the (B, m, k) or (B, m, n) samples and their "
    "energies; pyalgo forms them one example at a time. \"pyalgo extra\" holds samples per second (B·m per "
    "call) and the peak CPU tensor memory of one call.",
    "Proposal cases: `pyalgo` samples from the proposal and weights each sample term by q/r in the same pass; "
    "`reference` materialises the proposal samples and their log weights; `uniform` is the fused op without a "
    "proposal at the same shape. `unary-large-m` shows pyalgo's peak memory flat in m.",
]
