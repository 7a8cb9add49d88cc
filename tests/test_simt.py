"""The SIMT emulator (tests/simt) as a whole: every __global__ kernel of every .cu file has an
emulated case that launches it; the ThreadSanitizer build runs every simt test with zero reports;
and bugs planted in copies of the kernels are caught (a wrong butterfly by comparison with the CPU
launcher, a warp mask naming returned lanes by the emulator itself, a missing __syncthreads by
ThreadSanitizer) — proof that these checks can fail."""
import importlib
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from simt.compare import assert_ulp
from simt.emulator import ROOT, all_kernels, tsan_runtime

pytestmark = pytest.mark.simt

CASE_MODULES = ("test_simt_discrete", "test_simt_discrete_rows", "test_simt_wireless", "test_simt_energy")
KERNELS = all_kernels()


def representative_cases():
    cases = {}
    for name in CASE_MODULES:
        cases.update(importlib.import_module(name).REPRESENTATIVE)
    return cases


def test_the_kernel_list_is_complete():
    # Guards the regex: each family's .cu file has kernels, and the known ones are found.
    assert {"categorical_sample_kernel", "wmmse_siso_warp_kernel", "wmmse_siso_block_kernel",
            "minmin_bits_kernel"} <= set(KERNELS)
    assert set(KERNELS.values()) == {"discrete", "wireless", "energy"}


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_every_kernel_has_an_emulated_case(simt, kernel):
    cases = representative_cases()
    assert kernel in cases, f"{kernel} ({KERNELS[kernel]}) has no emulated case in {CASE_MODULES}"
    before = simt.simt_launch_count(kernel)
    cases[kernel](simt)
    assert simt.simt_launch_count(kernel) > before, f"the case for {kernel} did not launch it"


# ---- planted bugs ---------------------------------------------------------------------------------
BUTTERFLY = "for (int m = width_ / 2; m >= 1; m /= 2) x += __shfl_xor_sync(mask_, x, m, width_);"
SYNCWARP = "__device__ void sync() const { __syncwarp(mask_); }"
BLOCK_BARRIER = "if ((threadIdx.x & 31) == 0) red[threadIdx.x / 32] = x;\n    __syncthreads();"


def _siso_inputs(B, K, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    gains = torch.rand(B, K, K, generator=g, dtype=dtype) + 0.05
    ones = torch.ones(B, K, dtype=dtype)
    return gains, ones, torch.full((B, K), 0.1, dtype=dtype), ones, ones


def _planted(variant, old, new):
    from simt.emulator import build

    return getattr(torch.ops, build(variant, families=("wireless",), planted={"wireless": (old, new)}))


def test_planted_wrong_butterfly_is_caught(simt):
    # Starting the butterfly at m = width reads outside the segment: every lane adds its own value.
    args = (*_siso_inputs(6, 5), 50, 1e-10, False)
    cpu = torch.ops.pyalgo.wmmse_siso(*args)
    assert_ulp(simt.wmmse_siso(*args)[0], cpu[0], 64, "the unmodified kernel")  # the check passes...
    bad = _planted("plain", BUTTERFLY, BUTTERFLY.replace("m = width_ / 2", "m = width_"))
    with pytest.raises(AssertionError, match="ulp"):  # ...and fails on the planted bug
        assert_ulp(bad.wmmse_siso(*args)[0], cpu[0], 64, "the planted kernel")


def test_planted_full_warp_mask_is_caught():
    # __syncwarp(0xffffffff) in a warp of 8-lane segments names lanes of other instances; with 6
    # instances of K = 5 the last block has returned segments, which the emulator reports.
    bad = _planted("plain", SYNCWARP, SYNCWARP.replace("__syncwarp(mask_)", "__syncwarp(0xffffffffu)"))
    with pytest.raises(RuntimeError, match="CUDA kernel launch failed.*(returned|deadlock|mask)"):
        bad.wmmse_siso(*_siso_inputs(6, 5), 50, 1e-10, False)


def _tsan_env():
    # One torch thread: TSan cannot see OpenMP's barriers in torch's (uninstrumented) CPU kernels.
    env = dict(os.environ, LD_PRELOAD=tsan_runtime(), PYALGO_SIMT_VARIANT="tsan", OMP_NUM_THREADS="1",
               TSAN_OPTIONS="halt_on_error=0 exitcode=66 report_signal_unsafe=0 second_deadlock_stack=1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    return env


def _run_tsan(args, timeout):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=_tsan_env(), capture_output=True, text=True,
                          timeout=timeout)
    return proc, proc.stdout + proc.stderr


@pytest.mark.slow  # a ThreadSanitizer build of its own (minutes); run with -m slow
@pytest.mark.skipif(not os.path.exists(tsan_runtime()), reason="the compiler has no ThreadSanitizer runtime")
def test_planted_missing_syncthreads_is_a_data_race():
    # Without the barrier between writing the warps' partial sums and reading them, a warp can read a
    # partial before its warp has written it: ThreadSanitizer must report it.
    code = textwrap.dedent(f"""
        import torch, pyalgo._ext
        from simt.emulator import build
        from test_simt import _siso_inputs, BLOCK_BARRIER
        ops = getattr(torch.ops, build("tsan", families=("wireless",),
                                       planted={{"wireless": (BLOCK_BARRIER, BLOCK_BARRIER.split("\\n")[0])}}))
        ops.wmmse_siso(*_siso_inputs(1, 70), 3, 1e-10, False)  # may also fail: wrong sums diverge the lanes
        """)
    proc, out = _run_tsan(["-c", code], timeout=900)
    assert "WARNING: ThreadSanitizer: data race" in out, out[-3000:]


@pytest.mark.skipif(not os.path.exists(tsan_runtime()), reason="the compiler has no ThreadSanitizer runtime")
def test_thread_sanitizer_reports_nothing():
    # Every simt case of the family files, in a ThreadSanitizer build of the emulated kernels.
    files = [f"tests/{m}.py" for m in CASE_MODULES if (ROOT / "tests" / f"{m}.py").exists()]
    proc, out = _run_tsan(["-m", "pytest", "-q", "-m", "simt", "-p", "no:cacheprovider", *files], timeout=1800)
    assert "ThreadSanitizer" not in out, out[-5000:]
    assert proc.returncode == 0, out[-5000:]
