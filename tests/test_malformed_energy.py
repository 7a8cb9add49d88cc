"""Malformed-input table of the energy family (issue 14): every public function of pyalgo.energy."""
import gzip
import math
import os
import tempfile

import numpy as np
import torch

from malformed import Case, run_table
from pyalgo import energy as E
from pyalgo.energy import data, evaluate, mcmc, metrics, models, predict, reference as R

F64 = torch.float64
NAN, INF = float("nan"), float("inf")


def u_(B=2, k=4, dt=F64):
    return torch.linspace(-1, 1, B * k, dtype=dt).reshape(B, k)


def t_(B=2, dt=F64):
    return torch.zeros(B, dtype=dt)


def yb(B=2, k=4, dt=F64):
    return (torch.arange(B * k).reshape(B, k) % 2).to(dt)


def yp(B=2, n=4):
    return torch.stack([torch.arange(n).roll(i) for i in range(B)])


def finite(x):
    return bool(torch.isfinite(x).all())


def with_nan(x, idx=(0, 0)):
    x = x.clone()
    x[idx] = NAN
    return x


def with_val(x, v, idx=(0, 0)):
    x = x.clone()
    x[idx] = v
    return x


def tmpfile(content, name="d.arff"):
    path = os.path.join(tempfile.mkdtemp(), name)
    with open(path, "wb" if isinstance(content, bytes) else "w") as fh:
        fh.write(content)
    return path


ARFF_HEAD = ("@relation t\n@attribute f1 numeric\n@attribute f2 numeric\n@attribute l1 {0,1}\n"
             "@attribute l2 {0,1}\n@data\n")
ARFF_OK = ARFF_HEAD + "1.0,2.0,0,1\n3.0,4.0,1,0\n5.0,1.0,1,1\n"
CSV_OK = "2,2,3\n0.5,1.0,1,2,3\n0.25,-1.0,3,1,2\n"

ML = "pyalgo.energy.minmin_loss"
MR = "pyalgo.energy.minmin_loss_ranking"
SB = "pyalgo.energy.sample_bits"
SP = "pyalgo.energy.sample_perms"

CASES = [
    # ---- minmin_loss ---------------------------------------------------------------------------------------
    Case("minmin_loss", "unary list", lambda: E.minmin_loss([[0.0]], t_(1), yb(1, 1), 4), fn=ML, arg="unary"),
    Case("minmin_loss", "unary int", lambda: E.minmin_loss(torch.ones(2, 4, dtype=torch.long), t_(), yb(), 4),
         fn=ML, arg="unary"),
    Case("minmin_loss", "unary 1-D", lambda: E.minmin_loss(torch.ones(4, dtype=F64), t_(), yb(), 4), fn=ML, arg="unary"),
    Case("minmin_loss", "unary k=0", lambda: E.minmin_loss(torch.ones(2, 0, dtype=F64), t_(), yb(2, 0), 4),
         fn=ML, arg="unary"),
    Case("minmin_loss", "unary k=5000", lambda: E.minmin_loss(torch.zeros(1, 5000, dtype=F64), t_(1),
                                                              torch.zeros(1, 5000, dtype=F64), 1), fn=ML, arg="unary"),
    Case("minmin_loss", "unary NaN", lambda: E.minmin_loss(with_nan(u_()), t_(), yb(), 4), fn=ML, arg="unary"),
    Case("minmin_loss", "unary inf", lambda: E.minmin_loss(with_val(u_(), INF), t_(), yb(), 4), fn=ML, arg="unary"),
    Case("minmin_loss", "tau wrong shape", lambda: E.minmin_loss(u_(), t_(3), yb(), 4), fn=ML, arg="tau"),
    Case("minmin_loss", "tau 2-D", lambda: E.minmin_loss(u_(), torch.zeros(2, 1, dtype=F64), yb(), 4), fn=ML, arg="tau"),
    Case("minmin_loss", "tau NaN", lambda: E.minmin_loss(u_(), torch.tensor([NAN, 0.0], dtype=F64), yb(), 4),
         fn=ML, arg="tau"),
    Case("minmin_loss", "y wrong shape", lambda: E.minmin_loss(u_(), t_(), yb(2, 3), 4), fn=ML, arg="y"),
    Case("minmin_loss", "y value 3", lambda: E.minmin_loss(u_(), t_(), with_val(yb(), 3.0), 4), fn=ML, arg="y"),
    Case("minmin_loss", "y value 3 validate=False", lambda: E.minmin_loss(u_(), t_(), with_val(yb(), 3.0), 4,
                                                                          validate=False), fn=ML, arg="y"),
    Case("minmin_loss", "y NaN", lambda: E.minmin_loss(u_(), t_(), with_nan(yb()), 4), fn=ML, arg="y"),
    Case("minmin_loss", "y not tensor", lambda: E.minmin_loss(u_(), t_(), [[0, 1, 0, 1]] * 2, 4), fn=ML, arg="y"),
    Case("minmin_loss", "y complex", lambda: E.minmin_loss(u_(), t_(), yb().to(torch.complex64), 4), fn=ML, arg="y"),
    Case("minmin_loss", "pairwise wrong shape", lambda: E.minmin_loss(u_(), t_(), yb(), 4,
                                                                      pairwise=torch.zeros(2, 3, 3, dtype=F64)),
         fn=ML, arg="pairwise"),
    Case("minmin_loss", "pairwise NaN", lambda: E.minmin_loss(u_(), t_(), yb(), 4,
                                                              pairwise=with_nan(torch.zeros(2, 4, 4, dtype=F64),
                                                                                (0, 1, 2))), fn=ML, arg="pairwise"),
    Case("minmin_loss", "num_samples 0", lambda: E.minmin_loss(u_(), t_(), yb(), 0), fn=ML, arg="num_samples"),
    Case("minmin_loss", "num_samples -1", lambda: E.minmin_loss(u_(), t_(), yb(), -1), fn=ML, arg="num_samples"),
    Case("minmin_loss", "num_samples 2**63", lambda: E.minmin_loss(u_(), t_(), yb(), 2 ** 63), fn=ML, arg="num_samples"),
    Case("minmin_loss", "num_samples float", lambda: E.minmin_loss(u_(), t_(), yb(), 4.0), fn=ML, arg="num_samples"),
    Case("minmin_loss", "kind bad", lambda: E.minmin_loss(u_(), t_(), yb(), 4, kind="hinge"), fn=ML, arg="kind"),
    Case("minmin_loss", "entmax alpha 1", lambda: E.minmin_loss(u_(), t_(), yb(), 4, kind="entmax", alpha=1.0),
         fn=ML, arg="alpha"),
    Case("minmin_loss", "entmax alpha inf", lambda: E.minmin_loss(u_(), t_(), yb(), 4, kind="entmax", alpha=INF),
         fn=ML, arg="alpha"),
    Case("minmin_loss", "logistic alpha 3", lambda: E.minmin_loss(u_(), t_(), yb(), 4, alpha=3.0), fn=ML, arg="alpha"),
    Case("minmin_loss", "generator int", lambda: E.minmin_loss(u_(), t_(), yb(), 4, generator=3), fn=ML,
         arg="generator"),
    Case("minmin_loss", "validate str", lambda: E.minmin_loss(u_(), t_(), yb(), 4, validate="no"), fn=ML,
         arg="validate"),
    Case("minmin_loss", "B=0", lambda: E.minmin_loss(u_(0), t_(0), yb(0), 4), check=lambda l: l.shape == (0,)),
    Case("minmin_loss", "tau -1e30 fp32 (saturates)", lambda: E.minmin_loss(
        u_(dt=torch.float32), torch.full((2,), -1e30), yb(dt=torch.float32), 8),
        check=lambda l: finite(l) and bool((l > 1e37).all())),
    Case("minmin_loss", "tau +1e30 fp64", lambda: E.minmin_loss(u_(), torch.full((2,), 1e30, dtype=F64), yb(), 8),
         check=finite),
    Case("minmin_loss", "unary 1e30 sparsemax", lambda: E.minmin_loss(u_() * 1e30, t_(), yb(), 8, kind="sparsemax"),
         check=lambda l: not bool(torch.isnan(l).any())),
    Case("minmin_loss", "non-contiguous unary", lambda: E.minmin_loss(u_(2, 8)[:, ::2], t_(), yb(), 8),
         check=lambda l: bool(torch.allclose(l, E.minmin_loss(u_(2, 8)[:, ::2].contiguous(), t_(), yb(), 8,
                                                              generator=torch.Generator().manual_seed(0)))) or finite(l)),
    Case("minmin_loss", "expanded y", lambda: E.minmin_loss(u_(), t_(), torch.tensor([1.0, 0, 1, 0], dtype=F64).expand(2, 4),
                                                            8), check=finite),
    Case("minmin_loss", "bool y fp16 unary", lambda: E.minmin_loss(u_(dt=torch.float16), t_(dt=torch.float16),
                                                                   yb().bool(), 8),
         check=lambda l: finite(l) and l.dtype == torch.float16),
    # ---- minmin_loss_ranking ---------------------------------------------------------------------------------
    Case("minmin_loss_ranking", "theta 1-D", lambda: E.minmin_loss_ranking(torch.zeros(4, dtype=F64), t_(), yp(), 4),
         fn=MR, arg="theta"),
    Case("minmin_loss_ranking", "theta not square", lambda: E.minmin_loss_ranking(torch.zeros(2, 4, 3, dtype=F64),
                                                                                  t_(), yp(), 4), fn=MR, arg="theta"),
    Case("minmin_loss_ranking", "theta n=300", lambda: E.minmin_loss_ranking(torch.zeros(1, 300, dtype=F64), t_(1),
                                                                             torch.arange(300)[None], 1), fn=MR, arg="theta"),
    Case("minmin_loss_ranking", "theta n=0", lambda: E.minmin_loss_ranking(torch.zeros(2, 0, dtype=F64), t_(),
                                                                           torch.zeros(2, 0, dtype=torch.long), 1),
         fn=MR, arg="theta"),
    Case("minmin_loss_ranking", "theta NaN", lambda: E.minmin_loss_ranking(with_nan(u_()), t_(), yp(), 4), fn=MR,
         arg="theta"),
    Case("minmin_loss_ranking", "theta int", lambda: E.minmin_loss_ranking(torch.zeros(2, 4, dtype=torch.long), t_(),
                                                                           yp(), 4), fn=MR, arg="theta"),
    Case("minmin_loss_ranking", "y float", lambda: E.minmin_loss_ranking(u_(), t_(), yp().double(), 4), fn=MR, arg="y"),
    Case("minmin_loss_ranking", "y label 7", lambda: E.minmin_loss_ranking(u_(), t_(), with_val(yp(), 7), 4),
         fn=MR, arg="y"),
    Case("minmin_loss_ranking", "y label 1e12 validate=False", lambda: E.minmin_loss_ranking(
        u_(), t_(), with_val(yp(), 10 ** 12), 4, validate=False), fn=MR, arg="y"),
    Case("minmin_loss_ranking", "y label -1 birkhoff validate=False", lambda: E.minmin_loss_ranking(
        torch.zeros(2, 4, 4, dtype=F64), t_(), with_val(yp(), -1), 4, validate=False), fn=MR, arg="y"),
    Case("minmin_loss_ranking", "y repeated validate=False", lambda: E.minmin_loss_ranking(
        u_(), t_(), torch.tensor([[0, 0, 1, 2], [0, 1, 2, 3]]), 4, validate=False), fn=MR, arg="y"),
    Case("minmin_loss_ranking", "y wrong shape", lambda: E.minmin_loss_ranking(u_(), t_(), yp(2, 3), 4), fn=MR, arg="y"),
    Case("minmin_loss_ranking", "tau inf", lambda: E.minmin_loss_ranking(u_(), torch.tensor([INF, 0], dtype=F64), yp(),
                                                                         4), fn=MR, arg="tau"),
    Case("minmin_loss_ranking", "num_samples 2**40", lambda: E.minmin_loss_ranking(u_(), t_(), yp(), 2 ** 40), fn=MR,
         arg="num_samples"),
    Case("minmin_loss_ranking", "alpha NaN entmax", lambda: E.minmin_loss_ranking(u_(), t_(), yp(), 4, kind="entmax",
                                                                                  alpha=NAN), fn=MR, arg="alpha"),
    Case("minmin_loss_ranking", "generator str", lambda: E.minmin_loss_ranking(u_(), t_(), yp(), 4, generator="cpu"),
         fn=MR, arg="generator"),
    Case("minmin_loss_ranking", "n=1", lambda: E.minmin_loss_ranking(torch.zeros(2, 1, dtype=F64), t_(),
                                                                     torch.zeros(2, 1, dtype=torch.long), 4), check=finite),
    Case("minmin_loss_ranking", "theta 1e300 fp64", lambda: E.minmin_loss_ranking(u_() * 1e300, t_(), yp(), 8),
         check=lambda l: not bool(torch.isnan(l).any())),
    Case("minmin_loss_ranking", "int32 y, non-contiguous theta", lambda: E.minmin_loss_ranking(
        u_(2, 8)[:, ::2], t_(), yp().int(), 8), check=finite),
    # ---- samplers ---------------------------------------------------------------------------------------------
    Case("sample_bits", "batch -1", lambda: E.sample_bits(-1, 2, 3), fn=SB, arg="batch"),
    Case("sample_bits", "num_samples 0", lambda: E.sample_bits(1, 0, 3), fn=SB, arg="num_samples"),
    Case("sample_bits", "k 0", lambda: E.sample_bits(1, 2, 0), fn=SB, arg="k"),
    Case("sample_bits", "k 2**63", lambda: E.sample_bits(1, 2, 2 ** 63), fn=SB, arg="k"),
    Case("sample_bits", "num_samples 2**63", lambda: E.sample_bits(1, 2 ** 63, 2), fn=SB, arg="num_samples"),
    Case("sample_bits", "batch 2**40 huge output", lambda: E.sample_bits(2 ** 40, 2 ** 20, 8), fn=SB, arg="batch"),
    Case("sample_bits", "batch float", lambda: E.sample_bits(1.5, 2, 3), fn=SB, arg="batch"),
    Case("sample_bits", "generator int", lambda: E.sample_bits(1, 2, 3, generator=5), fn=SB, arg="generator"),
    Case("sample_bits", "device bogus", lambda: E.sample_bits(1, 2, 3, device="bogus"), fn=SB, arg="device"),
    Case("sample_bits", "batch 0", lambda: E.sample_bits(0, 2, 3), check=lambda s: s.shape == (0, 2, 3)),
    Case("sample_bits", "k 4096", lambda: E.sample_bits(1, 2, 4096), check=lambda s: bool(((s == 0) | (s == 1)).all())),
    Case("sample_perms", "n 0", lambda: E.sample_perms(1, 2, 0), fn=SP, arg="n"),
    Case("sample_perms", "n 257", lambda: E.sample_perms(1, 2, 257), fn=SP, arg="n"),
    Case("sample_perms", "n 2**63", lambda: E.sample_perms(1, 2, 2 ** 63), fn=SP, arg="n"),
    Case("sample_perms", "batch 2**62", lambda: E.sample_perms(2 ** 62, 1, 4), fn=SP, arg="batch"),
    Case("sample_perms", "num_samples bool", lambda: E.sample_perms(1, True, 4), fn=SP, arg="num_samples"),
    Case("sample_perms", "generator list", lambda: E.sample_perms(1, 2, 3, generator=[]), fn=SP, arg="generator"),
    Case("sample_perms", "n 256", lambda: E.sample_perms(1, 3, 256),
         check=lambda s: bool((s.sort(-1).values == torch.arange(256)).all())),
    # ---- metrics ----------------------------------------------------------------------------------------------
    Case("f1_example", "shape mismatch", lambda: metrics.f1_example(yb(), yb(2, 3)), fn="pyalgo.energy.f1_example",
         arg="y_pred"),
    Case("f1_example", "1-D", lambda: metrics.f1_example(torch.ones(3), torch.ones(3)), fn="pyalgo.energy.f1_example",
         arg="y_true"),
    Case("f1_example", "value 2", lambda: metrics.f1_example(with_val(yb(), 2.0), yb()), fn="pyalgo.energy.f1_example",
         arg="y_true"),
    Case("f1_example", "NaN", lambda: metrics.f1_example(yb(), with_nan(yb())), fn="pyalgo.energy.f1_example",
         arg="y_pred"),
    Case("f1_example", "0 rows", lambda: metrics.f1_example(yb(0), yb(0)), fn="pyalgo.energy.f1_example", arg="y_true"),
    Case("f1_example", "string", lambda: metrics.f1_example("abc", yb()), fn="pyalgo.energy.f1_example", arg="y_true"),
    Case("f1_example", "perfect", lambda: metrics.f1_example(yb(), yb()), check=lambda v: v == 100.0),
    Case("f1_micro", "value -1", lambda: metrics.f1_micro(yb(), with_val(yb(), -1.0)), fn="pyalgo.energy.f1_micro",
         arg="y_pred"),
    Case("f1_micro", "all zero", lambda: metrics.f1_micro(yb() * 0, yb() * 0), check=lambda v: v == 100.0),
    Case("hamming_loss", "empty", lambda: metrics.hamming_loss(yb(0), yb(0)), fn="pyalgo.energy.hamming_loss",
         arg="y_true"),
    Case("hamming_loss", "complex", lambda: metrics.hamming_loss(yb().to(torch.complex64), yb()),
         fn="pyalgo.energy.hamming_loss", arg="y_true"),
    Case("hamming_loss", "all wrong", lambda: metrics.hamming_loss(yb(), 1 - yb()), check=lambda v: v == 1.0),
    Case("kendall_tau", "NaN", lambda: metrics.kendall_tau(with_nan(yp().double()), yp()),
         fn="pyalgo.energy.kendall_tau", arg="y_true"),
    Case("kendall_tau", "NaN pred", lambda: metrics.kendall_tau(yp(), with_nan(yp().double())),
         fn="pyalgo.energy.kendall_tau", arg="y_pred"),
    Case("kendall_tau", "n=1", lambda: metrics.kendall_tau(torch.zeros(2, 1), torch.zeros(2, 1)),
         fn="pyalgo.energy.kendall_tau", arg="y_true"),
    Case("kendall_tau", "shape mismatch", lambda: metrics.kendall_tau(yp(2, 4), yp(2, 3)),
         fn="pyalgo.energy.kendall_tau", arg="y_pred"),
    Case("kendall_tau", "object", lambda: metrics.kendall_tau(object(), yp()), fn="pyalgo.energy.kendall_tau",
         arg="y_true"),
    Case("kendall_tau", "±inf scores", lambda: metrics.kendall_tau([[-INF, 0.0, INF]], [[0, 1, 2]]),
         check=lambda v: v == 100.0),
    Case("kendall_tau", "1e308 scores", lambda: metrics.kendall_tau([[-1e308, 1e308, 0.0]], [[0, 2, 1]]),
         check=lambda v: v == 100.0),
    Case("kendall_tau", "int64 > 2**53", lambda: metrics.kendall_tau(torch.tensor([[2 ** 62, 2 ** 62 + 1]]),
                                                                    torch.tensor([[0, 1]])), check=lambda v: v == 100.0),
    # ---- predict ----------------------------------------------------------------------------------------------
    Case("predict_unary", "NaN", lambda: predict.predict_unary(with_nan(u_())), fn="pyalgo.energy.predict_unary",
         arg="unary"),
    Case("predict_unary", "int", lambda: predict.predict_unary(torch.ones(2, 2, dtype=torch.long)),
         fn="pyalgo.energy.predict_unary", arg="unary"),
    Case("predict_unary", "inf", lambda: predict.predict_unary(with_val(u_(), -INF)),
         check=lambda y: y[0, 0] == 0 and y[1, 3] == 1),
    Case("predict_pairwise", "steps 2**40", lambda: predict.predict_pairwise(u_(), torch.zeros(2, 4, 4, dtype=F64),
                                                                             steps=2 ** 40),
         fn="pyalgo.energy.predict_pairwise", arg="steps"),
    Case("predict_pairwise", "steps -1", lambda: predict.predict_pairwise(u_(), torch.zeros(2, 4, 4, dtype=F64),
                                                                          steps=-1),
         fn="pyalgo.energy.predict_pairwise", arg="steps"),
    Case("predict_pairwise", "pairwise inf", lambda: predict.predict_pairwise(
        u_(), with_val(torch.zeros(2, 4, 4, dtype=F64), INF, (0, 0, 1))), fn="pyalgo.energy.predict_pairwise",
        arg="pairwise"),
    Case("predict_pairwise", "lr 0", lambda: predict.predict_pairwise(u_(), torch.zeros(2, 4, 4, dtype=F64), lr=0.0),
         fn="pyalgo.energy.predict_pairwise", arg="lr"),
    Case("predict_pairwise", "pairwise wrong shape", lambda: predict.predict_pairwise(u_(), torch.zeros(2, 3, 3,
                                                                                                        dtype=F64)),
         fn="pyalgo.energy.predict_pairwise", arg="pairwise"),
    Case("predict_pairwise", "huge energies", lambda: predict.predict_pairwise(u_() * 1e150,
                                                                               torch.ones(2, 4, 4, dtype=F64) * 1e150),
         check=lambda y: bool(((y == 0) | (y == 1)).all())),
    Case("predict_permutahedron", "NaN", lambda: predict.predict_permutahedron(with_nan(u_())),
         fn="pyalgo.energy.predict_permutahedron", arg="theta"),
    Case("predict_permutahedron", "3-D", lambda: predict.predict_permutahedron(torch.zeros(1, 2, 2)),
         fn="pyalgo.energy.predict_permutahedron", arg="theta"),
    Case("predict_birkhoff", "not square", lambda: predict.predict_birkhoff(torch.zeros(1, 2, 3)),
         fn="pyalgo.energy.predict_birkhoff", arg="theta"),
    Case("predict_birkhoff", "inf", lambda: predict.predict_birkhoff(with_val(torch.zeros(1, 2, 2), INF, (0, 0, 0))),
         fn="pyalgo.energy.predict_birkhoff", arg="theta"),
    Case("predict_birkhoff", "identity 1e300", lambda: predict.predict_birkhoff(torch.eye(3, dtype=F64)[None] * 1e300),
         check=lambda y: y.tolist() == [[0, 1, 2]]),
    Case("mode_bits_exact", "k 30", lambda: predict.mode_bits_exact(torch.zeros(1, 30)),
         fn="pyalgo.energy.mode_bits_exact", arg="unary"),
    Case("mode_bits_exact", "NaN", lambda: predict.mode_bits_exact(with_nan(u_())),
         fn="pyalgo.energy.mode_bits_exact", arg="unary"),
    # ---- mcmc -------------------------------------------------------------------------------------------------
    Case("gibbs_bits", "sweeps 2**63", lambda: mcmc.gibbs_bits(u_(), None, torch.zeros(2, 1, 4), 2 ** 63),
         fn="pyalgo.energy.gibbs_bits", arg="sweeps"),
    Case("gibbs_bits", "sweeps -1", lambda: mcmc.gibbs_bits(u_(), None, torch.zeros(2, 1, 4), -1),
         fn="pyalgo.energy.gibbs_bits", arg="sweeps"),
    Case("gibbs_bits", "unary NaN", lambda: mcmc.gibbs_bits(with_nan(u_()), None, torch.zeros(2, 1, 4), 1),
         fn="pyalgo.energy.gibbs_bits", arg="unary"),
    Case("gibbs_bits", "init wrong shape", lambda: mcmc.gibbs_bits(u_(), None, torch.zeros(2, 1, 3), 1),
         fn="pyalgo.energy.gibbs_bits", arg="init"),
    Case("gibbs_bits", "init value 2", lambda: mcmc.gibbs_bits(u_(), None, torch.full((2, 1, 4), 2.0), 1),
         fn="pyalgo.energy.gibbs_bits", arg="init"),
    Case("gibbs_bits", "generator int", lambda: mcmc.gibbs_bits(u_(), None, torch.zeros(2, 1, 4), 1, 7),
         fn="pyalgo.energy.gibbs_bits", arg="generator"),
    Case("gibbs_bits", "huge unary", lambda: mcmc.gibbs_bits(u_() * 1e300, None, torch.zeros(2, 1, 4), 2),
         check=lambda y: bool(((y == 0) | (y == 1)).all())),
    Case("metropolis_perms", "sweeps 2**40", lambda: mcmc.metropolis_perms(u_(), yp()[:, None], 2 ** 40),
         fn="pyalgo.energy.metropolis_perms", arg="sweeps"),
    Case("metropolis_perms", "theta inf", lambda: mcmc.metropolis_perms(with_val(u_(), INF), yp()[:, None], 1),
         fn="pyalgo.energy.metropolis_perms", arg="theta"),
    Case("metropolis_perms", "init not perm", lambda: mcmc.metropolis_perms(u_(), torch.zeros(2, 1, 4,
                                                                                              dtype=torch.long), 1),
         fn="pyalgo.energy.metropolis_perms", arg="init"),
    Case("metropolis_perms", "init float", lambda: mcmc.metropolis_perms(u_(), yp()[:, None].double(), 1),
         fn="pyalgo.energy.metropolis_perms", arg="init"),
    Case("metropolis_perms", "valid", lambda: mcmc.metropolis_perms(u_(), yp()[:, None], 3),
         check=lambda y: bool((y.sort(-1).values == torch.arange(4)).all())),
    # ---- models -----------------------------------------------------------------------------------------------
    Case("UnaryEnergy", "d 0", lambda: models.UnaryEnergy(0, 3), fn="pyalgo.energy.UnaryEnergy", arg="d"),
    Case("UnaryEnergy", "k float", lambda: models.UnaryEnergy(3, 2.0), fn="pyalgo.energy.UnaryEnergy", arg="k"),
    Case("UnaryEnergy", "dropout 2", lambda: models.UnaryEnergy(3, 2, dropout=2.0), fn="pyalgo.energy.UnaryEnergy",
         arg="dropout"),
    Case("UnaryEnergy", "d 2**40", lambda: models.UnaryEnergy(2 ** 40, 3), fn="pyalgo.energy.UnaryEnergy", arg="d"),
    Case("PairwiseEnergy", "k 2**20", lambda: models.PairwiseEnergy(3, 2 ** 20, hidden=0),
         fn="pyalgo.energy.PairwiseEnergy", arg="k"),
    Case("PermutahedronEnergy", "hidden -1", lambda: models.PermutahedronEnergy(3, 2, hidden=-1),
         fn="pyalgo.energy.PermutahedronEnergy", arg="hidden"),
    Case("BirkhoffEnergy", "n 2**63", lambda: models.BirkhoffEnergy(3, 2 ** 63), fn="pyalgo.energy.BirkhoffEnergy",
         arg="n"),
    Case("TauNet", "d bool", lambda: models.TauNet(True), fn="pyalgo.energy.TauNet", arg="d"),
    Case("FreeTau", "num_train 2**63", lambda: models.FreeTau(2 ** 63), fn="pyalgo.energy.FreeTau", arg="num_train"),
    Case("FreeTau", "num_train -1", lambda: models.FreeTau(-1), fn="pyalgo.energy.FreeTau", arg="num_train"),
    Case("UnaryEnergy", "linear valid", lambda: models.UnaryEnergy(3, 2, hidden=0)(torch.zeros(1, 3)),
         check=lambda y: y.shape == (1, 2)),
    # ---- evaluate ---------------------------------------------------------------------------------------------
    Case("evaluate_multilabel", "x wrong d", lambda: evaluate.evaluate_multilabel(models.UnaryEnergy(3, 2, 0),
                                                                                  torch.zeros(2, 4), yb(2, 2)),
         fn="pyalgo.energy.evaluate_multilabel", arg="x"),
    Case("evaluate_multilabel", "energy wrong type", lambda: evaluate.evaluate_multilabel(torch.nn.Linear(3, 2),
                                                                                          torch.zeros(2, 3), yb(2, 2)),
         fn="pyalgo.energy.evaluate_multilabel", arg="energy"),
    Case("evaluate_multilabel", "y wrong shape", lambda: evaluate.evaluate_multilabel(models.UnaryEnergy(3, 2, 0),
                                                                                      torch.zeros(2, 3), yb(2, 3)),
         fn="pyalgo.energy.evaluate_multilabel", arg="y"),
    Case("evaluate_multilabel", "x NaN", lambda: evaluate.evaluate_multilabel(models.UnaryEnergy(3, 2, 0),
                                                                              with_nan(torch.zeros(2, 3)), yb(2, 2)),
         fn="pyalgo.energy.evaluate_multilabel", arg="x"),
    Case("evaluate_multilabel", "x empty", lambda: evaluate.evaluate_multilabel(models.UnaryEnergy(3, 2, 0),
                                                                                torch.zeros(0, 3), yb(0, 2)),
         fn="pyalgo.energy.evaluate_multilabel", arg="x"),
    Case("evaluate_multilabel", "valid", lambda: evaluate.evaluate_multilabel(models.UnaryEnergy(3, 2, 0),
                                                                              torch.ones(2, 3), yb(2, 2).float()),
         check=lambda d: all(math.isfinite(v) for v in d.values())),
    Case("evaluate_ranking", "energy unary", lambda: evaluate.evaluate_ranking(models.UnaryEnergy(3, 2, 0),
                                                                               torch.zeros(2, 3), yp(2, 2)),
         fn="pyalgo.energy.evaluate_ranking", arg="energy"),
    Case("evaluate_ranking", "x int", lambda: evaluate.evaluate_ranking(models.PermutahedronEnergy(3, 2, 0),
                                                                        torch.zeros(2, 3, dtype=torch.long), yp(2, 2)),
         fn="pyalgo.energy.evaluate_ranking", arg="x"),
    Case("evaluate_ranking", "valid birkhoff", lambda: evaluate.evaluate_ranking(models.BirkhoffEnergy(3, 3, 0),
                                                                                 torch.ones(2, 3), yp(2, 3)),
         check=lambda d: math.isfinite(d["kendall_tau"])),
    Case("exact_nll_multilabel", "x 1-D", lambda: evaluate.exact_nll_multilabel(models.UnaryEnergy(3, 2, 0),
                                                                                torch.zeros(3), yb(1, 2)),
         fn="pyalgo.energy.exact_nll_multilabel", arg="x"),
    Case("tau_vs_lse", "tau FreeTau", lambda: evaluate.tau_vs_lse(models.UnaryEnergy(3, 2, 0), models.FreeTau(2),
                                                                  torch.zeros(2, 3)),
         fn="pyalgo.energy.tau_vs_lse", arg="tau"),
    Case("tau_vs_lse", "tau other d", lambda: evaluate.tau_vs_lse(models.UnaryEnergy(3, 2, 0), models.TauNet(4, 0),
                                                                  torch.zeros(2, 3)),
         fn="pyalgo.energy.tau_vs_lse", arg="tau"),
    Case("tau_vs_lse", "valid", lambda: evaluate.tau_vs_lse(models.UnaryEnergy(3, 2, 0), models.TauNet(3, 0),
                                                            torch.ones(2, 3)),
         check=lambda d: math.isfinite(d["mean_abs_err"])),
    # ---- data: standardize, kfold, synthetic ------------------------------------------------------------------
    Case("standardize", "inf", lambda: data.standardize(np.array([[1.0], [INF]])), fn="pyalgo.energy.standardize",
         arg="train"),
    Case("standardize", "NaN in others", lambda: data.standardize(np.ones((2, 1)), np.array([[NAN]])),
         fn="pyalgo.energy.standardize", arg="others"),
    Case("standardize", "empty train", lambda: data.standardize(np.zeros((0, 2)), np.ones((2, 2))),
         fn="pyalgo.energy.standardize", arg="train"),
    Case("standardize", "column mismatch", lambda: data.standardize(np.ones((2, 2)), np.ones((2, 3))),
         fn="pyalgo.energy.standardize", arg="train"),
    Case("standardize", "mix torch numpy", lambda: data.standardize(torch.ones(2, 2), np.ones((2, 2))),
         fn="pyalgo.energy.standardize", arg="train"),
    Case("standardize", "±1e308", lambda: data.standardize(np.array([[1e308], [-1e308]])),
         check=lambda z: np.allclose(z[0], [[1.0], [-1.0]])),
    Case("standardize", "±1e308 torch", lambda: data.standardize(torch.tensor([[1e308], [-1e308], [0.0]],
                                                                              dtype=F64)),
         check=lambda z: bool(torch.isfinite(z[0]).all()) and abs(float(z[0][0, 0]) - math.sqrt(1.5)) < 1e-12),
    Case("standardize", "constant column", lambda: data.standardize(np.full((3, 1), 5.0)),
         check=lambda z: np.all(z[0] == 0)),
    Case("kfold_indices", "n 0", lambda: data.kfold_indices(0), fn="pyalgo.energy.kfold_indices", arg="n"),
    Case("kfold_indices", "folds > n", lambda: data.kfold_indices(3, 5), fn="pyalgo.energy.kfold_indices", arg="folds"),
    Case("kfold_indices", "seed str", lambda: data.kfold_indices(5, 2, "x"), fn="pyalgo.energy.kfold_indices",
         arg="seed"),
    Case("synthetic_ising", "k 129", lambda: data.synthetic_ising(2, 2, k=129), fn="pyalgo.energy.synthetic_ising",
         arg="k"),
    Case("synthetic_ising", "unary_scale inf", lambda: data.synthetic_ising(2, 2, unary_scale=INF),
         fn="pyalgo.energy.synthetic_ising", arg="unary_scale"),
    Case("synthetic_ising", "num_train -1", lambda: data.synthetic_ising(-1, 2), fn="pyalgo.energy.synthetic_ising",
         arg="num_train"),
    # ---- data: load_multilabel --------------------------------------------------------------------------------
    Case("load_multilabel", "extra value", lambda: data.load_multilabel(tmpfile(ARFF_HEAD + "1,2,0,1,9\n")),
         fn="pyalgo.energy.load_multilabel", arg="line 7"),
    Case("load_multilabel", "missing value", lambda: data.load_multilabel(tmpfile(ARFF_HEAD + "1,2,0\n")),
         fn="pyalgo.energy.load_multilabel", arg="line 7"),
    Case("load_multilabel", "truncated header", lambda: data.load_multilabel(tmpfile(ARFF_HEAD[:50])),
         fn="pyalgo.energy.load_multilabel", arg="name_or_train_path"),
    Case("load_multilabel", "header only, no @data", lambda: data.load_multilabel(tmpfile(ARFF_HEAD[:-6])),
         fn="pyalgo.energy.load_multilabel", arg="@data"),
    Case("load_multilabel", "empty train", lambda: data.load_multilabel(tmpfile(ARFF_HEAD), tmpfile(ARFF_OK)),
         fn="pyalgo.energy.load_multilabel", arg="no data rows"),
    Case("load_multilabel", "inf feature", lambda: data.load_multilabel(tmpfile(ARFF_HEAD + "inf,2,0,1\n3,4,1,0\n")),
         fn="pyalgo.energy.load_multilabel", arg="'f1'"),
    Case("load_multilabel", "inf feature in test", lambda: data.load_multilabel(
        tmpfile(ARFF_OK), tmpfile(ARFF_HEAD + "1,-inf,0,1\n")), fn="pyalgo.energy.load_multilabel", arg="test_path"),
    Case("load_multilabel", "label 2", lambda: data.load_multilabel(tmpfile(ARFF_HEAD + "1,2,0,2\n")),
         fn="pyalgo.energy.load_multilabel", arg="name_or_train_path"),
    Case("load_multilabel", "missing file", lambda: data.load_multilabel("/nonexistent/x.arff"),
         fn="pyalgo.energy.load_multilabel", arg="name_or_train_path"),
    Case("load_multilabel", "path int", lambda: data.load_multilabel(3), fn="pyalgo.energy.load_multilabel",
         arg="name_or_train_path"),
    Case("load_multilabel", "binary garbage", lambda: data.load_multilabel(tmpfile(b"\x00\x01\x02" * 10)),
         fn="pyalgo.energy.load_multilabel", arg="name_or_train_path"),
    Case("load_multilabel", "corrupt gzip", lambda: data.load_multilabel(tmpfile(gzip.compress(ARFF_OK.encode())[:20])),
         fn="pyalgo.energy.load_multilabel", arg="name_or_train_path"),
    Case("load_multilabel", "standardize str", lambda: data.load_multilabel(tmpfile(ARFF_OK), standardize="yes"),
         fn="pyalgo.energy.load_multilabel", arg="standardize"),
    Case("load_multilabel", "bad xml", lambda: data.load_multilabel(tmpfile(ARFF_OK), labels_xml=tmpfile("<a>", "l.xml")),
         fn="pyalgo.energy.load_multilabel", arg="labels_xml"),
    Case("load_multilabel", "test attrs differ", lambda: data.load_multilabel(
        tmpfile(ARFF_OK), tmpfile(ARFF_OK.replace("f2", "g2"))), fn="pyalgo.energy.load_multilabel", arg="test_path"),
    Case("load_multilabel", "latin-1", lambda: data.load_multilabel(
        tmpfile((ARFF_OK.replace("@relation t", "@relation caf\xe9")).encode("latin-1"))),
        check=lambda d: d.x_train.shape == (3, 2)),
    Case("load_multilabel", "gzip", lambda: data.load_multilabel(tmpfile(gzip.compress(ARFF_OK.encode()))),
         check=lambda d: d.y_train.tolist() == [[0, 1], [1, 0], [1, 1]]),
    Case("load_multilabel", "±1e308 features", lambda: data.load_multilabel(
        tmpfile(ARFF_HEAD + "1e308,2,0,1\n-1e308,4,1,0\n")),
        check=lambda d: d.x_train[:, 0].tolist() == [1.0, -1.0]),
    Case("load_multilabel", "comments and blank lines", lambda: data.load_multilabel(
        tmpfile(ARFF_HEAD + "% c\n\n1,2,0,1\n3,4,1,0\n")), check=lambda d: d.x_train.shape == (2, 2)),
    # issue 17: the real formats (own ARFF parser), each error names the file and the line
    Case("load_multilabel", "sparse truncated pair", lambda: data.load_multilabel(tmpfile(ARFF_HEAD + "{0 1, 3}\n")),
         fn="pyalgo.energy.load_multilabel", arg="line 7: truncated sparse pair"),
    Case("load_multilabel", "sparse index out of range", lambda: data.load_multilabel(
        tmpfile(ARFF_HEAD + "{0 1, 9 1}\n")), fn="pyalgo.energy.load_multilabel", arg="line 7: sparse index 9 out of range"),
    Case("load_multilabel", "sparse row unterminated", lambda: data.load_multilabel(tmpfile(ARFF_HEAD + "{0 1, 3 1\n")),
         fn="pyalgo.energy.load_multilabel", arg="line 7"),
    Case("load_multilabel", "duplicated attribute", lambda: data.load_multilabel(
        tmpfile(ARFF_OK.replace("f2 numeric", "f1 numeric"))), fn="pyalgo.energy.load_multilabel",
         arg="line 3: duplicated attribute 'f1'"),
    Case("load_multilabel", "unknown attribute type", lambda: data.load_multilabel(
        tmpfile(ARFF_OK.replace("f2 numeric", "f2 float"))), fn="pyalgo.energy.load_multilabel",
         arg="line 3: attribute 'f2' has an unknown type 'float'"),
    Case("load_multilabel", "string attribute", lambda: data.load_multilabel(
        tmpfile(ARFF_OK.replace("f2 numeric", "f2 string"))), fn="pyalgo.energy.load_multilabel", arg="line 3"),
    Case("load_multilabel", "bad number", lambda: data.load_multilabel(tmpfile(ARFF_HEAD + "1,2,0,1\n1,2x,0,1\n")),
         fn="pyalgo.energy.load_multilabel", arg="line 8: attribute 'f2' (numeric) has the value '2x'"),
    Case("load_multilabel", "missing feature", lambda: data.load_multilabel(tmpfile(ARFF_HEAD + "1,?,0,1\n")),
         fn="pyalgo.energy.load_multilabel", arg="line 7: feature 'f2' is missing"),
    Case("load_multilabel", "unterminated quote", lambda: data.load_multilabel(tmpfile(ARFF_HEAD + "1,'2,0,1\n")),
         fn="pyalgo.energy.load_multilabel", arg="line 7"),
    Case("load_multilabel", "xml label absent", lambda: data.load_multilabel(
        tmpfile(ARFF_OK), labels=tmpfile('<labels><label name="l3"/></labels>', "l.xml")),
         fn="pyalgo.energy.load_multilabel", arg="close matches"),
    Case("load_multilabel", "labels N = all attributes", lambda: data.load_multilabel(tmpfile(ARFF_OK), labels=4),
         fn="pyalgo.energy.load_multilabel", arg="labels"),
    Case("load_multilabel", "labels float", lambda: data.load_multilabel(tmpfile(ARFF_OK), labels=2.5),
         fn="pyalgo.energy.load_multilabel", arg="labels"),
    Case("load_multilabel", "escaped quotes, CRLF, any case", lambda: data.load_multilabel(tmpfile(
        ARFF_OK.replace("@attribute l1", "@ATTRIBUTE 'it\\'s l1'").replace("\n", "\r\n")), standardize=False),
         check=lambda d: d.label_names == ["it's l1", "l2"] and d.y_train.tolist() == [[0, 1], [1, 0], [1, 1]]),
    Case("load_multilabel", "sparse rows", lambda: data.load_multilabel(
        tmpfile(ARFF_HEAD + "{0 1.5, 3 1}\n{}\n{1 2, 2 1}\n"), standardize=False),
         check=lambda d: d.x_train.tolist() == [[1.5, 0], [0, 0], [0, 2]] and d.y_train.tolist() == [[0, 1], [0, 0], [1, 0]]),
    Case("load_multilabel", "nominal feature one-hot", lambda: data.load_multilabel(
        tmpfile(ARFF_OK.replace("f2 numeric", "f2 {a,b,c}").replace(",2.0,", ",c,").replace(",4.0,", ",a,")
                .replace(",1.0,1", ",b,1")), standardize=False),
         check=lambda d: d.x_train.tolist() == [[1, 0, 0, 1], [3, 1, 0, 0], [5, 0, 1, 0]]),
    Case("load_multilabel", "MEKA -C 2 first attributes", lambda: data.load_multilabel(tmpfile(
        "@relation 'm: -C 2'\n@attribute a {0,1}\n@attribute b {0,1}\n@attribute f numeric\n@data\n1,0,3\n0,0,4\n"),
        standardize=False), check=lambda d: d.label_names == ["a", "b"] and d.x_train.tolist() == [[3], [4]]),
    # ---- data: load_label_ranking -----------------------------------------------------------------------------
    Case("load_label_ranking", "bad header", lambda: data.load_label_ranking(tmpfile("a,b\n1,2\n", "r.csv")),
         fn="pyalgo.energy.load_label_ranking", arg="name_or_path"),
    Case("load_label_ranking", "row count mismatch", lambda: data.load_label_ranking(tmpfile("3,2,3\n0.5,1,1,2,3\n",
                                                                                             "r.csv")),
         fn="pyalgo.energy.load_label_ranking", arg="name_or_path"),
    Case("load_label_ranking", "extra value", lambda: data.load_label_ranking(tmpfile("1,2,3\n0.5,1,1,2,3,4\n", "r.csv")),
         fn="pyalgo.energy.load_label_ranking", arg="name_or_path"),
    Case("load_label_ranking", "not a permutation", lambda: data.load_label_ranking(tmpfile("1,1,3\n0.5,1,1,3\n",
                                                                                            "r.csv")),
         fn="pyalgo.energy.load_label_ranking", arg="name_or_path"),
    Case("load_label_ranking", "inf feature", lambda: data.load_label_ranking(tmpfile("1,1,2\ninf,1,2\n", "r.csv")),
         fn="pyalgo.energy.load_label_ranking", arg="name_or_path"),
    Case("load_label_ranking", "non-numeric", lambda: data.load_label_ranking(tmpfile("1,1,2\nx,1,2\n", "r.csv")),
         fn="pyalgo.energy.load_label_ranking", arg="name_or_path"),
    Case("load_label_ranking", "negative count", lambda: data.load_label_ranking(tmpfile("-1,1,2\n", "r.csv")),
         fn="pyalgo.energy.load_label_ranking", arg="name_or_path"),
    Case("load_label_ranking", "missing", lambda: data.load_label_ranking("/nonexistent.csv"),
         fn="pyalgo.energy.load_label_ranking", arg="name_or_path"),
    Case("load_label_ranking", "path None", lambda: data.load_label_ranking(None),
         fn="pyalgo.energy.load_label_ranking", arg="name_or_path"),
    Case("load_label_ranking", "corrupt gzip", lambda: data.load_label_ranking(tmpfile(gzip.compress(CSV_OK.encode())[:15],
                                                                                       "r.csv")),
         fn="pyalgo.energy.load_label_ranking", arg="name_or_path"),
    Case("load_label_ranking", "gzip", lambda: data.load_label_ranking(tmpfile(gzip.compress(CSV_OK.encode()), "r.csv")),
         check=lambda d: d.ranks.tolist() == [[1, 2, 3], [3, 1, 2]]),
    Case("load_label_ranking", "latin-1 header comment", lambda: data.load_label_ranking(
        tmpfile(CSV_OK.encode("latin-1") + b"", "r.csv")), check=lambda d: d.x.shape == (2, 2)),
    Case("load_label_ranking", "±1e308 features", lambda: data.load_label_ranking(
        tmpfile("2,1,2\n1e308,1,2\n-1e308,2,1\n", "r.csv")), check=lambda d: d.x.dtype == torch.float32),
    Case("load_label_ranking", "no header, no labels", lambda: data.load_label_ranking(tmpfile("0.5,1,2,3\n", "r.csv")),
         fn="pyalgo.energy.load_label_ranking", arg="labels=k"),
    Case("load_label_ranking", "named header, no rank columns", lambda: data.load_label_ranking(
        tmpfile("a,b,c\n0.5,7,9\n", "r.csv")), fn="pyalgo.energy.load_label_ranking", arg="name_or_path"),
    Case("load_label_ranking", "labels 0", lambda: data.load_label_ranking("iris", labels=0),
         fn="pyalgo.energy.load_label_ranking", arg="labels"),
    Case("load_label_ranking", "not a permutation names the line", lambda: data.load_label_ranking(
        tmpfile("f,L1,L2\n0.5,1,2\n0.5,2,2\n", "r.csv")), fn="pyalgo.energy.load_label_ranking", arg="line 3"),
    Case("load_label_ranking", "wrong field count names the line", lambda: data.load_label_ranking(
        tmpfile("0.5,1,2\n0.5,2\n", "r.csv"), labels=2), fn="pyalgo.energy.load_label_ranking", arg="line 2"),
    Case("load_label_ranking", "named header", lambda: data.load_label_ranking(tmpfile("x,r1,r2\n0.5,2,1\n", "r.csv")),
         check=lambda d: d.ranks.tolist() == [[2, 1]] and d.x.tolist() == [[0.5]]),
    Case("load_label_ranking", "no header with labels", lambda: data.load_label_ranking(
        tmpfile("0.5,2,1\r\n0.25,1,2\r\n", "r.csv"), labels=2), check=lambda d: d.ranks.tolist() == [[2, 1], [1, 2]]),
    # ---- data: holdout_indices --------------------------------------------------------------------------------
    Case("holdout_indices", "n 1", lambda: data.holdout_indices(1, 0.5), fn="pyalgo.energy.holdout_indices", arg="n"),
    Case("holdout_indices", "fraction 1", lambda: data.holdout_indices(10, 1.0), fn="pyalgo.energy.holdout_indices",
         arg="test_fraction"),
    Case("holdout_indices", "fraction NaN", lambda: data.holdout_indices(10, NAN), fn="pyalgo.energy.holdout_indices",
         arg="test_fraction"),
    Case("holdout_indices", "seed float", lambda: data.holdout_indices(10, 0.5, 1.5), fn="pyalgo.energy.holdout_indices",
         arg="seed"),
    Case("holdout_indices", "valid", lambda: data.holdout_indices(10, 0.3),
         check=lambda s: len(s[1]) == 3 and sorted(np.concatenate(s).tolist()) == list(range(10))),
    # ---- reference --------------------------------------------------------------------------------------------
    Case("energy_bits", "samples wrong k", lambda: R.energy_bits(u_(), torch.zeros(2, 1, 3)),
         fn="pyalgo.energy.energy_bits", arg="samples"),
    Case("energy_perms", "perms wrong n", lambda: R.energy_perms(u_(), torch.zeros(2, 1, 3, dtype=torch.long)),
         fn="pyalgo.energy.energy_perms", arg="perms"),
    Case("exact_lse_bits", "k 25", lambda: R.exact_lse_bits(torch.zeros(1, 25)), fn="pyalgo.energy.exact_lse_bits",
         arg="unary"),
    Case("exact_lse_perms", "n 9", lambda: R.exact_lse_perms(torch.zeros(1, 9)), fn="pyalgo.energy.exact_lse_perms",
         arg="theta"),
    Case("lse_perms_ryser", "n 21", lambda: R.lse_perms_ryser(torch.zeros(1, 21)), fn="pyalgo.energy.lse_perms_ryser",
         arg="theta"),
    Case("log_permanent", "negative", lambda: R.log_permanent(-torch.ones(1, 2, 2)), fn="pyalgo.energy.log_permanent",
         arg="A"),
    Case("all_bits", "k 2**40", lambda: R.all_bits(2 ** 40), fn="pyalgo.energy.all_bits", arg="k"),
    Case("all_perms", "n 100", lambda: R.all_perms(100), fn="pyalgo.energy.all_perms", arg="n"),
    Case("minmin_from_energies", "m 0", lambda: R.minmin_from_energies(torch.zeros(2, 0), torch.zeros(2), torch.zeros(2)),
         fn="pyalgo.energy.minmin_from_energies", arg="g_samples"),
    Case("minmin_from_energies", "tau -1e30 fp32 saturates", lambda: R.minmin_from_energies(
        torch.zeros(1, 3), torch.zeros(1), torch.full((1,), -1e30)), check=finite),
]

# ---- proposal sampling (issue 17, w17-kernels): the `proposal` argument of the ops, the proposal references --
PROPOSAL_CASES = [
    Case("minmin_loss", "proposal list", lambda: E.minmin_loss(u_(), t_(), yb(), 4, proposal=[[0.0] * 4] * 2),
         fn=ML, arg="proposal"),
    Case("minmin_loss", "proposal int", lambda: E.minmin_loss(u_(), t_(), yb(), 4,
                                                              proposal=torch.zeros(2, 4, dtype=torch.long)),
         fn=ML, arg="proposal"),
    Case("minmin_loss", "proposal wrong shape", lambda: E.minmin_loss(u_(), t_(), yb(), 4, proposal=u_(2, 3)),
         fn=ML, arg="proposal"),
    Case("minmin_loss", "proposal 1-D", lambda: E.minmin_loss(u_(), t_(), yb(), 4, proposal=torch.zeros(4, dtype=F64)),
         fn=ML, arg="proposal"),
    Case("minmin_loss", "proposal meta device", lambda: E.minmin_loss(u_(), t_(), yb(), 4,
                                                                      proposal=torch.zeros(2, 4, device="meta")),
         fn=ML, arg="proposal"),
    Case("minmin_loss", "proposal NaN", lambda: E.minmin_loss(u_(), t_(), yb(), 4, proposal=with_nan(u_())),
         fn=ML, arg="proposal"),
    Case("minmin_loss", "proposal inf", lambda: E.minmin_loss(u_(), t_(), yb(), 4, proposal=with_val(u_(), INF)),
         fn=ML, arg="proposal"),
    Case("minmin_loss", "proposal NaN validate=False (kernel check)", lambda: E.minmin_loss(
        u_(), t_(), yb(), 4, proposal=with_nan(u_()), validate=False), fn=ML, arg="proposal"),
    Case("minmin_loss", "proposal ±1e3 (certain bits)", lambda: E.minmin_loss(
        u_(), t_(), yb(), 8, proposal=torch.tensor([[1e3, -1e3, 1e3, -1e3]] * 2, dtype=F64)), check=finite),
    Case("minmin_loss", "proposal float16", lambda: E.minmin_loss(u_(), t_(), yb(), 8, proposal=u_().half()),
         check=finite),
    Case("minmin_loss", "proposal B=0", lambda: E.minmin_loss(u_(0), t_(0), yb(0), 4, proposal=u_(0)),
         check=lambda l: l.shape == (0,)),
    Case("minmin_loss_ranking", "proposal wrong shape", lambda: E.minmin_loss_ranking(u_(), t_(), yp(), 4,
                                                                                      proposal=u_(2, 5)),
         fn=MR, arg="proposal"),
    Case("minmin_loss_ranking", "proposal bool", lambda: E.minmin_loss_ranking(
        u_(), t_(), yp(), 4, proposal=torch.zeros(2, 4, dtype=torch.bool)), fn=MR, arg="proposal"),
    Case("minmin_loss_ranking", "proposal NaN", lambda: E.minmin_loss_ranking(u_(), t_(), yp(), 4,
                                                                              proposal=with_nan(u_())),
         fn=MR, arg="proposal"),
    Case("minmin_loss_ranking", "proposal -inf validate=False (kernel check)", lambda: E.minmin_loss_ranking(
        u_(), t_(), yp(), 4, proposal=with_val(u_(), -INF), validate=False), fn=MR, arg="proposal"),
    Case("minmin_loss_ranking", "proposal scores ±1e3", lambda: E.minmin_loss_ranking(
        u_(), t_(), yp(), 8, proposal=u_() * 1e3), check=finite),
    Case("sample_bits", "proposal wrong batch", lambda: E.sample_bits(3, 2, 4, proposal=u_()), fn=SB, arg="proposal"),
    Case("sample_bits", "proposal wrong k", lambda: E.sample_bits(2, 2, 5, proposal=u_()), fn=SB, arg="proposal"),
    Case("sample_bits", "proposal NaN", lambda: E.sample_bits(2, 2, 4, proposal=with_nan(u_())), fn=SB,
         arg="proposal"),
    Case("sample_bits", "proposal tuple", lambda: E.sample_bits(2, 2, 4, proposal=(1.0, 2.0)), fn=SB, arg="proposal"),
    Case("sample_bits", "proposal vs device meta", lambda: E.sample_bits(2, 2, 4, device="meta", proposal=u_()),
         fn=SB, arg="proposal"),
    Case("sample_bits", "proposal returns samples and log weights", lambda: E.sample_bits(2, 3, 4, proposal=u_()),
         check=lambda r: r[0].shape == (2, 3, 4) and r[1].shape == (2, 3) and finite(r[1])),
    Case("sample_perms", "proposal wrong n", lambda: E.sample_perms(2, 2, 3, proposal=u_()), fn=SP, arg="proposal"),
    Case("sample_perms", "proposal inf", lambda: E.sample_perms(2, 2, 4, proposal=with_val(u_(), INF)), fn=SP,
         arg="proposal"),
    Case("sample_perms", "proposal complex", lambda: E.sample_perms(2, 2, 4, proposal=u_().to(torch.complex128)),
         fn=SP, arg="proposal"),
    Case("bernoulli_log_prob", "last axes differ", lambda: R.bernoulli_log_prob(u_(), yb(2, 3)),
         fn="pyalgo.energy.bernoulli_log_prob", arg="a"),
    Case("bernoulli_log_prob", "int logits", lambda: R.bernoulli_log_prob(yb().long(), yb()),
         fn="pyalgo.energy.bernoulli_log_prob", arg="a"),
    Case("plackett_luce_log_prob", "float perms", lambda: R.plackett_luce_log_prob(u_(), u_()),
         fn="pyalgo.energy.plackett_luce_log_prob", arg="perms"),
    Case("plackett_luce_log_prob", "last axes differ", lambda: R.plackett_luce_log_prob(u_(), yp(2, 3)),
         fn="pyalgo.energy.plackett_luce_log_prob", arg="perms"),
    Case("minmin_from_energies", "log_weight wrong shape", lambda: R.minmin_from_energies(
        torch.zeros(2, 3), torch.zeros(2), torch.zeros(2), log_weight=torch.zeros(2, 4)),
         fn="pyalgo.energy.minmin_from_energies", arg="log_weight"),
]
CASES += PROPOSAL_CASES

test_case = run_table(CASES)
