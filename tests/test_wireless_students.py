"""The distillation students and critics of the library (pyalgo.wireless.students): shapes, ranges,
heads, Sun et al.'s input layout, the GNN's permutation equivariance and adjacency, the unrolled
WMMSE student's exact start at WMMSE and its training past it, argument errors. Tiny problems (K = 4)."""
import pytest
import torch

from pyalgo.wireless import (GNNCritic, GNNStudent, MLPStudent, UnrolledWMMSEStudent, d2d, default_critic,
                             rayleigh, sum_rate, wmmse)

K = 4


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_mlp_student_shapes_range_and_heads():
    G = rayleigh(5, K, generator=torch.Generator().manual_seed(1))
    student = MLPStudent(K, p_max=2.5, weighted=True, state_head=True, trajectory_heads=True)
    out = student(G, torch.rand(5, K), return_aux=True)
    assert out.p.shape == (5, K) and out.state.shape == (5, K, 2) and out.iterates.shape == (5, 3, K)
    for p in (out.p, out.iterates):
        assert bool(((p >= 0) & (p <= 2.5)).all())
    u_scaled, log_w = out.state.unbind(-1)
    assert bool(((u_scaled >= 0) & (u_scaled <= 1)).all()) and bool((log_w >= 0).all())
    plain = MLPStudent(K, inputs="log")(G)
    assert plain.shape == (5, K) and plain.dtype == torch.float32


def test_mlp_student_column_major_input():
    # Sun et al. flatten H column-major: input x[j·K + i] = f(G[i, j]).
    student = MLPStudent(2, hidden=(4,), inputs="gain")
    with torch.no_grad():
        student.layers[0].weight.zero_()
        student.layers[0].weight[0, 1] = 1.0        # reads x[1] = G[1, 0]
        student.layers[0].bias.zero_()
    G = torch.tensor([[[0.0, 5.0], [3.0, 0.0]]])
    captured = []
    student.layers[0].register_forward_hook(lambda module, inputs, output: captured.append(output[0, 0].item()))
    student(G)
    assert captured == [3.0]


def test_mlp_student_norm_option():
    G = rayleigh(6, K, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(0)
    layer, batch, plain = (MLPStudent(K, hidden=(8, 8), norm=n) for n in ("layer", "batch", "none"))
    assert MLPStudent(K).norm == "layer" and isinstance(MLPStudent(K).norms[0], torch.nn.LayerNorm)
    assert plain.norms is None and isinstance(batch.norms[1], torch.nn.BatchNorm1d)
    assert not any(k.startswith("norms.") for k in plain.state_dict())      # Sun et al.'s plain DNN
    for student in (layer, batch, plain):
        p = student(G)
        assert p.shape == (6, K) and bool(((p >= 0) & (p <= 1)).all())
    # LayerNorm is per instance: a row's powers do not depend on the rest of the batch
    torch.testing.assert_close(layer(G[:1]), layer(G)[:1])
    # and it stays finite where its fp32 variance would overflow (activations ≫ 1e19)
    huge = MLPStudent(K, inputs="gain")(G * 1e30)
    assert bool(torch.isfinite(huge).all())
    with pytest.raises(ValueError, match="pyalgo.wireless.MLPStudent: norm must be one of"):
        MLPStudent(K, norm="group")


@pytest.mark.parametrize("aggregation", ["max", "sum", "mean"])
def test_gnn_permutation_equivariant_and_size_agnostic(aggregation):
    g = torch.Generator().manual_seed(2)
    torch.manual_seed(2)
    student = GNNStudent(hidden=8, layers=3, aggregation=aggregation, state_head=True, trajectory_heads=True)
    for k in (3, 7):
        G, w = rayleigh(4, k, generator=g), torch.rand(4, k, generator=g)
        adjacency = torch.rand(4, k, k, generator=g) < 0.6
        perm = torch.randperm(k, generator=g)
        out = student(G, w, adjacency, return_aux=True)
        out_perm = student(G[:, perm][:, :, perm], w[:, perm], adjacency[:, perm][:, :, perm], return_aux=True)
        torch.testing.assert_close(out_perm.p, out.p[:, perm], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(out_perm.state, out.state[:, perm], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(out_perm.iterates, out.iterates[:, :, perm], rtol=1e-5, atol=1e-6)
        assert out.p.shape == (4, k) and out.iterates.shape == (4, 2, k)


def test_gnn_adjacency_cuts_messages():
    g = torch.Generator().manual_seed(3)
    torch.manual_seed(3)
    student = GNNStudent(hidden=8, aggregation="sum")
    G = rayleigh(2, K, generator=g)
    no_edges = torch.zeros(2, K, K, dtype=torch.bool)
    other = G.clone()
    other[:, 0, 1] *= 10.0                          # a non-edge's gain must not matter
    torch.testing.assert_close(student(G, adjacency=no_edges), student(other, adjacency=no_edges))
    assert not torch.allclose(student(G), student(other))


def test_argument_errors():
    G = rayleigh(2, K, generator=torch.Generator().manual_seed(4))
    mlp, gnn = MLPStudent(K, hidden=(8,)), GNNStudent(hidden=8, layers=2)
    cases = [
        (lambda: MLPStudent(K, inputs="db"), "pyalgo.wireless.MLPStudent: inputs must be one of"),
        (lambda: MLPStudent(K, p_max=0), "pyalgo.wireless.MLPStudent: p_max"),
        (lambda: mlp(G, torch.ones(2, K)), "weighted=False"),
        (lambda: mlp(G[:, :3, :3]), "pyalgo.wireless.MLPStudent: G must have K = 4 users"),
        (lambda: GNNStudent(aggregation="min"), "pyalgo.wireless.GNNStudent: aggregation"),
        (lambda: GNNStudent(layers=1, trajectory_heads=True), "pyalgo.wireless.GNNStudent: layers must be an int >= 2"),
        (lambda: gnn(G, adjacency=torch.ones(2, K, K)), "adjacency must be a bool tensor"),
        (lambda: default_critic(torch.nn.Linear(2, 2)), "pyalgo.wireless.default_critic: no default critic"),
        (lambda: UnrolledWMMSEStudent(layers=0), "pyalgo.wireless.UnrolledWMMSEStudent: layers must be an int >= 1"),
        (lambda: UnrolledWMMSEStudent(layers=1, trajectory_heads=True),
         "pyalgo.wireless.UnrolledWMMSEStudent: layers must be an int >= 2"),
        (lambda: UnrolledWMMSEStudent(noise=0), "pyalgo.wireless.UnrolledWMMSEStudent: noise"),
        (lambda: UnrolledWMMSEStudent(p_max=-1), "pyalgo.wireless.UnrolledWMMSEStudent: p_max"),
        (lambda: UnrolledWMMSEStudent(layers=2)(G[0]), "pyalgo.wireless.UnrolledWMMSEStudent: G must have shape"),
        (lambda: UnrolledWMMSEStudent(layers=2)(G, torch.ones(3)), "pyalgo.wireless.UnrolledWMMSEStudent: weights"),
    ]
    for call, message in cases:
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        assert message in str(info.value), (message, str(info.value))


@pytest.mark.parametrize("layers", [1, 3, 7])
def test_unrolled_wmmse_starts_exactly_at_wmmse(layers):
    # Untrained (the modulation MLPs end in zeros), the student is `layers` Jacobi WMMSE updates from
    # full power: on Rayleigh and D2D gains, with user weights and another p_max/σ², in float64.
    G = rayleigh(16, K, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    D = d2d(8, 6, generator=torch.Generator().manual_seed(6), dtype=torch.float64).gains
    alpha = torch.rand(16, K, generator=torch.Generator().manual_seed(7), dtype=torch.float64) + 0.1
    student = UnrolledWMMSEStudent(layers=layers, hidden=8).double()
    torch.testing.assert_close(student(G), wmmse(G, max_iter=layers, tol=0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(student(D), wmmse(D, max_iter=layers, tol=0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(student(G, alpha), wmmse(G, weights=alpha, max_iter=layers, tol=0),
                               rtol=1e-12, atol=1e-12)
    G[0, 1, 1] = 0.0                                   # a user with no direct gain; an isolated user;
    G[1, :, 2] = G[1, 2, :] = 0.0                      # a user of weight 0: WMMSE's 0/0 rule, no NaN
    alpha[2, 3] = 0.0
    for weights in (None, alpha):
        p = student(G, weights)
        assert bool(torch.isfinite(p).all())
        torch.testing.assert_close(p, wmmse(G, weights=weights, max_iter=layers, tol=0), rtol=1e-12, atol=1e-12)
    other = UnrolledWMMSEStudent(layers=layers, hidden=8, p_max=2.0, noise=0.5).double()
    torch.testing.assert_close(other(G), wmmse(G, p_max=2.0, noise=0.5, max_iter=layers, tol=0),
                               rtol=1e-12, atol=1e-12)


def test_unrolled_wmmse_shapes_range_equivariance_and_gradient():
    G = rayleigh(6, 5, generator=torch.Generator().manual_seed(8))
    torch.manual_seed(0)
    student = UnrolledWMMSEStudent(layers=4, hidden=8, p_max=2.5, trajectory_heads=True)
    for mlp in student.modulation:                     # off WMMSE: a non-zero modulation
        torch.nn.init.normal_(mlp[-1].weight, std=0.5)
    out = student(G, return_aux=True)
    assert out.p.shape == (6, 5) and out.iterates.shape == (6, 3, 5) and out.state is None
    for p in (out.p, out.iterates):
        assert bool(((p >= 0) & (p <= 2.5)).all())
    assert not torch.allclose(out.p, wmmse(G, p_max=2.5, max_iter=4, tol=0))
    perm = torch.randperm(5, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(student(G[:, perm][:, :, perm]), out.p[:, perm])
    assert student(rayleigh(2, 9, generator=torch.Generator().manual_seed(1))).shape == (2, 9)   # any K
    sum_rate(G, out.p).sum().backward()
    grads = [m[-1].weight.grad for m in student.modulation]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    assert isinstance(default_critic(student), GNNCritic)


def test_unrolled_wmmse_training_passes_its_wmmse_start():
    # A few Adam steps on the sum rate move the student past the L WMMSE updates it starts from
    # (the gradient reaches the modulation through the clipped updates).
    G = rayleigh(128, K, generator=torch.Generator().manual_seed(10))
    torch.manual_seed(0)
    student = UnrolledWMMSEStudent(layers=3, hidden=16)
    start = float(sum_rate(G, wmmse(G, max_iter=3, tol=0)).mean())
    opt = torch.optim.Adam(student.parameters(), lr=1e-2)
    for _ in range(30):
        opt.zero_grad()
        (-sum_rate(G, student(G)).mean()).backward()
        opt.step()
    with torch.no_grad():
        assert float(sum_rate(G, student(G)).mean()) > start * 1.01
