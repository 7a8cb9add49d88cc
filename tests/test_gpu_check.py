"""tools/gpu_check.py (`make gpu-check`): one line and nothing built on a machine without a GPU; the
bandwidth arithmetic, the parsers and the summary writer on made-up inputs; and the whole sequence of
steps with a stand-in python and compute-sanitizer (no GPU, nothing built)."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import gpu_check as G  # noqa: E402


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the one line of a machine without a CUDA GPU")
@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_make_gpu_check_without_gpu_is_one_line(tmp_path):
    out = tmp_path / "out"
    sos = {p: p.stat().st_mtime for p in (ROOT / "pyalgo").glob("_C*.so")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}   # no "Entering directory" lines
    begin = time.monotonic()
    proc = subprocess.run(["make", "--no-print-directory", "gpu-check", f"OUT={out}", f"PYTHON={sys.executable}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 and proc.stderr == "", (proc.stdout, proc.stderr)
    assert lines[0].startswith("gpu-check: no CUDA GPU here") and "nothing to check" in lines[0]
    assert torch.__version__ in lines[0]
    assert not out.exists()                                            # nothing written
    assert {p: p.stat().st_mtime for p in (ROOT / "pyalgo").glob("_C*.so")} == sos   # nothing built
    assert time.monotonic() - begin < 60


def test_bandwidth_arithmetic():
    # a copy of 1 GiB in 1 ms reads and writes 2 GiB: 2147.48 GB/s
    assert G.copy_gbps(1 << 30, 1.0) == pytest.approx(2 * (1 << 30) / 1e-3 / 1e9)
    gbps, pct = G.bandwidth(3_000_000, 0.002, 3000.0)       # 3 MB in 2 µs: 1500 GB/s, half a 3000 GB/s copy
    assert gbps == pytest.approx(1500.0) and pct == pytest.approx(50.0)
    assert G.bandwidth(None, 1.0, 3000.0) == (None, None)
    assert G.bandwidth(1000, None, 3000.0) == (None, None)
    assert G.bandwidth(1000, 1.0, None) == (pytest.approx(1e-3), None)
    rows = G.bench_rows({"copy_gbps": 2000.0, "rows": [
        dict(bench="discrete", case="st", provider="pyalgo", shape="3000x10", dtype="float32", mode="forward",
             median_ms="0.01", status="ok", bytes=240000, note=""),
        dict(bench="wireless", case="wmmse", provider="numpy", shape="1000x10", dtype="float32", mode="call",
             median_ms="", status="skipped (one call took 2.0 s)", bytes=440000, note="")]})
    assert rows[0]["gb_per_s"] == pytest.approx(24.0) and rows[0]["copy_pct"] == pytest.approx(1.2)
    assert rows[1]["median_ms"] is None and rows[1]["copy_pct"] is None


def test_interface_bytes_counts_what_the_call_reads_and_returns():
    from pyalgo.lab.discrete import bench as D
    from pyalgo.lab.wireless import bench as W

    st = next(c for c in D.CASES if c.name == "st")
    n, c = st.quick_shapes[0]
    one = n * c * 4                                            # float32 logits, and the one-hot sample
    assert G.interface_bytes(st, (n, c), torch.float32, "forward", device="cpu") == 2 * one
    # backward: the upstream gradient and the logits read, the logits' gradient written
    assert G.interface_bytes(st, (n, c), torch.float32, "backward", device="cpu") == 3 * one
    assert G.interface_bytes(st, (n, c), torch.float32, "forward+backward", device="cpu") == 5 * one
    # "wmmse fixed" hands pyalgo extra buffers for the bmm providers: only G (B, K, K) is read, p (B, K) written
    fixed = next(c for c in W.CASES if c.name == "wmmse fixed")
    B, K = fixed.quick_shapes[0]
    assert G.interface_bytes(fixed, (B, K), torch.float32, "call", device="cpu") == (B * K * K + B * K) * 4
    # a case that states its bytes keeps its own count
    bw = next(c for c in W.CASES if c.name == "sum_rate bandwidth")
    assert G.interface_bytes(bw, (B, K), torch.float32, "forward", device="cpu") == (B * K * K + B * K + B) * 4


def test_parsers(tmp_path):
    memcheck = "========= COMPUTE-SANITIZER\n5 passed in 20s\n========= ERROR SUMMARY: 3 errors\n"
    assert G.parse_sanitizer(memcheck)["errors"] == 3
    race = "========= RACECHECK SUMMARY: 2 hazards displayed (1 error, 1 warning)\n"
    assert G.parse_sanitizer(race) == {"errors": 1, "warnings": 1, "hazards": 2}
    assert G.parse_sanitizer("killed")["errors"] is None
    junit = tmp_path / "j.xml"
    junit.write_text(textwrap.dedent("""\
        <?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1"
        skipped="2" tests="7"><testcase classname="tests.test_x.TestCudaParity" name="test_a"><failure message="x"/>
        </testcase><testcase classname="tests.test_y" name="test_b"><error message="y"/></testcase>
        </testsuite></testsuites>"""))
    counts = G.junit_counts(junit)
    assert (counts["passed"], counts["failed"], counts["errors"], counts["skipped"]) == (3, 1, 1, 2)
    assert counts["failing"] == ["tests.test_x.TestCudaParity::test_a", "tests.test_y::test_b"]
    assert G.junit_counts(tmp_path / "missing.xml") is None
    assert G.pytest_line(counts) == "3 passed, 1 failed, 1 errors, 2 skipped"


def test_summary_writer(tmp_path):
    steps = [G.Step("build", "ok", 80.0, "sm_90 only"), G.Step("memcheck", "failed", 30.0, "2 errors | x", errors=2),
             G.Step("racecheck", "skipped", 0.0, "compute-sanitizer not found")]
    rows = G.bench_rows({"copy_gbps": 3000.0, "rows": [dict(bench="energy", case="unary", provider="pyalgo",
                         shape="B=256,k=14,m=1000", dtype="float32", mode="forward", median_ms="0.1", status="ok",
                         bytes=30720, note="")]})
    copy = {"copy_gbps": 3000.0, "copy_ms": 0.716, "copy_bytes": 1 << 30}
    md, csv_path = G.write_summary(tmp_path, {"device": "NVIDIA H100", "torch": "2.11"}, steps, rows, copy, 300)
    text = md.read_text()
    assert text.startswith("# gpu-check: FAILED (memcheck)")
    assert "| device | NVIDIA H100 |" in text and "3000 GB/s" in text
    assert "| memcheck | FAILED | 30 | 2 | 2 errors \\| x |" in text
    assert "| energy | unary | B=256,k=14,m=1000 | float32 | forward | pyalgo | 0.1 | 0.0307 | 0.3 | 0.0 | ok |" in text
    import csv
    got = list(csv.DictReader(open(csv_path)))
    assert [r["section"] for r in got] == ["step", "step", "step", "bench"]
    assert got[1]["errors"] == "2" and got[3]["bytes"] == "30720" and float(got[3]["gb_per_s"]) == pytest.approx(0.3072)


FAKE_PYTHON = """\
#!{python}
# stands in for python on a GPU machine: builds nothing, runs nothing, writes what each step reads
import json, sys
from pathlib import Path
a = sys.argv[1:]
def junit(path, failures=0):
    Path(path).write_text('<testsuites><testsuite tests="4" failures="%d" errors="0" skipped="1">'
                          '<testcase classname="tests.test_w" name="test_c"%s</testcase></testsuite></testsuites>'
                          % (failures, "><failure/>" if failures else ">"))
if a[:1] == ["setup.py"]:
    print("building"); sys.exit(0)
if a[:1] == ["-c"]:
    print("True 9.0"); sys.exit(0)
if a[:2] == ["-m", "pytest"]:
    path = next(x.split("=", 1)[1] for x in a if x.startswith("--junitxml="))
    bad = "-k" in a and "cuda" in a            # the CUDA test run fails one test
    junit(path, failures=1 if bad else 0)
    print("1 failed, 2 passed, 1 skipped" if bad else "3 passed, 1 skipped"); sys.exit(1 if bad else 0)
if a[:3] == ["-m", "pyalgo", "bench"]:
    out = Path(a[a.index("--out") + 1]); out.mkdir(parents=True, exist_ok=True)
    (out / "discrete.csv").write_text("case,provider,shape,dtype,device,threads,mode,median_ms,status\\n"
                                      "st,pyalgo,3000x10,float32,cuda,1,forward,0.01,ok\\n")
    print("CHECK FAILED: st 3000x10 float32 cuda t=1: pyalgo: rows are not one-hot"); sys.exit(1)
if len(a) > 1 and a[1] == "_bandwidth":
    rows = [dict(bench="discrete", case="st", provider="pyalgo", shape="3000x10", dtype="float32", mode="forward",
                 median_ms="0.01", status="ok", bytes=240000, note="")]
    Path(a[2]).write_text(json.dumps(dict(copy_gbps=2400.0, copy_ms=0.9, copy_bytes=1 << 30, rows=rows)))
    sys.exit(0)
sys.exit(3)
"""

FAKE_SANITIZER = """\
#!{python}
import sys
from pathlib import Path
a = sys.argv[1:]
if a == ["--help"]:
    print("--kernel-name  --report-api-errors"); sys.exit(0)
tool = a[a.index("--tool") + 1]
assert a[a.index("--kernel-name") + 1] == "kns=pyalgo"
path = next(x.split("=", 1)[1] for x in a if x.startswith("--junitxml="))
Path(path).write_text('<testsuites><testsuite tests="2" failures="0" errors="0" skipped="0"/></testsuites>')
print("========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)" if tool == "racecheck"
      else "========= ERROR SUMMARY: 1 error")
sys.exit(0)
"""


def test_steps_with_stand_ins(tmp_path, monkeypatch, capsys):
    fakes = {}
    for name, text in (("python", FAKE_PYTHON), ("compute-sanitizer", FAKE_SANITIZER)):
        fakes[name] = tmp_path / name
        fakes[name].write_text(text.format(python=sys.executable))
        fakes[name].chmod(0o755)
    info = dict(device="Fake GPU", capability="9.0", memory_gib="80", torch="2.11", torch_cuda="13.0", driver="580",
                nvcc="/bin/true", nvcc_version="13.0", python="3.12", cores=16, sanitizer=str(fakes["compute-sanitizer"]),
                ninja=None, host="h")
    monkeypatch.setattr(G, "preflight", lambda: (None, None, info))
    out = tmp_path / "out"
    assert G.check(out, 300, None, python=str(fakes["python"])) == 1
    steps = {s["name"]: s for s in __import__("csv").DictReader(open(out / "gpu_check.csv")) if s["section"] == "step"}
    assert steps["build"]["status"] == "ok" and "has_cuda() True" in steps["build"]["detail"]
    assert steps["cuda tests"]["status"] == "failed" and "tests.test_w::test_c" in steps["cuda tests"]["detail"]
    assert steps["simt tests"]["status"] == "ok" and steps["simt tests"]["detail"].startswith("3 passed")
    assert steps["memcheck"]["status"] == "failed" and steps["memcheck"]["errors"] == "1"
    assert steps["racecheck"]["status"] == "ok" and steps["racecheck"]["errors"] == "0"
    assert steps["bench"]["status"] == "failed" and steps["bench"]["errors"] == "1"
    assert steps["bandwidth"]["status"] == "ok" and "copy 2400 GB/s" in steps["bandwidth"]["detail"]
    text = (out / "gpu_check.md").read_text()
    assert text.startswith("# gpu-check: FAILED (cuda tests, memcheck, bench")
    assert "| discrete | st | 3000x10 | float32 | forward | pyalgo | 0.01 | 0.24 | 24.0 | 1.0 | ok |" in text
    printed = capsys.readouterr().out
    assert "summary in" in printed and (out / "logs" / "build.log").exists()
