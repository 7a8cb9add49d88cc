"""Reliability findings of the discrete estimators (issue 14), one test each, named after the
finding it pins (quoted in the docstring). Each failed on main before the fix."""
import math

import pytest
import torch

import pyalgo
from pyalgo._rng import draw_seed, philox_uniform
from pyalgo.discrete import diagnostics
from pyalgo.discrete.reference import gumbel_rao_ref, gst_ref, philox_exp_noise

OPS = torch.ops.pyalgo
ESTIMATORS = ("reinmax", "straight_through", "gumbel_softmax", "gst", "gumbel_rao")


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _sample(out):
    return out[0] if isinstance(out, tuple) else out


# ---- "Backward of gumbel_softmax / st_gumbel for rows whose scaled logits overflow (-1e38, tau=0.1)
#      constructs GumbelLogits without the shift -> NaN gradients" ------------------------------------

@pytest.mark.parametrize("hard", [True, False])
@pytest.mark.parametrize("C", [5, 20, 300])
def test_gumbel_softmax_backward_with_overflowing_scaled_logits(hard, C):
    # Softmax((x + G)/τ) does not change when x is shifted by a constant, and the backward takes the
    # same shift as the forward (x − max x), so the gradient equals that of zeros, bit for bit.
    g = torch.randn(8, C, generator=_gen(1))
    grads = []
    for x in (torch.full((8, C), -1e38), torch.zeros(8, C)):
        x.requires_grad_(True)
        y = pyalgo.gumbel_softmax(x, tau=0.1, hard=hard, generator=_gen(3))
        (grad,) = torch.autograd.grad((y * g).sum(), x)
        grads.append(grad)
    assert torch.isfinite(grads[0]).all()
    assert torch.equal(grads[0], grads[1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gumbel_softmax_backward_overflow_matches_reference(dtype):
    # a row with real gaps at -3e38 (z overflows to -inf for τ = 0.01), against the reference fed the
    # same Gumbels and evaluated on x − max x
    x = torch.tensor([[-3.0e38, -3.0e38 + 4e31, -2.9e38]], dtype=dtype).expand(16, 3).contiguous()
    g = torch.randn(16, 3, dtype=dtype, generator=_gen(2))
    seed = draw_seed(_gen(4), x.device)
    out = OPS.gumbel_softmax_backward(x, g, 0.01, -1, seed)
    assert torch.isfinite(out).all()
    from pyalgo.discrete.reference import gumbel_softmax_ref, philox_gumbels
    xs = (x - x.max(-1, keepdim=True).values).double().requires_grad_(True)
    y = gumbel_softmax_ref(xs, 0.01, gumbels=philox_gumbels(seed, x).double())
    (ref,) = torch.autograd.grad((y * g.double()).sum(), xs)
    assert torch.allclose(out.double(), ref, rtol=1e-4, atol=1e-6)


@pytest.mark.simt
@pytest.mark.parametrize("C", [5, 20, 3000])  # one thread, a warp segment and a block per row on CUDA
def test_gumbel_softmax_backward_overflow_on_cuda_kernels(simt, C):
    x = torch.full((4, C), -1e38)
    g = torch.randn(4, C, generator=_gen(6))
    seed = draw_seed(_gen(5), x.device)
    cpu = OPS.gumbel_softmax_backward(x, g, 0.1, -1, seed)
    emulated = simt.gumbel_softmax_backward(x, g, 0.1, -1, seed)
    assert torch.isfinite(cpu).all() and torch.isfinite(emulated).all()
    assert torch.allclose(emulated, cpu, rtol=1e-4, atol=1e-5)
    # ST backward with overflowing x/τ takes the same rescue
    x = torch.randn(4, C, generator=_gen(7)) * 1e37
    cpu = OPS.straight_through_backward(x, g, 1e-2, -1)
    emulated = simt.straight_through_backward(x, g, 1e-2, -1)
    assert torch.isfinite(cpu).all() and torch.allclose(emulated, cpu, rtol=1e-4, atol=1e-5)


# ---- "tau=1e-45 in fp32 gives NaN gradients for every estimator" ----------------------------------

@pytest.mark.parametrize("name", ESTIMATORS)
def test_tau_below_the_dtype_minimum_is_a_clear_error(name):
    x = torch.randn(2, 4)
    with pytest.raises(ValueError, match=rf"pyalgo.{name}: tau must be >= 1e-30 for torch.float32 logits"):
        getattr(pyalgo, name)(x, tau=1e-45)
    # the op itself (torch.compile, direct calls) checks too, for the compute dtype
    op = getattr(OPS, name)
    args = {"reinmax": (1e-45, -1), "straight_through": (1e-45, -1), "gumbel_softmax": (1e-45, False, -1),
            "gst": (1e-45, 1.0, False, -1), "gumbel_rao": (1e-45, 10, -1)}[name]
    with pytest.raises(RuntimeError, match=rf"pyalgo.{name}: tau must be >= 1e-30"):
        op(x, *args, draw_seed(None, x.device))
    with pytest.raises(RuntimeError, match=r"pyalgo.straight_through_backward: tau must be >= 1e-30"):
        OPS.straight_through_backward(x, x, 1e-45, -1)
    # float64 logits have their own (smaller) minimum
    y = getattr(pyalgo, name)(x.double().requires_grad_(), tau=1e-45)
    assert torch.isfinite(_sample(y)).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_smallest_tau_gives_finite_gradients(name, dtype):
    tau = 1e-300 if dtype == torch.float64 else 1e-30
    x = (torch.randn(6, 5, generator=_gen(8)) * 1e10).to(dtype).requires_grad_(True)  # x/τ overflows
    y = _sample(getattr(pyalgo, name)(x, tau=tau, generator=_gen(9)))
    (grad,) = torch.autograd.grad((y * torch.linspace(-1, 1, 5, dtype=dtype)).sum(), x)
    assert torch.isfinite(grad).all(), grad


# ---- "GST-p's fp32 gradient is exactly zero once pi_k rounds to 1" --------------------------------

def _gst_p_grad(x, g, k, tau):
    return OPS.gst_backward(x, torch.full(x.shape[:-1], k, dtype=torch.int32), g, tau, 0.0, True, -1)


@pytest.mark.parametrize("C", [3, 70])
def test_gst_p_gradient_when_pi_k_rounds_to_one(C):
    x64 = torch.full((1, C), -40.0, dtype=torch.float64)
    x64[0, :3] = torch.tensor([15.41, -2.93, -21.79], dtype=torch.float64)
    g = torch.randn(1, C, dtype=torch.float64, generator=_gen(10))
    ref = _gst_p_grad(x64, g, 0, 8.6)
    got = _gst_p_grad(x64.float(), g.float(), 0, 8.6)
    assert ref.abs().max() > 1e-3 and got.abs().max() > 1e-3
    assert torch.allclose(got.double(), ref, rtol=1e-4, atol=1e-7)
    # and the reference (float64) agrees with the fused float64 op
    xs = x64.clone().requires_grad_(True)
    (r,) = torch.autograd.grad((gst_ref(xs, 8.6, "p", index=torch.zeros(1, dtype=torch.long)) * g).sum(), xs)
    assert torch.allclose(ref, r, rtol=1e-9, atol=1e-12)


def test_gst_p_gap_with_underflowing_complement():
    # 1 − π_k < e^-87 (every other e^{x_j − m} underflows in float): the gap is still finite, so the
    # other categories keep their (tiny-τ-scaled) gradient for a large τ
    x64 = torch.tensor([[0.0, -100.0, -101.0]], dtype=torch.float64)
    g = torch.tensor([[0.3, -1.0, 0.5]], dtype=torch.float64)
    ref = _gst_p_grad(x64, g, 0, 200.0)
    got = _gst_p_grad(x64.float(), g.float(), 0, 200.0)
    assert ref.abs().min() > 1e-4
    assert torch.allclose(got.double(), ref, rtol=1e-4)


# ---- "GR-MCK fp32 gradient is zero when a logit gap exceeds ~87 with large tau" -------------------

@pytest.mark.parametrize("C", [2, 20])
def test_gumbel_rao_gradient_with_a_far_logit(C):
    x = torch.zeros(3, C)
    x[:, 1] = 100.0
    g = torch.randn(3, C, generator=_gen(11))
    seed = draw_seed(_gen(12), x.device)
    idx = torch.ones(3, dtype=torch.int32)
    got = OPS.gumbel_rao_backward(x, idx, g, 50.0, 16, -1, seed)
    xs = x.double().requires_grad_(True)
    y = gumbel_rao_ref(xs, 50.0, 16, index=idx.long(), exp_noise=philox_exp_noise(seed, x, 16).double())
    (ref,) = torch.autograd.grad((y * g.double()).sum(), xs)
    assert ref.abs().max() > 1e-3
    assert torch.allclose(got.double(), ref, rtol=1e-4, atol=1e-7)


@pytest.mark.simt
@pytest.mark.parametrize("C", [3, 20, 3000])
def test_gst_p_and_gumbel_rao_fixes_on_cuda_kernels(simt, C):
    x = torch.zeros(4, C)
    x[:, 0] = 100.0
    x[:, 1] = 50.0
    g = torch.randn(4, C, generator=_gen(13))
    seed = draw_seed(_gen(14), x.device)
    idx = torch.zeros(4, dtype=torch.int32)
    for args in ((idx, g, 50.0, 4, -1, seed),):
        cpu, emu = OPS.gumbel_rao_backward(x, *args), simt.gumbel_rao_backward(x, *args)
        assert cpu.abs().max() > 1e-6 and torch.allclose(emu, cpu, rtol=1e-4, atol=1e-9)
    cpu = OPS.gst_backward(x, idx, g, 30.0, 0.0, True, -1)
    emu = simt.gst_backward(x, idx, g, 30.0, 0.0, True, -1)
    assert cpu.abs().max() > 1e-6 and torch.allclose(emu, cpu, rtol=1e-4, atol=1e-9)


# ---- "Double backward with -inf masked logits is all-NaN for reinmax, gst and gumbel_rao" ---------

@pytest.mark.parametrize("name", ESTIMATORS)
def test_double_backward_with_masked_logits(name):
    x = torch.tensor([[0.5, -math.inf, 1.0, 0.2], [0.1, 0.3, -math.inf, -math.inf]], dtype=torch.float64,
                     requires_grad=True)
    w = torch.randn(2, 4, dtype=torch.float64, generator=_gen(15))
    y = _sample(getattr(pyalgo, name)(x, tau=0.7, generator=_gen(16)))
    (first,) = torch.autograd.grad((y * w).sum(), x, retain_graph=True)  # the fused kernel
    (graph,) = torch.autograd.grad((y * w).sum(), x, create_graph=True)  # the reference, differentiable
    assert torch.isfinite(graph).all() and torch.allclose(graph.detach(), first, rtol=1e-10, atol=1e-12)
    (second,) = torch.autograd.grad((graph ** 2).sum(), x)
    assert torch.isfinite(second).all()
    assert bool((second[~torch.isfinite(x.detach())] == 0).all())


# ---- "A wrong generator type raises AttributeError: 'int' object has no attribute 'device'" -------

@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("generator", [3, "cpu", torch.device("cpu")])
def test_wrong_generator_type_is_a_type_error(name, generator):
    with pytest.raises(TypeError, match=rf"pyalgo.{name}: generator must be a torch.Generator or None, got"):
        getattr(pyalgo, name)(torch.randn(2, 3), generator=generator)


# ---- "Counts of 2^63 or 2^40 give raw allocator or schema errors" ----------------------------------

@pytest.mark.parametrize("count", [2**40, 2**63, -1])
def test_huge_counts_are_clear_errors(count):
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match=r"pyalgo.gumbel_rao: k \(the number of Gumbel-Rao draws\)"):
        pyalgo.gumbel_rao(x, k=count)
    seed = draw_seed(None, x.device)
    with pytest.raises(ValueError, match=r"pyalgo.philox_uniform: rows (must be in|x cols must be at most)"):
        philox_uniform(seed, count, 4)
    with pytest.raises(ValueError, match=r"pyalgo.philox_uniform: (cols must be in|rows x cols must be at most)"):
        philox_uniform(seed, 4, count)
    with pytest.raises(ValueError, match=r"pyalgo.discrete.diagnostics.sample_gradients: num_samples"):
        diagnostics.sample_gradients("st", lambda D: D.sum((1, 2)), x, count)


def test_philox_uniform_size_is_checked_in_cpp():
    seed = draw_seed(None, torch.device("cpu"))
    with pytest.raises(ValueError, match=r"pyalgo.philox_uniform: rows x cols must be at most 2\^40"):
        philox_uniform(seed, 2**30, 2**20)
    with pytest.raises(RuntimeError, match=r"pyalgo.philox_uniform: rows x cols must be at most 2\^40"):
        OPS.philox_uniform(seed, 2**30, 2**20, 0, torch.float32)
    with pytest.raises(RuntimeError, match=r"pyalgo.philox_uniform: rows x cols must be at most 2\^40"):
        OPS.philox_uniform(seed, 2**62, 2**2, 0, torch.float32)
