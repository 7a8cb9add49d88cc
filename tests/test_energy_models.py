"""The energies and τ networks (pyalgo.energy.models) and the MCMC samplers (pyalgo.energy.mcmc)."""
import math

import pytest
import torch

from pyalgo.energy import mcmc
from pyalgo.energy import models as M
from pyalgo.energy import reference as ref
from pyalgo.energy.data import load_label_ranking

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_models_shapes_and_pairwise_structure():
    x = torch.randn(7, 4)
    assert M.UnaryEnergy(4, 3, 8)(x).shape == (7, 3)
    u, U = M.PairwiseEnergy(4, 3, 8)(x)
    assert u.shape == (7, 3) and U.shape == (7, 3, 3)
    net = M.PairwiseEnergy(4, 3, 0)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_()
    _, U = net(x)
    assert torch.allclose(U, U.transpose(1, 2))
    assert torch.all(torch.diagonal(U, dim1=1, dim2=2) == 0)
    assert U.abs().sum() > 0
    assert M.PermutahedronEnergy(4, 5, 8)(x).shape == (7, 5)
    assert M.BirkhoffEnergy(4, 5, 8)(x).shape == (7, 5, 5)
    assert M.TauNet(4, 8)(x).shape == (7,)
    assert M.FreeTau(10)(torch.tensor([0, 3, 9])).shape == (3,)


def test_bad_sizes():
    with pytest.raises(ValueError, match="pyalgo.energy.UnaryEnergy: k"):
        M.UnaryEnergy(3, 0)
    with pytest.raises(TypeError, match="pyalgo.energy.TauNet: hidden must be an int"):
        M.TauNet(3, 2.0)


def test_ranking_split_rows():
    iris = load_label_ranking("iris")
    s = iris.split([0, 2], [1])
    assert torch.equal(s.x_train, iris.x[[0, 2]]) and torch.equal(s.y_test, iris.perms[[1]]) and s.name == "iris"


def test_gibbs_sampler_matches_exact_distribution():
    g = torch.Generator().manual_seed(0)
    k = 3
    u = torch.randn(1, k, generator=g, dtype=torch.float64)
    A = torch.randn(1, k, k, generator=g, dtype=torch.float64)
    U = (A + A.transpose(1, 2)) * (1 - torch.eye(k, dtype=torch.float64))
    states = ref.all_bits(k, dtype=torch.float64)
    p = torch.softmax(ref.energy_bits(u, states[None], U)[0], 0)
    init = torch.zeros(1, 20000, k, dtype=torch.float64)
    y = mcmc.gibbs_bits(u, U, init, sweeps=8, generator=g)[0]
    code = (y * torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64)).sum(1).long()
    scode = (states * torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64)).sum(1).long()
    emp = torch.bincount(code, minlength=8).double()[scode] / code.numel()
    assert (emp - p).abs().max() < 4 * math.sqrt(0.25 / 20000) + 0.005


@pytest.mark.parametrize("birkhoff", [False, True])
def test_metropolis_sampler_matches_exact_distribution(birkhoff):
    g = torch.Generator().manual_seed(1)
    n = 3
    theta = torch.randn(1, n, n, generator=g, dtype=torch.float64) if birkhoff else \
        torch.randn(1, n, generator=g, dtype=torch.float64)
    perms = ref.all_perms(n)
    p = torch.softmax(ref.energy_perms(theta, perms[None])[0], 0)
    init = perms[0].expand(1, 20000, n).clone()
    y = mcmc.metropolis_perms(theta, init, sweeps=10, generator=g)[0]
    idx = (y[:, None, :] == perms[None]).all(-1).double().argmax(1)
    emp = torch.bincount(idx, minlength=perms.shape[0]).double() / y.shape[0]
    assert torch.all(y.sort(1).values == torch.arange(n))
    assert (emp - p).abs().max() < 4 * math.sqrt(0.25 / 20000) + 0.005
