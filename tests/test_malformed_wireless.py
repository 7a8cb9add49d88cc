"""Malformed-input table of the wireless family (issue 14): every public function of pyalgo.wireless
(the ops, the channel generators, the students and critics)."""
import torch

import pyalgo.wireless as W
from malformed import Case, run_table
from pyalgo.wireless import reference as R

F32, F64, C64, C128 = torch.float32, torch.float64, torch.complex64, torch.complex128
NAN, INF = float("nan"), float("inf")
ops = torch.ops.pyalgo


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def G_(B=3, K=3, dt=F64, seed=0):
    return W.rayleigh(B, K, generator=gen(seed), dtype=dt)


def H_(B=2, K=3, N=2, dt=C128, seed=0):
    return W.rayleigh_miso(B, K, N, generator=gen(seed), dtype=dt)


def p_(B=3, K=3, dt=F64):
    return torch.full((B, K), 0.5, dtype=dt)


def finite(x):
    return bool(torch.isfinite(x).all())


def put(x, v, idx=(0, 0, 1)):
    x = x.clone()
    x[idx] = v
    return x


def in_budget(p, p_max=1.0):
    return finite(p) and bool(((p >= 0) & (p <= p_max)).all())


def close(a, b, rtol=1e-9):
    return bool(torch.allclose(a, b, rtol=rtol, atol=1e-12))


def wmmse_like_ref(**kw):
    def check(p):
        return close(p, R.wmmse_ref(G_(), **kw).p, rtol=1e-8)
    return check


def miso_ok(V, p_max=1.0):
    return finite(V) and bool(((V.abs() ** 2).sum(dim=(1, 2)) <= p_max * (1 + 1e-9)).all())


def err(op, what, call, arg, fn=None):
    return Case(op, what, call, fn=fn or f"pyalgo.wireless.{op}", arg=arg)


def ok(op, what, call, check):
    return Case(op, what, call, check=check)


def compiled(f):
    return torch.compile(f, fullgraph=True, backend="eager")


CASES = [
    # ---- wmmse ------------------------------------------------------------------------------------
    err("wmmse", "H list", lambda: W.wmmse(G_().tolist()), "H"),
    err("wmmse", "H int", lambda: W.wmmse(G_().int()), "H"),
    err("wmmse", "H float16", lambda: W.wmmse(G_().half()), "H"),
    err("wmmse", "H bfloat16", lambda: W.wmmse(G_().bfloat16()), "H"),
    err("wmmse", "H complex", lambda: W.wmmse(G_().to(C128)), "H"),
    err("wmmse", "H rank 2", lambda: W.wmmse(G_()[0]), "H"),
    err("wmmse", "H not square", lambda: W.wmmse(G_()[:, :, :2]), "H"),
    err("wmmse", "H K = 0", lambda: W.wmmse(torch.empty(2, 0, 0, dtype=F64)), "H"),
    err("wmmse", "H NaN", lambda: W.wmmse(put(G_(), NAN)), "H"),
    err("wmmse", "H inf", lambda: W.wmmse(put(G_(), INF)), "H"),
    err("wmmse", "H negative", lambda: W.wmmse(put(G_(), -1.0)), "H"),
    err("wmmse", "H NaN validate=False", lambda: W.wmmse(put(G_(), NAN), validate=False), "H"),
    err("wmmse", "H negative compiled", lambda: compiled(lambda h: W.wmmse(h))(put(G_(), -1.0)), "H"),
    err("wmmse", "K 46341 expanded", lambda: W.wmmse(torch.zeros(1, 1, 1).expand(1, 46341, 46341)), "H"),
    err("wmmse", "p_max 0", lambda: W.wmmse(G_(), p_max=0.0), "p_max"),
    err("wmmse", "p_max negative", lambda: W.wmmse(G_(), p_max=-1.0), "p_max"),
    err("wmmse", "p_max inf", lambda: W.wmmse(G_(), p_max=INF), "p_max"),
    err("wmmse", "p_max str", lambda: W.wmmse(G_(), p_max="1"), "p_max"),
    err("wmmse", "p_max bad shape", lambda: W.wmmse(G_(), p_max=torch.ones(5)), "p_max"),
    err("wmmse", "p_max complex", lambda: W.wmmse(G_(), p_max=torch.ones(3, dtype=C64)), "p_max"),
    err("wmmse", "noise 0", lambda: W.wmmse(G_(), noise=0.0), "noise"),
    err("wmmse", "noise NaN", lambda: W.wmmse(G_(), noise=NAN), "noise"),
    err("wmmse", "noise -1 validate=False", lambda: W.wmmse(G_(), noise=-1.0, validate=False), "noise"),
    err("wmmse", "weights negative", lambda: W.wmmse(G_(), weights=-torch.ones(3)), "weights"),
    err("wmmse", "weights NaN validate=False", lambda: W.wmmse(G_(), weights=NAN, validate=False), "weights"),
    err("wmmse", "max_iter 0", lambda: W.wmmse(G_(), max_iter=0), "max_iter"),
    err("wmmse", "max_iter 2**63", lambda: W.wmmse(G_(), max_iter=2**63), "max_iter"),
    err("wmmse", "max_iter 2**40", lambda: W.wmmse(G_(), max_iter=2**40), "max_iter"),
    err("wmmse", "max_iter float", lambda: W.wmmse(G_(), max_iter=2.5), "max_iter"),
    err("wmmse", "max_iter bool", lambda: W.wmmse(G_(), max_iter=True), "max_iter"),
    err("wmmse", "tol NaN", lambda: W.wmmse(G_(), tol=NAN), "tol"),
    err("wmmse", "tol str", lambda: W.wmmse(G_(), tol="x"), "tol"),
    err("wmmse", "init unknown", lambda: W.wmmse(G_(), init="zeros"), "init"),
    err("wmmse", "init above p_max", lambda: W.wmmse(G_(), init=p_(dt=F64) * 3), "init"),
    err("wmmse", "init bad shape", lambda: W.wmmse(G_(), init=p_()[:2]), "init"),
    err("wmmse", "init int", lambda: W.wmmse(G_(), init=3), "init"),
    err("wmmse", "generator int", lambda: W.wmmse(G_(), init="random", generator=3), "generator"),
    err("wmmse", "op p_init NaN", lambda: ops.wmmse_siso(G_(), p_(), p_(), p_(), put(p_(), NAN, (0, 0)), 5, 0.0,
                                                         False), "p_init"),
    ok("wmmse", "K = 1", lambda: W.wmmse(torch.full((4, 1, 1), 2.0, dtype=F64), p_max=3.0),
       lambda p: close(p, torch.full((4, 1), 3.0, dtype=F64), 1e-15) and bool((p <= 3.0).all())),
    ok("wmmse", "zero channel", lambda: W.wmmse(torch.zeros(2, 3, 3)), lambda p: torch.equal(p, torch.zeros(2, 3))),
    ok("wmmse", "B = 0", lambda: W.wmmse(torch.zeros(0, 3, 3)), lambda p: p.shape == (0, 3)),
    ok("wmmse", "non-contiguous H", lambda: W.wmmse(G_().transpose(1, 2).contiguous().transpose(1, 2)),
       wmmse_like_ref()),
    ok("wmmse", "expanded H", lambda: W.wmmse(G_(1).expand(3, 3, 3)), lambda p: close(p[0], p[2], 0)),
    ok("wmmse", "noise 1e-44 float32", lambda: W.wmmse(G_(dt=F32), noise=1e-44), in_budget),
    ok("wmmse", "noise 1e-44 float64", lambda: W.wmmse(G_(), noise=1e-44), in_budget),
    ok("wmmse", "gains 1e300 noise 1e300", lambda: W.wmmse(G_() * 1e300, noise=1e300), wmmse_like_ref()),
    ok("wmmse", "gains 1e-300 noise 1e-300", lambda: W.wmmse(G_() * 1e-300, noise=1e-300), wmmse_like_ref()),
    ok("wmmse", "gains 1e30 float32", lambda: W.wmmse(G_(dt=F32) * 1e30, noise=1e30), in_budget),
    ok("wmmse", "p_max 1e-30", lambda: W.wmmse(G_(), p_max=1e-30), lambda p: in_budget(p, 1e-30)),
    ok("wmmse", "weights 0", lambda: W.wmmse(G_(), weights=0.0), lambda p: finite(p)),
    ok("wmmse", "amplitude", lambda: W.wmmse(G_().sqrt(), amplitude=True), wmmse_like_ref()),
    ok("wmmse", "max_iter 1", lambda: W.wmmse(G_(), max_iter=1), in_budget),
    ok("wmmse", "tol negative", lambda: W.wmmse(G_(), tol=-1.0, max_iter=7, return_state=True),
       lambda r: bool((r.iterations == 7).all())),

    # ---- sum_rate ---------------------------------------------------------------------------------
    err("sum_rate", "H list", lambda: W.sum_rate(G_().tolist(), p_()), "H"),
    err("sum_rate", "H rank 4", lambda: W.sum_rate(G_()[None], p_()), "H"),
    err("sum_rate", "H negative", lambda: W.sum_rate(put(G_(), -1.0), p_()), "H"),
    err("sum_rate", "H NaN", lambda: W.sum_rate(put(G_(), NAN), p_()), "H"),
    err("sum_rate", "H NaN validate=False", lambda: W.sum_rate(put(G_(), NAN), p_(), validate=False), "H"),
    err("sum_rate", "p list", lambda: W.sum_rate(G_(), [[0.5] * 3] * 3), "p"),
    err("sum_rate", "p negative", lambda: W.sum_rate(G_(), -p_()), "p"),
    err("sum_rate", "p negative compiled", lambda: compiled(lambda h, p: W.sum_rate(h, p))(G_(), -p_()), "p"),
    err("sum_rate", "p negative validate=False", lambda: W.sum_rate(G_(), -p_(), validate=False), "p"),
    err("sum_rate", "p inf", lambda: W.sum_rate(G_(), put(p_(), INF, (0, 0))), "p"),
    err("sum_rate", "p wrong shape", lambda: W.sum_rate(G_(), p_()[:, :2]), "p"),
    err("sum_rate", "p float32 vs float64", lambda: W.sum_rate(G_(), p_(dt=F32)), "p"),
    err("sum_rate", "noise 0", lambda: W.sum_rate(G_(), p_(), noise=0.0), "noise"),
    err("sum_rate", "noise 0 compiled", lambda: compiled(lambda h, p: W.sum_rate(h, p, noise=0.0))(G_(), p_()),
        "noise"),
    err("sum_rate", "weights negative", lambda: W.sum_rate(G_(), p_(), weights=-1.0), "weights"),
    err("sum_rate", "op p NaN", lambda: ops.siso_rates(G_(), put(p_(), NAN, (1, 1)), p_()), "p"),
    err("sum_rate", "op K 46341 expanded", lambda: ops.siso_rates(
        torch.zeros(1, 1, 1).expand(1, 46341, 46341), torch.zeros(1, 1).expand(1, 46341),
        torch.ones(1, 1).expand(1, 46341)), "H"),
    err("sum_rate", "backward op noise 0", lambda: ops.siso_rates_backward(G_(), p_(), p_() * 0, p_(), p_(), True),
        "noise", fn="pyalgo.wireless.sum_rate_backward"),
    ok("sum_rate", "zero channel", lambda: W.sum_rate(torch.zeros(2, 3, 3), torch.ones(2, 3)),
       lambda r: torch.equal(r, torch.zeros(2))),
    ok("sum_rate", "zero powers", lambda: W.sum_rate(G_(), p_() * 0), lambda r: torch.equal(r, torch.zeros(3, dtype=F64))),
    ok("sum_rate", "K = 1", lambda: W.sum_rate(torch.full((1, 1, 1), 3.0, dtype=F64), torch.ones(1, 1, dtype=F64)),
       lambda r: close(r, torch.tensor([2.0], dtype=F64), 1e-15)),
    ok("sum_rate", "gains 1e300", lambda: W.sum_rate(G_() * 1e300, p_(), noise=1e300),
       lambda r: close(r, W.sum_rate(G_(), p_()), 1e-12)),
    ok("sum_rate", "non-contiguous p", lambda: W.sum_rate(G_(), torch.full((3, 3), 0.5, dtype=F64).t()),
       lambda r: close(r, R.sum_rate_ref(G_(), p_()), 1e-12)),
    ok("sum_rate", "expanded H", lambda: W.sum_rate(G_(1).expand(3, 3, 3), p_()), lambda r: close(r[0], r[2], 0)),
    ok("sum_rate", "per_user float32", lambda: W.sum_rate(G_(dt=F32), p_(dt=F32), per_user=True),
       lambda r: r.shape == (3, 3) and finite(r) and bool((r >= 0).all())),

    # ---- wmmse_miso -------------------------------------------------------------------------------
    err("wmmse_miso", "H real", lambda: W.wmmse_miso(H_().real), "H"),
    err("wmmse_miso", "H list", lambda: W.wmmse_miso(H_().tolist()), "H"),
    err("wmmse_miso", "H rank 2", lambda: W.wmmse_miso(H_()[0]), "H"),
    err("wmmse_miso", "H N = 0", lambda: W.wmmse_miso(H_()[:, :, :0]), "H"),
    err("wmmse_miso", "H K = 0", lambda: W.wmmse_miso(H_()[:, :0]), "H"),
    err("wmmse_miso", "H NaN", lambda: W.wmmse_miso(put(H_(), complex(NAN, 0))), "H"),
    err("wmmse_miso", "H inf validate=False", lambda: W.wmmse_miso(put(H_(), complex(INF, 0)), validate=False), "H"),
    err("wmmse_miso", "H N = 4097", lambda: W.wmmse_miso(torch.zeros(1, 1, 4097, dtype=C64)), "antennas"),
    err("wmmse_miso", "p_max -1", lambda: W.wmmse_miso(H_(), p_max=-1.0), "p_max"),
    err("wmmse_miso", "p_max per user", lambda: W.wmmse_miso(H_(), p_max=torch.ones(2, 3)), "p_max"),
    err("wmmse_miso", "noise inf", lambda: W.wmmse_miso(H_(), noise=INF), "noise"),
    err("wmmse_miso", "bisection_tol 0", lambda: W.wmmse_miso(H_(), bisection_tol=0), "bisection_tol"),
    err("wmmse_miso", "bisection_tol NaN", lambda: W.wmmse_miso(H_(), bisection_tol=NAN), "bisection_tol"),
    err("wmmse_miso", "max_iter 2**63", lambda: W.wmmse_miso(H_(), max_iter=2**63), "max_iter"),
    err("wmmse_miso", "init over budget", lambda: W.wmmse_miso(H_(), init=10 * H_().conj()), "init"),
    err("wmmse_miso", "init real", lambda: W.wmmse_miso(H_(), init=H_().real), "init"),
    err("wmmse_miso", "init zf", lambda: W.wmmse_miso(H_(), init="zf"), "init"),
    err("wmmse_miso", "op v_init NaN", lambda: ops.wmmse_miso(
        H_(), torch.ones(2, dtype=F64), torch.ones(2, 3, dtype=F64), torch.ones(2, 3, dtype=F64),
        put(H_(), complex(NAN, 0)), 5, 1e-4, 1e-4, False), "v_init"),
    ok("wmmse_miso", "zero channel", lambda: W.wmmse_miso(torch.zeros(2, 3, 2, dtype=C128)),
       lambda V: torch.equal(V, torch.zeros(2, 3, 2, dtype=C128))),
    ok("wmmse_miso", "K = 1 N = 1", lambda: W.wmmse_miso(H_(K=1, N=1), p_max=2.0),
       lambda V: close((V.abs() ** 2).sum(dim=(1, 2)), torch.full((2,), 2.0, dtype=F64), 1e-4) and miso_ok(V, 2.0)),
    ok("wmmse_miso", "noise 1e-44 complex64", lambda: W.wmmse_miso(H_(dt=C64), noise=1e-44),
       lambda V: miso_ok(V) and bool(((V.abs() ** 2).sum(dim=(1, 2)) > 0.1).all())),
    ok("wmmse_miso", "bisection_tol 1e-300", lambda: W.wmmse_miso(H_(), p_max=0.5, bisection_tol=1e-300, max_iter=3),
       lambda V: miso_ok(V, 0.5)),
    ok("wmmse_miso", "expanded H", lambda: W.wmmse_miso(H_(1).expand(3, 3, 2)), lambda V: close(V[0], V[2], 0)),
    ok("wmmse_miso", "channels 1e100", lambda: W.wmmse_miso(H_() * 1e100, noise=1e200),
       lambda V: miso_ok(V) and close(V, W.wmmse_miso(H_()) / 1e100 * 1e100, 1e-6)),

    # ---- sum_rate_miso ----------------------------------------------------------------------------
    err("sum_rate_miso", "V shape", lambda: W.sum_rate_miso(H_(), H_()[:, :2]), "V"),
    err("sum_rate_miso", "V list", lambda: W.sum_rate_miso(H_(), 3), "V"),
    err("sum_rate_miso", "V NaN", lambda: W.sum_rate_miso(H_(), put(H_(), complex(NAN, 0))), "V"),
    err("sum_rate_miso", "V NaN compiled", lambda: compiled(lambda h, v: W.sum_rate_miso(h, v))(
        H_(), put(H_(), complex(NAN, 0))), "V"),
    err("sum_rate_miso", "H inf validate=False", lambda: W.sum_rate_miso(put(H_(), complex(INF, 0)), H_(),
                                                                         validate=False), "H"),
    err("sum_rate_miso", "noise 0", lambda: W.sum_rate_miso(H_(), H_(), noise=0.0), "noise"),
    err("sum_rate_miso", "backward op noise -1", lambda: ops.miso_rates_backward(
        H_(), H_(), -torch.ones(2, 3, dtype=F64), torch.ones(2, 3, dtype=F64), True), "noise",
        fn="pyalgo.wireless.sum_rate_miso_backward"),
    ok("sum_rate_miso", "zero V", lambda: W.sum_rate_miso(H_(), H_() * 0), lambda r: torch.equal(r, torch.zeros(2, dtype=F64))),
    ok("sum_rate_miso", "vs reference", lambda: W.sum_rate_miso(H_(), H_(seed=1)),
       lambda r: close(r, R.sum_rate_miso_ref(H_(), H_(seed=1)), 1e-12)),

    # ---- mrt_init ---------------------------------------------------------------------------------
    err("mrt_init", "p_max -1", lambda: W.mrt_init(H_(), -1.0), "p_max"),
    err("mrt_init", "p_max NaN", lambda: W.mrt_init(H_(), NAN), "p_max"),
    err("mrt_init", "p_max 0", lambda: W.mrt_init(H_(), 0.0), "p_max"),
    err("mrt_init", "p_max tensor negative", lambda: W.mrt_init(H_(), torch.tensor([1.0, -1.0])), "p_max"),
    err("mrt_init", "p_max str", lambda: W.mrt_init(H_(), "1"), "p_max"),
    err("mrt_init", "H real", lambda: W.mrt_init(G_()), "H"),
    err("mrt_init", "H NaN", lambda: W.mrt_init(put(H_(), complex(NAN, 0))), "H"),
    err("mrt_init", "H rank 2", lambda: W.mrt_init(H_()[0]), "H"),
    ok("mrt_init", "zero channel", lambda: W.mrt_init(torch.zeros(1, 2, 2, dtype=C64)),
       lambda V: torch.equal(V, torch.zeros(1, 2, 2, dtype=C64))),
    ok("mrt_init", "budget met", lambda: W.mrt_init(H_(), 3.0),
       lambda V: close((V.abs() ** 2).sum(dim=(1, 2)), torch.full((2,), 3.0, dtype=F64), 1e-12)),

    # ---- generators -------------------------------------------------------------------------------
    err("rayleigh", "batch -1", lambda: W.rayleigh(-1, 3), "batch"),
    err("rayleigh", "batch 2**63", lambda: W.rayleigh(2**63, 3), "batch"),
    err("rayleigh", "batch 2**40", lambda: W.rayleigh(2**40, 3), "batch"),
    err("rayleigh", "K 0", lambda: W.rayleigh(2, 0), "K"),
    err("rayleigh", "K float", lambda: W.rayleigh(2, 3.0), "K"),
    err("rayleigh", "K 2**40", lambda: W.rayleigh(1, 2**40), "K"),
    err("rayleigh", "generator int", lambda: W.rayleigh(2, 3, generator=3), "generator"),
    err("rayleigh", "dtype complex", lambda: W.rayleigh(2, 3, dtype=C64), "dtype"),
    ok("rayleigh", "batch 0", lambda: W.rayleigh(0, 3), lambda g: g.shape == (0, 3, 3)),
    ok("rayleigh", "amplitude", lambda: W.rayleigh(4, 3, generator=gen(), amplitude=True),
       lambda a: finite(a) and bool((a >= 0).all())),
    err("rayleigh_miso", "N 0", lambda: W.rayleigh_miso(2, 3, 0), "N"),
    err("rayleigh_miso", "N 2**40", lambda: W.rayleigh_miso(2, 3, 2**40), "N"),
    err("rayleigh_miso", "batch 2**63", lambda: W.rayleigh_miso(2**63, 3, 2), "batch"),
    err("rayleigh_miso", "dtype float", lambda: W.rayleigh_miso(2, 3, 2, dtype=F32), "dtype"),
    err("rayleigh_miso", "generator str", lambda: W.rayleigh_miso(2, 3, 2, generator="g"), "generator"),
    err("d2d", "batch 2**40", lambda: W.d2d(2**40, 3), "batch"),
    err("d2d", "K 2**63", lambda: W.d2d(1, 2**63), "K"),
    err("d2d", "d_min > d_max", lambda: W.d2d(2, 3, d_min=10.0, d_max=5.0), "d_min"),
    err("d2d", "area NaN", lambda: W.d2d(2, 3, area_per_pair=NAN), "area_per_pair"),
    err("d2d", "threshold 0", lambda: W.d2d(2, 3, threshold=0.0), "threshold"),
    err("d2d", "snr_db inf", lambda: W.d2d(2, 3, snr_db=INF), "snr_db"),
    err("d2d", "pathloss 0", lambda: W.d2d(2, 3, pathloss_exponent=0.0), "pathloss_exponent"),
    ok("d2d", "K = 1", lambda: W.d2d(2, 1, generator=gen()),
       lambda c: finite(c.gains) and not bool(c.adjacency.any())),
    ok("d2d", "threshold inf", lambda: W.d2d(2, 4, generator=gen(), threshold=INF),
       lambda c: int(c.adjacency.sum()) == 2 * 12),

    # ---- students and critics ---------------------------------------------------------------------
    err("MLPStudent", "K 0", lambda: W.MLPStudent(0), "K"),
    err("MLPStudent", "K 2**40", lambda: W.MLPStudent(2**40), "K"),
    err("MLPStudent", "K 2**63", lambda: W.MLPStudent(2**63), "K"),
    err("MLPStudent", "K 46340 (weights too big)", lambda: W.MLPStudent(46340, hidden=(2**20,)), "K"),
    err("MLPStudent", "hidden 0", lambda: W.MLPStudent(3, hidden=(0,)), "hidden"),
    err("MLPStudent", "hidden empty", lambda: W.MLPStudent(3, hidden=()), "hidden"),
    err("MLPStudent", "p_max -1", lambda: W.MLPStudent(3, p_max=-1.0), "p_max"),
    err("MLPStudent", "p_max NaN", lambda: W.MLPStudent(3, p_max=NAN), "p_max"),
    err("MLPStudent", "inputs unknown", lambda: W.MLPStudent(3, inputs="db"), "inputs"),
    err("MLPStudent", "G wrong K", lambda: W.MLPStudent(3)(G_(K=4, dt=F32)), "G"),
    err("MLPStudent", "G NaN", lambda: W.MLPStudent(3)(put(G_(dt=F32), NAN)), "G"),
    err("MLPStudent", "G complex", lambda: W.MLPStudent(3)(G_().to(C64)), "G"),
    err("MLPStudent", "weights unweighted", lambda: W.MLPStudent(3)(G_(dt=F32), torch.ones(3)), "weights"),
    err("MLPStudent", "weights NaN", lambda: W.MLPStudent(3, weighted=True)(G_(dt=F32), torch.full((3,), NAN)),
        "weights"),
    err("MLPStudent", "weights bad shape", lambda: W.MLPStudent(3, weighted=True)(G_(dt=F32), torch.ones(4)),
        "weights"),
    ok("MLPStudent", "negative gains clamp", lambda: W.MLPStudent(3)(-G_(dt=F32)), in_budget),
    ok("MLPStudent", "gains 1e30", lambda: W.MLPStudent(3)(G_(dt=F32) * 1e30), in_budget),
    ok("MLPStudent", "B = 0", lambda: W.MLPStudent(3)(torch.zeros(0, 3, 3)), lambda p: p.shape == (0, 3)),
    err("GNNStudent", "hidden 2**63", lambda: W.GNNStudent(hidden=2**63), "hidden"),
    err("GNNStudent", "layers 0", lambda: W.GNNStudent(layers=0), "layers"),
    err("GNNStudent", "aggregation", lambda: W.GNNStudent(aggregation="min"), "aggregation"),
    err("GNNStudent", "adjacency float", lambda: W.GNNStudent(hidden=4)(G_(dt=F32), adjacency=torch.ones(3, 3, 3)),
        "adjacency"),
    err("GNNStudent", "G inf", lambda: W.GNNStudent(hidden=4)(put(G_(dt=F32), INF)), "G"),
    err("GNNStudent", "G rank 2", lambda: W.GNNStudent(hidden=4)(G_(dt=F32)[0]), "G"),
    ok("GNNStudent", "K = 1", lambda: W.GNNStudent(hidden=4)(torch.ones(2, 1, 1)), in_budget),
    ok("GNNStudent", "gains 1e30 log", lambda: W.GNNStudent(hidden=4)(G_(dt=F32) * 1e30), in_budget),
    err("MLPCritic", "p wrong shape", lambda: W.MLPCritic(3)(G_(dt=F32), torch.ones(3)), "p"),
    err("MLPCritic", "p NaN", lambda: W.MLPCritic(3)(G_(dt=F32), torch.full((3, 3), NAN)), "p"),
    err("MLPCritic", "hidden 2**40", lambda: W.MLPCritic(3, hidden=(2**40,)), "hidden"),
    err("GNNCritic", "p list", lambda: W.GNNCritic(hidden=4)(G_(dt=F32), [[1.0] * 3] * 3), "p"),
    err("GNNCritic", "layers 2**40", lambda: W.GNNCritic(layers=2**40), "layers"),
    ok("GNNCritic", "valid", lambda: W.GNNCritic(hidden=4)(G_(dt=F32), torch.ones(3, 3)),
       lambda q: q.shape == (3,) and finite(q)),
    err("default_critic", "not a student", lambda: W.default_critic(torch.nn.Linear(2, 2)), "critic"),
    ok("default_critic", "MLP student", lambda: W.default_critic(W.MLPStudent(3, hidden=(4,))),
       lambda c: isinstance(c, W.MLPCritic)),
]

test_case = run_table(CASES)
