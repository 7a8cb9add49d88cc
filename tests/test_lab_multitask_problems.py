"""The offline multi-task benchmarks (pyalgo.lab.multitask.problems): the toy's definition and
GO4Align's scale invariance on it, the data and networks of B2/B3, the validation hold-out, and the
trainer's determinism."""
import math

import numpy as np
import pytest
import torch

from pyalgo.lab.multitask import problems as P

pytestmark = pytest.mark.usefixtures("one_thread")


def test_toy_losses_match_the_definition():
    x = torch.tensor([[7.0, -8.0], [-7.0, -8.0], [1.5, 2.0]], dtype=torch.float64)
    f = P.toy_losses(x, scale=0.1)
    c2 = math.tanh(4.0)            # x2 = −8: c1 = 0, c2 = tanh(4)
    assert f[0, 0].item() == pytest.approx(0.1 * c2 * -20.0, rel=1e-12)          # h1 = −20 at (7, −8)
    assert f[0, 1].item() == pytest.approx(c2 * (14.0 ** 2 / 10 - 20.0), rel=1e-12)
    assert f[1, 1].item() == pytest.approx(c2 * -20.0, rel=1e-12)                # h2 = −20 at (−7, −8)
    c1 = math.tanh(1.0)            # x2 = 2: c1 = tanh(1), c2 = 0
    g1 = math.log(abs(0.5 * (-1.5 - 7) - math.tanh(-2.0))) + 6
    g2 = math.log(abs(0.5 * (-1.5 + 3) + math.tanh(-2.0) + 2)) + 6
    assert f[2].tolist() == pytest.approx([0.1 * c1 * g1, c1 * g2], rel=1e-12)
    # the offsets make both losses positive everywhere (f1 >= -20 s, f2 >= -20)
    grid = torch.cartesian_prod(torch.linspace(-10, 10, 81), torch.linspace(-10, 10, 81)).double()
    for scale in (0.1, 1.0):
        low = (P.toy_losses(grid, scale) + torch.tensor(P.toy_offsets(scale), dtype=torch.float64)).min()
        assert low > 0


def test_toy_single_task_optima():
    best = P.toy_single_task_optima(0.1)
    # f_m is least on the Pareto set's end points: s·c2·h at x2 ≈ −8.36 (c2 < 1 pulls x2 below −8)
    assert best[0] == pytest.approx(0.1 * best[1], rel=1e-6)
    assert 1.0 < best[1] < 1.02


@pytest.mark.parametrize("scale", [0.1, 1.0])
def test_toy_go4align_scale_invariance(scale):
    """K = 2, β = 0 ends at x1 = ∓√39 from (−7.5, −0.5) and (9, −1) for both loss scales."""
    r = P.run_toy("go4align", scale, steps=5000, lr=5e-3, inits=((-7.5, -0.5), (9.0, -1.0)), num_groups=2, beta=0.0)
    assert r.final[0, 0] == pytest.approx(-math.sqrt(39), abs=0.02)
    assert r.final[1, 0] == pytest.approx(math.sqrt(39), abs=0.02)
    assert np.all(r.final[:, 1] < -7.5)                            # near the Pareto set x2 = −8.3552


def test_toy_ls_is_not_scale_invariant():
    """LS weights the scaled task down: x1 → −63/11 at scale 0.1, the centre x1 = 0 at scale 1."""
    small = P.run_toy("ls", 0.1, steps=5000, lr=5e-3, inits=((-7.5, -0.5),))
    assert small.final[0, 0] == pytest.approx(-63 / 11, abs=0.02)
    large = P.run_toy("ls", 1.0, steps=5000, lr=5e-3, inits=((-7.5, -0.5),))
    assert abs(large.final[0, 0]) < 0.05


def test_toy_gradient_methods_use_each_points_jacobian():
    """MGDA on the toy: the batched Jacobian path gives the same first step as per-point autograd."""
    inits = ((-7.5, -0.5), (9.0, -1.0))
    r = P.run_toy("mgda", 1.0, steps=1, lr=1e-2, inits=inits, record_every=1)
    from pyalgo.multitask import create

    for i, init in enumerate(inits):
        x = torch.tensor(init, dtype=torch.float64, requires_grad=True)
        L = P.toy_losses(x, 1.0) + torch.tensor(P.toy_offsets(1.0), dtype=torch.float64)
        loss, _ = create("mgda", 2).get_weighted_loss(L, shared_parameters=[x])
        g, = torch.autograd.grad(loss, x)
        # Adam's first step moves every coordinate by lr·sign(g)
        assert np.allclose(r.trajectory[i, 1] - r.trajectory[i, 0], -1e-2 * np.sign(g.numpy()), atol=1e-6)


def test_mlp_copies_are_independent_networks():
    gen = torch.Generator().manual_seed(0)
    nets = P.MLP(3, 5, 8, 2, 1, gen)
    x = torch.randn(4, 5, generator=gen)
    out = nets(x)
    for e in range(3):
        h = x
        for i, (w, b) in enumerate(zip(nets.weights, nets.biases)):
            h = h @ w[e] + b[e]
            h = torch.relu(h) if i < len(nets.weights) - 1 else h
        assert torch.allclose(out[e], h, atol=1e-6)
    # the loss of copy 0 does not reach copy 1's parameters
    out[0].sum().backward()
    assert all(p.grad[1].abs().max() == 0 for p in nets.parameters())
    assert len(nets.shared_parameters()) == 4 and len(nets.task_specific_parameters()) == 2


def test_grouped_regression_data():
    prob = P.GroupedRegression()
    split = prob.data(0)
    assert split.x_train.shape == (512, 20) and split.x_test.shape == (4096, 20) and split.y_test.shape == (4096, 6)
    var = split.y_test.var(0)
    assert (var[2] / var[0]).item() == pytest.approx(9, rel=0.3) and (var[4] / var[0]).item() == pytest.approx(100, rel=0.3)
    # tasks of one latent group share their nonlinear part: more correlated than tasks of different groups
    corr = torch.corrcoef(split.y_test.T)
    assert corr[0, 1] > corr[0, 2] and corr[4, 5] > corr[3, 4]
    assert torch.equal(prob.data(0).y_train, split.y_train) and not torch.equal(prob.data(1).y_train, split.y_train)


def test_digits_data_and_f1():
    from sklearn.metrics import f1_score

    prob = P.DigitsOneVsRest()
    split = prob.data(3)
    assert split.x_train.shape == (400, 64) and split.x_test.shape == (1397, 64)
    assert torch.all(split.y_train.sum(1) == 1) and 0 <= split.x_train.min() and split.x_train.max() <= 1
    counts = split.y_train.sum(0)
    assert counts.min() >= 38 and counts.max() <= 42            # stratified
    logits = torch.randn(1, 1397, 10, generator=torch.Generator().manual_seed(0))
    f1 = prob.metrics(logits, split.y_test)
    expected = [100 * f1_score(split.y_test[:, m].numpy(), (logits[0, :, m] > 0).numpy()) for m in range(10)]
    assert f1 == pytest.approx(expected, abs=1e-4)
    losses = prob.task_losses(torch.zeros(1, 7, 10), split.y_train[:7])
    assert losses.shape == (1, 10)
    assert losses[0, :5].tolist() == pytest.approx([10 * math.log(2)] * 5, rel=1e-6)     # tasks 0–4 ×10
    assert losses[0, 5:].tolist() == pytest.approx([math.log(2)] * 5, rel=1e-6)


def test_hold_out_splits_the_training_rows_only():
    split = P.GroupedRegression().data(0)
    val = split.hold_out(0.25)
    assert val.x_train.shape[0] == 384 and val.x_test.shape[0] == 128
    assert torch.equal(torch.cat([val.x_train, val.x_test]), split.x_train)
    assert torch.equal(torch.cat([val.y_train, val.y_test]), split.y_train)


@pytest.mark.parametrize("method", ["go4align", "famo", "pcgrad", "uw", "rlw"])
def test_train_method_is_deterministic(method):
    prob = P.GroupedRegression()
    a = P.train_method(prob, method, seed=3, steps=40)
    b = P.train_method(prob, method, seed=3, steps=40)
    c = P.train_method(prob, method, seed=4, steps=40)
    assert np.array_equal(a.metrics, b.metrics) and not np.array_equal(a.metrics, c.metrics)
    assert np.all(np.isfinite(a.metrics)) and a.seconds_per_step > 0


def test_train_method_learns_and_stl_is_the_baseline():
    prob = P.GroupedRegression()
    split = prob.data(0)
    stl = P.train_single_task(prob, 0, steps=400, split=split)
    r = P.train_method(prob, "ls", 0, steps=400, split=split, stl_metrics=stl)
    untrained = P.train_method(prob, "ls", 0, steps=0, split=split)
    assert np.all(r.metrics < untrained.metrics)                    # training lowers every task's test MSE
    assert r.delta_m == pytest.approx(100 * np.mean((r.metrics - stl) / stl))


@pytest.mark.slow
def test_digits_go4align_beats_ls_over_five_seeds():
    """On B3, GO4Align (K = 2) has lower Δm than LS, averaged over 5 seeds."""
    prob = P.DigitsOneVsRest()
    dm = {"ls": [], "go4align": []}
    for seed in range(5):
        split = prob.data(seed)
        stl = P.train_single_task(prob, seed, split=split)
        dm["ls"].append(P.train_method(prob, "ls", seed, split=split, stl_metrics=stl).delta_m)
        dm["go4align"].append(P.train_method(prob, "go4align", seed, split=split, stl_metrics=stl,
                                             num_groups=2, beta=0.0, eps=1e-8).delta_m)
    assert np.mean(dm["go4align"]) < np.mean(dm["ls"])
