"""Issue 14 (reliability), energy family: one test per finding (the finding quoted in each docstring)."""
import gzip
import math
import os
import tempfile

import pytest
import torch

from pyalgo import energy
from pyalgo.energy import data, mcmc, metrics, predict

OPS = torch.ops.pyalgo
ARFF_HEAD = "@relation t\n@attribute f1 numeric\n@attribute f2 numeric\n@attribute l1 {0,1}\n@attribute l2 {0,1}\n@data\n"
ARFF_ROWS = "1.0,2.0,0,1\n3.0,4.0,1,0\n5.0,1.0,1,1\n"


def _file(text, name="d.arff", mode="w"):
    path = os.path.join(tempfile.mkdtemp(), name)
    with open(path, mode) as fh:
        fh.write(text)
    return path


def _rank_inputs(label):
    theta = torch.randn(2, 5, dtype=torch.float64)
    y = torch.tensor([[0, 1, 2, 3, label], [4, 3, 2, 1, 0]])
    return theta, torch.zeros(2, dtype=torch.float64), y


def _seed():
    return torch.tensor([1, 0], dtype=torch.int64)


# ---- labels range-checked in C++ -----------------------------------------------------------------

@pytest.mark.parametrize("label", [7, 10 ** 12, -1, 3])  # 3: a repeated item (not a permutation)
@pytest.mark.parametrize("how", ["compile", "validate_false", "torch_ops"])
@pytest.mark.parametrize("birkhoff", [False, True])
def test_minmin_loss_ranking_label_out_of_range_unskippable(label, how, birkhoff):
    """Finding: "Under torch.compile(..., fullgraph=True) the Python validation is skipped, so
    energy.minmin_loss_ranking(θ, τ, y, 10) with a label index 10^12 reads out of bounds and crashes; a label of 7
    with n = 5 returns garbage silently … The same with validate=False" (and direct torch.ops calls)."""
    theta, tau, y = _rank_inputs(label)
    if birkhoff:
        theta = torch.randn(2, 5, 5, dtype=torch.float64)
    with pytest.raises(RuntimeError, match=r"pyalgo.energy.minmin_loss_ranking: y must hold a permutation"):
        if how == "compile":
            torch._dynamo.reset()
            f = torch.compile(lambda t, ta, yy: energy.minmin_loss_ranking(t, ta, yy, 10), fullgraph=True,
                              backend="eager")
            f(theta, tau, y)
        elif how == "validate_false":
            energy.minmin_loss_ranking(theta, tau, y, 10, validate=False)
        else:
            OPS.minmin_perms(theta, tau, y, 10, 1.0, False, _seed())


@pytest.mark.parametrize("how", ["compile", "validate_false", "torch_ops"])
def test_minmin_loss_y_out_of_range_unskippable(how):
    """Finding: "Likewise minmin_loss with y out of range returns −6.35 under compile"."""
    u = torch.randn(2, 4, dtype=torch.float64)
    tau = torch.zeros(2, dtype=torch.float64)
    y = torch.tensor([[0, 3.0, 1, 0], [1, 1, 1, 1]], dtype=torch.float64)
    with pytest.raises(RuntimeError, match=r"pyalgo.energy.minmin_loss: y must be binary"):
        if how == "compile":
            torch._dynamo.reset()
            f = torch.compile(lambda a, b, c: energy.minmin_loss(a, b, c, 10), fullgraph=True, backend="eager")
            f(u, tau, y)
        elif how == "validate_false":
            energy.minmin_loss(u, tau, y, 10, validate=False)
        else:
            OPS.minmin_bits(u, None, tau, y, 10, 1.0, False, _seed())


def test_minmin_nonfinite_energies_unskippable():
    """Finding (same family): non-finite energies with validate=False / direct calls give a clear error, not NaN."""
    u = torch.tensor([[0.0, float("nan")]], dtype=torch.float64)
    with pytest.raises(RuntimeError, match=r"pyalgo.energy.minmin_loss: unary, pairwise and tau must be finite"):
        OPS.minmin_bits(u, None, torch.zeros(1, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64), 4, 1.0,
                        False, _seed())
    th = torch.tensor([[0.0, float("inf")]])
    with pytest.raises(RuntimeError, match=r"pyalgo.energy.minmin_loss_ranking: theta and tau must be finite"):
        energy.minmin_loss_ranking(th, torch.zeros(1), torch.tensor([[0, 1]]), 4, validate=False)


def test_simt_minmin_bad_labels_poison_rows(simt):
    """Finding (CUDA path): the CUDA op cannot raise without a synchronisation, so a row with invalid labels is
    poisoned with NaN (loss, grad_tau and the row's gradient), the other rows are unchanged (SIMT emulator)."""
    theta, tau, y = _rank_inputs(10 ** 12)
    theta = torch.randn(2, 5, 5, dtype=torch.float64)
    loss, g_th, g_t = simt.minmin_perms(theta, tau, y, 16, 1.0, True, _seed())
    assert torch.isnan(loss[0]) and torch.isnan(g_t[0]) and torch.isnan(g_th[0]).all()
    assert torch.isfinite(loss[1]) and torch.isfinite(g_th[1]).all()
    y_ok = y.clone()
    y_ok[0] = torch.arange(5)
    assert torch.allclose(loss[1], OPS.minmin_perms(theta, tau, y_ok, 16, 1.0, True, _seed())[0][1])
    u = torch.randn(2, 4, dtype=torch.float64)
    yb = torch.tensor([[0, 3.0, 1, 0], [1, 0, 1, 1]], dtype=torch.float64)
    loss, g_u, _, g_t = simt.minmin_bits(u, None, tau, yb, 16, 1.0, True, _seed())
    assert torch.isnan(loss[0]) and torch.isnan(g_u[0]).all() and torch.isnan(g_t[0])
    assert torch.isfinite(loss[1]) and torch.isfinite(g_u[1]).all()
    ref = OPS.minmin_bits(u, None, tau, torch.tensor([[0, 1.0, 1, 0], [1, 0, 1, 1]], dtype=torch.float64), 16, 1.0,
                          True, _seed())
    assert torch.allclose(loss[1], ref[0][1])


# ---- numerics --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_minmin_loss_far_from_tau_star_finite(dtype):
    """Finding: "minmin_loss far from τ* is inf in fp32 although documented 'large but finite'". The loss
    saturates at the dtype's largest finite value (documented), and its gradient stays finite and points up."""
    u = torch.ones(2, 4, dtype=dtype)
    tau = torch.tensor([-1e4, -1e30], dtype=dtype, requires_grad=True)
    loss = energy.minmin_loss(u, tau, torch.ones(2, 4, dtype=dtype), 16)
    assert torch.isfinite(loss).all() and (loss > 1e30).all()
    loss.sum().backward()
    assert torch.isfinite(tau.grad).all() and (tau.grad < 0).all()
    ranked = energy.minmin_loss_ranking(torch.ones(1, 4, dtype=dtype), torch.tensor([-1e30], dtype=dtype),
                                        torch.tensor([[0, 1, 2, 3]]), 8)
    assert torch.isfinite(ranked).all()


def test_kendall_tau_nan_is_error():
    """Finding: "kendall_tau with NaN → 57.7" → a clear error."""
    with pytest.raises(ValueError, match=r"pyalgo.energy.kendall_tau: y_true must not contain NaN"):
        metrics.kendall_tau(torch.tensor([[0.0, float("nan"), 2]]), torch.tensor([[0.0, 1, 2]]))
    # ±inf are orderable scores (no inf − inf)
    assert metrics.kendall_tau([[0.0, float("inf"), -float("inf")]], [[1, 2, 0]]) == pytest.approx(100.0)


# ---- loaders ---------------------------------------------------------------------------------------

def test_arff_row_with_extra_value_is_error():
    """Finding: "An ARFF row with an extra value is silently truncated" → an error naming file and line."""
    path = _file(ARFF_HEAD + "1.0,2.0,0,1,5\n3.0,4.0,1,0\n")
    with pytest.raises(ValueError, match=r"pyalgo.energy.load_multilabel: name_or_train_path line 7 has 5 values"):
        data.load_multilabel(path)


def test_arff_huge_features_standardised_without_overflow():
    """Finding: "features of ±1e308 overflow the std and the column becomes zeros" → scaled first."""
    path = _file(ARFF_HEAD + "1e308,2.0,0,1\n-1e308,4.0,1,0\n")
    d = data.load_multilabel(path)
    assert torch.equal(d.x_train[:, 0], torch.tensor([1.0, -1.0]))
    z = data.standardize(torch.tensor([[1e308], [-1e308], [0.0]], dtype=torch.float64))[0]
    assert torch.isfinite(z).all() and z[0, 0] > 1.0 and z[1, 0] < -1.0


def test_arff_inf_feature_is_error():
    """Finding: "an ARFF inf feature becomes NaN after standardising" → a clear error naming file/column."""
    path = _file(ARFF_HEAD + "inf,2.0,0,1\n3.0,4.0,1,0\n")
    with pytest.raises(ValueError, match=r"load_multilabel: name_or_train_path feature 'f1' \(column 0\) is inf"):
        data.load_multilabel(path)


def test_arff_empty_train_is_error():
    """Finding: "an empty train file gives an all-NaN x_test" → a clear error."""
    train = _file(ARFF_HEAD)
    test = _file(ARFF_HEAD + ARFF_ROWS)
    with pytest.raises(ValueError, match=r"pyalgo.energy.load_multilabel: name_or_train_path has no data rows"):
        data.load_multilabel(train, test_path=test)


@pytest.mark.parametrize("text", [ARFF_HEAD[:60], ARFF_HEAD + "1.0,2.0,0"])
def test_arff_truncated_is_clear_error(text):
    """Finding: "truncated ARFF gives a bare StopIteration" → a clear error naming the file."""
    path = _file(text)
    with pytest.raises(ValueError, match=r"pyalgo.energy.load_multilabel: name_or_train_path .*" + os.path.basename(path)):
        data.load_multilabel(path)


def test_latin1_and_gzip_files_are_read():
    """Finding: "latin-1/gzip CSVs give UnicodeDecodeError" → read (gzip by magic bytes, latin-1 fallback)."""
    csv = "2,2,3\n0.5,1.0,1,2,3\n0.25,-1.0,3,1,2\n"
    plain = data.load_label_ranking(_file(csv, "r.csv"))
    gz = data.load_label_ranking(_file(gzip.compress(csv.encode()), "r.csv", "wb"))
    assert torch.equal(plain.x, gz.x) and torch.equal(plain.ranks, gz.ranks)
    latin = ARFF_HEAD.replace("@relation t", "@relation caf\xe9 % \xe9") + ARFF_ROWS
    d = data.load_multilabel(_file(latin.encode("latin-1"), mode="wb"))
    assert d.x_train.shape == (3, 2)
    d = data.load_multilabel(_file(gzip.compress((ARFF_HEAD + ARFF_ROWS).encode()), mode="wb"))
    assert d.x_train.shape == (3, 2)


# ---- iteration caps, non-finite inputs, sizes -----------------------------------------------------

def test_mcmc_sweeps_capped_and_nonfinite_rejected():
    """Finding: "Any iterative solver / loop in the energy family (MCMC, predict's search, samplers): iteration
    cap and non-finite input check"."""
    u = torch.zeros(1, 3)
    init = torch.zeros(1, 2, 3)
    with pytest.raises(ValueError, match=r"pyalgo.energy.gibbs_bits: sweeps must be an int in"):
        mcmc.gibbs_bits(u, None, init, 2 ** 40)
    with pytest.raises(ValueError, match=r"pyalgo.energy.gibbs_bits: unary must be finite"):
        mcmc.gibbs_bits(torch.tensor([[0.0, float("nan"), 1]]), None, init, 1)
    th = torch.zeros(1, 3)
    perms = torch.tensor([[[0, 1, 2]]])
    with pytest.raises(ValueError, match=r"pyalgo.energy.metropolis_perms: sweeps must be an int in"):
        mcmc.metropolis_perms(th, perms, 2 ** 63)
    with pytest.raises(ValueError, match=r"pyalgo.energy.metropolis_perms: theta must be finite"):
        mcmc.metropolis_perms(torch.tensor([[0.0, float("inf"), 1]]), perms, 1)
    with pytest.raises(ValueError, match=r"pyalgo.energy.predict_pairwise: steps must be an int in"):
        predict.predict_pairwise(u, torch.zeros(1, 3, 3), steps=2 ** 40)
    with pytest.raises(ValueError, match=r"pyalgo.energy.predict_pairwise: unary must be finite"):
        predict.predict_pairwise(torch.tensor([[float("nan"), 0, 0]]), torch.zeros(1, 3, 3))


@pytest.mark.parametrize("call", [
    lambda: energy.sample_bits(2 ** 40, 2 ** 20, 64),
    lambda: energy.sample_perms(2 ** 62, 1, 256),
    lambda: energy.sample_bits(1, 2 ** 63, 4),
    lambda: energy.sample_perms(1, 1, 2 ** 63),
])
def test_sampler_huge_sizes_clear_error(call):
    """Finding: "Sizes whose allocation would fail (n huge for permutations / label sets 2^n) → clear error before
    allocating" (and counts of 2^63: no raw allocator or schema errors)."""
    with pytest.raises(ValueError, match=r"pyalgo.energy.sample_(bits|perms): (batch|num_samples|k|n)"):
        call()


def test_sampler_huge_sizes_checked_in_cpp():
    """The same limit in C++ (direct torch.ops calls): an output too large for int64 / memory is refused."""
    with pytest.raises(RuntimeError, match=r"pyalgo.energy.sample_bits: .*too large"):
        OPS.energy_sample_bits(_seed(), 2 ** 50, 2 ** 20, 64)
