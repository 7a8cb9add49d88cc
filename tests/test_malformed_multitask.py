"""Malformed-input table of the multitask family (issue 14): kmeans_1d, kmeans_1d_lloyd, delta_m,
min_norm_weights, go4align_weights, create and every weighting method's entry points."""
import math

import numpy as np
import torch

from malformed import Case, run_table
import pyalgo.multitask as MT
from pyalgo.multitask.ops import go4align_weights

F64 = torch.float64
NAN, INF = float("nan"), float("inf")
KM, LL, DM, MN, GW = ("pyalgo.multitask.kmeans_1d", "pyalgo.multitask.kmeans_1d_lloyd", "pyalgo.multitask.delta_m",
                      "pyalgo.multitask.min_norm_weights", "pyalgo.multitask.go4align")
NAMES = sorted(MT.METHODS)


def finite(x):
    return bool(torch.isfinite(torch.as_tensor(x)).all())


def labels_ok(expected):
    return lambda y: y.tolist() == expected


def where(name):
    return f"pyalgo.multitask.{name}"


def losses(values=(1.0, 2.0, 3.0), grad=True):
    p = torch.tensor([0.5, -0.25], dtype=F64, requires_grad=grad)
    base = torch.stack([(p ** 2).sum(), (p - 1).abs().sum(), p.exp().sum()])
    return p, base * 0 + torch.tensor(values, dtype=F64) + (base - base.detach())


def weighted(name, values=(1.0, 2.0, 3.0), n=3, **kw):
    p, L = losses(values)
    return MT.create(name, n, **kw).get_weighted_loss(L, shared_parameters=[p])


def weights_finite(out):
    loss, extras = out
    return finite(loss) and finite(extras["weights"])


G3 = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0], [1.0, 1.0, 0.5]], dtype=F64)
LQ3 = torch.full((3,), -math.log(3), dtype=F64)
L3 = torch.tensor([1.0, 2.0, 3.0], dtype=F64)

CASES = [
    # ---------------------------------------------------------------- kmeans_1d
    Case("kmeans_1d", "string values", lambda: MT.kmeans_1d("abc", 2), fn=KM, arg="values"),
    Case("kmeans_1d", "list of strings", lambda: MT.kmeans_1d(["a", "b"], 2), fn=KM, arg="values"),
    Case("kmeans_1d", "ragged list", lambda: MT.kmeans_1d([[1.0], [2.0, 3.0]], 2), fn=KM, arg="values"),
    Case("kmeans_1d", "None values", lambda: MT.kmeans_1d(None, 2), fn=KM, arg="values"),
    Case("kmeans_1d", "complex tensor", lambda: MT.kmeans_1d(torch.ones(3, dtype=torch.complex64), 2),
         fn=KM, arg="values"),
    Case("kmeans_1d", "bool tensor", lambda: MT.kmeans_1d(torch.ones(3, dtype=torch.bool), 2), fn=KM, arg="values"),
    Case("kmeans_1d", "2-D values", lambda: MT.kmeans_1d(torch.zeros(2, 2), 2), fn=KM, arg="values"),
    Case("kmeans_1d", "0-D values", lambda: MT.kmeans_1d(torch.tensor(1.0), 1), fn=KM, arg="values"),
    Case("kmeans_1d", "empty", lambda: MT.kmeans_1d([], 2), fn=KM, arg="values"),
    Case("kmeans_1d", "NaN", lambda: MT.kmeans_1d([1.0, NAN], 2), fn=KM, arg="values"),
    Case("kmeans_1d", "inf", lambda: MT.kmeans_1d([INF, 1.0], 2), fn=KM, arg="values"),
    Case("kmeans_1d", "-inf", lambda: MT.kmeans_1d([1.0, -INF], 2), fn=KM, arg="values"),
    Case("kmeans_1d", "K 0", lambda: MT.kmeans_1d([1.0, 2.0], 0), fn=KM, arg="num_clusters"),
    Case("kmeans_1d", "K negative", lambda: MT.kmeans_1d([1.0, 2.0], -3), fn=KM, arg="num_clusters"),
    Case("kmeans_1d", "K float", lambda: MT.kmeans_1d([1.0, 2.0], 2.0), fn=KM, arg="num_clusters"),
    Case("kmeans_1d", "K bool", lambda: MT.kmeans_1d([1.0, 2.0], True), fn=KM, arg="num_clusters"),
    Case("kmeans_1d", "K None", lambda: MT.kmeans_1d([1.0, 2.0], None), fn=KM, arg="num_clusters"),
    Case("kmeans_1d", "K 2**63", lambda: MT.kmeans_1d([3.0, 1.0, 2.0], 2**63), check=labels_ok([2, 0, 1])),
    Case("kmeans_1d", "K -2**63", lambda: MT.kmeans_1d([3.0, 1.0], -2**63), fn=KM, arg="num_clusters"),
    Case("kmeans_1d", "K 2**40 on 1 value", lambda: MT.kmeans_1d([5.0], 2**40), check=labels_ok([0])),
    Case("kmeans_1d", "K beyond the work limit", lambda: MT.kmeans_1d(torch.arange(20000.0), 15000),
         fn=KM, arg="num_clusters"),
    Case("kmeans_1d", "1e300 values", lambda: MT.kmeans_1d([1e300, -1e300, 0.9e300, -0.8e300], 2),
         check=labels_ok([1, 0, 1, 0])),
    Case("kmeans_1d", "1e-310 subnormal values", lambda: MT.kmeans_1d([1e-310, 2e-310, 9e-310, 1e-309], 2),
         check=labels_ok([0, 0, 1, 1])),
    Case("kmeans_1d", "tiny cluster next to 1e10", lambda: MT.kmeans_1d([0, 1e-8, 2e-8, 3, 1e10], 3),
         check=labels_ok([0, 0, 0, 1, 2])),
    Case("kmeans_1d", "clusters at 1e15", lambda: MT.kmeans_1d([0, 1, 2, 10, 11, 1e15, 1e15 + 1], 3),
         check=labels_ok([0, 0, 0, 1, 1, 2, 2])),
    Case("kmeans_1d", "all equal", lambda: MT.kmeans_1d([2.0] * 5, 3), check=labels_ok([0] * 5)),
    Case("kmeans_1d", "float32 tensor", lambda: MT.kmeans_1d(torch.tensor([0.0, 0.1, 5.0]), 2),
         check=labels_ok([0, 0, 1])),
    Case("kmeans_1d", "int list", lambda: MT.kmeans_1d([0, 1, 9], 2), check=labels_ok([0, 0, 1])),
    Case("kmeans_1d", "non-contiguous", lambda: MT.kmeans_1d(torch.tensor([0.0, 7, 0.1, 7, 5.0, 7])[::2], 2),
         check=labels_ok([0, 0, 1])),
    Case("kmeans_1d", "expanded", lambda: MT.kmeans_1d(torch.tensor([3.0]).expand(4), 2), check=labels_ok([0] * 4)),
    Case("kmeans_1d", "requires grad", lambda: MT.kmeans_1d(torch.tensor([0.0, 9.0], requires_grad=True), 2),
         check=labels_ok([0, 1])),
    Case("kmeans_1d", "numpy int64 K", lambda: MT.kmeans_1d(np.array([0.0, 9.0]), np.int64(2)),
         check=labels_ok([0, 1])),
    Case("kmeans_1d", "raw op float32", lambda: torch.ops.pyalgo.kmeans_1d(torch.zeros(3), 2), fn=KM, arg="values"),
    Case("kmeans_1d", "raw op K 0", lambda: torch.ops.pyalgo.kmeans_1d(torch.zeros(3, dtype=F64), 0),
         fn=KM, arg="num_clusters"),
    Case("kmeans_1d", "raw op NaN", lambda: torch.ops.pyalgo.kmeans_1d(torch.tensor([NAN], dtype=F64), 1),
         fn=KM, arg="values"),
    Case("kmeans_1d", "raw op huge K", lambda: torch.ops.pyalgo.kmeans_1d(torch.tensor([2.0, 1.0], dtype=F64),
                                                                          2**62), check=labels_ok([1, 0])),
    # ---------------------------------------------------------------- kmeans_1d_lloyd
    Case("kmeans_1d_lloyd", "strings", lambda: MT.kmeans_1d_lloyd(["a"], 1), fn=LL, arg="values"),
    Case("kmeans_1d_lloyd", "2-D", lambda: MT.kmeans_1d_lloyd(np.zeros((2, 2)), 1), fn=LL, arg="values"),
    Case("kmeans_1d_lloyd", "empty", lambda: MT.kmeans_1d_lloyd([], 1), fn=LL, arg="values"),
    Case("kmeans_1d_lloyd", "NaN", lambda: MT.kmeans_1d_lloyd([NAN, 1.0], 1), fn=LL, arg="values"),
    Case("kmeans_1d_lloyd", "K 0", lambda: MT.kmeans_1d_lloyd([1.0, 2.0], 0), fn=LL, arg="num_clusters"),
    Case("kmeans_1d_lloyd", "K float", lambda: MT.kmeans_1d_lloyd([1.0, 2.0], 1.5), fn=LL, arg="num_clusters"),
    Case("kmeans_1d_lloyd", "K 2**63", lambda: MT.kmeans_1d_lloyd([1.0, 2.0], 2**63), check=lambda y: y.numel() == 2),
    Case("kmeans_1d_lloyd", "too big distance matrix", lambda: MT.kmeans_1d_lloyd(np.arange(20000.0), 10000),
         fn=LL, arg="num_clusters"),
    Case("kmeans_1d_lloyd", "generator int", lambda: MT.kmeans_1d_lloyd([1.0, 2.0], 1, generator=3),
         fn=LL, arg="generator"),
    Case("kmeans_1d_lloyd", "tol NaN", lambda: MT.kmeans_1d_lloyd([1.0, 2.0], 1, tol=NAN), fn=LL, arg="tol"),
    Case("kmeans_1d_lloyd", "tol negative", lambda: MT.kmeans_1d_lloyd([1.0, 2.0], 1, tol=-1.0), fn=LL, arg="tol"),
    Case("kmeans_1d_lloyd", "max_iter 0", lambda: MT.kmeans_1d_lloyd([1.0, 2.0], 1, max_iter=0), fn=LL,
         arg="max_iter"),
    Case("kmeans_1d_lloyd", "max_iter 2**63", lambda: MT.kmeans_1d_lloyd([1.0, 2.0], 1, max_iter=2**63), fn=LL,
         arg="max_iter"),
    Case("kmeans_1d_lloyd", "1e300 values",
         lambda: MT.kmeans_1d_lloyd([1e300, -1e300, 0.9e300, -0.8e300], 2, generator=torch.Generator().manual_seed(0)),
         check=labels_ok([1, 0, 1, 0])),
    Case("kmeans_1d_lloyd", "1e-300 values",
         lambda: MT.kmeans_1d_lloyd([1e-300, 2e-300, 9e-300, 1e-299], 2, generator=torch.Generator().manual_seed(0),
                                   tol=0.0),  # tol is absolute (in the values' units)
         check=labels_ok([0, 0, 1, 1])),
    # ---------------------------------------------------------------- delta_m
    Case("delta_m", "higher_is_better 'yes'", lambda: MT.delta_m([1.0, 2.0], [1.0, 1.0], "yes"), fn=DM,
         arg="higher_is_better"),
    Case("delta_m", "higher_is_better 1", lambda: MT.delta_m([1.0, 2.0], [1.0, 1.0], 1), fn=DM,
         arg="higher_is_better"),
    Case("delta_m", "higher_is_better None", lambda: MT.delta_m([1.0, 2.0], [1.0, 1.0], None), fn=DM,
         arg="higher_is_better"),
    Case("delta_m", "higher_is_better wrong length", lambda: MT.delta_m([1.0, 2.0], [1.0, 1.0], [True]), fn=DM,
         arg="higher_is_better"),
    Case("delta_m", "string metrics", lambda: MT.delta_m(["a", "b"], [1.0, 1.0], True), fn=DM, arg="metrics"),
    Case("delta_m", "string baselines", lambda: MT.delta_m([1.0, 2.0], "ab", True), fn=DM, arg="baselines"),
    Case("delta_m", "zero baseline", lambda: MT.delta_m([1.0, 2.0], [0.0, 1.0], True), fn=DM, arg="baselines"),
    Case("delta_m", "NaN baseline", lambda: MT.delta_m([1.0, 2.0], [NAN, 1.0], True), fn=DM, arg="baselines"),
    Case("delta_m", "inf metric", lambda: MT.delta_m([INF, 2.0], [1.0, 1.0], True), fn=DM, arg="metrics"),
    Case("delta_m", "shape mismatch", lambda: MT.delta_m([1.0, 2.0, 3.0], [1.0, 1.0], True), fn=DM, arg="metrics"),
    Case("delta_m", "2-D baselines", lambda: MT.delta_m([1.0], [[1.0]], True), fn=DM, arg="baselines"),
    Case("delta_m", "empty baselines", lambda: MT.delta_m([], [], True), fn=DM, arg="baselines"),
    Case("delta_m", "empty leading metrics", lambda: MT.delta_m(np.zeros((0, 2)), [1.0, 1.0], True), fn=DM,
         arg="metrics"),
    Case("delta_m", "scalar metrics", lambda: MT.delta_m(1.0, [1.0], True), fn=DM, arg="metrics"),
    Case("delta_m", "1e308 over 1e-308", lambda: MT.delta_m([1e308], [1e-308], False), fn=DM, arg="metrics"),
    Case("delta_m", "1e308 vs -1e308", lambda: MT.delta_m([1e308, 1.0], [-1e308, 1.0], False),
         check=lambda v: v == -100.0),
    Case("delta_m", "numpy bools", lambda: MT.delta_m([2.0, 1.0], [1.0, 1.0], np.array([True, False])),
         check=lambda v: v == -50.0),
    Case("delta_m", "seeds x metrics", lambda: MT.delta_m([[2.0, 1.0], [1.0, 1.0]], [1.0, 1.0], False),
         check=lambda v: v.tolist() == [50.0, 0.0]),
    # ---------------------------------------------------------------- min_norm_weights
    Case("min_norm_weights", "strings", lambda: MT.min_norm_weights([["a"]]), fn=MN, arg="gram"),
    Case("min_norm_weights", "not square", lambda: MT.min_norm_weights(np.ones((2, 3))), fn=MN, arg="gram"),
    Case("min_norm_weights", "empty", lambda: MT.min_norm_weights(np.ones((0, 0))), fn=MN, arg="gram"),
    Case("min_norm_weights", "NaN", lambda: MT.min_norm_weights(np.full((3, 3), NAN)), fn=MN, arg="gram"),
    Case("min_norm_weights", "tol NaN", lambda: MT.min_norm_weights(np.eye(3), tol=NAN), fn=MN, arg="tol"),
    Case("min_norm_weights", "tol 0", lambda: MT.min_norm_weights(np.eye(3), tol=0.0), fn=MN, arg="tol"),
    Case("min_norm_weights", "zero matrix", lambda: MT.min_norm_weights(np.zeros((4, 4))),
         check=lambda a: abs(a.sum() - 1) < 1e-12 and np.all(a >= 0)),
    Case("min_norm_weights", "1e300 scale", lambda: MT.min_norm_weights(np.eye(3) * 1e300),
         check=lambda a: np.allclose(a, 1 / 3)),
    Case("min_norm_weights", "1e-300 scale", lambda: MT.min_norm_weights(np.eye(3) * 1e-300),
         check=lambda a: np.allclose(a, 1 / 3)),
    Case("min_norm_weights", "rank one", lambda: MT.min_norm_weights(np.ones((5, 5))),
         check=lambda a: abs(a.sum() - 1) < 1e-12 and np.all(a >= 0)),
    # ---------------------------------------------------------------- go4align_weights (the host op)
    Case("go4align_weights", "float32 losses", lambda: go4align_weights(L3.float(), LQ3, 2, 0.0, False, 0.0, 0.0),
         fn=GW, arg="losses"),
    Case("go4align_weights", "log_q length", lambda: go4align_weights(L3, LQ3[:2], 2, 0.0, False, 0.0, 0.0),
         fn=GW, arg="log_q"),
    Case("go4align_weights", "num_groups 0", lambda: go4align_weights(L3, LQ3, 0, 0.0, False, 0.0, 0.0),
         fn=GW, arg="num_groups"),
    Case("go4align_weights", "num_groups > M", lambda: go4align_weights(L3, LQ3, 4, 0.0, False, 0.0, 0.0),
         fn=GW, arg="num_groups"),
    Case("go4align_weights", "beta NaN", lambda: go4align_weights(L3, LQ3, 2, NAN, False, 0.0, 0.0), fn=GW, arg="beta"),
    Case("go4align_weights", "eps -1", lambda: go4align_weights(L3, LQ3, 2, 0.0, False, 0.0, -1.0), fn=GW, arg="eps"),
    Case("go4align_weights", "offset inf", lambda: go4align_weights(L3, LQ3, 2, 0.0, False, INF, 0.0),
         fn=GW, arg="loss_offset"),
    Case("go4align_weights", "NaN loss", lambda: go4align_weights(torch.tensor([1.0, NAN, 1.0], dtype=F64), LQ3, 2,
                                                                  0.0, False, 0.0, 0.0), fn=GW, arg="losses"),
    Case("go4align_weights", "subnormal eps", lambda: go4align_weights(torch.tensor([0.0, 1.0, 1.0], dtype=F64), LQ3,
                                                                       2, 0.0, False, 0.0, 1e-320), fn=GW, arg="eps"),
    Case("go4align_weights", "1e308 losses", lambda: go4align_weights(torch.full((3,), 1e308, dtype=F64), LQ3, 2,
                                                                      1e-4, True, 0.0, 0.0),
         check=lambda out: all(finite(t) for t in out)),
    Case("go4align_weights", "beta 1e300", lambda: go4align_weights(L3 * 1e10, LQ3, 2, 1e300, False, 0.0, 0.0),
         check=lambda out: all(finite(t) for t in out) and out[4].tolist() == [1.0, 0.0, 0.0]),
    Case("go4align_weights", "log_q -1e308", lambda: go4align_weights(L3, torch.full((3,), -1e308, dtype=F64), 2,
                                                                      1.0, False, 0.0, 0.0),
         check=lambda out: all(finite(t) for t in out)),
    # ---------------------------------------------------------------- create
    Case("create", "unknown name", lambda: MT.create("nope", 2), fn="pyalgo.multitask.create", arg="method"),
    Case("create", "n_tasks 2**63", lambda: MT.create("ls", 2**63), fn=where("ls"), arg="n_tasks"),
    Case("create", "n_tasks string", lambda: MT.create("ls", "3"), fn=where("ls"), arg="n_tasks"),
    Case("create", "bad device", lambda: MT.create("uw", 2, device="nonsense"), fn=where("uw"), arg="device"),
    Case("create", "unknown keyword", lambda: MT.create("ls", 2, bogus=1), fn="__init__", arg="bogus"),
]

# every method: wrong losses, non-finite losses, extreme but valid losses
for _name in NAMES:
    _w = where(_name)
    CASES += [
        Case(_name, "n_tasks 0", lambda n=_name: MT.create(n, 0), fn=where(_name), arg="n_tasks"),
        Case(_name, "losses wrong count", lambda n=_name: weighted(n, n=4), fn=_w, arg="losses"),
        Case(_name, "losses string", lambda n=_name: MT.create(n, 3).get_weighted_loss("abc"), fn=_w, arg="losses"),
        Case(_name, "losses 2-D", lambda n=_name: MT.create(n, 3).get_weighted_loss(torch.ones(3, 1)),
             fn=_w, arg="losses"),
        Case(_name, "losses int", lambda n=_name: MT.create(n, 3).get_weighted_loss(torch.ones(3, dtype=torch.long)),
             fn=_w, arg="losses"),
        Case(_name, "NaN loss", lambda n=_name: weighted(n, (1.0, NAN, 2.0)), fn=_w, arg="losses"),
        Case(_name, "inf loss", lambda n=_name: weighted(n, (1.0, INF, 2.0)), fn=_w, arg="losses"),
        Case(_name, "1e300 losses", lambda n=_name: weighted(n, (1e300, 2e300, 3e300)), check=weights_finite),
        Case(_name, "1e-300 losses", lambda n=_name: weighted(n, (1e-300, 2e-300, 3e-300)), check=weights_finite),
    ]
    if _name not in ("ls", "rlw", "uw", "mgda", "pcgrad", "cagrad"):   # these take any finite loss
        CASES.append(Case(_name, "negative loss", lambda n=_name: weighted(n, (1.0, -1.0, 2.0)), fn=_w, arg="losses"))
    if MT.METHODS[_name].needs_gradients:
        CASES += [
            Case(_name, "no shared_parameters", lambda n=_name: MT.create(n, 3).get_weighted_loss(losses()[1]),
                 fn=_w, arg="shared_parameters"),
            Case(_name, "grads wrong shape", lambda n=_name: MT.create(n, 3).weights_from_gradients(torch.ones(2, 4)),
                 fn=_w, arg="grads"),
            Case(_name, "grads int", lambda n=_name: MT.create(n, 3).weights_from_gradients(
                torch.ones(3, 4, dtype=torch.long)), fn=_w, arg="grads"),
            Case(_name, "grads NaN", lambda n=_name: MT.create(n, 3).weights_from_gradients(G3 * NAN), fn=_w,
                 arg="gradients"),
            Case(_name, "grads 1e200", lambda n=_name: MT.create(n, 3).weights_from_gradients(G3 * 1e200),
                 check=finite),
            Case(_name, "grads 1e-200", lambda n=_name: MT.create(n, 3).weights_from_gradients(G3 * 1e-200),
                 check=finite),
            Case(_name, "grads zero", lambda n=_name: MT.create(n, 3).weights_from_gradients(torch.zeros(3, 4)),
                 check=finite),
            Case(_name, "grads non-contiguous", lambda n=_name: MT.create(n, 3).weights_from_gradients(G3.T.T[:, ::2]),
                 check=finite),
        ]

CASES += [
    Case("si", "eps NaN", lambda: MT.create("si", 3, eps=NAN), fn=where("si"), arg="eps"),
    Case("si", "loss_offset NaN", lambda: MT.create("si", 3, loss_offset=NAN), fn=where("si"), arg="loss_offset"),
    Case("si", "zero loss with eps", lambda: weighted("si", (0.0, 1.0, 2.0), eps=1e-8), check=weights_finite),
    Case("rlw", "generator int", lambda: MT.create("rlw", 3, generator=3), fn=where("rlw"), arg="generator"),
    Case("dwa", "window 2**63", lambda: MT.create("dwa", 3, iteration_window=2**63), fn=where("dwa"),
         arg="iteration_window"),
    Case("dwa", "temperature 0", lambda: MT.create("dwa", 3, temperature=0.0), fn=where("dwa"), arg="temperature"),
    Case("dwa", "temperature 1e-300", lambda: [MT.create("dwa", 2, iteration_window=1, temperature=1e-300)
                                               .get_weighted_loss(torch.tensor(v, dtype=F64)) for v in
                                               ([1.0, 2.0], [2.0, 1.0], [1.0, 1.0])][-1], check=weights_finite),
    Case("dwa", "losses 1e307", lambda: [MT.create("dwa", 2, iteration_window=2)
                                         .get_weighted_loss(torch.tensor(v, dtype=F64) * 1e307) for v in
                                         ([1.0, 2.0], [1.5, 1.0], [2.0, 1.0], [1.0, 1.0], [1.0, 1.0])][-1],
         check=weights_finite),
    Case("dwa", "bad state", lambda: MT.create("dwa", 2).load_state_dict({"history": np.zeros(3), "steps": 0}),
         fn=where("dwa"), arg="history"),
    Case("famo", "w_lr 0", lambda: MT.create("famo", 3, w_lr=0.0), fn=where("famo"), arg="w_lr"),
    Case("famo", "gamma NaN", lambda: MT.create("famo", 3, gamma=NAN), fn=where("famo"), arg="gamma"),
    Case("famo", "update before step", lambda: MT.create("famo", 3).update(L3), fn=where("famo"), arg="update"),
    Case("famo", "min losses NaN", lambda: MT.create("famo", 3).set_min_losses(torch.tensor([0.0, NAN, 0.0])),
         fn=where("famo"), arg="losses"),
    Case("famo", "loss below min", lambda: _famo_below_min(), fn=where("famo"), arg="losses"),
    Case("famo", "update NaN", lambda: _famo_update(NAN), fn=where("famo"), arg="losses"),
    Case("mgda", "normalization bad", lambda: MT.create("mgda", 3, normalization="l3"), fn=where("mgda"),
         arg="normalization"),
    Case("mgda", "loss normalization NaN loss",
         lambda: MT.create("mgda", 3, normalization="loss").weights_from_gradients(G3, torch.tensor([1.0, NAN, 1.0])),
         fn=where("mgda"), arg="losses"),
    Case("mgda", "l2 grads 1e200", lambda: MT.create("mgda", 3, normalization="l2").weights_from_gradients(G3 * 1e200),
         check=lambda a: finite(a) and bool((a > 0).any())),
    Case("pcgrad", "generator str", lambda: MT.create("pcgrad", 3, generator="x"), fn=where("pcgrad"),
         arg="generator"),
    Case("cagrad", "c negative", lambda: MT.create("cagrad", 3, c=-1.0), fn=where("cagrad"), arg="c"),
    Case("cagrad", "c 1e300", lambda: MT.create("cagrad", 3, c=1e300), fn=where("cagrad"), arg="c"),
    Case("cagrad", "c 1e6", lambda: MT.create("cagrad", 3, c=1e6).weights_from_gradients(G3), check=finite),
    Case("go4align", "num_groups 0", lambda: MT.create("go4align", 3, num_groups=0), fn=where("go4align"),
         arg="num_groups"),
    Case("go4align", "num_groups 2**63", lambda: MT.create("go4align", 3, num_groups=2**63), fn=where("go4align"),
         arg="num_groups"),
    Case("go4align", "beta -1", lambda: MT.create("go4align", 3, beta=-1.0), fn=where("go4align"), arg="beta"),
    Case("go4align", "scale bad", lambda: MT.create("go4align", 3, scale="max"), fn=where("go4align"), arg="scale"),
    Case("go4align", "clustering bad", lambda: MT.create("go4align", 3, clustering="x"), fn=where("go4align"),
         arg="clustering"),
    Case("go4align", "loss_offset str", lambda: MT.create("go4align", 3, loss_offset="1"), fn=where("go4align"),
         arg="loss_offset"),
    Case("go4align", "generator int", lambda: MT.create("go4align", 3, generator=1), fn=where("go4align"),
         arg="generator"),
    Case("go4align", "zero loss without eps", lambda: weighted("go4align", (0.0, 1.0, 2.0)), fn=where("go4align"),
         arg="losses"),
    Case("go4align", "zero loss eps 1e-300", lambda: weighted("go4align", (0.0, 1.0, 2.0), eps=1e-300),
         check=weights_finite),
    Case("go4align", "bad state", lambda: MT.create("go4align", 3).load_state_dict({"log_q": torch.tensor([NAN] * 3)}),
         fn=where("go4align"), arg="log_q"),
    Case("go4align", "lloyd 1e300 losses",
         lambda: weighted("go4align", (1e300, 2e300, 3e300), clustering="lloyd", generator=torch.Generator()),
         check=weights_finite),
    Case("uw", "state unknown key", lambda: MT.create("uw", 3).load_state_dict({"x": 1}), fn=where("uw"),
         arg="unknown keys"),
]


def _famo_below_min():
    method = MT.create("famo", 3)
    method.set_min_losses(torch.tensor([2.0, 2.0, 2.0]))
    return method.get_weighted_loss(torch.tensor([1.0, 3.0, 3.0]))


def _famo_update(bad):
    method = MT.create("famo", 3)
    method.get_weighted_loss(L3)
    return method.update(torch.tensor([1.0, bad, 1.0], dtype=F64))


test_case = run_table(CASES)
