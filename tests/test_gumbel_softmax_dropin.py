"""`pyalgo.gumbel_softmax` is a drop-in for `torch.nn.functional.gumbel_softmax`: torch's positional
order (logits, tau, hard, eps, dim), `eps` accepted and ignored, the keyword calls of before unchanged.

The same-noise test feeds F.gumbel_softmax the Gumbels our op draws (torch draws G = −log E from
`Tensor.exponential_`, patched here to return E = exp(−G)), so both calls must give the same tensor."""
import inspect

import pytest
import torch
import torch.nn.functional as F

import pyalgo
from pyalgo._rng import draw_seed
from pyalgo.discrete.reference import philox_gumbels


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _logits(seed, shape=(6, 5, 7), dtype=torch.float64):
    return torch.randn(shape, generator=_gen(seed), dtype=dtype) * 2


def test_signature_is_torchs_positional_order():
    ours = inspect.signature(pyalgo.gumbel_softmax).parameters
    theirs = inspect.signature(F.gumbel_softmax).parameters
    positional = [n for n, p in ours.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == list(theirs) == ["logits", "tau", "hard", "eps", "dim"]
    for name in ("tau", "hard", "eps", "dim"):
        assert ours[name].default == theirs[name].default, name
    assert ours["generator"].kind is inspect.Parameter.KEYWORD_ONLY
    # fully annotated
    assert all(p.annotation is not inspect.Parameter.empty for p in ours.values())
    assert inspect.signature(pyalgo.gumbel_softmax).return_annotation is not inspect.Signature.empty


def _torch_with_our_noise(monkeypatch, x, seed, *args, dim=-1):
    """F.gumbel_softmax(x, *args) with the Gumbels pyalgo.gumbel_softmax draws for `seed` along `dim`."""
    g = philox_gumbels(seed, x.movedim(dim, -1).contiguous()).movedim(-1, dim).to(x.dtype)

    def exponential_(self, *a, **k):
        assert self.shape == g.shape
        return self.copy_((-g).exp())

    monkeypatch.setattr(torch.Tensor, "exponential_", exponential_)
    try:
        return F.gumbel_softmax(x, *args)
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("dim", [-1, 1, 0])
def test_positional_call_matches_torch_with_the_same_noise(monkeypatch, hard, dim):
    x = _logits(1)
    tau = 0.7
    y = pyalgo.gumbel_softmax(x, tau, hard, 1e-10, dim, generator=_gen(5))
    seed = draw_seed(_gen(5), torch.device("cpu"))
    y_torch = _torch_with_our_noise(monkeypatch, x, seed, tau, hard, 1e-10, dim, dim=dim)
    assert y.shape == y_torch.shape == x.shape
    torch.testing.assert_close(y, y_torch, rtol=1e-12, atol=1e-12)
    if hard:
        assert torch.equal(y.sum(dim), torch.ones_like(y.sum(dim)))
        assert set(y.unique().tolist()) <= {0.0, 1.0}
    else:
        torch.testing.assert_close(y.sum(dim), torch.ones_like(y.sum(dim)))
        assert (y > 0).all() and not set(y.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("hard", [False, True])
def test_hard_semantics_and_gradient_match_torch(monkeypatch, hard):
    """hard=True: the one-hot forward carries the soft sample's gradient, as in torch."""
    x = _logits(2, (8, 6))
    w = torch.randn(8, 6, generator=_gen(3), dtype=torch.float64)
    seed = draw_seed(_gen(9), torch.device("cpu"))
    xa = x.clone().requires_grad_(True)
    (pyalgo.gumbel_softmax(xa, 0.5, hard, 1e-10, -1, generator=_gen(9)) * w).sum().backward()
    xb = x.clone().requires_grad_(True)
    (_torch_with_our_noise(monkeypatch, xb, seed, 0.5, hard, 1e-10, -1) * w).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-10, atol=1e-12)


def test_default_call_shape_and_onehot_like_torch():
    """Without shared noise: the same call shape and output kind as F.gumbel_softmax."""
    x = _logits(4, (3, 9), torch.float32)
    for args in [(), (1.0,), (0.5, True), (0.5, True, 1e-10), (0.5, True, 1e-10, 0), (0.5, False, 1e-10, 0)]:
        ours, theirs = pyalgo.gumbel_softmax(x, *args), F.gumbel_softmax(x, *args)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        hard = len(args) > 1 and args[1]
        dim = args[3] if len(args) > 3 else -1
        for y in (ours, theirs):
            torch.testing.assert_close(y.sum(dim), torch.ones_like(y.sum(dim)))
            assert (set(y.unique().tolist()) <= {0.0, 1.0}) == bool(hard)


@pytest.mark.parametrize("eps", [1e-10, 1e-20, 0.0, 0.5, -3.0, float("nan")])
@pytest.mark.parametrize("hard", [False, True])
def test_eps_is_ignored(eps, hard):
    x = _logits(6)
    base = pyalgo.gumbel_softmax(x, 0.9, hard, generator=_gen(7))
    assert torch.equal(pyalgo.gumbel_softmax(x, 0.9, hard, eps, generator=_gen(7)), base)
    assert torch.equal(pyalgo.gumbel_softmax(x, 0.9, hard, eps=eps, generator=_gen(7)), base)


@pytest.mark.parametrize("eps", [1, 0, True, "1e-10", None, torch.tensor([1e-10, 1e-10]), [1e-10]])
def test_wrong_typed_eps_is_a_clear_error(eps):
    with pytest.raises(TypeError, match=r"pyalgo\.gumbel_softmax: eps must be a float"):
        pyalgo.gumbel_softmax(_logits(8), 1.0, False, eps)


def test_int_in_eps_slot_is_not_silently_taken_for_dim():
    """A positional int where torch puts eps raises (it would be a `dim` of the older order)."""
    with pytest.raises(TypeError, match="pass dim by keyword"):
        pyalgo.gumbel_softmax(_logits(8), 1.0, True, 1)


def test_existing_keyword_calls_still_work():
    x = _logits(10)
    ref = pyalgo.gumbel_softmax(x, 0.5, True, 1e-10, 1, generator=_gen(11))
    assert torch.equal(pyalgo.gumbel_softmax(x, tau=0.5, hard=True, dim=1, generator=_gen(11)), ref)
    assert torch.equal(pyalgo.gumbel_softmax(x, 0.5, hard=True, dim=1, generator=_gen(11)), ref)
    assert torch.equal(pyalgo.gumbel_softmax(logits=x, tau=0.5, hard=True, eps=1e-10, dim=1, generator=_gen(11)),
                       ref)
    assert pyalgo.gumbel_softmax(x).shape == x.shape


def test_generator_is_keyword_only():
    with pytest.raises(TypeError):
        pyalgo.gumbel_softmax(_logits(12), 1.0, False, 1e-10, -1, _gen(0))
