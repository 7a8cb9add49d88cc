"""Inputs that used to crash or hang (reliability issue): each now gives a clear error that names
the public function and the argument, from Python and, where the Python check can be skipped
(torch.compile, direct torch.ops calls), from C++."""
import numpy as np
import pytest
import torch

import pyalgo
import pyalgo.multitask as MT
from pyalgo._rng import draw_seed


def _huge_row(categories):
    # One row of `categories` bf16 logits without allocating them (stride 0).
    return torch.zeros(1, dtype=torch.bfloat16).expand(categories)


def test_more_than_int32_categories_is_an_error_not_a_segfault():
    x = _huge_row(2**31 + 64)
    with pytest.raises(ValueError, match=r"pyalgo.straight_through: logits may have at most 2147483647 categories"):
        pyalgo.straight_through(x)
    # the op itself (what torch.compile or a direct call reaches) checks before touching the data
    with pytest.raises(RuntimeError, match=r"pyalgo.straight_through: logits may have at most 2147483647"):
        torch.ops.pyalgo.straight_through(x, 1.0, -1, draw_seed(None, x.device))
    # the limit itself is accepted by the check (a row of 2^31 - 1 is valid, if large)
    from pyalgo.discrete.ops import MAX_CATEGORIES, _check_logits
    assert _check_logits("f", _huge_row(MAX_CATEGORIES), -1) == []


def test_gumbel_rao_draws_are_capped():
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match=r"pyalgo.gumbel_rao: k \(the number of Gumbel-Rao draws\) must be an int in"):
        pyalgo.gumbel_rao(x, k=2**40)
    with pytest.raises(RuntimeError, match=r"pyalgo.gumbel_rao: k \(the number of Gumbel-Rao draws\) must be in"):
        torch.ops.pyalgo.gumbel_rao(x, 1.0, 2**40, -1, draw_seed(None, x.device))
    assert pyalgo.gumbel_rao(x, k=1 << 20).shape == x.shape  # the cap itself is allowed (forward is O(C))


@pytest.mark.parametrize("hard", ["no", 1, None])
def test_gumbel_softmax_hard_must_be_a_bool(hard):
    with pytest.raises(TypeError, match=r"pyalgo.gumbel_softmax: hard must be a bool"):
        pyalgo.gumbel_softmax(torch.randn(2, 3), hard=hard)


@pytest.mark.parametrize("bad", [float("inf"), float("nan")])
@pytest.mark.parametrize("method", ["mgda", "pcgrad", "cagrad"])
def test_gradient_methods_refuse_non_finite_gradients(method, bad):
    # MGDA's active-set loop never terminated on an inf gradient.
    grads = torch.randn(3, 5, dtype=torch.float64)
    grads[1, 2] = bad
    with pytest.raises(ValueError, match=r"task gradients must be finite"):
        MT.create(method, 3).weights_from_gradients(grads)


def test_min_norm_weights_refuses_non_finite_gram():
    gram = np.eye(3)
    gram[0, 1] = np.inf
    with pytest.raises(ValueError, match=r"min_norm_weights: gram must be a finite"):
        MT.min_norm_weights(gram)
    with pytest.raises(ValueError, match=r"square"):
        MT.min_norm_weights(np.ones((2, 3)))


def _gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("hard", [True, False])
@pytest.mark.parametrize("C", [5, 20, 300])
def test_gumbel_softmax_with_overflowing_scaled_logits(hard, C):
    # (x + G)/τ overflows to -inf for every category: the kernel used to write y[-1] (heap
    # corruption) with hard=True and reject the row as NaN with hard=False. Softmax and the sample's
    # law do not change when x is shifted by a constant, so the result equals that of x - max(x) = 0
    # with the same noise, bit for bit.
    x = torch.full((64, C), -1e38)
    y = pyalgo.gumbel_softmax(x, tau=0.1, hard=hard, generator=_gen(3))
    assert torch.equal(y, pyalgo.gumbel_softmax(torch.zeros_like(x), tau=0.1, hard=hard, generator=_gen(3)))
    # +inf overflow on the other side, with a real gap: the sampled category is among the largest
    x = torch.tensor([[3e38, 3e38, -3e38]]).expand(64, 3).contiguous()
    y = pyalgo.gumbel_softmax(x, tau=0.05, hard=hard, generator=_gen(4))
    assert torch.isfinite(y).all() and torch.allclose(y.sum(-1), torch.ones(64)) and bool((y[:, 2] == 0).all())


@pytest.mark.simt
@pytest.mark.parametrize("C", [5, 20, 3000])  # one thread, a warp segment and a block per row on CUDA
def test_gumbel_softmax_overflow_on_cuda_kernels(simt, C):
    x = torch.full((4, C), -1e38)
    for hard in (True, False):
        seed = draw_seed(_gen(5), x.device)
        cpu = torch.ops.pyalgo.gumbel_softmax(x, 10.0 ** -1, hard, -1, seed)
        emulated = simt.gumbel_softmax(x, 10.0 ** -1, hard, -1, seed)
        assert torch.equal(emulated[1], cpu[1]) and bool((cpu[1] >= 0).all())
        assert torch.allclose(emulated[0], cpu[0], rtol=1e-5, atol=1e-7)
