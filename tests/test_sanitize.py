"""`make sanitize` (tools/sanitize.py, docs/sanitize.md): quick checks of its machinery.

The sanitized build of pyalgo._C takes minutes, so these tests build a few lines of C++ with the
same flags instead and run them in a python with the same environment (LD_PRELOAD, ASAN_OPTIONS,
UBSAN_OPTIONS): torch loads and throws C++ exceptions normally there, a heap overflow past a torch
tensor's storage is reported as a heap-buffer-overflow and fails the process, and so does undefined
behaviour. The last test checks that the import hook loads the sanitized pyalgo._C when
build/sanitize holds one. Skipped when the compiler has no ASan/UBSan runtime."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import sanitize as S  # noqa: E402

pytestmark = pytest.mark.skipif(bool(S.toolchain_missing()), reason=S.toolchain_missing() or "ok")

PROBE_CPP = r"""
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
extern "C" {
// the C++ exception path of every TORCH_CHECK: must work under ASan (libstdc++ preloaded)
int throws_and_catches(int n) {
  try { if (n > 0) throw std::runtime_error("x"); } catch (const std::runtime_error&) { return 1; }
  return 0;
}
// writes data[0..n] inclusive: one element past the end, like the gumbel_softmax y[-1] bug
void write_past_end(float* data, int64_t n) { for (int64_t i = 0; i <= n; ++i) data[i] = 1.0f; }
int shift(int x, int by) { return x << by; }  // UB for by >= 32
}
"""


@pytest.fixture(scope="module")
def probe_lib(tmp_path_factory):
    out = tmp_path_factory.mktemp("sanitize") / "libprobe.so"
    cxx = os.environ.get("CXX", "c++")
    src = out.with_suffix(".cpp")
    src.write_text(PROBE_CPP)
    subprocess.run([cxx, "-shared", "-fPIC", *S.CXX_FLAGS, *S.LINK_FLAGS, str(src), "-o", str(out)], check=True,
                   env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    return out


def _run(lib, body):
    code = textwrap.dedent(f"""
        import ctypes, torch
        lib = ctypes.CDLL({str(lib)!r})
        x = torch.zeros(1000)
        """) + textwrap.dedent(body)
    env = {**os.environ, **S.environment()}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


def test_clean_run_passes_and_exceptions_work(probe_lib):
    proc = _run(probe_lib, """
        assert lib.throws_and_catches(1) == 1
        lib.write_past_end(ctypes.c_void_p(x.data_ptr()), 999)   # in bounds
        assert lib.shift(1, 3) == 8
        try:
            torch.zeros(2) @ torch.zeros(3)   # a TORCH_CHECK in libtorch: a C++ exception under ASan
        except RuntimeError:
            print("clean")
        """)
    assert proc.returncode == 0 and "clean" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert S.first_report(proc.stdout + proc.stderr) == ""


def test_heap_overflow_past_a_tensor_is_reported(probe_lib):
    proc = _run(probe_lib, "lib.write_past_end(ctypes.c_void_p(x.data_ptr()), 1000)\nprint('survived')")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "survived" not in out
    assert "ERROR: AddressSanitizer: heap-buffer-overflow" in out, out[-3000:]
    line = PROBE_CPP.splitlines().index(next(ln for ln in PROBE_CPP.splitlines() if "write_past_end" in ln)) + 1
    assert f"libprobe.cpp:{line}" in out, out[-3000:]  # the report names the writing line (-g)
    assert S.first_report(out).startswith("SUMMARY: AddressSanitizer: heap-buffer-overflow")


def test_undefined_behaviour_fails_the_process(probe_lib):
    proc = _run(probe_lib, "lib.shift(1, 40)\nprint('survived')")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "survived" not in out
    assert "runtime error: shift exponent 40" in out, out[-3000:]


def test_huge_allocation_stays_a_torch_error(probe_lib):
    # allocator_may_return_null=1: torch's own clear error, not an ASan abort
    proc = _run(probe_lib, """
        try:
            torch.empty(2**45, dtype=torch.uint8)
        except RuntimeError as exc:
            print("clear:", str(exc)[:80])
        """)
    assert proc.returncode == 0 and "clear:" in proc.stdout, proc.stdout + proc.stderr[-3000:]


@pytest.mark.skipif(not S.ext_path().exists(), reason="no sanitized build (python tools/sanitize.py build)")
def test_import_hook_loads_the_sanitized_extension():
    S.check_loaded(S.environment())  # raises SystemExit with the output when it does not
