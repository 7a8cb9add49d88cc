"""Smoke test of an installed pyalgo (a wheel in a fresh venv): every compiled op family runs
forward and backward on the CPU and agrees with its pure-torch reference; with a CUDA build the
CUDA kernels must be registered (run on a GPU when there is one).

Run it from outside the source tree, so that `import pyalgo` is the installed package:
    cd /tmp && python /path/to/tools/smoke.py [--expect-cuda]
Prints one line per check and "smoke: N of M checks ok"; exits 1 on a failure.
"""
from __future__ import annotations

import argparse
import sys
import traceback
from typing import Callable

import torch


def discrete_checks() -> dict[str, Callable[[], None]]:
    import pyalgo
    from pyalgo.discrete import reference as ref

    def run(name: str) -> Callable[[], None]:
        def check() -> None:
            fn = getattr(pyalgo, name)
            logits = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
            g = torch.Generator().manual_seed(0)
            out = fn(logits, 1.5, generator=g)
            y = out[0] if isinstance(out, tuple) else out
            assert y.shape == logits.shape and torch.isfinite(y).all()
            if name != "gumbel_softmax":  # a one-hot sample per row
                assert torch.equal(y.detach().sum(-1), torch.ones(6, dtype=torch.float64))
            (y * torch.arange(5.0, dtype=torch.float64)).sum().backward()
            assert logits.grad is not None and torch.isfinite(logits.grad).all()
        return check

    checks = {f"discrete.{n}": run(n) for n in ("reinmax", "straight_through", "gumbel_softmax", "gst", "gumbel_rao")}

    def reinmax_vs_reference() -> None:
        logits = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
        y, _ = pyalgo.reinmax(logits, 2.0, generator=torch.Generator().manual_seed(1))
        w = torch.randn(4, 3, dtype=torch.float64)
        (g,) = torch.autograd.grad((y * w).sum(), logits)
        leaf = logits.detach().requires_grad_()
        y_ref, _ = ref.reinmax_ref(leaf, 2.0, index=y.detach().argmax(-1))
        (g_ref,) = torch.autograd.grad((y_ref * w).sum(), leaf)
        assert torch.allclose(g, g_ref, atol=1e-12), (g - g_ref).abs().max()

    checks["discrete.reinmax == reference"] = reinmax_vs_reference
    return checks


def wireless_checks() -> dict[str, Callable[[], None]]:
    from pyalgo import wireless
    from pyalgo.wireless import reference as ref

    def wmmse() -> None:
        H = wireless.rayleigh(8, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        p = wireless.wmmse(H)
        assert p.shape == (8, 5) and bool(((p >= 0) & (p <= 1 + 1e-12)).all())
        assert torch.allclose(p, ref.wmmse_ref(H).p, atol=1e-10)

    def sum_rate() -> None:
        H = wireless.rayleigh(4, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        p = torch.rand(4, 5, dtype=torch.float64, requires_grad=True)
        r = wireless.sum_rate(H, p)
        r.sum().backward()
        leaf = p.detach().requires_grad_()
        ref.sum_rate_ref(H, leaf).sum().backward()
        assert torch.allclose(r, ref.sum_rate_ref(H, p.detach()), atol=1e-12)
        assert torch.allclose(p.grad, leaf.grad, atol=1e-12)

    return {"wireless.wmmse == reference": wmmse, "wireless.sum_rate fwd+bwd == reference": sum_rate}


def energy_checks() -> dict[str, Callable[[], None]]:
    from pyalgo import energy

    def minmin() -> None:
        unary = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
        tau = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        y = (torch.rand(3, 4, generator=torch.Generator().manual_seed(0)) < 0.5).double()
        loss = energy.minmin_loss(unary, tau, y, num_samples=16, generator=torch.Generator().manual_seed(0))
        assert loss.shape == (3,) and torch.isfinite(loss).all()
        loss.sum().backward()
        assert torch.isfinite(unary.grad).all() and torch.isfinite(tau.grad).all()

    def ranking() -> None:
        theta = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
        tau = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        y = torch.stack([torch.randperm(5, generator=torch.Generator().manual_seed(i)) for i in range(2)])
        loss = energy.minmin_loss_ranking(theta, tau, y, num_samples=8, generator=torch.Generator().manual_seed(0))
        loss.sum().backward()
        assert torch.isfinite(theta.grad).all()

    return {"energy.minmin_loss fwd+bwd": minmin, "energy.minmin_loss_ranking fwd+bwd": ranking}


def multitask_checks() -> dict[str, Callable[[], None]]:
    from pyalgo import multitask

    def kmeans() -> None:
        assert multitask.kmeans_1d([0.0, 0.1, 5.0, 5.2, 9.0], 3).tolist() == [0, 0, 1, 1, 2]

    def value_error() -> None:
        try:
            multitask.kmeans_1d([1.0, float("nan")], 2)
        except ValueError as exc:
            assert "values must be finite" in str(exc)
        else:
            raise AssertionError("no ValueError")

    return {"multitask.kmeans_1d": kmeans, "multitask.kmeans_1d NaN -> ValueError": value_error}


def cuda_checks(expect_cuda: bool) -> dict[str, Callable[[], None]]:
    import pyalgo

    def registered() -> None:
        info = pyalgo.build_info()
        if not expect_cuda:
            return
        if torch.version.cuda is None:  # a CUDA wheel under a CPU torch: the CUDA part stays dormant
            assert not info["cuda_kernels"], info
            return
        assert info["cuda_kernels"], info
        for op in ("reinmax", "wmmse_siso", "minmin_bits", "philox_uniform"):
            assert torch._C._dispatch_has_kernel_for_dispatch_key(f"pyalgo::{op}", "CUDA"), op

    def on_gpu() -> None:
        if not (expect_cuda and torch.cuda.is_available()):
            return
        logits = torch.randn(64, 10, device="cuda", requires_grad=True)
        y, _ = pyalgo.reinmax(logits, 1.0)
        y.sum().backward()
        torch.cuda.synchronize()
        assert torch.equal(y.detach().sum(-1).cpu(), torch.ones(64))

    name = ("cuda kernels " + ("registered" if torch.version.cuda else "dormant (CPU torch)")) if expect_cuda \
        else "build info"
    return {name: registered, "cuda run (GPU only)": on_gpu}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expect-cuda", action="store_true",
                        help="the install carries the CUDA kernels: registered under a CUDA torch, dormant under a CPU one")
    args = parser.parse_args(argv)
    import pyalgo

    info = pyalgo.build_info()
    print(f"pyalgo {pyalgo.__version__} from {pyalgo.__file__}; torch {torch.__version__}; "
          f"python {sys.version.split()[0]}; build {info}")
    checks: dict[str, Callable[[], None]] = {}
    for family in (discrete_checks, wireless_checks, energy_checks, multitask_checks):
        checks.update(family())
    checks.update(cuda_checks(args.expect_cuda))
    failed = 0
    for name, check in checks.items():
        try:
            check()
            print(f"ok   {name}")
        except Exception:  # noqa: BLE001 - every failure is reported
            failed += 1
            print(f"FAIL {name}\n{traceback.format_exc()}")
    print(f"smoke: {len(checks) - failed} of {len(checks)} checks ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
