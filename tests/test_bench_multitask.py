"""The multi-task weighting benchmark runs end to end in --quick mode on a shrunk network, checks every
method (one finite step, GO4Align's worked example) before timing and writes sane CSV rows and a
Markdown table (timings are reported, never asserted)."""
import csv
import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_multitask.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_multitask", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.IN_DIM, bench.HIDDEN, bench.BATCH = 8, 16, 16
    bench.CASES = [3]
    return bench


def test_quick_run_writes_csv_and_markdown(tmp_path):
    bench = load_bench()
    assert bench.main(["--quick", "--threads", "1", "--out", str(tmp_path)]) == 0  # 1 = a check failed
    with open(tmp_path / "multitask.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == bench.COLUMNS
        rows = list(reader)
    expected = {("step", p) for p in bench.PROVIDERS} | {("weights", p) for p in bench.WEIGHT_PROVIDERS}
    gamma, km, go = bench.op_providers(3, 2)
    ops = {("kmeans_1d", p) for p in km} | {("go4align_weights", p) for p in go}
    assert {(r["op"], r["provider"]) for r in rows} == expected | ops and len(rows) == len(expected) + len(ops)
    for r in rows:
        assert r["status"] == "ok"
        shape = "M=3,K=2" if r["op"] in ("kmeans_1d", "go4align_weights") else "M=3,B=16,h=16"
        assert r["shape"] == shape and r["threads"] == "1" and r["dtype"] == "float32"
        assert 0 < float(r["p20_ms"]) <= float(r["median_ms"]) <= float(r["p80_ms"])
        assert int(r["runs"]) >= 1 and float(r["ratio_vs_ls"]) > 0
        assert r["git_sha"] and r["machine"] and r["torch_version"] and r["pyalgo_version"]
    for r in rows:
        if r["provider"] in ("ls", "pyalgo"):     # the ops' ratio column is provider time / pyalgo time
            assert float(r["ratio_vs_ls"]) == 1.0
    text = (tmp_path / "multitask.md").read_text()
    assert "ratio table" in text and "step time / LS" in text
    for p in bench.PROVIDERS:
        assert f"| {p} |" in text
    assert "<= 1.03x LS" in text and ("PASS" in text or "MISS" in text)
    assert "weights overhead us" in text
    assert "| kmeans_1d | M=3,K=2 | scikit-learn KMeans |" in text and "reference (Algorithm 1)" in text


def test_failed_check_returns_1(tmp_path):
    bench = load_bench()
    bench.PROVIDERS = ["ls", "go4align"]
    losses, K, beta, _ = bench.EXAMPLE
    bench.EXAMPLE = (losses, K, beta, [0.5, 0.5, 0.5])   # not GO4Align's weights
    assert bench.main(["--quick", "--threads", "1", "--out", str(tmp_path)]) == 1
    with open(tmp_path / "multitask.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    status = {(r["op"], r["provider"]): r["status"] for r in rows}
    assert status[("step", "ls")] == "ok"
    assert status[("step", "go4align")].startswith("check failed")
    assert "Check failures" in (tmp_path / "multitask.md").read_text()
