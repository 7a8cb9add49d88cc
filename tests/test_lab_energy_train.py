"""The trainers of pyalgo.lab.energy.train (min-min EBM training and its baselines), their exact
resume from a checkpoint, and the diagnostics of pyalgo.energy.evaluate on trained models."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pyalgo.energy import reference as ref
from pyalgo.energy.data import load_label_ranking, synthetic_ising
from pyalgo.energy.evaluate import tau_vs_lse
from pyalgo.energy.models import FreeTau
from pyalgo.lab import harness as H
from pyalgo.lab.energy import train as T


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def toy():
    # a small version of the Ising toy: data from a known Ising EBM (exact LSE by enumeration)
    return synthetic_ising(1500, 300, k=6, d=10, seed=3, dtype=torch.float32)


@pytest.fixture(scope="module")
def unary_data():
    """Multilabel data from a ground-truth unary model (independent bits), k = 5, d = 8."""
    g = torch.Generator().manual_seed(0)
    W = torch.randn(8, 5, generator=g) * 1.5
    x = torch.randn(900, 8, generator=g)
    y = (torch.rand(900, 5, generator=g) < torch.sigmoid(x @ W)).float()
    return SimpleNamespace(x_train=x[:600], y_train=y[:600], x_test=x[600:], y_test=y[600:])


@pytest.fixture(scope="module")
def iris():
    return load_label_ranking("iris")


@pytest.mark.parametrize("method", ["minmin", "sparsemax", "exact_mle", "bce", "mcmc"])
def test_training_reduces_loss_and_learns(unary_data, method):
    r = T.train_multilabel(unary_data, method, hidden=16, epochs=8, lr=3e-3, num_samples=16)
    assert len(r.curve) == 8 and all(math.isfinite(c) for c in r.curve)
    untrained = T.train_multilabel(unary_data, method, hidden=16, epochs=0)
    if method != "mcmc":  # the CD surrogate is not an objective value; compare NLLs below instead
        assert r.curve[-1] < r.curve[0]
    assert r.metrics["nll"] < untrained.metrics["nll"] - 0.3
    assert r.metrics["f1_micro"] > untrained.metrics["f1_micro"] + 5


def test_exact_mle_and_bce_same_solution(unary_data):
    a = T.train_multilabel(unary_data, "exact_mle", hidden=16, epochs=5, lr=3e-3, seed=4)
    b = T.train_multilabel(unary_data, "bce", hidden=16, epochs=5, lr=3e-3, seed=4)
    # same gradients (the losses differ by the constant k log 2), same Adam path
    np.testing.assert_allclose(np.array(a.curve) + 5 * math.log(2), b.curve, rtol=1e-4, atol=1e-4)
    x = unary_data.x_test
    torch.testing.assert_close(a.energy(x), b.energy(x), atol=1e-4, rtol=1e-4)
    assert a.metrics["f1_example"] == pytest.approx(b.metrics["f1_example"], abs=0.5)


def test_minmin_tau_tracks_exact_lse_on_ising_toy(toy):
    # the toy: linear unary+pairwise g, τ = MLP; the reference run reports mean |τ − LSE| = 0.40 with std(LSE) = 4.9
    r = T.train_multilabel(toy, "minmin", model="pairwise", hidden=0, tau_hidden=32, lr=3e-3, batch_size=128,
                           epochs=40, num_samples=32, seed=0)
    mle = T.train_multilabel(toy, "exact_mle", model="pairwise", hidden=0, lr=3e-3, batch_size=128, epochs=40, seed=0)
    t = tau_vs_lse(r.energy, r.tau, toy.x_test)
    assert t["std_lse"] > 1.0
    assert t["mean_abs_err"] < 0.25 * t["std_lse"]
    assert t["corr"] > 0.95
    # min-min ends close to exact MLE in test NLL (reference run: −2.940 vs −2.900)
    assert r.metrics["nll"] < mle.metrics["nll"] + 0.15
    u, U = toy.true_parameters(toy.x_test)
    true_nll = float((ref.exact_lse_bits(u, U) - ref.energy_bits(u, toy.y_test, U)).mean())
    assert true_nll - 0.05 < mle.metrics["nll"] < true_nll + 0.5


def test_free_tau_variant(unary_data):
    r = T.train_multilabel(unary_data, "minmin", tau="free", hidden=16, epochs=30, lr=1e-2, num_samples=32)
    assert isinstance(r.tau, FreeTau) and r.tau.tau.shape == (600,)
    assert r.curve[-1] < r.curve[0]
    lse = ref.unary_lse(r.energy(unary_data.x_train)).detach()
    err = (r.tau.tau.detach() - lse).abs().mean()
    assert err < 0.3 * (lse.abs().mean() + lse.std())   # each τ_i moved towards its example's LSE
    with pytest.raises(TypeError, match="pyalgo.energy.tau_vs_lse: tau"):
        tau_vs_lse(r.energy, r.tau, unary_data.x_test)


def test_reproducible_from_seed(unary_data):
    kw = dict(hidden=8, epochs=3, num_samples=8)
    a = T.train_multilabel(unary_data, "minmin", seed=11, **kw)
    b = T.train_multilabel(unary_data, "minmin", seed=11, **kw)
    c = T.train_multilabel(unary_data, "minmin", seed=12, **kw)
    assert a.curve == b.curve and a.metrics == b.metrics
    assert a.curve != c.curve
    g0 = torch.random.get_rng_state()
    T.train_multilabel(unary_data, "mcmc", seed=1, **kw)
    assert torch.equal(g0, torch.random.get_rng_state())   # the caller's global RNG is untouched


def test_ranking_methods_and_models(iris):
    tr, te = np.arange(0, 150, 2), np.arange(1, 150, 2)
    res = {}
    for method, model in [("minmin", "permutahedron"), ("sparsemax", "permutahedron"), ("mcmc", "permutahedron"),
                          ("minmin", "birkhoff"), ("exact_mle", "permutahedron")]:
        r = T.train_ranking(iris, method, model=model, train_idx=tr, test_idx=te, epochs=25, lr=3e-3, hidden=32,
                            num_samples=16)
        res[(method, model)] = r.metrics["kendall_tau"]
    untrained = T.train_ranking(iris, "mcmc", train_idx=tr, test_idx=te, epochs=0, hidden=32)
    for key, v in res.items():
        assert v > 70, (key, v)
    assert res[("mcmc", "permutahedron")] > untrained.metrics["kendall_tau"] + 20
    a = T.train_ranking(iris, "minmin", train_idx=tr, test_idx=te, epochs=2, seed=5)
    b = T.train_ranking(iris, "minmin", train_idx=tr, test_idx=te, epochs=2, seed=5)
    assert a.curve == b.curve and a.metrics == b.metrics


def test_tau_vs_lse_ranking_matches_reference(iris):
    tr, te = np.arange(0, 150, 2), np.arange(1, 150, 2)
    r = T.train_ranking(iris, "minmin", model="birkhoff", train_idx=tr, test_idx=te, epochs=20, lr=3e-3, hidden=32)
    out = tau_vs_lse(r.energy, r.tau, iris.x[te])
    lse = ref.exact_lse_perms(r.energy(iris.x[te])).detach().double().numpy()
    np.testing.assert_allclose(out["lse"], lse, rtol=1e-6)
    assert out["mean_abs_err"] < max(0.5, 0.5 * out["std_lse"])


def test_bad_arguments(unary_data, iris):
    fn = "pyalgo.lab.energy.train_multilabel"
    cases = [
        (dict(method="nope"), ValueError, f"{fn}: method"),
        (dict(model="tree"), ValueError, f"{fn}: model"),
        (dict(tau="fixed"), ValueError, f"{fn}: tau"),
        (dict(num_samples=0), ValueError, f"{fn}: num_samples"),
        (dict(num_samples=2.5), TypeError, f"{fn}: num_samples"),
        (dict(epochs=-1), ValueError, f"{fn}: epochs"),
        (dict(lr=0.0), ValueError, f"{fn}: lr"),
        (dict(weight_decay=-1.0), ValueError, f"{fn}: weight_decay"),
        (dict(grad_clip=0.0), ValueError, f"{fn}: grad_clip"),
        (dict(dropout=1.0), ValueError, f"{fn}: dropout"),
        (dict(method="bce", model="pairwise"), ValueError, f"{fn}: method 'bce'"),
    ]
    for kw, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            T.train_multilabel(unary_data, **kw)
    with pytest.raises(TypeError, match=f"{fn}: data"):
        T.train_multilabel(SimpleNamespace(x_train=unary_data.x_train), "minmin")
    bad = SimpleNamespace(x_train=unary_data.x_train, y_train=unary_data.y_train * 2, x_test=unary_data.x_test,
                          y_test=unary_data.y_test)
    with pytest.raises(ValueError, match=f"{fn}: data.y_train"):
        T.train_multilabel(bad, "minmin")
    big = SimpleNamespace(x_train=torch.randn(4, 3), y_train=torch.zeros(4, 17), x_test=torch.randn(2, 3),
                          y_test=torch.zeros(2, 17))
    with pytest.raises(ValueError, match=f"{fn}: method 'exact_mle'.*k <= 16"):
        T.train_multilabel(big, "exact_mle", model="pairwise")
    fr = "pyalgo.lab.energy.train_ranking"
    with pytest.raises(ValueError, match=f"{fr}: train_idx"):
        T.train_ranking(iris, "minmin")
    with pytest.raises(ValueError, match=f"{fr}: method"):
        T.train_ranking(iris, "bce", train_idx=np.arange(10), test_idx=np.arange(10, 20))
    with pytest.raises(ValueError, match=f"{fr}: model"):
        T.train_ranking(iris, "minmin", model="unary", train_idx=np.arange(10), test_idx=np.arange(10, 20))
    with pytest.raises(TypeError, match=f"{fr}: data"):
        T.train_ranking(object(), "minmin")


def _state(result):
    mods = [result.energy] + ([result.tau] if result.tau is not None else [])
    return [p.detach().clone() for m in mods for p in m.parameters()]


@pytest.mark.parametrize("method, kw", [("minmin", dict(dropout=0.3, track_nll=True)), ("mcmc", dict(model="pairwise"))])
def test_exact_resume_multilabel(unary_data, tmp_path, method, kw):
    common = dict(hidden=8, num_samples=8, seed=3, **kw)
    full = T.train_multilabel(unary_data, method, epochs=4, checkpoint=tmp_path / "full.pt", **common)
    T.train_multilabel(unary_data, method, epochs=2, checkpoint=tmp_path / "part.pt", **common)  # "interrupted"
    resumed = T.train_multilabel(unary_data, method, epochs=4, checkpoint=tmp_path / "part.pt", resume=True, **common)
    assert resumed.curve == full.curve and resumed.train_nll == full.train_nll and resumed.metrics == full.metrics
    assert all(torch.equal(a, b) for a, b in zip(_state(full), _state(resumed)))
    saved = torch.load(tmp_path / "part.pt", weights_only=True)   # tensors and plain data only
    assert saved["epoch"] == 3 and saved["config"]["method"] == method and "epochs" not in saved["config"]
    assert set(saved["state"]) >= {"energy", "opt", "shuffle", "sampler", "dropout"}


@pytest.mark.parametrize("method", ["minmin", "minmax"])   # minmax: the learned sampler is resumed too
def test_exact_resume_ranking(iris, tmp_path, method):
    tr, te = np.arange(0, 150, 2), np.arange(1, 150, 2)
    kw = dict(train_idx=tr, test_idx=te, hidden=8, num_samples=8, seed=2)
    full = T.train_ranking(iris, method, epochs=3, **kw)
    T.train_ranking(iris, method, epochs=1, checkpoint=tmp_path / "r.pt", **kw)
    resumed = T.train_ranking(iris, method, epochs=3, checkpoint=tmp_path / "r.pt", resume=True, **kw)
    assert resumed.curve == full.curve and resumed.metrics == full.metrics
    assert all(torch.equal(a, b) for a, b in zip(_state(full), _state(resumed)))


def test_resume_refuses_other_settings(unary_data, tmp_path):
    path = tmp_path / "c.pt"
    T.train_multilabel(unary_data, "minmin", hidden=8, epochs=1, lr=1e-3, checkpoint=path)
    with pytest.raises(H.CheckpointMismatch, match=r"pyalgo.lab.energy.train_multilabel: .*lr: 0.001 -> 0.002"):
        T.train_multilabel(unary_data, "minmin", hidden=8, epochs=2, lr=2e-3, checkpoint=path, resume=True)
    small = SimpleNamespace(x_train=unary_data.x_train[:100], y_train=unary_data.y_train[:100],
                            x_test=unary_data.x_test, y_test=unary_data.y_test)
    with pytest.raises(H.CheckpointMismatch, match=r"data: \[600, 8, 5\] -> \[100, 8, 5\]"):
        T.train_multilabel(small, "minmin", hidden=8, epochs=2, checkpoint=path, resume=True)


def test_dropout_reproducible_and_caller_rng_untouched(unary_data):
    state = torch.random.get_rng_state()
    a = T.train_multilabel(unary_data, "minmin", hidden=8, epochs=2, dropout=0.5, seed=7)
    torch.manual_seed(123)   # the caller's global RNG does not leak into training
    b = T.train_multilabel(unary_data, "minmin", hidden=8, epochs=2, dropout=0.5, seed=7)
    assert a.curve == b.curve
    torch.random.set_rng_state(state)
    T.train_multilabel(unary_data, "minmin", hidden=8, epochs=2, dropout=0.5, seed=7)
    assert torch.equal(state, torch.random.get_rng_state())


# -- the paper's baselines and α-entmax (issue 17): methods gfy, minmax, entmax ----------------------------------

@pytest.mark.parametrize("model", ["unary", "pairwise"])
@pytest.mark.parametrize("method", ["gfy", "minmax", "entmax"])
def test_baseline_methods_learn_multilabel(unary_data, method, model):
    r = T.train_multilabel(unary_data, method, model=model, hidden=16, epochs=8, lr=3e-3, num_samples=16)
    assert len(r.curve) == 8 and all(math.isfinite(c) for c in r.curve)
    assert r.curve[-1] < r.curve[0]
    untrained = T.train_multilabel(unary_data, method, model=model, hidden=16, epochs=0)
    assert r.metrics["f1_micro"] > untrained.metrics["f1_micro"] + 5
    assert r.metrics["nll"] < untrained.metrics["nll"] - 0.3
    assert r.config["method"] == method and r.config["alpha"] == 1.5
    assert (r.tau is None) == (method == "gfy")


@pytest.mark.parametrize("model", ["permutahedron", "birkhoff"])
@pytest.mark.parametrize("method", ["gfy", "minmax", "entmax"])
def test_baseline_methods_learn_ranking(iris, method, model):
    tr, te = np.arange(0, 150, 2), np.arange(1, 150, 2)
    r = T.train_ranking(iris, method, model=model, train_idx=tr, test_idx=te, epochs=25, lr=3e-3, hidden=32,
                        num_samples=16)
    untrained = T.train_ranking(iris, method, model=model, train_idx=tr, test_idx=te, epochs=0, hidden=32)
    assert all(math.isfinite(c) for c in r.curve) and r.curve[-1] < r.curve[0]
    assert r.metrics["kendall_tau"] > 60 and r.metrics["kendall_tau"] > untrained.metrics["kendall_tau"] + 20


def test_entmax_trainer_loss_is_the_exact_entmax_minmin(unary_data):
    # the trainer's entmax batch loss (fused op, kind="entmax", α = alpha) is an unbiased estimate of the exact
    # α-entmax min-min loss, computed by enumerating the 2^5 label vectors
    r = T.train_multilabel(unary_data, "entmax", model="pairwise", hidden=8, epochs=2, lr=3e-3, alpha=1.7)
    xb, yb, idx = unary_data.x_train[:6], unary_data.y_train[:6], torch.arange(6)
    r.energy.eval()
    with torch.no_grad():
        u, U = r.energy(xb)
        tau = r.tau(xb) - 1.5                    # away from τ* so that α matters; a free τ (indexed by idx)
        exact = ref.exact_minmin_loss_bits(u.double(), tau.double(), yb.double(), U.double(), alpha=1.7).mean()
        other = ref.exact_minmin_loss_bits(u.double(), tau.double(), yb.double(), U.double(), alpha=1.3).mean()
        loss = T._multilabel_loss(dict(r.config, num_samples=4096), r.energy, lambda i: tau[i])
        gen = torch.Generator().manual_seed(0)
        est = np.mean([float(loss(xb, yb, idx, gen)) for _ in range(20)])
    assert abs(float(other) - float(exact)) > 0.01            # α matters at this precision
    assert est == pytest.approx(float(exact), abs=2e-3)


def test_minmax_sampler_moves_towards_the_model(unary_data):
    # unary energy: p_g is a factorised Bernoulli(σ(u)); the REINFORCE-trained sampler (starting at q, a = 0)
    # should move towards it: mean |σ(a) − σ(u)| on test x falls well below its value at the start
    r = T.train_multilabel(unary_data, "minmax", hidden=16, tau_hidden=16, epochs=15, lr=3e-3, num_samples=16, seed=1)
    with torch.no_grad():
        a, u = r.tau(unary_data.x_test), r.energy(unary_data.x_test)
        gap = (torch.sigmoid(a) - torch.sigmoid(u)).abs().mean()
        gap0 = (0.5 - torch.sigmoid(u)).abs().mean()
    assert float(gap) < 0.5 * float(gap0), (float(gap), float(gap0))


@pytest.mark.parametrize("method, kw", [("minmax", dict(model="pairwise")), ("gfy", dict(model="pairwise")),
                                        ("entmax", dict(alpha=1.3))])
def test_exact_resume_baseline_methods(unary_data, tmp_path, method, kw):
    common = dict(hidden=8, num_samples=8, seed=3, **kw)
    full = T.train_multilabel(unary_data, method, epochs=4, checkpoint=tmp_path / "full.pt", **common)
    T.train_multilabel(unary_data, method, epochs=2, checkpoint=tmp_path / "part.pt", **common)
    resumed = T.train_multilabel(unary_data, method, epochs=4, checkpoint=tmp_path / "part.pt", resume=True, **common)
    assert resumed.curve == full.curve and resumed.metrics == full.metrics
    assert all(torch.equal(a, b) for a, b in zip(_state(full), _state(resumed)))
    if method == "entmax":
        with pytest.raises(H.CheckpointMismatch, match=r"alpha: 1.3 -> 1.5"):
            T.train_multilabel(unary_data, method, epochs=5, checkpoint=tmp_path / "part.pt", resume=True,
                               **dict(common, alpha=1.5))


def test_baseline_methods_bad_arguments(unary_data, iris):
    for alpha in (1.0, 0.5, float("nan"), "1.5", True):
        with pytest.raises(ValueError, match="pyalgo.lab.energy.train_multilabel: alpha"):
            T.train_multilabel(unary_data, "entmax", alpha=alpha)
        with pytest.raises(ValueError, match="pyalgo.lab.energy.train_ranking: alpha"):
            T.train_ranking(iris, "entmax", alpha=alpha, train_idx=np.arange(10), test_idx=np.arange(10, 20))
    assert {"gfy", "minmax", "entmax"} <= set(T.MULTILABEL_METHODS) & set(T.RANKING_METHODS)


def test_minmax_sampler_lr_default(unary_data):
    kw = dict(hidden=8, epochs=2, lr=2e-3, num_samples=4, seed=5)
    a = T.train_multilabel(unary_data, "minmax", **kw)
    b = T.train_multilabel(unary_data, "minmax", tau_lr=2e-3 * T.MINMAX_SAMPLER_LR_FACTOR, **kw)
    c = T.train_multilabel(unary_data, "minmax", tau_lr=2e-3, **kw)
    assert a.curve == b.curve and a.curve != c.curve

# -- proposals (importance-weighted min-min), centring, init_scale ------------------------------------

@pytest.fixture(scope="module")
def pl8():
    from pyalgo.energy.data import synthetic_plackett_luce
    return synthetic_plackett_luce(800, 400, k=8, d=10, seed=1)


def _rk_settings(**kw):
    base = dict(method="minmin", model="permutahedron", tau="net", num_samples=16, epochs=1, batch_size=8, lr=1e-3,
                weight_decay=0.0, hidden=8, tau_hidden=None, dropout=0.0, chain_length=1, grad_clip=None,
                tau_lr=None, seed=0, alpha=1.5)
    base.update(kw)
    return T._settings("train_ranking", T.RANKING_METHODS, T.RANKING_MODELS, **base)


@pytest.mark.parametrize("proposal, kw", [("model", dict(center=True, proposal_scale=1.5)), ("learned", {}),
                                          ("uniform", dict(center=True))])
def test_ranking_loss_is_the_weighted_reference_on_the_same_samples(pl8, proposal, kw):
    from pyalgo.energy.ops import sample_perms
    from pyalgo.energy.models import PermutahedronEnergy, TauNet
    s = _rk_settings(proposal=proposal, **kw)
    torch.manual_seed(0)
    energy, tau = PermutahedronEnergy(10, 8, 8), TauNet(10, 8)
    head = T._build_proposal(s, 10, 8, torch.device("cpu"))
    assert (head is not None) == (proposal == "learned")
    xb, yb = pl8.x_train[:8], pl8.y_train[:8]
    loss = T._ranking_loss(s, energy, tau, head)(xb, yb, None, torch.Generator().manual_seed(5))
    theta = energy(xb)
    theta_c = theta - theta.mean(1, keepdim=True) if s["center"] else theta
    gen = torch.Generator().manual_seed(5)
    if proposal == "uniform":
        perms, lw = sample_perms(8, 16, 8, generator=gen), None
    else:
        scores = theta * 1.5 if proposal == "model" else head(xb)
        perms, lw = sample_perms(8, 16, 8, generator=gen, proposal=scores.detach())
    want = ref.minmin_loss_ranking_ref(theta_c, tau(xb), yb, perms, log_weight=lw).mean()
    if proposal == "learned":
        want = want - ref.plackett_luce_log_prob(head(xb), yb).mean()
    torch.testing.assert_close(loss, want, rtol=1e-5, atol=1e-5)
    if proposal == "model":   # the weights matter: the unweighted loss on these samples is far from it
        unweighted = ref.minmin_loss_ranking_ref(theta_c, tau(xb), yb, perms).mean()
        assert abs(float((unweighted - want).detach())) > 1e-2


def test_multilabel_loss_is_the_weighted_reference_on_the_same_samples(unary_data):
    from pyalgo.energy.ops import sample_bits
    from pyalgo.energy.models import PairwiseEnergy, TauNet
    base = dict(method="minmin", model="pairwise", tau="net", num_samples=16, epochs=1, batch_size=8, lr=1e-3,
                weight_decay=0.0, hidden=8, tau_hidden=None, dropout=0.0, chain_length=1, grad_clip=None,
                tau_lr=None, seed=0, alpha=1.5)
    for proposal in ("model", "learned"):
        s = T._settings("train_multilabel", T.MULTILABEL_METHODS, T.MULTILABEL_MODELS, proposal=proposal, **base)
        torch.manual_seed(0)
        energy, tau = PairwiseEnergy(8, 5, 8), TauNet(8, 8)
        with torch.no_grad():
            energy.net[-1].weight.normal_()   # a non-zero pairwise part
        head = T._build_proposal(s, 8, 5, torch.device("cpu"))
        xb, yb = unary_data.x_train[:8], unary_data.y_train[:8]
        loss = T._multilabel_loss(s, energy, tau, head)(xb, yb, None, torch.Generator().manual_seed(5))
        u, U = energy(xb)
        a = u if proposal == "model" else head(xb)
        bits, lw = sample_bits(8, 16, 5, generator=torch.Generator().manual_seed(5), proposal=a.detach())
        want = ref.minmin_loss_ref(u, tau(xb), yb, bits.float(), U, log_weight=lw).mean()
        if proposal == "learned":
            want = want - ref.bernoulli_log_prob(head(xb), yb).mean()
        torch.testing.assert_close(loss, want, rtol=1e-5, atol=1e-5)


def test_ranking_proposals_learn_k8(pl8):
    common = dict(hidden=16, epochs=4, lr=3e-3, num_samples=16, seed=0)
    uniform = T.train_ranking(pl8, **common).metrics["kendall_tau"]            # the paper's loss: learns slowly
    best = ref_kendall = None
    from pyalgo.energy.metrics import kendall_tau
    ref_kendall = kendall_tau(pl8.y_test, pl8.true_predictions(pl8.x_test))
    for proposal in ("model", "learned"):
        r = T.train_ranking(pl8, proposal=proposal, center=True, init_scale=0.1, grad_clip=1.0, **common)
        best = r.metrics["kendall_tau"]
        assert best > uniform + 10 and best > 0.8 * ref_kendall, (proposal, best, uniform, ref_kendall)
        assert r.config["proposal"] == proposal and (r.proposal is not None) == (proposal == "learned")
        if proposal == "learned":   # the head learned the data's PL law: far better than uniform (log 8!)
            nll = -ref.plackett_luce_log_prob(r.proposal(pl8.x_test), pl8.y_test).mean().item()
            assert nll < math.lgamma(9) - 1.0, nll


@pytest.mark.parametrize("proposal", ["model", "learned"])
def test_multilabel_proposals_learn(unary_data, proposal):
    r = T.train_multilabel(unary_data, "minmin", proposal=proposal, hidden=16, epochs=8, lr=3e-3, num_samples=16)
    untrained = T.train_multilabel(unary_data, "minmin", hidden=16, epochs=0)
    assert r.metrics["nll"] < untrained.metrics["nll"] - 0.3
    assert r.metrics["f1_micro"] > untrained.metrics["f1_micro"] + 5


def test_init_scale_and_center(pl8):
    r = T.train_ranking(pl8, init_scale=0.0, epochs=0, hidden=8)
    assert torch.count_nonzero(r.energy(pl8.x_test)) == 0          # p_g starts uniform
    a = T.train_ranking(pl8, epochs=0, hidden=8)
    b = T.train_ranking(pl8, init_scale=0.5, epochs=0, hidden=8)
    torch.testing.assert_close(b.energy.net[-1].weight, 0.5 * a.energy.net[-1].weight)
    torch.testing.assert_close(b.energy.net[0].weight, a.energy.net[0].weight)   # only the output layer
    # the common part of θ is not learned by a centred loss: p, predictions and the per-item part are
    c = T.train_ranking(pl8, center=True, epochs=2, hidden=8, lr=3e-3, seed=1)
    assert c.metrics["kendall_tau"] > 20


def test_exact_resume_with_learned_proposal(pl8, unary_data, tmp_path):
    kw = dict(hidden=8, num_samples=8, seed=2, proposal="learned", center=True, grad_clip=1.0)
    full = T.train_ranking(pl8, epochs=3, **kw)
    T.train_ranking(pl8, epochs=1, checkpoint=tmp_path / "r.pt", **kw)
    resumed = T.train_ranking(pl8, epochs=3, checkpoint=tmp_path / "r.pt", resume=True, **kw)
    assert resumed.curve == full.curve and resumed.metrics == full.metrics
    heads = zip(full.proposal.parameters(), resumed.proposal.parameters())
    assert all(torch.equal(a, b) for a, b in heads)
    assert all(torch.equal(a, b) for a, b in zip(_state(full), _state(resumed)))
    saved = torch.load(tmp_path / "r.pt", weights_only=True)
    assert "proposal" in saved["state"] and saved["config"]["proposal"] == "learned"
    with pytest.raises(H.CheckpointMismatch, match="proposal"):
        T.train_ranking(pl8, epochs=3, checkpoint=tmp_path / "r.pt", resume=True, **dict(kw, proposal="model"))
    mk = dict(hidden=8, num_samples=8, seed=1, proposal="learned")
    full = T.train_multilabel(unary_data, "minmin", epochs=3, **mk)
    T.train_multilabel(unary_data, "minmin", epochs=2, checkpoint=tmp_path / "m.pt", **mk)
    resumed = T.train_multilabel(unary_data, "minmin", epochs=3, checkpoint=tmp_path / "m.pt", resume=True, **mk)
    assert resumed.curve == full.curve and resumed.metrics == full.metrics
    assert all(torch.equal(a, b) for a, b in zip(full.proposal.parameters(), resumed.proposal.parameters()))


def test_proposal_bad_arguments(pl8, unary_data):
    fr, fm = "pyalgo.lab.energy.train_ranking", "pyalgo.lab.energy.train_multilabel"
    cases = [
        (dict(proposal="gibbs"), ValueError, f"{fr}: proposal must be one of"),
        (dict(proposal=None), ValueError, f"{fr}: proposal must be one of"),
        (dict(method="mcmc", proposal="model"), ValueError, f"{fr}: proposal='model' needs a min-min method"),
        (dict(method="exact_mle", proposal="learned"), ValueError, f"{fr}: proposal='learned' needs a min-min"),
        (dict(model="birkhoff", proposal="model"), ValueError, f"{fr}: proposal='model' needs model='permutahedron'"),
        (dict(proposal_scale=2.0), ValueError, f"{fr}: proposal_scale applies to proposal='model' only"),
        (dict(proposal="model", proposal_scale=0.0), ValueError, f"{fr}: proposal_scale must be"),
        (dict(proposal="model", proposal_scale=float("nan")), ValueError, f"{fr}: proposal_scale must be"),
        (dict(center=1), TypeError, f"{fr}: center must be a bool"),
        (dict(center=True, method="mcmc"), ValueError, f"{fr}: center=True needs"),
        (dict(center=True, model="birkhoff"), ValueError, f"{fr}: center=True needs"),
        (dict(init_scale=-1.0), ValueError, f"{fr}: init_scale must be"),
    ]
    for kw, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            T.train_ranking(pl8, **dict(dict(epochs=0), **kw))
    for kw, exc, msg in [(dict(proposal="uniformly"), ValueError, f"{fm}: proposal must be one of"),
                         (dict(method="bce", proposal="model"), ValueError, f"{fm}: proposal='model' needs a min-min"),
                         (dict(proposal="learned", proposal_scale=2.0), ValueError, f"{fm}: proposal_scale")]:
        with pytest.raises(exc, match=msg):
            T.train_multilabel(unary_data, **dict(dict(epochs=0), **kw))
