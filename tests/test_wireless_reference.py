"""The wireless references alone (pyalgo.wireless.reference, pyalgo.wireless.channels): the WMMSE
properties of spec §5, FPLinQ = WMMSE, the NumPy baselines, MISO WMMSE (§2b) and the generators."""
import math

import numpy as np
import pytest
import torch

from pyalgo.wireless import channels
from pyalgo.wireless import reference as ref

F64 = torch.float64


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The references run thousands of tiny ops; intra-op threads only add wake-up latency
    (seconds per test on a loaded 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _gains(B, K, seed, dtype=F64):
    return channels.rayleigh(B, K, generator=_gen(seed), dtype=dtype)


def _amplitudes(rows):
    """A (1, K, K) gain tensor from Sun-style amplitudes (row = receiver)."""
    return torch.tensor([rows], dtype=F64) ** 2


def _miso(B, K, N, seed):
    return channels.rayleigh_miso(B, K, N, generator=_gen(seed), dtype=torch.complex128)


# ---- SISO sum rate ---------------------------------------------------------------------------------

def test_sum_rate_hand_computed():
    G = torch.tensor([[[2.0, 0.5, 0.25], [1.0, 3.0, 0.5], [0.1, 0.2, 1.0]]], dtype=F64)
    p = torch.tensor([[1.0, 0.5, 0.2]], dtype=F64)
    alpha = torch.tensor([1.0, 2.0, 0.5], dtype=F64)
    noise = 0.5
    expected = [1.0 * math.log2(1 + 2.0 * 1.0 / (0.5 * 0.5 + 0.25 * 0.2 + noise)),
                2.0 * math.log2(1 + 3.0 * 0.5 / (1.0 * 1.0 + 0.5 * 0.2 + noise)),
                0.5 * math.log2(1 + 1.0 * 0.2 / (0.1 * 1.0 + 0.2 * 0.5 + noise))]
    per_user = ref.sum_rate_ref(G, p, noise, alpha, per_user=True)
    torch.testing.assert_close(per_user, torch.tensor([expected], dtype=F64), atol=1e-14, rtol=1e-14)
    torch.testing.assert_close(ref.sum_rate_ref(G, p, noise, alpha), per_user.sum(-1), atol=1e-14, rtol=0)


def test_sum_rate_interference_excludes_the_diagonal_directly():
    # total − signal would cancel the interference 2 against the signal 1e20 and give rate ≈ 66.4 + ...
    G = torch.tensor([[[1e20, 1.0], [1.0, 1e20]]], dtype=F64)
    rates = ref.sum_rate_ref(G, torch.ones(1, 2, dtype=F64), 1.0, per_user=True)
    torch.testing.assert_close(rates, torch.full((1, 2), math.log2(1 + 1e20 / 2), dtype=F64), atol=0, rtol=1e-15)


def test_sum_rate_broadcasts_noise_and_weights():
    B, K = 3, 4
    G, p = _gains(B, K, 0), torch.rand(B, K, dtype=F64, generator=_gen(1))
    noise = torch.tensor([0.5, 1.0, 2.0], dtype=F64)
    alpha = torch.tensor([1.0, 0.5, 2.0, 1.5], dtype=F64)
    full = ref.sum_rate_ref(G, p, noise[:, None].expand(B, K), alpha.expand(B, K), per_user=True)
    torch.testing.assert_close(ref.sum_rate_ref(G, p, noise, alpha, per_user=True), full, atol=0, rtol=0)
    torch.testing.assert_close(ref.sum_rate_ref(G, p, 0.5),
                               ref.sum_rate_ref(G, p, torch.full((B,), 0.5, dtype=F64)))
    torch.testing.assert_close(ref.sum_rate_ref(G, p, 1.0, torch.ones(K, dtype=F64)), ref.sum_rate_ref(G, p))


def test_sum_rate_gradcheck():
    B, K = 2, 3
    G = _gains(B, K, 2).requires_grad_()
    p = torch.rand(B, K, dtype=F64, generator=_gen(3)).requires_grad_()
    noise = (0.5 + torch.rand(B, K, dtype=F64, generator=_gen(4))).requires_grad_()
    alpha = torch.rand(B, K, dtype=F64, generator=_gen(5)).requires_grad_()
    assert torch.autograd.gradcheck(lambda *a: ref.sum_rate_ref(*a, per_user=True), (G, p, noise, alpha))


# ---- SISO WMMSE: spec §5 --------------------------------------------------------------------------

def test_wmmse_objective_is_monotone_and_matches_the_sum_rate():
    G = _gains(200, 10, 10)
    res = ref.wmmse_ref(G, max_iter=60, tol=0, record=True)
    assert res.objective.shape == (200, 61) and res.trajectory.shape == (200, 61, 10)
    assert res.objective.diff(dim=1).min() >= -1e-9
    G_each = G.unsqueeze(1).expand(-1, 61, -1, -1).reshape(-1, 10, 10)
    rates = ref.sum_rate_ref(G_each, res.trajectory.reshape(-1, 10)).view(200, 61)
    torch.testing.assert_close(res.objective, rates, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(res.trajectory[:, -1], res.p, atol=0, rtol=0)


def test_wmmse_objective_is_monotone_fp32():
    res = ref.wmmse_ref(_gains(200, 10, 11, torch.float32), max_iter=40, tol=0, record=True)
    slack = 1e-5 * res.objective.abs()[:, 1:]
    assert (res.objective.diff(dim=1) >= -slack).all()


def test_wmmse_dominates_full_power_and_respects_the_box():
    B, K = 300, 10
    G = _gains(B, K, 12)
    p_max = 0.5 + torch.rand(B, K, dtype=F64, generator=_gen(13))
    p = ref.wmmse_ref(G, p_max, 1.0).p
    assert (p >= 0).all() and (p <= p_max).all()
    gap = ref.sum_rate_ref(G, p) - ref.sum_rate_ref(G, p_max)
    assert gap.min() >= 0


def test_wmmse_single_user_goes_to_full_power():
    B = 50
    G = _gains(B, 1, 14)
    noise = 0.5
    full = ref.wmmse_ref(G, 2.0, noise)
    # Full power up to the rounding of sqrt(p_max)² (torch's float64 sqrt is not correctly rounded on every CPU:
    # on AVX-512 machines sqrt(2)² = 2 − 4.4e-16), and never above p_max.
    assert (full.p <= 2.0).all() and torch.allclose(full.p, torch.full((B, 1), 2.0, dtype=F64), rtol=0, atol=4.5e-16)
    assert (full.iterations == 1).all()  # the first update changes nothing, so it stops
    p_init = 0.1 + 1.9 * torch.rand(B, 1, dtype=F64, generator=_gen(15))
    res = ref.wmmse_ref(G, 2.0, noise, tol=0, p_init=p_init, record=True)
    assert torch.equal(res.p, full.p)
    assert (res.trajectory.diff(dim=1) >= 0).all()  # v ← v + σ²/(h² v) until the clip
    closed_form = torch.log2(1 + G[:, 0, 0] * 2.0 / noise)
    torch.testing.assert_close(ref.sum_rate_ref(G, res.p, noise), closed_form, atol=1e-14, rtol=1e-14)


@pytest.mark.parametrize("amplitudes, p, rate", [
    ([[1.0, 0.1], [0.1, 1.0]], [1.0, 1.0], 1.986),  # weak interference: both at full power
    ([[1.2, 3.0], [3.0, 1.0]], [1.0, 0.0], 1.287),  # strong, asymmetric: user 2 switched off
    ([[1.0, 3.0], [3.0, 1.0]], [1.0, 1.0], 0.275),  # strong, symmetric: Jacobi keeps the symmetry
])
def test_wmmse_two_users(amplitudes, p, rate):
    G = _amplitudes(amplitudes)
    res = ref.wmmse_ref(G, 1.0, 1.0, tol=0, max_iter=500)
    torch.testing.assert_close(res.p, torch.tensor([p], dtype=F64), atol=1e-9, rtol=0)
    assert abs(ref.sum_rate_ref(G, res.p).item() - rate) < 5e-4


def test_two_user_brute_force():
    G = torch.cat([_amplitudes([[1.2, 3.0], [3.0, 1.0]]), _amplitudes([[1.0, 3.0], [3.0, 1.0]])])
    p_best, rate_best = ref.brute_force_2user(G, 1.0, 1.0)
    assert p_best[0].tolist() == [1.0, 0.0] and sorted(p_best[1].tolist()) == [0.0, 1.0]
    wmmse = ref.wmmse_ref(G[:1], tol=0, max_iter=500).p
    torch.testing.assert_close(ref.sum_rate_ref(G[:1], wmmse), rate_best[:1], atol=1e-9, rtol=0)
    assert rate_best[1] == pytest.approx(1.0, abs=1e-12)  # symmetric case: WMMSE's 0.275 is a local optimum


def test_wmmse_permutation_equivariance():
    B, K = 50, 8
    G = _gains(B, K, 16)
    noise = 0.5 + torch.rand(B, K, dtype=F64, generator=_gen(17))
    alpha = torch.rand(B, K, dtype=F64, generator=_gen(18))
    perm = torch.randperm(K, generator=_gen(19))
    p = ref.wmmse_ref(G, 1.0, noise, alpha).p
    p_perm = ref.wmmse_ref(G[:, perm][:, :, perm], 1.0, noise[:, perm], alpha[:, perm]).p
    torch.testing.assert_close(p_perm, p[:, perm], atol=1e-12, rtol=0)


def test_wmmse_scale_invariance():
    G = _gains(100, 10, 20)
    p = ref.wmmse_ref(G, 1.0, 1.0).p
    for c in (1e-3, 7.0, 1e4):
        torch.testing.assert_close(ref.wmmse_ref(G * c, 1.0, c).p, p, atol=1e-12, rtol=0)


def test_wmmse_weights_of_ones_equal_unweighted():
    B, K = 40, 6
    G = _gains(B, K, 21)
    plain = ref.wmmse_ref(G, record=True)
    for weights in (torch.ones(K, dtype=F64), torch.ones(B, 1, dtype=F64), torch.ones(B, K, dtype=F64), 1.0):
        weighted = ref.wmmse_ref(G, weights=weights, record=True)
        for a, b in zip(plain, weighted):
            assert torch.equal(a, b)


def test_wmmse_stops_per_instance():
    B, K, tol = 30, 10, 1e-3
    G = _gains(B, K, 22)
    batch = ref.wmmse_ref(G, tol=tol, record=True)
    assert batch.iterations.dtype == torch.int32 and batch.iterations.min() >= 1
    for b in range(B):
        t = batch.iterations[b].item()
        gains = batch.objective[b].diff()
        assert gains[t - 1] <= tol and (gains[:t - 1] > tol).all()
        assert (batch.objective[b, t:] == batch.objective[b, t]).all()
        assert (batch.trajectory[b, t:] == batch.p[b]).all()
        alone = ref.wmmse_ref(G[b:b + 1], tol=tol, record=True)
        for x, y in zip(alone, batch):
            torch.testing.assert_close(x[0], y[b], atol=1e-14, rtol=0)
    u, w, _ = ref._siso_state(G, batch.p.sqrt(), torch.ones(B, K, dtype=F64), torch.ones(B, K, dtype=F64))
    torch.testing.assert_close((batch.u, batch.w), (u, w), atol=0, rtol=0)


def test_wmmse_zero_channel_and_zero_start_stay_finite():
    G = _gains(4, 5, 23)
    G[0] = 0
    p_init = torch.ones(4, 5, dtype=F64)
    p_init[1, 2] = 0
    res = ref.wmmse_ref(G, p_init=p_init, record=True)
    assert torch.isfinite(res.objective).all() and torch.isfinite(res.u).all()
    assert (res.p[0] == 0).all() and (res.objective[0] == 0).all()
    assert res.p[1, 2] == 0  # zero is absorbing (spec §5.6)


def test_wmmse_sanity_range():
    rates = ref.sum_rate_ref(G := _gains(1000, 10, 24), ref.wmmse_ref(G).p)
    assert 2.7 <= rates.mean().item() <= 3.0  # spec §5.10: 2.82-2.85


def test_fplinq_iterates_equal_wmmse_iterates():
    B, K = 100, 10
    G = _gains(B, K, 25)
    p_max = 0.5 + torch.rand(B, K, dtype=F64, generator=_gen(26))
    noise = 0.5 + torch.rand(B, dtype=F64, generator=_gen(27))
    alpha = 0.2 + torch.rand(B, K, dtype=F64, generator=_gen(28))
    p_fp, iterates = ref.fplinq_ref(G, p_max, noise, alpha, iters=30, return_iterates=True)
    wmmse = ref.wmmse_ref(G, p_max, noise, alpha, max_iter=30, tol=0, record=True)
    torch.testing.assert_close(iterates, wmmse.trajectory, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(p_fp, wmmse.p, atol=1e-12, rtol=1e-10)


# ---- NumPy baselines ---------------------------------------------------------------------------------

def test_numpy_single_matches_the_reference():
    G = _gains(20, 10, 29)
    p = ref.wmmse_ref(G).p.numpy()
    for b in range(20):
        np.testing.assert_allclose(ref.wmmse_numpy_single(np.sqrt(G[b].numpy())), p[b], atol=1e-10, rtol=0)


def test_numpy_batch_matches_the_reference():
    B, K = 200, 10
    G = _gains(B, K, 30)
    p_max = 0.5 + torch.rand(B, K, dtype=F64, generator=_gen(31))
    noise = 0.5 + torch.rand(B, dtype=F64, generator=_gen(32))
    alpha = 0.2 + torch.rand(K, dtype=F64, generator=_gen(33))
    p = ref.wmmse_ref(G, p_max, noise, alpha).p.numpy()
    p_np = ref.wmmse_numpy_batch(np.sqrt(G.numpy()), p_max.numpy(), noise.numpy(), alpha.numpy())
    np.testing.assert_allclose(p_np, p, atol=1e-10, rtol=0)
    np.testing.assert_allclose(ref.wmmse_numpy_batch(np.sqrt(G.numpy())), ref.wmmse_ref(G).p.numpy(),
                               atol=1e-10, rtol=0)


# ---- MISO ----------------------------------------------------------------------------------------------

def test_sum_rate_miso_reduces_to_siso_for_one_antenna():
    B, K = 20, 5
    H, V = _miso(B, K, 1, 34), _miso(B, K, 1, 35)
    G = (H.abs() ** 2).expand(B, K, K)  # G_ij = |h_i|²: every stream reaches user i through h_i
    alpha = torch.rand(B, K, dtype=F64, generator=_gen(36))
    torch.testing.assert_close(ref.sum_rate_miso_ref(H, V, 0.7, alpha, per_user=True),
                               ref.sum_rate_ref(G, (V.abs() ** 2).squeeze(-1), 0.7, alpha, per_user=True),
                               atol=1e-14, rtol=1e-14)


def test_sum_rate_miso_hand_computed_and_gradcheck():
    H = torch.tensor([[[1 + 1j, 0.5j], [0.2, 1 - 1j]]], dtype=torch.complex128)
    V = torch.tensor([[[1.0, 0.0], [0.5j, 1.0]]], dtype=torch.complex128)
    s = [[abs(sum(H[0, i, n] * V[0, j, n] for n in range(2)).item()) ** 2 for j in range(2)] for i in range(2)]
    expected = math.log2(1 + s[0][0] / (s[0][1] + 1)) + math.log2(1 + s[1][1] / (s[1][0] + 1))
    assert ref.sum_rate_miso_ref(H, V, 1.0).item() == pytest.approx(expected, rel=1e-14)
    H, V = _miso(2, 3, 2, 37).requires_grad_(), _miso(2, 3, 2, 38).requires_grad_()
    noise = (0.5 + torch.rand(2, 3, dtype=F64, generator=_gen(39))).requires_grad_()
    assert torch.autograd.gradcheck(lambda *a: ref.sum_rate_miso_ref(*a, per_user=True), (H, V, noise))


def test_wmmse_miso_reduces_to_siso_for_one_antenna():
    B, K, P = 50, 5, 100.0
    H = _miso(B, K, 1, 40)
    G = (H.abs() ** 2).expand(B, K, K).contiguous()
    V0 = ref.mrt_init(H, P / 2)
    miso = ref.wmmse_miso_ref(H, P, 1.0, max_iter=5, tol=0, V_init=V0, record=True)
    siso = ref.wmmse_ref(G, P, 1.0, max_iter=5, tol=0, p_init=(V0.abs() ** 2).squeeze(-1), record=True)
    powers = (miso.trajectory.abs() ** 2).squeeze(-1)
    assert siso.trajectory.sum(-1).max() < 0.99 * P  # neither the box nor the budget binds: mu = 0
    torch.testing.assert_close(powers, siso.trajectory, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(miso.objective, siso.objective, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(miso.u.abs(), siso.u, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(miso.w, siso.w, atol=1e-10, rtol=1e-10)


def test_wmmse_miso_single_user_single_antenna_uses_the_budget():
    H, P, noise, btol = _miso(30, 1, 1, 41), 4.0, 0.5, 1e-6
    res = ref.wmmse_miso_ref(H, P, noise, bisection_tol=btol)
    power = (res.V.abs() ** 2).sum(dim=(1, 2))
    assert ((power <= P) & (power >= P * (1 - btol))).all()
    closed_form = torch.log2(1 + H.abs()[:, 0, 0] ** 2 * P / noise)
    torch.testing.assert_close(ref.sum_rate_miso_ref(H, res.V, noise), closed_form, atol=1e-5, rtol=0)


@pytest.mark.parametrize("btol", [1e-2, 1e-4, 1e-8])
def test_miso_update_power_constraint(btol):
    B, K, N, P = 200, 4, 3, 2.0
    H = _miso(B, K, N, 42)
    u = _miso(B, K, 1, 43).squeeze(-1)
    w = 1 + 3 * torch.rand(B, K, dtype=F64, generator=_gen(44))
    u[:20] *= 1e3  # small V: the unconstrained solution is feasible, mu = 0
    V, mu = ref.miso_beamformer_update(H, u, w, P, bisection_tol=btol)
    power = (V.abs() ** 2).sum(dim=(1, 2))
    assert (power <= P * (1 + 1e-6)).all()
    tight = mu > 0
    assert (mu[:20] == 0).all() and tight.sum() > 100
    assert (power[tight] >= P * (1 - btol)).all()


def test_wmmse_miso_monotone_and_feasible():
    B, K, N, P = 100, 4, 4, 10.0
    res = ref.wmmse_miso_ref(_miso(B, K, N, 45), P, 1.0, max_iter=40, tol=0, bisection_tol=1e-12, record=True)
    assert res.objective.diff(dim=1).min() >= -1e-9
    powers = (res.trajectory.abs() ** 2).sum(dim=(-2, -1))
    assert (powers <= P * (1 + 1e-6)).all()
    assert res.trajectory.shape == (B, 41, K, N) and res.u.dtype == torch.complex128


def test_wmmse_miso_stops_per_instance():
    B, tol = 6, 1e-4
    H = _miso(B, 4, 4, 49)
    batch = ref.wmmse_miso_ref(H, 10.0, 1.0, tol=tol, record=True)
    for b in range(B):
        t = batch.iterations[b].item()
        assert batch.objective[b].diff()[t - 1] <= tol
        assert (batch.objective[b, t:] == batch.objective[b, t]).all()
        assert (batch.trajectory[b, t:] == batch.V[b]).all()
        alone = ref.wmmse_miso_ref(H[b:b + 1], 10.0, 1.0, tol=tol, record=True)
        for x, y in zip(alone, batch):
            torch.testing.assert_close(x[0], y[b], atol=1e-12, rtol=0)


@pytest.mark.parametrize("K, N, P, mean, tol", [(4, 4, 10.0, 9.88, 0.4), (4, 4, 1.0, 3.44, 0.2)])
def test_wmmse_miso_sanity(K, N, P, mean, tol):
    # spec §2b table: 300 draws each, σ² = 1; the per-draw std is ≈ 1.26 / 0.54 bits, so tol ≈ 4 SE
    H = _miso(300, K, N, 46)
    rates = ref.sum_rate_miso_ref(H, ref.wmmse_miso_ref(H, P, 1.0).V)
    assert abs(rates.mean().item() - mean) < tol


def test_wmmse_miso_zero_channel_gives_zero_beamformers():
    H = _miso(3, 3, 2, 47)
    H[1] = 0
    res = ref.wmmse_miso_ref(H, 1.0, 1.0, record=True)
    assert torch.isfinite(torch.view_as_real(res.V)).all() and torch.isfinite(res.objective).all()
    assert (res.V[1] == 0).all() and res.iterations[1] == 1


def test_mrt_init_uses_the_budget():
    H = _miso(5, 3, 4, 48)
    P = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=F64)
    V = ref.mrt_init(H, P)
    torch.testing.assert_close((V.abs() ** 2).sum(dim=(1, 2)), P)
    torch.testing.assert_close(V / V[:, :1, :1].abs(), H.conj() / H[:, :1, :1].abs())


# ---- channels ----------------------------------------------------------------------------------------

def test_channels_are_seeded():
    assert torch.equal(channels.rayleigh(4, 5, generator=_gen(1)), channels.rayleigh(4, 5, generator=_gen(1)))
    assert not torch.equal(channels.rayleigh(4, 5, generator=_gen(1)), channels.rayleigh(4, 5, generator=_gen(2)))
    assert torch.equal(channels.rayleigh_miso(4, 3, 2, generator=_gen(1)),
                       channels.rayleigh_miso(4, 3, 2, generator=_gen(1)))
    for a, b in zip(channels.d2d(4, 6, generator=_gen(1)), channels.d2d(4, 6, generator=_gen(1))):
        assert torch.equal(a, b)
    torch.manual_seed(3)
    first = channels.rayleigh(2, 3)
    torch.manual_seed(3)
    assert torch.equal(first, channels.rayleigh(2, 3))


def test_rayleigh_statistics_and_shapes():
    G = channels.rayleigh(1000, 10, generator=_gen(5), dtype=F64)
    assert G.shape == (1000, 10, 10) and G.dtype == F64 and (G >= 0).all()
    assert abs(G.mean().item() - 1) < 0.02  # Exp(1): SE = 1/√1e5 ≈ 0.003
    amplitude = channels.rayleigh(1000, 10, generator=_gen(5), dtype=F64, amplitude=True)
    torch.testing.assert_close(amplitude, G.sqrt(), atol=0, rtol=0)
    assert channels.rayleigh(0, 3).shape == (0, 3, 3) and channels.rayleigh(2, 3).dtype == torch.float32
    H = channels.rayleigh_miso(1000, 4, 8, generator=_gen(6), dtype=torch.complex128)
    assert H.shape == (1000, 4, 8)
    assert abs((H.abs() ** 2).mean().item() - 1) < 0.02
    assert abs(H.real.var().item() - 0.5) < 0.02 and abs(H.mean().item()) < 0.02
    assert channels.rayleigh_miso(2, 3, 4).dtype == torch.complex64


def test_d2d_geometry():
    B, K = 200, 12
    kwargs = dict(d_min=5.0, d_max=40.0, pathloss_exponent=3.0, snr_db=15.0, threshold=120.0)
    faded = channels.d2d(B, K, generator=_gen(7), dtype=F64, **kwargs)
    flat = channels.d2d(B, K, generator=_gen(7), dtype=F64, fading=False, **kwargs)
    assert all(x.shape == (B, K, K) for x in faded) and faded.adjacency.dtype == torch.bool
    torch.testing.assert_close(faded.distances, flat.distances, atol=0, rtol=0)
    pair = faded.distances.diagonal(dim1=1, dim2=2)
    assert (pair >= 5.0 - 1e-9).all() and (pair <= 40.0 + 1e-9).all()
    expected = 10 ** 1.5 * (faded.distances.clamp_min(5.0) / 40.0) ** -3.0
    torch.testing.assert_close(flat.gains, expected, atol=0, rtol=1e-12)
    fading = faded.gains / flat.gains
    assert abs(fading.mean().item() - 1) < 0.03
    eye = torch.eye(K, dtype=torch.bool)
    assert torch.equal(faded.adjacency, (faded.distances < 120.0) & ~eye)
    assert faded.distances.max() <= math.sqrt(K * 5000.0) * math.sqrt(2) + 40.0  # square side √(K·5000)
    assert channels.d2d(2, 3).gains.dtype == torch.float32
    complete = channels.d2d(2, 4, generator=_gen(8), threshold=math.inf).adjacency
    assert torch.equal(complete, ~torch.eye(4, dtype=torch.bool).expand(2, 4, 4))


@pytest.mark.parametrize("fn, args, kwargs, error, message", [
    ("rayleigh", (4, 0), {}, ValueError, "K must be an int >= 1, got 0"),
    ("rayleigh", (-1, 3), {}, ValueError, "batch must be an int >= 0, got -1"),
    ("rayleigh", (2.0, 3), {}, ValueError, "batch must be an int >= 0, got 2.0"),
    ("rayleigh", (2, 3), dict(dtype=torch.complex64), ValueError, "dtype must be one of torch.float32"),
    ("rayleigh", (2, 3), dict(generator=0), TypeError, "generator must be a torch.Generator or None, got int"),
    ("rayleigh_miso", (2, 3, 0), {}, ValueError, "N must be an int >= 1, got 0"),
    ("rayleigh_miso", (2, 3, 2), dict(dtype=torch.float32), ValueError,
     "dtype must be one of torch.complex64, torch.complex128, got torch.float32"),
    ("d2d", (2, True), {}, ValueError, "K must be an int >= 1, got True"),
    ("d2d", (2, 3), dict(d_min=0.0), ValueError, "d_min must be a finite number > 0, got 0.0"),
    ("d2d", (2, 3), dict(d_min=10.0, d_max=5.0), ValueError, "d_min must be <= d_max, got d_min=10.0, d_max=5.0"),
    ("d2d", (2, 3), dict(threshold=0), ValueError, "threshold must be a number > 0"),
    ("d2d", (2, 3), dict(snr_db=math.nan), ValueError, "snr_db must be a finite number, got nan"),
])
def test_channel_argument_errors(fn, args, kwargs, error, message):
    with pytest.raises(error) as info:
        getattr(channels, fn)(*args, **kwargs)
    assert str(info.value).startswith(f"pyalgo.wireless.{fn}: {message}")
