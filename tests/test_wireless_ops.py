"""The fused wireless ops against the pure-torch references (pyalgo/wireless/reference.py),
exact answers (K = 1, two users, brute force) and the properties of spec wmmse.md §5."""
import itertools
import math

import pytest
import torch
from torch.testing import assert_close

import pyalgo.wireless as W
from pyalgo.wireless import reference as R

DEVICES = ["cpu"] + ([pytest.param("cuda", marks=pytest.mark.cuda)] if torch.cuda.is_available() else [])


def gen(seed=0, device="cpu"):
    return torch.Generator(device).manual_seed(seed)


def gains(B, K, dtype=torch.float64, seed=0, device="cpu"):
    return W.rayleigh(B, K, generator=gen(seed), dtype=dtype).to(device)


def miso(B, K, N, dtype=torch.complex128, seed=0, device="cpu"):
    return W.rayleigh_miso(B, K, N, generator=gen(seed), dtype=dtype).to(device)


# ---- WMMSE SISO vs the reference, iterate by iterate --------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("K", [1, 2, 7, 10, 33])
def test_wmmse_matches_reference_every_iterate(K, device):
    G = gains(64, K, device=device)
    res = W.wmmse(G, return_state=True, return_trajectory=True)
    ref = R.wmmse_ref(G, record=True)
    assert torch.equal(res.iterations, ref.iterations)
    for got, want in [(res.p, ref.p), (res.u, ref.u), (res.w, ref.w), (res.objective, ref.objective),
                      (res.trajectory, ref.trajectory)]:
        assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_wmmse_per_instance_parameters_and_weights(device):
    B, K = 40, 6
    G = gains(B, K, device=device)
    g = gen(3)
    p_max = (0.5 + torch.rand(B, K, generator=g, dtype=torch.float64)).to(device)
    noise = (0.1 + torch.rand(B, generator=g, dtype=torch.float64)).to(device)
    weights = torch.rand(B, K, generator=g, dtype=torch.float64).to(device)
    p0 = torch.rand(B, K, generator=g, dtype=torch.float64).to(device) * p_max
    res = W.wmmse(G, p_max, noise, weights, init=p0, return_trajectory=True)
    ref = R.wmmse_ref(G, p_max, noise, weights, p_init=p0, record=True)
    assert torch.equal(res.iterations, ref.iterations)
    assert_close(res.p, ref.p, rtol=1e-10, atol=1e-12)
    assert_close(res.objective, ref.objective, rtol=1e-10, atol=1e-12)


def test_wmmse_float32_close_to_float64():
    G = gains(256, 10)
    p64 = W.wmmse(G, tol=0, max_iter=30)
    p32 = W.wmmse(G.float(), tol=0, max_iter=30)
    assert p32.dtype == torch.float32
    rate64 = W.sum_rate(G, p64)
    rate32 = W.sum_rate(G, p32.double())
    assert_close(rate32, rate64, rtol=1e-4, atol=1e-4)


def test_fixed_iterations_when_tol_not_positive():
    res = W.wmmse(gains(8, 5), max_iter=17, tol=0.0, return_state=True)
    assert (res.iterations == 17).all()


def test_fplinq_iterates_equal_wmmse():
    """FPLinQ (Shen & Yu) is WMMSE for SISO power control: y² = w u² (spec §0, §2a)."""
    G = gains(32, 8)
    for iters in (1, 3, 10):
        fp = R.fplinq_ref(G, iters=iters)
        fp = fp[0] if isinstance(fp, tuple) else fp
        assert_close(W.wmmse(G, max_iter=iters, tol=0), fp, rtol=1e-10, atol=1e-12)


def test_amplitude_flag_squares_the_channel():
    G = gains(16, 5)
    assert_close(W.wmmse(G.sqrt(), amplitude=True), W.wmmse(G), rtol=1e-12, atol=1e-14)
    p = torch.rand(16, 5, dtype=torch.float64)
    assert_close(W.sum_rate(G.sqrt(), p, amplitude=True), W.sum_rate(G, p), rtol=1e-12, atol=1e-14)


def test_random_init_is_seeded():
    G = gains(16, 5)
    a = W.wmmse(G, init="random", generator=gen(5))
    b = W.wmmse(G, init="random", generator=gen(5))
    assert torch.equal(a, b)


# ---- properties (spec §5) ----------------------------------------------------------------------

def test_monotone_and_dominates_full_power():
    G = gains(500, 10, seed=1)
    res = W.wmmse(G, max_iter=100, tol=0, return_trajectory=True)
    steps = res.objective.diff(dim=1)
    assert steps.min() >= -1e-9
    full = W.sum_rate(G, torch.ones(500, 10, dtype=torch.float64))
    assert (res.objective[:, -1] >= full - 1e-12).all()
    assert_close(res.objective[:, 0], full, rtol=1e-12, atol=1e-12)
    assert (res.p >= 0).all() and (res.p <= 1).all()


def test_box_is_exact_in_float32():
    G = gains(300, 10, dtype=torch.float32, seed=2)
    p_max = torch.full((300, 10), 0.3)
    p = W.wmmse(G, p_max=p_max)
    assert (p >= 0).all() and (p <= p_max).all()


def test_single_user_gets_full_power():
    G = torch.tensor([[[2.5]], [[0.01]]], dtype=torch.float64)
    res = W.wmmse(G, p_max=torch.tensor([3.0, 0.5], dtype=torch.float64), noise=0.7, init=torch.tensor(
        [[0.2], [0.01]], dtype=torch.float64), return_state=True)
    assert_close(res.p, torch.tensor([[3.0], [0.5]], dtype=torch.float64))
    rate = W.sum_rate(G, res.p, noise=0.7)
    assert_close(rate, torch.log2(1 + G[:, 0, 0] * res.p[:, 0] / 0.7))


def test_two_users_known_answers_and_brute_force():
    amps = torch.tensor([[[1.0, 0.1], [0.1, 1.0]], [[1.2, 3.0], [3.0, 1.0]], [[1.0, 3.0], [3.0, 1.0]]],
                        dtype=torch.float64)
    G = amps ** 2
    p = W.wmmse(G, max_iter=500, tol=1e-12)
    rates = W.sum_rate(G, p)
    assert_close(p[0], torch.ones(2, dtype=torch.float64))
    assert abs(rates[0].item() - 1.986) < 1e-3
    assert_close(p[1], torch.tensor([1.0, 0.0], dtype=torch.float64), atol=1e-6, rtol=0)
    best_p, best_rate = R.brute_force_2user(G[1:2], 1.0, 1.0)
    assert abs(rates[1].item() - float(best_rate.reshape(-1)[0])) < 1e-4
    assert abs(rates[1].item() - 1.287) < 1e-3
    # Symmetric strong interference: Jacobi WMMSE keeps the symmetry and stays at a local optimum.
    assert_close(p[2], torch.ones(2, dtype=torch.float64))
    assert abs(rates[2].item() - 0.275) < 1e-3


def test_permutation_equivariance_and_scale_invariance():
    G = gains(50, 9, seed=4)
    perm = torch.randperm(9, generator=gen(1))
    p = W.wmmse(G, noise=0.8)
    assert_close(W.wmmse(G[:, perm][:, :, perm], noise=0.8), p[:, perm], rtol=1e-10, atol=1e-12)
    assert_close(W.wmmse(G * 7.5, noise=0.8 * 7.5), p, rtol=1e-10, atol=1e-12)
    assert_close(W.wmmse(G, weights=torch.ones(9, dtype=torch.float64), noise=0.8), p, rtol=0, atol=0)


def test_sun_et_al_sanity_range():
    """Spec §5.10: mean WMMSE sum rate at K = 10, σ² = 1 lies in [2.7, 3.0] for B >= 1000."""
    G = gains(2000, 10, dtype=torch.float32, seed=7)
    mean = W.sum_rate(G, W.wmmse(G)).mean().item()
    assert 2.7 <= mean <= 3.0


def test_all_zero_channels_give_finite_zero_power():
    G = gains(4, 5)
    G[1] = 0
    G[2, :, 3] = 0  # transmitter 3 reaches nobody
    G[2, 3, :] = 0  # and receiver 3 hears nothing
    res = W.wmmse(G, return_state=True, return_trajectory=True)
    for t in res[:3] + res[4:]:
        assert torch.isfinite(t).all()
    assert (res.p[1] == 0).all() and res.p[2, 3] == 0
    assert torch.isfinite(W.sum_rate(G, res.p)).all()


def test_zero_weight_user_is_switched_off():
    G = gains(20, 6)
    weights = torch.ones(20, 6, dtype=torch.float64)
    weights[:, 2] = 0
    p = W.wmmse(G, weights=weights)
    assert (p[:, 2] == 0).all()


def test_empty_batch():
    G = torch.empty(0, 4, 4)
    res = W.wmmse(G, return_state=True, return_trajectory=True)
    assert res.p.shape == (0, 4) and res.objective.shape == (0, 101) and res.trajectory.shape == (0, 101, 4)
    assert W.sum_rate(G, torch.empty(0, 4)).shape == (0,)


def test_results_independent_of_thread_count():
    G = gains(301, 12, dtype=torch.float32)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = W.wmmse(G, return_trajectory=True)
        torch.set_num_threads(2)
        two = W.wmmse(G, return_trajectory=True)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(one, two):
        if a is not None:
            assert torch.equal(a, b)


def test_inputs_are_not_modified():
    G = gains(10, 4)
    p0 = torch.full((10, 4), 0.5, dtype=torch.float64)
    G_copy, p0_copy = G.clone(), p0.clone()
    W.wmmse(G, init=p0)
    assert torch.equal(G, G_copy) and torch.equal(p0, p0_copy)


def test_non_contiguous_inputs():
    G = gains(10, 6).transpose(1, 2).contiguous().transpose(1, 2)  # same values, column-major
    assert not G.is_contiguous()
    assert_close(W.wmmse(G), W.wmmse(G.contiguous()), rtol=0, atol=0)


# ---- sum rate: values and gradients --------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("K", [1, 3, 10])
def test_sum_rate_and_gradients_match_reference(K, device):
    B = 17
    G = gains(B, K, device=device).requires_grad_(True)
    p = torch.rand(B, K, dtype=torch.float64, generator=gen(2)).to(device).requires_grad_(True)
    noise = (0.2 + torch.rand(B, K, dtype=torch.float64, generator=gen(3))).to(device).requires_grad_(True)
    weights = torch.rand(B, K, dtype=torch.float64, generator=gen(4)).to(device).requires_grad_(True)
    inputs = (G, p, noise, weights)
    out = W.sum_rate(*inputs)
    ref = R.sum_rate_ref(*inputs)
    assert_close(out, ref, rtol=1e-12, atol=1e-12)
    upstream = torch.randn(B, dtype=torch.float64, generator=gen(5)).to(device)
    got = torch.autograd.grad(out, inputs, upstream)
    want = torch.autograd.grad(ref, inputs, upstream)
    for a, b in zip(got, want):
        assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_sum_rate_per_user_and_scalar_noise():
    G = gains(5, 4)
    p = torch.rand(5, 4, dtype=torch.float64)
    per_user = W.sum_rate(G, p, noise=0.5, per_user=True)
    assert per_user.shape == (5, 4)
    assert_close(per_user.sum(-1), R.sum_rate_ref(G, p, 0.5))


def test_sum_rate_gradcheck_and_gradgradcheck():
    G = gains(3, 4).requires_grad_(True)
    p = (0.1 + torch.rand(3, 4, dtype=torch.float64)).requires_grad_(True)
    noise = (0.5 + torch.rand(3, 4, dtype=torch.float64)).requires_grad_(True)
    fn = lambda g, q, n: W.sum_rate(g, q, n)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (G, p, noise))
    assert torch.autograd.gradgradcheck(fn, (G, p, noise))


def test_sum_rate_unused_gains_gradient_is_not_computed():
    G = gains(3, 4)
    p = torch.rand(3, 4, dtype=torch.float64, requires_grad=True)
    W.sum_rate(G, p).sum().backward()
    assert G.grad is None and p.grad is not None


def test_sum_rate_float32_gradients():
    G = gains(64, 10, dtype=torch.float32)
    p = torch.rand(64, 10, generator=gen(1)).requires_grad_(True)
    W.sum_rate(G, p).sum().backward()
    p64 = p.detach().double().requires_grad_(True)
    R.sum_rate_ref(G.double(), p64).sum().backward()
    assert_close(p.grad.double(), p64.grad, rtol=1e-4, atol=1e-5)


def test_sum_rate_high_sinr_is_accurate_in_float32():
    """The interference is summed without the signal (no cancellation at SINR 1e7)."""
    G = torch.tensor([[[1e7, 1e-3], [1e-3, 1e7]]])
    p = torch.ones(1, 2)
    exact = 2 * torch.log2(torch.tensor(1 + 1e7 / (1 + 1e-3), dtype=torch.float64))
    assert abs(W.sum_rate(G, p).double().item() - exact.item()) < 1e-5


# ---- MISO ------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("K,N,P", [(4, 4, 10.0), (6, 4, 10.0), (4, 4, 1.0), (3, 5, 2.0), (2, 1, 1.0)])
def test_wmmse_miso_matches_reference(K, N, P, device):
    H = miso(20, K, N, device=device)
    res = W.wmmse_miso(H, p_max=P, return_state=True, return_trajectory=True)
    ref = R.wmmse_miso_ref(H, p_max=P, record=True)
    assert torch.equal(res.iterations, ref.iterations)
    for got, want in [(res.V, ref.V), (res.u, ref.u), (res.w, ref.w), (res.objective, ref.objective),
                      (res.trajectory, ref.trajectory)]:
        assert_close(got, want, rtol=1e-8, atol=1e-9)


def test_wmmse_miso_power_constraint_monotone_and_tight():
    H = miso(100, 4, 4, seed=3)
    P = 10.0
    # Monotone up to the bisection tolerance: an inexact multiplier is not the exact block minimiser.
    exact = W.wmmse_miso(H, p_max=P, tol=0, max_iter=30, bisection_tol=1e-12, return_trajectory=True)
    assert (exact.objective.diff(dim=1) >= -1e-9).all()
    res = W.wmmse_miso(H, p_max=P, tol=0, max_iter=30, bisection_tol=1e-4, return_state=True,
                       return_trajectory=True)
    power = (res.V.abs() ** 2).sum(dim=(1, 2))
    assert (power <= P * (1 + 1e-9)).all()
    # With K = N = 4 and P = 10 the multiplier is active in most instances: the power then lies
    # in the bisection band [P (1 - tol), P].
    tight = power >= P * (1 - 1e-4) * (1 - 1e-12)
    assert tight.float().mean() > 0.5
    assert_close(W.sum_rate_miso(H, res.V), res.objective[:, -1], rtol=1e-10, atol=1e-10)


def test_wmmse_miso_single_antenna_reduces_to_siso():
    """N = 1 (and K = 1): the beamformer is a power, and MISO WMMSE gives SISO's full power. For
    K > 1 the MISO rates equal the SISO rates of the gains G_ij = |H_i|² (one shared antenna)."""
    H = miso(30, 1, 1)
    V = W.wmmse_miso(H, p_max=2.0, bisection_tol=1e-12)
    p_siso = W.wmmse(H.abs().pow(2).reshape(30, 1, 1), p_max=2.0)
    assert_close((V.abs() ** 2).reshape(30, 1), p_siso, rtol=1e-10, atol=1e-12)
    H = miso(30, 3, 1, seed=2)
    V = W.wmmse_miso(H, p_max=2.0)
    G = (H.abs() ** 2).expand(30, 3, 3).contiguous()
    assert_close(W.sum_rate_miso(H, V), W.sum_rate(G, (V.abs() ** 2).reshape(30, 3)), rtol=1e-10, atol=1e-12)


def test_wmmse_miso_float32_and_zero_channel():
    H = miso(10, 3, 2, dtype=torch.complex64)
    H[4] = 0
    V = W.wmmse_miso(H, p_max=1.0)
    assert V.dtype == torch.complex64 and torch.isfinite(torch.view_as_real(V)).all()
    assert (V[4] == 0).all()


@pytest.mark.parametrize("device", DEVICES)
def test_sum_rate_miso_and_gradients_match_reference(device):
    H = miso(7, 3, 4, device=device).requires_grad_(True)
    V = miso(7, 3, 4, seed=1, device=device).requires_grad_(True)
    noise = (0.3 + torch.rand(7, 3, dtype=torch.float64, generator=gen(2))).to(device).requires_grad_(True)
    out = W.sum_rate_miso(H, V, noise)
    ref = R.sum_rate_miso_ref(H, V, noise)
    assert_close(out, ref, rtol=1e-12, atol=1e-12)
    upstream = torch.randn(7, dtype=torch.float64, generator=gen(3)).to(device)
    for a, b in zip(torch.autograd.grad(out, (H, V, noise), upstream),
                    torch.autograd.grad(ref, (H, V, noise), upstream)):
        assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_sum_rate_miso_gradcheck():
    H = miso(2, 3, 2).requires_grad_(True)
    V = miso(2, 3, 2, seed=1).requires_grad_(True)
    fn = lambda h, v: W.sum_rate_miso(h, v, 0.7)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (H, V))
    assert torch.autograd.gradgradcheck(fn, (H, V))


# ---- torch.library integration ---------------------------------------------------------------

def _opcheck_cases():
    G = gains(3, 4)
    bk = torch.ones(3, 4, dtype=torch.float64)
    H = miso(3, 4, 2)
    V = miso(3, 4, 2, seed=1)
    p = torch.rand(3, 4, dtype=torch.float64)
    return [
        (torch.ops.pyalgo.wmmse_siso, (G, bk, bk, bk, bk, 5, 1e-3, True)),
        (torch.ops.pyalgo.wmmse_siso, (G, bk, bk, bk, bk, 5, 1e-3, False)),
        (torch.ops.pyalgo.siso_rates, (G.requires_grad_(True), p.requires_grad_(True), bk)),
        (torch.ops.pyalgo.siso_rates_backward,
         (G.detach(), p.detach(), bk, torch.ops.pyalgo.siso_rates(G.detach(), p.detach(), bk)[1], bk, True)),
        (torch.ops.pyalgo.wmmse_miso, (H, torch.ones(3, dtype=torch.float64), bk, bk, W.mrt_init(H), 5, 1e-4, 1e-4,
                                       True)),
        (torch.ops.pyalgo.miso_rates, (H.requires_grad_(True), V.requires_grad_(True), bk)),
        (torch.ops.pyalgo.miso_rates_backward, (H.detach(), V.detach(), bk, bk, False)),
    ]


def test_opcheck_covers_every_registered_op():
    from test_discrete_beyond import BEYOND_OPS  # its own test checks that its opcheck cases cover them
    from test_discrete_ops import OPCHECK_OPS
    from test_energy_ops import ENERGY_OPS  # its own test checks that its opcheck cases cover them
    from test_multitask_ops import MULTITASK_OPS  # likewise

    registered = {n.split("::")[1] for n in torch._C._dispatch_get_all_op_names() if n.startswith("pyalgo::")}
    wireless = {op.default._schema.name.split("::")[1] for op, _ in _opcheck_cases()}
    assert registered == set(OPCHECK_OPS) | set(BEYOND_OPS) | wireless | ENERGY_OPS | MULTITASK_OPS


@pytest.mark.parametrize("case", range(7))
def test_opcheck(case):
    op, args = _opcheck_cases()[case]
    torch.library.opcheck(op, args)


def test_torch_compile_fullgraph():
    G = gains(8, 5)

    @torch.compile(fullgraph=True, backend="aot_eager")
    def loss(G, p):
        teacher = W.wmmse(G, max_iter=20)
        return -W.sum_rate(G, p).mean() + ((p - teacher) ** 2).mean()

    p = torch.rand(8, 5, dtype=torch.float64, requires_grad=True)
    out = loss(G, p)
    out.backward()
    p2 = p.detach().clone().requires_grad_(True)
    ref = -R.sum_rate_ref(G, p2).mean() + ((p2 - W.wmmse(G, max_iter=20)) ** 2).mean()
    ref.backward()
    assert_close(out, ref)
    assert_close(p.grad, p2.grad)


# ---- malformed input -------------------------------------------------------------------------

def _bad_siso_calls():
    G = gains(2, 3)
    ok_p = torch.rand(2, 3, dtype=torch.float64)
    nan = G.clone()
    nan[0, 0, 1] = float("nan")
    inf = G.clone()
    inf[1, 2, 2] = float("inf")
    return [
        (lambda: W.wmmse(G[:, :, :2]), ValueError, "pyalgo.wireless.wmmse: H must have shape (B, K, K)"),
        (lambda: W.wmmse(G[0]), ValueError, "pyalgo.wireless.wmmse: H must have shape (B, K, K)"),
        (lambda: W.wmmse(G.unsqueeze(0)), ValueError, "H must have shape (B, K, K)"),
        (lambda: W.wmmse(-G), ValueError, "pyalgo.wireless.wmmse: H holds power gains and must be >= 0"),
        (lambda: W.wmmse(nan), ValueError, "pyalgo.wireless.wmmse: H must be finite"),
        (lambda: W.wmmse(inf), ValueError, "pyalgo.wireless.wmmse: H must be finite"),
        (lambda: W.wmmse(G, noise=0.0), ValueError, "pyalgo.wireless.wmmse: noise must be finite and > 0"),
        (lambda: W.wmmse(G, noise=-1.0), ValueError, "pyalgo.wireless.wmmse: noise must be finite and > 0"),
        (lambda: W.wmmse(G, p_max=0.0), ValueError, "pyalgo.wireless.wmmse: p_max must be finite and > 0"),
        (lambda: W.wmmse(G, p_max=float("nan")), ValueError, "pyalgo.wireless.wmmse: p_max must be finite and > 0"),
        (lambda: W.wmmse(torch.empty(2, 0, 0)), ValueError, "pyalgo.wireless.wmmse: H must have at least one user"),
        (lambda: W.wmmse(G.to(torch.complex128)), TypeError, "pyalgo.wireless.wmmse: H must be real power gains"),
        (lambda: W.wmmse(G.int()), TypeError, "pyalgo.wireless.wmmse: H must be float32 or float64"),
        (lambda: W.wmmse(G.tolist()), TypeError, "pyalgo.wireless.wmmse: H must be a torch.Tensor"),
        (lambda: W.wmmse(G, weights=torch.ones(5)), ValueError, "pyalgo.wireless.wmmse: weights must be"),
        (lambda: W.wmmse(G, weights=torch.ones(3, 3, dtype=torch.float64)), ValueError, "pyalgo.wireless.wmmse: weights must be"),
        (lambda: W.wmmse(G, weights=-torch.ones(3)), ValueError, "pyalgo.wireless.wmmse: weights must be finite and >= 0"),
        (lambda: W.wmmse(G, noise=torch.ones(4)), ValueError, "pyalgo.wireless.wmmse: noise must be"),
        (lambda: W.wmmse(G, max_iter=0), ValueError, "pyalgo.wireless.wmmse: max_iter must be an int >= 1"),
        (lambda: W.wmmse(G, max_iter=2.5), ValueError, "pyalgo.wireless.wmmse: max_iter must be an int >= 1"),
        (lambda: W.wmmse(G, tol=float("nan")), ValueError, "pyalgo.wireless.wmmse: tol must be a finite number"),
        (lambda: W.wmmse(G, init="zeros"), ValueError, 'pyalgo.wireless.wmmse: init must be "full", "random"'),
        (lambda: W.wmmse(G, init=2 * ok_p + 1), ValueError, "pyalgo.wireless.wmmse: init powers must be finite and in [0, p_max]"),
        (lambda: W.wmmse(G, init=ok_p[:1]), ValueError, "pyalgo.wireless.wmmse: init must have shape"),
        (lambda: W.sum_rate(G, ok_p[:, :2]), ValueError, "pyalgo.wireless.sum_rate: p must have shape"),
        (lambda: W.sum_rate(G, -ok_p), ValueError, "pyalgo.wireless.sum_rate: p must be finite and >= 0"),
        (lambda: W.sum_rate(G, ok_p.float()), TypeError, "pyalgo.wireless.sum_rate: p must have H's dtype"),
        (lambda: W.sum_rate(G, ok_p, noise=0), ValueError, "pyalgo.wireless.sum_rate: noise must be finite and > 0"),
        (lambda: W.sum_rate(-G, ok_p), ValueError, "pyalgo.wireless.sum_rate: H holds power gains"),
    ]


@pytest.mark.parametrize("case", range(29))
def test_malformed_siso_input(case):
    call, exc, message = _bad_siso_calls()[case]
    with pytest.raises(exc) as info:
        call()
    assert message in str(info.value)


def _bad_miso_calls():
    H = miso(2, 3, 2)
    nan = H.clone()
    nan[0, 1, 1] = complex("nan")
    return [
        (lambda: W.wmmse_miso(H.real), TypeError, "pyalgo.wireless.wmmse_miso: H must be complex64 or complex128"),
        (lambda: W.wmmse_miso(H[0]), ValueError, "pyalgo.wireless.wmmse_miso: H must have shape (B, K, N)"),
        (lambda: W.wmmse_miso(H[:, :, :0]), ValueError, "pyalgo.wireless.wmmse_miso: H must have at least one antenna"),
        (lambda: W.wmmse_miso(nan), ValueError, "pyalgo.wireless.wmmse_miso: H must be finite"),
        (lambda: W.wmmse_miso(H, p_max=torch.ones(2, 3)), ValueError, "pyalgo.wireless.wmmse_miso: p_max must be a number or shape (B,)"),
        (lambda: W.wmmse_miso(H, p_max=-1.0), ValueError, "pyalgo.wireless.wmmse_miso: p_max must be finite and > 0"),
        (lambda: W.wmmse_miso(H, bisection_tol=0), ValueError, "pyalgo.wireless.wmmse_miso: bisection_tol must be a number in (0, 1)"),
        (lambda: W.wmmse_miso(H, init=10 * H.conj()), ValueError, "pyalgo.wireless.wmmse_miso: init must be finite with total power <= p_max"),
        (lambda: W.wmmse_miso(H, init="zf"), ValueError, 'pyalgo.wireless.wmmse_miso: init must be "mrt"'),
        (lambda: W.sum_rate_miso(H, H[:, :2]), ValueError, "pyalgo.wireless.sum_rate_miso: V must match H's shape"),
        (lambda: W.sum_rate_miso(H, H, noise=0.0), ValueError, "pyalgo.wireless.sum_rate_miso: noise must be finite and > 0"),
    ]


@pytest.mark.parametrize("case", range(11))
def test_malformed_miso_input(case):
    call, exc, message = _bad_miso_calls()[case]
    with pytest.raises(exc) as info:
        call()
    assert message in str(info.value)


def test_raw_op_checks_shapes():
    G = gains(2, 3)
    bk = torch.ones(2, 3, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="pyalgo.wireless.wmmse: p_max must have shape"):
        torch.ops.pyalgo.wmmse_siso(G, bk[:, :2], bk, bk, bk, 5, 1e-3, False)
    with pytest.raises(RuntimeError, match="pyalgo.wireless.wmmse: max_iter must be in"):
        torch.ops.pyalgo.wmmse_siso(G, bk, bk, bk, bk, 0, 1e-3, False)
    with pytest.raises(RuntimeError, match="pyalgo.wireless.sum_rate: noise must have dtype"):
        torch.ops.pyalgo.siso_rates(G, bk, bk.float())
    with pytest.raises(RuntimeError, match=r"pyalgo.wireless.sum_rate_backward: interference must have shape \[2, 3\]"):
        torch.ops.pyalgo.siso_rates_backward(G, bk, bk, bk[:, :2], bk, True)


# ---- CUDA parity (needs a GPU) ---------------------------------------------------------------

@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
class TestCudaParity:
    @pytest.mark.parametrize("K,dtype", list(itertools.product([1, 3, 10, 16, 17, 32, 33, 100], [torch.float32, torch.float64])))
    def test_wmmse_siso(self, K, dtype):
        G = gains(300, K, dtype=dtype)
        cpu = W.wmmse(G, tol=0, max_iter=40, return_state=True, return_trajectory=True)
        gpu = W.wmmse(G.cuda(), tol=0, max_iter=40, return_state=True, return_trajectory=True)
        tol = dict(rtol=1e-9, atol=1e-11) if dtype == torch.float64 else dict(rtol=2e-3, atol=2e-4)
        for a, b in zip(cpu, gpu):
            if a is not None:
                assert_close(b.cpu(), a, **tol)

    def test_wmmse_siso_early_stop_parity_fp64(self):
        G = gains(1000, 20)
        cpu = W.wmmse(G, return_state=True)
        gpu = W.wmmse(G.cuda(), return_state=True)
        assert (cpu.iterations != gpu.iterations.cpu()).float().mean() < 0.01
        assert_close(W.sum_rate(G, gpu.p.cpu()), W.sum_rate(G, cpu.p), rtol=1e-6, atol=1e-6)

    def test_miso(self):
        H = miso(50, 4, 4)
        cpu = W.wmmse_miso(H, p_max=10.0, tol=0, max_iter=20)
        gpu = W.wmmse_miso(H.cuda(), p_max=10.0, tol=0, max_iter=20)
        assert_close(gpu.cpu(), cpu, rtol=1e-8, atol=1e-9)


# ---- issue 18: fused validation and the lean call path ----------------------------------------------

class _Calls(torch.overrides.TorchFunctionMode):
    """Records the torch functions called in the block (Python-side tensor work)."""

    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("call", ["wmmse", "sum_rate"])
def test_valid_call_runs_no_python_value_checks(call):
    """The value checks are fused into the CPU kernels: a valid, validated call makes no Python pass
    over the data (isfinite / comparisons / all: one host sync each on CUDA)."""
    G, p = gains(3, 4), torch.full((3, 4), 0.5, dtype=torch.float64)
    with _Calls() as mode:
        W.wmmse(G) if call == "wmmse" else W.sum_rate(G, p)
    checks = {"isfinite", "all", "any", "__lt__", "__gt__", "__ge__", "__le__", "__and__"}
    assert not checks & set(mode.names), mode.names


@pytest.mark.parametrize("bad", ["H", "p", "noise"])
def test_refused_inputs_raise_the_python_errors(bad):
    """The Python checks run when the kernel refuses the inputs: the typed error, not the C++ one."""
    G, p, noise = gains(3, 4), torch.full((3, 4), 0.5, dtype=torch.float64), 1.0
    if bad == "H":
        G = G.clone()
        G[1, 2, 0] = -1.0
    elif bad == "p":
        p = p.clone()
        p[0, 1] = float("nan")
    else:
        noise = 0.0
    with pytest.raises(ValueError, match=rf"pyalgo\.wireless\.sum_rate: {bad}") as info:
        W.sum_rate(G, p, noise=noise)
    assert info.value.__cause__ is None and info.value.__context__ is None
    if bad != "p":
        with pytest.raises(ValueError, match=rf"pyalgo\.wireless\.wmmse: {bad}"):
            W.wmmse(G, noise=noise)


@pytest.mark.parametrize("call", ["wmmse_miso", "sum_rate_miso"])
def test_valid_miso_call_runs_no_python_value_checks(call):
    """The MISO kernels check H, V / init, p_max, noise and weights too: a valid, validated call makes
    no Python value check (no isfinite, all, any; MRT's own `total > 0` select is arithmetic)."""
    H = miso(3, 2, 4)
    V = W.mrt_init(H, 2.0)
    with _Calls() as mode:
        W.wmmse_miso(H, p_max=2.0, max_iter=3) if call == "wmmse_miso" else W.sum_rate_miso(H, V)
    assert not {"isfinite", "all", "any"} & set(mode.names), mode.names


@pytest.mark.parametrize("bad", ["H", "V", "noise", "p_max", "weights"])
def test_refused_miso_inputs_raise_the_python_errors(bad):
    """As for SISO: the kernel refuses, then the Python checks raise their typed, unchained error."""
    H, args = miso(3, 2, 4), dict(noise=1.0)
    V = W.mrt_init(H)
    if bad == "H":
        H = H.clone()
        H[1, 0, 2] = complex("nan")
    elif bad == "V":
        V = V.clone()
        V[2, 1, 0] = complex("inf")
    else:
        args[bad] = -1.0 if bad != "noise" else 0.0
    if bad in ("H", "V", "noise"):
        with pytest.raises(ValueError, match=rf"pyalgo\.wireless\.sum_rate_miso: {bad} must be finite") as info:
            W.sum_rate_miso(H, V, noise=args["noise"])
        assert info.value.__cause__ is None and info.value.__context__ is None
    if bad != "V":
        with pytest.raises(ValueError, match=rf"pyalgo\.wireless\.wmmse_miso: {bad} must be finite") as info:
            W.wmmse_miso(H, max_iter=3, **args)
        assert info.value.__cause__ is None and info.value.__context__ is None


def test_negative_amplitudes_are_still_refused():
    """amplitude=True squares H, so the kernel would see valid gains: checked in Python first."""
    H = gains(2, 3).sqrt()
    H[0, 0, 1] = -0.5
    with pytest.raises(ValueError, match="H holds power gains"):
        W.wmmse(H, amplitude=True)
    with pytest.raises(ValueError, match="H holds power gains"):
        W.sum_rate(H, torch.ones(2, 3, dtype=torch.float64), amplitude=True)


def test_sum_rate_lean_path_gradients_and_torch_func():
    """The eager autograd.Function path, the registered-autograd path (torch.func) and the reference
    give the same gradients w.r.t. H, p and a tensor noise."""
    G = gains(5, 6).requires_grad_()
    p = torch.rand(5, 6, dtype=torch.float64, generator=gen(1)).requires_grad_()
    noise = torch.full((5, 1), 0.7, dtype=torch.float64, requires_grad=True)
    got = torch.autograd.grad(W.sum_rate(G, p, noise=noise).sum(), (G, p, noise))
    want = torch.autograd.grad(R.sum_rate_ref(G, p, noise=noise).sum(), (G, p, noise))
    for a, b in zip(got, want):
        assert_close(a, b, rtol=1e-10, atol=1e-12)
    func = torch.func.grad(lambda q: W.sum_rate(G.detach(), q).sum())(p.detach())
    want_p = torch.autograd.grad(R.sum_rate_ref(G.detach(), p).sum(), p)[0]
    assert_close(func, want_p, rtol=1e-10, atol=1e-12)
    with torch.no_grad():
        assert not W.sum_rate(G, p).requires_grad


def test_siso_rates_backward_uses_the_forwards_interference():
    """siso_rates' second output is I_k = Σ_{j≠k} g_kj p_j + σ²_k, the backward takes it instead of
    recomputing it: its coefficients follow the interference it is given (a scaled one changes the
    noise gradient exactly as -grad S / (ln2 (I + S) I) says), and it is not differentiable."""
    G = gains(4, 5)
    p = torch.rand(4, 5, dtype=torch.float64, generator=gen(2))
    noise = 0.5 + torch.rand(4, 5, dtype=torch.float64, generator=gen(3))
    rates, interference = torch.ops.pyalgo.siso_rates(G, p, noise)
    offdiag = G * (1 - torch.eye(5, dtype=torch.float64))
    assert_close(interference, (offdiag * p[:, None, :]).sum(-1) + noise, rtol=1e-14, atol=0)
    assert_close(rates, R.sum_rate_ref(G, p, noise, per_user=True), rtol=1e-12, atol=0)
    grad = torch.rand(4, 5, dtype=torch.float64, generator=gen(4))
    signal = torch.diagonal(G, dim1=1, dim2=2) * p
    for scale in (1.0, 2.0):
        I = interference * scale
        _, _, grad_noise = torch.ops.pyalgo.siso_rates_backward(G, p, noise, I, grad, False)
        assert_close(grad_noise, -grad * signal / (math.log(2) * (I + signal) * I), rtol=1e-12, atol=0)
    Gr, pr = G.clone().requires_grad_(), p.clone().requires_grad_()
    _, saved = torch.ops.pyalgo.siso_rates(Gr, pr, noise)
    assert not saved.requires_grad


def test_float32_rates_use_an_accurate_log1p():
    """K = 1 (no interference sum): the float32 rate is log1p(SINR) / ln 2 with the kernels' own
    vectorised log1p; over SINRs from 1e-30 to 1e30 (and 0) it stays within 3 ulp of the float64 rate of
    the same float32 inputs (log1p < 1 ulp, the SINR division and the / ln 2 half an ulp each)."""
    sinr = torch.cat([torch.zeros(1), torch.logspace(-30, 30, 4001), torch.rand(2000, generator=gen(3)) * 4])
    G = sinr.float().reshape(-1, 1, 1)
    p, noise = torch.ones(G.shape[0], 1), torch.ones(G.shape[0], 1)
    got = W.sum_rate(G, p, noise=noise, per_user=True)
    want = torch.log1p(G.double().reshape(-1, 1)) / math.log(2)
    ulp = torch.finfo(torch.float32).eps * want.abs().clamp_min(torch.finfo(torch.float32).tiny)
    assert ((got.double() - want).abs() <= 3 * ulp).all(), ((got.double() - want).abs() / ulp).max()
    assert got[0, 0] == 0
